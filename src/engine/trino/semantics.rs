//! Trino's semantics for operators DataFusion evaluates otherwise, as a
//! rewrite of the plan's expressions:
//! - a comparison with a NaN double is false (`<>` true), as IEEE 754 and
//!   Trino have it, where DataFusion orders NaN above every number;
//! - arrays, maps and rows are equal element by element, NULL when a NULL
//!   element leaves it open, and maps whatever their keys' order;
//! - a cast of a double, real or decimal to an integer rounds half away
//!   from zero (`CAST(2.5 AS INTEGER)` is 3), where DataFusion cuts;
//! - a cast to TIMESTAMP(p) or TIME(p) rounds to p fraction digits (half
//!   up; a TIME wraps past midnight), where Arrow's units would cut;
//! - a double or real cast to VARCHAR is written as Trino writes it,
//!   `1.2E3` (DataFusion writes `1200.0`);
//! - a cast to VARCHAR(n) cuts a longer string to n characters and fails
//!   for a longer number or date, where DataFusion ignores n;
//! - a TIMESTAMP(p) or TIME(p) cast to VARCHAR is written with a space
//!   between date and time and exactly p fraction digits
//!   (`2020-05-01 12:34:56.1`), where Arrow writes `T` and its unit's digits;
//! - a text with a zone cast to a zoneless TIMESTAMP keeps its local time
//!   (`'2020-05-10 12:34:56 +01:23'` is 12:34:56), where Arrow converts;
//! - the difference of two timestamps or times is an interval in whole
//!   milliseconds, as Trino's INTERVAL DAY TO SECOND;
//! - a DATE plus or minus hours, minutes or seconds is an error, where
//!   DataFusion drops them;
//! - `date_add` and `to_iso8601` keep a TIMESTAMP(p)'s precision;
//! - a double or real cast to DECIMAL takes the value its shortest digits
//!   write (`CAST(DOUBLE '1234567890.0' AS DECIMAL(30,20))` is exactly
//!   1234567890), as Trino's does, where Arrow scales the binary fraction;
//! - a DECIMAL beside a DOUBLE in an array, `greatest`, `least` or
//!   `coalesce` is a DOUBLE, as in Trino (DataFusion's union of the two is
//!   decimal(30,15), which cannot hold NaN);
//! - `round` of a REAL rounds in double precision (in single precision
//!   `round(REAL '923', 16)` is 922.99994).

use crate::engine::athena::fraction_digits;
use datafusion::common::DFSchema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::logical_expr::expr::{Between, BinaryExpr, Cast};
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{Expr, ExprSchemable, Operator, when};
use datafusion::prelude::lit;

use super::*;

/// The rewrite; registered in every session.
#[derive(Debug)]
pub(super) struct TrinoSemantics;

fn is_float(e: &Expr, schema: &DFSchema) -> bool {
    matches!(
        e.get_type(schema),
        Ok(DataType::Float16 | DataType::Float32 | DataType::Float64)
    )
}

/// Whether an expression is an array, a map or a row (whose `=` Trino answers
/// element by element, see `arrays::nested_equal`).
fn is_nested(e: &Expr, schema: &DFSchema) -> bool {
    matches!(
        e.get_type(schema),
        Ok(DataType::List(_) | DataType::Map(..) | DataType::Struct(_))
    )
}

/// Whether `op` is `=`, `<>`, `<`, `<=`, `>` or `>=`.
fn compares(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
    )
}

/// The function that counts an interval's days in its nanoseconds.
const INTERVAL_NORMAL: &str = "trino_interval_normal";

/// Whether `e` is a month-day-nanosecond interval or a duration (the
/// difference of two timestamps) not yet normalised for comparison (see
/// `datetime::interval_normal`).
fn is_interval(e: &Expr, schema: &DFSchema) -> bool {
    let normalised = matches!(e, Expr::ScalarFunction(f) if f.name() == INTERVAL_NORMAL);
    !normalised
        && matches!(
            e.get_type(schema),
            Ok(
                DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano)
                    | DataType::Duration(_)
            )
        )
}

/// Whether `left` and `right` are Trino's DECIMAL arithmetic: a DECIMAL
/// with a DECIMAL or an integer, either way round.
/// Whether both sides are signed integers (Trino has no unsigned ones).
fn integer_operands(left: &Expr, right: &Expr, schema: &DFSchema) -> bool {
    let signed = |e: &Expr| {
        matches!(
            e.get_type(schema),
            Ok(DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64)
        )
    };
    signed(left) && signed(right)
}

fn decimal_operands(left: &Expr, right: &Expr, schema: &DFSchema) -> bool {
    let (Ok(l), Ok(r)) = (left.get_type(schema), right.get_type(schema)) else {
        return false;
    };
    let decimal = |t: &DataType| matches!(t, DataType::Decimal128(..));
    (decimal(&l) || decimal(&r))
        && (decimal(&l) || l.is_integer())
        && (decimal(&r) || r.is_integer())
}

/// An integer as the DECIMAL Trino takes it for in arithmetic with one:
/// as many digits as its type holds (an integer literal is an INTEGER, as
/// in Trino, though DataFusion reads it as a BIGINT).
fn as_decimal(e: Expr, schema: &DFSchema) -> Result<Expr> {
    let digits = match (e.get_type(schema)?, &e) {
        (DataType::Decimal128(..), _) => return Ok(e),
        (_, Expr::Literal(ScalarValue::Int64(Some(v)), _)) if i32::try_from(*v).is_ok() => 10,
        (DataType::Int8 | DataType::UInt8, _) => 3,
        (DataType::Int16 | DataType::UInt16, _) => 5,
        (DataType::Int32 | DataType::UInt32, _) => 10,
        _ => 19,
    };
    e.cast_to(&DataType::Decimal128(digits, 0), schema)
}

fn isnan(e: &Expr) -> Expr {
    datafusion::functions::math::expr_fn::isnan(e.clone())
}

impl FunctionRewrite for TrinoSemantics {
    fn name(&self) -> &str {
        "trino_semantics"
    }

    fn rewrite(
        &self,
        expr: Expr,
        schema: &DFSchema,
        options: &ConfigOptions,
    ) -> Result<Transformed<Expr>> {
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if compares(op) && (is_float(&left, schema) || is_float(&right, schema)) =>
            {
                let (left, right) = (as_double(left, schema)?, as_double(right, schema)?);
                let nan = isnan(&left).or(isnan(&right));
                let compared = Expr::BinaryExpr(BinaryExpr { left, op, right });
                // NULL stays NULL: `isnan(NULL)` is NULL, and so is the CASE.
                Ok(Transformed::yes(
                    when(nan, lit(op == Operator::NotEq)).otherwise(compared)?,
                ))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::Eq | Operator::NotEq)
                    && is_nested(&left, schema)
                    && is_nested(&right, schema) =>
            {
                let equal = row_function(
                    "trino_equal",
                    |_| Ok(DataType::Boolean),
                    super::arrays::nested_equal,
                    vec![*left, *right],
                );
                Ok(Transformed::yes(if op == Operator::Eq {
                    equal
                } else {
                    Expr::Not(Box::new(equal))
                }))
            }
            // Maps are equal whatever their entries' order, as Trino's; the
            // comparison reads entries in order, so both sides are sorted.
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::IsDistinctFrom | Operator::IsNotDistinctFrom)
                    && (holds_map(&left.get_type(schema)?) || holds_map(&right.get_type(schema)?))
                    && !is_call(&left, SORTED_MAPS) =>
            {
                let sorted = |e: Box<Expr>| {
                    Box::new(row_function(
                        SORTED_MAPS,
                        |t| Ok(t[0].clone()),
                        super::arrays::sorted_maps,
                        vec![*e],
                    ))
                };
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                    left: sorted(left),
                    op,
                    right: sorted(right),
                })))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if (compares(op)
                    || matches!(op, Operator::IsDistinctFrom | Operator::IsNotDistinctFrom))
                    && is_interval(&left, schema)
                    && is_interval(&right, schema) =>
            {
                let normal = |e: Expr| {
                    row_function(
                        INTERVAL_NORMAL,
                        |_| {
                            Ok(DataType::Interval(
                                datafusion::arrow::datatypes::IntervalUnit::MonthDayNano,
                            ))
                        },
                        super::datetime::interval_normal,
                        vec![e],
                    )
                };
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                    left: Box::new(normal(*left)),
                    op,
                    right: Box::new(normal(*right)),
                })))
            }
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Divide,
                right,
            }) if decimal_operands(&left, &right, schema) => {
                let (left, right) = (as_decimal(*left, schema)?, as_decimal(*right, schema)?);
                Ok(Transformed::yes(row_function(
                    "trino_decimal_divide",
                    super::math::quotient_type,
                    super::math::decimal_divide,
                    vec![left, right],
                )))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply)
                    && integer_operands(&left, &right, schema) =>
            {
                // Trino fails on an integer overflow; DataFusion wraps
                // (2147483647 + 1 would be -2147483648).
                let (name, eval): (&'static str, super::Eval) = match op {
                    Operator::Plus => ("trino_checked_add", super::math::checked_add),
                    Operator::Minus => ("trino_checked_subtract", super::math::checked_subtract),
                    _ => ("trino_checked_multiply", super::math::checked_multiply),
                };
                Ok(Transformed::yes(row_function(
                    name,
                    super::math::wider_integer,
                    eval,
                    vec![*left, *right],
                )))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply)
                    && decimal_operands(&left, &right, schema) =>
            {
                let add = op != Operator::Multiply;
                let (wide_left, wide_right) =
                    (as_decimal(*left.clone(), schema)?, as_decimal(*right.clone(), schema)?);
                let (l, r) = (wide_left.get_type(schema)?, wide_right.get_type(schema)?);
                if super::math::wide_decimal_type(add, &l, &r).is_none() {
                    // Arrow's answer is Trino's (and its kernel the faster).
                    return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })));
                }
                let (left, right) = (wide_left, wide_right);
                let right = if op == Operator::Minus {
                    Expr::Negative(Box::new(right))
                } else {
                    right
                };
                Ok(Transformed::yes(if add {
                    row_function(
                        "trino_decimal_add",
                        super::math::sum_type,
                        super::math::decimal_add,
                        vec![left, right],
                    )
                } else {
                    row_function(
                        "trino_decimal_multiply",
                        super::math::product_type,
                        super::math::decimal_multiply,
                        vec![left, right],
                    )
                }))
            }
            Expr::Between(Between {
                expr,
                negated,
                low,
                high,
            }) if is_float(&expr, schema) || is_float(&low, schema) || is_float(&high, schema) => {
                let (expr, low, high) = (
                    as_double(expr, schema)?,
                    as_double(low, schema)?,
                    as_double(high, schema)?,
                );
                let nan = isnan(&expr).or(isnan(&low)).or(isnan(&high));
                let between = Expr::Between(Between {
                    expr,
                    negated,
                    low,
                    high,
                });
                Ok(Transformed::yes(
                    when(nan, lit(negated)).otherwise(between)?,
                ))
            }
            Expr::Cast(Cast { expr, field })
                if matches!(field.data_type(), DataType::Decimal128(..))
                    && expr.get_type(schema)? == DataType::Boolean =>
            {
                // Trino's true is 1 and false 0; Arrow casts no BOOLEAN to
                // a decimal, but does to an integer (which then fails as
                // any 1 too wide for the decimal does).
                let as_int = Expr::Cast(Cast::new(expr, DataType::Int8));
                Ok(Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(as_int),
                    field,
                })))
            }
            Expr::Cast(Cast { expr, field })
                if field.data_type() == &DataType::Boolean
                    && matches!(expr.get_type(schema)?, DataType::Decimal128(..)) =>
            {
                // Trino: a decimal is true unless it is zero.
                let DataType::Decimal128(p, s) = expr.get_type(schema)? else {
                    unreachable!("matched above")
                };
                Ok(Transformed::yes(
                    expr.not_eq(lit(ScalarValue::Decimal128(Some(0), p, s))),
                ))
            }
            Expr::Cast(Cast { expr, field })
                if field.metadata().contains_key(super::zoned::ZONE_FROM_VALUE)
                    && super::zoned::is_time_zoned(field.data_type()) =>
            {
                // CAST(x AS TIME(p) WITH TIME ZONE): the offset is a TIME
                // WITH TIME ZONE's own, a literal text's, else the session's
                // (when it is a fixed offset).
                let DataType::Timestamp(unit, _) = field.data_type() else {
                    return plan_err!("a zoned cast to {}", field.data_type());
                };
                let digits = declared_digits(&field);
                let source = expr.get_type(schema)?;
                let session = || {
                    super::zoned::time_zone_of(&session_zone(options)).ok_or_else(|| {
                        DataFusionError::Plan(format!(
                            "TIME WITH TIME ZONE in the session zone {}: a region's offset \
                             depends on the date, which a TIME does not have",
                            session_zone(options)
                        ))
                    })
                };
                // A constant in a region, at the offset Trino gives it.
                let mut moved = None;
                let zone = match (&source, expr.as_ref()) {
                    (t, _) if super::zoned::is_time_zoned(t) => {
                        let DataType::Timestamp(_, Some(z)) = t else {
                            unreachable!("a zoned type")
                        };
                        z.to_string()
                    }
                    (_, e) if literal_text(e).is_some() => {
                        match literal_text(e).and_then(super::zoned::time_offset_of_text) {
                            Some(o) => o,
                            None => session()?,
                        }
                    }
                    (DataType::Timestamp(_, Some(z)), e) => super::zoned::time_zone_of(z)
                        .or_else(|| {
                            let (zone, value) = constant_offset(e, schema, options)?;
                            moved = Some(value);
                            Some(zone)
                        })
                        .ok_or_else(|| {
                            DataFusionError::Plan(format!(
                                "CAST to TIME WITH TIME ZONE of a timestamp in {z}: a region's \
                                 offset changes with the date, and Strata keeps one offset per \
                                 column; at_timezone(x, '+hh:mm') first"
                            ))
                        })?,
                    _ => session()?,
                };
                let expr = match moved {
                    Some(value) => Box::new(lit(value)),
                    None => expr,
                };
                let target = DataType::Timestamp(*unit, Some(zone.as_str().into()));
                if is_text(&expr, schema)? {
                    return Ok(Transformed::yes(row_function(
                        "trino_timetz_text",
                        |t| Ok(t[1].clone()),
                        super::zoned::timetz_text,
                        vec![*expr, lit(super::zoned::typed_null(&target)), lit(digits)],
                    )));
                }
                // A TIME is at the session's offset; a TIMESTAMP first in the
                // session's zone; a zoned value keeps its instant.
                let fine = match (&source, unit) {
                    (
                        DataType::Timestamp(TimeUnit::Nanosecond, _)
                        | DataType::Time64(TimeUnit::Nanosecond),
                        _,
                    )
                    | (_, TimeUnit::Nanosecond) => TimeUnit::Nanosecond,
                    _ => TimeUnit::Microsecond,
                };
                let instant = match &source {
                    DataType::Time32(_) | DataType::Time64(_) => row_function(
                        "trino_time_at_offset",
                        |t| Ok(t[1].clone()),
                        super::zoned::time_at_offset,
                        vec![
                            *expr,
                            lit(super::zoned::typed_null(&DataType::Timestamp(
                                fine,
                                Some(zone.as_str().into()),
                            ))),
                        ],
                    ),
                    DataType::Timestamp(_, None) => Expr::Cast(Cast::new(
                        Box::new(Expr::Cast(Cast::new(
                            expr,
                            DataType::Timestamp(fine, Some(session_zone(options).into())),
                        ))),
                        DataType::Timestamp(fine, Some(zone.as_str().into())),
                    )),
                    DataType::Timestamp(..) => Expr::Cast(Cast::new(
                        expr,
                        DataType::Timestamp(fine, Some(zone.as_str().into())),
                    )),
                    other => return plan_err!("CAST of {other} to TIME WITH TIME ZONE"),
                };
                Ok(Transformed::yes(Expr::Cast(Cast::new(
                    Box::new(wrap_day(round_time(instant, digits))),
                    target,
                ))))
            }
            Expr::Cast(Cast { expr, field })
                if super::zoned::is_time_zoned(&expr.get_type(schema)?)
                    && !matches!(
                        field.data_type(),
                        DataType::Time32(_)
                            | DataType::Time64(_)
                            | DataType::Utf8
                            | DataType::Utf8View
                            | DataType::LargeUtf8
                    )
                    && !super::zoned::is_time_zoned(field.data_type()) =>
            {
                // `t AT TIME ZONE '+hh:mm'`: the same UTC time at that offset.
                if let DataType::Timestamp(_, Some(zone)) = field.data_type()
                    && field.metadata().is_empty()
                    && let Some(offset) = super::zoned::canonical_zone(zone)
                        .ok()
                        .and_then(|z| super::zoned::time_zone_of(&z))
                    && let DataType::Timestamp(unit, _) = expr.get_type(schema)?
                {
                    return Ok(Transformed::yes(Expr::Cast(Cast::new(
                        expr,
                        DataType::Timestamp(unit, Some(offset.into())),
                    ))));
                }
                let (
                    DataType::Timestamp(unit, target_zone),
                    DataType::Timestamp(source_unit, Some(offset)),
                ) = (field.data_type(), expr.get_type(schema)?)
                else {
                    return plan_err!(
                        "CAST of a TIME WITH TIME ZONE to {}: Trino casts it to a TIMESTAMP, \
                         with or without a zone, or to a TIME",
                        field.data_type()
                    );
                };
                // `t AT TIME ZONE 'region'`: a TIME WITH TIME ZONE at the
                // region's offset on the session's day, which one offset
                // per column cannot hold when the day is not fixed.
                if target_zone.is_some()
                    && !field.metadata().contains_key(super::zoned::ZONE_FROM_VALUE)
                {
                    return plan_err!(
                        "AT TIME ZONE {} of a TIME WITH TIME ZONE: a region's offset depends \
                         on the date; name an offset (+hh:mm)",
                        target_zone.as_deref().unwrap_or_default()
                    );
                }
                let digits = declared_digits(&field);
                let fine = finer(source_unit, *unit);
                if field.metadata().contains_key(super::zoned::ZONE_FROM_VALUE) {
                    // TIMESTAMP WITH TIME ZONE: the UTC time on the session's
                    // day, at the TIME's offset (rounding wraps at midnight).
                    let zone = super::zoned::offset_text(&offset);
                    let day = on_session_day(
                        wrap_day(round_time(*expr, digits)),
                        options,
                        false,
                        DataType::Timestamp(fine, Some(zone.as_str().into())),
                    );
                    return Ok(Transformed::yes(Expr::Cast(Cast::new(
                        Box::new(day),
                        DataType::Timestamp(*unit, Some(zone.into())),
                    ))));
                }
                // TIMESTAMP: the TIME's wall clock on the session's day
                // (rounding may reach the next day).
                let wall = wall_clock(*expr);
                let day = on_session_day(wall, options, false, DataType::Timestamp(fine, None));
                Ok(Transformed::yes(Expr::Cast(Cast::new(
                    Box::new(round_time(day, digits)),
                    DataType::Timestamp(*unit, None),
                ))))
            }
            Expr::Cast(Cast { expr, field })
                if matches!(expr.get_type(schema)?, DataType::Time32(_) | DataType::Time64(_))
                    && matches!(field.data_type(), DataType::Timestamp(..))
                    && (matches!(field.data_type(), DataType::Timestamp(_, None))
                        || field.metadata().contains_key(super::types::PRECISION))
                    && !field.metadata().contains_key(super::zoned::ZONE_FROM_VALUE)
                    && !super::zoned::is_time_zoned(field.data_type()) =>
            {
                // A TIME on the session's day; WITH TIME ZONE (the session's
                // zone, which the zoned cast above names) at the zone's
                // offset when the session started. Not `t AT TIME ZONE z`
                // (a zoned type without a declared precision): of a TIME,
                // Trino's answer is a TIME WITH TIME ZONE, not this.
                let DataType::Timestamp(unit, zone) = field.data_type() else {
                    unreachable!("matched above")
                };
                let digits = declared_digits(&field);
                let source_unit = match expr.get_type(schema)? {
                    DataType::Time64(TimeUnit::Nanosecond) => TimeUnit::Nanosecond,
                    _ => TimeUnit::Microsecond,
                };
                let fine = finer(source_unit, *unit);
                let day = on_session_day(
                    *expr,
                    options,
                    zone.is_some(),
                    DataType::Timestamp(fine, zone.clone()),
                );
                Ok(Transformed::yes(Expr::Cast(Cast::new(
                    Box::new(round_time(day, digits)),
                    DataType::Timestamp(*unit, zone.clone()),
                ))))
            }
            Expr::Cast(Cast { expr, field })
                if field.metadata().contains_key(super::zoned::ZONE_FROM_VALUE) =>
            {
                // CAST(x AS TIMESTAMP(p) WITH TIME ZONE): the zone is a zoned
                // value's own, a literal text's, else the session's.
                let DataType::Timestamp(unit, _) = field.data_type() else {
                    return plan_err!("a zoned cast to {}", field.data_type());
                };
                let digits = declared_digits(&field);
                let zone = match (expr.get_type(schema)?, expr.as_ref()) {
                    (DataType::Timestamp(_, Some(z)), _) => z.to_string(),
                    (_, e) if literal_text(e).is_some() => literal_text(e)
                        .and_then(super::zoned::zone_of_text)
                        .unwrap_or_else(|| session_zone(options)),
                    _ => session_zone(options),
                };
                let target = DataType::Timestamp(*unit, Some(zone.into()));
                if is_text(&expr, schema)? {
                    return Ok(Transformed::yes(zoned_text(*expr, &target, digits)));
                }
                // A DATE is its midnight in the session's zone.
                let expr = if is_date(&expr.get_type(schema)?) {
                    Box::new(Expr::Cast(Cast::new(
                        expr,
                        DataType::Timestamp(TimeUnit::Microsecond, None),
                    )))
                } else {
                    expr
                };
                let field = Arc::new(
                    datafusion::arrow::datatypes::Field::new("", target, true).with_metadata(
                        [(super::types::PRECISION.to_string(), digits.to_string())].into(),
                    ),
                );
                self.rewrite(Expr::Cast(Cast { expr, field }), schema, options)
            }
            Expr::Cast(Cast { expr, field })
                if matches!(field.data_type(), DataType::Timestamp(_, Some(_)))
                    && field.metadata().contains_key(super::types::PRECISION)
                    && is_text(&expr, schema)? =>
            {
                // A zoned literal: its text in the zone its type names.
                let digits: i64 = field.metadata()[super::types::PRECISION]
                    .parse()
                    .unwrap_or(3);
                if super::zoned::is_time_zoned(field.data_type()) {
                    return Ok(Transformed::yes(row_function(
                        "trino_timetz_text",
                        |t| Ok(t[1].clone()),
                        super::zoned::timetz_text,
                        vec![
                            *expr,
                            lit(super::zoned::typed_null(field.data_type())),
                            lit(digits),
                        ],
                    )));
                }
                Ok(Transformed::yes(zoned_text(
                    *expr,
                    field.data_type(),
                    digits,
                )))
            }
            Expr::Cast(Cast { expr, field })
                if matches!(field.data_type(), DataType::Timestamp(_, None))
                    && matches!(expr.get_type(schema)?, DataType::Timestamp(_, Some(_))) =>
            {
                // A zoned value as a TIMESTAMP is its zone's wall clock.
                let wall = wall_clock(*expr);
                self.rewrite(
                    Expr::Cast(Cast {
                        expr: Box::new(wall),
                        field,
                    }),
                    schema,
                    options,
                )
            }
            Expr::Cast(Cast { expr, field })
                if matches!(field.data_type(), DataType::Timestamp(_, Some(_)))
                    && field.metadata().is_empty()
                    && matches!(expr.get_type(schema)?, DataType::Timestamp(_, None)) =>
            {
                // `t AT TIME ZONE z` of a TIMESTAMP: t is in the session's
                // zone, the answer the same instant in z (Arrow would read t
                // on z's wall clock). The precision stays t's.
                let (DataType::Timestamp(unit, None), DataType::Timestamp(_, Some(zone))) =
                    (expr.get_type(schema)?, field.data_type())
                else {
                    return plan_err!("AT TIME ZONE of {}", expr.get_type(schema)?);
                };
                let zone = super::zoned::canonical_zone(zone)?;
                let in_session = Expr::Cast(Cast::new(
                    expr,
                    DataType::Timestamp(unit, Some(session_zone(options).into())),
                ));
                Ok(Transformed::yes(Expr::Cast(Cast::new(
                    Box::new(in_session),
                    DataType::Timestamp(unit, Some(zone.into())),
                ))))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if (compares(op)
                    || matches!(op, Operator::IsDistinctFrom | Operator::IsNotDistinctFrom))
                    && zoned_beside_zoneless(&[&left, &right], schema)? =>
            {
                // A TIMESTAMP or DATE beside a zoned one is in the session's
                // zone (Arrow would read it in the other side's, or in UTC).
                let session = session_zone(options);
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                    left: in_session(left, schema, &session)?,
                    op,
                    right: in_session(right, schema, &session)?,
                })))
            }
            Expr::Between(Between {
                expr,
                negated,
                low,
                high,
            }) if zoned_beside_zoneless(&[&expr, &low, &high], schema)? => {
                let session = session_zone(options);
                Ok(Transformed::yes(Expr::Between(Between {
                    expr: in_session(expr, schema, &session)?,
                    negated,
                    low: in_session(low, schema, &session)?,
                    high: in_session(high, schema, &session)?,
                })))
            }
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Minus,
                right,
            }) if is_zoned(&left, schema)? && is_zoned(&right, schema)? => {
                // Instants apart, whatever their zones.
                let instant = |e: Box<Expr>| {
                    Box::new(row_function(
                        "trino_instant",
                        |t| match &t[0] {
                            DataType::Timestamp(u, _) => Ok(DataType::Timestamp(*u, None)),
                            other => plan_err!("trino_instant of {other}"),
                        },
                        |a, ret| Ok(cast(&a[0], ret)?),
                        vec![*e],
                    ))
                };
                let difference = Expr::BinaryExpr(BinaryExpr {
                    left: instant(left),
                    op: Operator::Minus,
                    right: instant(right),
                });
                Ok(Transformed::yes(row_function(
                    "trino_interval_millis",
                    |t| Ok(t[0].clone()),
                    interval_millis,
                    vec![difference],
                )))
            }
            // Arrow writes a nested double or time as text its own way (1.5,
            // 2020-01-01T01:02:03), Trino as its CAST does (1.5E0, with a
            // space): refused rather than answered differently.
            Expr::Cast(Cast { expr, field })
                if field.data_type().is_nested()
                    && leaves(field.data_type()).iter().any(|t| {
                        matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
                    })
                    && expr.get_type(schema).is_ok_and(|t| {
                        t.is_nested()
                            && leaves(&t).iter().any(|t| {
                                matches!(
                                    t,
                                    DataType::Float16
                                        | DataType::Float32
                                        | DataType::Float64
                                        | DataType::Timestamp(..)
                                        | DataType::Time32(_)
                                        | DataType::Time64(_)
                                        | DataType::Interval(_)
                                        | DataType::Duration(_)
                                )
                            })
                    }) =>
            {
                let _ = (expr, field);
                plan_err!(
                    "CAST of an array, map or row of doubles, times or timestamps to one of \
                     VARCHAR is not supported (Trino writes 1.5E0 and '2020-01-01 01:02:03'); \
                     cast the values before building it"
                )
            }
            // CAST to a ROW type: field by field in order, as Trino's.
            Expr::Cast(Cast { expr, field })
                if holds_struct(field.data_type())
                    && expr
                        .get_type(schema)
                        .is_ok_and(|t| holds_struct(&t) && t != *field.data_type()) =>
            {
                let target = field.data_type().clone();
                Ok(Transformed::yes(row_function(
                    "trino_row_cast",
                    |t| Ok(t[1].clone()),
                    super::arrays::row_cast,
                    vec![*expr, lit(super::zoned::typed_null(&target))],
                )))
            }
            Expr::Cast(Cast { expr, field })
                if field.metadata().contains_key(super::json_type::JSON) =>
            {
                // CAST(x AS JSON): x written as JSON (a JSON value stays).
                if is_json(&expr, schema) {
                    return Ok(Transformed::yes(*expr));
                }
                if holds_json(&expr, schema) {
                    return plan_err!(
                        "CAST to JSON of an array, map or row holding JSON values is not supported"
                    );
                }
                Ok(Transformed::yes(marked(
                    "trino_to_json",
                    super::json_type::JSON,
                    super::json_type::to_json,
                    *expr,
                )))
            }
            Expr::Cast(Cast { expr, field })
                if field.metadata().contains_key(super::json_type::UUID) =>
            {
                // CAST(x AS UUID), UUID '...': checked and written lowercase.
                if is_marked(&expr, schema, super::json_type::UUID) {
                    return Ok(Transformed::yes(*expr));
                }
                Ok(Transformed::yes(marked(
                    "trino_uuid",
                    super::json_type::UUID,
                    super::json_type::to_uuid,
                    *expr,
                )))
            }
            Expr::Cast(Cast { expr, field })
                if field.metadata().contains_key(super::json_type::IPADDRESS) =>
            {
                // CAST(x AS IPADDRESS), IPADDRESS '...': checked and written
                // as Trino writes addresses.
                if is_marked(&expr, schema, super::json_type::IPADDRESS) {
                    return Ok(Transformed::yes(*expr));
                }
                Ok(Transformed::yes(marked(
                    "trino_ipaddress",
                    super::json_type::IPADDRESS,
                    super::json_type::to_ipaddress,
                    *expr,
                )))
            }
            Expr::Cast(Cast { expr, field })
                if is_marked(&expr, schema, super::json_type::IPADDRESS)
                    && matches!(
                        field.data_type(),
                        DataType::Binary | DataType::BinaryView | DataType::LargeBinary
                    ) =>
            {
                Ok(Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(ip_bytes(*expr)),
                    field,
                })))
            }
            Expr::Cast(Cast { expr, field })
                if is_marked(&expr, schema, super::json_type::IPADDRESS)
                    && field
                        .metadata()
                        .get(super::types::LENGTH)
                        .and_then(|n| n.parse::<usize>().ok())
                        .is_some_and(|n| n < 39) =>
            {
                // Trino refuses a VARCHAR(n) too short for every address
                // (39 characters of IPv6), even where this one would fit.
                let _ = (expr, field);
                plan_err!("Cannot cast IPADDRESS to a VARCHAR(n) shorter than 39 characters")
            }
            // Addresses order by their 16 bytes (IPv4 mapped into IPv6), not
            // their text; equal addresses have equal text.
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(
                    op,
                    Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
                ) && (is_marked(&left, schema, super::json_type::IPADDRESS)
                    || is_marked(&right, schema, super::json_type::IPADDRESS)) =>
            {
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(ip_bytes(*left)),
                    op,
                    Box::new(ip_bytes(*right)),
                ))))
            }
            Expr::Between(Between {
                expr,
                negated,
                low,
                high,
            }) if is_marked(&expr, schema, super::json_type::IPADDRESS) => {
                Ok(Transformed::yes(Expr::Between(Between {
                    expr: Box::new(ip_bytes(*expr)),
                    negated,
                    low: Box::new(ip_bytes(*low)),
                    high: Box::new(ip_bytes(*high)),
                })))
            }
            // contains(network, address): a CIDR network holding an IPADDRESS.
            Expr::ScalarFunction(f)
                if f.name() == "contains"
                    && f.args.len() == 2
                    && is_marked(&f.args[1], schema, super::json_type::IPADDRESS) =>
            {
                Ok(Transformed::yes(row_function(
                    "trino_ip_contains",
                    |_| Ok(DataType::Boolean),
                    super::json_type::ip_contains,
                    f.args,
                )))
            }
            Expr::Cast(Cast { expr, field })
                if is_marked(&expr, schema, super::json_type::UUID)
                    && matches!(
                        field.data_type(),
                        DataType::Binary | DataType::BinaryView | DataType::LargeBinary
                    ) =>
            {
                let bytes = row_function(
                    "trino_uuid_bytes",
                    |_| Ok(DataType::Binary),
                    super::json_type::uuid_bytes,
                    vec![*expr],
                );
                Ok(Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(bytes),
                    field,
                })))
            }
            Expr::Cast(Cast { expr, field }) if is_json(&expr, schema) => {
                // CAST(json AS T): T read from the JSON.
                let target = Expr::Cast(Cast::new(
                    Box::new(lit(ScalarValue::Null)),
                    field.data_type().clone(),
                ));
                let value = row_function(
                    "trino_from_json",
                    |t| Ok(t[1].clone()),
                    super::json_type::from_json,
                    vec![*expr, target],
                );
                // CAST(json AS VARCHAR(n)): a longer string fails, as any
                // value but a VARCHAR does.
                Ok(Transformed::yes(fitted_to_length(value, &field, false)))
            }
            Expr::Cast(Cast { expr, field })
                if field.metadata().contains_key(super::types::PRECISION) =>
            {
                let digits: i64 = field.metadata()[super::types::PRECISION]
                    .parse()
                    .unwrap_or(6);
                let plain = Arc::new(field.as_ref().clone().with_metadata(Default::default()));
                // Rounded at the finest unit the value has, then cast: a cast
                // from nanoseconds (or text) to microseconds would cut first.
                // A literal with at most 6 digits is exact in microseconds,
                // which reach the years nanoseconds do not (1500, 9999).
                let micro_literal = literal_text(&expr).is_some_and(|t| fraction_digits(t) <= 6);
                let finest = match (expr.get_type(schema)?, plain.data_type()) {
                    (_, DataType::Timestamp(TimeUnit::Microsecond, _)) if micro_literal => None,
                    (
                        DataType::Timestamp(TimeUnit::Nanosecond, _)
                        | DataType::Utf8
                        | DataType::Utf8View
                        | DataType::LargeUtf8,
                        DataType::Timestamp(_, tz),
                    ) => Some(DataType::Timestamp(TimeUnit::Nanosecond, tz.clone())),
                    (
                        DataType::Time64(TimeUnit::Nanosecond)
                        | DataType::Timestamp(TimeUnit::Nanosecond, _)
                        | DataType::Utf8
                        | DataType::Utf8View
                        | DataType::LargeUtf8,
                        DataType::Time64(_),
                    ) => Some(DataType::Time64(TimeUnit::Nanosecond)),
                    _ => None,
                };
                // Trino's finest is picoseconds: 13 fraction digits are no time.
                if let Some(t) = text_literal(&expr)
                    && fraction_digits(t) > 12
                {
                    return plan_err!(
                        "Value cannot be cast to a time: '{t}' has more than 12 fraction digits"
                    );
                }
                // Past 9 digits the text is read cut at nanoseconds, which
                // rounds correctly to fewer digits but is not Trino's 9th digit.
                if let Some(t) = text_literal(&expr)
                    && digits == 9
                    && fraction_digits(t) > 9
                {
                    return plan_err!(
                        "'{t}': more than 9 fraction digits; Strata's times hold at most \
                         nanoseconds, Trino's picoseconds"
                    );
                }
                let round = |e: Expr| round_time(e, digits);
                // A text naming a zone keeps its local time (see above).
                let expr = if is_text(&expr, schema)?
                    && matches!(plain.data_type(), DataType::Timestamp(_, None))
                {
                    Box::new(as_text("trino_local_text", local_text, *expr))
                } else {
                    expr
                };
                let rounded = match finest {
                    Some(fine) => Expr::Cast(Cast {
                        expr: Box::new(round(Expr::Cast(Cast::new(expr, fine)))),
                        field: plain,
                    }),
                    None => round(Expr::Cast(Cast { expr, field: plain })),
                };
                Ok(Transformed::yes(rounded))
            }
            Expr::Cast(Cast { expr, field })
                if matches!(
                    field.data_type(),
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
                ) && (field.metadata().contains_key(super::types::LENGTH)
                    || is_float(&expr, schema)
                    || matches!(
                        expr.get_type(schema)?,
                        DataType::Interval(_) | DataType::Duration(_)
                    )
                    || time_precision(&expr, schema)?.is_some()) =>
            {
                let plain = Arc::new(field.as_ref().clone().with_metadata(Default::default()));
                // A VARCHAR is cut to the length; any other value (JSON, UUID
                // and IPADDRESS are marked text) must fit, or the cast fails.
                let from_text = matches!(
                    expr.get_type(schema)?,
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
                ) && !is_json(&expr, schema)
                    && !is_marked(&expr, schema, super::json_type::UUID)
                    && !is_marked(&expr, schema, super::json_type::IPADDRESS);
                let text = if let Some(digits) = time_precision(&expr, schema)? {
                    row_function(
                        "trino_time_text",
                        |_| Ok(DataType::Utf8),
                        time_text,
                        vec![*expr, lit(digits)],
                    )
                } else if matches!(
                    expr.get_type(schema)?,
                    DataType::Interval(_) | DataType::Duration(_)
                ) {
                    row_function(
                        "trino_interval_text",
                        |_| Ok(DataType::Utf8),
                        super::datetime::interval_text,
                        vec![*expr],
                    )
                } else if is_float(&expr, schema) {
                    row_function(
                        "trino_double_text",
                        |_| Ok(DataType::Utf8),
                        double_text,
                        vec![*expr],
                    )
                } else {
                    Expr::Cast(Cast::new(expr, DataType::Utf8))
                };
                let fitted = fitted_to_length(text, &field, from_text);
                Ok(Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(fitted),
                    field: plain,
                })))
            }
            Expr::Cast(Cast { expr, field }) if field.data_type().is_integer() => {
                let from = expr.get_type(schema)?;
                let rounds = match from {
                    DataType::Float16 | DataType::Float32 | DataType::Float64 => true,
                    // Exact through a double while the whole part has at most
                    // 15 digits; wider decimals keep DataFusion's cast.
                    DataType::Decimal128(p, s) => s > 0 && i16::from(p) - i16::from(s) <= 15,
                    _ => false,
                };
                let expr = if rounds {
                    Box::new(datafusion::functions::math::expr_fn::round(vec![*expr]))
                } else {
                    expr
                };
                Ok(Transformed {
                    data: Expr::Cast(Cast { expr, field }),
                    transformed: rounds,
                    tnr: datafusion::common::tree_node::TreeNodeRecursion::Continue,
                })
            }
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Minus,
                right,
            }) if is_zoneless_time(&left, schema)? && is_zoneless_time(&right, schema)? => {
                let difference = Expr::BinaryExpr(BinaryExpr {
                    left,
                    op: Operator::Minus,
                    right,
                });
                Ok(Transformed::yes(row_function(
                    "trino_interval_millis",
                    |t| Ok(t[0].clone()),
                    interval_millis,
                    vec![difference],
                )))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::Plus | Operator::Minus)
                    && (adds_time_to_date(&left, &right, schema)?
                        || adds_time_to_date(&right, &left, schema)?) =>
            {
                let _ = (left, right);
                plan_err!("Cannot add hour, minutes or seconds to a date")
            }
            // Nothing is in common with an empty array (DataFusion's answer
            // to `array_intersect(ARRAY[], ARRAY[NULL])` was [NULL]).
            Expr::ScalarFunction(f)
                if f.name() == "array_intersect"
                    && f.args.len() == 2
                    && f.args.iter().any(|a| {
                        matches!(a, Expr::ScalarFunction(g) if g.name() == "make_array" && g.args.is_empty())
                    }) =>
            {
                let typed = f.args[0].get_type(schema)?;
                let empty = f
                    .args
                    .into_iter()
                    .find(|a| {
                        matches!(a, Expr::ScalarFunction(g) if g.name() == "make_array" && g.args.is_empty())
                    })
                    .expect("matched above");
                Ok(Transformed::yes(Expr::Cast(Cast::new(Box::new(empty), typed))))
            }
            // Trino cannot say whether [1, NULL] equals [1, 2], so it refuses
            // to look for nested values that hold a NULL (and a MAP key that
            // holds one is indeterminate), where DataFusion compares NULL as
            // a value.
            Expr::ScalarFunction(mut f)
                if matches!(
                    f.name(),
                    "map" | "contains" | "array_position" | "array_remove" | "array_remove_all"
                ) && f.args.len() >= 2
                    && matches!(
                        f.args[0].get_type(schema),
                        Ok(DataType::List(item)) if item.data_type().is_nested()
                    )
                    && !matches!(
                        &f.args[0],
                        Expr::ScalarFunction(g) if g.name() == "trino_determinate"
                    ) =>
            {
                // Trino's array_remove is DataFusion's array_remove_all.
                let name = f.name().replace("array_remove_all", "array_remove");
                // A map's values may hold NULLs; only its keys are checked.
                let checked: &[(usize, &str)] = if name == "map" {
                    &[(0, "elements")]
                } else {
                    &[(0, "elements"), (1, "value")]
                };
                for (k, role) in checked {
                    let arg = std::mem::replace(&mut f.args[*k], lit(0));
                    f.args[*k] = row_function(
                        "trino_determinate",
                        |t| Ok(t[0].clone()),
                        super::arrays::determinate,
                        vec![arg, lit(name.clone()), lit(*role)],
                    );
                }
                Ok(Transformed::yes(Expr::ScalarFunction(f)))
            }
            Expr::ScalarFunction(mut f)
                if matches!(
                    f.name(),
                    "make_array"
                        | "greatest"
                        | "least"
                        | "coalesce"
                        | "array_position"
                        | "contains"
                        | "array_remove"
                ) && mixes_decimal_and_float(&f.args, schema)? =>
            {
                for arg in f.args.iter_mut() {
                    if let Some(float) = as_float(&arg.get_type(schema)?) {
                        let decimal = std::mem::replace(arg, lit(0));
                        *arg = Expr::Cast(Cast::new(Box::new(decimal), float));
                    }
                }
                Ok(Transformed::yes(Expr::ScalarFunction(f)))
            }
            Expr::ScalarFunction(f)
                if matches!(f.name(), "array_join" | "array_to_string")
                    && f.args.first().is_some_and(|a| holds_json(a, schema)) =>
            {
                let _ = f;
                plan_err!("array_join of JSON values is not supported: cast them to VARCHAR first")
            }
            Expr::ScalarFunction(f)
                if matches!(f.name(), "array_join" | "array_to_string")
                    && f.args.first().is_some_and(|a| {
                        matches!(
                            a.get_type(schema),
                            Ok(DataType::List(item))
                                if item.data_type().is_nested()
                        )
                    }) =>
            {
                let _ = f;
                plan_err!("array_join: the elements must be scalars, not arrays, maps or rows")
            }
            // `OVERLAY(s PLACING p FROM i FOR n)` is planned straight to
            // DataFusion's function, past the registry; Trino's is ours.
            Expr::ScalarFunction(f)
                if f.name() == "overlay"
                    && !(f.func.inner().as_ref() as &dyn std::any::Any).is::<super::Function>() =>
            {
                Ok(Transformed::yes(row_function(
                    "overlay",
                    |_| Ok(DataType::Utf8),
                    super::strings::overlay,
                    f.args,
                )))
            }
            Expr::ScalarFunction(mut f)
                if matches!(f.name(), "array_join" | "array_to_string")
                    && f.args.first().is_some_and(|a| {
                        matches!(
                            a.get_type(schema),
                            Ok(DataType::List(item))
                                if matches!(item.data_type(), DataType::Float32 | DataType::Float64)
                        )
                    }) =>
            {
                // Each double joined as its CAST to VARCHAR writes it (1.0E0).
                let list = f.args.remove(0);
                f.args.insert(
                    0,
                    row_function(
                        "trino_double_texts",
                        |_| Ok(DataType::new_list(DataType::Utf8, true)),
                        double_texts,
                        vec![list],
                    ),
                );
                Ok(Transformed::yes(Expr::ScalarFunction(f)))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(
                    op,
                    Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
                ) && is_row(&left, schema)
                    && is_row(&right, schema) =>
            {
                if holds_map(&left.get_type(schema)?) || holds_map(&right.get_type(schema)?) {
                    return plan_err!("Cannot order rows holding a MAP: maps are not orderable");
                }
                let checked = |e: Expr| {
                    row_function(
                        "trino_orderable_row",
                        |t| Ok(t[0].clone()),
                        orderable_row,
                        vec![e],
                    )
                };
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                    left: Box::new(checked(*left)),
                    op,
                    right: Box::new(checked(*right)),
                })))
            }
            Expr::ScalarFunction(f)
                if DATED.contains(&f.name())
                    && f.args.iter().any(|a| {
                        a.get_type(schema)
                            .is_ok_and(|t| super::zoned::is_time_zoned(&t))
                    }) =>
            {
                plan_err!(
                    "{} does not take a TIME WITH TIME ZONE, which has no date",
                    f.name()
                )
            }
            Expr::ScalarFunction(f)
                if f.name() == "date_trunc"
                    && f.args.get(1).is_some_and(|a| {
                        a.get_type(schema)
                            .is_ok_and(|t| super::zoned::is_time_zoned(&t))
                    }) =>
            {
                // Truncated on the offset's clock, then back in the day.
                if let Some(Expr::Literal(ScalarValue::Utf8(Some(u)), _)) = f.args.first()
                    && !["millisecond", "second", "minute", "hour"]
                        .contains(&u.to_ascii_lowercase().as_str())
                {
                    return plan_err!("date_trunc: '{u}' is not a unit of TIME WITH TIME ZONE");
                }
                Ok(Transformed::yes(wrap_day(Expr::ScalarFunction(f))))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::Plus | Operator::Minus)
                    && (super::zoned::is_time_zoned(&left.get_type(schema)?)
                        || super::zoned::is_time_zoned(&right.get_type(schema)?))
                    && !(super::zoned::is_time_zoned(&left.get_type(schema)?)
                        && super::zoned::is_time_zoned(&right.get_type(schema)?)) =>
            {
                // A TIME WITH TIME ZONE plus an interval wraps past midnight.
                Ok(Transformed::yes(wrap_day(Expr::BinaryExpr(BinaryExpr {
                    left,
                    op,
                    right,
                }))))
            }
            Expr::ScalarFunction(f) if f.name() == "date_add" && f.args.len() == 3 => {
                let digits = time_precision(&f.args[2], schema)?;
                let unit_digits = match f.args[2].get_type(schema)? {
                    DataType::Timestamp(TimeUnit::Microsecond, _)
                    | DataType::Time64(TimeUnit::Microsecond) => Some(6),
                    DataType::Timestamp(TimeUnit::Nanosecond, _)
                    | DataType::Time64(TimeUnit::Nanosecond) => Some(9),
                    _ => None,
                };
                match (digits, unit_digits) {
                    (Some(p), Some(u)) if p < u => {
                        Ok(Transformed::yes(round_time(Expr::ScalarFunction(f), p)))
                    }
                    _ => Ok(Transformed::no(Expr::ScalarFunction(f))),
                }
            }
            // format() hands a TIME WITH TIME ZONE to Java as Trino's CAST
            // to VARCHAR writes it, with its precision's digits.
            Expr::ScalarFunction(mut f)
                if f.name() == "format"
                    && f.args.iter().skip(1).any(|a| {
                        a.get_type(schema)
                            .is_ok_and(|t| super::zoned::is_time_zoned(&t))
                    }) =>
            {
                for a in f.args.iter_mut().skip(1) {
                    if super::zoned::is_time_zoned(&a.get_type(schema)?) {
                        let digits = time_precision(a, schema)?.unwrap_or(3);
                        let value = std::mem::replace(a, lit(ScalarValue::Null));
                        *a = row_function(
                            "trino_time_text",
                            |_| Ok(DataType::Utf8),
                            time_text,
                            vec![value, lit(digits)],
                        );
                    }
                }
                Ok(Transformed::yes(Expr::ScalarFunction(f)))
            }
            Expr::ScalarFunction(mut f)
                if f.name() == "to_iso8601"
                    && f.args.len() == 1
                    && matches!(f.args[0].get_type(schema)?, DataType::Timestamp(..)) =>
            {
                let digits = time_precision(&f.args[0], schema)?.unwrap_or(3);
                let t = f.args.remove(0);
                Ok(Transformed::yes(row_function(
                    "trino_iso8601",
                    |_| Ok(DataType::Utf8),
                    iso8601_text,
                    vec![t, lit(digits)],
                )))
            }
            // typeof of a literal: Trino types `123` INTEGER and 'cat'
            // VARCHAR(3), where Strata's literals are BIGINT and VARCHAR.
            Expr::ScalarFunction(f) if f.name() == "typeof" && f.args.len() == 1 => {
                let arg = &f.args[0];
                let named = match arg {
                    Expr::Literal(ScalarValue::Int64(Some(v)), _) => Some(
                        if i32::try_from(*v).is_ok() {
                            "integer"
                        } else {
                            "bigint"
                        }
                        .to_string(),
                    ),
                    Expr::Literal(
                        ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)),
                        _,
                    ) => Some(format!("varchar({})", t.chars().count())),
                    Expr::Cast(Cast { field, .. })
                        if field.metadata().contains_key(super::types::LENGTH) =>
                    {
                        Some(format!(
                            "varchar({})",
                            field.metadata()[super::types::LENGTH]
                        ))
                    }
                    // CAST(x AS VARCHAR(n)), already rewritten (below first).
                    Expr::Cast(Cast { expr, .. }) => match expr.as_ref() {
                        Expr::ScalarFunction(g) if g.name() == "trino_varchar_length" => {
                            match g.args.get(1) {
                                Some(Expr::Literal(ScalarValue::Int64(Some(n)), _)) => {
                                    Some(format!("varchar({n})"))
                                }
                                _ => None,
                            }
                        }
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(name) = named {
                    return Ok(Transformed::yes(lit(name)));
                }
                use datafusion::common::tree_node::TreeNode;
                let typed_by_literal = matches!(
                    arg.get_type(schema)?,
                    DataType::Int64 | DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
                ) && !matches!(arg, Expr::Cast(_) | Expr::Column(_))
                    && arg.exists(|e| Ok(matches!(e, Expr::Literal(..))))?;
                if typed_by_literal {
                    return plan_err!(
                        "typeof of an expression over literals: Trino types them INTEGER or \
                         VARCHAR(n), Strata BIGINT or VARCHAR; CAST the expression to say its type"
                    );
                }
                Ok(Transformed::no(Expr::ScalarFunction(f)))
            }
            // round of an integer to 10^19 or coarser: Trino's factor
            // overflows a BIGINT, so it fails where DataFusion answers 0.
            Expr::ScalarFunction(f)
                if f.name() == "round"
                    && f.args.len() == 2
                    && f.args[0].get_type(schema).is_ok_and(|t| t.is_integer())
                    && matches!(
                        &f.args[1],
                        Expr::Literal(ScalarValue::Int64(Some(d)), _) if *d <= -19
                    ) =>
            {
                let _ = f;
                plan_err!(
                    "round: numeric value out of range (10 to the {}th overflows a BIGINT)",
                    19
                )
            }
            // round of a DECIMAL(p, s) is a DECIMAL(p + 1, s) in Trino: the
            // scale stays (round(12.345, 1) is 12.300) and a result that
            // needs a 39th digit fails.
            Expr::ScalarFunction(f)
                if f.name() == "round"
                    && f.args.len() == 2
                    && matches!(f.args[0].get_type(schema), Ok(DataType::Decimal128(..))) =>
            {
                let Ok(DataType::Decimal128(p, s)) = f.args[0].get_type(schema) else {
                    unreachable!("matched above")
                };
                let fits = DataType::Decimal128((p + 1).min(38), s);
                Ok(Transformed::yes(Expr::Cast(Cast::new(
                    Box::new(Expr::ScalarFunction(f)),
                    fits,
                ))))
            }
            Expr::ScalarFunction(mut f)
                if f.name() == "round"
                    && f.args
                        .first()
                        .is_some_and(|a| matches!(a.get_type(schema), Ok(DataType::Float32))) =>
            {
                let x = f.args.remove(0);
                f.args
                    .insert(0, Expr::Cast(Cast::new(Box::new(x), DataType::Float64)));
                Ok(Transformed::yes(Expr::Cast(Cast::new(
                    Box::new(Expr::ScalarFunction(f)),
                    DataType::Float32,
                ))))
            }
            Expr::Cast(Cast { expr, field })
                if matches!(
                    field.data_type(),
                    DataType::Decimal128(..) | DataType::Decimal256(..)
                ) && matches!(
                    expr.get_type(schema)?,
                    DataType::Float32 | DataType::Float64
                ) =>
            {
                Ok(Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(as_text("trino_float_digits", float_digits, *expr)),
                    field,
                })))
            }
            Expr::Cast(Cast { expr, field })
                if matches!(field.data_type(), DataType::Timestamp(_, None))
                    && is_text(&expr, schema)? =>
            {
                Ok(Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(as_text("trino_local_text", local_text, *expr)),
                    field,
                })))
            }
            // `x LIKE p ESCAPE '/'` (SQLAlchemy's spelling, and any
            // character in Trino): DataFusion escapes only with a
            // backslash, so the pattern is respelled with one.
            Expr::Like(like) if like.escape_char.is_some_and(|c| c != '\\') => {
                let escape = like.escape_char.unwrap_or('\\');
                let pattern = row_function(
                    "like_pattern_with_backslash",
                    |_| Ok(DataType::Utf8),
                    backslash_escaped,
                    vec![*like.pattern, lit(escape.to_string())],
                );
                Ok(Transformed::yes(Expr::Like(
                    datafusion::logical_expr::expr::Like {
                        pattern: Box::new(pattern),
                        escape_char: Some('\\'),
                        ..like
                    },
                )))
            }
            other => Ok(Transformed::no(other)),
        }
    }
}

/// A LIKE pattern escaped with the character `args[1]` as the same pattern
/// escaped with a backslash: `/x` becomes `\x`, and a literal backslash
/// `\\`.
fn backslash_escaped(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let patterns = cast(&args[0], &DataType::Utf8)?;
    let patterns = patterns.as_string::<i32>();
    let escapes = cast(&args[1], &DataType::Utf8)?;
    let escapes = escapes.as_string::<i32>();
    let mut out = StringBuilder::with_capacity(patterns.len(), patterns.value_data().len() * 2);
    for i in 0..patterns.len() {
        if patterns.is_null(i) || escapes.is_null(i) {
            out.append_null();
            continue;
        }
        let mut escape = escapes.value(i).chars();
        let (Some(escape), None) = (escape.next(), escape.next()) else {
            return exec_err!(
                "LIKE ... ESCAPE '{}': the escape is one character",
                escapes.value(i)
            );
        };
        let mut respelled = String::with_capacity(patterns.value(i).len() + 4);
        let mut chars = patterns.value(i).chars();
        while let Some(c) = chars.next() {
            if c == escape {
                match chars.next() {
                    Some(next) => {
                        respelled.push('\\');
                        respelled.push(next);
                    }
                    None => {
                        return exec_err!(
                            "LIKE pattern '{}' ends with its escape '{escape}'",
                            patterns.value(i)
                        );
                    }
                }
            } else if c == '\\' {
                respelled.push_str("\\\\");
            } else {
                respelled.push(c);
            }
        }
        out.append_value(respelled);
    }
    Ok(Arc::new(out.finish()))
}

/// Whether a part of an expression (not itself) is JSON: an array or row
/// built of JSON values, whose elements have lost the mark.
fn holds_json(e: &Expr, schema: &DFSchema) -> bool {
    use datafusion::common::tree_node::TreeNode;
    !is_json(e, schema)
        && e.exists(|x| Ok(!std::ptr::eq(x, e) && is_json(x, schema)))
            .unwrap_or(false)
}

/// Whether an expression is Trino's JSON (its field is marked so).
fn is_json(e: &Expr, schema: &DFSchema) -> bool {
    is_marked(e, schema, super::json_type::JSON)
}

/// Whether an expression's field carries the metadata `key`.
fn is_marked(e: &Expr, schema: &DFSchema, key: &str) -> bool {
    e.to_field(schema)
        .is_ok_and(|(_, f)| f.metadata().contains_key(key))
}

fn is_row(e: &Expr, schema: &DFSchema) -> bool {
    matches!(e.get_type(schema), Ok(DataType::Struct(_)))
}

/// The name of the rewrite that puts maps' entries in key order.
const SORTED_MAPS: &str = "trino_sorted_maps";

/// Whether `e` is a call of the function named `name`.
fn is_call(e: &Expr, name: &str) -> bool {
    matches!(e, Expr::ScalarFunction(f) if f.name() == name)
}

/// Whether a type is or holds a row (struct), at any depth.
fn holds_struct(t: &DataType) -> bool {
    match t {
        DataType::Struct(_) => true,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            holds_struct(f.data_type())
        }
        // A map's entries are a struct of its own; its keys and values count.
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) => kv.iter().any(|f| holds_struct(f.data_type())),
            _ => false,
        },
        _ => false,
    }
}

fn holds_map(t: &DataType) -> bool {
    match t {
        DataType::Map(..) => true,
        DataType::Struct(fields) => fields.iter().any(|f| holds_map(f.data_type())),
        DataType::List(f) => holds_map(f.data_type()),
        _ => false,
    }
}

/// `trino_orderable_row(r)`: the row itself, or an error when a field is
/// NULL, which Trino's row ordering refuses (DataFusion would order it).
pub(super) fn orderable_row(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let rows = a[0].as_struct();
    for column in rows.columns() {
        for i in 0..rows.len() {
            if rows.is_valid(i) && column.is_null(i) {
                return exec_err!("ROW comparison not supported for fields with null elements");
            }
        }
    }
    Ok(a[0].clone())
}

/// `trino_double_texts(list)`: a list of doubles as a list of their texts
/// as Trino's CAST to VARCHAR writes them.
pub(super) fn double_texts(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let list = a[0].as_list::<i32>();
    let texts = double_text(&[list.values().clone()], &DataType::Utf8)?;
    Ok(Arc::new(datafusion::arrow::array::ListArray::try_new(
        Arc::new(datafusion::arrow::datatypes::Field::new(
            "item",
            DataType::Utf8,
            true,
        )),
        list.offsets().clone(),
        texts,
        list.nulls().cloned(),
    )?))
}

/// A DECIMAL operand beside a DOUBLE as a DOUBLE, as Trino compares them
/// (DataFusion's common type, decimal(30,15), cannot hold NaN or 1e20).
fn as_double(e: Box<Expr>, schema: &DFSchema) -> Result<Box<Expr>> {
    Ok(match e.get_type(schema)? {
        DataType::Decimal128(..) | DataType::Decimal256(..) => {
            Box::new(Expr::Cast(Cast::new(e, DataType::Float64)))
        }
        _ => e,
    })
}

/// The type a DECIMAL (or an array of them, at any depth) becomes beside a
/// DOUBLE; `None` for any other type.
fn as_float(t: &DataType) -> Option<DataType> {
    match t {
        DataType::Decimal128(..) | DataType::Decimal256(..) => Some(DataType::Float64),
        DataType::List(f) => as_float(f.data_type()).map(|t| DataType::new_list(t, true)),
        _ => None,
    }
}

fn leaf(t: &DataType) -> &DataType {
    match t {
        DataType::List(f) | DataType::LargeList(f) => leaf(f.data_type()),
        other => other,
    }
}

/// Whether some arguments are (arrays of) decimals and others of doubles.
fn mixes_decimal_and_float(args: &[Expr], schema: &DFSchema) -> Result<bool> {
    let types = args
        .iter()
        .map(|a| a.get_type(schema))
        .collect::<Result<Vec<_>>>()?;
    let float = types
        .iter()
        .any(|t| matches!(leaf(t), DataType::Float32 | DataType::Float64));
    Ok(float && types.iter().any(|t| as_float(t).is_some()))
}

fn is_text(e: &Expr, schema: &DFSchema) -> Result<bool> {
    // A text already stripped of its zone is not stripped again.
    if let Expr::ScalarFunction(f) = e
        && f.name() == "trino_local_text"
    {
        return Ok(false);
    }
    Ok(matches!(
        e.get_type(schema)?,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    ))
}

fn is_zoned(e: &Expr, schema: &DFSchema) -> Result<bool> {
    Ok(matches!(
        e.get_type(schema)?,
        DataType::Timestamp(_, Some(_))
    ))
}

/// Whether some of `es` are zoned timestamps and others zoneless ones or
/// dates, which Trino reads in the session's zone.
fn zoned_beside_zoneless(es: &[&Expr], schema: &DFSchema) -> Result<bool> {
    let (mut zoned, mut zoneless, mut time_zoned) = (false, false, false);
    for e in es {
        match e.get_type(schema)? {
            t if super::zoned::is_time_zoned(&t) => time_zoned = true,
            DataType::Timestamp(_, Some(_)) => zoned = true,
            DataType::Timestamp(_, None) | DataType::Date32 | DataType::Date64 => zoneless = true,
            _ => {}
        }
    }
    if time_zoned && (zoned || zoneless) {
        return plan_err!(
            "a TIME WITH TIME ZONE compared with a date or timestamp: Trino refuses it too"
        );
    }
    Ok(zoned && zoneless)
}

/// Trino's date and time functions that a TIME WITH TIME ZONE does not
/// take (it has no date), where Strata's would read its epoch day.
const DATED: [&str; 16] = [
    "to_iso8601",
    "format_datetime",
    "date_format",
    "to_unixtime",
    "at_timezone",
    "with_timezone",
    "last_day_of_month",
    "date",
    "to_char",
    "date_bin",
    "to_date",
    "to_timestamp",
    "to_timestamp_seconds",
    "to_timestamp_millis",
    "to_timestamp_micros",
    "to_timestamp_nanos",
];

/// A zoneless timestamp or date as the instant it is in the session's zone
/// (a date at its midnight); other expressions as they are.
fn in_session(e: Box<Expr>, schema: &DFSchema, zone: &str) -> Result<Box<Expr>> {
    let t = e.get_type(schema)?;
    let (e, unit) = match t {
        DataType::Timestamp(u, None) => (e, u),
        DataType::Date32 | DataType::Date64 => (
            Box::new(Expr::Cast(Cast::new(
                e,
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ))),
            TimeUnit::Microsecond,
        ),
        _ => return Ok(e),
    };
    Ok(Box::new(Expr::Cast(Cast::new(
        e,
        DataType::Timestamp(unit, Some(zone.into())),
    ))))
}

/// The offset (`+0545`) Trino gives a constant zoned timestamp (a literal,
/// or an expression of literals alone) cast to TIME WITH TIME ZONE, and the
/// value at that offset with the same wall time
/// ([`super::zoned::time_zone_at`]); `None` for anything that varies by row
/// or does not fold to one value.
fn constant_offset(
    e: &Expr,
    schema: &DFSchema,
    options: &ConfigOptions,
) -> Option<(String, ScalarValue)> {
    use datafusion::logical_expr::simplify::SimplifyContext;
    use datafusion::optimizer::simplify_expressions::ExprSimplifier;
    if !e.column_refs().is_empty() {
        return None;
    }
    let context = SimplifyContext::builder()
        .with_schema(Arc::new(schema.clone()))
        .with_config_options(Arc::new(options.clone()))
        .build();
    let (value, unit, zone) = match ExprSimplifier::new(context).simplify(e.clone()).ok()? {
        Expr::Literal(ScalarValue::TimestampSecond(Some(v), Some(z)), _) => {
            (v, TimeUnit::Second, z)
        }
        Expr::Literal(ScalarValue::TimestampMillisecond(Some(v), Some(z)), _) => {
            (v, TimeUnit::Millisecond, z)
        }
        Expr::Literal(ScalarValue::TimestampMicrosecond(Some(v), Some(z)), _) => {
            (v, TimeUnit::Microsecond, z)
        }
        Expr::Literal(ScalarValue::TimestampNanosecond(Some(v), Some(z)), _) => {
            (v, TimeUnit::Nanosecond, z)
        }
        _ => return None,
    };
    let (offset, moved) = super::zoned::time_zone_at(&zone, value, unit)?;
    let at = Some(zone);
    let value = match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(Some(moved), at),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(moved), at),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(moved), at),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(moved), at),
    };
    Some((offset, value))
}

/// The fraction digits a cast's field declares (Trino's default, 3, for a
/// zoned type without them).
fn declared_digits(field: &datafusion::arrow::datatypes::FieldRef) -> i64 {
    field
        .metadata()
        .get(super::types::PRECISION)
        .and_then(|p| p.parse().ok())
        .unwrap_or(3)
}

/// The text of a text literal.
fn literal_text(e: &Expr) -> Option<&str> {
    match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(t))
            | ScalarValue::Utf8View(Some(t))
            | ScalarValue::LargeUtf8(Some(t)),
            _,
        ) => Some(t),
        _ => None,
    }
}

/// A TIME WITH TIME ZONE brought back into the epoch's day.
fn wrap_day(e: Expr) -> Expr {
    row_function(
        "trino_wrap_day",
        |t| Ok(t[0].clone()),
        |a, _| super::zoned::wrap_day(&a[0]),
        vec![e],
    )
}

/// `trino_zoned_text(text, target, digits)`: see [`super::zoned::zoned_text`].
fn zoned_text(text: Expr, target: &DataType, digits: i64) -> Expr {
    row_function(
        "trino_zoned_text",
        |t| Ok(t[1].clone()),
        super::zoned::zoned_text,
        vec![text, lit(super::zoned::typed_null(target)), lit(digits)],
    )
}

/// `time` on the day the session started: see [`super::zoned::on_session_day`].
/// The day comes from `now()`, which DataFusion fixes to the statement's
/// start when it simplifies it (the session's fixed start, if it sets one).
fn on_session_day(time: Expr, options: &ConfigOptions, in_zone: bool, ret: DataType) -> Expr {
    row_function(
        "trino_on_session_day",
        |t| Ok(t[4].clone()),
        super::zoned::on_session_day,
        vec![
            time,
            datafusion::functions::datetime::expr_fn::now(),
            lit(session_zone(options)),
            lit(in_zone),
            lit(super::zoned::typed_null(&ret)),
        ],
    )
}

/// The finer of two units, nanoseconds or else microseconds: the unit a
/// conversion between them is computed in.
fn finer(a: TimeUnit, b: TimeUnit) -> TimeUnit {
    if a == TimeUnit::Nanosecond || b == TimeUnit::Nanosecond {
        TimeUnit::Nanosecond
    } else {
        TimeUnit::Microsecond
    }
}

/// The session's zone (`SET TIME ZONE`), UTC unless set, as Athena's.
fn session_zone(options: &ConfigOptions) -> String {
    options
        .execution
        .time_zone
        .as_deref()
        .and_then(|z| super::zoned::canonical_zone(z).ok())
        .unwrap_or_else(|| super::zoned::SESSION_ZONE.into())
}

/// The function that reads a zoned timestamp on its zone's wall clock.
const WALL_CLOCK: &str = "trino_wall_clock";

/// A zoned timestamp read on its zone's wall clock (zoneless, same unit).
fn wall_clock(e: Expr) -> Expr {
    row_function(
        WALL_CLOCK,
        |t| match &t[0] {
            DataType::Timestamp(u, _) => Ok(DataType::Timestamp(*u, None)),
            other => plan_err!("{WALL_CLOCK} of {other}"),
        },
        |a, _| super::zoned::local(&a[0]),
        vec![e],
    )
}

fn is_zoneless_time(e: &Expr, schema: &DFSchema) -> Result<bool> {
    Ok(matches!(
        e.get_type(schema)?,
        DataType::Timestamp(_, None) | DataType::Time32(_) | DataType::Time64(_)
    ))
}

/// Whether `date` is a DATE and `interval` a literal interval with a part
/// shorter than a day.
fn adds_time_to_date(date: &Expr, interval: &Expr, schema: &DFSchema) -> Result<bool> {
    if !is_date(&date.get_type(schema)?) {
        return Ok(false);
    }
    Ok(match interval {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) => v.nanoseconds != 0,
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => v.milliseconds != 0,
        _ => false,
    })
}

/// `round_time(e, digits)`.
fn round_time(e: Expr, digits: i64) -> Expr {
    call(
        Arc::new(ScalarUDF::from(RoundTime {
            signature: Signature::any(2, Volatility::Immutable),
        })),
        vec![e, lit(digits)],
    )
}

/// The name of [`RoundTime`], which [`time_precision`] reads its digits from.
const ROUND_TIME: &str = "round_time";

/// `round_time(t, p)`: a timestamp or time rounded to p fraction digits.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundTime {
    signature: Signature,
}

impl ScalarUDFImpl for RoundTime {
    fn name(&self) -> &str {
        ROUND_TIME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (a, scalar) = arrays(&args)?;
        let digits = integers(&a[1])?.first().copied().flatten().unwrap_or(6);
        let (unit_digits, day) = match a[0].data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) => (6, None),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => (9, None),
            DataType::Time64(TimeUnit::Microsecond) => (6, Some(86_400 * MICROS)),
            DataType::Time64(TimeUnit::Nanosecond) => (9, Some(86_400 * MICROS * 1000)),
            other => return exec_err!("round_time: not a time: {other}"),
        };
        let factor = 10i64.pow((unit_digits - digits).clamp(0, 18) as u32);
        let raw = cast(&a[0], &DataType::Int64)?;
        let rounded: datafusion::arrow::array::Int64Array = raw
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .iter()
            .map(|v| {
                v.map(|v| {
                    let r = (v + factor / 2).div_euclid(factor) * factor;
                    day.map_or(r, |d| r.rem_euclid(d))
                })
            })
            .collect();
        output(cast(&rounded, a[0].data_type())?, scalar)
    }
}

/// The fraction digits of a timestamp or time expression: the
/// precision it was declared with (`TIMESTAMP(3)`, or a literal's own
/// digits), else its unit's; `None` for any other type.
fn time_precision(e: &Expr, schema: &DFSchema) -> Result<Option<i64>> {
    let unit = match e.get_type(schema)? {
        DataType::Timestamp(unit, _) | DataType::Time64(unit) | DataType::Time32(unit) => unit,
        _ => return Ok(None),
    };
    // A declared precision is on the cast's field until this rewrite turns
    // the cast into `round_time(value, digits)`, which runs first.
    let declared = |e: &Expr| -> Option<i64> {
        let mut e = e;
        loop {
            match e {
                Expr::Cast(c) => match c.field.metadata().get(super::types::PRECISION) {
                    Some(p) => return p.parse().ok(),
                    None => e = &c.expr,
                },
                // Trino's functions that make a TIMESTAMP(3) (WITH TIME ZONE).
                Expr::ScalarFunction(f)
                    if matches!(
                        f.name(),
                        "from_iso8601_timestamp"
                            | "parse_datetime"
                            | "from_unixtime"
                            | "date_parse"
                    ) =>
                {
                    return Some(3);
                }
                Expr::ScalarFunction(f)
                    if matches!(f.name(), "trino_zoned_text" | "trino_timetz_text") =>
                {
                    return match f.args.get(2) {
                        Some(Expr::Literal(ScalarValue::Int64(Some(d)), _)) => Some(*d),
                        _ => None,
                    };
                }
                Expr::ScalarFunction(f)
                    if matches!(
                        f.name(),
                        WALL_CLOCK | "at_timezone" | "with_timezone" | "trino_wrap_day"
                    ) =>
                {
                    e = &f.args[0];
                }
                Expr::ScalarFunction(f) if f.name() == ROUND_TIME => {
                    return match f.args.get(1) {
                        Some(Expr::Literal(ScalarValue::Int64(Some(d)), _)) => Some(*d),
                        _ => None,
                    };
                }
                _ => return None,
            }
        }
    };
    Ok(Some(declared(e).unwrap_or(match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    })))
}

/// `trino_time_text(t, p)`: a timestamp or a time as Trino's CAST to
/// VARCHAR writes it, with p fraction digits; a zoned timestamp as its
/// zone's wall clock, then the zone.
pub(super) fn time_text(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    // A TIME WITH TIME ZONE is its time of day, then its offset.
    let time_zoned = super::zoned::is_time_zoned(a[0].data_type());
    let zone = match a[0].data_type() {
        DataType::Timestamp(_, Some(z)) if time_zoned => super::zoned::offset_text(z),
        DataType::Timestamp(_, Some(z)) => format!(" {z}"),
        _ => String::new(),
    };
    let wall = super::zoned::local(&a[0])?;
    let a = [wall, a[1].clone()];
    let digits = integers(&a[1])?
        .first()
        .copied()
        .flatten()
        .unwrap_or(6)
        .clamp(0, 9) as usize;
    let is_time =
        time_zoned || matches!(a[0].data_type(), DataType::Time64(_) | DataType::Time32(_));
    // Nanoseconds since the epoch (or midnight) hold every unit exactly;
    // the years a nanosecond i64 cannot hold go through microseconds.
    let (values, per_second) = match a[0].data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) | DataType::Time64(TimeUnit::Nanosecond) => {
            (cast(&a[0], &DataType::Int64)?, 1_000_000_000i64)
        }
        DataType::Timestamp(..) => (
            cast(
                &cast(&a[0], &DataType::Timestamp(TimeUnit::Microsecond, None))?,
                &DataType::Int64,
            )?,
            1_000_000,
        ),
        _ => (
            cast(
                &cast(&a[0], &DataType::Time64(TimeUnit::Microsecond))?,
                &DataType::Int64,
            )?,
            1_000_000,
        ),
    };
    let mut out = StringBuilder::new();
    for v in values
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .iter()
    {
        let Some(v) = v else {
            out.append_null();
            continue;
        };
        let (secs, sub) = (v.div_euclid(per_second), v.rem_euclid(per_second));
        let nanos = sub * (1_000_000_000 / per_second);
        let whole = if is_time {
            let s = secs.rem_euclid(86_400);
            format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        } else {
            match chrono::DateTime::from_timestamp(secs, 0) {
                Some(t) => t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string(),
                None => return exec_err!("a timestamp out of range: {v}"),
            }
        };
        if digits == 0 {
            out.append_value(format!("{whole}{zone}"));
        } else {
            out.append_value(format!(
                "{whole}.{}{zone}",
                &format!("{nanos:09}")[..digits]
            ));
        }
    }
    Ok(Arc::new(out.finish()))
}

/// A one-argument text function of this module applied to `e`.
fn as_text(name: &'static str, eval: super::Eval, e: Expr) -> Expr {
    row_function(name, |_| Ok(DataType::Utf8), eval, vec![e])
}

/// `trino_iso8601(t, p)`: a TIMESTAMP(p) in ISO 8601, as Trino's
/// `to_iso8601` writes it: its VARCHAR text (exactly p fraction digits)
/// with `T` between date and time, and a zoned one's offset (`+05:45`, `Z`).
pub(super) fn iso8601_text(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let offsets = super::zoned::iso_offsets(&a[0])?;
    let text = time_text(&[super::zoned::local(&a[0])?, a[1].clone()], ret)?;
    let out: datafusion::arrow::array::StringArray = text
        .as_string::<i32>()
        .iter()
        .zip(offsets)
        .map(|(t, o)| t.map(|t| t.replacen(' ', "T", 1) + o.as_deref().unwrap_or_default()))
        .collect();
    Ok(Arc::new(out))
}

/// A call of one of this module's row-by-row functions, taking any
/// arguments of its arity.
/// `text` fitted to the VARCHAR(n) that `target` names (its `LENGTH`
/// mark): a VARCHAR (`from_text`) is cut, any other value must fit. A
/// target with no length leaves `text` as it is.
fn fitted_to_length(
    text: Expr,
    target: &datafusion::arrow::datatypes::Field,
    from_text: bool,
) -> Expr {
    let length = target
        .metadata()
        .get(super::types::LENGTH)
        .and_then(|n| n.parse::<i64>().ok());
    match length {
        Some(n) => row_function(
            "trino_varchar_length",
            |_| Ok(DataType::Utf8),
            varchar_length,
            vec![text, lit(n), lit(from_text)],
        ),
        None => text,
    }
}

/// The scalar types inside a nested type (itself, if it is not nested).
fn leaves(t: &DataType) -> Vec<DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            leaves(f.data_type())
        }
        DataType::Map(f, _) => leaves(f.data_type()),
        DataType::Struct(fields) => fields.iter().flat_map(|f| leaves(f.data_type())).collect(),
        other => vec![other.clone()],
    }
}

/// A text literal, also as a CHAR literal (`CHAR '...'`, a cast to text).
fn text_literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Cast(Cast { expr, field })
            if matches!(
                field.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            ) =>
        {
            text_literal(expr)
        }
        other => literal_text(other),
    }
}

pub(super) fn row_function(
    name: &'static str,
    returns: super::ReturnType,
    eval: super::Eval,
    args: Vec<Expr>,
) -> Expr {
    let signature = Signature::any(args.len(), Volatility::Immutable);
    call(
        Arc::new(ScalarUDF::from(super::Function {
            name,
            signature,
            returns,
            eval,
        })),
        args,
    )
}

/// An IPADDRESS's 16 bytes, which order as Trino orders addresses.
fn ip_bytes(e: Expr) -> Expr {
    row_function(
        "trino_ipaddress_bytes",
        |_| Ok(DataType::Binary),
        super::json_type::ipaddress_bytes,
        vec![e],
    )
}

/// A call of a one-argument function whose VARCHAR result is marked `key`.
fn marked(name: &'static str, key: &'static str, eval: super::Eval, arg: Expr) -> Expr {
    call(
        Arc::new(ScalarUDF::from(super::json_type::Marked {
            inner: super::Function {
                name,
                signature: Signature::any(1, Volatility::Immutable),
                returns: |_| Ok(DataType::Utf8),
                eval,
            },
            key,
        })),
        vec![arg],
    )
}

fn call(f: Arc<ScalarUDF>, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
        f, args,
    ))
}

/// A double as Trino's CAST to VARCHAR writes it: the shortest digits in
/// scientific notation (`1.2E3`, `0E0`, `-7.5E-1`), `NaN`, `Infinity`.
pub(super) fn double_text(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let single = a[0].data_type() == &DataType::Float32;
    let values = cast(&a[0], &DataType::Float64)?;
    let mut out = StringBuilder::new();
    for v in values
        .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
        .iter()
    {
        out.append_option(v.map(|x| {
            if x.is_nan() {
                return "NaN".to_string();
            }
            if x.is_infinite() {
                return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
            }
            // Trino writes zero without a fraction (its DecimalFormat pattern
            // `0.0###E0` would write 0.0E0, but zero is special-cased).
            if x == 0.0 {
                return if x.is_sign_negative() { "-0E0" } else { "0E0" }.to_string();
            }
            // A real is written to at most 7 significant digits, as Trino
            // does; a double to its shortest round-trip digits.
            let e = if single {
                format!("{:.6e}", x as f32)
            } else {
                format!("{x:e}")
            };
            let (mantissa, exponent) = e.split_once('e').unwrap_or((&e, "0"));
            let mantissa = match mantissa.split_once('.') {
                Some((whole, fraction)) => {
                    let fraction = fraction.trim_end_matches('0');
                    format!(
                        "{whole}.{}",
                        if fraction.is_empty() { "0" } else { fraction }
                    )
                }
                None => format!("{mantissa}.0"),
            };
            format!("{mantissa}E{exponent}")
        }));
    }
    Ok(Arc::new(out.finish()))
}

/// `trino_float_digits(x)`: a double's or real's shortest round-trip
/// digits in plain notation (`1234567890123456800000000`, `1456213.4`),
/// which is the decimal value Trino's CAST to DECIMAL takes. NaN and the
/// infinities have no decimal value.
pub(super) fn float_digits(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    match a[0].data_type() {
        DataType::Float32 => {
            for v in a[0].as_primitive::<datafusion::arrow::datatypes::Float32Type>() {
                out.append_option(
                    v.map(|x| plain_digits(x.is_finite(), x.to_string(), "REAL"))
                        .transpose()?,
                );
            }
        }
        _ => {
            let values = cast(&a[0], &DataType::Float64)?;
            for v in values.as_primitive::<datafusion::arrow::datatypes::Float64Type>() {
                out.append_option(
                    v.map(|x| plain_digits(x.is_finite(), x.to_string(), "DOUBLE"))
                        .transpose()?,
                );
            }
        }
    }
    Ok(Arc::new(out.finish()))
}

fn plain_digits(finite: bool, text: String, kind: &str) -> Result<String> {
    if finite {
        Ok(text)
    } else {
        exec_err!("Cannot cast {kind} '{text}' to DECIMAL")
    }
}

/// Text fitted to VARCHAR(n): a string is cut to n characters; any other
/// value's text must fit ("Value cannot be represented as varchar(n)").
pub(super) fn varchar_length(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let values = texts(&a[0])?;
    let n = integers(&a[1])?
        .first()
        .copied()
        .flatten()
        .unwrap_or(i64::MAX);
    let from_text = a[2].as_boolean().value(0);
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let mut out = StringBuilder::new();
    for v in values {
        let Some(v) = v else {
            out.append_null();
            continue;
        };
        if v.chars().count() <= n {
            out.append_value(v);
        } else if from_text {
            out.append_value(v.chars().take(n).collect::<String>());
        } else {
            return exec_err!("Value {v} cannot be represented as varchar({n})");
        }
    }
    Ok(Arc::new(out.finish()))
}
