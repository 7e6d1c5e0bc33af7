//! One error type for the whole runtime: a reference error code, the correlation id of
//! the message it concerns, and the cause; [`report`] prints any error with its causes.

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
    remote: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with `code` and a human-readable `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            correlation_id: None,
            dataname: None,
            remote: false,
            source: None,
        }
    }

    /// Attaches the underlying cause (kept out of [`Display`](fmt::Display); see [`Error::report`]).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Attaches a cause that is already boxed (async-nats's `Error`, a `dyn Error`).
    pub(crate) fn with_boxed_source(
        mut self,
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    ) -> Self {
        self.source = Some(source);
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

    /// The error a responder reported in an `error_response_v1` (see
    /// [`smartreply_error`](crate::smartreply_error)): its code, message and correlation id.
    pub fn remote(body: &natsbridge_types::ErrorBody, correlation_id: impl Into<String>) -> Self {
        let mut e = Error::new(body.code.clone(), body.message.clone()).with_correlation_id(correlation_id);
        if let Some(name) = body.details.as_ref().and_then(|d| d.get("dataname")).and_then(|n| n.as_str()) {
            e = e.with_dataname(name);
        }
        e.remote = true;
        e
    }

    /// Whether the peer reported this error (an `error_response_v1` answered a request)
    /// rather than this process running into it.
    pub fn is_remote(&self) -> bool {
        self.remote
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

    /// This error followed by each cause in its chain, each printed once:
    /// `CODE: message (payload `name`): cause: cause's cause`.
    pub fn report(&self) -> String {
        report(self)
    }

    /// The error as the reference `error` object: `{code, message, details}`, the message
    /// being [`Error::report`].
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
            message: self.report(),
            details: Some(details),
            extra: Default::default(),
        }
    }
}

/// `CODE: message (payload `name`)`. The cause is not repeated here: it is
/// [`std::error::Error::source`], and [`Error::report`] prints the whole chain once.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.code)?;
        if self.remote {
            write!(f, "the responder answered: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(name) = &self.dataname {
            write!(f, " (payload `{name}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Any error followed by each cause in its chain: `error: cause: cause's cause`. For
/// errors that keep their cause out of `Display`, as [`Error`] does, each is printed once.
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Cause(&'static str, Option<Box<Cause>>);

    impl fmt::Display for Cause {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Cause {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|c| c as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn each_cause_is_printed_once() {
        let err = Error::new(ErrorCode::DownloadFailed, "fetching `t`")
            .with_source(Cause("connection reset", Some(Box::new(Cause("os error 104", None)))))
            .with_dataname("table");
        assert_eq!(err.to_string(), "DOWNLOAD_FAILED: fetching `t` (payload `table`)");
        assert_eq!(
            err.report(),
            "DOWNLOAD_FAILED: fetching `t` (payload `table`): connection reset: os error 104"
        );
        assert_eq!(
            std::error::Error::source(&err).map(|s| s.to_string()).as_deref(),
            Some("connection reset")
        );
        assert_eq!(err.report().matches("connection reset").count(), 1);
    }

    #[test]
    fn context_is_kept_from_the_innermost_call() {
        let err: Result<()> = Err(Error::new(ErrorCode::Timeout, "late").with_correlation_id("inner"));
        let err = err.correlation("outer").payload("p").payload("q").unwrap_err();
        assert_eq!(err.correlation_id(), Some("inner"));
        assert_eq!(err.dataname(), Some("p"));
    }

    #[test]
    fn error_body_carries_code_report_and_details() {
        let err = Error::new(ErrorCode::UploadFailed, "POST /upload")
            .with_source(Cause("HTTP 503", None))
            .with_correlation_id("c-1")
            .with_dataname("d");
        let body = err.to_error_body();
        assert_eq!(body.code, ErrorCode::UploadFailed);
        assert_eq!(body.message, err.report());
        let details = body.details.unwrap();
        assert_eq!(details["correlation_id"], "c-1");
        assert_eq!(details["dataname"], "d");
    }
}
