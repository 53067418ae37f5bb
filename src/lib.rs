//! taxii-hub: a national threat-information-sharing hub speaking TAXII 2.1 over HTTPS.
//!
//! Layers, outermost first: [`http`] (routes, extractors, errors) → [`domain`] (sharing policy,
//! STIX handling, TAXII semantics) → [`storage`] (one trait; SQLite by default).

pub mod app;
pub mod certificate_names;
pub mod cli;
pub mod config;
pub mod demo;
pub mod directory;
pub mod domain;
pub mod http;
pub mod provision;
pub mod storage;
pub mod telemetry;
pub mod tls;
