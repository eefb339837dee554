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

/// SIGTERM's handler is registered before the "listening" line is printed (a supervisor may
/// stop the server as soon as it reads that line).
#[cfg(unix)]
type Term = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Term = ();

fn register_term() -> Term {
    #[cfg(unix)]
    return tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(not(unix))]
    ()
}

#[cfg_attr(not(unix), allow(unused_variables))]
async fn shutdown_signal(term: Term) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Some(mut term) = term else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
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
    let term = register_term();
    println!("ferrobase listening on {}", running.url);
    shutdown_signal(term).await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.stop().await;
    ExitCode::SUCCESS
}
