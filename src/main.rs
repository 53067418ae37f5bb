use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use taxii_hub::app::{self, AppError};
use taxii_hub::config::Config;
use taxii_hub::{demo, telemetry, tls};

#[derive(Parser)]
#[command(name = "taxii-hub", version, about = "National threat-information-sharing hub (TAXII 2.1 over HTTPS)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub with a configuration file (production entry point).
    Serve {
        #[arg(long, short, env = "TAXII_HUB_CONFIG")]
        config: Option<PathBuf>,
        /// Make a self-signed CA and certificate at the configured paths if none exist yet.
        #[arg(long)]
        self_signed_if_missing: bool,
    },
    /// Run a self-contained demo hub: SQLite, self-signed TLS and demo accounts under --data-dir.
    Demo {
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
    },
    /// Print an argon2id hash of a password read from standard input (for provisioning by hand).
    HashPassword,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config, self_signed_if_missing } => {
            Config::load(config.as_deref()).map_err(AppError::from).and_then(|c| run_serve(c, self_signed_if_missing))
        }
        Command::Demo { data_dir, listen } => run_demo(data_dir, listen),
        Command::HashPassword => hash_password(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("taxii-hub: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_serve(config: Config, self_signed_if_missing: bool) -> Result<(), AppError> {
    telemetry::init(&config.log);
    if self_signed_if_missing && !config.tls.cert.exists() && !config.tls.key.exists() {
        let dir = config.tls.cert.parent().unwrap_or(std::path::Path::new("."));
        let made = tls::generate_self_signed(&["localhost", "127.0.0.1", "::1"])?;
        tls::write_self_signed(&made, &config.tls.cert, &config.tls.key, &dir.join("ca.pem"))?;
        tracing::warn!(cert = %config.tls.cert.display(), "no TLS certificate configured: made a self-signed one");
    }
    actix_web::rt::System::new().block_on(async move {
        let storage = app::open_storage(&config)?;
        let listener = app::bind(&config)?;
        app::serve(Arc::new(config), storage, listener).await
    })
}

fn run_demo(data_dir: PathBuf, listen: String) -> Result<(), AppError> {
    let mut config = Config::load(None)?;
    config.server.listen = listen;
    config.tls.cert = data_dir.join("tls/server.pem");
    config.tls.key = data_dir.join("tls/server.key");
    config.storage.url = format!("sqlite://{}", data_dir.join("hub.db").display());
    telemetry::init(&config.log);
    let ca = tls::ensure_self_signed(&data_dir.join("tls"))?;
    actix_web::rt::System::new().block_on(async move {
        let storage = app::open_storage(&config)?;
        let root = config.taxii.default_api_root.clone().unwrap_or_else(|| config.taxii.api_roots[0].path.clone());
        let accounts = demo::seed(&storage, &root, &data_dir).await?;
        let listener = app::bind(&config)?;
        let base = format!("https://{}", listener.local_addr()?);
        println!("{}", demo::banner(&base, &root, &ca, &accounts));
        app::serve(Arc::new(config), storage, listener).await
    })
}

fn hash_password() -> Result<(), AppError> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let hash = taxii_hub::http::auth::hash_password(line.trim_end_matches(['\r', '\n']))
        .map_err(|e| AppError::Server(std::io::Error::other(e)))?;
    println!("{hash}");
    Ok(())
}
