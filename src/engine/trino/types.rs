//! Trino's SQL types where DataFusion reads them otherwise: `TIMESTAMP` and
//! `TIME` are microseconds (as Parquet's default), so years 1 to 9999 fit
//! where nanoseconds stop at 1677 and 2262; `TIMESTAMP(9)` is nanoseconds;
//! other precisions are held in the next unit and rounded to their digits
//! as Trino rounds (see [`super::semantics`]); `VARBINARY` is binary.

use datafusion::arrow::datatypes::FieldRef;
use datafusion::logical_expr::planner::TypePlanner;
use datafusion::sql::sqlparser::ast::{DataType as SqlType, TimezoneInfo};

use super::*;

/// The [`TypePlanner`] of Strata's sessions.
#[derive(Debug, Default)]
pub struct TrinoTypes;

/// The field metadata key that carries a TIMESTAMP(p) or TIME(p)'s
/// precision from the type to [`super::semantics`], which rounds to it.
pub(super) const PRECISION: &str = "strata.trino_precision";

/// The field metadata key that carries a VARCHAR(n)'s length to
/// [`super::semantics`], which checks or cuts to it.
pub(super) const LENGTH: &str = "strata.trino_length";

/// The unit of a TIMESTAMP(p) or TIME(p) (microseconds up to 6 digits,
/// nanoseconds up to 9), and the precision a cast to it rounds to.
fn unit(kind: &str, precision: Option<u64>) -> Result<(TimeUnit, Option<u64>)> {
    match precision {
        None => Ok((TimeUnit::Microsecond, None)),
        Some(p @ 0..=6) => Ok((TimeUnit::Microsecond, Some(p))),
        Some(p @ 7..=9) => Ok((TimeUnit::Nanosecond, Some(p))),
        Some(p) => plan_err!(
            "{kind}({p}) is not supported: Strata's times hold at most nanoseconds \
             (9 digits), Trino's picoseconds"
        ),
    }
}

fn field(data_type: DataType, round_to: Option<u64>) -> FieldRef {
    let f = datafusion::arrow::datatypes::Field::new("", data_type, true);
    Arc::new(match round_to {
        Some(p) => f.with_metadata([(PRECISION.to_string(), p.to_string())].into()),
        None => f,
    })
}

/// The field of a CAST to a zoned type whose zone the value gives: the
/// precision (Trino's default 3) and a stand-in zone, marked for
/// [`super::semantics`].
fn zone_from_value(kind: &str, p: Option<u64>, stand_in: &str) -> Result<FieldRef> {
    let (u, round_to) = unit(kind, p.or(Some(3)))?;
    let mut metadata = std::collections::HashMap::from([(
        super::zoned::ZONE_FROM_VALUE.to_string(),
        String::new(),
    )]);
    if let Some(p) = round_to {
        metadata.insert(PRECISION.to_string(), p.to_string());
    }
    Ok(Arc::new(
        datafusion::arrow::datatypes::Field::new(
            "",
            DataType::Timestamp(u, Some(stand_in.into())),
            true,
        )
        .with_metadata(metadata),
    ))
}

/// The field of a zoned literal's type, `name(p, 'zone')`, its zone as
/// `zone` makes it.
fn named_zone(
    kind: &str,
    modifiers: &[String],
    zone: impl Fn(&str) -> Result<String>,
) -> Result<FieldRef> {
    let [p, z] = modifiers else {
        return plan_err!("{kind}: a precision and a zone are needed");
    };
    let p: u64 = p
        .parse()
        .map_err(|_| DataFusionError::Plan(format!("{kind}: precision {p}")))?;
    let (u, round_to) = unit(kind, Some(p))?;
    Ok(field(
        DataType::Timestamp(u, Some(zone(z)?.into())),
        round_to,
    ))
}

impl TypePlanner for TrinoTypes {
    fn plan_type_field(&self, sql_type: &SqlType) -> Result<Option<FieldRef>> {
        Ok(Some(match sql_type {
            SqlType::Timestamp(p, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
                let (u, round_to) = unit("TIMESTAMP", *p)?;
                field(DataType::Timestamp(u, None), round_to)
            }
            // The zone is the value's (see [`super::zoned`]): the cast that
            // has this field finds it; until then UTC stands in.
            SqlType::Timestamp(p, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => {
                zone_from_value("TIMESTAMP WITH TIME ZONE", *p, super::zoned::SESSION_ZONE)?
            }
            // Trino's TIME WITH TIME ZONE (see [`super::zoned`]): its offset
            // is the value's, found by the cast that has this field.
            SqlType::Time(p, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => {
                zone_from_value("TIME WITH TIME ZONE", *p, "+0000")?
            }
            // Zoned literals' types, which name their zone or offset.
            SqlType::Custom(name, modifiers)
                if name
                    .to_string()
                    .eq_ignore_ascii_case(crate::engine::athena::ZONED_TIME) =>
            {
                named_zone("TIME WITH TIME ZONE", modifiers, |z| {
                    super::zoned::time_zone_of(&super::zoned::canonical_zone(z)?).ok_or_else(|| {
                        DataFusionError::Plan(format!(
                            "TIME WITH TIME ZONE at {z}: an offset (+hh:mm) is needed"
                        ))
                    })
                })?
            }
            SqlType::Custom(name, modifiers)
                if name
                    .to_string()
                    .eq_ignore_ascii_case(crate::engine::athena::ZONED_TIMESTAMP) =>
            {
                named_zone(
                    "TIMESTAMP WITH TIME ZONE",
                    modifiers,
                    super::zoned::canonical_zone,
                )?
            }
            SqlType::Time(p, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
                let (u, round_to) = unit("TIME", *p)?;
                field(DataType::Time64(u), round_to)
            }
            SqlType::Varbinary(_) => field(DataType::Binary, None),
            SqlType::JSON => super::json_type::marked_field("", super::json_type::JSON),
            SqlType::Uuid => super::json_type::marked_field("", super::json_type::UUID),
            SqlType::Custom(name, modifiers)
                if modifiers.is_empty() && name.to_string().eq_ignore_ascii_case("IPADDRESS") =>
            {
                super::json_type::marked_field("", super::json_type::IPADDRESS)
            }
            // Trino's DECIMAL without arguments is decimal(38,0); DataFusion's
            // would be decimal(38,10).
            SqlType::Decimal(datafusion::sql::sqlparser::ast::ExactNumberInfo::None) => {
                field(DataType::Decimal128(38, 0), None)
            }
            SqlType::Varchar(Some(
                datafusion::sql::sqlparser::ast::CharacterLength::IntegerLength { length, .. },
            )) => Arc::new(
                datafusion::arrow::datatypes::Field::new("", DataType::Utf8, true)
                    .with_metadata([(LENGTH.to_string(), length.to_string())].into()),
            ),
            // Trino's ROW(x BIGINT, ...), as `STRUCT<...>` (see `athena`), with
            // Strata's strings, for the field types it names simply.
            SqlType::Struct(..) => {
                let Some(t) = nested(sql_type) else {
                    return Ok(None);
                };
                field(t, None)
            }
            // Trino's MAP(K, V), for the key and value types it names simply.
            SqlType::Map(..) => {
                let Some(t) = nested(sql_type) else {
                    return Ok(None);
                };
                field(t, None)
            }
            _ => return Ok(None),
        }))
    }
}

/// The Arrow type of a type the parts of a ROW or MAP can be: the scalar
/// ones [`simple`] knows, and arrays, maps and rows of them.
fn nested(t: &SqlType) -> Option<DataType> {
    use datafusion::arrow::datatypes::Field;
    use datafusion::sql::sqlparser::ast::ArrayElemTypeDef;
    Some(match t {
        SqlType::Struct(fields, _) => DataType::Struct(
            fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let name = f
                        .field_name
                        .as_ref()
                        .map_or_else(|| format!("field{i}"), |n| n.value.clone());
                    Some(Field::new(name, nested(&f.field_type)?, true))
                })
                .collect::<Option<Vec<_>>>()?
                .into(),
        ),
        SqlType::Array(
            ArrayElemTypeDef::AngleBracket(item)
            | ArrayElemTypeDef::Parenthesis(item)
            | ArrayElemTypeDef::SquareBracket(item, None),
        ) => DataType::new_list(nested(item)?, true),
        SqlType::Map(k, v) => super::map_type(nested(k)?, nested(v)?),
        other => simple(other)?,
    })
}

/// The Arrow type of a scalar SQL type, for the parts of a MAP(K, V).
fn simple(t: &SqlType) -> Option<DataType> {
    Some(match t {
        SqlType::Varchar(_) | SqlType::String(_) | SqlType::Text => DataType::Utf8,
        SqlType::BigInt(_) => DataType::Int64,
        SqlType::Int(_) | SqlType::Integer(_) => DataType::Int32,
        SqlType::SmallInt(_) => DataType::Int16,
        SqlType::TinyInt(_) => DataType::Int8,
        SqlType::Double(_) | SqlType::DoublePrecision => DataType::Float64,
        SqlType::Real => DataType::Float32,
        SqlType::Boolean => DataType::Boolean,
        SqlType::Date => DataType::Date32,
        _ => return None,
    })
}

/// A type's name as Trino spells it (`typeof`).
pub(crate) fn trino_name(t: &DataType) -> String {
    use DataType::*;
    let precision = |u: &TimeUnit| match u {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    };
    match t {
        Null => "unknown".into(),
        Boolean => "boolean".into(),
        Int8 => "tinyint".into(),
        Int16 => "smallint".into(),
        Int32 => "integer".into(),
        Int64 => "bigint".into(),
        Float32 => "real".into(),
        Float64 => "double".into(),
        Decimal128(p, s) | Decimal256(p, s) => format!("decimal({p},{s})"),
        Utf8 | LargeUtf8 | Utf8View => "varchar".into(),
        Binary | LargeBinary | BinaryView => "varbinary".into(),
        Date32 | Date64 => "date".into(),
        Timestamp(u, None) => format!("timestamp({})", precision(u)),
        t @ Timestamp(u, Some(_)) if super::zoned::is_time_zoned(t) => {
            format!("time({}) with time zone", precision(u))
        }
        Timestamp(u, Some(_)) => format!("timestamp({}) with time zone", precision(u)),
        Time32(u) | Time64(u) => format!("time({})", precision(u)),
        Interval(datafusion::arrow::datatypes::IntervalUnit::YearMonth) => {
            "interval year to month".into()
        }
        Interval(_) | Duration(_) => "interval day to second".into(),
        List(f) | LargeList(f) | FixedSizeList(f, _) => {
            format!("array({})", trino_name(f.data_type()))
        }
        Map(entries, _) => match entries.data_type() {
            Struct(kv) if kv.len() == 2 => format!(
                "map({}, {})",
                trino_name(kv[0].data_type()),
                trino_name(kv[1].data_type())
            ),
            other => format!("map({other})"),
        },
        Struct(fields) => format!(
            "row({})",
            fields
                .iter()
                .map(|f| format!("{} {}", f.name(), trino_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string().to_lowercase(),
    }
}

/// `typeof(x)`: x's type as Trino names it (strings are `varchar`, without
/// the length Trino gives a literal).
pub(super) fn type_of(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let name = trino_name(a[0].data_type());
    Ok(Arc::new(datafusion::arrow::array::StringArray::from(vec![
        name;
        a[0].len()
    ])))
}
