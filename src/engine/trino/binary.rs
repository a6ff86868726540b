//! Trino's VARBINARY functions: `to_utf8`, `from_utf8`, `to_base64`,
//! `from_base64`, `crc32`, `xxhash64`, `from_hex`, `to_hex`, the digests
//! (`md5`, `sha1`, `sha256`, `sha512`, `hmac_sha1`...), and the big-endian and
//! IEEE 754 encodings of numbers (`from_big_endian_64`, `to_ieee754_32`...).

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

/// Trino's byte functions take VARBINARY only (no text, whose bytes
/// `to_utf8` gives).
fn takes_bytes(name: &str, a: &[ArrayRef]) -> Result<()> {
    for x in a {
        if !matches!(
            x.data_type(),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::Null
        ) {
            return exec_err!(
                "{name} takes a VARBINARY, not {} (to_utf8 gives a text's bytes)",
                x.data_type()
            );
        }
    }
    Ok(())
}

/// `to_hex(varbinary)`: the bytes in upper-case hex digits. Trino's takes
/// bytes only (DataFusion's takes integers, which Trino refuses).
pub(super) fn to_hex(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    takes_bytes("to_hex", &a[..1])?;
    let out: datafusion::arrow::array::StringArray = bytes(&a[0])?
        .into_iter()
        .map(|b| b.map(|b| b.iter().map(|x| format!("{x:02X}")).collect::<String>()))
        .collect();
    Ok(Arc::new(out))
}

/// A digest of each value's bytes (a VARBINARY, as Trino's digests take).
fn digest_each(a: &ArrayRef, name: &str, digest: impl Fn(&[u8]) -> Vec<u8>) -> Result<ArrayRef> {
    takes_bytes(name, std::slice::from_ref(a))?;
    Ok(binary_of(
        bytes(a)?.into_iter().map(|b| b.map(|b| digest(&b))),
    ))
}

fn ring_digest(algorithm: &'static ring::digest::Algorithm) -> impl Fn(&[u8]) -> Vec<u8> {
    move |b| ring::digest::digest(algorithm, b).as_ref().to_vec()
}

/// `md5(varbinary)`: the 16-byte MD5 digest.
pub(super) fn md5(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    use md5::Digest as _;
    digest_each(&a[0], "md5", |b| md5::Md5::digest(b).to_vec())
}

/// `sha1(varbinary)`: the 20-byte SHA-1 digest.
pub(super) fn sha1(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    digest_each(
        &a[0],
        "sha1",
        ring_digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
    )
}

/// `sha256(varbinary)`: the 32-byte SHA-256 digest.
pub(super) fn sha256(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    digest_each(&a[0], "sha256", ring_digest(&ring::digest::SHA256))
}

/// `sha512(varbinary)`: the 64-byte SHA-512 digest.
pub(super) fn sha512(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    digest_each(&a[0], "sha512", ring_digest(&ring::digest::SHA512))
}

/// An HMAC of each value with each key (both VARBINARY).
fn hmac_each(a: &[ArrayRef], name: &str, algorithm: ring::hmac::Algorithm) -> Result<ArrayRef> {
    takes_bytes(name, a)?;
    let (values, keys) = (bytes(&a[0])?, bytes(&a[1])?);
    Ok(binary_of(values.into_iter().zip(keys).map(|(v, k)| {
        let (v, k) = (v?, k?);
        let key = ring::hmac::Key::new(algorithm, &k);
        Some(ring::hmac::sign(&key, &v).as_ref().to_vec())
    })))
}

/// `hmac_sha1(value, key)`.
pub(super) fn hmac_sha1(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    hmac_each(a, "hmac_sha1", ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY)
}

/// `hmac_sha256(value, key)`.
pub(super) fn hmac_sha256(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    hmac_each(a, "hmac_sha256", ring::hmac::HMAC_SHA256)
}

/// `hmac_sha512(value, key)`.
pub(super) fn hmac_sha512(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    hmac_each(a, "hmac_sha512", ring::hmac::HMAC_SHA512)
}

/// `from_hex(varchar)`: the bytes the hex digits spell (either case); an
/// odd number of digits or another character is an error, as in Trino.
pub(super) fn from_hex(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = BinaryBuilder::new();
    for s in texts(&a[0])? {
        let Some(s) = s else {
            out.append_null();
            continue;
        };
        if s.len() % 2 != 0 {
            return exec_err!("invalid input length {}", s.len());
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => exec_err!("invalid hex character: {}", char::from(c)),
        };
        let bytes = s
            .as_bytes()
            .chunks(2)
            .map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?))
            .collect::<Result<Vec<u8>>>()?;
        out.append_value(bytes);
    }
    Ok(Arc::new(out.finish()))
}

/// The bytes of each row, which must be exactly `N` long.
fn exact<const N: usize>(a: &ArrayRef, name: &str) -> Result<Vec<Option<[u8; N]>>> {
    bytes(a)?
        .into_iter()
        .map(|b| match b {
            None => Ok(None),
            Some(b) => match <[u8; N]>::try_from(b.as_slice()) {
                Ok(fixed) => Ok(Some(fixed)),
                Err(_) => exec_err!("{name}: expected {N} bytes, found {}", b.len()),
            },
        })
        .collect()
}

/// Each row's exactly `N` bytes decoded by `decode` into `T`'s values.
fn decode<const N: usize, T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
    a: &ArrayRef,
    name: &str,
    decode: fn([u8; N]) -> T::Native,
) -> Result<ArrayRef> {
    let values: datafusion::arrow::array::PrimitiveArray<T> = exact::<N>(a, name)?
        .into_iter()
        .map(|b| b.map(decode))
        .collect();
    Ok(Arc::new(values))
}

/// `from_big_endian_32(varbinary)`: a 4-byte two's complement integer.
pub(super) fn from_big_endian_32(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    decode::<4, datafusion::arrow::datatypes::Int32Type>(
        &a[0],
        "from_big_endian_32",
        i32::from_be_bytes,
    )
}

/// `from_big_endian_64(varbinary)`: an 8-byte two's complement integer.
pub(super) fn from_big_endian_64(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    decode::<8, datafusion::arrow::datatypes::Int64Type>(
        &a[0],
        "from_big_endian_64",
        i64::from_be_bytes,
    )
}

/// `from_ieee754_32(varbinary)`: a REAL from its 4 big-endian bytes.
pub(super) fn from_ieee754_32(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    decode::<4, datafusion::arrow::datatypes::Float32Type>(
        &a[0],
        "from_ieee754_32",
        f32::from_be_bytes,
    )
}

/// `from_ieee754_64(varbinary)`: a DOUBLE from its 8 big-endian bytes.
pub(super) fn from_ieee754_64(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    decode::<8, datafusion::arrow::datatypes::Float64Type>(
        &a[0],
        "from_ieee754_64",
        f64::from_be_bytes,
    )
}

/// Each row cast to `T`, as the big-endian bytes `encode` gives.
fn encode<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
    a: &ArrayRef,
    encode: fn(T::Native) -> Vec<u8>,
) -> Result<ArrayRef> {
    let values = cast(a, &T::DATA_TYPE)?;
    Ok(binary_of(
        values.as_primitive::<T>().iter().map(|v| v.map(encode)),
    ))
}

/// `to_ieee754_32(real)`: its 4 big-endian bytes.
pub(super) fn to_ieee754_32(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    encode::<datafusion::arrow::datatypes::Float32Type>(&a[0], |x| x.to_be_bytes().to_vec())
}

/// `to_ieee754_64(double)`: its 8 big-endian bytes.
pub(super) fn to_ieee754_64(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    encode::<datafusion::arrow::datatypes::Float64Type>(&a[0], |x| x.to_be_bytes().to_vec())
}

/// `to_big_endian_32(integer)`, `to_big_endian_64(bigint)`: the bytes.
pub(super) fn to_big_endian_32(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let v = integers(&a[0])?;
    v.iter()
        .map(|x| {
            x.map(|x| {
                i32::try_from(x)
                    .map(|x| x.to_be_bytes().to_vec())
                    .map_err(|_| {
                        DataFusionError::Execution(format!(
                            "to_big_endian_32: {x} is not an INTEGER"
                        ))
                    })
            })
            .transpose()
        })
        .collect::<Result<Vec<_>>>()
        .map(|v| binary_of(v.into_iter()))
}

pub(super) fn to_big_endian_64(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    encode::<datafusion::arrow::datatypes::Int64Type>(&a[0], |x| x.to_be_bytes().to_vec())
}
