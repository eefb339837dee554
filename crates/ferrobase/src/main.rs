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
