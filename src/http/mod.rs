//! HTTP layer: routes, extractors, media types and errors. Talks to the domain and to storage
//! through [`AppState`]; knows nothing of SQL.

pub mod audit;
pub mod auth;
mod cpu_threads;
pub mod error;
pub mod jwt;
pub mod media;
pub mod proxy_protocol;
pub mod routes;
mod slots;
pub mod throttle;
pub mod uploads;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, NormalizePath, TrailingSlash};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

use self::error::ApiError;
use self::routes::{admin, collections, discovery, health, objects, status, token};
use crate::config::Config;
use crate::domain::cursor::CursorKey;
use crate::storage::SharedStorage;

pub struct AppState {
    pub config: Arc<Config>,
    pub storage: SharedStorage,
    pub cursor_key: CursorKey,
    pub credentials: auth::CredentialCache,
    pub jwt: jwt::JwtKeys,
    pub audit: audit::AuditSink,
    pub throttle: throttle::SignInThrottle,
    /// Envelope parsing (with STIX validation), off the HTTP workers.
    pub parsers: cpu_threads::CpuThreads,
    pub uploads: uploads::UploadSlots,
    /// The client CA bundle (`tls.client_ca`): subject mappings check issuance against it.
    pub client_cas: Arc<crate::certificate_names::CaBundle>,
}

impl AppState {
    pub async fn new(config: Arc<Config>, storage: SharedStorage) -> Result<AppState, crate::storage::StorageError> {
        let secret = storage.shared_secret("cursor_secret", || rand::random::<[u8; 32]>().to_vec()).await?;
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| crate::storage::StorageError::Database("stored cursor secret has the wrong length".into()))?;
        let cursor_key = CursorKey::new(secret);
        let credentials = auth::CredentialCache::new(Duration::from_secs(config.auth.credential_cache_seconds));
        let jwt = token_keys(&config, &storage).await?;
        let audit = audit::AuditSink::start(storage.clone());
        let throttle = throttle::SignInThrottle::new(&config.auth);
        let parsers =
            cpu_threads::CpuThreads::start("envelope-parse", cpu_threads::per_core(), cpu_threads::FreedMemory::Keep);
        let uploads = uploads::UploadSlots::new(config.uploads.clone());
        let client_cas = client_ca_bundle(&config)?;
        Ok(AppState { config, storage, cursor_key, credentials, jwt, audit, throttle, parsers, uploads, client_cas })
    }
}

fn client_ca_bundle(config: &Config) -> Result<Arc<crate::certificate_names::CaBundle>, crate::storage::StorageError> {
    let Some(path) = &config.tls.client_ca else { return Ok(Arc::default()) };
    let bad = |e: String| crate::storage::StorageError::Config(format!("tls.client_ca {}: {e}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = crate::tls::load_certs(&pem).map_err(|e| bad(e.to_string()))?;
    Ok(Arc::new(crate::certificate_names::CaBundle::new(certs.into_iter().map(|c| c.to_vec()))))
}

/// The token signing key: from `auth.token_key_file`, else generated once and kept in the database.
async fn token_keys(config: &Config, storage: &SharedStorage) -> Result<jwt::JwtKeys, crate::storage::StorageError> {
    let a = &config.auth;
    let ttl = Duration::from_secs(a.token_ttl_seconds);
    let bad = |e: jwt::JwtError| crate::storage::StorageError::Config(e.to_string());
    match &a.token_key_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                crate::storage::StorageError::Config(format!("auth.token_key_file {}: {e}", path.display()))
            })?;
            jwt::JwtKeys::from_pem(&pem, &a.token_issuer, &a.token_audience, ttl).map_err(bad)
        }
        None => {
            let pkcs8 = storage
                .shared_secret("token_ed25519_pkcs8", || jwt::JwtKeys::generate_pkcs8().unwrap_or_default())
                .await?;
            jwt::JwtKeys::from_pkcs8(&pkcs8, &a.token_issuer, &a.token_audience, ttl).map_err(bad)
        }
    }
}

fn not_allowed(
    allow: &'static str,
) -> impl Fn(HttpRequest) -> std::future::Ready<Result<HttpResponse, ApiError>> + Clone {
    move |req: HttpRequest| {
        std::future::ready(Err(ApiError::MethodNotAllowed { method: req.method().to_string(), allow }))
    }
}

async fn unknown_path(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no resource at {}", req.path())))
}

/// Turns any error response that did not come from our handlers (actix's own 400s, path
/// extraction failures…) into a TAXII error resource.
fn taxii_error_body<B: MessageBody + 'static>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_taxii = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/taxii+json"));
    if is_taxii {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, _) = res.into_parts();
    let replacement = error::error_response(status, status.canonical_reason().unwrap_or("error"));
    let res = ServiceResponse::new(req, replacement).map_into_boxed_body().map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(res))
}

/// Every GET resource answers HEAD too (same handler; actix sends the headers without the
/// body), as the `Allow` lists on 405 say.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let get = "GET, HEAD";
    cfg.app_data(web::PathConfig::default().error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()))
        .service(
            web::resource("/healthz/").route(web::get().to(health::healthz)).route(web::head().to(health::healthz)),
        )
        .service(web::resource("/readyz/").route(web::get().to(health::readyz)).route(web::head().to(health::readyz)))
        .service(
            web::resource("/auth/token/")
                .route(web::post().to(token::issue))
                .default_service(web::to(not_allowed("POST"))),
        )
        .service(admin::scope())
        .service(
            web::resource("/taxii2/")
                .route(web::get().to(discovery::discovery))
                .route(web::head().to(discovery::discovery))
                .default_service(web::to(not_allowed(get))),
        )
        .service(
            web::resource("/{root}/")
                .route(web::get().to(discovery::api_root_information))
                .route(web::head().to(discovery::api_root_information))
                .default_service(web::to(not_allowed(get))),
        )
        .service(
            web::resource("/{root}/status/{status_id}/")
                .route(web::get().to(status::get))
                .route(web::head().to(status::get))
                .default_service(web::to(not_allowed(get))),
        )
        .service(
            web::resource("/{root}/collections/")
                .route(web::get().to(collections::list))
                .route(web::head().to(collections::list))
                .default_service(web::to(not_allowed(get))),
        )
        .service(
            web::resource("/{root}/collections/{collection}/")
                .route(web::get().to(collections::get))
                .route(web::head().to(collections::get))
                .default_service(web::to(not_allowed(get))),
        )
        .service(
            web::resource("/{root}/collections/{collection}/manifest/")
                .route(web::get().to(objects::get_manifest))
                .route(web::head().to(objects::get_manifest))
                .default_service(web::to(not_allowed(get))),
        )
        .service(
            web::resource("/{root}/collections/{collection}/objects/")
                .route(web::get().to(objects::get_objects))
                .route(web::head().to(objects::get_objects))
                .route(web::post().to(objects::add_objects))
                .default_service(web::to(not_allowed("GET, HEAD, POST"))),
        )
        .service(
            web::resource("/{root}/collections/{collection}/objects/{object_id}/")
                .route(web::get().to(objects::get_object))
                .route(web::head().to(objects::get_object))
                .route(web::delete().to(objects::delete_object))
                .default_service(web::to(not_allowed("GET, HEAD, DELETE"))),
        )
        .service(
            web::resource("/{root}/collections/{collection}/objects/{object_id}/versions/")
                .route(web::get().to(objects::get_versions))
                .route(web::head().to(objects::get_versions))
                .default_service(web::to(not_allowed(get))),
        )
        .default_service(web::to(unknown_path));
}

/// Builds the HTTPS server on an already-bound listener. The caller runs the returned future.
pub fn server(
    state: AppState,
    listener: TcpListener,
    tls: rustls::ServerConfig,
    workers: usize,
) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let retention = Duration::from_secs(state.config.storage.status_retention_hours * 3600);
    spawn_status_purge(state.clone(), retention);
    // Behind a PROXY-protocol balancer the server listens on loopback, behind the front.
    let relayed = proxy_protocol::RelayedClients::default();
    let listener = if state.config.server.proxy_protocol_from.is_empty() {
        listener
    } else {
        let inner = TcpListener::bind("127.0.0.1:0")?;
        let trusted = state.config.server.proxy_protocol_from.clone();
        proxy_protocol::start_front(listener, inner.local_addr()?, trusted, relayed.clone())?;
        inner
    };
    let client_cas = Arc::clone(&state.client_cas);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(ErrorHandlers::new().default_handler(taxii_error_body))
            .wrap(actix_web::middleware::from_fn(audit::middleware))
            .wrap(NormalizePath::new(TrailingSlash::Always))
            .wrap(tracing_actix_web::TracingLogger::default())
            .configure(configure)
    })
    .on_connect(move |conn, data| capture_connection(&relayed, &client_cas, conn, data))
    .shutdown_timeout(10)
    // A 1 MB page otherwise waits ~40 ms on a delayed ACK now and then (Nagle).
    .tcp_nodelay(true);
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.listen_rustls_0_23(listener, tls)?.run())
}

/// Keeps, for the authentication extractor, the verified client certificate of a TLS connection
/// (read here, once per connection: fingerprint, names, issuance)
/// and, for a connection relayed by the PROXY-protocol front, the client it speaks for.
fn capture_connection(
    relayed: &proxy_protocol::RelayedClients,
    client_cas: &crate::certificate_names::CaBundle,
    conn: &dyn std::any::Any,
    data: &mut actix_web::dev::Extensions,
) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(stream) = conn.downcast_ref::<Tls>() {
        let (tcp, session) = stream.get_ref();
        if let Some(leaf) = session.peer_certificates().and_then(|certs| certs.first()) {
            let read = crate::certificate_names::read_client_certificate(leaf, client_cas);
            data.insert(auth::PeerCertificate(read));
        }
        if let Some(client) = tcp.peer_addr().ok().and_then(|peer| relayed.take(peer)) {
            data.insert(throttle::ProxiedClient(client));
        }
    }
}

fn spawn_status_purge(state: web::Data<AppState>, retention: Duration) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = crate::domain::timestamp::now_micros() - retention.as_micros() as i64;
            match state.storage.purge_statuses(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "purged expired status resources"),
                Err(e) => tracing::warn!(error = %e, "status purge failed"),
            }
        }
    });
}
