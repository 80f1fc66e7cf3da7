//! TLS (rustls, with the `ring` provider) for every front end, on when a
//! certificate and key are configured (`tls_cert`, `tls_key`).
//!
//! pgwire negotiates it the PostgreSQL way (SSLRequest, or PostgreSQL 17's
//! direct TLS) inside `pgwire`; RESP and HTTP clients start a TLS handshake
//! on the listener's port (as `redis-cli --tls` and `https://` do), told
//! apart from plaintext by the first byte. With `tls_required` (the default
//! once a certificate is set) plaintext connections are refused in each
//! protocol's own terms; without it both are served on the same port.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::ServerError;

/// The first byte of a TLS record carrying a handshake (a ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

/// How long a client gets to send its first byte and finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's certificate and key, ready to accept TLS connections.
#[derive(Clone)]
pub struct Tls {
    /// For pgwire, announcing `postgresql` over ALPN (which PostgreSQL 17's
    /// direct TLS requires; clients that send no ALPN are served too).
    pg: TlsAcceptor,
    /// For connections without ALPN (RESP).
    plain: TlsAcceptor,
    /// For HTTP, announcing `http/1.1` over ALPN.
    http: TlsAcceptor,
    /// Whether plaintext connections are refused.
    pub required: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("required", &self.required).finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads a PEM certificate chain and private key (PKCS#8, PKCS#1 or
    /// SEC1). Errors name the configuration key of the file at fault.
    pub fn load(cert: &Path, key: &Path, required: bool) -> Result<Tls, ServerError> {
        let read = |name: &str, path: &Path| {
            std::fs::read(path).map_err(|e| ServerError::Config(format!("{name}: cannot read {}: {e}", path.display())))
        };
        let cert_pem = read("tls_cert", cert)?;
        let key_pem = read("tls_key", key)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ServerError::Config(format!("tls_cert: {}: {e}", cert.display())))?;
        if chain.is_empty() {
            return Err(ServerError::Config(format!("tls_cert: {} holds no PEM certificate", cert.display())));
        }
        let private = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| ServerError::Config(format!("tls_key: {}: no usable private key ({e})", key.display())))?;
        Tls::from_der(chain, private, required)
    }

    /// An acceptor for a certificate chain and key already decoded.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        required: bool,
    ) -> Result<Tls, ServerError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Config(format!("tls: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| ServerError::Config(format!("tls_key: does not fit the certificate or is unusable: {e}")))?;
        let mut http = config.clone();
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut pg = config.clone();
        pg.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Tls {
            pg: TlsAcceptor::from(Arc::new(pg)),
            plain: TlsAcceptor::from(Arc::new(config)),
            http: TlsAcceptor::from(Arc::new(http)),
            required,
        })
    }

    /// The acceptor pgwire's own negotiation uses.
    pub fn pg_acceptor(&self) -> TlsAcceptor {
        self.pg.clone()
    }

    /// The acceptor for HTTPS.
    pub fn http_acceptor(&self) -> TlsAcceptor {
        self.http.clone()
    }

    /// The acceptor for RESP.
    pub fn resp_acceptor(&self) -> TlsAcceptor {
        self.plain.clone()
    }
}

/// Answers a plaintext client where TLS is required, then closes after
/// reading (and dropping) what it sent for a moment: closing with unread
/// input would reset the connection and could lose the answer.
pub async fn refuse_plaintext(mut socket: TcpStream, answer: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if socket.write_all(answer).await.is_err() {
        return;
    }
    let _ = socket.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        while total < 64 << 10 {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// What a client's first bytes said.
pub enum Accepted {
    /// A stream to serve (plaintext or TLS).
    Stream(MaybeTlsStream),
    /// A plaintext client where TLS is required: answer it in the
    /// protocol's terms and close.
    PlaintextRefused(TcpStream),
}

/// Starts a connection on a port that may speak TLS: without `tls` the
/// socket as it is; with it, a handshake when the client's first byte
/// opens one, else plaintext (or a refusal when TLS is required). `None`
/// when the client went away or the handshake failed or timed out.
pub async fn accept(acceptor: Option<(&TlsAcceptor, bool)>, socket: TcpStream) -> Option<Accepted> {
    let Some((acceptor, required)) = acceptor else {
        return Some(Accepted::Stream(MaybeTlsStream::Plain(socket)));
    };
    let handshake = async {
        let mut first = [0u8; 1];
        match socket.peek(&mut first).await {
            Ok(1) if first[0] == TLS_HANDSHAKE => match acceptor.accept(socket).await {
                Ok(tls) => Some(Accepted::Stream(MaybeTlsStream::Tls(Box::new(tls)))),
                Err(e) => {
                    tracing::debug!("TLS handshake failed: {e}");
                    None
                }
            },
            Ok(1) if required => Some(Accepted::PlaintextRefused(socket)),
            Ok(1) => Some(Accepted::Stream(MaybeTlsStream::Plain(socket))),
            _ => None,
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await.ok().flatten()
}

/// A connection in plaintext or TLS.
pub enum MaybeTlsStream {
    /// Plaintext.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTlsStream::Tls(_))
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTlsStream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            MaybeTlsStream::Tls(s) => s.is_write_vectored(),
        }
    }
}
