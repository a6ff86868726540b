//! Trino's (Athena's) functions with Trino's semantics, so an analyst's
//! Athena query runs unchanged. One module per family: [`datetime`] (dates,
//! times, MySQL and Joda formats), [`json`] (JSON paths), [`aggregate`]
//! (`count_if`, `max_by`, `min_by`), [`regexp`] (`regexp_extract`); `try`
//! and `if` are rewrites in [`super::lenient`]. This file holds what they
//! share (argument arrays, the function wrapper) and registers them all.

use std::sync::Arc;

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

mod aggregate;
mod datetime;
pub mod joda;
mod json;
mod regexp;

use aggregate::*;
use datetime::*;
use json::*;
use regexp::*;

const MICROS: i64 = 1_000_000;
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

pub(super) fn to_datetime(micros: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc())
}

pub(super) fn to_micros(d: NaiveDateTime) -> i64 {
    d.and_utc().timestamp_micros()
}

pub(super) fn to_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// The arguments as arrays of `number_rows`, and whether all were constants.
pub(super) fn arrays(args: &ScalarFunctionArgs) -> Result<(Vec<ArrayRef>, bool)> {
    let all_scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let n = if all_scalar { 1 } else { args.number_rows };
    let arrays = args
        .args
        .iter()
        .map(|a| a.to_array(n))
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, all_scalar))
}

pub(super) fn output(array: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// A DATE or TIMESTAMP argument as naive microseconds.
pub(super) fn timestamps(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let t = match a.data_type() {
        DataType::Timestamp(_, Some(_)) => cast(
            &cast(
                a,
                &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            )?,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?,
        _ => cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None))?,
    };
    let t = t.as_primitive::<TimestampMicrosecondType>();
    Ok((0..t.len())
        .map(|i| t.is_valid(i).then(|| t.value(i)))
        .collect())
}

pub(super) fn texts(a: &ArrayRef) -> Result<Vec<Option<String>>> {
    let t = cast(a, &DataType::Utf8)?;
    let t = t.as_string::<i32>();
    Ok((0..t.len())
        .map(|i| t.is_valid(i).then(|| t.value(i).to_string()))
        .collect())
}

pub(super) fn integers(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let t = cast(a, &DataType::Int64)?;
    let t = t.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    Ok((0..t.len())
        .map(|i| t.is_valid(i).then(|| t.value(i)))
        .collect())
}

pub(super) fn is_date(t: &DataType) -> bool {
    matches!(t, DataType::Date32 | DataType::Date64)
}

/// A function's return type from its argument types.
type ReturnType = fn(&[DataType]) -> Result<DataType>;
/// A function's evaluation over whole argument arrays, given its return type.
type Eval = fn(&[ArrayRef], &DataType) -> Result<ArrayRef>;

/// A Trino function implemented by one function over whole arrays.
pub(super) struct Function {
    name: &'static str,
    signature: Signature,
    returns: ReturnType,
    eval: Eval,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}
impl PartialEq for Function {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
    }
}
impl Eq for Function {}
impl std::hash::Hash for Function {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name.hash(h)
    }
}

impl ScalarUDFImpl for Function {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        (self.returns)(args)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let ret = (self.returns)(&types)?;
        let (a, scalar) = arrays(&args)?;
        output((self.eval)(&a, &ret)?, scalar)
    }
}

/// Registers the functions in a session (replacing DataFusion's `date_format`,
/// which takes chrono codes, with Trino's).
pub fn register(ctx: &SessionContext) {
    use datafusion::execution::FunctionRegistry;
    ctx.register_udf(ScalarUDF::from(crate::engine::lenient::Try::new()));
    ctx.register_udf(ScalarUDF::from(crate::engine::lenient::If::new()));
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        for rewrite in [
            Arc::new(crate::engine::lenient::TryRewrite) as Arc<_>,
            Arc::new(crate::engine::lenient::IfRewrite) as Arc<_>,
        ] {
            state
                .register_function_rewrite(rewrite)
                .expect("a session accepts function rewrites");
        }
    }
    let parts = [
        ("year", vec![], Part::Year),
        ("quarter", vec![], Part::Quarter),
        ("month", vec![], Part::Month),
        ("week", vec!["week_of_year"], Part::Week),
        ("year_of_week", vec!["yow"], Part::YearOfWeek),
        ("day", vec!["day_of_month"], Part::Day),
        ("day_of_week", vec!["dow"], Part::DayOfWeek),
        ("day_of_year", vec!["doy"], Part::DayOfYear),
        ("hour", vec![], Part::Hour),
        ("minute", vec![], Part::Minute),
        ("second", vec![], Part::Second),
        ("millisecond", vec![], Part::Millisecond),
    ];
    for (name, aliases, part) in parts {
        ctx.register_udf(ScalarUDF::from(DatePart {
            name,
            aliases: aliases.into_iter().map(String::from).collect(),
            part,
            signature: Signature::any(1, Volatility::Immutable),
        }));
    }
    let same_as_third: ReturnType = |t| {
        Ok(if t.get(2).is_some_and(is_date) {
            DataType::Date32
        } else {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        })
    };
    let functions: [(&'static str, usize, ReturnType, Eval); 12] = [
        ("date_add", 3, same_as_third, date_add),
        ("date_diff", 3, |_| Ok(DataType::Int64), date_diff),
        (
            "last_day_of_month",
            1,
            |_| Ok(DataType::Date32),
            last_day_of_month,
        ),
        ("date_format", 2, |_| Ok(DataType::Utf8), date_format),
        (
            "date_parse",
            2,
            |_| Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
            date_parse,
        ),
        (
            "from_iso8601_date",
            1,
            |_| Ok(DataType::Date32),
            from_iso8601_date,
        ),
        (
            "from_iso8601_timestamp",
            1,
            |_| {
                Ok(DataType::Timestamp(
                    TimeUnit::Microsecond,
                    Some("UTC".into()),
                ))
            },
            from_iso8601_timestamp,
        ),
        ("to_iso8601", 1, |_| Ok(DataType::Utf8), to_iso8601),
        (
            "format_datetime",
            2,
            |_| Ok(DataType::Utf8),
            format_datetime,
        ),
        (
            "parse_datetime",
            2,
            |_| {
                Ok(DataType::Timestamp(
                    TimeUnit::Microsecond,
                    Some("UTC".into()),
                ))
            },
            parse_datetime,
        ),
        (
            "json_extract_scalar",
            2,
            |_| Ok(DataType::Utf8),
            json_extract_scalar,
        ),
        ("json_extract", 2, |_| Ok(DataType::Utf8), json_extract),
    ];
    for (name, arity, returns, eval) in functions {
        ctx.register_udf(ScalarUDF::from(Function {
            name,
            signature: Signature::any(arity, Volatility::Immutable),
            returns,
            eval,
        }));
    }
    ctx.register_udf(ScalarUDF::from(Function {
        name: "regexp_extract",
        signature: Signature::one_of(
            vec![
                datafusion::logical_expr::TypeSignature::Any(2),
                datafusion::logical_expr::TypeSignature::Any(3),
            ],
            Volatility::Immutable,
        ),
        returns: |_| Ok(DataType::Utf8),
        eval: regexp_extract,
    }));
    ctx.register_udaf(datafusion::logical_expr::create_udaf(
        "count_if",
        vec![DataType::Boolean],
        Arc::new(DataType::Int64),
        Volatility::Immutable,
        Arc::new(|_| Ok(Box::new(CountIf::default()))),
        Arc::new(vec![DataType::Int64]),
    ));
    for (name, max) in [("max_by", true), ("min_by", false)] {
        ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(ByAggregate {
            name,
            max,
            signature: Signature::any(2, Volatility::Immutable),
        }));
    }
    // Trino's names for what DataFusion already has.
    let state = ctx.state();
    for (theirs, ours) in [
        ("arbitrary", "any_value"),
        ("approx_percentile", "approx_percentile_cont"),
    ] {
        if let Some(f) = state.aggregate_functions().get(ours) {
            ctx.register_udaf(f.as_ref().clone().with_aliases([theirs]));
        }
    }
    for (theirs, ours) in [
        ("element_at", "array_element"),
        ("sequence", "generate_series"),
        ("split", "string_to_array"),
        ("levenshtein_distance", "levenshtein"),
    ] {
        if let Some(f) = state.scalar_functions().get(ours) {
            ctx.register_udf(f.as_ref().clone().with_aliases([theirs]));
        }
    }
}
