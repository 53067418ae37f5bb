//! Logging through `tracing`, as text for people or JSON for log pipelines.

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if log.format == "json" { builder.json().try_init() } else { builder.try_init() };
}
