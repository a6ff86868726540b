//! `row[i]`: a ROW's i-th field, counted from 1, as Trino reads a subscript
//! of a row. DataFusion's planner takes every `x[i]` for an array's element,
//! which a row is not, so this planner is asked first.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue, plan_err};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawFieldAccessExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, GetFieldAccess};

/// Plans `row[i]` as the row's field at position i.
#[derive(Debug)]
pub(crate) struct RowIndex;

impl ExprPlanner for RowIndex {
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
}
