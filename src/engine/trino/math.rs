//! Trino's numeric functions where DataFusion's answer differs: `ceil`,
//! `ceiling` and `floor` keep an integer or decimal an integer or decimal
//! (DataFusion returns a double), and `greatest` / `least` are NULL when any
//! argument is, and refuse NaN.

use datafusion::arrow::array::{BooleanArray, Decimal128Array, Float32Array, Float64Array};
use datafusion::arrow::compute::kernels::boolean::{is_null, or};
use datafusion::arrow::compute::nullif;
use datafusion::arrow::datatypes::Decimal128Type;
use datafusion::logical_expr::ReturnFieldArgs;

use super::*;

/// The type of `ceil`/`floor`: integers stay, a decimal loses its scale
/// (Trino's `decimal(p - s + min(s, 1), 0)`), floats stay floats.
pub(super) fn rounding_type(t: &[DataType]) -> Result<DataType> {
    match t.first() {
        Some(d) if d.is_integer() => Ok(d.clone()),
        Some(DataType::Decimal128(p, s)) => {
            let s = (*s).max(0) as u8;
            Ok(DataType::Decimal128((p - s + s.min(1)).clamp(1, 38), 0))
        }
        Some(DataType::Float32) => Ok(DataType::Float32),
        Some(DataType::Null) => Ok(DataType::Float64),
        Some(d) if d.is_numeric() => Ok(DataType::Float64),
        Some(other) => plan_err!("ceil/floor: not a number: {other}"),
        None => plan_err!("ceil/floor: no argument"),
    }
}

fn round_with(a: &ArrayRef, ret: &DataType, up: bool) -> Result<ArrayRef> {
    let float = |x: f64| if up { x.ceil() } else { x.floor() };
    match (a.data_type(), ret) {
        (d, _) if d.is_integer() => Ok(a.clone()),
        (DataType::Decimal128(_, s), DataType::Decimal128(p, _)) => {
            let scale = 10i128.pow((*s).max(0) as u32);
            let d = a.as_primitive::<Decimal128Type>();
            let out: Decimal128Array = d
                .iter()
                .map(|v| {
                    v.map(|v| {
                        let (q, r) = (v / scale, v % scale);
                        if up && r > 0 {
                            q + 1
                        } else if !up && r < 0 {
                            q - 1
                        } else {
                            q
                        }
                    })
                })
                .collect();
            Ok(Arc::new(out.with_precision_and_scale(*p, 0)?))
        }
        (DataType::Float32, _) => {
            let f = a.as_primitive::<datafusion::arrow::datatypes::Float32Type>();
            let out: Float32Array = f
                .iter()
                .map(|v| v.map(|x| float(f64::from(x)) as f32))
                .collect();
            Ok(Arc::new(out))
        }
        _ => {
            let f = cast(a, &DataType::Float64)?;
            let out: Float64Array = f
                .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .iter()
                .map(|v| v.map(float))
                .collect();
            Ok(Arc::new(out))
        }
    }
}

/// `ceil(x)` / `ceiling(x)`.
pub(super) fn ceil(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    round_with(&a[0], ret, true)
}

/// `floor(x)`.
pub(super) fn floor(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    round_with(&a[0], ret, false)
}

/// DataFusion's `greatest` or `least` made NULL when any argument is NULL
/// (DataFusion skips NULLs), refusing NaN as Trino does.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct NullStrict {
    pub(super) inner: ScalarUDF,
}

impl ScalarUDFImpl for NullStrict {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(args)
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.inner.return_type(args)
    }
    fn return_field_from_args(
        &self,
        args: ReturnFieldArgs,
    ) -> Result<datafusion::arrow::datatypes::FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args)?;
        let mut any_null = BooleanArray::from(vec![false; arrays.first().map_or(0, |a| a.len())]);
        for a in &arrays {
            if let Some(f) = float_values(a)
                && f.iter().flatten().any(|x| x.is_nan())
            {
                return exec_err!("Invalid argument to {}(): NaN", self.inner.name());
            }
            any_null = or(&any_null, &is_null(a.as_ref())?)?;
        }
        let n = args.number_rows;
        let result = self
            .inner
            .invoke_with_args(args)?
            .to_array(if scalar { 1 } else { n })?;
        output(nullif(result.as_ref(), &any_null)?, scalar)
    }
}

fn float_values(a: &ArrayRef) -> Option<Vec<Option<f64>>> {
    matches!(a.data_type(), DataType::Float32 | DataType::Float64).then(|| {
        let f = cast(a, &DataType::Float64).ok()?;
        Some(
            f.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .iter()
                .collect(),
        )
    })?
}
