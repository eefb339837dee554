use clap::{Parser, Subcommand};
use ferrobase::config::{Config, ServeArgs};
use std::process::ExitCode;

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
    let Command::Serve(args) = cli.command;
    let config = match Config::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferrobase: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log_format);
    let data_dir = config.data_dir.clone();
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
    stop.await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.stop().await;
    ExitCode::SUCCESS
}
