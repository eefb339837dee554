//! Starting and stopping the server: open the store, build the core, bind, serve until shutdown.

use crate::app::{self, App};
use crate::config::Config;
use crate::keys;
use ferrobase_core::config::{AccountLockout, CoreConfig, PasswordPolicy};
use ferrobase_core::rest::Core;
use ferrobase_core::storage::Storage;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    /// `http://host:port<mount>`
    pub url: String,
    pub app_id: String,
    pub master_key: String,
    /// Keys generated on this start (print them once).
    pub generated_keys: bool,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, and closes the store cleanly.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }

    /// Waits until the server ends (after `stop`, or on a fatal error).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Opens the store `--database-uri` names (the embedded SQLite store by default).
pub async fn open_store(config: &Config) -> Result<Arc<dyn Storage>, String> {
    let path: PathBuf = match config.database_uri.as_deref() {
        None => config.data_dir.join("ferrobase.sqlite"),
        Some(uri) if uri.starts_with("sqlite:") => {
            let p = uri.trim_start_matches("sqlite:").trim_start_matches("//");
            PathBuf::from(p)
        }
        Some(uri) if uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://") => {
            let store = ferrobase_mongo::MongoStore::connect(uri)
                .await
                .map_err(|e| format!("cannot open the MongoDB database: {e}"))?;
            return Ok(Arc::new(store));
        }
        Some(_) => {
            return Err(
                "--database-uri must be empty (embedded store), sqlite:<path> or mongodb://…"
                    .into(),
            )
        }
    };
    let store = ferrobase_sqlite::SqliteStore::open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok(Arc::new(store))
}

/// The email flows' settings; links point at `--public-server-url` (or the listening address).
fn email_config(config: &Config, addr: SocketAddr) -> Option<ferrobase_core::mailer::EmailConfig> {
    config.smtp_url.as_ref()?;
    let mount = if config.mount_path == "/" {
        ""
    } else {
        config.mount_path.as_str()
    };
    Some(ferrobase_core::mailer::EmailConfig {
        public_server_url: config
            .public_server_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}{mount}")),
        app_name: config.app_name.clone(),
        verify_user_emails: config.verify_user_emails,
        prevent_login_with_unverified_email: config.prevent_login_with_unverified_email,
        verify_token_validity_secs: config.email_verify_token_validity,
        reset_token_validity_secs: config.reset_token_validity,
    })
}

/// Opens everything and starts serving on `config.host:config.port` (0 = any free port).
pub async fn start(config: Config) -> Result<Running, String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", config.data_dir.display()))?;
    let keys = keys::resolve(
        &config.data_dir,
        config.app_id.clone(),
        config.master_key.clone(),
    )?;
    if config.metrics != crate::observe::MetricsMode::Off {
        crate::observe::install();
    }
    let store = crate::observe::metered(open_store(&config).await?);
    let metrics_listener = match config.metrics {
        crate::observe::MetricsMode::Listen(addr) => {
            Some(crate::observe::serve_metrics(addr).await?)
        }
        _ => None,
    };
    let files = crate::files::Files::open(&config)?;
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // File URLs on objects: --public-server-url, else the address we listen on.
    let public_url = match &config.public_server_url {
        Some(u) => u.clone(),
        None => {
            let mut host = addr;
            if host.ip().is_unspecified() {
                host.set_ip(std::net::IpAddr::from([127, 0, 0, 1]));
            }
            let mount = if config.mount_path == "/" {
                ""
            } else {
                config.mount_path.as_str()
            };
            format!("http://{host}{mount}")
        }
    };
    let core_config = CoreConfig {
        app_id: keys.app_id.clone(),
        allow_client_class_creation: config.allow_client_class_creation,
        session_length_secs: config.session_length,
        max_limit: config.max_limit,
        max_batch_size: config.max_batch_size,
        bcrypt_cost: config.bcrypt_cost,
        password_policy: PasswordPolicy {
            validator_pattern: match &config.password_pattern {
                Some(p) => Some(ferrobase_core::config::password_regex(p)?),
                None => None,
            },
            do_not_allow_username: config.password_no_username,
            validation_error: config.password_policy_message.clone(),
        },
        account_lockout: config.lockout_threshold.map(|threshold| AccountLockout {
            threshold,
            duration_minutes: config.lockout_duration,
        }),
        expire_inactive_sessions: config.expire_inactive_sessions,
        extend_session_on_use: config.extend_session_on_use,
        email: email_config(&config, addr),
        slow_query_ms: config.slow_query_ms,
        auto_index_min_rows: config.auto_index_min_rows,
        files_url: format!("{public_url}/files/{}/", keys.app_id),
        file_tokens: config.protected_files.then(|| {
            ferrobase_core::file_tokens::FileTokens::new(
                keys.master_key.as_bytes(),
                config.file_token_ttl,
            )
        }),
        auth: crate::auth::adapters(&config.auth, config.enable_anonymous_users)?,
        ..CoreConfig::default()
    };
    let mut core = Core::new(core_config, store)
        .await
        .map_err(|e| format!("cannot load the store: {e}"))?;
    if let Some(url) = &config.smtp_url {
        let from = config
            .email_from
            .clone()
            .unwrap_or_else(|| format!("{} <no-reply@localhost>", config.app_name));
        core = core.with_mailer(Arc::new(crate::mail::SmtpMailer::new(url, &from)?));
    } else if config.verify_user_emails {
        return Err("--verify-user-emails needs --smtp-url to send the emails".into());
    }
    let mount = if config.mount_path == "/" {
        String::new()
    } else {
        config.mount_path.clone()
    };
    let url = format!("http://{addr}{mount}");
    let limiter = crate::ratelimit::Limiter::new(config.rate_limits.clone());
    let live = crate::live::Hub::new(crate::live::LiveConfig {
        classes: config
            .live_query_classes
            .as_ref()
            .map(|c| c.iter().cloned().collect()),
        redis_url: config.live_query_redis_url.clone(),
        queue_size: config.live_query_queue_size,
        ping_interval: std::time::Duration::from_secs(config.live_query_ping_interval),
        ..crate::live::LiveConfig::default()
    });
    let cloud = match &config.cloud {
        Some(main) => Some(
            crate::cloud::Cloud::start(crate::cloud::CloudSettings {
                main: main.clone(),
                watch: config.cloud_watch,
                workers: config.cloud_workers,
                node: config.node.clone(),
                timeout: std::time::Duration::from_secs(config.cloud_timeout.max(1)),
                app_id: keys.app_id.clone(),
                master_key: keys.master_key.clone(),
                server_url: public_url.clone(),
            })
            .await?,
        ),
        None => None,
    };
    let hooks = Arc::new(crate::cloud::Dispatch::new(
        cloud.clone(),
        config.webhook_key.clone(),
        std::time::Duration::from_secs(config.cloud_timeout.max(1)),
    ));
    hooks
        .load(&core)
        .await
        .map_err(|e| format!("cannot load the webhooks: {e}"))?;
    core.set_hooks(hooks.clone());
    let app = Arc::new(App {
        core,
        cloud,
        hooks,
        live,
        config,
        master_key: keys.master_key.clone(),
        limiter,
        started: Instant::now(),
        files,
        inner: OnceLock::new(),
    });
    app.live.start(&app)?;
    if let Some(c) = &app.cloud {
        c.attach(&app);
    }
    if app.config.schema_refresh_secs > 0 {
        // Other nodes on the same database may change schemas (fields, CLPs, indexes): reload.
        let weak = Arc::downgrade(&app);
        let every = std::time::Duration::from_secs(app.config.schema_refresh_secs);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(app) = weak.upgrade() else { break };
                if let Err(e) = app.core.reload_schemas().await {
                    tracing::warn!(error = %e, "schema reload failed");
                }
            }
        });
    }
    let router = app::build(app.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let stopping = app.clone();
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
                // LiveQuery connections are long-lived: close them so the shutdown can finish.
                stopping.live.shutdown();
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "server stopped with an error");
        }
        if let Some(m) = metrics_listener {
            m.abort();
        }
        if let Some(c) = &app.cloud {
            c.stop();
        }
        app.core.close().await;
    });
    Ok(Running {
        addr,
        url,
        app_id: keys.app_id,
        master_key: keys.master_key,
        generated_keys: keys.generated,
        shutdown: tx,
        task,
    })
}
