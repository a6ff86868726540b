//! Trino's functions of a map and a lambda over its entries, which
//! DataFusion 55 does not have (its functions of lambdas take arrays):
//! `transform_keys(m, (k, v) -> ...)`, `transform_values(m, (k, v) -> ...)`
//! and `map_filter(m, (k, v) -> ...)`. The lambda runs once over all the
//! entries of a batch, as DataFusion's `array_transform` runs over elements.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray, StructArray, UInt32Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{filter, take_arrays};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDF, HigherOrderUDFImpl, LambdaParametersProgress, ValueOrLambda, Volatility,
};
use std::sync::Arc;

/// What the lambda of a map function makes of each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum MapLambda {
    /// `transform_keys`: a new key (never NULL, never twice in a map).
    Keys,
    /// `transform_values`: a new value.
    Values,
    /// `map_filter`: whether the entry stays (NULL drops it).
    Filter,
}

/// A map function of a lambda, registered under Trino's name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct MapFunction(pub(super) MapLambda);

/// What a function of lambdas tells DataFusion, less the boilerplate of
/// [`HigherOrderUDFImpl`] ([`Registered`] adds it): the same methods.
pub(super) trait LambdaFunction:
    std::fmt::Debug + PartialEq + Eq + std::hash::Hash + Send + Sync + 'static
{
    /// Which arguments are values and which lambdas.
    const ARGUMENTS: &'static [ValueOrLambda<(), ()>];
    /// Trino's name.
    fn name(&self) -> &'static str;
    /// Argument types as DataFusion should cast them (by default, as they are).
    fn coerce_value_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types.to_vec())
    }
    /// Whether DataFusion clears the NULL rows of list arguments first.
    fn clear_null_values(&self) -> bool {
        true
    }
    /// The fields of each lambda's parameters.
    fn lambda_parameters(
        &self,
        step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress>;
    /// The result's field.
    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef>;
    /// The result over a batch.
    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue>;
}

/// A [`LambdaFunction`] as DataFusion registers it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Registered<F> {
    function: F,
    signature: HigherOrderSignature,
}

/// `function`, ready to register.
pub(super) fn udf<F: LambdaFunction>(function: F) -> Arc<HigherOrderUDF> {
    let signature = HigherOrderSignature::exact(F::ARGUMENTS.to_vec(), Volatility::Immutable);
    Arc::new(HigherOrderUDF::new_from_impl(Registered {
        function,
        signature,
    }))
}

impl<F: LambdaFunction> HigherOrderUDFImpl for Registered<F> {
    fn name(&self) -> &str {
        self.function.name()
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.function.coerce_value_types(arg_types)
    }

    fn clear_null_values(&self) -> bool {
        self.function.clear_null_values()
    }

    fn lambda_parameters(
        &self,
        step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        self.function.lambda_parameters(step, fields)
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        self.function.return_field_from_args(args)
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        self.function.invoke_with_args(args)
    }
}

/// The key and value fields of a map type.
fn entry_fields(name: &str, t: &DataType) -> Result<(FieldRef, FieldRef)> {
    match t {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => Ok((kv[0].clone(), kv[1].clone())),
            other => plan_err!("{name}: map entries of type {other}"),
        },
        other => plan_err!("{name} takes a map and a lambda, not {other}"),
    }
}

/// A map type with new key or value fields.
fn map_type(t: &DataType, key: FieldRef, value: FieldRef) -> DataType {
    let (entries_name, sorted) = match t {
        DataType::Map(entries, sorted) => (entries.name().clone(), *sorted),
        _ => ("entries".to_string(), false),
    };
    DataType::Map(
        Arc::new(Field::new(
            entries_name,
            DataType::Struct(vec![key, value].into()),
            false,
        )),
        sorted,
    )
}

impl LambdaFunction for MapFunction {
    const ARGUMENTS: &'static [ValueOrLambda<(), ()>] =
        &[ValueOrLambda::Value(()), ValueOrLambda::Lambda(())];

    fn name(&self) -> &'static str {
        match self.0 {
            MapLambda::Keys => "transform_keys",
            MapLambda::Values => "transform_values",
            MapLambda::Filter => "map_filter",
        }
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        let [ValueOrLambda::Value(map), ValueOrLambda::Lambda(_)] = fields else {
            return plan_err!("{} takes a map and a lambda", self.name());
        };
        let (key, value) = entry_fields(self.name(), map.data_type())?;
        Ok(LambdaParametersProgress::Complete(vec![vec![key, value]]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        let [ValueOrLambda::Value(map), ValueOrLambda::Lambda(lambda)] = args.arg_fields else {
            return plan_err!("{} takes a map and a lambda", self.name());
        };
        let (key, value) = entry_fields(self.name(), map.data_type())?;
        let t = match self.0 {
            MapLambda::Filter => map.data_type().clone(),
            MapLambda::Values => map_type(
                map.data_type(),
                key,
                Arc::new(Field::new(value.name(), lambda.data_type().clone(), true)),
            ),
            MapLambda::Keys => map_type(
                map.data_type(),
                Arc::new(Field::new(key.name(), lambda.data_type().clone(), false)),
                value,
            ),
        };
        Ok(Arc::new(Field::new("", t, map.is_nullable())))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        let [ValueOrLambda::Value(map), ValueOrLambda::Lambda(lambda)] = &args.args[..] else {
            return exec_err!("{} takes a map and a lambda", self.name());
        };
        let array = map.to_array(args.number_rows)?;
        let Some(map) = array.as_map_opt() else {
            return exec_err!("{} of {}", self.name(), array.data_type());
        };
        // The entries the rows use (a sliced map starts past its first offset).
        let offsets = map.offsets();
        let first = offsets[0] as usize;
        let count = offsets[offsets.len() - 1] as usize - first;
        let keys = map.keys().slice(first, count);
        let values = map.values().slice(first, count);
        let (key_param, value_param) = (|| Ok(keys.clone()), || Ok(values.clone()));
        let made = lambda
            .evaluate(&[&key_param, &value_param], |captured| {
                // A column the lambda captures, repeated for each entry of its row.
                let rows: UInt32Array = offsets
                    .windows(2)
                    .enumerate()
                    .flat_map(|(row, w)| std::iter::repeat_n(row as u32, (w[1] - w[0]) as usize))
                    .collect();
                Ok(take_arrays(captured, &rows, None)?)
            })?
            .into_array(count)?;
        let rebased = OffsetBuffer::new(offsets.iter().map(|o| o - offsets[0]).collect());
        let DataType::Map(entries, sorted) = args.return_field.data_type() else {
            return exec_err!("{} returns {}", self.name(), args.return_field.data_type());
        };
        let DataType::Struct(kv) = entries.data_type() else {
            return exec_err!("{} returns {}", self.name(), entries.data_type());
        };
        let (keys, values, offsets) = match self.0 {
            MapLambda::Values => (keys, made, rebased),
            MapLambda::Keys => {
                distinct_keys(&made, &rebased, map)?;
                (made, values, rebased)
            }
            MapLambda::Filter => {
                let keep = made.as_boolean_opt().ok_or_else(|| {
                    datafusion::error::DataFusionError::Plan(format!(
                        "map_filter's lambda must be a BOOLEAN, not {}",
                        made.data_type()
                    ))
                })?;
                // NULL drops the entry, as FALSE does.
                let keep = if keep.null_count() > 0 {
                    datafusion::arrow::compute::prep_null_mask_filter(keep)
                } else {
                    keep.clone()
                };
                let mut kept = 0usize;
                let mut lengths = Vec::with_capacity(rebased.len());
                lengths.push(0i32);
                for w in rebased.windows(2) {
                    kept += (w[0] as usize..w[1] as usize)
                        .filter(|&i| keep.value(i))
                        .count();
                    lengths.push(kept as i32);
                }
                (
                    filter(&keys, &keep)?,
                    filter(&values, &keep)?,
                    OffsetBuffer::new(lengths.into()),
                )
            }
        };
        let entries_array = StructArray::try_new(kv.clone(), vec![keys, values], None)?;
        let out = MapArray::try_new(
            entries.clone(),
            offsets,
            entries_array,
            map.nulls().cloned(),
            *sorted,
        )?;
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

/// Trino's refusals for `transform_keys`: a NULL key, or a key twice in one
/// map, fails the query. Keys are compared in Arrow's row format, which is
/// equal exactly for equal values.
fn distinct_keys(keys: &ArrayRef, offsets: &OffsetBuffer<i32>, map: &MapArray) -> Result<()> {
    use datafusion::arrow::row::{RowConverter, SortField};
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    if keys.null_count() > 0 {
        return exec_err!("map key cannot be null");
    }
    let rows = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?
        .convert_columns(std::slice::from_ref(keys))?;
    for (row, w) in offsets.windows(2).enumerate() {
        if map.is_null(row) {
            continue;
        }
        let mut seen = std::collections::HashSet::new();
        for i in w[0] as usize..w[1] as usize {
            if !seen.insert(rows.row(i)) {
                let text = ArrayFormatter::try_new(keys.as_ref(), &FormatOptions::default())?;
                return exec_err!("Duplicate map keys ({}) are not allowed", text.value(i));
            }
        }
    }
    Ok(())
}

/// Trino's `zip_with(a, b, (x, y) -> ...)`: the lambda over the elements of
/// two arrays side by side, the shorter padded with NULLs; NULL when
/// either array is.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ZipWith;

/// The element field of `name`'s array argument, as a lambda's parameter:
/// nullable, since a padded or NULL element reaches it as NULL.
fn element_field(name: &str, t: &DataType) -> Result<FieldRef> {
    match t {
        DataType::List(f) | DataType::LargeList(f) => {
            Ok(Arc::new(f.as_ref().clone().with_nullable(true)))
        }
        DataType::Null => Ok(Arc::new(Field::new("item", DataType::Null, true))),
        other => plan_err!("{name} takes arrays, not {other}"),
    }
}

impl LambdaFunction for ZipWith {
    const ARGUMENTS: &'static [ValueOrLambda<(), ()>] = &[
        ValueOrLambda::Value(()),
        ValueOrLambda::Value(()),
        ValueOrLambda::Lambda(()),
    ];

    fn name(&self) -> &'static str {
        "zip_with"
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // LargeList and the like as List, which the evaluation reads.
        arg_types
            .iter()
            .map(|t| match t {
                DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                    Ok(DataType::List(f.clone()))
                }
                other => Ok(other.clone()),
            })
            .collect()
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        let [
            ValueOrLambda::Value(a),
            ValueOrLambda::Value(b),
            ValueOrLambda::Lambda(_),
        ] = fields
        else {
            return plan_err!("zip_with takes two arrays and a lambda");
        };
        Ok(LambdaParametersProgress::Complete(vec![vec![
            element_field("zip_with", a.data_type())?,
            element_field("zip_with", b.data_type())?,
        ]]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        let [
            ValueOrLambda::Value(a),
            ValueOrLambda::Value(b),
            ValueOrLambda::Lambda(lambda),
        ] = args.arg_fields
        else {
            return plan_err!("zip_with takes two arrays and a lambda");
        };
        let element = Field::new("item", lambda.data_type().clone(), true);
        Ok(Arc::new(Field::new(
            "",
            DataType::List(Arc::new(element)),
            a.is_nullable() || b.is_nullable(),
        )))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::ListArray;
        use datafusion::arrow::buffer::NullBuffer;
        use datafusion::arrow::compute::take;
        let [
            ValueOrLambda::Value(a),
            ValueOrLambda::Value(b),
            ValueOrLambda::Lambda(lambda),
        ] = &args.args[..]
        else {
            return exec_err!("zip_with takes two arrays and a lambda");
        };
        let (a, b) = (a.to_array(args.number_rows)?, b.to_array(args.number_rows)?);
        let nulls = NullBuffer::union(a.logical_nulls().as_ref(), b.logical_nulls().as_ref());
        // Per output element: the row, and the index into each side's
        // values (NULL past that side's end, or in a NULL row).
        let (mut rows, mut left, mut right) = (vec![], vec![], vec![]);
        let mut offsets = vec![0i32];
        let bounds = |x: &ArrayRef, row: usize| -> (usize, usize) {
            match x.as_list_opt::<i32>() {
                Some(l) if l.is_valid(row) => {
                    let o = l.value_offsets();
                    (o[row] as usize, o[row + 1] as usize)
                }
                _ => (0, 0),
            }
        };
        for row in 0..args.number_rows {
            let null = nulls.as_ref().is_some_and(|n| n.is_null(row));
            let ((a0, a1), (b0, b1)) = if null {
                ((0, 0), (0, 0))
            } else {
                (bounds(&a, row), bounds(&b, row))
            };
            let length = (a1 - a0).max(b1 - b0);
            for i in 0..length {
                rows.push(row as u32);
                left.push((a0 + i < a1).then_some((a0 + i) as u32));
                right.push((b0 + i < b1).then_some((b0 + i) as u32));
            }
            offsets.push(offsets[offsets.len() - 1] + length as i32);
        }
        let side = |x: &ArrayRef, at: Vec<Option<u32>>| -> Result<ArrayRef> {
            let indices = UInt32Array::from(at);
            match x.as_list_opt::<i32>() {
                Some(l) => Ok(take(l.values().as_ref(), &indices, None)?),
                // A NULL array literal: every element NULL.
                None => Ok(datafusion::arrow::array::new_null_array(
                    &DataType::Null,
                    indices.len(),
                )),
            }
        };
        let (xs, ys) = (side(&a, left)?, side(&b, right)?);
        let count = rows.len();
        let (x_param, y_param) = (|| Ok(xs.clone()), || Ok(ys.clone()));
        let rows = UInt32Array::from(rows);
        let made = lambda
            .evaluate(&[&x_param, &y_param], |captured| {
                Ok(take_arrays(captured, &rows, None)?)
            })?
            .into_array(count)?;
        let DataType::List(element) = args.return_field.data_type() else {
            return exec_err!("zip_with returns {}", args.return_field.data_type());
        };
        let out = ListArray::try_new(
            element.clone(),
            OffsetBuffer::new(offsets.into()),
            made,
            nulls,
        )?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// Trino's `apply(x, v -> ...)`: the lambda of one value (hidden in Trino,
/// where its own tests of lambdas use it).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct Apply;

impl LambdaFunction for Apply {
    const ARGUMENTS: &'static [ValueOrLambda<(), ()>] =
        &[ValueOrLambda::Value(()), ValueOrLambda::Lambda(())];

    fn name(&self) -> &'static str {
        "apply"
    }

    // Its lambda sees NULL values (`apply(NULL, x -> x IS NULL)` is true).
    fn clear_null_values(&self) -> bool {
        false
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        let [ValueOrLambda::Value(value), ValueOrLambda::Lambda(_)] = fields else {
            return plan_err!("apply takes a value and a lambda");
        };
        let field = Arc::new(value.as_ref().clone().with_nullable(true));
        Ok(LambdaParametersProgress::Complete(vec![vec![field]]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        let [ValueOrLambda::Value(_), ValueOrLambda::Lambda(lambda)] = args.arg_fields else {
            return plan_err!("apply takes a value and a lambda");
        };
        Ok(Arc::new(lambda.as_ref().clone().with_nullable(true)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        let [ValueOrLambda::Value(value), ValueOrLambda::Lambda(lambda)] = &args.args[..] else {
            return exec_err!("apply takes a value and a lambda");
        };
        let values = value.to_array(args.number_rows)?;
        let param = || Ok(values.clone());
        // One value a row: captured columns are already in step.
        lambda.evaluate(&[&param], |captured| Ok(captured.to_vec()))
    }
}

/// Trino's `reduce(a, start, (s, x) -> ..., s -> ...)`: a state folded over
/// each array's elements, in order, then finished by the last lambda. The
/// fold runs element position by element position, each step one
/// evaluation of the lambda over the rows that have that many elements.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct Reduce;

impl LambdaFunction for Reduce {
    const ARGUMENTS: &'static [ValueOrLambda<(), ()>] = &[
        ValueOrLambda::Value(()),
        ValueOrLambda::Value(()),
        ValueOrLambda::Lambda(()),
        ValueOrLambda::Lambda(()),
    ];

    fn name(&self) -> &'static str {
        "reduce"
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        let [
            ValueOrLambda::Value(array),
            ValueOrLambda::Value(start),
            ValueOrLambda::Lambda(_),
            ValueOrLambda::Lambda(_),
        ] = fields
        else {
            return plan_err!("reduce takes an array, a start, and two lambdas");
        };
        // The state keeps the start's type (a step of another type is
        // refused when the return type is worked out).
        let state = Arc::new(start.as_ref().clone().with_nullable(true));
        let element = element_field("reduce", array.data_type())?;
        Ok(LambdaParametersProgress::Complete(vec![
            vec![state.clone(), element],
            vec![state],
        ]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        let [
            _,
            ValueOrLambda::Value(start),
            ValueOrLambda::Lambda(step),
            ValueOrLambda::Lambda(finish),
        ] = args.arg_fields
        else {
            return plan_err!("reduce takes an array, a start, and two lambdas");
        };
        // The state has one type throughout, as in Trino, which refuses a
        // step of another type rather than cast it.
        if step.data_type() != start.data_type() {
            return plan_err!(
                "reduce: the step returns {}, the state is {}: cast the start or the step to one type",
                step.data_type(),
                start.data_type()
            );
        }
        Ok(Arc::new(finish.as_ref().clone().with_nullable(true)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::compute::{interleave, take};
        let [
            ValueOrLambda::Value(array),
            ValueOrLambda::Value(start),
            ValueOrLambda::Lambda(step),
            ValueOrLambda::Lambda(finish),
        ] = &args.args[..]
        else {
            return exec_err!("reduce takes an array, a start, and two lambdas");
        };
        let rows = args.number_rows;
        let array = array.to_array(rows)?;
        let mut state = start.to_array(rows)?;
        // Each row's elements (none for a NULL array, whose answer is NULL).
        let list = array.as_list_opt::<i32>();
        let bounds: Vec<(usize, usize)> = (0..rows)
            .map(|r| match list {
                Some(l) if l.is_valid(r) => {
                    let o = l.value_offsets();
                    (o[r] as usize, o[r + 1] as usize)
                }
                _ => (0, 0),
            })
            .collect();
        let longest = bounds.iter().map(|(a, b)| b - a).max().unwrap_or(0);
        for position in 0..longest {
            let live: Vec<u32> = (0..rows)
                .filter(|&r| bounds[r].1 - bounds[r].0 > position)
                .map(|r| r as u32)
                .collect();
            let live = UInt32Array::from(live);
            let at: UInt32Array = live
                .values()
                .iter()
                .map(|&r| (bounds[r as usize].0 + position) as u32)
                .collect();
            let values = list.expect("rows with elements are a list").values();
            let (states, elements) = (take(&state, &live, None)?, take(values, &at, None)?);
            let (s_param, x_param) = (|| Ok(states.clone()), || Ok(elements.clone()));
            let next = step
                .evaluate(&[&s_param, &x_param], |captured| {
                    Ok(take_arrays(captured, &live, None)?)
                })?
                .into_array(live.len())?;
            // The new states where a row stepped, the old ones elsewhere.
            let mut stepped = live.values().iter().peekable();
            let mut k = 0usize;
            let picks: Vec<(usize, usize)> = (0..rows)
                .map(|r| {
                    if stepped.peek().is_some_and(|&&s| s as usize == r) {
                        stepped.next();
                        k += 1;
                        (1, k - 1)
                    } else {
                        (0, r)
                    }
                })
                .collect();
            state = interleave(&[state.as_ref(), next.as_ref()], &picks)?;
        }
        let state_param = || Ok(state.clone());
        let done = finish
            .evaluate(&[&state_param], |captured| Ok(captured.to_vec()))?
            .into_array(rows)?;
        // A NULL array reduces to NULL.
        match array.logical_nulls() {
            Some(nulls) if nulls.null_count() > 0 => {
                let keep = datafusion::arrow::array::BooleanArray::new(nulls.into_inner(), None);
                Ok(ColumnarValue::Array(datafusion::arrow::compute::nullif(
                    &done,
                    &datafusion::arrow::compute::not(&keep)?,
                )?))
            }
            _ => Ok(ColumnarValue::Array(done)),
        }
    }
}

/// The name `regexp_replace(s, pattern, x -> ...)` is planned under:
/// DataFusion looks a name up as a plain function first, and the plain
/// `regexp_replace` takes no lambda, so [`crate::engine::dialect`] renames
/// the lambda form.
pub(crate) const REGEXP_REPLACE_LAMBDA: &str = "trino_regexp_replace_lambda";

/// Trino's `regexp_replace(string, pattern, x -> ...)`: each match replaced
/// by the lambda of its capturing groups (`x[1]` the first; a group that
/// took no part is NULL), the matches found as Java finds them. A NULL
/// replacement makes the whole string NULL, as in Trino. The lambda runs
/// once over every match of the batch.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct RegexpReplace;

impl LambdaFunction for RegexpReplace {
    const ARGUMENTS: &'static [ValueOrLambda<(), ()>] = &[
        ValueOrLambda::Value(()),
        ValueOrLambda::Value(()),
        ValueOrLambda::Lambda(()),
    ];

    fn name(&self) -> &'static str {
        REGEXP_REPLACE_LAMBDA
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types.iter().map(|_| DataType::Utf8).collect())
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        _fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        Ok(LambdaParametersProgress::Complete(vec![vec![Arc::new(
            Field::new("groups", DataType::new_list(DataType::Utf8, true), true),
        )]]))
    }

    fn return_field_from_args(&self, _args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new("", DataType::Utf8, true)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::{ListBuilder, StringBuilder};
        let [
            ValueOrLambda::Value(strings),
            ValueOrLambda::Value(patterns),
            ValueOrLambda::Lambda(lambda),
        ] = &args.args[..]
        else {
            return exec_err!("regexp_replace takes a string, a pattern and a lambda");
        };
        let rows = args.number_rows;
        let strings = super::texts(&strings.to_array(rows)?)?;
        let patterns = super::texts(&patterns.to_array(rows)?)?;
        // Every match of the batch: its row, its span, its groups.
        let mut groups = ListBuilder::new(StringBuilder::new());
        let (mut of_row, mut spans) = (Vec::<u32>::new(), Vec::<(usize, usize)>::new());
        let mut cache = None;
        for (row, (s, p)) in strings.iter().zip(&patterns).enumerate() {
            let (Some(s), Some(p)) = (s, p) else {
                continue;
            };
            let re = super::regexp::compile(&mut cache, p, "regexp_replace")?;
            for caps in super::regexp::java_matches(re, s) {
                let m = caps.get(0).expect("group 0 is the match");
                for g in 1..caps.len() {
                    groups
                        .values()
                        .append_option(caps.get(g).map(|m| m.as_str()));
                }
                groups.append(true);
                of_row.push(row as u32);
                spans.push((m.start(), m.end()));
            }
        }
        let groups: ArrayRef = Arc::new(groups.finish());
        let count = groups.len();
        let parameter = || Ok(groups.clone());
        let made = lambda
            .evaluate(&[&parameter], |captured| {
                // A column the lambda captures, repeated for each match of its row.
                Ok(take_arrays(
                    captured,
                    &UInt32Array::from(of_row.clone()),
                    None,
                )?)
            })?
            .into_array(count)?;
        let made = super::texts(&made)?;
        let mut out = datafusion::arrow::array::StringBuilder::new();
        let mut next = 0;
        for (row, (s, p)) in strings.iter().zip(&patterns).enumerate() {
            let (Some(s), Some(_)) = (s, p) else {
                out.append_null();
                continue;
            };
            let (mut text, mut copied, mut null) = (String::with_capacity(s.len()), 0, false);
            while next < count && of_row[next] as usize == row {
                let (start, end) = spans[next];
                text.push_str(&s[copied..start]);
                match &made[next] {
                    Some(r) => text.push_str(r),
                    None => null = true,
                }
                copied = end;
                next += 1;
            }
            text.push_str(&s[copied..]);
            if null {
                out.append_null();
            } else {
                out.append_value(text);
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
