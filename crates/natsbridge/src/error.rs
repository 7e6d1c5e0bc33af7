//! One error type for the whole runtime: a reference error code, the correlation id of
//! the message it concerns, and the cause.

use std::fmt;

pub use natsbridge_types::ErrorCode;

/// A failed `smartsend`, `smartreceive`, upload or download.
///
/// Every error carries a [`ErrorCode`] from the wire contract (so it can be sent back as an
/// `error_response_v1`) and, when known, the `correlation_id` of the message concerned.
#[derive(Debug)]
pub struct Error {
    code: ErrorCode,
    message: String,
    correlation_id: Option<String>,
    dataname: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with `code` and a human-readable `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), correlation_id: None, dataname: None, source: None }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Attaches the correlation id (kept if one is already set).
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id.get_or_insert_with(|| id.into());
        self
    }

    /// Attaches the payload's `dataname` (kept if one is already set).
    pub fn with_dataname(mut self, name: impl Into<String>) -> Self {
        self.dataname.get_or_insert_with(|| name.into());
        self
    }

    /// The reference error code.
    pub fn code(&self) -> &ErrorCode {
        &self.code
    }

    /// The correlation id of the message this error concerns, if known.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// The payload this error concerns, if any.
    pub fn dataname(&self) -> Option<&str> {
        self.dataname.as_deref()
    }

    /// The message without code or cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error as the reference `error` object: `{code, message, details}`.
    pub fn to_error_body(&self) -> natsbridge_types::ErrorBody {
        let mut details = serde_json::Map::new();
        if let Some(id) = &self.correlation_id {
            details.insert("correlation_id".into(), id.clone().into());
        }
        if let Some(name) = &self.dataname {
            details.insert("dataname".into(), name.clone().into());
        }
        natsbridge_types::ErrorBody {
            code: self.code.clone(),
            message: self.to_string(),
            details: Some(details),
            extra: Default::default(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(name) = &self.dataname {
            write!(f, " (payload `{name}`)")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Adds context to results on their way out.
pub(crate) trait ResultExt<T> {
    fn correlation(self, id: &str) -> Result<T>;
    fn payload(self, dataname: &str) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn correlation(self, id: &str) -> Result<T> {
        self.map_err(|e| e.with_correlation_id(id))
    }
    fn payload(self, dataname: &str) -> Result<T> {
        self.map_err(|e| e.with_dataname(dataname))
    }
}
