//! One error type for the whole runtime: a reference error code, the correlation id of
//! the message it concerns, and the cause; [`report`] prints any error with its causes.

use std::fmt;

pub use natsbridge_types::ErrorCode;
use natsbridge_types::profile::{ERROR_APPLICATION, ERROR_BAD_OPTION, ERROR_HANDLER};

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
    /// What only application and remote errors carry (boxed: `Result`s stay small).
    app: Option<Box<AppContext>>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// An application error's code and any error's details for the wire.
#[derive(Debug, Default)]
struct AppContext {
    /// Reported by the peer in an `error_response_v1`.
    remote: bool,
    application_code: Option<String>,
    details: serde_json::Map<String, serde_json::Value>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with `code` and a human-readable `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), correlation_id: None, dataname: None, app: None, source: None }
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

    /// A failure of the responder's application, answered to the requester as
    /// `APPLICATION_ERROR` with `application_code` = `code` (e.g. `UNKNOWN_COLUMN`; a letter,
    /// then up to 63 letters, digits, `_`, `.`, `:` or `-`, checked when it is answered).
    ///
    /// ```
    /// let e = natsbridge::Error::application("UNKNOWN_COLUMN", "no column `speed`");
    /// assert_eq!(e.application_code(), Some("UNKNOWN_COLUMN"));
    /// assert_eq!(e.to_string(), "APPLICATION_ERROR UNKNOWN_COLUMN: no column `speed`");
    /// ```
    pub fn application(code: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Error::new(ERROR_APPLICATION, message);
        e.app_mut().application_code = Some(code.into());
        e
    }

    /// A responder's handler failed with `cause` (anything but a NATSBridge error): answered as
    /// `HANDLER_FAILED`, `the handler failed: <cause and its causes>`, never a backtrace.
    pub fn handler_failed(cause: &(dyn std::error::Error + 'static)) -> Self {
        Error::new(ERROR_HANDLER, format!("the handler failed: {}", report(cause)))
    }

    /// The error a responder reported in an `error_response_v1` (see
    /// [`smartreply_error`](crate::smartreply_error)): its code, application code, message
    /// and correlation id. A 1.0 responder's message repeated its code and payload name; they
    /// are dropped, so each is said once.
    pub fn remote(body: &natsbridge_types::ErrorBody, correlation_id: impl Into<String>) -> Self {
        let dataname =
            body.details.as_ref().and_then(|d| d.get("dataname")).and_then(|n| n.as_str()).map(str::to_owned);
        let mut message = body.message.as_str();
        message = message.strip_prefix(&format!("{}: ", body.code)).unwrap_or(message);
        if let Some(name) = &dataname {
            message = message.strip_suffix(&format!(" (payload `{name}`)")).unwrap_or(message);
        }
        let mut e = Error::new(body.code.clone(), message).with_correlation_id(correlation_id);
        e.dataname = dataname;
        e.app = Some(Box::new(AppContext {
            remote: true,
            application_code: body.application_code.as_ref().map(|c| c.as_str().to_owned()),
            details: body.details.clone().unwrap_or_default(),
        }));
        e
    }

    /// Adds context for an error response's `details` (an application's `{"order": 17}`);
    /// `correlation_id` and `dataname` are set from the error's own fields.
    pub fn with_details(mut self, details: serde_json::Map<String, serde_json::Value>) -> Self {
        self.app_mut().details.extend(details);
        self
    }

    fn app_mut(&mut self) -> &mut AppContext {
        self.app.get_or_insert_with(Default::default)
    }

    /// The application's own code of an `APPLICATION_ERROR` ([`Error::application`], or a
    /// responder's), else `None`.
    pub fn application_code(&self) -> Option<&str> {
        self.app.as_ref().and_then(|a| a.application_code.as_deref())
    }

    /// Whether the peer reported this error (an `error_response_v1` answered a request)
    /// rather than this process running into it.
    pub fn is_remote(&self) -> bool {
        self.app.as_ref().is_some_and(|a| a.remote)
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

    /// The `details` of a remote error as the responder sent them, or those given with
    /// [`Error::with_details`]; `None` when there are none.
    pub fn details(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.app.as_ref().map(|a| &a.details)
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

    /// The message followed by each cause (`message: cause: cause's cause`), without the
    /// code and the payload name: what an error response's `message` says.
    pub fn message_with_causes(&self) -> String {
        let mut text = self.message.clone();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    /// The error as the reference `error` object: `{code, application_code, message,
    /// details}`; the message is [`Error::message_with_causes`] (the code and the payload
    /// name travel in their own fields, so the requester says each once). An application code
    /// outside its pattern is an `INVALID_ARGUMENT` error.
    pub fn to_error_body(&self) -> Result<natsbridge_types::ErrorBody> {
        let mut details = self.app.as_ref().map(|a| a.details.clone()).unwrap_or_default();
        if let Some(id) = &self.correlation_id {
            details.insert("correlation_id".into(), id.clone().into());
        }
        if let Some(name) = &self.dataname {
            details.insert("dataname".into(), name.clone().into());
        }
        let application_code = match self.application_code() {
            None if self.code == ERROR_APPLICATION => {
                return Err(Error::new(
                    ERROR_BAD_OPTION,
                    "an APPLICATION_ERROR needs its application code: make it with Error::application(code, message)",
                ));
            }
            None => None,
            Some(c) => Some(natsbridge_types::ApplicationCode::new(c).map_err(|e| {
                Error::new(
                    ERROR_BAD_OPTION,
                    format!(
                        "the application code `{c}` cannot be answered: it must be a letter, then up to 63 letters, digits, `_`, `.`, `:` or `-`"
                    ),
                )
                .with_source(e)
            })?),
        };
        Ok(natsbridge_types::ErrorBody {
            code: self.code.clone(),
            application_code,
            message: self.message_with_causes(),
            details: Some(details),
            extra: Default::default(),
        })
    }
}

/// `CODE: message (payload `name`)`; an application error names its code too
/// (`APPLICATION_ERROR UNKNOWN_COLUMN: …`), and a remote one says so
/// (`CODE from the responder: …`). The cause is not repeated here: it is
/// [`std::error::Error::source`], and [`Error::report`] prints the whole chain once.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(code) = self.application_code() {
            write!(f, " {code}")?;
        }
        if self.is_remote() {
            write!(f, " from the responder")?;
        }
        write!(f, ": {}", self.message)?;
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
        // A cause the text already says (a message that quotes its root cause, a client
        // error that repeats its inner one) is not said again.
        let said = c.to_string();
        if !said.split(": ").all(|part| text.contains(part)) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}

/// The innermost cause of `error`, as text (`Connection refused (os error 111)`): what a
/// message says as its "why" when the chain is long.
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(c) = last.source() {
        last = c;
    }
    last.to_string()
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
        let body = err.to_error_body().unwrap();
        assert_eq!(body.code, ErrorCode::UploadFailed);
        assert_eq!(body.message, "POST /upload: HTTP 503", "no code, no payload name: they have fields");
        assert_eq!(body.application_code, None);
        let details = body.details.unwrap();
        assert_eq!(details["correlation_id"], "c-1");
        assert_eq!(details["dataname"], "d");
    }

    #[test]
    fn application_errors_carry_their_code_and_refuse_a_bad_one() {
        let body = Error::application("UNKNOWN_COLUMN", "no column `x`").to_error_body().unwrap();
        assert_eq!(
            (body.code, body.application_code.unwrap().as_str()),
            (ErrorCode::ApplicationError, "UNKNOWN_COLUMN")
        );
        let bad = Error::application("unknown column", "x").to_error_body().unwrap_err();
        assert_eq!(bad.code(), &ErrorCode::InvalidArgument);
        assert!(bad.message().contains("`unknown column`"), "{bad}");
    }

    #[test]
    fn remote_errors_say_code_and_payload_once() {
        // A 1.0 responder's message: its report(), code and payload name included.
        let old = natsbridge_types::ErrorBody {
            code: ErrorCode::DeserializationError,
            application_code: None,
            message: "DESERIALIZATION_ERROR: bad query (payload `query`)".into(),
            details: Some(serde_json::json!({"dataname": "query"}).as_object().unwrap().clone()),
            extra: Default::default(),
        };
        let e = Error::remote(&old, "c-1");
        assert_eq!(e.to_string(), "DESERIALIZATION_ERROR from the responder: bad query (payload `query`)");
        let app = Error::application("UNKNOWN_COLUMN", "no column `x`").to_error_body().unwrap();
        let e = Error::remote(&app, "c-2");
        assert_eq!(e.to_string(), "APPLICATION_ERROR UNKNOWN_COLUMN from the responder: no column `x`");
        assert!(e.is_remote());
    }

    #[test]
    fn a_failed_handler_is_answered_without_a_backtrace() {
        let cause = Cause("boom", Some(Box::new(Cause("disk full", None))));
        let e = Error::handler_failed(&cause);
        assert_eq!(e.to_string(), "HANDLER_FAILED: the handler failed: boom: disk full");
    }
}
