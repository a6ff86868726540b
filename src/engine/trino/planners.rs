//! Trino's readings of operators DataFusion's planner reads otherwise or
//! refuses, planned with the operands' types in hand (before DataFusion's
//! own planners are asked):
//! - `row[i]`: a ROW's i-th field, counted from 1 (DataFusion takes every
//!   `x[i]` for an array's element, which a row is not);
//! - an INTERVAL times or divided by a number (DataFusion has no such
//!   arithmetic), as Trino computes it.

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, IntervalUnit};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::planner::{
    ExprPlanner, PlannerResult, RawBinaryExpr, RawFieldAccessExpr,
};
use datafusion::logical_expr::{Expr, ExprSchemable, GetFieldAccess};
use datafusion::prelude::lit;
use datafusion::sql::sqlparser::ast::BinaryOperator;

use super::*;

/// Plans Trino's `row[i]` and interval arithmetic.
#[derive(Debug)]
pub(crate) struct TrinoPlanner;

impl ExprPlanner for TrinoPlanner {
    fn plan_field_access(
        &self,
        access: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawFieldAccessExpr>> {
        let fields = match (&access.field_access, access.expr.get_type(schema)) {
            (GetFieldAccess::ListIndex { .. }, Ok(DataType::Struct(fields))) => fields,
            _ => return Ok(PlannerResult::Original(access)),
        };
        let GetFieldAccess::ListIndex { key } = &access.field_access else {
            unreachable!("matched above")
        };
        // Trino types a row's field by its position, so it must be known
        // when the query is planned.
        let index = match key.as_ref() {
            Expr::Literal(v, _) if !v.is_null() => match v.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(i)) => i,
                _ => return plan_err!("a ROW's field is taken by an integer, not {v}"),
            },
            other => {
                return plan_err!("a ROW's field is taken by a constant index, not {other}");
            }
        };
        let Some(field) = usize::try_from(index)
            .ok()
            .filter(|i| (1..=fields.len()).contains(i))
            .map(|i| &fields[i - 1])
        else {
            return plan_err!(
                "Invalid field index {index}: the ROW has {} fields",
                fields.len()
            );
        };
        Ok(PlannerResult::Planned(
            datafusion::functions::core::expr_fn::get_field(access.expr, field.name().as_str()),
        ))
    }

    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let interval = |e: &Expr| matches!(e.get_type(schema), Ok(DataType::Interval(_)));
        let number = |e: &Expr| e.get_type(schema).is_ok_and(|t| t.is_numeric());
        let (interval_at_left, divide) = match &expr.op {
            BinaryOperator::Multiply if interval(&expr.left) && number(&expr.right) => {
                (true, false)
            }
            BinaryOperator::Multiply if number(&expr.left) && interval(&expr.right) => {
                (false, false)
            }
            BinaryOperator::Divide if interval(&expr.left) && number(&expr.right) => (true, true),
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let (interval, factor) = if interval_at_left {
            (expr.left, expr.right)
        } else {
            (expr.right, expr.left)
        };
        Ok(PlannerResult::Planned(super::semantics::row_function(
            "trino_interval_scale",
            |_| Ok(DataType::Interval(IntervalUnit::MonthDayNano)),
            interval_scale,
            vec![interval, factor, lit(divide)],
        )))
    }
}

/// `trino_interval_scale(interval, factor, divide)`: an interval times (or
/// divided by) a number, as Trino computes it on its units: months for a
/// year-month interval, milliseconds for a day-time one; by an integer
/// exactly, by any other number cut toward zero (Java's `(long)`); by NaN,
/// or divided by zero, an error.
fn interval_scale(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    use datafusion::arrow::datatypes::IntervalMonthDayNanoType;
    let intervals = cast(&a[0], &DataType::Interval(IntervalUnit::MonthDayNano))?;
    let intervals = intervals.as_primitive::<IntervalMonthDayNanoType>();
    let whole = a[1].data_type().is_integer();
    let factors = cast(&a[1], &DataType::Float64)?;
    let factors = factors.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
    let integers = if whole { integers(&a[1])? } else { vec![] };
    let divide = a[2].as_boolean().value(0);
    const DAY_MS: i64 = 86_400_000;
    let mut out = Vec::with_capacity(intervals.len());
    for i in 0..intervals.len() {
        if intervals.is_null(i) || factors.is_null(i) {
            out.push(None);
            continue;
        }
        let v = intervals.value(i);
        let f = factors.value(i);
        if f.is_nan() {
            return exec_err!("Cannot multiply or divide an interval by double NaN");
        }
        if divide && f == 0.0 {
            return exec_err!("Cannot divide an interval by {f}");
        }
        let year_month = v.days == 0 && v.nanoseconds == 0;
        if !year_month && v.months != 0 {
            return exec_err!("an interval of both months and days is not Trino's");
        }
        let units = if year_month {
            i64::from(v.months)
        } else {
            i64::from(v.days) * DAY_MS + v.nanoseconds / 1_000_000
        };
        let scaled = match (whole && !divide, integers.get(i).copied().flatten()) {
            (true, Some(k)) => units.checked_mul(k),
            _ => {
                let x = if divide {
                    units as f64 / f
                } else {
                    units as f64 * f
                };
                // Java's (long) of a double: toward zero, saturating.
                Some(x as i64)
            }
        };
        let Some(scaled) = scaled else {
            return exec_err!("interval out of range");
        };
        out.push(Some(if year_month {
            let Ok(months) = i32::try_from(scaled) else {
                return exec_err!("interval out of range");
            };
            IntervalMonthDayNano::new(months, 0, 0)
        } else {
            let days = i32::try_from(scaled / DAY_MS).map_err(|_| {
                datafusion::common::DataFusionError::Execution("interval out of range".into())
            })?;
            IntervalMonthDayNano::new(0, days, (scaled % DAY_MS) * 1_000_000)
        }));
    }
    Ok(Arc::new(
        datafusion::arrow::array::IntervalMonthDayNanoArray::from(out),
    ))
}
