//! The one error type of the Parse domain. The HTTP layer maps it to a status and a
//! `{"code": N, "error": "..."}` body in exactly one place (`ferrobase::error`).

use std::fmt;

/// Parse error codes used by ferrobase (the numbers Parse clients switch on).
pub mod code {
    pub const INTERNAL: i32 = 1;
    pub const OTHER_CAUSE: i32 = -1;
    pub const OBJECT_NOT_FOUND: i32 = 101;
    pub const INVALID_QUERY: i32 = 102;
    pub const INVALID_CLASS_NAME: i32 = 103;
    pub const MISSING_OBJECT_ID: i32 = 104;
    pub const INVALID_KEY_NAME: i32 = 105;
    pub const INVALID_POINTER: i32 = 106;
    pub const INVALID_JSON: i32 = 107;
    pub const INCORRECT_TYPE: i32 = 111;
    pub const INVALID_NESTED_KEY: i32 = 121;
    pub const OPERATION_FORBIDDEN: i32 = 119;
    pub const INVALID_FILE_NAME: i32 = 122;
    pub const INVALID_ACL: i32 = 123;
    pub const TIMEOUT: i32 = 124;
    pub const INVALID_EMAIL_ADDRESS: i32 = 125;
    pub const FILE_SAVE_ERROR: i32 = 130;
    pub const DUPLICATE_VALUE: i32 = 137;
    pub const INVALID_ROLE_NAME: i32 = 139;
    pub const EXCEEDED_QUOTA: i32 = 140;
    pub const FILE_DELETE_ERROR: i32 = 153;
    pub const USERNAME_MISSING: i32 = 200;
    pub const PASSWORD_MISSING: i32 = 201;
    pub const USERNAME_TAKEN: i32 = 202;
    pub const EMAIL_TAKEN: i32 = 203;
    pub const EMAIL_MISSING: i32 = 204;
    pub const EMAIL_NOT_FOUND: i32 = 205;
    pub const SESSION_MISSING: i32 = 206;
    pub const MUST_CREATE_USER_THROUGH_SIGNUP: i32 = 207;
    pub const ACCOUNT_ALREADY_LINKED: i32 = 208;
    pub const INVALID_SESSION_TOKEN: i32 = 209;
    pub const INVALID_SCHEMA_OPERATION: i32 = 255;
    pub const SCRIPT_FAILED: i32 = 141;
    pub const VALIDATION_ERROR: i32 = 142;
    pub const WEBHOOK_ERROR: i32 = 143;
    pub const DUPLICATE_REQUEST: i32 = 159;
    pub const MISSING_REQUIRED_FIELD: i32 = 135;
    pub const REQUEST_LIMIT_EXCEEDED: i32 = 155;
    pub const UNSUPPORTED_SERVICE: i32 = 252;
    pub const INVALID_VALUE: i32 = 162;
}

/// Everything that can go wrong while serving a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A Parse error with its code; the HTTP status follows Parse Server (404 for 101, 400 otherwise).
    Parse { code: i32, message: String },
    /// Missing or wrong application id: `403 {"error":"unauthorized"}`.
    Unauthorized,
    /// A 403 with a bare message and no code (e.g. `/schemas` without the master key).
    Forbidden(String),
    /// A body that is not valid JSON: `400 {"error": "..."}` without a code.
    BadJson(String),
    /// A body over the size limit: 413.
    TooLarge,
    /// A failed `"transaction": true` batch: `500 {"code": N, "message": "..."}` as Parse answers.
    TransactionFailed { code: i32, message: String },
    /// Over a rate limit: 429 with code 155 and the rule's message.
    RateLimited(String),
    /// Anything unexpected. The cause is logged, the client sees only "Internal server error.".
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Error::Parse {
            code,
            message: message.into(),
        }
    }
    pub fn internal(cause: impl fmt::Display) -> Self {
        Error::Internal(cause.to_string())
    }
    pub fn not_found() -> Self {
        Error::new(code::OBJECT_NOT_FOUND, "Object not found.")
    }
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Error::new(code::INVALID_QUERY, message)
    }
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Error::new(code::INVALID_JSON, message)
    }
    pub fn forbidden_op(message: impl Into<String>) -> Self {
        Error::new(code::OPERATION_FORBIDDEN, message)
    }
    pub fn invalid_session() -> Self {
        Error::new(code::INVALID_SESSION_TOKEN, "Invalid session token")
    }
    /// The Parse error code, if this error carries one.
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Parse { code, .. } | Error::TransactionFailed { code, .. } => Some(*code),
            Error::Internal(_) => Some(code::INTERNAL),
            Error::RateLimited(_) => Some(code::REQUEST_LIMIT_EXCEEDED),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse { code, message } | Error::TransactionFailed { code, message } => {
                write!(f, "{message} (code {code})")
            }
            Error::Unauthorized => f.write_str("unauthorized"),
            Error::Forbidden(m) | Error::BadJson(m) | Error::RateLimited(m) => f.write_str(m),
            Error::TooLarge => f.write_str("request entity too large"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {}
