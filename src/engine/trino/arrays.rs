//! Trino's array and map functions where DataFusion's answer differs:
//! `sequence` (counts down, takes dates with a default day step, refuses a
//! step that never reaches the end), `cardinality` (the outer length),
//! `element_at` (arrays and maps; index 0 is an error), `repeat` (an array),
//! `array_position` (0 when absent) and `arrays_overlap` (NULL when a NULL
//! element leaves the answer open); and Trino's own `trim_array`,
//! `contains_sequence`, `ngrams`, `map_concat`, `array_first`, `array_last` and `array_histogram`.

use datafusion::arrow::array::{
    GenericListArray, Int64Array, ListBuilder, MapArray, UInt64Array, new_null_array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{Field, FieldRef, IntervalMonthDayNanoType};

use super::*;

/// Trino's bound on a generated array.
const MAX_ENTRIES: usize = 10_000;

fn too_many() -> DataFusionError {
    DataFusionError::Execution(format!(
        "sequence: result of sequence function must not have more than {MAX_ENTRIES} entries"
    ))
}

/// `sequence`'s type: an array of its start's kind.
pub(super) fn sequence_type(t: &[DataType]) -> Result<DataType> {
    let item = match t.first() {
        Some(d) if is_date(d) => DataType::Date32,
        // The steps are taken in microseconds, which would cut the digits.
        Some(DataType::Timestamp(TimeUnit::Nanosecond, _)) => {
            return plan_err!(
                "sequence of a TIMESTAMP(7..9) is not supported: its steps are taken in \
                 microseconds; cast the bounds to TIMESTAMP(6)"
            );
        }
        Some(DataType::Timestamp(..)) => DataType::Timestamp(TimeUnit::Microsecond, None),
        Some(d) if d.is_integer() || d == &DataType::Null => DataType::Int64,
        Some(other) => return plan_err!("sequence: no form takes {other}"),
        None => return plan_err!("sequence: no arguments"),
    };
    Ok(DataType::new_list(item, true))
}

/// Months, days and nanoseconds of an interval argument.
fn intervals(a: &ArrayRef) -> Result<Vec<Option<(i32, i32, i64)>>> {
    let t = cast(
        a,
        &DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano),
    )?;
    let t = t.as_primitive::<IntervalMonthDayNanoType>();
    Ok((0..t.len())
        .map(|i| {
            t.is_valid(i).then(|| {
                let v = t.value(i);
                (v.months, v.days, v.nanoseconds)
            })
        })
        .collect())
}

fn check_direction(step_sign: i64, start: i64, stop: i64) -> Result<()> {
    if step_sign == 0 {
        return exec_err!("sequence: step must not be zero");
    }
    if (step_sign > 0 && stop < start) || (step_sign < 0 && stop > start) {
        return exec_err!(
            "sequence stop value should be greater than or equal to start value if step is \
             greater than zero otherwise stop should be less than or equal to start"
        );
    }
    Ok(())
}

/// `sequence(start, stop [, step])` over integers, dates or timestamps.
pub(super) fn sequence(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::List(item) = ret else {
        return exec_err!("sequence: not a list type");
    };
    if item.data_type() == &DataType::Int64 {
        let (starts, stops) = (integers(&a[0])?, integers(&a[1])?);
        let steps = a.get(2).map(integers).transpose()?;
        let mut out = ListBuilder::new(Int64Builder::new()).with_field(item.clone());
        for i in 0..starts.len() {
            let step = match &steps {
                Some(s) => s[i],
                None => Some(if stops[i] >= starts[i] { 1 } else { -1 }),
            };
            let (Some(start), Some(stop), Some(step)) = (starts[i], stops[i], step) else {
                out.append_null();
                continue;
            };
            check_direction(step.signum(), start, stop)?;
            let n = (i128::from(stop) - i128::from(start)) / i128::from(step) + 1;
            if n > MAX_ENTRIES as i128 {
                return Err(too_many());
            }
            // Each value lies between start and stop, but k * step alone can
            // pass i64's range (`sequence(-2, 9223372036854775807, 9223372036854775807)`).
            for k in 0..n {
                let v = i128::from(start) + k * i128::from(step);
                out.values().append_value(v as i64);
            }
            out.append(true);
        }
        return Ok(Arc::new(out.finish()));
    }
    let dates = item.data_type() == &DataType::Date32;
    let (starts, stops) = (timestamps(&a[0])?, timestamps(&a[1])?);
    let steps = match a.get(2) {
        Some(s) => intervals(s)?,
        None if dates => vec![Some((0, 1, 0)); starts.len()],
        None => return plan_err!("sequence: timestamps need a step, e.g. INTERVAL '1' HOUR"),
    };
    let mut values: Vec<Option<i64>> = vec![];
    let mut offsets = vec![0i32];
    let mut valid = vec![];
    for i in 0..starts.len() {
        let (Some(start), Some(stop), Some((months, days, nanos))) =
            (starts[i], stops[i], steps[i])
        else {
            offsets.push(values.len() as i32);
            valid.push(false);
            continue;
        };
        if dates && (nanos % (86_400 * 1_000_000_000) != 0) {
            return exec_err!("sequence: a step over dates must be a whole number of days");
        }
        let signs = [
            i64::from(months).signum(),
            i64::from(days).signum(),
            nanos.signum(),
        ];
        let sign = signs.iter().copied().find(|s| *s != 0).unwrap_or(0);
        if signs.iter().any(|s| *s != 0 && *s != sign) {
            return exec_err!("sequence: a step whose parts have different signs");
        }
        check_direction(sign, start, stop)?;
        let (Some(first), Some(_)) = (to_datetime(start), to_datetime(stop)) else {
            return exec_err!("sequence: a value out of range");
        };
        for k in 0.. {
            if k >= MAX_ENTRIES as i64 {
                return Err(too_many());
            }
            let Some(d) =
                super::datetime::add(first, super::datetime::Unit::Month, k * i64::from(months))
                    .and_then(|d| d.checked_add_signed(Duration::days(k * i64::from(days))))
                    .and_then(|d| {
                        d.checked_add_signed(Duration::microseconds(k * (nanos / 1_000)))
                    })
            else {
                return exec_err!("sequence: a value out of range");
            };
            let m = to_micros(d);
            if (sign > 0 && m > stop) || (sign < 0 && m < stop) {
                break;
            }
            values.push(Some(m));
        }
        offsets.push(values.len() as i32);
        valid.push(true);
    }
    let micros: ArrayRef = Arc::new(
        values
            .iter()
            .copied()
            .collect::<datafusion::arrow::array::TimestampMicrosecondArray>(),
    );
    let items = cast(&micros, item.data_type())?;
    list_array(item, offsets, items, valid)
}

/// A list array of `item`s from its parts: each row's end offset into
/// `values` (after a leading 0) and whether the row is non-NULL.
fn list_array(
    item: &FieldRef,
    offsets: Vec<i32>,
    values: ArrayRef,
    valid: Vec<bool>,
) -> Result<ArrayRef> {
    Ok(Arc::new(GenericListArray::<i32>::try_new(
        item.clone(),
        OffsetBuffer::new(offsets.into()),
        values,
        Some(valid.into()),
    )?))
}

/// `cardinality(array)` or `cardinality(map)`: its number of elements (an
/// array of arrays counts the outer ones).
pub(super) fn cardinality(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let lengths: Vec<Option<i64>> = match a[0].data_type() {
        DataType::List(_) => {
            let l = a[0].as_list::<i32>();
            (0..l.len())
                .map(|i| l.is_valid(i).then(|| l.value_length(i) as i64))
                .collect()
        }
        DataType::LargeList(_) => {
            let l = a[0].as_list::<i64>();
            (0..l.len())
                .map(|i| l.is_valid(i).then(|| l.value_length(i)))
                .collect()
        }
        DataType::FixedSizeList(_, n) => (0..a[0].len())
            .map(|i| a[0].is_valid(i).then_some(i64::from(*n)))
            .collect(),
        DataType::Map(..) => {
            let m = a[0].as_map();
            (0..m.len())
                .map(|i| m.is_valid(i).then(|| m.value_length(i) as i64))
                .collect()
        }
        DataType::Null => vec![None; a[0].len()],
        other => return exec_err!("cardinality: takes an array or a map, not {other}"),
    };
    Ok(Arc::new(Int64Array::from(lengths)))
}

/// `element_at`'s type: the array's element or the map's value.
pub(super) fn element_type(t: &[DataType]) -> Result<DataType> {
    match t.first() {
        Some(DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)) => {
            Ok(f.data_type().clone())
        }
        Some(DataType::Map(entries, _)) => match entries.data_type() {
            DataType::Struct(fields) if fields.len() == 2 => Ok(fields[1].data_type().clone()),
            _ => plan_err!("element_at: a map without keys and values"),
        },
        Some(DataType::Null) => Ok(DataType::Null),
        Some(other) => plan_err!("element_at: takes an array or a map, not {other}"),
        None => plan_err!("element_at: no arguments"),
    }
}

/// `element_at(array, index)`: from 1, negative from the end, NULL past
/// either end, an error at 0; `element_at(map, key)`: the key's value or NULL.
pub(super) fn element_at(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    if a[0].data_type() == &DataType::Null {
        return Ok(new_null_array(ret, a[0].len()));
    }
    if let DataType::Map(..) = a[0].data_type() {
        return map_lookup(a[0].as_map(), &a[1]);
    }
    let list = cast(
        a[0].as_ref(),
        &DataType::List(Arc::new(Field::new_list_field(ret.clone(), true))),
    )?;
    let list = list.as_list::<i32>();
    let indexes = integers(&a[1])?;
    let offsets = list.value_offsets();
    let mut picks: Vec<Option<u64>> = Vec::with_capacity(list.len());
    for (i, index) in indexes.iter().enumerate() {
        let (true, Some(index)) = (list.is_valid(i), *index) else {
            picks.push(None);
            continue;
        };
        if index == 0 {
            return exec_err!("element_at: SQL array indices start at 1");
        }
        let (from, len) = (offsets[i] as i64, (offsets[i + 1] - offsets[i]) as i64);
        let at = if index > 0 { index - 1 } else { len + index };
        picks.push((0..len).contains(&at).then(|| (from + at) as u64));
    }
    Ok(take(list.values(), &UInt64Array::from(picks), None)?)
}

/// `array_first`'s and `array_last`'s type: the array's element.
pub(super) fn end_type(t: &[DataType]) -> Result<DataType> {
    match t.first() {
        Some(DataType::Map(..)) => plan_err!("array_first and array_last take an array, not a map"),
        _ => element_type(t),
    }
}

/// `array_first(array)`: its first element, NULL when it is empty.
pub(super) fn array_first(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    element_at(
        &[
            a[0].clone(),
            Arc::new(Int64Array::from(vec![1; a[0].len()])),
        ],
        ret,
    )
}

/// `array_last(array)`: its last element, NULL when it is empty.
pub(super) fn array_last(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    element_at(
        &[
            a[0].clone(),
            Arc::new(Int64Array::from(vec![-1; a[0].len()])),
        ],
        ret,
    )
}

/// `array_histogram`'s type: a map from the element to its BIGINT count.
pub(super) fn histogram_type(t: &[DataType]) -> Result<DataType> {
    Ok(map_type(end_type(t)?, DataType::Int64))
}

/// `array_histogram(array)`: how many times each element occurs, NULLs
/// left out. Trino's map has no key order; the keys come sorted, so an
/// answer reads the same on every run.
pub(super) fn array_histogram(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    use datafusion::arrow::buffer::NullBuffer;
    let DataType::Map(entries, sorted) = ret else {
        return exec_err!("array_histogram: not a map type");
    };
    let DataType::Struct(fields) = entries.data_type() else {
        return exec_err!("array_histogram: a map's entries are a struct");
    };
    let list = cast(
        a[0].as_ref(),
        &DataType::List(Arc::new(Field::new_list_field(
            fields[0].data_type().clone(),
            true,
        ))),
    )?;
    let list = list.as_list::<i32>();
    let values = list.values();
    let (mut picks, mut counts, mut offsets, mut valid) =
        (Vec::<u64>::new(), Vec::<i64>::new(), vec![0i32], Vec::new());
    for row in 0..list.len() {
        valid.push(list.is_valid(row));
        if list.is_valid(row) {
            let from = list.value_offsets()[row] as usize;
            let to = list.value_offsets()[row + 1] as usize;
            // (value, its first index, count)
            let mut seen: Vec<(ScalarValue, u64, i64)> = Vec::new();
            for i in from..to {
                if values.is_null(i) {
                    continue;
                }
                let v = ScalarValue::try_from_array(values, i)?;
                match seen.iter_mut().find(|(s, _, _)| *s == v) {
                    Some((_, _, n)) => *n += 1,
                    None => seen.push((v, i as u64, 1)),
                }
            }
            seen.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            for (_, at, n) in seen {
                picks.push(at);
                counts.push(n);
            }
        }
        offsets.push(counts.len() as i32);
    }
    map_array(
        entries,
        *sorted,
        take(values, &UInt64Array::from(picks), None)?,
        Arc::new(Int64Array::from(counts)),
        OffsetBuffer::new(offsets.into()),
        Some(NullBuffer::from(valid)),
    )
}

fn map_lookup(map: &MapArray, keys: &ArrayRef) -> Result<ArrayRef> {
    let keys = cast(keys, map.keys().data_type())?;
    let offsets = map.value_offsets();
    let mut picks: Vec<Option<u64>> = Vec::with_capacity(map.len());
    for i in 0..map.len() {
        if map.is_null(i) || keys.is_null(i) {
            picks.push(None);
            continue;
        }
        let want = ScalarValue::try_from_array(&keys, i)?;
        let mut found = None;
        for at in offsets[i] as usize..offsets[i + 1] as usize {
            if ScalarValue::try_from_array(map.keys(), at)? == want {
                found = Some(at as u64);
                break;
            }
        }
        picks.push(found);
    }
    Ok(take(map.values(), &UInt64Array::from(picks), None)?)
}

/// `repeat`'s type: an array of the element's type.
pub(super) fn repeat_type(t: &[DataType]) -> Result<DataType> {
    Ok(DataType::new_list(
        t.first().cloned().unwrap_or(DataType::Null),
        true,
    ))
}

/// `repeat(element, count)`: an array holding `element` `count` times.
pub(super) fn repeat(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::List(item) = ret else {
        return exec_err!("repeat: not a list type");
    };
    let counts = integers(&a[1])?;
    let mut offsets = vec![0i32];
    let mut picks: Vec<u64> = vec![];
    let mut valid = vec![];
    for (i, count) in counts.iter().enumerate() {
        match count {
            None => valid.push(false),
            Some(n) if *n < 0 => {
                return exec_err!("repeat: count argument must be greater than or equal to 0");
            }
            Some(n) if *n as usize > MAX_ENTRIES => {
                return exec_err!(
                    "repeat: count argument must be less than or equal to {MAX_ENTRIES}"
                );
            }
            Some(n) => {
                picks.extend(std::iter::repeat_n(i as u64, *n as usize));
                valid.push(true);
            }
        }
        offsets.push(picks.len() as i32);
    }
    let values = take(a[0].as_ref(), &UInt64Array::from(picks), None)?;
    list_array(item, offsets, values, valid)
}

/// `slice`'s type: its array's.
pub(super) fn slice_type(t: &[DataType]) -> Result<DataType> {
    match t.first() {
        Some(DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)) => {
            Ok(DataType::List(f.clone()))
        }
        Some(other) => plan_err!("slice: takes an array, not {other}"),
        None => plan_err!("slice: no arguments"),
    }
}

/// `slice(array, start, length)`: `length` elements from `start` (from 1,
/// negative from the end); start 0 is an error.
pub(super) fn slice(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::List(item) = ret else {
        return exec_err!("slice: not a list type");
    };
    let list = cast(a[0].as_ref(), ret)?;
    let list = list.as_list::<i32>();
    let (starts, lengths) = (integers(&a[1])?, integers(&a[2])?);
    let offsets = list.value_offsets();
    let mut picks: Vec<u64> = vec![];
    let mut bounds = vec![0i32];
    let mut valid = vec![];
    for i in 0..list.len() {
        let (true, Some(start), Some(length)) = (list.is_valid(i), starts[i], lengths[i]) else {
            valid.push(false);
            bounds.push(picks.len() as i32);
            continue;
        };
        if start == 0 {
            return exec_err!("slice: SQL array indices start at 1");
        }
        if length < 0 {
            return exec_err!("slice: length must be greater than or equal to 0");
        }
        let (from, len) = (offsets[i] as i64, (offsets[i + 1] - offsets[i]) as i64);
        let first = if start > 0 { start - 1 } else { len + start };
        if first >= 0 && first < len {
            let last = (first + length).min(len);
            picks.extend((from + first..from + last).map(|p| p as u64));
        }
        valid.push(true);
        bounds.push(picks.len() as i32);
    }
    let values = take(list.values(), &UInt64Array::from(picks), None)?;
    list_array(item, bounds, values, valid)
}

/// Two array arguments as lists of one element type, the type both compare
/// in (Trino coerces `ARRAY[1]` and `ARRAY[BIGINT '1']` alike).
fn comparable_lists(x: &ArrayRef, y: &ArrayRef) -> Result<(ArrayRef, ArrayRef)> {
    let item = |a: &ArrayRef| match a.data_type() {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Ok(f.data_type().clone())
        }
        DataType::Null => Ok(DataType::Null),
        other => plan_err!("takes arrays, not {other}"),
    };
    let common = common_type(&item(x)?, &item(y)?);
    let as_list = DataType::new_list(common, true);
    Ok((cast(x, &as_list)?, cast(y, &as_list)?))
}

/// The type two values compare in; NULL literals take the other's type.
fn common_type(a: &DataType, b: &DataType) -> DataType {
    use datafusion::logical_expr::type_coercion::binary::comparison_coercion;
    match (a, b) {
        (DataType::Null, t) | (t, DataType::Null) => t.clone(),
        _ => comparison_coercion(a, b).unwrap_or_else(|| a.clone()),
    }
}

/// The non-NULL elements of one row of a list, as values.
fn elements(list: &GenericListArray<i32>, row: usize) -> Result<Vec<Option<ScalarValue>>> {
    let values = list.value(row);
    (0..values.len())
        .map(|i| {
            values
                .is_valid(i)
                .then(|| ScalarValue::try_from_array(&values, i))
                .transpose()
        })
        .collect()
}

/// An (array, element) pair of arguments in one element type: the array as
/// a list of it, and the element cast to it.
fn list_and_element(a: &[ArrayRef], name: &str) -> Result<(ArrayRef, ArrayRef)> {
    let item = match a[0].data_type() {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            common_type(f.data_type(), a[1].data_type())
        }
        DataType::Null => a[1].data_type().clone(),
        other => return plan_err!("{name}: takes an array, not {other}"),
    };
    Ok((
        cast(&a[0], &DataType::new_list(item.clone(), true))?,
        cast(&a[1], &item)?,
    ))
}

/// Whether row `i` is NULL, a bare NULL (a NullArray, whose nulls are
/// logical only) included.
fn is_null_at(a: &ArrayRef, i: usize) -> bool {
    a.logical_nulls().is_some_and(|n| n.is_null(i))
}

/// `array_position(array, element)`: where `element` first is, from 1; 0
/// when it is not there (DataFusion's answer is NULL), NULL when the array
/// or the element is NULL. A NULL element of the array matches nothing.
pub(super) fn array_position(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let out = per_row_with_element(a, "array_position", |list, wanted, i| {
        let want = ScalarValue::try_from_array(wanted, i)?;
        let at = elements(list, i)?
            .iter()
            .position(|e| e.as_ref() == Some(&want));
        Ok(Some(at.map_or(0, |p| p as i64 + 1)))
    })?;
    Ok(Arc::new(Int64Array::from(out)))
}

/// `f(list, element, row)` for each row of an (array, element) call; NULL
/// where either is NULL.
fn per_row_with_element<T>(
    a: &[ArrayRef],
    name: &str,
    mut f: impl FnMut(&datafusion::arrow::array::ListArray, &ArrayRef, usize) -> Result<Option<T>>,
) -> Result<Vec<Option<T>>> {
    let (list, wanted) = list_and_element(a, name)?;
    let list = list.as_list::<i32>();
    (0..list.len())
        .map(|i| {
            if list.is_null(i) || is_null_at(&wanted, i) {
                Ok(None)
            } else {
                f(list, &wanted, i)
            }
        })
        .collect()
}

/// `arrays_overlap(x, y)`: whether the arrays share a non-NULL element;
/// NULL rather than false when they share none but either holds a NULL
/// (DataFusion's answer is false), and for a NULL array.
pub(super) fn arrays_overlap(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    test_list_pairs(a, |xs, ys| {
        let shared = ys.iter().flatten().any(|v| xs.contains(&Some(v.clone())));
        let holds_null = xs.iter().chain(ys).any(Option::is_none);
        match (shared, holds_null) {
            (true, _) => Some(true),
            (false, true) => None,
            (false, false) => Some(false),
        }
    })
}

/// A BOOLEAN per row of two array arguments (compared in their common
/// element type): `test` of their elements, NULL when either array is.
fn test_list_pairs(
    a: &[ArrayRef],
    test: impl Fn(&[Option<ScalarValue>], &[Option<ScalarValue>]) -> Option<bool>,
) -> Result<ArrayRef> {
    let (x, y) = comparable_lists(&a[0], &a[1])?;
    let (x, y) = (x.as_list::<i32>(), y.as_list::<i32>());
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        if x.is_null(i) || y.is_null(i) {
            out.push(None);
            continue;
        }
        out.push(test(&elements(x, i)?, &elements(y, i)?));
    }
    Ok(Arc::new(datafusion::arrow::array::BooleanArray::from(out)))
}

/// Trino's `=` of one row of two values of a type: `None` when a NULL
/// inside leaves the answer open (`ARRAY[1, NULL] = ARRAY[1, NULL]` is
/// NULL); maps are equal whatever their keys' order.
fn equal_at(x: &ArrayRef, i: usize, y: &ArrayRef, j: usize) -> Result<Option<bool>> {
    // A NullArray's nulls are logical only (`is_null` says false).
    let null = |a: &ArrayRef, k: usize| a.data_type() == &DataType::Null || a.is_null(k);
    if null(x, i) || null(y, j) {
        return Ok(None);
    }
    // All pairs compared: false wins over open, open over true.
    let fold = |pairs: Vec<Option<bool>>| {
        if pairs.contains(&Some(false)) {
            Some(false)
        } else if pairs.contains(&None) {
            None
        } else {
            Some(true)
        }
    };
    match (x.data_type(), y.data_type()) {
        (DataType::List(_), DataType::List(_)) => {
            let (xs, ys) = (x.as_list::<i32>().value(i), y.as_list::<i32>().value(j));
            if xs.len() != ys.len() {
                return Ok(Some(false));
            }
            let pairs = (0..xs.len())
                .map(|k| equal_at(&xs, k, &ys, k))
                .collect::<Result<Vec<_>>>()?;
            Ok(fold(pairs))
        }
        (DataType::Map(..), DataType::Map(..)) => {
            let (xm, ym) = (x.as_map(), y.as_map());
            let (xo, yo) = (xm.value_offsets(), ym.value_offsets());
            let (xr, yr) = (
                xo[i] as usize..xo[i + 1] as usize,
                yo[j] as usize..yo[j + 1] as usize,
            );
            if xr.len() != yr.len() {
                return Ok(Some(false));
            }
            let mut pairs = vec![];
            for k in xr {
                let key = ScalarValue::try_from_array(xm.keys(), k)?;
                let mut at = None;
                for l in yr.clone() {
                    if ScalarValue::try_from_array(ym.keys(), l)? == key {
                        at = Some(l);
                        break;
                    }
                }
                match at {
                    Some(l) => pairs.push(equal_at(xm.values(), k, ym.values(), l)?),
                    None => return Ok(Some(false)),
                }
            }
            Ok(fold(pairs))
        }
        (DataType::Struct(fx), DataType::Struct(fy)) if fx.len() == fy.len() => {
            let (xs, ys) = (x.as_struct(), y.as_struct());
            let pairs = (0..fx.len())
                .map(|k| equal_at(xs.column(k), i, ys.column(k), j))
                .collect::<Result<Vec<_>>>()?;
            Ok(fold(pairs))
        }
        _ => {
            let (a, b) = (
                ScalarValue::try_from_array(x, i)?,
                ScalarValue::try_from_array(y, j)?,
            );
            // NaN equals nothing, itself included, as in Trino (ScalarValue
            // orders NaN like a value).
            let nan = |v: &ScalarValue| match v {
                ScalarValue::Float64(Some(f)) => f.is_nan(),
                ScalarValue::Float32(Some(f)) => f.is_nan(),
                _ => false,
            };
            Ok(Some(!nan(&a) && !nan(&b) && a == b))
        }
    }
}

/// `trino_equal(x, y)`: arrays', maps' and rows' `=` as Trino has it (see
/// [`equal_at`]); DataFusion compares NULL elements as equal and maps in
/// their keys' order.
pub(super) fn nested_equal(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (x, y) = match (a[0].data_type(), a[1].data_type()) {
        (DataType::Map(..) | DataType::Struct(_), _)
        | (_, DataType::Map(..) | DataType::Struct(_)) => {
            // Both in a type holding each side's keys and values (a cast to
            // the first's could overflow the second's decimals to NULL).
            let common = widen(a[0].data_type(), a[1].data_type())
                .unwrap_or_else(|| a[0].data_type().clone());
            (cast(&a[0], &common)?, cast(&a[1], &common)?)
        }
        _ => comparable_lists(&a[0], &a[1])?,
    };
    let out = (0..x.len())
        .map(|i| equal_at(&x, i, &y, i))
        .collect::<Result<datafusion::arrow::array::BooleanArray>>()?;
    Ok(Arc::new(out))
}

/// `trino_sorted_maps(x)`: x with every map's entries, at any depth, in
/// the order of their keys, so that comparisons which read entries in
/// order (`IS NOT DISTINCT FROM`) find maps equal whatever the order they
/// were built in, as Trino's maps are.
pub(super) fn sorted_maps(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    entries_sorted(&a[0])
}

fn entries_sorted(a: &ArrayRef) -> Result<ArrayRef> {
    use datafusion::arrow::array::{ListArray, StructArray};
    use datafusion::arrow::row::{RowConverter, SortField};
    match a.data_type() {
        DataType::List(field) => {
            let list = a.as_list::<i32>();
            Ok(Arc::new(ListArray::try_new(
                field.clone(),
                list.offsets().clone(),
                entries_sorted(list.values())?,
                list.nulls().cloned(),
            )?))
        }
        DataType::Struct(fields) => {
            let row = a.as_struct();
            let columns = row
                .columns()
                .iter()
                .map(entries_sorted)
                .collect::<Result<Vec<_>>>()?;
            Ok(Arc::new(StructArray::try_new(
                fields.clone(),
                columns,
                row.nulls().cloned(),
            )?))
        }
        DataType::Map(entries, sorted) => {
            let map = a.as_map();
            let offsets = map.value_offsets();
            let (first, last) = (offsets[0] as usize, offsets[map.len()] as usize);
            let keys = entries_sorted(&map.keys().slice(first, last - first))?;
            let values = entries_sorted(&map.values().slice(first, last - first))?;
            let rows = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?
                .convert_columns(std::slice::from_ref(&keys))?;
            let mut order: Vec<u32> = Vec::with_capacity(last - first);
            for w in offsets.windows(2) {
                let mut span: Vec<u32> =
                    ((w[0] as usize - first) as u32..(w[1] as usize - first) as u32).collect();
                span.sort_by(|x, y| rows.row(*x as usize).cmp(&rows.row(*y as usize)));
                order.extend(span);
            }
            let order = datafusion::arrow::array::UInt32Array::from(order);
            let rebased = OffsetBuffer::new(offsets.iter().map(|o| o - offsets[0]).collect());
            map_array(
                entries,
                *sorted,
                take(&keys, &order, None)?,
                take(&values, &order, None)?,
                rebased,
                map.nulls().cloned(),
            )
        }
        _ => Ok(a.clone()),
    }
}

/// `trino_row_cast(x, typed_null)`: x cast to the second argument's type,
/// a row's fields in order, as Trino casts a ROW (Arrow's cast matches
/// fields by name, and a row value's fields are named c0, c1...), at any
/// depth of arrays, maps and rows.
pub(super) fn row_cast(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    positional_cast(&a[0], ret)
}

fn positional_cast(a: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    use datafusion::arrow::array::{ListArray, StructArray};
    match (a.data_type(), to) {
        (DataType::Struct(from), DataType::Struct(fields)) => {
            if from.len() != fields.len() {
                return exec_err!(
                    "Cannot cast a ROW of {} fields to one of {}",
                    from.len(),
                    fields.len()
                );
            }
            let row = a.as_struct();
            let columns = row
                .columns()
                .iter()
                .zip(fields.iter())
                .map(|(c, f)| positional_cast(c, f.data_type()))
                .collect::<Result<Vec<_>>>()?;
            Ok(Arc::new(StructArray::try_new(
                fields.clone(),
                columns,
                row.nulls().cloned(),
            )?))
        }
        (DataType::List(_), DataType::List(item)) => {
            let list = a.as_list::<i32>();
            Ok(Arc::new(ListArray::try_new(
                item.clone(),
                list.offsets().clone(),
                positional_cast(list.values(), item.data_type())?,
                list.nulls().cloned(),
            )?))
        }
        (DataType::Map(..), DataType::Map(entries, sorted)) => {
            let map = a.as_map();
            let DataType::Struct(kv) = entries.data_type() else {
                return exec_err!("a map's entries are a struct");
            };
            map_array(
                entries,
                *sorted,
                positional_cast(map.keys(), kv[0].data_type())?,
                positional_cast(map.values(), kv[1].data_type())?,
                map.offsets().clone(),
                map.nulls().cloned(),
            )
        }
        _ => Ok(cast(a, to)?),
    }
}

/// A map array of `entries`' type from its keys and values (one entry
/// each), the rows' offsets into them and the rows' nulls.
fn map_array(
    entries: &FieldRef,
    sorted: bool,
    keys: ArrayRef,
    values: ArrayRef,
    offsets: OffsetBuffer<i32>,
    nulls: Option<datafusion::arrow::buffer::NullBuffer>,
) -> Result<ArrayRef> {
    let DataType::Struct(kv) = entries.data_type() else {
        return exec_err!("a map's entries are a struct");
    };
    let pairs =
        datafusion::arrow::array::StructArray::try_new(kv.clone(), vec![keys, values], None)?;
    Ok(Arc::new(MapArray::try_new(
        entries.clone(),
        offsets,
        pairs,
        nulls,
        sorted,
    )?))
}

/// `trim_array(array, n)`: the array without its last `n` elements; `n`
/// past the array's length is an error.
pub(super) fn trim_array(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let DataType::List(item) = a[0].data_type() else {
        return plan_err!("trim_array: takes an array, not {}", a[0].data_type());
    };
    let list = a[0].as_list::<i32>();
    let cut = integers(&a[1])?;
    let (mut offsets, mut picks, mut valid) =
        (vec![0i32], Vec::new(), Vec::with_capacity(list.len()));
    for (i, n) in cut.into_iter().enumerate() {
        let (Some(n), false) = (n, list.is_null(i)) else {
            valid.push(false);
            offsets.push(picks.len() as i32);
            continue;
        };
        let (start, end) = (list.value_offsets()[i], list.value_offsets()[i + 1]);
        let len = i64::from(end - start);
        if n < 0 || n > len {
            return exec_err!("size must not exceed array cardinality {len}: {n}");
        }
        picks.extend((start as u64)..(end as u64 - n as u64));
        valid.push(true);
        offsets.push(picks.len() as i32);
    }
    let values = take(list.values(), &UInt64Array::from(picks), None)?;
    list_array(item, offsets, values, valid)
}

/// `contains_sequence(array, sequence)`: whether `sequence` appears in
/// `array` as consecutive elements (a NULL element matches a NULL).
pub(super) fn contains_sequence(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    test_list_pairs(a, |xs, ys| {
        Some(ys.is_empty() || xs.windows(ys.len()).any(|w| w == ys))
    })
}

/// The type of `ngrams`: an array of arrays of the input's elements.
pub(super) fn ngrams_type(t: &[DataType]) -> Result<DataType> {
    match &t[0] {
        DataType::List(f) => Ok(DataType::new_list(DataType::List(f.clone()), true)),
        other => plan_err!("ngrams: takes an array, not {other}"),
    }
}

/// `ngrams(array, n)`: every run of `n` consecutive elements, in order; the
/// whole array when it is not longer than `n`.
pub(super) fn ngrams(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let (DataType::List(item), DataType::List(gram)) = (a[0].data_type(), ret) else {
        return plan_err!("ngrams: takes an array, not {}", a[0].data_type());
    };
    let list = a[0].as_list::<i32>();
    let sizes = integers(&a[1])?;
    let (mut picks, mut inner, mut outer, mut valid) = (
        Vec::new(),
        vec![0i32],
        vec![0i32],
        Vec::with_capacity(list.len()),
    );
    for (i, n) in sizes.into_iter().enumerate() {
        let (Some(n), false) = (n, list.is_null(i)) else {
            valid.push(false);
            outer.push(inner.len() as i32 - 1);
            continue;
        };
        if n <= 0 {
            return exec_err!("N must be positive");
        }
        let (start, end) = (
            list.value_offsets()[i] as u64,
            list.value_offsets()[i + 1] as u64,
        );
        let n = (n as u64).min(end - start);
        let count = (end - start - n) + 1;
        for g in 0..count {
            if picks.len() + n as usize > i32::MAX as usize {
                return Err(too_many());
            }
            picks.extend(start + g..start + g + n);
            inner.push(picks.len() as i32);
        }
        valid.push(true);
        outer.push(inner.len() as i32 - 1);
    }
    let values = take(list.values(), &UInt64Array::from(picks), None)?;
    let grams = list_array(item, inner.clone(), values, vec![true; inner.len() - 1])?;
    list_array(gram, outer, grams, valid)
}

/// The type of `map_concat`: the maps' own, decimals widened to hold every
/// map's keys and values (a cast to the first map's would overflow them to
/// NULL); maps of other differing types are refused.
pub(super) fn map_concat_type(t: &[DataType]) -> Result<DataType> {
    let Some(first @ DataType::Map(..)) = t.first() else {
        return plan_err!("map_concat: takes maps, not {:?}", t.first());
    };
    t.iter().skip(1).try_fold(first.clone(), |acc, next| {
        widen(&acc, next).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "map_concat: maps of different types ({acc} and {next}); cast them to one type"
            ))
        })
    })
}

/// The type holding values of both `a` and `b`: equal types, decimals of
/// either precision and scale, and maps and structs of such parts.
fn widen(a: &DataType, b: &DataType) -> Option<DataType> {
    use datafusion::arrow::datatypes::Field;
    match (a, b) {
        _ if a == b => Some(a.clone()),
        // A NULL map, or an empty one's NULL-typed keys and values.
        (DataType::Null, t) | (t, DataType::Null) => Some(t.clone()),
        (x, y) if x.is_integer() && y.is_integer() => Some(DataType::Int64),
        (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) => {
            let scale = (*s1).max(*s2);
            let whole = (i16::from(*p1) - i16::from(*s1)).max(i16::from(*p2) - i16::from(*s2));
            let precision = u8::try_from(whole + i16::from(scale)).ok()?;
            (precision <= 38).then_some(DataType::Decimal128(precision, scale))
        }
        (DataType::Map(e1, sorted), DataType::Map(e2, _)) => {
            let entries = widen(e1.data_type(), e2.data_type())?;
            Some(DataType::Map(
                Arc::new(Field::new(e1.name(), entries, e1.is_nullable())),
                *sorted,
            ))
        }
        (DataType::Struct(f1), DataType::Struct(f2)) if f1.len() == f2.len() => {
            let fields = f1
                .iter()
                .zip(f2.iter())
                .map(|(x, y)| {
                    widen(x.data_type(), y.data_type())
                        .map(|t| Field::new(x.name(), t, x.is_nullable() || y.is_nullable()))
                })
                .collect::<Option<Vec<_>>>()?;
            Some(DataType::Struct(fields.into()))
        }
        _ => None,
    }
}

/// `map_concat(map, ...)`: one map of every entry; a key in several maps
/// keeps its first place and its last value. NULL when any map is NULL.
pub(super) fn map_concat(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    use datafusion::arrow::array::StructArray;
    let DataType::Map(entries, sorted) = ret else {
        return plan_err!("map_concat: takes maps, not {ret}");
    };
    let maps = a
        .iter()
        .map(|m| cast(m, ret))
        .collect::<Result<Vec<_>, _>>()?;
    let maps: Vec<&MapArray> = maps.iter().map(|m| m.as_map()).collect();
    // Entries are picked from all maps' entries laid end to end.
    let mut starts = Vec::with_capacity(maps.len());
    let mut total = 0;
    for m in &maps {
        starts.push(total);
        total += m.entries().len();
    }
    let all_keys = datafusion::arrow::compute::concat(
        &maps.iter().map(|m| m.keys().as_ref()).collect::<Vec<_>>(),
    )?;
    let all_values = datafusion::arrow::compute::concat(
        &maps.iter().map(|m| m.values().as_ref()).collect::<Vec<_>>(),
    )?;
    let rows = a.first().map_or(0, |m| m.len());
    let (mut picks, mut offsets, mut valid) = (Vec::new(), vec![0i32], Vec::with_capacity(rows));
    for row in 0..rows {
        if maps.iter().any(|m| m.is_null(row)) {
            valid.push(false);
            offsets.push(picks.len() as i32);
            continue;
        }
        let mut keys: Vec<ScalarValue> = Vec::new();
        let mut chosen: Vec<(usize, usize)> = Vec::new();
        for (m, start) in maps.iter().zip(&starts) {
            let o = m.value_offsets();
            for at in o[row] as usize..o[row + 1] as usize {
                let key = ScalarValue::try_from_array(m.keys(), at)?;
                match keys.iter().position(|k| *k == key) {
                    Some(p) => chosen[p].1 = start + at,
                    None => {
                        keys.push(key);
                        chosen.push((start + at, start + at));
                    }
                }
            }
        }
        picks.extend(chosen);
        valid.push(true);
        offsets.push(picks.len() as i32);
    }
    let key_picks = UInt64Array::from_iter_values(picks.iter().map(|(k, _)| *k as u64));
    let value_picks = UInt64Array::from_iter_values(picks.iter().map(|(_, v)| *v as u64));
    let DataType::Struct(fields) = entries.data_type() else {
        return plan_err!("map_concat: a map's entries are a struct");
    };
    let entries_array = StructArray::try_new(
        fields.clone(),
        vec![
            take(&all_keys, &key_picks, None)?,
            take(&all_values, &value_picks, None)?,
        ],
        None,
    )?;
    Ok(Arc::new(MapArray::try_new(
        entries.clone(),
        OffsetBuffer::new(offsets.into()),
        entries_array,
        Some(valid.into()),
        *sorted,
    )?))
}

/// The type of `combinations`: an array of arrays of the elements.
pub(super) fn combinations_type(t: &[DataType]) -> Result<DataType> {
    match t.first() {
        Some(DataType::List(item)) => Ok(DataType::new_list(DataType::List(item.clone()), true)),
        Some(DataType::Null) => Ok(DataType::new_list(
            DataType::new_list(DataType::Null, true),
            true,
        )),
        other => plan_err!("combinations: takes an array, not {other:?}"),
    }
}

/// The most elements all of `combinations`' groups may hold, as in Trino.
const MAX_COMBINED_ELEMENTS: u128 = 100_000;

/// n choose k, saturating (k is at most 5, so the product stays exact
/// until it passes any bound that matters).
fn group_count(n: usize, k: usize) -> u128 {
    if k > n {
        return 0;
    }
    (0..k).fold(1u128, |acc, i| {
        acc.saturating_mul((n - i) as u128) / (i as u128 + 1)
    })
}

/// `combinations(array, n)`: every group of n elements, by position (equal
/// elements are not merged), in Trino's order: the last position changes
/// slowest. n is at most 5, as in Trino.
pub(super) fn combinations(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::List(groups) = ret else {
        return exec_err!("combinations: not a list type");
    };
    let DataType::List(item) = groups.data_type() else {
        return exec_err!("combinations: not a list of lists");
    };
    let list = cast(&a[0], groups.data_type())?;
    let list = list.as_list::<i32>();
    let sizes = integers(&a[1])?;
    let (mut picks, mut inner, mut outer) = (vec![], vec![0i32], vec![0i32]);
    let mut valid = Vec::with_capacity(list.len());
    for (row, size) in sizes.iter().enumerate().take(list.len()) {
        let (Some(k), true) = (*size, list.is_valid(row)) else {
            valid.push(false);
            outer.push(*outer.last().expect("starts at 0"));
            continue;
        };
        if !(0..=5).contains(&k) {
            return exec_err!("combinations: group size must be between 0 and 5, not {k}");
        }
        let k = k as usize;
        let start = list.value_offsets()[row] as usize;
        let n = list.value_length(row) as usize;
        // Trino's bound: the groups' elements together, at most 100,000
        // (`combinations(sequence(1, 100), 5)` would be 376 million).
        if group_count(n, k).saturating_mul(k as u128) > MAX_COMBINED_ELEMENTS {
            return exec_err!("combinations exceed max size");
        }
        let mut groups_here = 0;
        if k <= n {
            let mut at: Vec<usize> = (0..k).collect();
            loop {
                picks.extend(at.iter().map(|&i| (start + i) as u32));
                inner.push(picks.len() as i32);
                groups_here += 1;
                // The next group: raise the first position that can rise,
                // and set those before it back to their lowest.
                let Some(i) = (0..k).find(|&i| at[i] + 1 < at.get(i + 1).copied().unwrap_or(n))
                else {
                    break;
                };
                at[i] += 1;
                for (j, slot) in at.iter_mut().enumerate().take(i) {
                    *slot = j;
                }
            }
        }
        valid.push(true);
        outer.push(outer.last().expect("starts at 0") + groups_here);
    }
    let values = take(
        list.values(),
        &datafusion::arrow::array::UInt32Array::from(picks),
        None,
    )?;
    let inner = datafusion::arrow::array::ListArray::try_new(
        item.clone(),
        OffsetBuffer::new(inner.into()),
        values,
        None,
    )?;
    Ok(Arc::new(datafusion::arrow::array::ListArray::try_new(
        groups.clone(),
        OffsetBuffer::new(outer.into()),
        Arc::new(inner),
        Some(valid.into()),
    )?))
}

/// The type of `map_from_entries(array(row(k, v)))`: `map(k, v)`.
pub(super) fn map_from_entries_type(t: &[DataType]) -> Result<DataType> {
    let (k, v) = match t.first() {
        Some(DataType::List(item)) => match item.data_type() {
            DataType::Struct(f) if f.len() == 2 => {
                (f[0].data_type().clone(), f[1].data_type().clone())
            }
            DataType::Null => (DataType::Null, DataType::Null),
            other => return plan_err!("map_from_entries: takes an array of pairs, not of {other}"),
        },
        Some(DataType::Null) => (DataType::Null, DataType::Null),
        other => return plan_err!("map_from_entries: takes an array of pairs, not {other:?}"),
    };
    Ok(map_type(k, v))
}

/// `map_from_entries(array(row(k, v)))`: the map of the pairs; a NULL pair
/// or key, or a key twice, is an error, as in Trino.
pub(super) fn map_from_entries(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::Map(entries, sorted) = ret else {
        return exec_err!("map_from_entries: not a map type");
    };
    let DataType::Struct(fields) = entries.data_type() else {
        return exec_err!("map_from_entries: a map's entries are a struct");
    };
    let list = entry_pairs(&a[0], fields[0].data_type(), fields[1].data_type())?;
    let list = list.as_list::<i32>();
    let pairs = list.values().as_struct();
    for row in 0..list.len() {
        if list.is_null(row) {
            continue;
        }
        let range = list.value_offsets()[row] as usize..list.value_offsets()[row + 1] as usize;
        let mut seen = Vec::with_capacity(range.len());
        for i in range {
            let key = entry_key(pairs, i)?;
            if seen.contains(&key) {
                return exec_err!("Duplicate map keys ({key}) are not allowed");
            }
            seen.push(key);
        }
    }
    map_array(
        entries,
        *sorted,
        pairs.column(0).clone(),
        pairs.column(1).clone(),
        list.offsets().clone(),
        list.nulls().cloned(),
    )
}

/// The type of `multimap_from_entries(array(row(k, v)))`: `map(k, array(v))`.
pub(super) fn multimap_from_entries_type(t: &[DataType]) -> Result<DataType> {
    let DataType::Map(entries, _) = map_from_entries_type(t)? else {
        return plan_err!("multimap_from_entries: not a map type");
    };
    let DataType::Struct(f) = entries.data_type() else {
        return plan_err!("multimap_from_entries: a map's entries are a struct");
    };
    Ok(map_type(
        f[0].data_type().clone(),
        DataType::new_list(f[1].data_type().clone(), true),
    ))
}

/// `multimap_from_entries(array(row(k, v)))`: each key once, with the array
/// of its values in the order of the pairs; a NULL pair or key is an
/// error, as in Trino.
pub(super) fn multimap_from_entries(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::Map(entries, sorted) = ret else {
        return exec_err!("multimap_from_entries: not a map type");
    };
    let DataType::Struct(fields) = entries.data_type() else {
        return exec_err!("multimap_from_entries: a map's entries are a struct");
    };
    let DataType::List(value_item) = fields[1].data_type() else {
        return exec_err!("multimap_from_entries: a multimap's values are arrays");
    };
    let list = entry_pairs(&a[0], fields[0].data_type(), value_item.data_type())?;
    let list = list.as_list::<i32>();
    let pairs = list.values().as_struct();
    let (mut key_at, mut value_at) = (Vec::<u32>::new(), Vec::<u32>::new());
    let (mut value_offsets, mut map_offsets) = (vec![0i32], vec![0i32]);
    for row in 0..list.len() {
        let range = list.value_offsets()[row] as usize..list.value_offsets()[row + 1] as usize;
        let mut groups: Vec<(ScalarValue, Vec<u32>)> = vec![];
        if list.is_valid(row) {
            for i in range {
                let key = entry_key(pairs, i)?;
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, at)) => at.push(i as u32),
                    None => groups.push((key, vec![i as u32])),
                }
            }
        }
        map_offsets.push(map_offsets[map_offsets.len() - 1] + groups.len() as i32);
        for (_, at) in groups {
            key_at.push(at[0]);
            value_at.extend(at);
            value_offsets.push(value_at.len() as i32);
        }
    }
    let pick = |c: &ArrayRef, at: Vec<u32>| {
        take(
            c.as_ref(),
            &datafusion::arrow::array::UInt32Array::from(at),
            None,
        )
    };
    let values = datafusion::arrow::array::ListArray::try_new(
        value_item.clone(),
        OffsetBuffer::new(value_offsets.into()),
        pick(pairs.column(1), value_at)?,
        None,
    )?;
    map_array(
        entries,
        *sorted,
        pick(pairs.column(0), key_at)?,
        Arc::new(values),
        OffsetBuffer::new(map_offsets.into()),
        list.nulls().cloned(),
    )
}

/// A pair's key, which must be there: a NULL pair or key is an error.
fn entry_key(pairs: &datafusion::arrow::array::StructArray, i: usize) -> Result<ScalarValue> {
    if pairs.is_null(i) {
        return exec_err!("map entry cannot be null");
    }
    if pairs.column(0).is_null(i) {
        return exec_err!("map key cannot be null");
    }
    ScalarValue::try_from_array(pairs.column(0), i)
}

/// An array of entries (or NULL, or `ARRAY[]`) as a list of `(key, value)`
/// structs of the given types.
fn entry_pairs(a: &ArrayRef, key: &DataType, value: &DataType) -> Result<ArrayRef> {
    let pairs_type = DataType::new_list(
        DataType::Struct(
            vec![
                Field::new("c0", key.clone(), true),
                Field::new("c1", value.clone(), true),
            ]
            .into(),
        ),
        true,
    );
    if a.data_type() == &DataType::Null {
        return Ok(datafusion::arrow::array::new_null_array(
            &pairs_type,
            a.len(),
        ));
    }
    let DataType::List(item) = a.data_type() else {
        return exec_err!("map_from_entries: takes an array");
    };
    if item.data_type() == &DataType::Null {
        // ARRAY[] (no pairs): empty maps, NULL arrays stay NULL.
        let l = a.as_list::<i32>();
        return Ok(Arc::new(datafusion::arrow::array::ListArray::try_new(
            Arc::new(Field::new("item", pairs_type_item(&pairs_type), true)),
            l.offsets().clone(),
            datafusion::arrow::array::new_null_array(
                &pairs_type_item(&pairs_type),
                l.values().len(),
            ),
            l.nulls().cloned(),
        )?));
    }
    Ok(cast(a, &pairs_type)?)
}

fn pairs_type_item(list: &DataType) -> DataType {
    match list {
        DataType::List(f) => f.data_type().clone(),
        other => other.clone(),
    }
}

/// `contains(array, element)`: whether the array holds the element; NULL
/// when it does not but holds a NULL (the answer is open), or for a NULL
/// element, as in Trino.
pub(super) fn contains_element(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let out = per_row_with_element(a, "contains", |list, wanted, i| {
        let items = list.value(i);
        let mut open = false;
        for k in 0..items.len() {
            match equal_at(&items, k, wanted, i)? {
                Some(true) => return Ok(Some(true)),
                None => open = true,
                Some(false) => {}
            }
        }
        Ok(if open { None } else { Some(false) })
    })?;
    Ok(Arc::new(datafusion::arrow::array::BooleanArray::from(out)))
}

/// `trino_determinate(x, function, role)`: `x` unchanged, or Trino's error
/// when a nested value holds a NULL: `role` "elements" checks each row's
/// array elements (a NULL element too), "value" the searched value (a NULL
/// value itself is left to the function, which answers NULL).
pub(super) fn determinate(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let function = texts(&a[1])?.first().cloned().flatten().unwrap_or_default();
    let elements = texts(&a[2])?.first().cloned().flatten().as_deref() == Some("elements");
    for row in 0..a[0].len() {
        if a[0].is_null(row) {
            continue;
        }
        let held = if elements {
            match a[0].data_type() {
                DataType::List(_) => a[0].as_list::<i32>().value(row),
                _ => continue,
            }
        } else {
            a[0].slice(row, 1)
        };
        if holds_null(&held) && function == "map" {
            return exec_err!("map key cannot be indeterminate");
        }
        if holds_null(&held) {
            return exec_err!(
                "{function} does not support arrays with elements that are null or contain null"
            );
        }
    }
    Ok(a[0].clone())
}

/// Whether an array, or any value nested in it, is NULL (only the slice's
/// own rows: a sliced list's child values beyond its offsets do not count).
fn holds_null(a: &ArrayRef) -> bool {
    if a.logical_null_count() > 0 {
        return true;
    }
    match a.data_type() {
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets();
            let (start, end) = (o[0] as usize, o[l.len()] as usize);
            holds_null(&l.values().slice(start, end - start))
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let o = l.value_offsets();
            let (start, end) = (o[0] as usize, o[l.len()] as usize);
            holds_null(&l.values().slice(start, end - start))
        }
        DataType::Struct(_) => a.as_struct().columns().iter().any(holds_null),
        DataType::Map(..) => {
            let m = a.as_map();
            let o = m.value_offsets();
            let (start, end) = (o[0] as usize, o[m.len()] as usize);
            holds_null(&m.keys().slice(start, end - start))
                || holds_null(&m.values().slice(start, end - start))
        }
        _ => false,
    }
}
