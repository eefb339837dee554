//! Server configuration: command-line flags > `FERROBASE_*` environment > config file > defaults.

use clap::Args;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;

/// Flags of `ferrobase serve` (each also read from its `FERROBASE_*` variable).
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML file with any of these settings (lower precedence than flags and environment).
    #[arg(long, env = "FERROBASE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "FERROBASE_HOST")]
    pub host: Option<String>,
    /// Port to listen on (0 picks a free port and prints it).
    #[arg(long, env = "FERROBASE_PORT")]
    pub port: Option<u16>,
    /// Path the Parse API is mounted at.
    #[arg(long, env = "FERROBASE_MOUNT_PATH")]
    pub mount_path: Option<String>,
    /// Application id clients must send (generated and stored in the data dir when absent).
    #[arg(long, env = "FERROBASE_APP_ID")]
    pub app_id: Option<String>,
    /// Master key (generated and stored in the data dir when absent).
    #[arg(long, env = "FERROBASE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Comma-separated IPs allowed to use the master key.
    #[arg(long, env = "FERROBASE_MASTER_KEY_IPS", value_delimiter = ',')]
    pub master_key_ips: Option<Vec<IpAddr>>,
    /// Folder for the embedded store and generated keys.
    #[arg(long, env = "FERROBASE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Store to use: empty for the embedded store in the data dir, `sqlite:<path>`, or
    /// `mongodb://host/db` (MongoDB or FerretDB, in Parse Server's layout).
    #[arg(long, env = "FERROBASE_DATABASE_URI", hide_env_values = true)]
    pub database_uri: Option<String>,
    /// Log format: pretty or json.
    #[arg(long, env = "FERROBASE_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// `GET /metrics` (Prometheus): `master` (default: on the API port, with the master key as
    /// `X-Parse-Master-Key` or `Authorization: Bearer`), `HOST:PORT` (its own listener, no key,
    /// off the API port) or `off`.
    #[arg(long, env = "FERROBASE_METRICS")]
    pub metrics: Option<String>,
    /// One log line per request (route, status, duration, user id, request id).
    #[arg(long, env = "FERROBASE_ACCESS_LOG")]
    pub access_log: Option<bool>,
    /// Let clients create classes by writing to them (Parse's allowClientClassCreation).
    #[arg(long, env = "FERROBASE_ALLOW_CLIENT_CLASS_CREATION")]
    pub allow_client_class_creation: Option<bool>,
    /// Largest request body in bytes (Parse's default: 20 MB).
    #[arg(long, env = "FERROBASE_MAX_BODY_SIZE")]
    pub max_body_size: Option<usize>,
    /// Most sub-requests in one /batch (unset: no cap, as Parse).
    #[arg(long, env = "FERROBASE_MAX_BATCH_SIZE")]
    pub max_batch_size: Option<usize>,
    /// Largest `limit` a query may ask for (unset: no cap, as Parse).
    #[arg(long, env = "FERROBASE_MAX_LIMIT")]
    pub max_limit: Option<usize>,
    /// Session lifetime in seconds (Parse's sessionLength).
    #[arg(long, env = "FERROBASE_SESSION_LENGTH")]
    pub session_length: Option<i64>,
    /// bcrypt cost for new password hashes.
    #[arg(long, env = "FERROBASE_BCRYPT_COST")]
    pub bcrypt_cost: Option<u32>,
    /// Where files are stored: empty for `<data-dir>/files`, `file:<path>`, or
    /// `s3://bucket[/prefix]?endpoint=…&region=…`.
    #[arg(long, env = "FERROBASE_FILES_URI", hide_env_values = true)]
    pub files_uri: Option<String>,
    /// Allow file uploads without a session (Parse's fileUpload.enableForPublic).
    #[arg(long, env = "FERROBASE_FILE_UPLOAD_PUBLIC")]
    pub file_upload_public: Option<bool>,
    /// Allow file uploads by anonymous users (fileUpload.enableForAnonymousUser).
    #[arg(long, env = "FERROBASE_FILE_UPLOAD_ANONYMOUS")]
    pub file_upload_anonymous: Option<bool>,
    /// Allow file uploads by logged-in users (fileUpload.enableForAuthenticatedUser).
    #[arg(long, env = "FERROBASE_FILE_UPLOAD_AUTHENTICATED")]
    pub file_upload_authenticated: Option<bool>,
    /// Comma-separated regexes a file extension must match (fileUpload.fileExtensions; `*` = any).
    #[arg(long, env = "FERROBASE_FILE_EXTENSIONS", value_delimiter = ',')]
    pub file_extensions: Option<Vec<String>>,
    /// Largest file upload in bytes (413 above).
    #[arg(long, env = "FERROBASE_MAX_UPLOAD_SIZE")]
    pub max_upload_size: Option<u64>,
    /// Serve files only with a short-lived token that comes with the objects a caller may read.
    #[arg(long, env = "FERROBASE_PROTECTED_FILES")]
    pub protected_files: Option<bool>,
    /// Seconds a protected file's token stays valid.
    #[arg(long, env = "FERROBASE_FILE_TOKEN_TTL")]
    pub file_token_ttl: Option<i64>,
    /// A master key that may read everything and write nothing.
    #[arg(long, env = "FERROBASE_READ_ONLY_MASTER_KEY", hide_env_values = true)]
    pub read_only_master_key: Option<String>,
    /// Regular expression every new password must match (Parse's passwordPolicy.validatorPattern).
    #[arg(long, env = "FERROBASE_PASSWORD_PATTERN")]
    pub password_pattern: Option<String>,
    /// Refuse passwords containing the username (passwordPolicy.doNotAllowUsername).
    #[arg(long, env = "FERROBASE_PASSWORD_NO_USERNAME")]
    pub password_no_username: Option<bool>,
    /// Message of the password-policy error (passwordPolicy.validationError).
    #[arg(long, env = "FERROBASE_PASSWORD_POLICY_MESSAGE")]
    pub password_policy_message: Option<String>,
    /// Failed logins before an account is locked (accountLockout.threshold; unset: no lockout).
    #[arg(long, env = "FERROBASE_LOCKOUT_THRESHOLD")]
    pub lockout_threshold: Option<u32>,
    /// Minutes an account stays locked (accountLockout.duration).
    #[arg(long, env = "FERROBASE_LOCKOUT_DURATION")]
    pub lockout_duration: Option<u32>,
    /// Give sessions an expiry (Parse's expireInactiveSessions).
    #[arg(long, env = "FERROBASE_EXPIRE_INACTIVE_SESSIONS")]
    pub expire_inactive_sessions: Option<bool>,
    /// Extend a session's expiry when it is used (Parse's extendSessionOnUse).
    #[arg(long, env = "FERROBASE_EXTEND_SESSION_ON_USE")]
    pub extend_session_on_use: Option<bool>,
    /// Log queries slower than this many milliseconds, with their plan and a suggested index.
    #[arg(long, env = "FERROBASE_SLOW_QUERY_MS")]
    pub slow_query_ms: Option<u64>,
    /// Index fields automatically once queried on a class of at least this many objects (0: never).
    #[arg(long, env = "FERROBASE_AUTO_INDEX_MIN_ROWS")]
    pub auto_index_min_rows: Option<u64>,
    /// Rate limit rule `PATH=COUNT/SECONDS[,user][,METHOD…]`, e.g. `/login=10/60`; repeatable.
    /// PATH may end in `*`. Counted per client IP (or per user with `,user`).
    #[arg(
        long = "rate-limit",
        env = "FERROBASE_RATE_LIMIT",
        value_delimiter = ';'
    )]
    pub rate_limits: Option<Vec<String>>,
    /// Public URL of the API (`https://api.shop.example/parse`), used in emailed links and file
    /// URLs (default: the listening address).
    #[arg(long, env = "FERROBASE_PUBLIC_SERVER_URL")]
    pub public_server_url: Option<String>,
    /// Application name shown in emails and pages.
    #[arg(long, env = "FERROBASE_APP_NAME")]
    pub app_name: Option<String>,
    /// Send a verification link to new email addresses (Parse's verifyUserEmails).
    #[arg(long, env = "FERROBASE_VERIFY_USER_EMAILS")]
    pub verify_user_emails: Option<bool>,
    /// Refuse logins until the email is verified.
    #[arg(long, env = "FERROBASE_PREVENT_LOGIN_WITH_UNVERIFIED_EMAIL")]
    pub prevent_login_with_unverified_email: Option<bool>,
    /// Seconds a verification link stays valid (default: forever).
    #[arg(long, env = "FERROBASE_EMAIL_VERIFY_TOKEN_VALIDITY")]
    pub email_verify_token_validity: Option<i64>,
    /// Seconds a password-reset link stays valid (default: forever).
    #[arg(long, env = "FERROBASE_RESET_TOKEN_VALIDITY")]
    pub reset_token_validity: Option<i64>,
    /// SMTP server for emails: smtp://user:pass@host:port, smtps://… or smtp+starttls://…
    #[arg(long, env = "FERROBASE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of emails (`Shop <no-reply@shop.example>`).
    #[arg(long, env = "FERROBASE_EMAIL_FROM")]
    pub email_from: Option<String>,
    /// Comma-separated classes LiveQuery delivers changes of (Parse's liveQuery.classNames; default all).
    #[arg(long, env = "FERROBASE_LIVE_QUERY_CLASSES", value_delimiter = ',')]
    pub live_query_classes: Option<Vec<String>>,
    /// Redis URL for LiveQuery fan-out across nodes (redis://host:port).
    #[arg(long, env = "FERROBASE_LIVE_QUERY_REDIS_URL", hide_env_values = true)]
    pub live_query_redis_url: Option<String>,
    /// Events a LiveQuery connection may have waiting before it is dropped.
    #[arg(long, env = "FERROBASE_LIVE_QUERY_QUEUE_SIZE")]
    pub live_query_queue_size: Option<usize>,
    /// Seconds between WebSocket pings (a peer silent for two intervals is disconnected).
    #[arg(long, env = "FERROBASE_LIVE_QUERY_PING_INTERVAL")]
    pub live_query_ping_interval: Option<u64>,
    /// Seconds between reloads of the schema cache, so that schema changes made by another node
    /// on the same database are seen (0: never).
    #[arg(long, env = "FERROBASE_SCHEMA_REFRESH_SECS")]
    pub schema_refresh_secs: Option<u64>,
    /// Cloud Code: the app's `main.js`, run in a supervised Node.js process (also read from
    /// Parse Server's `PARSE_SERVER_CLOUD`).
    #[arg(long, env = "FERROBASE_CLOUD")]
    pub cloud: Option<PathBuf>,
    /// Seconds a cloud function or trigger may run before it answers 124 "Script timed out".
    #[arg(long, env = "FERROBASE_CLOUD_TIMEOUT")]
    pub cloud_timeout: Option<u64>,
    /// Reload Cloud Code when a file beside main.js changes (a new worker takes over once loaded).
    #[arg(long, env = "FERROBASE_CLOUD_WATCH")]
    pub cloud_watch: Option<bool>,
    /// Node.js worker processes for functions and triggers (above 1, jobs get one of their own).
    #[arg(long, env = "FERROBASE_CLOUD_WORKERS")]
    pub cloud_workers: Option<usize>,
    /// The Node.js executable that runs Cloud Code.
    #[arg(long, env = "FERROBASE_NODE")]
    pub node: Option<PathBuf>,
    /// Key sent as `X-Parse-Webhook-Key` to webhooks (Parse's webhookKey).
    #[arg(long, env = "FERROBASE_WEBHOOK_KEY", hide_env_values = true)]
    pub webhook_key: Option<String>,
    /// Trust a master key sent in a LiveQuery `connect` (and to `/realtime`). Off by default, as
    /// Parse's LiveQuery server, which trusts it only when key pairs are configured.
    #[arg(long, env = "FERROBASE_LIVE_QUERY_TRUST_MASTER_KEY")]
    pub live_query_trust_master_key: Option<bool>,
    /// Comma-separated regexes of paths (after the mount, e.g. `classes/.*,users`) whose POST/PUT
    /// requests are de-duplicated by `X-Parse-Request-Id` (Parse's idempotencyOptions.paths;
    /// unset: off).
    #[arg(long, env = "FERROBASE_IDEMPOTENCY_PATHS", value_delimiter = ',')]
    pub idempotency_paths: Option<Vec<String>>,
    /// Seconds a request id is remembered (idempotencyOptions.ttl).
    #[arg(long, env = "FERROBASE_IDEMPOTENCY_TTL")]
    pub idempotency_ttl: Option<u64>,
    /// URL each push is POSTed to as JSON (the webhook push adapter; unset: push is not configured).
    #[arg(long, env = "FERROBASE_PUSH_WEBHOOK_URL", hide_env_values = true)]
    pub push_webhook_url: Option<String>,
    /// A folder of static files (a web app) served at `/`, outside the API mount, with
    /// `index.html` for directories.
    #[arg(long, env = "FERROBASE_PUBLIC_DIR")]
    pub public_dir: Option<PathBuf>,
    /// JSON file with Parse Server's `auth` option (authData providers: apple, google, facebook,
    /// github, mfa, oauth2/oidc providers), or a whole Parse Server config holding `auth`.
    #[arg(long, env = "FERROBASE_AUTH_CONFIG")]
    pub auth_config: Option<PathBuf>,
    /// Allow anonymous users (`authData.anonymous`; Parse's enableAnonymousUsers, default true).
    #[arg(long, env = "FERROBASE_ENABLE_ANONYMOUS_USERS")]
    pub enable_anonymous_users: Option<bool>,
}

/// The same settings as read from a TOML file (snake_case keys).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    mount_path: Option<String>,
    app_id: Option<String>,
    master_key: Option<String>,
    master_key_ips: Option<Vec<IpAddr>>,
    data_dir: Option<PathBuf>,
    database_uri: Option<String>,
    log_format: Option<String>,
    metrics: Option<String>,
    access_log: Option<bool>,
    allow_client_class_creation: Option<bool>,
    max_body_size: Option<usize>,
    max_batch_size: Option<usize>,
    max_limit: Option<usize>,
    session_length: Option<i64>,
    bcrypt_cost: Option<u32>,
    files_uri: Option<String>,
    file_upload_public: Option<bool>,
    file_upload_anonymous: Option<bool>,
    file_upload_authenticated: Option<bool>,
    file_extensions: Option<Vec<String>>,
    max_upload_size: Option<u64>,
    protected_files: Option<bool>,
    file_token_ttl: Option<i64>,
    read_only_master_key: Option<String>,
    password_pattern: Option<String>,
    password_no_username: Option<bool>,
    password_policy_message: Option<String>,
    lockout_threshold: Option<u32>,
    lockout_duration: Option<u32>,
    expire_inactive_sessions: Option<bool>,
    extend_session_on_use: Option<bool>,
    rate_limits: Option<Vec<String>>,
    slow_query_ms: Option<u64>,
    auto_index_min_rows: Option<u64>,
    public_server_url: Option<String>,
    app_name: Option<String>,
    verify_user_emails: Option<bool>,
    prevent_login_with_unverified_email: Option<bool>,
    email_verify_token_validity: Option<i64>,
    reset_token_validity: Option<i64>,
    smtp_url: Option<String>,
    email_from: Option<String>,
    live_query_classes: Option<Vec<String>>,
    live_query_redis_url: Option<String>,
    live_query_queue_size: Option<usize>,
    live_query_ping_interval: Option<u64>,
    schema_refresh_secs: Option<u64>,
    cloud: Option<PathBuf>,
    cloud_timeout: Option<u64>,
    cloud_watch: Option<bool>,
    cloud_workers: Option<usize>,
    node: Option<PathBuf>,
    webhook_key: Option<String>,
    live_query_trust_master_key: Option<bool>,
    idempotency_paths: Option<Vec<String>>,
    idempotency_ttl: Option<u64>,
    push_webhook_url: Option<String>,
    public_dir: Option<PathBuf>,
    auth_config: Option<PathBuf>,
    enable_anonymous_users: Option<bool>,
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub mount_path: String,
    pub app_id: Option<String>,
    pub master_key: Option<String>,
    pub master_key_ips: Vec<IpAddr>,
    pub data_dir: PathBuf,
    pub database_uri: Option<String>,
    pub log_format: String,
    /// Where `/metrics` is served (`--metrics`).
    pub metrics: crate::observe::MetricsMode,
    /// Log one line per request (`--access-log`, default on).
    pub access_log: bool,
    pub allow_client_class_creation: bool,
    pub max_body_size: usize,
    /// Most sub-requests in one `/batch` (None: no cap, as Parse 9).
    pub max_batch_size: Option<usize>,
    pub max_limit: Option<usize>,
    pub session_length: i64,
    pub bcrypt_cost: u32,
    pub files_uri: Option<String>,
    pub file_upload: FileUpload,
    pub max_upload_size: u64,
    pub protected_files: bool,
    pub file_token_ttl: i64,
    pub read_only_master_key: Option<String>,
    pub password_pattern: Option<String>,
    pub password_no_username: bool,
    pub password_policy_message: Option<String>,
    pub lockout_threshold: Option<u32>,
    pub lockout_duration: u32,
    pub expire_inactive_sessions: bool,
    pub extend_session_on_use: bool,
    pub rate_limits: Vec<crate::ratelimit::Rule>,
    pub slow_query_ms: Option<u64>,
    pub auto_index_min_rows: Option<u64>,
    pub public_server_url: Option<String>,
    pub app_name: String,
    pub verify_user_emails: bool,
    pub prevent_login_with_unverified_email: bool,
    pub email_verify_token_validity: Option<i64>,
    pub reset_token_validity: Option<i64>,
    pub smtp_url: Option<String>,
    pub email_from: Option<String>,
    /// LiveQuery classes (`None` = all).
    pub live_query_classes: Option<Vec<String>>,
    pub live_query_redis_url: Option<String>,
    pub live_query_queue_size: usize,
    /// Seconds between WebSocket pings.
    pub live_query_ping_interval: u64,
    pub schema_refresh_secs: u64,
    /// Cloud Code's `main.js`, when Cloud Code is on.
    pub cloud: Option<PathBuf>,
    /// Seconds before a function or trigger call answers 124.
    pub cloud_timeout: u64,
    pub cloud_watch: bool,
    pub cloud_workers: usize,
    pub node: PathBuf,
    pub webhook_key: Option<String>,
    /// Whether LiveQuery honours a master key (default off, as Parse).
    pub live_query_trust_master_key: bool,
    /// Paths de-duplicated by `X-Parse-Request-Id` (anchored at the start, as Parse).
    pub idempotency_paths: Vec<fancy_regex::Regex>,
    pub idempotency_ttl: u64,
    pub push_webhook_url: Option<String>,
    /// Static files served at `/` (outside the mount), when set.
    pub public_dir: Option<PathBuf>,
    /// Parse's `auth` option (read from `--auth-config`) and `enableAnonymousUsers`.
    pub auth: crate::auth::AuthConfig,
    pub enable_anonymous_users: bool,
}

/// Who may upload files, and which extensions (Parse's `fileUpload` options; defaults as Parse 9).
#[derive(Debug, Clone)]
pub struct FileUpload {
    pub public: bool,
    pub anonymous: bool,
    pub authenticated: bool,
    /// Regexes an extension must match; Parse's default refuses HTML, SVG, XML and friends.
    pub extensions: Vec<String>,
}

/// Parse Server 9's default `fileUpload.fileExtensions`: everything but markup a browser runs.
pub const DEFAULT_FILE_EXTENSIONS: &str = "^(?!([xXsS]?[hH][tT][mM][lL]?(\\+[xX][mM][lL])?|[xX][hH][tT]|[sS][vV][gG]([zZ]|\\+[xX][mM][lL])?|[xX][mM][lL]|[xX][sS][lL][tT]?(\\+[xX][mM][lL])?|[xX][sS][dD]|[rR][nN][gG]|[rR][dD][fF](\\+[xX][mM][lL])?|[oO][wW][lL]|[mM][aA][tT][hH][mM][lL](\\+[xX][mM][lL])?)$)";

impl Default for FileUpload {
    fn default() -> Self {
        FileUpload {
            public: false,
            anonymous: false,
            authenticated: true,
            extensions: vec![DEFAULT_FILE_EXTENSIONS.to_string()],
        }
    }
}

impl std::fmt::Debug for Config {
    /// Never prints the master key or the database URI (which may hold a password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("mount_path", &self.mount_path)
            .field("app_id", &self.app_id)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "<redacted>"),
            )
            .field("master_key_ips", &self.master_key_ips)
            .field("data_dir", &self.data_dir)
            .field(
                "database_uri",
                &self.database_uri.as_ref().map(|_| "<redacted>"),
            )
            .field("files_uri", &self.files_uri.as_ref().map(|_| "<redacted>"))
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<redacted>"))
            .field(
                "read_only_master_key",
                &self.read_only_master_key.as_ref().map(|_| "<redacted>"),
            )
            .field("live_query_classes", &self.live_query_classes)
            .field(
                "live_query_redis_url",
                &self.live_query_redis_url.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 1337,
            mount_path: "/parse".into(),
            app_id: None,
            master_key: None,
            master_key_ips: vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
            ],
            data_dir: PathBuf::from("./ferrobase-data"),
            database_uri: None,
            log_format: "pretty".into(),
            metrics: crate::observe::MetricsMode::Master,
            access_log: true,
            allow_client_class_creation: false,
            max_body_size: 20 * 1024 * 1024,
            max_batch_size: None,
            max_limit: None,
            session_length: 365 * 24 * 3600,
            bcrypt_cost: 10,
            files_uri: None,
            file_upload: FileUpload::default(),
            max_upload_size: 20 * 1024 * 1024,
            protected_files: false,
            file_token_ttl: 3600,
            read_only_master_key: None,
            password_pattern: None,
            password_no_username: false,
            password_policy_message: None,
            lockout_threshold: None,
            lockout_duration: 5,
            expire_inactive_sessions: true,
            extend_session_on_use: false,
            rate_limits: Vec::new(),
            slow_query_ms: None,
            auto_index_min_rows: Some(1000),
            public_server_url: None,
            app_name: "ferrobase".into(),
            verify_user_emails: false,
            prevent_login_with_unverified_email: false,
            email_verify_token_validity: None,
            reset_token_validity: None,
            smtp_url: None,
            email_from: None,
            live_query_classes: None,
            live_query_redis_url: None,
            live_query_queue_size: 1000,
            live_query_ping_interval: 10,
            schema_refresh_secs: 5,
            cloud: None,
            cloud_timeout: 30,
            cloud_watch: false,
            cloud_workers: 1,
            node: PathBuf::from("node"),
            webhook_key: None,
            live_query_trust_master_key: false,
            idempotency_paths: Vec::new(),
            idempotency_ttl: 300,
            push_webhook_url: None,
            public_dir: None,
            auth: crate::auth::AuthConfig::default(),
            enable_anonymous_users: true,
        }
    }
}

impl Config {
    /// Merges flags/environment (already combined by clap) over the config file over defaults.
    pub fn resolve(args: ServeArgs) -> Result<Config, String> {
        let file = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| format!("invalid config file {}: {e}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let d = Config::default();
        let mut mount = args.mount_path.or(file.mount_path).unwrap_or(d.mount_path);
        if !mount.starts_with('/') {
            mount.insert(0, '/');
        }
        while mount.len() > 1 && mount.ends_with('/') {
            mount.pop();
        }
        let log_format = args.log_format.or(file.log_format).unwrap_or(d.log_format);
        if log_format != "pretty" && log_format != "json" {
            return Err(format!(
                "--log-format must be pretty or json, not {log_format}"
            ));
        }
        let bcrypt_cost = args
            .bcrypt_cost
            .or(file.bcrypt_cost)
            .unwrap_or(d.bcrypt_cost);
        if !(4..=31).contains(&bcrypt_cost) {
            return Err("--bcrypt-cost must be between 4 and 31".into());
        }
        let file_extensions = args
            .file_extensions
            .or(file.file_extensions)
            .unwrap_or(d.file_upload.extensions);
        for ext in &file_extensions {
            if ext != "*" {
                fancy_regex::Regex::new(ext)
                    .map_err(|e| format!("invalid --file-extensions pattern {ext}: {e}"))?;
            }
        }
        let password_pattern = args.password_pattern.or(file.password_pattern);
        if let Some(p) = &password_pattern {
            ferrobase_core::config::password_regex(p)?;
        }
        let idempotency_paths = args
            .idempotency_paths
            .or(file.idempotency_paths)
            .unwrap_or_default()
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                let anchored = if p.starts_with('^') {
                    p.to_string()
                } else {
                    format!("^{p}")
                };
                fancy_regex::Regex::new(&anchored)
                    .map_err(|e| format!("invalid --idempotency-paths pattern {p}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let idempotency_ttl = args
            .idempotency_ttl
            .or(file.idempotency_ttl)
            .unwrap_or(d.idempotency_ttl);
        if idempotency_ttl == 0 {
            return Err("idempotency TTL value must be greater than 0 seconds".into());
        }
        let push_webhook_url = args
            .push_webhook_url
            .or(file.push_webhook_url)
            .filter(|s| !s.is_empty());
        if let Some(u) = &push_webhook_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "--push-webhook-url must be an http(s) URL, not {u}"
                ));
            }
        }
        let public_dir = args
            .public_dir
            .or(file.public_dir)
            .filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = &public_dir {
            if !dir.is_dir() {
                return Err(format!("--public-dir {} is not a folder", dir.display()));
            }
        }
        let auth = match args.auth_config.clone().or(file.auth_config.clone()) {
            Some(p) if !p.as_os_str().is_empty() => crate::auth::AuthConfig::read(&p)?,
            _ => crate::auth::AuthConfig::default(),
        };
        let enable_anonymous_users = args
            .enable_anonymous_users
            .or(file.enable_anonymous_users)
            .or(auth.enable_anonymous_users)
            .unwrap_or(d.enable_anonymous_users);
        // Checked now, so that a bad auth config stops the start with its message.
        crate::auth::adapters(&auth, enable_anonymous_users)?;
        let rate_limits = args
            .rate_limits
            .or(file.rate_limits)
            .unwrap_or_default()
            .iter()
            .filter(|r| !r.trim().is_empty())
            .map(|r| crate::ratelimit::Rule::parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Config {
            host: args.host.or(file.host).unwrap_or(d.host),
            port: args.port.or(file.port).unwrap_or(d.port),
            mount_path: mount,
            app_id: args.app_id.or(file.app_id),
            master_key: args.master_key.or(file.master_key),
            master_key_ips: args
                .master_key_ips
                .or(file.master_key_ips)
                .unwrap_or(d.master_key_ips),
            data_dir: args.data_dir.or(file.data_dir).unwrap_or(d.data_dir),
            database_uri: args
                .database_uri
                .or(file.database_uri)
                .filter(|s| !s.is_empty()),
            log_format,
            metrics: match args.metrics.or(file.metrics) {
                Some(m) => crate::observe::MetricsMode::parse(&m)?,
                None => d.metrics,
            },
            access_log: args.access_log.or(file.access_log).unwrap_or(d.access_log),
            allow_client_class_creation: args
                .allow_client_class_creation
                .or(file.allow_client_class_creation)
                .unwrap_or(d.allow_client_class_creation),
            max_body_size: args
                .max_body_size
                .or(file.max_body_size)
                .unwrap_or(d.max_body_size),
            max_batch_size: args
                .max_batch_size
                .or(file.max_batch_size)
                .or(d.max_batch_size),
            max_limit: args.max_limit.or(file.max_limit),
            session_length: args
                .session_length
                .or(file.session_length)
                .unwrap_or(d.session_length),
            bcrypt_cost,
            files_uri: args.files_uri.or(file.files_uri).filter(|s| !s.is_empty()),
            file_upload: FileUpload {
                public: args
                    .file_upload_public
                    .or(file.file_upload_public)
                    .unwrap_or(d.file_upload.public),
                anonymous: args
                    .file_upload_anonymous
                    .or(file.file_upload_anonymous)
                    .unwrap_or(d.file_upload.anonymous),
                authenticated: args
                    .file_upload_authenticated
                    .or(file.file_upload_authenticated)
                    .unwrap_or(d.file_upload.authenticated),
                extensions: file_extensions,
            },
            protected_files: args
                .protected_files
                .or(file.protected_files)
                .unwrap_or(false),
            file_token_ttl: args
                .file_token_ttl
                .or(file.file_token_ttl)
                .unwrap_or(d.file_token_ttl)
                .max(1),
            max_upload_size: args
                .max_upload_size
                .or(file.max_upload_size)
                .unwrap_or(d.max_upload_size),
            read_only_master_key: args.read_only_master_key.or(file.read_only_master_key),
            password_pattern,
            password_no_username: args
                .password_no_username
                .or(file.password_no_username)
                .unwrap_or(false),
            password_policy_message: args
                .password_policy_message
                .or(file.password_policy_message),
            lockout_threshold: args
                .lockout_threshold
                .or(file.lockout_threshold)
                .filter(|t| *t > 0),
            lockout_duration: args
                .lockout_duration
                .or(file.lockout_duration)
                .unwrap_or(d.lockout_duration),
            expire_inactive_sessions: args
                .expire_inactive_sessions
                .or(file.expire_inactive_sessions)
                .unwrap_or(d.expire_inactive_sessions),
            extend_session_on_use: args
                .extend_session_on_use
                .or(file.extend_session_on_use)
                .unwrap_or(false),
            rate_limits,
            slow_query_ms: args.slow_query_ms.or(file.slow_query_ms),
            auto_index_min_rows: match args.auto_index_min_rows.or(file.auto_index_min_rows) {
                Some(0) => None,
                Some(n) => Some(n),
                None => d.auto_index_min_rows,
            },
            public_server_url: args
                .public_server_url
                .or(file.public_server_url)
                .map(|u| u.trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
            app_name: args.app_name.or(file.app_name).unwrap_or(d.app_name),
            verify_user_emails: args
                .verify_user_emails
                .or(file.verify_user_emails)
                .unwrap_or(false),
            prevent_login_with_unverified_email: args
                .prevent_login_with_unverified_email
                .or(file.prevent_login_with_unverified_email)
                .unwrap_or(false),
            email_verify_token_validity: args
                .email_verify_token_validity
                .or(file.email_verify_token_validity),
            reset_token_validity: args.reset_token_validity.or(file.reset_token_validity),
            smtp_url: args.smtp_url.or(file.smtp_url),
            email_from: args.email_from.or(file.email_from),
            live_query_classes: args
                .live_query_classes
                .or(file.live_query_classes)
                .map(|v| {
                    v.into_iter()
                        .map(|c| c.trim().to_string())
                        .filter(|c| !c.is_empty())
                        .collect()
                }),
            live_query_redis_url: args
                .live_query_redis_url
                .or(file.live_query_redis_url)
                .filter(|s| !s.is_empty()),
            live_query_queue_size: args
                .live_query_queue_size
                .or(file.live_query_queue_size)
                .unwrap_or(d.live_query_queue_size)
                .max(1),
            live_query_ping_interval: args
                .live_query_ping_interval
                .or(file.live_query_ping_interval)
                .unwrap_or(d.live_query_ping_interval)
                .max(1),
            schema_refresh_secs: args
                .schema_refresh_secs
                .or(file.schema_refresh_secs)
                .unwrap_or(d.schema_refresh_secs),
            cloud: args
                .cloud
                .or(file.cloud)
                .or_else(|| std::env::var_os("PARSE_SERVER_CLOUD").map(PathBuf::from))
                .filter(|p| !p.as_os_str().is_empty()),
            cloud_timeout: args
                .cloud_timeout
                .or(file.cloud_timeout)
                .unwrap_or(d.cloud_timeout),
            cloud_watch: args
                .cloud_watch
                .or(file.cloud_watch)
                .unwrap_or(d.cloud_watch),
            cloud_workers: args
                .cloud_workers
                .or(file.cloud_workers)
                .unwrap_or(d.cloud_workers)
                .clamp(1, 64),
            node: args.node.or(file.node).unwrap_or(d.node),
            webhook_key: args
                .webhook_key
                .or(file.webhook_key)
                .filter(|s| !s.is_empty()),
            live_query_trust_master_key: args
                .live_query_trust_master_key
                .or(file.live_query_trust_master_key)
                .unwrap_or(d.live_query_trust_master_key),
            idempotency_paths,
            idempotency_ttl,
            push_webhook_url,
            public_dir,
            auth,
            enable_anonymous_users,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beat_defaults() -> Result<(), String> {
        let dir = std::env::temp_dir().join(format!("ferrobase-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join("f.toml");
        std::fs::write(
            &file,
            "port = 4000\nmount_path = \"api/\"\nhost = \"0.0.0.0\"\n",
        )
        .map_err(|e| e.to_string())?;
        let args = ServeArgs {
            config: Some(file),
            port: Some(5000),
            ..ServeArgs::default()
        };
        let c = Config::resolve(args)?;
        assert_eq!(c.port, 5000);
        assert_eq!(c.host, "0.0.0.0");
        assert_eq!(c.mount_path, "/api");
        assert_eq!(
            c.max_batch_size, None,
            "no batch cap by default, as Parse 9"
        );
        assert!(!format!("{c:?}").contains("secret"));
        Ok(())
    }

    #[test]
    fn debug_redacts_secrets() -> Result<(), String> {
        let args = ServeArgs {
            master_key: Some("secret".into()),
            ..ServeArgs::default()
        };
        let c = Config::resolve(args)?;
        assert!(!format!("{c:?}").contains("secret"));
        Ok(())
    }
}
