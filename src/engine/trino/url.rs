//! Trino's URL functions: `url_extract_protocol`, `_host`, `_port`,
//! `_path`, `_query`, `_fragment`, `_parameter`, and `url_encode` /
//! `url_decode` (form encoding: a space is `+`).

use super::*;

/// A URL's part, NULL when the text is not a URL.
fn url_part(a: &[ArrayRef], part: fn(&::url::Url) -> Option<String>) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for v in texts(&a[0])? {
        out.append_option(
            v.and_then(|t| ::url::Url::parse(&t).ok())
                .and_then(|u| part(&u)),
        );
    }
    Ok(Arc::new(out.finish()))
}

/// `url_extract_protocol(url)`.
pub(super) fn url_extract_protocol(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    url_part(a, |u| Some(u.scheme().to_string()))
}

/// `url_extract_host(url)`.
pub(super) fn url_extract_host(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    url_part(a, |u| u.host_str().map(String::from))
}

/// `url_extract_path(url)`.
pub(super) fn url_extract_path(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    url_part(a, |u| Some(u.path().to_string()))
}

/// `url_extract_query(url)`: the text after `?`, `''` when there is none.
pub(super) fn url_extract_query(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    url_part(a, |u| Some(u.query().unwrap_or_default().to_string()))
}

/// `url_extract_fragment(url)`: the text after `#`, `''` when there is none.
pub(super) fn url_extract_fragment(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    url_part(a, |u| Some(u.fragment().unwrap_or_default().to_string()))
}

/// `url_extract_port(url)`: the port written in the URL, NULL if none.
pub(super) fn url_extract_port(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = Int64Builder::new();
    for v in texts(&a[0])? {
        out.append_option(
            v.and_then(|t| ::url::Url::parse(&t).ok())
                .and_then(|u| u.port())
                .map(i64::from),
        );
    }
    Ok(Arc::new(out.finish()))
}

/// `url_extract_parameter(url, name)`: the first value of the query
/// parameter, NULL when absent.
pub(super) fn url_extract_parameter(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (urls, names) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = StringBuilder::new();
    for (u, n) in urls.into_iter().zip(names) {
        let (Some(u), Some(n)) = (u, n) else {
            out.append_null();
            continue;
        };
        let query = ::url::Url::parse(&u)
            .ok()
            .and_then(|u| u.query().map(String::from));
        out.append_option(query.and_then(|q| {
            q.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k == n).then(|| v.to_string())
            })
        }));
    }
    Ok(Arc::new(out.finish()))
}

/// `url_encode(value)`: letters, digits and `.-*_` stay, a space is `+`,
/// every other byte `%XX`.
pub(super) fn url_encode(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for v in texts(&a[0])? {
        out.append_option(v.map(|t| {
            let mut s = String::with_capacity(t.len());
            for b in t.bytes() {
                match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                        s.push(char::from(b))
                    }
                    b' ' => s.push('+'),
                    other => s.push_str(&format!("%{other:02X}")),
                }
            }
            s
        }));
    }
    Ok(Arc::new(out.finish()))
}

/// `url_decode(value)`: `+` is a space, `%XX` a byte; malformed escapes
/// are an error.
pub(super) fn url_decode(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for v in texts(&a[0])? {
        let Some(t) = v else {
            out.append_null();
            continue;
        };
        let b = t.as_bytes();
        let mut bytes = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => bytes.push(b' '),
                b'%' => {
                    let hex = t
                        .get(i + 1..i + 3)
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    let Some(byte) = hex else {
                        return exec_err!("url_decode: malformed escape in {t:?}");
                    };
                    bytes.push(byte);
                    i += 2;
                }
                other => bytes.push(other),
            }
            i += 1;
        }
        out.append_value(String::from_utf8_lossy(&bytes));
    }
    Ok(Arc::new(out.finish()))
}
