//! The library's one error type: each variant says what failed and where.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Everything that can go wrong inside Strata, with the place it went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing, malformed or contradicts another one.
    #[error("configuration: {0}")]
    Config(String),

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A CSV file (the legacy extract or a raw table) does not follow its schema.
    #[error("{file}:{line}: {message}")]
    Csv {
        /// The file, as the user named it or as its lake key.
        file: String,
        /// 1-based physical line of the record that failed.
        line: u64,
        /// What is wrong with it.
        message: String,
    },

    /// A model file is malformed (directives, statement shape).
    #[error("{file}: {message}")]
    Model {
        /// The model's SQL file.
        file: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// The models' dependencies cannot be ordered or selected.
    #[error("{0}")]
    Dag(String),

    /// A SQL statement from a file failed to plan or run.
    #[error("{file}{position}: {message}")]
    Sql {
        /// The SQL file the statement came from.
        file: PathBuf,
        /// `:line:column` when DataFusion reports a position, else empty.
        position: String,
        /// DataFusion's message.
        message: String,
    },

    /// The legacy source failed (connection, query, a value that cannot be read).
    #[error("source {0}")]
    Source(String),

    /// The lake's storage failed.
    #[error("lake {key}: {message}")]
    Lake {
        /// The object key or table involved.
        key: String,
        /// What failed.
        message: String,
    },

    /// Another Strata process holds the lake.
    #[error("lake {0} is locked by another strata run; wait for it or remove a stale lock")]
    Locked(String),

    /// DataFusion failed outside a file's statement (catalog, execution).
    #[error(transparent)]
    DataFusion(#[from] Box<DataFusionError>),

    /// The object store failed.
    #[error(transparent)]
    ObjectStore(#[from] object_store::Error),
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        Error::DataFusion(Box::new(e))
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Error::DataFusion(Box::new(DataFusionError::ArrowError(Box::new(e), None)))
    }
}

impl From<datafusion::parquet::errors::ParquetError> for Error {
    fn from(e: datafusion::parquet::errors::ParquetError) -> Self {
        Error::DataFusion(Box::new(DataFusionError::ParquetError(Box::new(e))))
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a DataFusion error raised by the statement in `file`, keeping the
    /// position DataFusion reports (its diagnostic span) when there is one.
    pub fn sql(file: impl Into<PathBuf>, e: DataFusionError) -> Self {
        let position = e
            .diagnostic()
            .and_then(|d| d.span)
            .map(|s| format!(":{}:{}", s.start.line, s.start.column))
            .unwrap_or_default();
        Error::Sql {
            file: file.into(),
            position,
            message: e.strip_backtrace().trim().to_string(),
        }
    }
}

/// Result with Strata's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error as one line for a user: DataFusion's wrappers ("External error:",
/// "Arrow error:") peeled off so the part that names the place comes first.
pub fn user_message(e: &Error) -> String {
    let mut text = s3_message(&e.to_string()).unwrap_or_else(|| e.to_string());
    for prefix in ["External error: ", "Execution error: "] {
        while let Some(pos) = text.find(prefix) {
            text.replace_range(pos..pos + prefix.len(), "");
        }
    }
    text.trim().to_string()
}

/// An S3 error answer (an XML body inside object_store's long message) as
/// one line: what S3 said and what to check. Credentials never appear in
/// these messages; the request's URL is kept without its query.
fn s3_message(text: &str) -> Option<String> {
    let tag = |name: &str| {
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let end = start + text[start..].find(&format!("</{name}>"))?;
        Some(text[start..end].to_string())
    };
    let code = tag("Code")?;
    let message = tag("Message").unwrap_or_default();
    let url = text
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|u| u.split('?').next().unwrap_or(u).to_string())
        .unwrap_or_default();
    let hint = match code.as_str() {
        "NoSuchBucket" => format!(
            "the bucket {} does not exist: create it, or fix the lake URL",
            tag("BucketName").unwrap_or_default()
        ),
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" | "ExpiredToken" => {
            "the credentials were refused: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
             AWS_SESSION_TOKEN (or AWS_PROFILE)"
                .to_string()
        }
        "AccessDenied" => {
            "access denied: the credentials lack permission on this bucket or prefix".into()
        }
        "SlowDown" | "ServiceUnavailable" => {
            "the server is throttling requests (retried, then gave up)".into()
        }
        _ => "the S3 request failed".into(),
    };
    Some(format!("S3: {hint} ({code}: {message}; {url})"))
}
