use clap::{Parser, Subcommand};
use ferrobase::config::{Config, ServeArgs};
use std::process::ExitCode;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "ferrobase",
    version,
    about = "A Parse Server compatible back end: one binary, embedded store by default"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Parse REST API.
    Serve(ServeArgs),
    /// Maintain stored files.
    #[command(subcommand)]
    Files(FilesCommand),
    /// Copy a whole app between stores: a data dir or sqlite:<path>, and mongodb://… (resumable).
    Migrate {
        /// Source: a data dir, `sqlite:<path>` or `mongodb://host/db`.
        #[arg(long)]
        from: String,
        /// Destination, in the same forms.
        #[arg(long)]
        to: String,
    },
    /// Online backup of the embedded store (while the server runs), with keys and local files.
    Backup {
        #[command(flatten)]
        args: ServeArgs,
        /// A directory (database, keys.json, files), or a `.sqlite`/`.db` file (database only).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Restores a backup into the data dir (stop the server first).
    Restore {
        #[command(flatten)]
        args: ServeArgs,
        /// A backup directory or `.sqlite` file.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Replace an existing database (it is kept beside as `.before-restore-<time>`).
        #[arg(long)]
        force: bool,
    },
    /// Exports every class as JSON lines (any store; see docs/operations.md).
    Export {
        #[command(flatten)]
        args: ServeArgs,
        /// Directory to create.
        #[arg(long)]
        to: std::path::PathBuf,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Imports an export directory (resumable: run it again after an interruption).
    Import {
        #[command(flatten)]
        args: ServeArgs,
        /// The export directory.
        #[arg(long)]
        from: std::path::PathBuf,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
}

/// `backup`, `restore`, `export`, `import`.
async fn ops_command(cmd: Command) -> ExitCode {
    let args = match &cmd {
        Command::Backup { args, .. }
        | Command::Restore { args, .. }
        | Command::Export { args, .. }
        | Command::Import { args, .. } => args.clone(),
        _ => return ExitCode::FAILURE,
    };
    let config = match Config::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferrobase: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd {
        Command::Backup { to, .. } => {
            tokio::task::spawn_blocking(move || ferrobase::backup::backup(&config, &to))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
                .map(|r| {
                    let mut s = format!(
                        "backup: {} ({} database bytes, {} files, {} file bytes)",
                        r.path.display(),
                        r.database_bytes,
                        r.files,
                        r.file_bytes
                    );
                    if let Some(n) = r.files_note {
                        s.push_str(&format!("\nnote: {n}"));
                    }
                    s
                })
        }
        Command::Restore { from, force, .. } => {
            tokio::task::spawn_blocking(move || ferrobase::backup::restore(&config, &from, force))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
                .map(|r| {
                    let mut s = format!(
                        "restored into {} ({} files{})",
                        r.database.display(),
                        r.files,
                        if r.keys { ", keys.json" } else { "" }
                    );
                    if let Some(k) = r.kept {
                        s.push_str(&format!(
                            "; the previous database is kept as {}",
                            k.display()
                        ));
                    }
                    s
                })
        }
        Command::Export { to, quiet, .. } => ferrobase::export::export(&config, &to, quiet)
            .await
            .map(|r| {
                format!(
                    "exported {} classes: {} objects, {} relation pairs, {} file references",
                    r.classes, r.objects, r.relations, r.files
                )
            }),
        Command::Import { from, quiet, .. } => ferrobase::export::import(&config, &from, quiet)
            .await
            .map(|r| {
                format!(
                    "imported: {} objects inserted, {} already there, {} relation pairs{}",
                    r.inserted,
                    r.skipped,
                    r.relations,
                    if r.resumed_lines > 0 {
                        format!(", resumed after {} lines", r.resumed_lines)
                    } else {
                        String::new()
                    }
                )
            }),
        _ => Err("unexpected command".into()),
    };
    match result {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferrobase: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Subcommand)]
enum FilesCommand {
    /// List stored files that no object references (and delete them with --delete).
    Orphans {
        #[command(flatten)]
        args: ServeArgs,
        /// Delete the orphans.
        #[arg(long)]
        delete: bool,
        /// With --delete: only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Files younger than this many seconds are kept (a client may be about to attach them).
        #[arg(long, default_value_t = 3600)]
        min_age: u64,
    },
}

async fn files_command(cmd: FilesCommand) -> ExitCode {
    let FilesCommand::Orphans {
        args,
        delete,
        dry_run,
        min_age,
    } = cmd;
    let config = match Config::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferrobase: {e}");
            return ExitCode::from(2);
        }
    };
    match ferrobase::orphans::run(config, delete, dry_run, min_age).await {
        Ok(report) => {
            for (name, size) in &report.orphans {
                println!("{name}\t{size}");
            }
            let total: u64 = report.orphans.iter().map(|(_, s)| s).sum();
            let verb = if delete && !dry_run {
                "deleted"
            } else if delete {
                "would delete"
            } else {
                "found"
            };
            eprintln!(
                "{verb} {} orphan file(s), {total} bytes ({} file(s) referenced by objects)",
                report.orphans.len(),
                report.referenced
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferrobase: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROBASE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, so call it
/// before announcing that the server listens (a signal sent right after must not kill it).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut t), Some(mut i)) => {
                    tokio::select! {
                        _ = t.recv() => {},
                        _ = i.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Files(cmd) => return files_command(cmd).await,
        cmd @ (Command::Backup { .. }
        | Command::Restore { .. }
        | Command::Export { .. }
        | Command::Import { .. }) => return ops_command(cmd).await,
        Command::Migrate { from, to } => {
            return match ferrobase::migrate::run(&from, &to).await {
                Ok(n) => {
                    println!("migrated: {n} objects copied, counts verified");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ferrobase migrate: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    let config = match Config::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferrobase: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log_format);
    let data_dir = config.data_dir.clone();
    let public_dir = config.public_dir.clone();
    let running = match ferrobase::serve::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferrobase: {e}");
            return ExitCode::FAILURE;
        }
    };
    if running.generated_keys {
        println!(
            "Generated new keys (stored in {}):",
            data_dir.join("keys.json").display()
        );
        println!("  application id: {}", running.app_id);
        println!("  master key:     {}", running.master_key);
    }
    let stop = shutdown_signal();
    println!("ferrobase listening on {}", running.url);
    if let Some(dir) = public_dir {
        tracing::info!(dir = %dir.display(), "serving static files at /");
    }
    stop.await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.stop().await;
    ExitCode::SUCCESS
}
