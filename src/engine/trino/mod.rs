//! Trino's (Athena's) functions with Trino's semantics, so an analyst's
//! Athena query runs unchanged. One module per family: [`datetime`] (dates,
//! times, MySQL and Joda formats), [`json`] (JSON paths), [`aggregate`]
//! (`count_if`, `max_by`, `min_by`), [`regexp`] (`regexp_extract`), [`units`]
//! (`format_number`, `parse_data_size`); `try`
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
mod arrays;
mod binary;
mod current;
mod datetime;
mod format;
pub mod joda;
mod json;
mod json_type;
mod lambdas;
mod math;
mod planners;
mod regexp;
mod semantics;
mod strings;
mod types;
mod units;
mod unnest;
mod url;
mod zoned;

pub(crate) use planners::TrinoPlanner;
pub(crate) use zoned::round_picoseconds;

use aggregate::*;
use arrays::*;
use binary::*;
use datetime::*;
use format::format;
use json::*;
use json_type::*;
pub(crate) use lambdas::REGEXP_REPLACE_LAMBDA;
use math::*;
use regexp::*;
use strings::*;
pub use types::TrinoTypes;
pub(crate) use types::trino_name;
use types::type_of;
use units::*;
use url::*;
pub use zoned::{display as zoned_display, time_zoned_as_text};

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
        // A time of day is read on the epoch's day (hour(), date_diff()...).
        DataType::Time32(_) | DataType::Time64(_) => {
            let micros = cast(
                &cast(a, &DataType::Time64(TimeUnit::Microsecond))?,
                &DataType::Int64,
            )?;
            return integers(&micros);
        }
        // A zoned timestamp's fields are its zone's wall clock's.
        DataType::Timestamp(_, Some(_)) => cast(
            &zoned::local(a)?,
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

/// Trino's MAP(K, V) as Arrow's map: non-NULL keys, nullable values,
/// entries in no declared order.
pub(super) fn map_type(key: DataType, value: DataType) -> DataType {
    use datafusion::arrow::datatypes::Field;
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(
                vec![
                    Field::new("key", key, false),
                    Field::new("value", value, true),
                ]
                .into(),
            ),
            false,
        )),
        false,
    )
}

/// The types of a call's arguments.
fn argument_types(args: &ScalarFunctionArgs) -> Vec<DataType> {
    args.arg_fields
        .iter()
        .map(|f| f.data_type().clone())
        .collect()
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
        let ret = (self.returns)(&argument_types(&args))?;
        let (a, scalar) = arrays(&args)?;
        output((self.eval)(&a, &ret)?, scalar)
    }
}

/// A function that is one function over arrays and another over the rest
/// (Trino's `concat` joins arrays, DataFusion's prints them).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ByArgument {
    scalars: ScalarUDF,
    arrays: ScalarUDF,
    signature: Signature,
    /// Trino's least number of arguments (`concat` takes two or more).
    min_args: usize,
}

impl ByArgument {
    fn pick(&self, types: &[DataType]) -> &ScalarUDF {
        let list = |t: &DataType| {
            matches!(
                t,
                DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
            )
        };
        if types.first().is_some_and(list) {
            &self.arrays
        } else {
            &self.scalars
        }
    }
}

impl ScalarUDFImpl for ByArgument {
    fn name(&self) -> &str {
        self.scalars.name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        if types.len() < self.min_args {
            return plan_err!(
                "{} takes {} or more arguments, not {}",
                self.name(),
                self.min_args,
                types.len()
            );
        }
        let inner = self.pick(types);
        datafusion::logical_expr::type_coercion::functions::fields_with_udf(
            &types
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    Arc::new(datafusion::arrow::datatypes::Field::new(
                        format!("a{i}"),
                        t.clone(),
                        true,
                    ))
                })
                .collect::<Vec<_>>(),
            inner,
        )
        .map(|fields| fields.iter().map(|f| f.data_type().clone()).collect())
    }
    fn return_type(&self, types: &[DataType]) -> Result<DataType> {
        self.pick(types).return_type(types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.pick(&argument_types(&args)).invoke_with_args(args)
    }
}

/// DataFusion plans some syntax straight to its own functions, past the
/// registry: `SUBSTRING(x FROM n)` and `SUBSTR` to its `substr`,
/// `EXTRACT(f FROM x)` to its `date_part`. This swaps them for the Trino
/// functions registered under those names.
#[derive(Debug)]
struct RegisteredFunctions {
    ours: std::collections::HashMap<String, Arc<ScalarUDF>>,
}

impl datafusion::logical_expr::expr_rewriter::FunctionRewrite for RegisteredFunctions {
    fn name(&self) -> &str {
        "trino_registered_functions"
    }

    fn rewrite(
        &self,
        expr: datafusion::logical_expr::Expr,
        _: &datafusion::common::DFSchema,
        _: &datafusion::common::config::ConfigOptions,
    ) -> Result<datafusion::common::tree_node::Transformed<datafusion::logical_expr::Expr>> {
        use datafusion::common::tree_node::Transformed;
        use datafusion::logical_expr::Expr;
        use datafusion::logical_expr::expr::ScalarFunction;
        match expr {
            // Trino sorts NULLs last; DataFusion's default puts them first.
            Expr::ScalarFunction(ScalarFunction { func, mut args })
                if func.name() == "array_sort" && args.len() == 1 =>
            {
                args.push(datafusion::prelude::lit("ASC"));
                args.push(datafusion::prelude::lit("NULLS LAST"));
                Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction {
                    func,
                    args,
                })))
            }
            Expr::ScalarFunction(ScalarFunction { func, args }) => {
                match self.ours.get(func.name()) {
                    Some(ours) if ours.as_ref() != func.as_ref() => {
                        Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction {
                            func: ours.clone(),
                            args,
                        })))
                    }
                    _ => Ok(Transformed::no(Expr::ScalarFunction(ScalarFunction {
                        func,
                        args,
                    }))),
                }
            }
            other => Ok(Transformed::no(other)),
        }
    }
}

/// `date(x)`: `CAST(x AS DATE)`.
fn to_date(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    Ok(cast(&a[0], &DataType::Date32)?)
}

/// The name Trino's `random(n)` is planned under (see `dialect`).
pub(crate) const RANDOM_BELOW: &str = "trino_random_below";

/// Registers the functions in a session (replacing DataFusion's `date_format`,
/// which takes chrono codes, with Trino's).
pub fn register(ctx: &SessionContext) {
    use datafusion::execution::FunctionRegistry;
    ctx.register_udf(ScalarUDF::from(crate::engine::lenient::Try::new()));
    ctx.register_udf(ScalarUDF::from(crate::engine::lenient::If::new()));
    ctx.register_udf(zoned::ZoneChange::at());
    ctx.register_udf(zoned::ZoneChange::with());
    for clock in current::functions() {
        ctx.register_udf(clock);
    }
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
        ("timezone_hour", vec![], Part::TimezoneHour),
        ("timezone_minute", vec![], Part::TimezoneMinute),
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
        Ok(match t.get(2) {
            Some(d) if is_date(d) => DataType::Date32,
            // A TIME stays a TIME (wrapping past midnight, as Trino's).
            Some(DataType::Time64(TimeUnit::Nanosecond)) => DataType::Time64(TimeUnit::Nanosecond),
            Some(DataType::Time32(_) | DataType::Time64(_)) => {
                DataType::Time64(TimeUnit::Microsecond)
            }
            // TIMESTAMP(7..9) keeps its nanoseconds, a zoned one its zone.
            Some(DataType::Timestamp(TimeUnit::Nanosecond, zone)) => {
                DataType::Timestamp(TimeUnit::Nanosecond, zone.clone())
            }
            Some(DataType::Timestamp(_, zone)) => {
                DataType::Timestamp(TimeUnit::Microsecond, zone.clone())
            }
            _ => DataType::Timestamp(TimeUnit::Microsecond, None),
        })
    };
    // Functions with optional or variadic arguments: (name, arities or
    // None for any number, type, evaluation).
    let timestamp_utc: ReturnType = |_| {
        Ok(DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("UTC".into()),
        ))
    };
    let (utf8, int64, boolean, float64, date): (
        ReturnType,
        ReturnType,
        ReturnType,
        ReturnType,
        ReturnType,
    ) = (
        |_| Ok(DataType::Utf8),
        |_| Ok(DataType::Int64),
        |_| Ok(DataType::Boolean),
        |_| Ok(DataType::Float64),
        |_| Ok(DataType::Date32),
    );
    let (utf8_list, binary): (ReturnType, ReturnType) = (
        |_| Ok(DataType::new_list(DataType::Utf8, true)),
        |_| Ok(DataType::Binary),
    );
    let shaped: [(&'static str, Option<&[usize]>, ReturnType, Eval); 138] = [
        ("mod", Some(&[2]), mod_type, modulo),
        ("date", Some(&[1]), date, to_date),
        ("bitwise_and", Some(&[2]), first_integer_type, bitwise_and),
        ("bitwise_or", Some(&[2]), first_integer_type, bitwise_or),
        ("bitwise_xor", Some(&[2]), first_integer_type, bitwise_xor),
        ("bitwise_not", Some(&[1]), first_integer_type, bitwise_not),
        (
            "bitwise_left_shift",
            Some(&[2]),
            first_integer_type,
            bitwise_left_shift,
        ),
        (
            "bitwise_right_shift",
            Some(&[2]),
            first_integer_type,
            bitwise_right_shift,
        ),
        (
            "bitwise_right_shift_arithmetic",
            Some(&[2]),
            first_integer_type,
            bitwise_right_shift_arithmetic,
        ),
        ("bit_count", Some(&[2]), int64, bit_count),
        ("hamming_distance", Some(&[2]), int64, hamming_distance),
        (
            "regexp_extract_all",
            Some(&[2, 3]),
            utf8_list,
            regexp_extract_all,
        ),
        ("regexp_split", Some(&[2]), utf8_list, regexp_split),
        ("regexp_position", Some(&[2, 3, 4]), int64, regexp_position),
        ("slice", Some(&[3]), slice_type, slice),
        (
            "url_extract_protocol",
            Some(&[1]),
            utf8,
            url_extract_protocol,
        ),
        ("url_extract_host", Some(&[1]), utf8, url_extract_host),
        ("url_extract_port", Some(&[1]), int64, url_extract_port),
        ("url_extract_path", Some(&[1]), utf8, url_extract_path),
        ("url_extract_query", Some(&[1]), utf8, url_extract_query),
        (
            "url_extract_fragment",
            Some(&[1]),
            utf8,
            url_extract_fragment,
        ),
        (
            "url_extract_parameter",
            Some(&[2]),
            utf8,
            url_extract_parameter,
        ),
        ("url_encode", Some(&[1]), utf8, url_encode),
        ("url_decode", Some(&[1]), utf8, url_decode),
        ("to_utf8", Some(&[1]), binary, to_utf8),
        ("from_utf8", Some(&[1]), utf8, from_utf8),
        ("to_base64", Some(&[1]), utf8, to_base64),
        ("from_base64", Some(&[1]), binary, from_base64),
        ("crc32", Some(&[1]), int64, crc32),
        ("xxhash64", Some(&[1]), binary, xxhash64),
        ("date_add", Some(&[3]), same_as_third, date_add),
        ("date_diff", Some(&[3]), int64, date_diff),
        ("last_day_of_month", Some(&[1]), date, last_day_of_month),
        ("date_format", Some(&[2]), utf8, date_format),
        (
            "date_parse",
            Some(&[2]),
            |_| Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
            date_parse,
        ),
        ("from_iso8601_date", Some(&[1]), date, from_iso8601_date),
        (
            "from_iso8601_timestamp",
            Some(&[1]),
            |_| {
                Ok(DataType::Timestamp(
                    TimeUnit::Microsecond,
                    Some("UTC".into()),
                ))
            },
            from_iso8601_timestamp,
        ),
        ("to_iso8601", Some(&[1]), utf8, to_iso8601),
        ("format_datetime", Some(&[2]), utf8, format_datetime),
        (
            "parse_datetime",
            Some(&[2]),
            |_| {
                Ok(DataType::Timestamp(
                    TimeUnit::Microsecond,
                    Some("UTC".into()),
                ))
            },
            parse_datetime,
        ),
        ("nan", Some(&[0]), float64, nan),
        ("cosine_similarity", Some(&[2]), float64, cosine_similarity),
        ("cosine_distance", Some(&[2]), float64, cosine_distance),
        (
            "euclidean_distance",
            Some(&[2]),
            float64,
            euclidean_distance,
        ),
        ("timezone", Some(&[1]), utf8, zoned::timezone),
        ("infinity", Some(&[0]), float64, infinity),
        ("is_nan", Some(&[1]), boolean, is_nan),
        ("is_finite", Some(&[1]), boolean, is_finite),
        ("is_infinite", Some(&[1]), boolean, is_infinite),
        ("sign", Some(&[1]), sign_type, sign),
        ("truncate", Some(&[1, 2]), same_number_type, truncate),
        ("json_array_length", Some(&[1]), int64, json_array_length),
        ("json_size", Some(&[2]), int64, json_size),
        ("json_array_get", Some(&[2]), utf8, json_array_get),
        (
            "json_array_contains",
            Some(&[2]),
            boolean,
            json_array_contains,
        ),
        ("json_parse", Some(&[1]), utf8, json_parse),
        ("json_format", Some(&[1]), utf8, json_format),
        ("typeof", Some(&[1]), utf8, type_of),
        // What integer `+ - *` become (see semantics): registered by name
        // too, so a Ballista executor resolves them in a shipped plan.
        (
            "trino_checked_add",
            Some(&[2]),
            math::wider_integer,
            math::checked_add,
        ),
        (
            "trino_checked_subtract",
            Some(&[2]),
            math::wider_integer,
            math::checked_subtract,
        ),
        (
            "trino_checked_multiply",
            Some(&[2]),
            math::wider_integer,
            math::checked_multiply,
        ),
        ("format", None, utf8, format),
        ("regexp_extract", Some(&[2, 3]), utf8, regexp_extract),
        ("regexp_replace", Some(&[2, 3]), utf8, regexp_replace),
        ("substr", Some(&[2, 3]), utf8, substr),
        ("substring", Some(&[2, 3]), utf8, substr),
        ("concat_ws", None, utf8, concat_ws),
        ("overlay", Some(&[3, 4]), utf8, overlay),
        (
            "levenshtein_distance",
            Some(&[2]),
            int64,
            levenshtein_distance,
        ),
        ("split_part", Some(&[3]), utf8, split_part),
        ("replace", Some(&[2, 3]), utf8, replace),
        ("lpad", Some(&[3]), utf8, lpad),
        ("ltrim", Some(&[1, 2]), utf8, ltrim),
        ("rtrim", Some(&[1, 2]), utf8, rtrim),
        ("btrim", Some(&[1, 2]), utf8, btrim),
        ("trim", Some(&[1, 2]), utf8, btrim),
        ("rpad", Some(&[3]), utf8, rpad),
        (
            "split",
            Some(&[2, 3]),
            |_| Ok(DataType::new_list(DataType::Utf8, true)),
            split,
        ),
        ("sequence", Some(&[2, 3]), sequence_type, sequence),
        ("cardinality", Some(&[1]), int64, cardinality),
        ("array_position", Some(&[2]), int64, array_position),
        ("arrays_overlap", Some(&[2]), boolean, arrays_overlap),
        ("element_at", Some(&[2]), element_type, element_at),
        ("array_first", Some(&[1]), end_type, array_first),
        ("array_last", Some(&[1]), end_type, array_last),
        (
            "array_histogram",
            Some(&[1]),
            histogram_type,
            array_histogram,
        ),
        ("repeat", Some(&[2]), repeat_type, repeat),
        ("ceil", Some(&[1]), rounding_type, ceil),
        ("ceiling", Some(&[1]), rounding_type, ceil),
        ("floor", Some(&[1]), rounding_type, floor),
        ("to_unixtime", Some(&[1]), float64, to_unixtime),
        ("from_unixtime", Some(&[1]), timestamp_utc, from_unixtime),
        ("date_part", Some(&[2]), int64, date_part),
        ("datepart", Some(&[2]), int64, date_part),
        ("json_extract_scalar", Some(&[2]), utf8, json_extract_scalar),
        ("json_extract", Some(&[2]), utf8, json_extract),
        ("format_number", Some(&[1]), utf8, format_number),
        (
            "parse_data_size",
            Some(&[1]),
            |_| Ok(DataType::Decimal128(38, 0)),
            parse_data_size,
        ),
        (
            "human_readable_seconds",
            Some(&[1]),
            utf8,
            human_readable_seconds,
        ),
        ("soundex", Some(&[1]), utf8, soundex),
        ("normalize", Some(&[1, 2]), utf8, normalize),
        ("word_stem", Some(&[1, 2]), utf8, word_stem),
        ("luhn_check", Some(&[1]), boolean, luhn_check),
        ("width_bucket", Some(&[2, 4]), int64, width_bucket),
        ("trim_array", Some(&[2]), |t| Ok(t[0].clone()), trim_array),
        ("contains_sequence", Some(&[2]), boolean, contains_sequence),
        ("ngrams", Some(&[2]), ngrams_type, ngrams),
        ("from_base", Some(&[2]), int64, from_base),
        ("to_base", Some(&[2]), utf8, to_base),
        ("map_concat", None, map_concat_type, map_concat),
        (
            "map_from_entries",
            Some(&[1]),
            map_from_entries_type,
            map_from_entries,
        ),
        (
            "multimap_from_entries",
            Some(&[1]),
            multimap_from_entries_type,
            multimap_from_entries,
        ),
        ("combinations", Some(&[2]), combinations_type, combinations),
        ("from_hex", Some(&[1]), binary, from_hex),
        ("to_hex", Some(&[1]), utf8, to_hex),
        ("split_to_map", Some(&[3]), split_to_map_type, split_to_map),
        (
            "split_to_multimap",
            Some(&[3]),
            split_to_multimap_type,
            split_to_multimap,
        ),
        ("md5", Some(&[1]), binary, md5),
        ("sha1", Some(&[1]), binary, sha1),
        ("sha256", Some(&[1]), binary, sha256),
        ("sha512", Some(&[1]), binary, sha512),
        ("hmac_sha1", Some(&[2]), binary, hmac_sha1),
        ("hmac_sha256", Some(&[2]), binary, hmac_sha256),
        ("hmac_sha512", Some(&[2]), binary, hmac_sha512),
        (
            "from_big_endian_32",
            Some(&[1]),
            |_| Ok(DataType::Int32),
            from_big_endian_32,
        ),
        ("from_big_endian_64", Some(&[1]), int64, from_big_endian_64),
        ("to_big_endian_32", Some(&[1]), binary, to_big_endian_32),
        ("to_big_endian_64", Some(&[1]), binary, to_big_endian_64),
        (
            "from_ieee754_32",
            Some(&[1]),
            |_| Ok(DataType::Float32),
            from_ieee754_32,
        ),
        ("from_ieee754_64", Some(&[1]), float64, from_ieee754_64),
        ("to_ieee754_32", Some(&[1]), binary, to_ieee754_32),
        ("to_ieee754_64", Some(&[1]), binary, to_ieee754_64),
        ("normal_cdf", Some(&[3]), float64, normal_cdf),
        ("t_cdf", Some(&[2]), float64, t_cdf),
        ("beta_cdf", Some(&[3]), float64, beta_cdf),
        ("is_json_scalar", Some(&[1]), boolean, is_json_scalar),
        ("codepoint", Some(&[1]), |_| Ok(DataType::Int32), codepoint),
        ("strpos", Some(&[2, 3]), int64, strpos),
    ];
    for (name, arities, returns, eval) in shaped {
        use datafusion::logical_expr::TypeSignature;
        let signature = match arities {
            Some([0]) => Signature::nullary(Volatility::Immutable),
            Some([n]) => Signature::any(*n, Volatility::Immutable),
            Some(many) => Signature::one_of(
                many.iter().map(|n| TypeSignature::Any(*n)).collect(),
                Volatility::Immutable,
            ),
            None => Signature::variadic_any(Volatility::Immutable),
        };
        let function = Function {
            name,
            signature,
            returns,
            eval,
        };
        // These give Trino's JSON, which a CAST reads as JSON.
        if matches!(name, "json_parse" | "json_extract" | "json_array_get") {
            ctx.register_udf(ScalarUDF::from(Marked {
                inner: function,
                key: JSON,
            }));
        } else if matches!(name, "date_part" | "datepart") {
            ctx.register_udf(ScalarUDF::from(FastDatePart { inner: function }));
        } else {
            ctx.register_udf(ScalarUDF::from(function));
        }
    }
    // random(n), named apart so DataFusion's random() stays as it is.
    ctx.register_udf(ScalarUDF::from(Function {
        name: RANDOM_BELOW,
        signature: Signature::any(1, Volatility::Volatile),
        returns: |t| Ok(t[0].clone()),
        eval: random_below,
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
    for of in [MapOf::Pairs, MapOf::Counts] {
        ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(MapAggregate {
            of,
            signature: Signature::any(
                if of == MapOf::Pairs { 2 } else { 1 },
                Volatility::Immutable,
            ),
        }));
    }
    // Trino's names for what DataFusion already has.
    let state = ctx.state();
    for (theirs, ours) in [("arbitrary", "any_value")] {
        if let Some(f) = state.aggregate_functions().get(ours) {
            ctx.register_udaf(f.as_ref().clone().with_aliases([theirs]));
        }
    }
    if let Some(inner) = state.aggregate_functions().get("approx_percentile_cont") {
        ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(
            ApproxPercentile {
                inner: inner.as_ref().clone(),
                signature: Signature::user_defined(Volatility::Immutable),
            },
        ));
    }
    // Trino's names for DataFusion's functions of lambdas, and Trino's
    // functions of a map and a lambda.
    for (theirs, ours) in [("filter", "array_filter"), ("transform", "array_transform")] {
        if let Some(f) = state.higher_order_functions().get(ours) {
            ctx.register_higher_order_function(Arc::new(f.as_ref().clone().with_aliases([theirs])));
        }
    }
    for kind in [
        lambdas::MapLambda::Keys,
        lambdas::MapLambda::Values,
        lambdas::MapLambda::Filter,
    ] {
        ctx.register_higher_order_function(lambdas::udf(lambdas::MapFunction(kind)));
    }
    ctx.register_higher_order_function(lambdas::udf(lambdas::ZipWith));
    ctx.register_higher_order_function(lambdas::udf(lambdas::RegexpReplace));
    ctx.register_higher_order_function(lambdas::udf(lambdas::Apply));
    ctx.register_higher_order_function(lambdas::udf(lambdas::Reduce));
    for (theirs, ours) in [
        // Trino's array_remove removes every equal element.
        ("array_remove", "array_remove_all"),
    ] {
        if let Some(f) = state.scalar_functions().get(ours) {
            ctx.register_udf(f.as_ref().clone().with_aliases([theirs]));
        }
    }
    // `concat` and `reverse` take arrays too in Trino.
    // (Arrays are NULL when any argument is, as Trino's are.)
    // `contains` is Trino's array membership (DataFusion's is of strings,
    // kept for them).
    if let Some(strings) = state.scalar_functions().get("contains") {
        ctx.register_udf(ScalarUDF::from(ByArgument {
            scalars: strings.as_ref().clone(),
            arrays: ScalarUDF::from(Function {
                name: "contains",
                signature: Signature::any(2, Volatility::Immutable),
                returns: |_| Ok(DataType::Boolean),
                eval: contains_element,
            }),
            signature: Signature::user_defined(Volatility::Immutable),
            min_args: 2,
        }));
    }
    for (name, arrays, min_args) in [
        ("concat", "array_concat", 2),
        ("reverse", "array_reverse", 1),
    ] {
        let funcs = state.scalar_functions();
        if let (Some(scalars), Some(arrays)) = (funcs.get(name), funcs.get(arrays)) {
            ctx.register_udf(ScalarUDF::from(ByArgument {
                scalars: scalars.as_ref().clone(),
                arrays: ScalarUDF::from(NullStrict {
                    inner: arrays.as_ref().clone(),
                    when: NullWhen::AnyArgument,
                    nan_lowest: false,
                }),
                signature: Signature::user_defined(Volatility::Immutable),
                min_args,
            }));
        }
    }
    for (name, when, nan_lowest) in [
        ("greatest", NullWhen::AnyArgument, false),
        ("least", NullWhen::AnyArgument, false),
        ("array_min", NullWhen::AnyElement, false),
        ("array_max", NullWhen::AnyElement, true),
    ] {
        if let Some(f) = state.scalar_functions().get(name) {
            ctx.register_udf(ScalarUDF::from(NullStrict {
                inner: f.as_ref().clone(),
                when,
                nan_lowest,
            }));
        }
    }
    let state = ctx.state();
    let ours = [
        "substr",
        "substring",
        "date_part",
        "datepart",
        "concat",
        "reverse",
    ]
    .into_iter()
    .filter_map(|n| Some((n.to_string(), state.scalar_functions().get(n)?.clone())))
    .collect();
    let state = ctx.state_ref();
    let mut state = state.write();
    for rewrite in [
        Arc::new(RegisteredFunctions { ours }) as Arc<_>,
        Arc::new(semantics::TrinoSemantics) as Arc<_>,
    ] {
        state
            .register_function_rewrite(rewrite)
            .expect("a session accepts function rewrites");
    }
    state.add_analyzer_rule(Arc::new(unnest::LateralUnnest));
}
