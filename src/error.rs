//! The library's one error type: each variant says what failed and where.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Everything that can go wrong inside Strata, with the place it went wrong.
///
/// Each variant belongs to one [`Kind`]; the binary's exit code follows the
/// kind ([`Error::exit_code`]), never the message's text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing, malformed or contradicts another one, or the
    /// command was asked for something that does not exist (a selector, a
    /// report, a flag's value).
    #[error("{0}")]
    Config(String),

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
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

    /// The models' dependencies cannot be ordered (a cycle, a table no
    /// model or source provides).
    #[error("{0}")]
    Dag(String),

    /// A SQL statement (from a file or the prompt) failed to plan or run.
    #[error("{}", query_text(origin, *position, message))]
    Query {
        /// Where the statement came from: its file, or what ran it; empty
        /// for a statement typed at the prompt.
        origin: String,
        /// Line and column, when DataFusion reports a position.
        position: Option<(u64, u64)>,
        /// DataFusion's message, without its backtrace.
        message: String,
        /// DataFusion's error.
        #[source]
        source: Box<DataFusionError>,
    },

    /// A statement at the prompt cannot run as written (an Athena statement
    /// naming a table that is not there, an UNLOAD to a folder in use).
    #[error("{0}")]
    Statement(String),

    /// A statement was stopped before it finished: its time ran out, or
    /// its client asked.
    #[error("{0}")]
    Cancelled(String),

    /// The query cluster (Ballista) could not be started or reached.
    #[error("Ballista: {0}")]
    Cluster(String),

    /// The legacy source failed (connection, query, a value that cannot be read).
    #[error("source {message}")]
    Source {
        /// What failed, naming the server or relation.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The lake's storage holds something it should not (a manifest, a
    /// record), or an operation on it cannot proceed.
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

    /// DataFusion failed outside a statement Strata can name (catalog,
    /// execution of an internal plan).
    #[error(transparent)]
    DataFusion(#[from] Box<DataFusionError>),

    /// The object store failed.
    #[error(transparent)]
    ObjectStore(#[from] object_store::Error),

    /// Strata itself failed: a task panicked, a thread could not start.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What kind of thing failed, for exit codes and for callers that react to
/// a kind rather than a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Settings or the command line: the user's to fix before trying again.
    Config,
    /// Input data that does not follow its contract (a CSV line).
    Input,
    /// A model or statement: its SQL, its plan, its execution.
    Query,
    /// The legacy source.
    Source,
    /// The lake's storage.
    Lake,
    /// A bug or a broken runtime.
    Internal,
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
    /// What kind of thing failed.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Config(_) => Kind::Config,
            Error::Csv { .. } => Kind::Input,
            Error::Model { .. }
            | Error::Dag(_)
            | Error::Query { .. }
            | Error::Statement(_)
            | Error::Cancelled(_)
            | Error::Cluster(_)
            | Error::DataFusion(_) => Kind::Query,
            Error::Source { .. } => Kind::Source,
            Error::Io { .. } | Error::Lake { .. } | Error::Locked(_) | Error::ObjectStore(_) => {
                Kind::Lake
            }
            Error::Internal(_) => Kind::Internal,
        }
    }

    /// The process exit code for this error: 2 for configuration and usage
    /// (as for a mistyped flag), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self.kind() {
            Kind::Config => 2,
            _ => 1,
        }
    }

    /// Whether this is a write to a pipe whose reader has gone (`| head`):
    /// the end of the output, not a failure.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// A failure of the legacy source with no driver error behind it.
    pub fn source(message: impl Into<String>) -> Self {
        Error::Source {
            message: message.into(),
            cause: None,
        }
    }

    /// A failure of the legacy source, keeping the driver's error as its cause.
    pub fn source_caused(
        message: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Source {
            message: message.into(),
            cause: Some(Box::new(cause)),
        }
    }

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
        Self::query(file.into().display().to_string(), e)
    }

    /// Wraps a DataFusion error raised by a statement from `origin` (a file,
    /// `UNLOAD`, the prompt), keeping its position and the error itself.
    pub fn query(origin: impl Into<String>, e: DataFusionError) -> Self {
        let position = e
            .diagnostic()
            .and_then(|d| d.span)
            .map(|s| (s.start.line, s.start.column));
        Error::Query {
            origin: origin.into(),
            position,
            message: e.strip_backtrace().trim().to_string(),
            source: Box::new(e),
        }
    }
}

/// A statement's error as its user reads it: from a file, `file:line:col:
/// message` as compilers write it; from the prompt, the message and where in
/// the statement.
fn query_text(origin: &str, position: Option<(u64, u64)>, message: &str) -> String {
    match (origin.is_empty(), position) {
        (false, Some((line, column))) => format!("{origin}:{line}:{column}: {message}"),
        (false, None) => format!("{origin}: {message}"),
        (true, Some((line, column))) => format!("{message} (at line {line}, column {column})"),
        (true, None) => message.to_string(),
    }
}

/// Characters of an input value an error quotes at most.
const QUOTED_CHARS: usize = 200;

/// A value from the input, quoted for an error message: whole when short,
/// else its first 200 characters and its length in bytes, so a malformed
/// file (one 100 MB line, say) cannot flood the terminal or the run record.
pub fn quoted(value: &str) -> String {
    match value.char_indices().nth(QUOTED_CHARS) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &value[..cut], value.len()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_input_is_bounded_and_says_how_long_it_was() {
        assert_eq!(quoted("abc"), "\"abc\"");
        let long = "é".repeat(100_000);
        let q = quoted(&long);
        assert!(q.chars().count() < 240, "{q}");
        assert!(q.ends_with("(200000 bytes)"), "{q}");
    }
}
