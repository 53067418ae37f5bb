//! PROXY protocol v2 in front of the HTTPS listener, for TCP load balancers (haproxy
//! `send-proxy-v2`) that pass TLS through: the balancer tells each connection's real client
//! address, so sign-in throttling applies per client instead of per balancer.
//!
//! actix-web cannot read bytes before its TLS handshake, so a small front accepts on the public
//! port: from a trusted balancer it reads the PROXY header, from anyone else nothing, then
//! relays the connection to the HTTPS server on a loopback port, noting which relayed
//! connection carries which client. The note is made before the first byte is relayed, so the
//! TLS handshake, and with it the request, always finds it. A header from an address not in
//! `server.proxy_protocol_from` is never read, so nobody else can claim an address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

const SIGNATURE: [u8; 12] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
/// A balancer that connects must send its header promptly.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longer headers (TLVs beyond the addresses) are refused.
const MAX_HEADER_BODY: usize = 512;

/// Connections relayed at once; more are closed as they arrive, so idle connections cannot use
/// up the process's file descriptors.
const MAX_RELAYED: usize = 8192;
/// After the client stops sending, how long the answer may still take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Relayed connections (by the relay's local address, as the HTTPS server sees its peer) and
/// the client address each one speaks for.
#[derive(Clone, Default)]
pub struct RelayedClients(Arc<Mutex<HashMap<SocketAddr, IpAddr>>>);

impl RelayedClients {
    fn note(&self, relay: SocketAddr, client: IpAddr) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(relay, client);
    }

    /// The client behind a connection from the relay, taken out (each is asked once).
    pub fn take(&self, relay: SocketAddr) -> Option<IpAddr> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&relay)
    }
}

/// An IPv4 client reached over an IPv6 socket (`::ffff:a.b.c.d`) is the IPv4 client.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("no PROXY protocol v2 signature")]
    Signature,
    #[error("unsupported PROXY protocol version or command")]
    Version,
    #[error("the PROXY header is too long or too short for its addresses")]
    Length,
}

/// Parses the 16 fixed bytes and the body of a v2 header: the client address, or `None` for
/// the LOCAL command and unspecified families (the balancer's own health checks).
pub fn parse_header(fixed: &[u8; 16], body: &[u8]) -> Result<Option<IpAddr>, HeaderError> {
    if fixed[..12] != SIGNATURE {
        return Err(HeaderError::Signature);
    }
    let (version, command) = (fixed[12] >> 4, fixed[12] & 0x0F);
    if version != 2 || command > 1 {
        return Err(HeaderError::Version);
    }
    if usize::from(u16::from_be_bytes([fixed[14], fixed[15]])) != body.len() {
        return Err(HeaderError::Length);
    }
    if command == 0 {
        return Ok(None);
    }
    match fixed[13] >> 4 {
        1 if body.len() >= 12 => Ok(Some(IpAddr::from([body[0], body[1], body[2], body[3]]))),
        2 if body.len() >= 36 => {
            let octets: [u8; 16] = body[..16].try_into().map_err(|_| HeaderError::Length)?;
            Ok(Some(IpAddr::from(octets)))
        }
        1 | 2 => Err(HeaderError::Length),
        _ => Ok(None),
    }
}

/// Starts the front on `public`, relaying to `inner` (the HTTPS server's loopback listener),
/// on its own threads. It stops when the HTTPS server is gone.
pub fn start_front(
    public: TcpListener,
    inner: SocketAddr,
    trusted: Vec<IpAddr>,
    relayed: RelayedClients,
) -> std::io::Result<()> {
    public.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(super::cpu_threads::per_core())
        .thread_name("proxy-protocol")
        .enable_all()
        .build()?;
    std::thread::Builder::new().name("proxy-protocol-accept".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(public) {
                Ok(l) => l,
                Err(e) => return tracing::error!(error = %e, "PROXY protocol front cannot listen"),
            };
            let trusted: Arc<Vec<IpAddr>> = Arc::new(trusted.into_iter().map(canonical).collect());
            let slots = Arc::new(tokio::sync::Semaphore::new(MAX_RELAYED));
            let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
            while !gone.load(std::sync::atomic::Ordering::Relaxed) {
                let (conn, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors, say: wait a little instead of spinning.
                        tracing::warn!(error = %e, "PROXY protocol front: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    tracing::warn!(%peer, "PROXY protocol front: {MAX_RELAYED} connections relayed already; closing");
                    continue;
                };
                let (trusted, relayed, gone) = (Arc::clone(&trusted), relayed.clone(), Arc::clone(&gone));
                tokio::spawn(async move {
                    let _slot = slot;
                    let upstream = match tokio::net::TcpStream::connect(inner).await {
                        Ok(upstream) => upstream,
                        Err(e) => {
                            // Refused: the HTTPS server is gone (the hub stopped), and so is the front.
                            if e.kind() == std::io::ErrorKind::ConnectionRefused {
                                tracing::info!("HTTPS server gone; PROXY protocol front stops");
                                gone.store(true, std::sync::atomic::Ordering::Relaxed);
                            }
                            return;
                        }
                    };
                    if let Err(e) = relay(conn, peer, upstream, &trusted, &relayed).await {
                        tracing::debug!(%peer, error = %e, "relayed connection ended");
                    }
                });
            }
        });
    })?;
    Ok(())
}

async fn relay(
    mut conn: tokio::net::TcpStream,
    peer: SocketAddr,
    mut upstream: tokio::net::TcpStream,
    trusted: &[IpAddr],
    relayed: &RelayedClients,
) -> std::io::Result<()> {
    let _ = conn.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let peer_ip = canonical(peer.ip());
    let client = if trusted.contains(&peer_ip) {
        let header = tokio::time::timeout(HEADER_TIMEOUT, read_header(&mut conn))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no PROXY header"))??;
        header.map_or(peer_ip, canonical)
    } else {
        peer_ip
    };
    let relay_addr = upstream.local_addr()?;
    relayed.note(relay_addr, client);
    let outcome = pipe(&mut conn, &mut upstream).await;
    relayed.take(relay_addr);
    outcome
}

/// Copies both ways until the HTTPS server closes its side (it applies its own handshake,
/// keep-alive and request timeouts) — then the client is cut off too, however idle — or until
/// the client stops sending and the answer has drained.
async fn pipe(conn: &mut tokio::net::TcpStream, upstream: &mut tokio::net::TcpStream) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let (mut from_client, mut to_client) = conn.split();
    let (mut from_server, mut to_server) = upstream.split();
    let requests = async {
        tokio::io::copy(&mut from_client, &mut to_server).await?;
        to_server.shutdown().await
    };
    let answers = tokio::io::copy(&mut from_server, &mut to_client);
    tokio::pin!(requests, answers);
    tokio::select! {
        done = &mut answers => done.map(|_| ()),
        sent = &mut requests => {
            sent?;
            tokio::time::timeout(DRAIN_TIMEOUT, answers).await.map_or(Ok(()), |done| done.map(|_| ()))
        }
    }
}

async fn read_header(conn: &mut tokio::net::TcpStream) -> std::io::Result<Option<IpAddr>> {
    let invalid = |e: HeaderError| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string());
    let mut fixed = [0u8; 16];
    conn.read_exact(&mut fixed).await?;
    let len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if len > MAX_HEADER_BODY {
        return Err(invalid(HeaderError::Length));
    }
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).await?;
    parse_header(&fixed, &body).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2 header as haproxy's `send-proxy-v2` writes it.
    pub fn header_v4(client: [u8; 4], port: u16) -> Vec<u8> {
        let mut h = SIGNATURE.to_vec();
        h.extend_from_slice(&[0x21, 0x11, 0, 12]);
        h.extend_from_slice(&client);
        h.extend_from_slice(&[10, 0, 0, 1]);
        h.extend_from_slice(&port.to_be_bytes());
        h.extend_from_slice(&8443u16.to_be_bytes());
        h
    }

    fn split(h: &[u8]) -> ([u8; 16], Vec<u8>) {
        (h[..16].try_into().unwrap(), h[16..].to_vec())
    }

    #[test]
    fn reads_the_client_address() {
        let (fixed, body) = split(&header_v4([203, 0, 113, 9], 50_000));
        assert_eq!(parse_header(&fixed, &body), Ok(Some("203.0.113.9".parse().unwrap())));
        let mut v6 = SIGNATURE.to_vec();
        v6.extend_from_slice(&[0x21, 0x21, 0, 36]);
        let client: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
        v6.extend_from_slice(&client.octets());
        v6.extend_from_slice(&[0; 20]);
        let (fixed, body) = split(&v6);
        assert_eq!(parse_header(&fixed, &body), Ok(Some(IpAddr::V6(client))));
    }

    #[test]
    fn local_health_checks_carry_no_address_and_bad_headers_are_refused() {
        let mut local = SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        let (fixed, body) = split(&local);
        assert_eq!(parse_header(&fixed, &body), Ok(None));
        let (mut fixed, body) = split(&header_v4([1, 2, 3, 4], 1));
        fixed[0] = b'G';
        assert_eq!(parse_header(&fixed, &body), Err(HeaderError::Signature));
        let (mut fixed, body) = split(&header_v4([1, 2, 3, 4], 1));
        fixed[12] = 0x11;
        assert_eq!(parse_header(&fixed, &body), Err(HeaderError::Version));
        let (fixed, body) = split(&header_v4([1, 2, 3, 4], 1));
        assert_eq!(parse_header(&fixed, &body[..8]), Err(HeaderError::Length));
    }
}
