//! Wiring: open storage, load TLS, bind, and run the HTTPS server.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::ServerHandle;

use crate::config::{Config, ConfigError};
use crate::http::{self, AppState};
use crate::storage::{self, SharedStorage, StorageError, StorageOptions};
use crate::tls::{self, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("server error: {0}")]
    Server(#[from] std::io::Error),
}

pub fn open_storage(config: &Config) -> Result<SharedStorage, StorageError> {
    storage::open(
        &config.storage.url,
        &StorageOptions {
            reader_pool_size: config.storage.reader_pool_size,
            sqlite_synchronous: config.storage.sqlite_synchronous.clone(),
            sqlite_cache_kib: config.storage.sqlite_cache_kib,
            postgres_schema: config.storage.postgres_schema.clone(),
            postgres_ca_file: config.storage.postgres_ca_file.clone(),
        },
    )
}

pub fn bind(config: &Config) -> Result<TcpListener, AppError> {
    TcpListener::bind(&config.server.listen)
        .map_err(|source| AppError::Bind { addr: config.server.listen.clone(), source })
}

/// Runs the hub until it is stopped (Ctrl-C / SIGTERM). Must be called inside an actix system.
pub async fn serve(config: Arc<Config>, storage: SharedStorage, listener: TcpListener) -> Result<(), AppError> {
    let tls = tls::server_config_from_files(
        &config.tls.cert,
        &config.tls.key,
        config.tls.client_ca.as_deref(),
        config.tls.client_auth == "required",
    )?;
    let state = AppState::new(config.clone(), storage).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "taxii-hub listening (HTTPS)");
    http::server(state, listener, tls, config.server.workers)?.await?;
    Ok(())
}

/// A hub running on its own thread and actix system: for tests, benchmarks and tools.
pub struct RunningHub {
    pub addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningHub {
    pub fn start(config: Config, storage: SharedStorage, tls: rustls::ServerConfig) -> Result<RunningHub, AppError> {
        let config = Arc::new(config);
        let listener = bind(&config)?;
        let addr = listener.local_addr()?;
        let (ready, started) = std::sync::mpsc::channel::<Result<ServerHandle, AppError>>();
        let thread = std::thread::Builder::new().name("taxii-hub".into()).spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let state = match AppState::new(config.clone(), storage).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready.send(Err(e.into()));
                        return;
                    }
                };
                match http::server(state, listener, tls, config.server.workers) {
                    Ok(server) => {
                        let _ = ready.send(Ok(server.handle()));
                        if let Err(e) = server.await {
                            tracing::error!(error = %e, "server stopped with an error");
                        }
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e.into()));
                    }
                }
            });
        })?;
        let handle = started
            .recv()
            .map_err(|_| AppError::Server(std::io::Error::other("server thread ended before starting")))??;
        Ok(RunningHub { addr, handle, thread: Some(thread) })
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            let handle = self.handle.clone();
            // The handle's future must be polled to deliver the stop command.
            let _ = std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false))).join();
            let _ = thread.join();
        }
    }
}

impl Drop for RunningHub {
    fn drop(&mut self) {
        self.shutdown();
    }
}
