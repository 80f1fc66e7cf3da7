//! The HTTP REST front end (axum): records, tables, joins, SQL and the
//! key-value store as JSON under `/api/v1`, the seed service's routes,
//! the OpenAPI document generated from the handlers (utoipa) and an
//! interactive docs page served from the binary (no CDN), `/health`,
//! `/ready` and `/metrics`.
//!
//! Handlers are thin: records, tables and joins become SQL run through a
//! pooled [`sessions::HttpSession`] (so the SQL engine plans them and every
//! constraint applies; a record read by id is the primary-key lookup done
//! straight on the engine), KV routes call the engine's
//! [`memdb_engine::Kv`].
//! Every failure is an [`error::ApiError`]: a status and a JSON body
//! `{code, message, details}`. Around the routes: a body size limit, a
//! request timeout, gzip both ways for requests that ask for it (bodies
//! over 1 KiB), a request id (`x-request-id`, made
//! when the client sends none) in every log line and response, panic
//! catching, and the metrics that `/metrics` reports.

pub mod apikeys;
pub mod auth;
pub mod error;
pub mod extract;
pub mod join;
pub mod json;
pub mod kv;
pub mod listing;
pub mod records;
pub mod sessions;
pub mod sql;
pub mod tables;

mod probes;
mod seed;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use memdb_engine::Database;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tower::ServiceExt as _;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate as _, SizeAbove};
use tower_http::decompression::RequestDecompressionLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::error::ApiError;
use crate::metrics::{ConnectionGuard, Protocol, ServerMetrics};
use crate::ratelimit;
use crate::tls::MaybeTlsStream;

/// The default HTTP listen address.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Where the interactive docs page is served.
pub const DOCS_PATH: &str = "/api/v1/docs";

/// Settings of the HTTP front end.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Whether a record posted to an unknown table creates a collection.
    pub auto_create_tables: bool,
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// How long a request may take (also the SQL statement timeout).
    pub request_timeout: Duration,
    /// Requests per client address (`None`: unlimited).
    pub rate_limit: Option<ratelimit::RateLimit>,
    /// Logins (`None`: every request is trusted and unrestricted).
    pub auth: Option<Arc<crate::auth::Authenticator>>,
    /// HTTPS, when a certificate is configured.
    pub tls: Option<crate::tls::Tls>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            auto_create_tables: true,
            max_body: 16 << 20,
            request_timeout: Duration::from_secs(30),
            rate_limit: None,
            auth: None,
            tls: None,
        }
    }
}

/// Whether the database is open (recovery done) — what `/ready` reports.
#[derive(Debug, Default)]
pub struct Probes {
    ready: AtomicBool,
}

impl Probes {
    /// Probes that report not ready until [`Probes::set_ready`].
    pub fn new() -> Arc<Probes> {
        Arc::new(Probes::default())
    }

    /// Marks recovery done.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Whether recovery is done.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

struct Inner {
    sessions: sessions::SessionPool,
    /// Record views of tables by name (see [`records::RecordTable::load`]).
    record_tables: parking_lot::RwLock<std::collections::HashMap<String, Arc<records::RecordTable>>>,
    options: HttpOptions,
    metrics: Arc<ServerMetrics>,
    probes: Arc<Probes>,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// State over a database.
    pub fn new(db: Arc<Database>, options: HttpOptions, metrics: Arc<ServerMetrics>, probes: Arc<Probes>) -> AppState {
        let sessions = sessions::SessionPool::new(db, options.request_timeout, metrics.clone());
        AppState(Arc::new(Inner { sessions, record_tables: Default::default(), options, metrics, probes }))
    }

    /// The database.
    pub fn db(&self) -> &Arc<Database> {
        self.0.sessions.db()
    }

    /// The SQL session pool.
    pub fn sessions(&self) -> &sessions::SessionPool {
        &self.0.sessions
    }

    /// The cache of record views of tables.
    pub fn record_tables(&self) -> &parking_lot::RwLock<std::collections::HashMap<String, Arc<records::RecordTable>>> {
        &self.0.record_tables
    }

    /// The settings.
    pub fn options(&self) -> &HttpOptions {
        &self.0.options
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<ServerMetrics> {
        &self.0.metrics
    }

    /// Readiness.
    pub fn probes(&self) -> &Arc<Probes> {
        &self.0.probes
    }
}

/// The OpenAPI document's frame; the routes add their paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "memdb",
        description = "memdb's REST API: records, tables, joins, SQL and the key-value store as JSON. \
            Errors are `{code, message, details}` with a 4xx/5xx status; SQL errors carry `details.sqlstate`."
    ),
    tags(
        (name = "records", description = "Rows of a table as JSON objects"),
        (name = "tables", description = "Create, describe and drop tables"),
        (name = "join", description = "Records of two tables with equal key fields"),
        (name = "sql", description = "SQL over HTTP"),
        (name = "kv", description = "The key-value store (the keyspace Redis clients see)"),
        (name = "seed", description = "The seed service's routes, kept as they were"),
        (name = "admin", description = "Backups, checkpoints and API keys"),
        (name = "ops", description = "Health, readiness and metrics")
    )
)]
struct ApiDoc;

/// The routes and the OpenAPI document describing them.
fn api(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tables::list_tables, tables::create_table))
        .routes(routes!(tables::get_table, tables::delete_table))
        .routes(routes!(records::list, records::create))
        .routes(routes!(records::get, records::replace, records::patch, records::delete))
        .routes(routes!(records::batch))
        .route("/api/v1/tables/{table}/records/batch", records::record_named_batch())
        .routes(routes!(join::join_route))
        .routes(routes!(sql::sql))
        .routes(routes!(kv::list))
        .routes(routes!(kv::get, kv::put, kv::patch, kv::delete))
        .routes(routes!(kv::push))
        .routes(routes!(kv::pop))
        .routes(routes!(seed::add_record))
        .routes(routes!(seed::update_record))
        .routes(routes!(seed::delete_record))
        .routes(routes!(seed::join))
        .routes(routes!(apikeys::create, apikeys::list))
        .routes(routes!(apikeys::revoke))
        .routes(routes!(probes::backup))
        .routes(routes!(probes::checkpoint))
        .routes(routes!(probes::health))
        .routes(routes!(probes::ready))
        .routes(routes!(probes::metrics))
        .with_state(state)
        .split_for_parts();
    (router, api)
}

/// The whole application: routes, docs and the layers around them.
pub fn router(state: AppState) -> Router {
    let around = Around {
        metrics: state.metrics().clone(),
        timeout: state.options().request_timeout,
        limiter: state.options().rate_limit.map(|l| Arc::new(ratelimit::Limiter::new(l))),
    };
    let max_body = state.options().max_body;
    let auth = state.options().auth.clone();
    let (routes, openapi) = api(state);
    let docs = utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH)
        .url(OPENAPI_PATH, openapi)
        .config(utoipa_swagger_ui::Config::default().validator_url("none").try_it_out_enabled(true));
    let plain = routes
        .merge(docs)
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
        })
        .layer(DefaultBodyLimit::max(max_body));
    let gzip = plain.clone().layer(RequestDecompressionLayer::new()).layer(
        CompressionLayer::new().compress_when(
            SizeAbove::new(MIN_COMPRESSED_SIZE)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE),
        ),
    );
    Router::new()
        .fallback(by_encoding)
        .with_state(Encodings { plain, gzip })
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::internal("the request failed inside the server").into_response()
        }))
        .layer(middleware::from_fn_with_state(auth, auth::authenticate))
        .layer(middleware::from_fn_with_state(around, time_request))
}

/// What the middleware around every request needs.
#[derive(Clone)]
struct Around {
    metrics: Arc<ServerMetrics>,
    /// The request timeout.
    timeout: Duration,
    /// Per-client rate limits, when configured.
    limiter: Option<Arc<ratelimit::Limiter>>,
}

/// Responses smaller than this go out uncompressed: gzip saves little on
/// a small JSON body and costs more CPU than sending it.
const MIN_COMPRESSED_SIZE: u64 = 1024;

/// The routes with and without gzip: the compression layers wrap every
/// request and response body, which costs about a tenth of a small
/// request, so only requests that speak gzip (`Accept-Encoding` or
/// `Content-Encoding`) go through them.
#[derive(Clone)]
struct Encodings {
    plain: Router,
    gzip: Router,
}

async fn by_encoding(State(routes): State<Encodings>, request: Request) -> Response {
    let headers = request.headers();
    let router = if headers.contains_key(ACCEPT_ENCODING) || headers.contains_key(CONTENT_ENCODING) {
        routes.gzip
    } else {
        routes.plain
    };
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The request-id header.
const REQUEST_ID: &str = "x-request-id";

/// A new request id: this process's random prefix and a counter, which
/// is unique per server and far cheaper than a UUID per request.
fn new_request_id() -> HeaderValue {
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let prefix = *PREFIX.get_or_init(rand::random::<u32>);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // `{prefix:08x}-{n:012x}` without the formatting machinery (a few
    // percent of a point read's cost).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [b'-'; 21];
    for (i, slot) in id[..8].iter_mut().enumerate() {
        *slot = HEX[(prefix >> (28 - 4 * i) & 0xf) as usize];
    }
    for (i, slot) in id[9..].iter_mut().enumerate() {
        *slot = HEX[(n >> (44 - 4 * i) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&id).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Around every request: a request id (the client's `x-request-id`, or a
/// new one) in the response and in the log lines; a 503 (JSON) when the
/// request outlives the timeout; the response counted with its latency.
async fn time_request(State(around): State<Around>, mut request: Request, next: Next) -> Response {
    let Around { metrics, timeout, limiter } = around;
    let start = Instant::now();
    let id = match request.headers().get(REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let id = new_request_id();
            request.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let limited = match (&limiter, request.extensions().get::<ConnectInfo<ClientAddr>>()) {
        (Some(limiter), Some(ConnectInfo(ClientAddr(peer)))) if !matches!(uri.path(), "/health" | "/ready") => {
            limiter.check(peer.ip()).err().map(|wait| (peer.ip(), ratelimit::retry_after_secs(wait)))
        }
        _ => None,
    };
    let mut response = if let Some((client, retry_after)) = limited {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from {client}; retry in {retry_after} s"),
        )
        .into_response();
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(retry_after));
        response
    } else {
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long").into_response()
            }
        }
    };
    let status = response.status();
    let elapsed = start.elapsed();
    let request_id = id.to_str().unwrap_or("?");
    if status.is_server_error() {
        tracing::warn!(request_id, %method, %uri, status = status.as_u16(), ?elapsed, "HTTP request failed");
    } else {
        tracing::debug!(request_id, %method, %uri, status = status.as_u16(), ?elapsed, "HTTP request");
    }
    response.headers_mut().insert(REQUEST_ID, id);
    metrics.http_response(status.as_u16(), elapsed);
    response
}

/// A listener whose connections count as open HTTP connections.
/// The client's address, as the rate limits key it.
#[derive(Clone, Copy, Debug)]
struct ClientAddr(SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, CountingListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, CountingListener>) -> ClientAddr {
        ClientAddr(*stream.remote_addr())
    }
}

struct CountingListener {
    incoming: Incoming,
    metrics: Arc<ServerMetrics>,
}

/// Where a listener's connections come from.
enum Incoming {
    /// Plaintext: accepted here.
    Plain(TcpListener),
    /// TLS: accepted and shaken hands with by [`accept_tls`], each
    /// handshake on its own task so a slow client holds up no other.
    Tls { ready: tokio::sync::mpsc::Receiver<(MaybeTlsStream, SocketAddr)>, local: SocketAddr },
}

/// Accepts connections for an HTTPS listener until its receiving side is
/// dropped (the server stopped), handing on those whose handshake
/// succeeded; a plaintext request gets a 400 saying HTTPS is needed, or
/// is served when TLS is optional.
async fn accept_tls(
    listener: TcpListener,
    tls: crate::tls::Tls,
    ready: tokio::sync::mpsc::Sender<(MaybeTlsStream, SocketAddr)>,
) {
    let acceptor = tls.http_acceptor();
    loop {
        let accepted = tokio::select! {
            accepted = TcpListener::accept(&listener) => accepted,
            _ = ready.closed() => return,
        };
        let (socket, addr) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("accepting an HTTP connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            match crate::tls::accept(Some((&acceptor, tls.required)), socket).await {
                Some(crate::tls::Accepted::Stream(stream)) => {
                    let _ = ready.send((stream, addr)).await;
                }
                Some(crate::tls::Accepted::PlaintextRefused(socket)) => {
                    let body = r#"{"code":"tls_required","message":"this port accepts only HTTPS","details":null}"#;
                    let response = format!(
                        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    crate::tls::refuse_plaintext(socket, response.as_bytes()).await;
                }
                None => {}
            }
        });
    }
}

/// A connection counted until it closes.
struct CountedStream {
    stream: MaybeTlsStream,
    _guard: ConnectionGuard,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl axum::serve::Listener for CountingListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (CountedStream, SocketAddr) {
        let (stream, addr) = match &mut self.incoming {
            Incoming::Plain(listener) => loop {
                match TcpListener::accept(listener).await {
                    Ok((stream, addr)) => {
                        let _ = stream.set_nodelay(true);
                        break (MaybeTlsStream::Plain(stream), addr);
                    }
                    Err(e) => {
                        tracing::warn!("accepting an HTTP connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            },
            // The acceptor task lives as long as this receiver.
            Incoming::Tls { ready, .. } => match ready.recv().await {
                Some(pair) => pair,
                None => std::future::pending().await,
            },
        };
        let guard = self.metrics.connection(Protocol::Http);
        (CountedStream { stream, _guard: guard }, addr)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.incoming {
            Incoming::Plain(listener) => listener.local_addr(),
            Incoming::Tls { local, .. } => Ok(*local),
        }
    }
}

/// Serves the REST API on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) {
    let metrics = state.metrics().clone();
    let tls = state.options().tls.clone();
    let app = router(state).into_make_service_with_connect_info::<ClientAddr>();
    let incoming = match tls {
        None => Incoming::Plain(listener),
        Some(tls) => {
            let local = match listener.local_addr() {
                Ok(local) => local,
                Err(e) => {
                    tracing::warn!("the HTTP listener has no address: {e}");
                    return;
                }
            };
            let (sender, ready) = tokio::sync::mpsc::channel(64);
            tokio::spawn(accept_tls(listener, tls, sender));
            Incoming::Tls { ready, local }
        }
    };
    let listener = CountingListener { incoming, metrics };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::warn!("the HTTP listener stopped: {e}");
    }
}

/// Serves only `/health` and `/ready` (the separate probe port).
pub async fn serve_probes(
    listener: TcpListener,
    probes: Arc<Probes>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = probes::probe_router(probes);
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::warn!("the health listener stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_a_process_prefix_and_a_counter_in_hex() {
        let (a, b) = (new_request_id(), new_request_id());
        let (a, b) = (a.to_str().unwrap_or_default(), b.to_str().unwrap_or_default());
        for id in [a, b] {
            let (prefix, counter) = id.split_once('-').unwrap_or_default();
            assert_eq!((prefix.len(), counter.len()), (8, 12), "{id}");
            assert!(id.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()), "{id}");
        }
        assert_eq!(a[..8], b[..8]);
        let count = |id: &str| u64::from_str_radix(&id[9..], 16).unwrap_or_default();
        assert!(count(b) > count(a), "{a} then {b}");
    }
}
