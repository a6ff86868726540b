//! Trino's aggregates DataFusion lacks: `count_if`, `max_by`, `min_by`.

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
