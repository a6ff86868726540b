//! Trino's aggregates DataFusion lacks: `count_if`, `max_by`, `min_by`,
//! `map_agg` and `histogram`.

use super::*;

/// `count_if(condition)`: rows where the condition is true.
#[derive(Debug, Default)]
pub(super) struct CountIf(i64);

impl datafusion::logical_expr::Accumulator for CountIf {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let b = values[0].as_boolean();
        self.0 += b.iter().filter(|v| *v == Some(true)).count() as i64;
        Ok(())
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.0)))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(Some(self.0))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = states[0].as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        self.0 += counts.iter().flatten().sum::<i64>();
        Ok(())
    }
}

/// `max_by(x, y)` / `min_by(x, y)`: the `x` of the row with the largest
/// (smallest) `y`; rows whose `y` is NULL are ignored.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ByAggregate {
    pub(super) name: &'static str,
    pub(super) max: bool,
    pub(super) signature: Signature,
}

impl datafusion::logical_expr::AggregateUDFImpl for ByAggregate {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }
    fn state_fields(
        &self,
        args: datafusion::logical_expr::function::StateFieldsArgs,
    ) -> Result<Vec<datafusion::arrow::datatypes::FieldRef>> {
        use datafusion::arrow::datatypes::Field;
        Ok(vec![
            Arc::new(Field::new(
                "value",
                args.input_fields[0].data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                "key",
                args.input_fields[1].data_type().clone(),
                true,
            )),
        ])
    }
    fn accumulator(
        &self,
        args: datafusion::logical_expr::function::AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::Accumulator>> {
        Ok(Box::new(By {
            max: self.max,
            value_type: args.return_field.data_type().clone(),
            key_type: args.exprs[1].data_type(args.schema)?,
            best: None,
        }))
    }
}

#[derive(Debug)]
pub(super) struct By {
    max: bool,
    value_type: DataType,
    key_type: DataType,
    best: Option<(ScalarValue, ScalarValue)>,
}

impl By {
    fn offer(&mut self, values: &ArrayRef, keys: &ArrayRef) -> Result<()> {
        for i in 0..keys.len() {
            if keys.is_null(i) {
                continue;
            }
            let key = ScalarValue::try_from_array(keys, i)?;
            let better = match &self.best {
                None => true,
                Some((_, best)) => match key.partial_cmp(best) {
                    Some(std::cmp::Ordering::Greater) => self.max,
                    Some(std::cmp::Ordering::Less) => !self.max,
                    _ => false,
                },
            };
            if better {
                self.best = Some((ScalarValue::try_from_array(values, i)?, key));
            }
        }
        Ok(())
    }
}

impl datafusion::logical_expr::Accumulator for By {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.offer(&values[0], &values[1])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.offer(&states[0], &states[1])
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(match &self.best {
            Some((v, k)) => vec![v.clone(), k.clone()],
            None => vec![
                ScalarValue::try_from(&self.value_type)?,
                ScalarValue::try_from(&self.key_type)?,
            ],
        })
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        match &self.best {
            Some((v, _)) => Ok(v.clone()),
            None => ScalarValue::try_from(&self.value_type),
        }
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.best.as_ref().map_or(0, |(v, k)| v.size() + k.size())
    }
}

/// What a map aggregate makes of its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum MapOf {
    /// `map_agg(key, value)`: each key's value (the first one met; Trino's
    /// pick among a key's values is arbitrary too).
    Pairs,
    /// `histogram(x)`: each value's count.
    Counts,
}

/// `map_agg(key, value)` and `histogram(x)`: a MAP of the group's rows,
/// NULL keys left out; NULL for a group without one.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct MapAggregate {
    pub(super) of: MapOf,
    pub(super) signature: Signature,
}

impl MapAggregate {
    fn value_type(&self, args: &[DataType]) -> DataType {
        match self.of {
            MapOf::Pairs => args[1].clone(),
            MapOf::Counts => DataType::Int64,
        }
    }
}

impl datafusion::logical_expr::AggregateUDFImpl for MapAggregate {
    fn name(&self) -> &str {
        match self.of {
            MapOf::Pairs => "map_agg",
            MapOf::Counts => "histogram",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(map_type(args[0].clone(), self.value_type(args)))
    }
    fn state_fields(
        &self,
        args: datafusion::logical_expr::function::StateFieldsArgs,
    ) -> Result<Vec<datafusion::arrow::datatypes::FieldRef>> {
        use datafusion::arrow::datatypes::Field;
        let types: Vec<DataType> = args
            .input_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        Ok(vec![
            Arc::new(Field::new(
                "keys",
                DataType::new_list(types[0].clone(), true),
                true,
            )),
            Arc::new(Field::new(
                "values",
                DataType::new_list(self.value_type(&types), true),
                true,
            )),
        ])
    }
    fn accumulator(
        &self,
        args: datafusion::logical_expr::function::AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::Accumulator>> {
        let DataType::Map(entries, _) = args.return_field.data_type() else {
            return exec_err!("{} returns a map", self.name());
        };
        let DataType::Struct(kv) = entries.data_type() else {
            return exec_err!("{} returns a map of entries", self.name());
        };
        Ok(Box::new(MapAccumulator {
            of: self.of,
            map_type: args.return_field.data_type().clone(),
            key_type: kv[0].data_type().clone(),
            value_type: kv[1].data_type().clone(),
            index: std::collections::HashMap::new(),
            entries: Vec::new(),
        }))
    }
}

#[derive(Debug)]
struct MapAccumulator {
    of: MapOf,
    map_type: DataType,
    key_type: DataType,
    value_type: DataType,
    /// Each key's place in `entries`.
    index: std::collections::HashMap<ScalarValue, usize>,
    entries: Vec<(ScalarValue, ScalarValue)>,
}

impl MapAccumulator {
    /// One entry in: a new key is added, a known one counted (histogram)
    /// or left as it is (map_agg).
    fn offer(&mut self, key: ScalarValue, value: ScalarValue) -> Result<()> {
        match self.index.get(&key) {
            Some(&at) => {
                if self.of == MapOf::Counts {
                    let (ScalarValue::Int64(Some(a)), ScalarValue::Int64(Some(b))) =
                        (&self.entries[at].1, &value)
                    else {
                        return exec_err!("histogram counts are BIGINT");
                    };
                    self.entries[at].1 = ScalarValue::Int64(Some(a + b));
                }
            }
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
        }
        Ok(())
    }
}

impl datafusion::logical_expr::Accumulator for MapAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let keys = &values[0];
        for i in 0..keys.len() {
            if keys.is_null(i) {
                continue;
            }
            let value = match self.of {
                MapOf::Pairs => ScalarValue::try_from_array(&values[1], i)?,
                MapOf::Counts => ScalarValue::Int64(Some(1)),
            };
            self.offer(ScalarValue::try_from_array(keys, i)?, value)?;
        }
        Ok(())
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (keys, values) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..keys.len() {
            if keys.is_null(row) {
                continue;
            }
            let (k, v) = (keys.value(row), values.value(row));
            for i in 0..k.len() {
                self.offer(
                    ScalarValue::try_from_array(&k, i)?,
                    ScalarValue::try_from_array(&v, i)?,
                )?;
            }
        }
        Ok(())
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let keys: Vec<ScalarValue> = self.entries.iter().map(|(k, _)| k.clone()).collect();
        let values: Vec<ScalarValue> = self.entries.iter().map(|(_, v)| v.clone()).collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&keys, &self.key_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.value_type)),
        ])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        use datafusion::arrow::array::{MapArray, StructArray};
        use datafusion::arrow::buffer::OffsetBuffer;
        if self.entries.is_empty() {
            return ScalarValue::try_from(&self.map_type);
        }
        let DataType::Map(entries, sorted) = &self.map_type else {
            return exec_err!("a map aggregate returns a map");
        };
        let DataType::Struct(kv) = entries.data_type() else {
            return exec_err!("a map's entries are a struct");
        };
        let keys = ScalarValue::iter_to_array(self.entries.iter().map(|(k, _)| k.clone()))?;
        let values = ScalarValue::iter_to_array(self.entries.iter().map(|(_, v)| v.clone()))?;
        let values = cast(&values, &self.value_type)?;
        let pairs = StructArray::try_new(kv.clone(), vec![keys, values], None)?;
        let map = MapArray::try_new(
            entries.clone(),
            OffsetBuffer::from_lengths([self.entries.len()]),
            pairs,
            None,
            *sorted,
        )?;
        Ok(ScalarValue::Map(Arc::new(map)))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .entries
                .iter()
                .map(|(k, v)| 2 * k.size() + v.size())
                .sum::<usize>()
    }
}

/// Trino's `approx_percentile(x, p)` and `approx_percentile(x, ARRAY[p,
/// ...])`: DataFusion's t-digest estimate, of the value's own type.
/// DataFusion takes and answers doubles, and its estimate falls between
/// two values (2.5 for 1, 2, 3, 4 at 0.5), where Trino answers a BIGINT
/// for integers: the estimate is rounded down, which is the nearest-rank
/// value where the digest holds every value. An array of percentiles is
/// answered from one digest of the rows.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ApproxPercentile {
    pub(super) inner: datafusion::logical_expr::AggregateUDF,
    pub(super) signature: Signature,
}

fn float_field(
    f: &datafusion::arrow::datatypes::FieldRef,
) -> datafusion::arrow::datatypes::FieldRef {
    Arc::new(f.as_ref().clone().with_data_type(DataType::Float64))
}

fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

impl datafusion::logical_expr::AggregateUDFImpl for ApproxPercentile {
    fn name(&self) -> &str {
        "approx_percentile"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&args.len()) {
            return plan_err!("approx_percentile takes a value and a percentile");
        }
        if !args[0].is_numeric() {
            return plan_err!("approx_percentile takes a number, not {}", args[0]);
        }
        let mut coerced = vec![
            if args[0].is_integer() {
                DataType::Int64
            } else {
                DataType::Float64
            },
            if is_list(&args[1]) {
                DataType::new_list(DataType::Float64, true)
            } else {
                DataType::Float64
            },
        ];
        if args.len() == 3 {
            coerced.push(DataType::Int64);
        }
        Ok(coerced)
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let one = if args[0].is_integer() {
            DataType::Int64
        } else {
            DataType::Float64
        };
        Ok(if is_list(&args[1]) {
            DataType::new_list(one, true)
        } else {
            one
        })
    }
    fn state_fields(
        &self,
        args: datafusion::logical_expr::function::StateFieldsArgs,
    ) -> Result<Vec<datafusion::arrow::datatypes::FieldRef>> {
        // One digest whatever the percentiles: the inner function's state
        // over doubles.
        let inputs: Vec<_> = args
            .input_fields
            .iter()
            .enumerate()
            .map(|(i, f)| if i < 2 { float_field(f) } else { f.clone() })
            .collect();
        self.inner
            .inner()
            .state_fields(datafusion::logical_expr::function::StateFieldsArgs {
                input_fields: &inputs,
                return_field: float_field(&args.return_field),
                ..args
            })
    }
    fn accumulator(
        &self,
        args: datafusion::logical_expr::function::AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::Accumulator>> {
        use datafusion::physical_expr::expressions::Literal;
        let list = is_list(args.return_field.data_type());
        let integer = match args.return_field.data_type() {
            DataType::List(item) => item.data_type().is_integer(),
            t => t.is_integer(),
        };
        let percentiles: Vec<Option<f64>> = if list {
            let empty = datafusion::arrow::record_batch::RecordBatch::new_empty(Arc::new(
                datafusion::arrow::datatypes::Schema::empty(),
            ));
            match args.exprs[1].evaluate(&empty)? {
                ColumnarValue::Scalar(ScalarValue::List(a)) if !a.is_null(0) => {
                    let values = cast(&a.value(0), &DataType::Float64)?;
                    values
                        .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                        .iter()
                        .collect()
                }
                _ => {
                    return plan_err!(
                        "approx_percentile: the percentiles must be a constant array"
                    );
                }
            }
        } else {
            vec![None]
        };
        let inputs: Vec<_> = args
            .expr_fields
            .iter()
            .enumerate()
            .map(|(i, f)| if i < 2 { float_field(f) } else { f.clone() })
            .collect();
        let mut inners = Vec::with_capacity(percentiles.len());
        for p in percentiles {
            let mut exprs = args.exprs.to_vec();
            if list {
                let Some(p) = p else {
                    return plan_err!("approx_percentile: a percentile is NULL");
                };
                exprs[1] = Arc::new(Literal::new(ScalarValue::Float64(Some(p))));
            }
            inners.push(self.inner.inner().accumulator(
                datafusion::logical_expr::function::AccumulatorArgs {
                    expr_fields: &inputs,
                    exprs: &exprs,
                    return_field: Arc::new(datafusion::arrow::datatypes::Field::new(
                        "estimate",
                        DataType::Float64,
                        true,
                    )),
                    ..args
                },
            )?);
        }
        Ok(Box::new(PercentilesOf {
            inners,
            integer,
            list,
        }))
    }
}

/// The accumulators of one digest, each asked for its percentile.
#[derive(Debug)]
struct PercentilesOf {
    inners: Vec<Box<dyn datafusion::logical_expr::Accumulator>>,
    /// Whether each answer is a BIGINT.
    integer: bool,
    /// Whether the answer is an array.
    list: bool,
}

impl datafusion::logical_expr::Accumulator for PercentilesOf {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let doubles = [cast(&values[0], &DataType::Float64)?];
        for inner in &mut self.inners {
            inner.update_batch(&doubles)?;
        }
        Ok(())
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for inner in &mut self.inners {
            inner.merge_batch(states)?;
        }
        Ok(())
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        // Every accumulator holds the same digest.
        self.inners[0].state()
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut answers = Vec::with_capacity(self.inners.len());
        for inner in &mut self.inners {
            answers.push(match (self.integer, inner.evaluate()?) {
                (true, ScalarValue::Float64(x)) => ScalarValue::Int64(x.map(|x| x.floor() as i64)),
                (_, other) => other,
            });
        }
        if !self.list {
            return Ok(answers.swap_remove(0));
        }
        let item = if self.integer {
            DataType::Int64
        } else {
            DataType::Float64
        };
        Ok(ScalarValue::List(ScalarValue::new_list_nullable(
            &answers, &item,
        )))
    }
    fn size(&self) -> usize {
        self.inners.iter().map(|i| i.size()).sum()
    }
}
