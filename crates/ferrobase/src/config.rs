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
    /// Store to use: empty for the embedded store in the data dir, or `sqlite:<path>`.
    #[arg(long, env = "FERROBASE_DATABASE_URI", hide_env_values = true)]
    pub database_uri: Option<String>,
    /// Log format: pretty or json.
    #[arg(long, env = "FERROBASE_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Let clients create classes by writing to them (Parse's allowClientClassCreation).
    #[arg(long, env = "FERROBASE_ALLOW_CLIENT_CLASS_CREATION")]
    pub allow_client_class_creation: Option<bool>,
    /// Largest request body in bytes (Parse's default: 20 MB).
    #[arg(long, env = "FERROBASE_MAX_BODY_SIZE")]
    pub max_body_size: Option<usize>,
    /// Most sub-requests in one /batch.
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
    allow_client_class_creation: Option<bool>,
    max_body_size: Option<usize>,
    max_batch_size: Option<usize>,
    max_limit: Option<usize>,
    session_length: Option<i64>,
    bcrypt_cost: Option<u32>,
    live_query_classes: Option<Vec<String>>,
    live_query_redis_url: Option<String>,
    live_query_queue_size: Option<usize>,
    live_query_ping_interval: Option<u64>,
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
    pub allow_client_class_creation: bool,
    pub max_body_size: usize,
    pub max_batch_size: usize,
    pub max_limit: Option<usize>,
    pub session_length: i64,
    pub bcrypt_cost: u32,
    /// LiveQuery classes (`None` = all).
    pub live_query_classes: Option<Vec<String>>,
    pub live_query_redis_url: Option<String>,
    pub live_query_queue_size: usize,
    /// Seconds between WebSocket pings.
    pub live_query_ping_interval: u64,
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
            allow_client_class_creation: false,
            max_body_size: 20 * 1024 * 1024,
            max_batch_size: 50,
            max_limit: None,
            session_length: 365 * 24 * 3600,
            bcrypt_cost: 10,
            live_query_classes: None,
            live_query_redis_url: None,
            live_query_queue_size: 1000,
            live_query_ping_interval: 10,
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
                .unwrap_or(d.max_batch_size),
            max_limit: args.max_limit.or(file.max_limit),
            session_length: args
                .session_length
                .or(file.session_length)
                .unwrap_or(d.session_length),
            bcrypt_cost,
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
        assert_eq!(c.max_batch_size, 50);
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
