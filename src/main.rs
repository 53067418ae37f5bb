use std::path::PathBuf;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use taxii_hub::app::{self, AppError};
use taxii_hub::config::Config;
use taxii_hub::{cli, demo, telemetry, tls};

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
    /// Make organisations, trust groups, collections and accounts match a TOML file (idempotent).
    Provision {
        file: PathBuf,
        #[arg(long, short, env = "TAXII_HUB_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Manage accounts from the command line.
    Account {
        #[command(subcommand)]
        action: cli::AccountAction,
        #[arg(long, short, env = "TAXII_HUB_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Print an argon2id hash of a password read from standard input (for provisioning files).
    HashPassword,
    /// Make a CA and a server certificate (ca.pem, server.pem, server.key) in DIR unless present.
    SelfSigned {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Write an online, consistent copy of the SQLite database to PATH (PostgreSQL: use pg_dump).
    Backup {
        path: PathBuf,
        #[arg(long, short, env = "TAXII_HUB_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Move a hub from SQLite to an empty PostgreSQL database, keeping every object, status,
    /// audit row, account and key (and so every `next` cursor and token).
    Migrate {
        /// sqlite:///path/to/hub.db
        #[arg(long)]
        from: String,
        /// postgres://user@host/db
        #[arg(long)]
        to: String,
        /// PostgreSQL schema to create the hub in (default: the connection's search_path).
        #[arg(long)]
        postgres_schema: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Serve { config, self_signed_if_missing } => {
            Config::load(config.as_deref()).map_err(AppError::from).and_then(|c| run_serve(c, self_signed_if_missing))
        }
        Command::Demo { data_dir, listen } => run_demo(data_dir, listen),
        Command::Provision { file, config } => with_storage(config, |config, storage| async move {
            let roots: Vec<String> = config.taxii.api_roots.iter().map(|r| r.path.clone()).collect();
            let plan = taxii_hub::provision::ProvisionFile::load(&file).map_err(cli::other)?;
            let changes = taxii_hub::provision::apply(&storage, &plan, &roots).await.map_err(cli::other)?;
            if changes.is_empty() {
                println!("no changes: the hub already matches {}", file.display());
            }
            for c in changes {
                println!("{c}");
            }
            Ok(())
        }),
        Command::Account { action, config } => {
            with_storage(config, |_, storage| async move { cli::account(&storage, action).await })
        }
        Command::HashPassword => hash_password(),
        Command::Backup { path, config } => backup(config, path),
        Command::SelfSigned { dir } => {
            tls::ensure_self_signed(&dir).map(|ca| println!("CA certificate: {}", ca.display())).map_err(AppError::from)
        }
        Command::Migrate { from, to, postgres_schema } => migrate(&from, &to, postgres_schema),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("taxii-hub: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs `f` with the configured storage, for one-shot commands.
fn with_storage<F, Fut>(config: Option<PathBuf>, f: F) -> Result<(), AppError>
where
    F: FnOnce(Config, taxii_hub::storage::SharedStorage) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let config = Config::load(config.as_deref())?;
    actix_web::rt::System::new().block_on(async move {
        let storage = app::open_storage(&config)?;
        f(config, storage).await
    })
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
    let (plan, accounts) = demo::prepare(&data_dir).map_err(cli::other)?;
    // The demo file names environment variables; answer them from the demo's own passwords.
    let passwords: std::collections::HashMap<String, String> =
        accounts.iter().map(|a| (demo::password_variable(&a.username), a.password.clone())).collect();
    actix_web::rt::System::new().block_on(async move {
        let storage = app::open_storage(&config)?;
        let roots: Vec<String> = config.taxii.api_roots.iter().map(|r| r.path.clone()).collect();
        let env = |name: &str| passwords.get(name).cloned();
        for change in taxii_hub::provision::apply_with_env(&storage, &plan, &roots, &env).await.map_err(cli::other)? {
            tracing::info!(%change, "demo provisioning");
        }
        let root = config.taxii.default_api_root.clone().unwrap_or_else(|| roots[0].clone());
        let listener = app::bind(&config)?;
        let base = format!("https://{}", listener.local_addr()?);
        // A closed stdout (piped into something that went away) must not stop the hub.
        let _ = std::io::Write::write_all(
            &mut std::io::stdout().lock(),
            demo::banner(&base, &root, &ca, &accounts).as_bytes(),
        );
        app::serve(Arc::new(config), storage, listener).await
    })
}

fn hash_password() -> Result<(), AppError> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let hash =
        taxii_hub::domain::credentials::hash_password(line.trim_end_matches(['\r', '\n'])).map_err(cli::other)?;
    println!("{hash}");
    Ok(())
}

fn sqlite_path(url: &str) -> Result<PathBuf, AppError> {
    url.strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| cli::other(format!("'{url}' is not a sqlite:// URL")))
}

fn backup(config: Option<PathBuf>, path: PathBuf) -> Result<(), AppError> {
    let config = Config::load(config.as_deref())?;
    if config.storage.url.starts_with("postgres") {
        return Err(cli::other("PostgreSQL: back up with pg_dump (see README, \"Backup and restore\")"));
    }
    taxii_hub::storage::transfer::sqlite_backup(&sqlite_path(&config.storage.url)?, &path)?;
    println!("backed up {} to {}", config.storage.url, path.display());
    Ok(())
}

fn migrate(from: &str, to: &str, postgres_schema: Option<String>) -> Result<(), AppError> {
    let options = taxii_hub::storage::StorageOptions { postgres_schema, ..Default::default() };
    let counts = taxii_hub::storage::transfer::sqlite_to_postgres(&sqlite_path(from)?, to, &options)?;
    for (table, rows) in counts {
        println!("{table:<20} {rows} rows");
    }
    println!("migrated {from} to {to}; point storage.url at it and start the hub");
    Ok(())
}
