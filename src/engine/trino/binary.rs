//! Trino's VARBINARY functions: `to_utf8`, `from_utf8`, `to_base64`,
//! `from_base64`, `crc32`, `xxhash64`.

use base64::Engine as _;
use datafusion::arrow::array::BinaryBuilder;

use super::*;

/// The argument as bytes (text is its UTF-8).
fn bytes(a: &ArrayRef) -> Result<Vec<Option<Vec<u8>>>> {
    let b = cast(a, &DataType::Binary)?;
    let b = b.as_binary::<i32>();
    Ok(b.iter().map(|v| v.map(<[u8]>::to_vec)).collect())
}

fn binary_of(values: impl Iterator<Item = Option<Vec<u8>>>) -> ArrayRef {
    let mut out = BinaryBuilder::new();
    for v in values {
        out.append_option(v);
    }
    Arc::new(out.finish())
}

/// `to_utf8(varchar)`: the text's UTF-8 bytes.
pub(super) fn to_utf8(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    Ok(binary_of(bytes(&a[0])?.into_iter()))
}

/// `from_utf8(varbinary)`: the bytes as text, invalid sequences replaced
/// by U+FFFD as Trino does.
pub(super) fn from_utf8(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for v in bytes(&a[0])? {
        out.append_option(v.map(|b| String::from_utf8_lossy(&b).into_owned()));
    }
    Ok(Arc::new(out.finish()))
}

/// `to_base64(varbinary)`.
pub(super) fn to_base64(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for v in bytes(&a[0])? {
        out.append_option(v.map(|b| base64::engine::general_purpose::STANDARD.encode(b)));
    }
    Ok(Arc::new(out.finish()))
}

/// `from_base64(varchar)`: an error on text that is not base64.
pub(super) fn from_base64(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let decoded = texts(&a[0])?
        .into_iter()
        .map(|v| {
            v.map(|t| {
                base64::engine::general_purpose::STANDARD
                    .decode(t.as_bytes())
                    .map_err(|e| DataFusionError::Execution(format!("from_base64: {e}")))
            })
            .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(binary_of(decoded.into_iter()))
}

/// `crc32(varbinary)`: the CRC-32 as a bigint.
pub(super) fn crc32(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = Int64Builder::new();
    for v in bytes(&a[0])? {
        out.append_option(v.map(|b| i64::from(crc32fast::hash(&b))));
    }
    Ok(Arc::new(out.finish()))
}

/// `xxhash64(varbinary)`: the 64-bit xxHash (seed 0), 8 bytes big-endian.
pub(super) fn xxhash64(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    Ok(binary_of(bytes(&a[0])?.into_iter().map(|v| {
        v.map(|b| twox_hash::XxHash64::oneshot(0, &b).to_be_bytes().to_vec())
    })))
}
