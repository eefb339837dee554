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
    /// Most sub-requests in one `/batch`.
    pub max_batch_size: usize,
    /// bcrypt cost for new password hashes (Parse uses 10).
    pub bcrypt_cost: u32,
    /// Most levels an `include` path may have.
    pub max_include_depth: usize,
    /// Prefix of file URLs (`<public server URL>/files/<appId>/`): `File` values are sent with
    /// `url` = this prefix + the URL-encoded name, as Parse fills them on read.
    pub files_url: String,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            app_id: String::new(),
            allow_client_class_creation: false,
            session_length_secs: 365 * 24 * 3600,
            default_limit: 100,
            max_limit: None,
            max_batch_size: 50,
            bcrypt_cost: 10,
            max_include_depth: 10,
            files_url: String::new(),
        }
    }
}
