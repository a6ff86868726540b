//! Trino's numeric functions where DataFusion's answer differs: `ceil`,
//! `ceiling` and `floor` keep an integer or decimal an integer or decimal
//! (DataFusion returns a double), and `greatest` / `least` are NULL when any
//! argument is, and refuse NaN; and Trino's own `width_bucket`, `from_base` and `to_base`.

use datafusion::arrow::array::{
    BooleanArray, Decimal128Array, Float32Array, Float64Array, Int64Array,
};
use datafusion::arrow::compute::kernels::boolean::{is_null, or};
use datafusion::arrow::compute::nullif;
use datafusion::arrow::datatypes::Decimal128Type;
use datafusion::common::plan_datafusion_err;
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

/// When a [`NullStrict`] function's answer is NULL, where DataFusion's
/// skips the NULLs Trino's functions do not.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) enum NullWhen {
    /// Any argument is NULL (`greatest`, `least`, which pass over NaN).
    AnyArgument,
    /// The array argument holds a NULL (`array_min`, `array_max`).
    AnyElement,
}

/// A DataFusion function whose answer is NULL where Trino's is.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct NullStrict {
    pub(super) inner: ScalarUDF,
    pub(super) when: NullWhen,
    /// A NaN answer is taken again from the other elements (`array_max`:
    /// Trino's comparison ranks NaN below the numbers, DataFusion's above).
    pub(super) nan_lowest: bool,
}

impl NullStrict {
    /// The rows whose answer is NULL.
    fn nulls(&self, arrays: &[ArrayRef]) -> Result<BooleanArray> {
        let rows = arrays.first().map_or(0, |a| a.len());
        match self.when {
            NullWhen::AnyArgument => {
                let mut any_null = BooleanArray::from(vec![false; rows]);
                for a in arrays {
                    any_null = or(&any_null, &is_null(a.as_ref())?)?;
                }
                Ok(any_null)
            }
            NullWhen::AnyElement => {
                let item = match arrays[0].data_type() {
                    DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                        f.data_type().clone()
                    }
                    _ => DataType::Null,
                };
                let list = cast(&arrays[0], &DataType::new_list(item, true))?;
                let list = list.as_list::<i32>();
                Ok((0..list.len())
                    .map(|i| Some(list.is_valid(i) && list.value(i).null_count() > 0))
                    .collect())
            }
        }
    }
}

impl NullStrict {
    /// Arrays are ordered element by element; where a NaN decides which is
    /// the greatest, DataFusion ranks it above every number and Trino does
    /// not, so an array answer holding NaN while another candidate holds
    /// none is refused rather than given.
    fn refuse_nan_arrays(
        &self,
        arrays: &[ArrayRef],
        result: &ArrayRef,
        nulls: &BooleanArray,
    ) -> Result<()> {
        if !matches!(self.inner.name(), "greatest" | "array_max")
            || !matches!(result.data_type(), DataType::List(_))
        {
            return Ok(());
        }
        for row in 0..result.len() {
            // A row whose answer is NULL anyway (a NULL element) is no wrong answer.
            let null = row < nulls.len() && nulls.is_valid(row) && nulls.value(row);
            if null || result.is_null(row) || !holds_nan(&result.slice(row, 1))? {
                continue;
            }
            let candidates: Vec<ArrayRef> = match self.when {
                NullWhen::AnyArgument => arrays
                    .iter()
                    .map(|a| a.slice(if a.len() == 1 { 0 } else { row }, 1))
                    .collect(),
                NullWhen::AnyElement => {
                    let list = arrays[0].as_list::<i32>();
                    let items = list.value(if list.len() == 1 { 0 } else { row });
                    (0..items.len()).map(|i| items.slice(i, 1)).collect()
                }
            };
            for c in candidates {
                if c.is_valid(0) && !holds_nan(&c)? {
                    return exec_err!(
                        "{}() of arrays holding NaN is not supported: Trino orders NaN otherwise",
                        self.inner.name()
                    );
                }
            }
        }
        Ok(())
    }
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
        let nulls = self.nulls(&arrays)?;
        let n = args.number_rows;
        if self.when == NullWhen::AnyArgument
            && matches!(
                args.return_field.data_type(),
                DataType::Float32 | DataType::Float64
            )
        {
            let answer = extreme_past_nan(&arrays, self.inner.name() == "greatest")?;
            let answer = cast(&answer, args.return_field.data_type())?;
            return output(nullif(answer.as_ref(), &nulls)?, scalar);
        }
        let mut result = self
            .inner
            .invoke_with_args(args)?
            .to_array(if scalar { 1 } else { n })?;
        if self.nan_lowest {
            result = max_past_nan(&arrays[0], result)?;
        }
        self.refuse_nan_arrays(&arrays, &result, &nulls)?;
        output(nullif(result.as_ref(), &nulls)?, scalar)
    }
}

/// `greatest` or `least` of doubles as Trino's: NaN is passed over, and is
/// the answer only when every argument is NaN (NULLs are the caller's).
fn extreme_past_nan(arrays: &[ArrayRef], greatest: bool) -> Result<ArrayRef> {
    let columns = arrays.iter().map(doubles).collect::<Result<Vec<_>>>()?;
    let rows = columns.first().map_or(0, Vec::len);
    let out: Float64Array = (0..rows)
        .map(|row| {
            let values = columns.iter().filter_map(|c| c[row]);
            let numbers = values.clone().filter(|x| !x.is_nan());
            let best = if greatest {
                numbers.reduce(f64::max)
            } else {
                numbers.reduce(f64::min)
            };
            best.or_else(|| values.into_iter().next())
        })
        .collect();
    Ok(Arc::new(out))
}

/// Whether a NaN is anywhere in `a`, at any depth of lists.
fn holds_nan(a: &ArrayRef) -> Result<bool> {
    match a.data_type() {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            Ok(doubles(a)?.into_iter().flatten().any(f64::is_nan))
        }
        // Element by element: a slice's `values()` would be all its parent's.
        DataType::List(_) => {
            let list = a.as_list::<i32>();
            for i in 0..list.len() {
                if list.is_valid(i) && holds_nan(&list.value(i))? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// An array's largest element with NaN ranked lowest: each NaN answer is
/// taken again from the row's other elements (NaN stays when all are NaN).
fn max_past_nan(list: &ArrayRef, result: ArrayRef) -> Result<ArrayRef> {
    let ty = result.data_type().clone();
    if !matches!(ty, DataType::Float32 | DataType::Float64) {
        return Ok(result);
    }
    let list = cast(list, &DataType::new_list(DataType::Float64, true))?;
    let list = list.as_list::<i32>();
    let mut out = doubles(&result)?;
    for (i, v) in out.iter_mut().enumerate() {
        if v.is_some_and(f64::is_nan) && list.is_valid(i) {
            let others = doubles(&list.value(i))?
                .into_iter()
                .flatten()
                .filter(|x| !x.is_nan())
                .reduce(f64::max);
            if others.is_some() {
                *v = others;
            }
        }
    }
    let out: ArrayRef = Arc::new(Float64Array::from(out));
    Ok(cast(&out, &ty)?)
}

/// `nan()`, `infinity()`: the doubles.
pub(super) fn nan(_: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    Ok(Arc::new(Float64Array::from(vec![f64::NAN])))
}

/// `infinity()`.
pub(super) fn infinity(_: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    Ok(Arc::new(Float64Array::from(vec![f64::INFINITY])))
}

pub(super) fn doubles(a: &ArrayRef) -> Result<Vec<Option<f64>>> {
    let f = cast(a, &DataType::Float64)?;
    Ok(
        f.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .iter()
            .collect(),
    )
}

fn test_double(a: &[ArrayRef], test: fn(f64) -> bool) -> Result<ArrayRef> {
    Ok(Arc::new(
        doubles(&a[0])?
            .into_iter()
            .map(|v| v.map(test))
            .collect::<BooleanArray>(),
    ))
}

/// `is_nan(x)`.
pub(super) fn is_nan(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    test_double(a, f64::is_nan)
}

/// `is_finite(x)`.
pub(super) fn is_finite(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    test_double(a, f64::is_finite)
}

/// `is_infinite(x)`.
pub(super) fn is_infinite(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    test_double(a, f64::is_infinite)
}

/// The type of `sign`, `truncate`, `mod`: an integer stays its type, a
/// decimal a decimal (`sign` of a decimal is `decimal(1, 0)`), the rest double.
pub(super) fn same_number_type(t: &[DataType]) -> Result<DataType> {
    match t.first() {
        Some(d) if d.is_integer() || matches!(d, DataType::Decimal128(..) | DataType::Float32) => {
            Ok(d.clone())
        }
        Some(DataType::Null) | None => Ok(DataType::Float64),
        Some(d) if d.is_numeric() => Ok(DataType::Float64),
        Some(other) => plan_err!("not a number: {other}"),
    }
}

/// `sign(x)`: -1, 0 or 1 of x's type (NaN for NaN).
pub(super) fn sign(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    match a[0].data_type() {
        d if d.is_integer() => {
            let v = integers(&a[0])?;
            let out: ArrayRef = Arc::new(
                v.into_iter()
                    .map(|x| x.map(i64::signum))
                    .collect::<datafusion::arrow::array::Int64Array>(),
            );
            Ok(cast(&out, ret)?)
        }
        DataType::Decimal128(..) => {
            let d = a[0].as_primitive::<Decimal128Type>();
            let out: Decimal128Array = d.iter().map(|v| v.map(i128::signum)).collect();
            let DataType::Decimal128(p, _) = ret else {
                return exec_err!("sign: not a decimal type");
            };
            Ok(Arc::new(out.with_precision_and_scale(*p, 0)?))
        }
        _ => {
            let out: ArrayRef = Arc::new(
                doubles(&a[0])?
                    .into_iter()
                    .map(|x| {
                        x.map(|x| {
                            if x.is_nan() || x == 0.0 {
                                x
                            } else {
                                x.signum()
                            }
                        })
                    })
                    .collect::<Float64Array>(),
            );
            Ok(cast(&out, ret)?)
        }
    }
}

/// `sign`'s type: a decimal's sign is `decimal(1, 0)`.
pub(super) fn sign_type(t: &[DataType]) -> Result<DataType> {
    match t.first() {
        Some(DataType::Decimal128(..)) => Ok(DataType::Decimal128(1, 0)),
        _ => same_number_type(t),
    }
}

/// `truncate(x [, n])`: x cut toward zero (to n decimals), of x's type.
pub(super) fn truncate(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let places = a.get(1).map(integers).transpose()?;
    let n_of = |i: usize| places.as_ref().map_or(Some(0), |p| p[i]);
    match a[0].data_type() {
        d if d.is_integer() && places.is_none() => Ok(a[0].clone()),
        DataType::Decimal128(p, s) => {
            let d = a[0].as_primitive::<Decimal128Type>();
            let s = i32::from(*s);
            let out: Decimal128Array = d
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let (v, n) = (v?, n_of(i)?);
                    let cut = s - n.clamp(-38, 38) as i32;
                    Some(if cut <= 0 {
                        v
                    } else if cut > 38 {
                        0
                    } else {
                        let factor = 10i128.pow(cut as u32);
                        v - v % factor
                    })
                })
                .collect();
            Ok(Arc::new(out.with_precision_and_scale(*p, s as i8)?))
        }
        _ => {
            let out: ArrayRef = Arc::new(
                doubles(&a[0])?
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| {
                        let (x, n) = (x?, n_of(i)?);
                        if n == 0 {
                            return Some(x.trunc());
                        }
                        let factor = 10f64.powi(n.clamp(-308, 308) as i32);
                        Some((x * factor).trunc() / factor)
                    })
                    .collect::<Float64Array>(),
            );
            Ok(cast(&out, ret)?)
        }
    }
}

/// The width in bits of an integer argument (literals are BIGINT).
fn width(t: &DataType) -> u32 {
    match t {
        DataType::Int8 | DataType::UInt8 => 8,
        DataType::Int16 | DataType::UInt16 => 16,
        DataType::Int32 | DataType::UInt32 => 32,
        _ => 64,
    }
}

/// The integer type of `bitwise_*`: the first argument's.
pub(super) fn first_integer_type(t: &[DataType]) -> Result<DataType> {
    match t.first() {
        Some(d) if d.is_integer() => Ok(d.clone()),
        Some(DataType::Null) | None => Ok(DataType::Int64),
        Some(other) => plan_err!("takes integers, not {other}"),
    }
}

/// Applies `f` to the arguments as 64-bit integers (with the first's
/// width), giving the first argument's type.
fn bits(
    a: &[ArrayRef],
    ret: &DataType,
    f: impl Fn(i64, Option<i64>, u32) -> Result<i64>,
) -> Result<ArrayRef> {
    let w = width(a[0].data_type());
    let x = integers(&a[0])?;
    let y = a.get(1).map(integers).transpose()?;
    let out: datafusion::arrow::array::Int64Array = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let second = y.as_ref().map(|y| y[i]);
            match (v, second) {
                (Some(v), None) => f(*v, None, w).map(Some),
                (Some(v), Some(Some(s))) => f(*v, Some(s), w).map(Some),
                _ => Ok(None),
            }
        })
        .collect::<Result<_>>()?;
    Ok(cast(&(Arc::new(out) as ArrayRef), ret)?)
}

/// Sign-extends the low `w` bits.
fn wrap(v: i64, w: u32) -> i64 {
    if w == 64 {
        v
    } else {
        (v << (64 - w)) >> (64 - w)
    }
}

/// `bitwise_and(x, y)`.
pub(super) fn bitwise_and(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    bits(a, ret, |x, y, _| Ok(x & y.unwrap_or(0)))
}

/// `bitwise_or(x, y)`.
pub(super) fn bitwise_or(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    bits(a, ret, |x, y, _| Ok(x | y.unwrap_or(0)))
}

/// `bitwise_xor(x, y)`.
pub(super) fn bitwise_xor(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    bits(a, ret, |x, y, _| Ok(x ^ y.unwrap_or(0)))
}

/// `bitwise_not(x)`.
pub(super) fn bitwise_not(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    bits(a, ret, |x, _, _| Ok(!x))
}

/// `bitwise_left_shift(value, shift)`: within the value's width; 0 past it.
pub(super) fn bitwise_left_shift(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    bits(a, ret, |x, s, w| {
        let s = s.unwrap_or(0);
        Ok(if !(0..i64::from(w)).contains(&s) {
            0
        } else {
            wrap(x << s, w)
        })
    })
}

/// `bitwise_right_shift(value, shift)`: logical, within the value's width.
pub(super) fn bitwise_right_shift(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    bits(a, ret, |x, s, w| {
        let s = s.unwrap_or(0);
        let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
        Ok(if !(0..i64::from(w)).contains(&s) {
            0
        } else {
            wrap((((x as u64) & mask) >> s) as i64, w)
        })
    })
}

/// `bitwise_right_shift_arithmetic(value, shift)`: the sign kept.
pub(super) fn bitwise_right_shift_arithmetic(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    bits(a, ret, |x, s, w| {
        let s = s.unwrap_or(0);
        Ok(if !(0..i64::from(w)).contains(&s) {
            if x < 0 { -1 } else { 0 }
        } else {
            x >> s
        })
    })
}

/// `bit_count(x, bits)`: the 1 bits of x in two's complement of `bits`
/// bits (2 to 64); x must fit.
pub(super) fn bit_count(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    bits(a, &DataType::Int64, |x, b, _| {
        let b = b.unwrap_or(64);
        if !(2..=64).contains(&b) {
            return exec_err!(
                "bit_count: bits specified in bit_count must be between 2 and 64, got {b}"
            );
        }
        let (low, high) = if b == 64 {
            (i64::MIN, i64::MAX)
        } else {
            (-(1i64 << (b - 1)), (1i64 << (b - 1)) - 1)
        };
        if !(low..=high).contains(&x) {
            return exec_err!(
                "bit_count: number must be representable with the bits specified. {x} cannot be represented with {b} bits"
            );
        }
        let mask = if b == 64 { u64::MAX } else { (1u64 << b) - 1 };
        Ok(i64::from(((x as u64) & mask).count_ones()))
    })
}

/// `mod(n, m)`'s type: the two arguments' common numeric type.
pub(super) fn mod_type(t: &[DataType]) -> Result<DataType> {
    let (Some(l), Some(r)) = (t.first(), t.get(1)) else {
        return plan_err!("mod takes two arguments");
    };
    datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer::new(
        l,
        &datafusion::logical_expr::Operator::Modulo,
        r,
    )
    .get_result_type()
}

/// `mod(n, m)`: the remainder with n's sign, as `n % m`; m = 0 is an error.
pub(super) fn modulo(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let (lt, rt) = datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer::new(
        a[0].data_type(),
        &datafusion::logical_expr::Operator::Modulo,
        a[1].data_type(),
    )
    .get_input_types()?;
    let (l, r) = (cast(&a[0], &lt)?, cast(&a[1], &rt)?);
    let rem = datafusion::arrow::compute::kernels::numeric::rem(&l, &r)?;
    Ok(cast(&rem, ret)?)
}

/// `width_bucket(x, bound1, bound2, n)`: the bucket of `x` among `n` equal
/// buckets between the bounds (0 below, n + 1 above; counted from `bound1`,
/// so reversed bounds count down), or `width_bucket(x, bins)`: how many of
/// the ascending `bins` are at most `x`.
pub(super) fn width_bucket(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let x = doubles(&a[0])?;
    let mut out = Vec::with_capacity(x.len());
    if a.len() == 2 {
        let bins = cast(&a[1], &DataType::new_list(DataType::Float64, true))?;
        let bins = bins.as_list::<i32>();
        for (i, x) in x.into_iter().enumerate() {
            let (Some(x), false) = (x, bins.is_null(i)) else {
                out.push(None);
                continue;
            };
            let row = bins.value(i);
            if row.null_count() > 0 {
                return exec_err!("Bin values cannot be NULL");
            }
            if row.is_empty() {
                return exec_err!("Bins cannot be an empty array");
            }
            if x.is_nan() {
                return exec_err!("Operand cannot be NaN");
            }
            let row = row.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            let (mut lower, mut upper) = (0, row.len());
            // Trino's binary search, with its checks on the way.
            while lower < upper {
                if row.value(lower) > row.value(upper - 1) {
                    return exec_err!("Bin values are not sorted in ascending order");
                }
                let index = (lower + upper) / 2;
                let bin = row.value(index);
                if !bin.is_finite() {
                    return exec_err!("Bin value must be finite, got {bin}");
                }
                if x < bin {
                    upper = index;
                } else {
                    lower = index + 1;
                }
            }
            out.push(Some(lower as i64));
        }
        return Ok(Arc::new(Int64Array::from(out)));
    }
    let (b1, b2, n) = (doubles(&a[1])?, doubles(&a[2])?, integers(&a[3])?);
    for i in 0..x.len() {
        let (Some(x), Some(b1), Some(b2), Some(n)) = (x[i], b1[i], b2[i], n[i]) else {
            out.push(None);
            continue;
        };
        if n <= 0 {
            return exec_err!("bucketCount must be greater than 0");
        }
        if x.is_nan() {
            return exec_err!("operand must not be NaN");
        }
        if !b1.is_finite() || !b2.is_finite() {
            return exec_err!("bounds must be finite");
        }
        if b1 == b2 {
            return exec_err!("bounds cannot equal each other");
        }
        let (lower, upper) = (b1.min(b2), b1.max(b2));
        let bucket = if x < lower {
            0
        } else if x >= upper {
            n.checked_add(1).ok_or_else(|| {
                DataFusionError::Execution("Bucket for value is out of range".into())
            })?
        } else {
            (n as f64 * (x - lower) / (upper - lower) + 1.0) as i64
        };
        out.push(Some(if b1 > b2 { n - bucket + 1 } else { bucket }));
    }
    Ok(Arc::new(Int64Array::from(out)))
}

fn radix_of(r: i64) -> Result<u32> {
    if (2..=36).contains(&r) {
        Ok(r as u32)
    } else {
        exec_err!("Radix must be between 2 and 36")
    }
}

/// `from_base(text, radix)`: the BIGINT the text spells in that radix (a
/// sign allowed, as Java's `Long.parseLong`).
pub(super) fn from_base(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (texts, radixes) = (texts(&a[0])?, integers(&a[1])?);
    let mut out = Vec::with_capacity(texts.len());
    for (t, r) in texts.into_iter().zip(radixes) {
        let (Some(t), Some(r)) = (t, r) else {
            out.push(None);
            continue;
        };
        let radix = radix_of(r)?;
        match i64::from_str_radix(&t, radix) {
            Ok(v) => out.push(Some(v)),
            Err(_) => return exec_err!("Not a valid base-{radix} number: {t}"),
        }
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// `to_base(x, radix)`: `x` written in that radix, lower-case digits and a
/// leading `-` when negative.
pub(super) fn to_base(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (values, radixes) = (integers(&a[0])?, integers(&a[1])?);
    let mut out = StringBuilder::new();
    for (v, r) in values.into_iter().zip(radixes) {
        let (Some(v), Some(r)) = (v, r) else {
            out.append_null();
            continue;
        };
        let radix = radix_of(r)?;
        let mut n = v.unsigned_abs();
        let mut digits = Vec::new();
        loop {
            digits.push(
                std::char::from_digit((n % u64::from(radix)) as u32, radix)
                    .expect("digit below radix"),
            );
            n /= u64::from(radix);
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            digits.push('-');
        }
        out.append_value(digits.iter().rev().collect::<String>());
    }
    Ok(Arc::new(out.finish()))
}

/// `normal_cdf(mean, sd, v)`: the normal distribution's cumulative
/// probability at v; sd must be positive.
pub(super) fn normal_cdf(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (means, sds, vs) = (doubles(&a[0])?, doubles(&a[1])?, doubles(&a[2])?);
    let out = (0..vs.len())
        .map(|i| match (means[i], sds[i], vs[i]) {
            (Some(m), Some(sd), Some(v)) => {
                // NaN is not above zero either.
                if sd.is_nan() || sd <= 0.0 {
                    return exec_err!("normal_cdf: standardDeviation must be > 0");
                }
                Ok(Some(
                    0.5 * libm::erfc((m - v) / (sd * std::f64::consts::SQRT_2)),
                ))
            }
            _ => Ok(None),
        })
        .collect::<Result<Float64Array>>()?;
    Ok(Arc::new(out))
}

/// `random(n)`: a random integer from 0 up to n (exclusive), of n's type;
/// n must be positive.
pub(super) fn random_below(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    use rand::Rng as _;
    let mut rng = rand::rng();
    let out = integers(&a[0])?
        .into_iter()
        .map(|n| match n {
            Some(n) if n <= 0 => exec_err!("bound must be positive"),
            Some(n) => Ok(Some(rng.random_range(0..n))),
            None => Ok(None),
        })
        .collect::<Result<Int64Array>>()?;
    Ok(cast(&(Arc::new(out) as ArrayRef), ret)?)
}

/// `t_cdf(x, df)`: Student's t distribution's cumulative probability at x
/// with df degrees of freedom (df must be positive), through the
/// regularized incomplete beta function, as Trino's (commons-math) is.
pub(super) fn t_cdf(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (xs, dfs) = (doubles(&a[0])?, doubles(&a[1])?);
    let out = (0..xs.len())
        .map(|i| match (xs[i], dfs[i]) {
            (Some(x), Some(df)) => {
                if df.is_nan() || df <= 0.0 {
                    return exec_err!("t_cdf: degreesOfFreedom must be greater than 0");
                }
                if x == 0.0 {
                    return Ok(Some(0.5));
                }
                let tail = 0.5 * regularized_beta(df / (df + x * x), 0.5 * df, 0.5);
                Ok(Some(if x < 0.0 { tail } else { 1.0 - tail }))
            }
            _ => Ok(None),
        })
        .collect::<Result<Float64Array>>()?;
    Ok(Arc::new(out))
}

/// `beta_cdf(a, b, v)`: the beta distribution's cumulative probability at
/// v, the regularized incomplete beta function; a and b must be positive
/// and v within [0, 1].
pub(super) fn beta_cdf(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (alphas, betas, vs) = (doubles(&a[0])?, doubles(&a[1])?, doubles(&a[2])?);
    let out = (0..vs.len())
        .map(|i| match (alphas[i], betas[i], vs[i]) {
            (Some(alpha), Some(beta), Some(v)) => {
                if alpha.is_nan() || alpha <= 0.0 {
                    return exec_err!("beta_cdf: a must be > 0");
                }
                if beta.is_nan() || beta <= 0.0 {
                    return exec_err!("beta_cdf: b must be > 0");
                }
                if !(0.0..=1.0).contains(&v) {
                    return exec_err!("beta_cdf: value must be in the interval [0, 1]");
                }
                Ok(Some(regularized_beta(v, alpha, beta)))
            }
            _ => Ok(None),
        })
        .collect::<Result<Float64Array>>()?;
    Ok(Arc::new(out))
}

/// The regularized incomplete beta function I_x(a, b), by its continued
/// fraction (modified Lentz), on the side of x where it converges fast.
fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - regularized_beta(1.0 - x, b, a);
    }
    let log_beta = libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b);
    let front = (a * x.ln() + b * (1.0 - x).ln() - log_beta).exp() / a;
    const TINY: f64 = 1e-300;
    let (mut f, mut c, mut d) = (1.0, 1.0, 0.0);
    for i in 0..=10_000u32 {
        let m = f64::from(i / 2);
        let numerator = if i == 0 {
            1.0
        } else if i % 2 == 0 {
            (m * (b - m) * x) / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
        } else {
            -((a + m) * (a + b + m) * x) / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        };
        d = 1.0 + numerator * d;
        if d.abs() < TINY {
            d = TINY;
        }
        d = 1.0 / d;
        c = 1.0 + numerator / c;
        if c.abs() < TINY {
            c = TINY;
        }
        let step = c * d;
        f *= step;
        if (1.0 - step).abs() < 1e-16 {
            break;
        }
    }
    front * (f - 1.0)
}

/// A function of two arrays of doubles, row by row: NULL when either array
/// or any element is NULL, an error for lengths that differ.
fn vectors(a: &[ArrayRef], f: impl Fn(&[f64], &[f64]) -> Result<f64>) -> Result<ArrayRef> {
    let list_type = DataType::new_list(DataType::Float64, true);
    let (first, second) = (cast(&a[0], &list_type)?, cast(&a[1], &list_type)?);
    let (first, second) = (first.as_list::<i32>(), second.as_list::<i32>());
    let mut out = Vec::with_capacity(first.len());
    for row in 0..first.len() {
        if first.is_null(row) || second.is_null(row) {
            out.push(None);
            continue;
        }
        let (x, y) = (first.value(row), second.value(row));
        if x.len() != y.len() {
            return exec_err!("The arguments must have the same length");
        }
        if x.null_count() > 0 || y.null_count() > 0 {
            out.push(None);
            continue;
        }
        let x = x.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        let y = y.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        out.push(Some(f(x.values(), y.values())?));
    }
    Ok(Arc::new(Float64Array::from(out)))
}

/// `cosine_similarity(x, y)` of two arrays as Trino computes it: the dot
/// product over the root of the product of the squared magnitudes (so a
/// vector is exactly 1 from itself), NULL when an element is NULL, an error
/// for lengths that differ or a zero magnitude.
pub(super) fn cosine_similarity(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    vectors(a, |x, y| {
        let (mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0);
        for (x, y) in x.iter().zip(y) {
            xx += x * x;
            yy += y * y;
            xy += x * y;
        }
        if xx == 0.0 || yy == 0.0 {
            return exec_err!("Vector magnitude cannot be zero");
        }
        Ok(xy / (xx * yy).sqrt())
    })
}

/// `euclidean_distance(x, y)`: the length of x - y, in doubles (a REAL's
/// values widened first, as Trino's); NULL when an element is NULL, an
/// error for lengths that differ.
pub(super) fn euclidean_distance(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    vectors(a, |x, y| {
        Ok(x.iter()
            .zip(y)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt())
    })
}

/// `cosine_distance(x, y)`: 1 - `cosine_similarity(x, y)`.
pub(super) fn cosine_distance(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let similarity = cosine_similarity(a, ret)?;
    let similarity = similarity.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
    let out: Float64Array = similarity.iter().map(|s| s.map(|s| 1.0 - s)).collect();
    Ok(Arc::new(out))
}

/// The type of Trino's DECIMAL quotient, modelled on SQL Server's: the
/// scale is at least 6 and room for the divisor's digits (`DECIMAL '1' /
/// DECIMAL '3'` is decimal(7,6)); past 38 digits the scale gives way, down
/// to 6. (Arrow's quotient has the dividend's scale plus 4.)
pub(super) fn quotient_type(t: &[DataType]) -> Result<DataType> {
    let (Some(DataType::Decimal128(p1, s1)), Some(DataType::Decimal128(p2, s2))) =
        (t.first(), t.get(1))
    else {
        return plan_err!("decimal division of {t:?}");
    };
    let (p1, s1, p2, s2) = (
        i32::from(*p1),
        i32::from(*s1),
        i32::from(*p2),
        i32::from(*s2),
    );
    let raw_scale = (s1 + p2 + 1).max(6);
    let (precision, scale) = fitted(p1 - s1 + s2 + raw_scale, raw_scale);
    Ok(DataType::Decimal128(precision, scale))
}

/// A DECIMAL type of `raw_precision` and `raw_scale` fitted into 38 digits
/// as Trino (after SQL Server) fits a quotient or product: the integral
/// digits stay, the scale gives way, though not below 6 when more than 32
/// integral digits would leave less.
fn fitted(raw_precision: i32, raw_scale: i32) -> (u8, i8) {
    let integral = raw_precision - raw_scale;
    let scale = raw_scale.min(if integral > 32 { 6 } else { 38 - integral });
    // Both fit: the precision is at most 38, the scale at most 38 - integral.
    (raw_precision.min(38) as u8, scale.max(0) as i8)
}

/// `|x| / |y|` rounded half up, the rounding of every DECIMAL result here.
fn divided_half_up(
    x: datafusion::arrow::datatypes::i256,
    y: datafusion::arrow::datatypes::i256,
) -> datafusion::arrow::datatypes::i256 {
    let (x, y) = (x.wrapping_abs(), y.wrapping_abs());
    let (q, r) = (x.wrapping_div(y), x.wrapping_rem(y));
    if r.wrapping_add(r) >= y {
        q.wrapping_add(datafusion::arrow::datatypes::i256::ONE)
    } else {
        q
    }
}

/// `trino_decimal_divide(a, b)`: the DECIMAL quotient in [`quotient_type`],
/// rounded half away from zero as Trino rounds it (Arrow's cuts), an error
/// on a zero divisor or a quotient past the type's digits.
pub(super) fn decimal_divide(a: &[ArrayRef], to: &DataType) -> Result<ArrayRef> {
    use datafusion::arrow::datatypes::i256;
    let DataType::Decimal128(_, s) = to else {
        return exec_err!("decimal division to {to}");
    };
    let s = i32::from(*s);
    wide_decimal(a, to, |x, s1, y, s2| {
        if y == i256::ZERO {
            return exec_err!("Division by zero");
        }
        // The quotient's unscaled value is x * 10^(s - s1 + s2) / y; a
        // product past 256 bits is a quotient past 38 digits.
        let shift = s - s1 + s2;
        let (x, y) = if shift >= 0 {
            (x.checked_mul(ten(shift)).ok_or_else(decimal_overflow)?, y)
        } else {
            (x, y.checked_mul(ten(shift)).ok_or_else(decimal_overflow)?)
        };
        let q = divided_half_up(x, y);
        let negative = x.is_negative() != y.is_negative();
        Ok((if negative { q.wrapping_neg() } else { q }, s))
    })
}

/// Trino's type of a DECIMAL sum or difference (`add`) or product, when it
/// differs from Arrow's: past 38 digits Trino keeps the integral digits and
/// gives up scale (`DECIMAL '10' + DECIMAL '0.000...1'` has scale 36),
/// where Arrow keeps the scale and overflows. None where the two agree in
/// value (a product's precision is one less in Trino, the digits the same).
pub(super) fn wide_decimal_type(add: bool, left: &DataType, right: &DataType) -> Option<DataType> {
    let (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) = (left, right) else {
        return None;
    };
    let (p1, s1, p2, s2) = (
        i32::from(*p1),
        i32::from(*s1),
        i32::from(*p2),
        i32::from(*s2),
    );
    let (precision, scale) = if add {
        let integral = (p1 - s1).max(p2 - s2);
        let raw_scale = s1.max(s2);
        if raw_scale + integral < 38 {
            return None;
        }
        // A sum keeps its integral digits, with no floor on the scale.
        (38, (raw_scale.min(38 - integral)).max(0) as i8)
    } else {
        if p1 + p2 <= 38 {
            return None;
        }
        fitted(p1 + p2, s1 + s2)
    };
    Some(DataType::Decimal128(precision, scale))
}

/// The type of `trino_decimal_add`.
pub(super) fn sum_type(t: &[DataType]) -> Result<DataType> {
    wide_decimal_type(true, &t[0], &t[1])
        .ok_or_else(|| plan_datafusion_err!("decimal sum of {t:?}"))
}

/// The type of `trino_decimal_multiply`.
pub(super) fn product_type(t: &[DataType]) -> Result<DataType> {
    wide_decimal_type(false, &t[0], &t[1])
        .ok_or_else(|| plan_datafusion_err!("decimal product of {t:?}"))
}

/// `trino_decimal_add(a, b)`: a sum (a difference is the sum with `-b`) in
/// [`wide_decimal_type`], rounded half away from zero to its scale, an
/// error past 38 digits or where Trino's 128-bit sum overflows.
pub(super) fn decimal_add(a: &[ArrayRef], to: &DataType) -> Result<ArrayRef> {
    wide_decimal(a, to, |x, s1, y, s2| {
        let scale = s1.max(s2);
        let x = in_128_bits(x.checked_mul(ten(scale - s1)))?;
        let y = in_128_bits(y.checked_mul(ten(scale - s2)))?;
        Ok((in_128_bits(x.checked_add(y))?, scale))
    })
}

/// `v` if it fits the signed 128 bits in which Trino adds and multiplies
/// DECIMALs before rounding: past them Trino fails with a decimal
/// overflow even where the rounded result would fit.
fn in_128_bits(
    v: Option<datafusion::arrow::datatypes::i256>,
) -> Result<datafusion::arrow::datatypes::i256> {
    v.filter(|v| v.to_i128().is_some())
        .ok_or_else(decimal_overflow)
}

fn decimal_overflow() -> DataFusionError {
    DataFusionError::Execution("Decimal overflow".to_string())
}

/// `trino_decimal_multiply(a, b)`: a product in [`wide_decimal_type`],
/// rounded half away from zero to its scale, an error past 38 digits or
/// where Trino's 128-bit product overflows.
pub(super) fn decimal_multiply(a: &[ArrayRef], to: &DataType) -> Result<ArrayRef> {
    wide_decimal(a, to, |x, s1, y, s2| {
        Ok((in_128_bits(x.checked_mul(y))?, s1 + s2))
    })
}

fn ten(n: i32) -> datafusion::arrow::datatypes::i256 {
    datafusion::arrow::datatypes::i256::from_i128(10).wrapping_pow(n.unsigned_abs())
}

/// Two DECIMAL columns combined in 256 bits by `combine` (which gives the
/// value and its scale), then rounded half away from zero to `to`'s scale;
/// an error past `to`'s digits.
fn wide_decimal(
    a: &[ArrayRef],
    to: &DataType,
    combine: impl Fn(
        datafusion::arrow::datatypes::i256,
        i32,
        datafusion::arrow::datatypes::i256,
        i32,
    ) -> Result<(datafusion::arrow::datatypes::i256, i32)>,
) -> Result<ArrayRef> {
    use datafusion::arrow::datatypes::i256;
    let (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2), DataType::Decimal128(p, s)) =
        (a[0].data_type(), a[1].data_type(), to)
    else {
        return exec_err!(
            "decimal arithmetic of {} and {}",
            a[0].data_type(),
            a[1].data_type()
        );
    };
    let limit = ten(i32::from(*p));
    let (xs, ys) = (
        a[0].as_primitive::<Decimal128Type>(),
        a[1].as_primitive::<Decimal128Type>(),
    );
    let mut out = Vec::with_capacity(xs.len());
    for (x, y) in xs.iter().zip(ys.iter()) {
        let (Some(x), Some(y)) = (x, y) else {
            out.push(None);
            continue;
        };
        let (exact, scale) = combine(
            i256::from_i128(x),
            i32::from(*s1),
            i256::from_i128(y),
            i32::from(*s2),
        )?;
        let drop = scale - i32::from(*s);
        let negative = exact.is_negative();
        let v = if drop > 0 {
            divided_half_up(exact, ten(drop))
        } else {
            exact.wrapping_abs()
        };
        if v >= limit {
            return Err(decimal_overflow());
        }
        let v = v.to_i128().ok_or_else(decimal_overflow)?;
        out.push(Some(if negative { -v } else { v }));
    }
    Ok(Arc::new(
        Decimal128Array::from(out).with_precision_and_scale(*p, *s)?,
    ))
}

/// The wider of two signed integer types: the type of their sum,
/// difference or product, as Trino's (and DataFusion's) coercion gives it.
pub(super) fn wider_integer(t: &[DataType]) -> Result<DataType> {
    let width = |t: &DataType| match t {
        DataType::Int8 => Ok(1),
        DataType::Int16 => Ok(2),
        DataType::Int32 => Ok(4),
        DataType::Int64 => Ok(8),
        other => plan_err!("integer arithmetic on {other}"),
    };
    Ok(if width(&t[0])? >= width(&t[1])? {
        t[0].clone()
    } else {
        t[1].clone()
    })
}

/// Both sides in `to`, then Arrow's checked kernel `op`, whose overflow is
/// an error naming the operation, as Trino's.
fn checked(
    a: &[ArrayRef],
    to: &DataType,
    what: &str,
    op: fn(
        &dyn datafusion::arrow::array::Datum,
        &dyn datafusion::arrow::array::Datum,
    ) -> std::result::Result<ArrayRef, datafusion::arrow::error::ArrowError>,
) -> Result<ArrayRef> {
    let (l, r) = (cast(&a[0], to)?, cast(&a[1], to)?);
    op(&l, &r).map_err(|e| match e {
        datafusion::arrow::error::ArrowError::ArithmeticOverflow(detail) => {
            DataFusionError::Execution(format!(
                "{} {what} overflow: {detail}",
                super::types::trino_name(to)
            ))
        }
        other => other.into(),
    })
}

/// `trino_checked_add(a, b)`: `a + b`, failing on overflow.
pub(super) fn checked_add(a: &[ArrayRef], to: &DataType) -> Result<ArrayRef> {
    checked(
        a,
        to,
        "addition",
        datafusion::arrow::compute::kernels::numeric::add,
    )
}

/// `trino_checked_subtract(a, b)`: `a - b`, failing on overflow.
pub(super) fn checked_subtract(a: &[ArrayRef], to: &DataType) -> Result<ArrayRef> {
    checked(
        a,
        to,
        "subtraction",
        datafusion::arrow::compute::kernels::numeric::sub,
    )
}

/// `trino_checked_multiply(a, b)`: `a * b`, failing on overflow.
pub(super) fn checked_multiply(a: &[ArrayRef], to: &DataType) -> Result<ArrayRef> {
    checked(
        a,
        to,
        "multiplication",
        datafusion::arrow::compute::kernels::numeric::mul,
    )
}
