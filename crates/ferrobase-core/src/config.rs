//! The settings the Parse domain needs (the server's full config lives in the `ferrobase` crate).

#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub app_id: String,
    pub allow_client_class_creation: bool,
    /// Session lifetime in seconds (Parse's `sessionLength`, default one year).
    pub session_length_secs: i64,
    /// Results per query when the client sends no `limit` (Parse: 100).
    pub default_limit: usize,
    /// Largest `limit` a client may ask for; larger values are capped, as Parse's `maxLimit`.
    pub max_limit: Option<usize>,
    /// Most sub-requests in one `/batch` (None: no cap, as Parse 9).
    pub max_batch_size: Option<usize>,
    /// bcrypt cost for new password hashes (Parse uses 10).
    pub bcrypt_cost: u32,
    /// Most levels an `include` path may have.
    pub max_include_depth: usize,
    /// Prefix of file URLs (`<public server URL>/files/<appId>/`): `File` values are sent with
    /// `url` = this prefix + the URL-encoded name, as Parse fills them on read.
    pub files_url: String,
    /// `--protected-files`: sign file URLs handed out with objects (None: files are public by URL).
    pub file_tokens: Option<crate::file_tokens::FileTokens>,
    /// Parse's `passwordPolicy`.
    pub password_policy: PasswordPolicy,
    /// Parse's `accountLockout`: lock after `threshold` failed logins for `duration_minutes`.
    pub account_lockout: Option<AccountLockout>,
    /// Parse's `expireInactiveSessions` (false: sessions never expire).
    pub expire_inactive_sessions: bool,
    /// Parse's `extendSessionOnUse`: push `expiresAt` forward when a session is used after half its life.
    pub extend_session_on_use: bool,
    /// Log queries slower than this (milliseconds) with their plan and a suggested index.
    pub slow_query_ms: Option<u64>,
    /// Index a field automatically the first time a query filters or sorts on it, once its class
    /// has at least `auto_index_min_rows` objects (None: never).
    pub auto_index_min_rows: Option<u64>,
    /// Email verification and password reset (needs a mailer).
    pub email: Option<crate::mailer::EmailConfig>,
    /// Parse's `auth` option and `enableAnonymousUsers`: the `authData` providers.
    pub auth: crate::auth_data::AuthAdapters,
}

#[derive(Debug, Clone, Default)]
pub struct PasswordPolicy {
    /// A regular expression every new password must match.
    /// (JavaScript-style patterns with look-ahead, as Parse apps write them: this is operator
    /// configuration run on short passwords, never a client's pattern.)
    pub validator_pattern: Option<fancy_regex::Regex>,
    /// Refuse passwords that contain the username.
    pub do_not_allow_username: bool,
    /// The message of error 142 (Parse's `validationError`).
    pub validation_error: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct AccountLockout {
    pub threshold: u32,
    pub duration_minutes: u32,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            app_id: String::new(),
            allow_client_class_creation: false,
            session_length_secs: 365 * 24 * 3600,
            default_limit: 100,
            max_limit: None,
            max_batch_size: None,
            bcrypt_cost: 10,
            max_include_depth: 10,
            files_url: String::new(),
            file_tokens: None,
            password_policy: PasswordPolicy::default(),
            account_lockout: None,
            expire_inactive_sessions: true,
            extend_session_on_use: false,
            email: None,
            slow_query_ms: None,
            auto_index_min_rows: Some(1000),
            auth: crate::auth_data::AuthAdapters::default(),
        }
    }
}

/// Compiles a password-policy pattern (with a backtracking limit).
pub fn password_regex(pattern: &str) -> Result<fancy_regex::Regex, String> {
    fancy_regex::RegexBuilder::new(pattern)
        .backtrack_limit(100_000)
        .build()
        .map_err(|e| format!("--password-pattern is not a valid regular expression: {e}"))
}
