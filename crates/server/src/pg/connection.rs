//! One client connection: its SQL session, the startup handshake, cancel
//! requests, COPY data, and the message loop that drives pgwire's
//! handlers.
//!
//! The session is synchronous (SQL never awaits); handlers lock it only
//! between awaits, never across one. A statement that must wait for another
//! transaction's row lock blocks its thread through the engine's blocking
//! hook, which the server sets to tokio's `block_in_place`, so other
//! connections keep running.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use futures::{FutureExt, Sink, SinkExt, StreamExt};
use memdb_engine::Database;
use memdb_sql::{Session, TxnStatus};
use parking_lot::Mutex;
use pgwire::api::auth::md5pass::Md5PasswordAuth;
use pgwire::api::auth::mechanism::{AuthMechanism, AuthMechanismFactory, AuthState};
use pgwire::api::auth::sasl::scram::{ScramAuth, ScramSecret};
use pgwire::api::auth::{
    AuthSource, LoginInfo, Password, ServerParameterProvider, StartupHandler, finish_authentication,
    protocol_negotiation,
};
use pgwire::api::cancel::CancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::{ClientInfo, METADATA_APPLICATION_NAME, METADATA_USER, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::response::{CommandComplete, TransactionStatus};
use pgwire::messages::startup::{ParameterStatus, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use tokio::net::TcpStream;

use super::error::{self, sql_error};

/// Settings a client is told about (ParameterStatus) when they change.
const REPORTED_SETTINGS: [(&str, &str); 8] = [
    ("application_name", "application_name"),
    ("client_encoding", "client_encoding"),
    ("datestyle", "DateStyle"),
    ("intervalstyle", "IntervalStyle"),
    ("timezone", "TimeZone"),
    ("standard_conforming_strings", "standard_conforming_strings"),
    ("integer_datetimes", "integer_datetimes"),
    ("server_version", "server_version"),
];

/// State every connection of one listener shares.
pub struct Shared {
    /// The database the sessions run on.
    pub db: Arc<Database>,
    /// Cancel flags of open connections by backend pid, with their secret.
    cancels: Mutex<HashMap<i32, (SecretKey, Arc<AtomicBool>)>>,
    next_pid: AtomicI32,
    /// Open connections.
    pub connections: AtomicUsize,
    /// Connections allowed at once; more are refused with SQLSTATE 53300.
    pub max_connections: usize,
    /// The server's metrics (statement latency, connections).
    pub metrics: Arc<crate::metrics::ServerMetrics>,
    /// Logins.
    pub auth: Arc<crate::auth::Authenticator>,
    /// TLS, when a certificate is configured.
    pub tls: Option<crate::tls::Tls>,
    /// Per-client statement buckets, when `pg_rate_limit` is set.
    pub limiter: Option<crate::ratelimit::Limiter>,
}

impl Shared {
    /// Shared state for a listener over `db`.
    pub fn new(
        db: Arc<Database>,
        max_connections: usize,
        metrics: Arc<crate::metrics::ServerMetrics>,
        auth: Arc<crate::auth::Authenticator>,
        tls: Option<crate::tls::Tls>,
        rate_limit: Option<crate::ratelimit::RateLimit>,
    ) -> Shared {
        Shared {
            metrics,
            auth,
            tls,
            limiter: rate_limit.map(crate::ratelimit::Limiter::new),
            db,
            cancels: Mutex::new(HashMap::new()),
            next_pid: AtomicI32::new(1000),
            connections: AtomicUsize::new(0),
            max_connections,
        }
    }
}

/// One client connection's handlers and state.
pub struct PgConnection {
    pub(super) shared: Arc<Shared>,
    pub(super) session: Arc<Mutex<Session>>,
    pub(super) parser: Arc<super::query::StatementParser>,
    pid: i32,
    /// Setting values last reported to the client.
    reported: Mutex<HashMap<&'static str, String>>,
    /// The client's address (the login back-off is per address).
    peer: IpAddr,
    /// The password handshake in progress, between its messages.
    mechanism: Mutex<Option<Box<dyn AuthMechanism>>>,
}

impl PgConnection {
    fn new(shared: Arc<Shared>, peer: IpAddr) -> PgConnection {
        let session = Arc::new(Mutex::new(Session::new(shared.db.clone(), "memdb")));
        let pid = shared.next_pid.fetch_add(1, Ordering::Relaxed);
        PgConnection {
            parser: Arc::new(super::query::StatementParser { session: session.clone() }),
            session,
            shared,
            pid,
            reported: Mutex::new(HashMap::new()),
            peer,
            mechanism: Mutex::new(None),
        }
    }

    /// The ReadyForQuery status of the session.
    pub(super) fn transaction_status(&self) -> TransactionStatus {
        match self.session.lock().status() {
            TxnStatus::Idle => TransactionStatus::Idle,
            TxnStatus::InBlock => TransactionStatus::Transaction,
            TxnStatus::Failed => TransactionStatus::Error,
        }
    }

    /// The refusal of a statement (Query or Execute) over the client's
    /// rate limit, which fails an open transaction block as any error does.
    fn rate_limited(&self, message: &PgWireFrontendMessage, client: IpAddr) -> Option<PgWireError> {
        let limiter = self.shared.limiter.as_ref()?;
        match message {
            // Ending a transaction is never refused: a refused COMMIT
            // would cost the client its whole transaction.
            PgWireFrontendMessage::Query(query) if ends_transaction(&query.query) => return None,
            PgWireFrontendMessage::Query(_) | PgWireFrontendMessage::Execute(_) => {}
            _ => return None,
        }
        let wait = limiter.check(client).err()?;
        self.session.lock().fail_block();
        let message =
            format!("rate limit exceeded for this client; retry in {} s", crate::ratelimit::retry_after_secs(wait));
        Some(PgWireError::UserError(Box::new(error::info("ERROR", "53400", message))))
    }

    /// Reported settings whose values changed since last reported.
    pub(super) fn changed_settings(&self) -> Vec<ParameterStatus> {
        let session = self.session.lock();
        let mut reported = self.reported.lock();
        let mut out = Vec::new();
        for (key, wire_name) in REPORTED_SETTINGS {
            let Some(value) = session.setting(key) else { continue };
            if reported.get(wire_name).map(String::as_str) != Some(value) {
                reported.insert(wire_name, value.to_owned());
                out.push(ParameterStatus::new(wire_name.to_owned(), value.to_owned()));
            }
        }
        out
    }

    /// How long the client may stay silent now: `idle_in_transaction_session_timeout`
    /// inside a block, `idle_session_timeout` outside (`None`: forever).
    fn idle_timeout(&self) -> Option<(Duration, &'static str, &'static str)> {
        let session = self.session.lock();
        let ms = session.idle_timeout_ms();
        if ms == 0 {
            return None;
        }
        Some(match session.status() {
            TxnStatus::Idle => {
                (Duration::from_millis(ms), "57P05", "terminating connection due to idle-session timeout")
            }
            _ => (Duration::from_millis(ms), "25P03", "terminating connection due to idle-in-transaction timeout"),
        })
    }
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        self.shared.cancels.lock().remove(&self.pid);
        self.shared.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The ParameterStatus values sent at startup.
struct StartupParameters(HashMap<String, String>);

impl ServerParameterProvider for StartupParameters {
    fn server_parameters<C>(&self, _client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        Some(self.0.clone())
    }
}

#[async_trait]
impl StartupHandler for PgConnection {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(startup) => {
                protocol_negotiation(client, &startup).await?;
                client.metadata_mut().extend(startup.parameters.iter().map(|(k, v)| (k.clone(), v.clone())));
                if self.shared.tls.as_ref().is_some_and(|tls| tls.required) && !client.is_secure() {
                    return Err(fatal(
                        "28000",
                        "this server accepts only encrypted connections: connect with sslmode=require".into(),
                    ));
                }
                if self.shared.connections.load(Ordering::Relaxed) > self.shared.max_connections {
                    return Err(fatal("53300", "sorry, too many clients already".into()));
                }
                let auth = &self.shared.auth;
                let Some(user) = client.metadata().get(METADATA_USER).cloned() else {
                    if auth.enabled() {
                        return Err(fatal("28000", "no PostgreSQL user name specified in startup packet".into()));
                    }
                    return self.complete_startup(client, auth.superuser().to_owned(), &startup.parameters).await;
                };
                if !auth.enabled() {
                    return self.complete_startup(client, user, &startup.parameters).await;
                }
                let source = Arc::new(CatalogAuthSource { auth: auth.clone() });
                let mut mechanism: Box<dyn AuthMechanism> = if memdb_auth::md5::is_verifier(&auth.verifier_for(&user)) {
                    Md5PasswordAuth::new(source).create()
                } else {
                    ScramAuth::new(source).create()
                };
                match mechanism.begin(&*client).await? {
                    AuthState::InProgress(request) => {
                        client.set_state(PgWireConnectionState::AuthenticationInProgress);
                        *self.mechanism.lock() = Some(mechanism);
                        client.send(PgWireBackendMessage::Authentication(request)).await?;
                        Ok(())
                    }
                    _ => Err(fatal("28P01", format!("password authentication failed for user \"{user}\""))),
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(answer) => {
                let user = client.metadata().get(METADATA_USER).cloned().unwrap_or_default();
                let taken = self.mechanism.lock().take();
                let Some(mut mechanism) = taken else {
                    return Err(fatal("08P01", "unexpected password message".into()));
                };
                let failed = || fatal("28P01", format!("password authentication failed for user \"{user}\""));
                match mechanism.next(&*client, answer).await {
                    Ok(AuthState::InProgress(request)) => {
                        *self.mechanism.lock() = Some(mechanism);
                        client.send(PgWireBackendMessage::Authentication(request)).await?;
                        Ok(())
                    }
                    Ok(AuthState::Ok { final_message, .. }) => {
                        let method = if final_message.is_some() { "scram-sha-256" } else { "md5" };
                        self.shared.auth.finish(self.peer, &user, true, method).await.map_err(|_| failed())?;
                        if let Some(last) = final_message {
                            client.send(PgWireBackendMessage::Authentication(last)).await?;
                        }
                        let parameters: BTreeMap<String, String> =
                            client.metadata().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        self.complete_startup(client, user, &parameters).await
                    }
                    Ok(AuthState::Failed(_)) | Err(_) => {
                        let _ = self.shared.auth.finish(self.peer, &user, false, "password").await;
                        Err(failed())
                    }
                }
            }
            _ => Ok(()),
        }
    }
}

impl PgConnection {
    /// Ends the startup: the session takes the user, its role and the
    /// client's settings; the client gets the server's parameters, its
    /// cancel key and ReadyForQuery.
    async fn complete_startup<C, P>(&self, client: &mut C, user: String, startup_parameters: &P) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
        for<'a> &'a P: IntoIterator<Item = (&'a String, &'a String)>,
    {
        let auth = &self.shared.auth;
        // Authenticated users act as themselves; trusted ones as the role
        // they name, if it exists.
        let role = if auth.enabled() { Some(user.clone()) } else { auth.trusted_role(&user) };
        let superuser = role.as_deref().is_none_or(|r| auth.access(r).is_superuser());
        let secret = SecretKey::I32(rand::random::<i32>());
        {
            let mut session = self.session.lock();
            session.set_user(&user);
            session.act_as(role.as_deref());
            for (name, value) in startup_parameters {
                // Unknown or bad startup options are ignored, as libpq's
                // `options` beyond the known ones would be.
                if !matches!(name.as_str(), "user" | "database" | "replication" | "options") {
                    let _ = session.set_setting(name, value);
                }
            }
            self.shared.cancels.lock().insert(self.pid, (secret.clone(), session.cancel_flag()));
        }
        client.set_pid_and_secret_key(self.pid, secret);
        let mut parameters: HashMap<String, String> =
            self.changed_settings().into_iter().map(|p| (p.name, p.value)).collect();
        parameters.insert("server_encoding".into(), "UTF8".into());
        parameters.insert("is_superuser".into(), if superuser { "on" } else { "off" }.into());
        parameters.insert("session_authorization".into(), user);
        parameters.insert("default_transaction_read_only".into(), "off".into());
        parameters.insert("in_hot_standby".into(), "off".into());
        if !parameters.contains_key("application_name") {
            let app = client.metadata().get(METADATA_APPLICATION_NAME).cloned().unwrap_or_default();
            parameters.insert("application_name".into(), app);
        }
        finish_authentication(client, &StartupParameters(parameters)).await?;
        Ok(())
    }
}

/// A FATAL error for the startup phase.
fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(error::info("FATAL", code, message)))
}

/// pgwire's password mechanisms over the catalog's verifiers: SCRAM is
/// checked against the stored SCRAM-SHA-256 verifier (a mock one for
/// unknown users and roles that may not log in, so the exchange looks the
/// same), MD5 against an md5 verifier.
#[derive(Debug)]
struct CatalogAuthSource {
    auth: Arc<crate::auth::Authenticator>,
}

#[async_trait]
impl AuthSource for CatalogAuthSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        let stored = self.auth.verifier_for(user);
        let salt: [u8; 4] = rand::random();
        // What the client must answer; a role without an md5 verifier gets
        // a value no answer can equal.
        let expected = if memdb_auth::md5::is_verifier(&stored) {
            memdb_auth::md5::challenge_response(&stored, &salt)
        } else {
            "!".to_owned()
        };
        Ok(Password::new(Some(salt.to_vec()), expected.into_bytes()))
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let user = login.user().unwrap_or_default();
        let verifier = memdb_auth::scram::Verifier::parse(&self.auth.verifier_for(user))
            .unwrap_or_else(|| self.auth.mock_verifier(user));
        Ok((
            ScramSecret::Verifier {
                salt: verifier.salt,
                iterations: verifier.iterations as usize,
                stored_key: verifier.stored_key,
                server_key: verifier.server_key,
            },
            None,
        ))
    }
}

#[async_trait]
impl CancelHandler for PgConnection {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.shared.cancel(request.pid, &request.secret_key);
    }
}

#[async_trait]
impl CopyHandler for PgConnection {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let result = self.session.lock().copy_data(&copy_data.data);
        result.map_err(|e| sql_error(&e, None))
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let result = self.session.lock().copy_done();
        client.set_transaction_status(self.transaction_status());
        let done = result.map_err(|e| sql_error(&e, None))?;
        client.feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(done.tag))).await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.session.lock().copy_fail(&fail.message);
        client.set_transaction_status(self.transaction_status());
        PgWireError::UserError(Box::new(error::info(
            "ERROR",
            "57014",
            format!("COPY from stdin failed: {}", fail.message),
        )))
    }
}

/// Whether a simple query is COMMIT, END, ROLLBACK or ABORT.
fn ends_transaction(sql: &str) -> bool {
    let word: String = sql.trim_start().chars().take_while(char::is_ascii_alphabetic).collect();
    ["commit", "end", "rollback", "abort"].iter().any(|w| word.eq_ignore_ascii_case(w))
}

/// How long a new connection may stay silent before its first message.
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(10);

/// The CancelRequest code (PostgreSQL's 1234.5678).
const CANCEL_REQUEST_CODE: i32 = 80_877_102;

/// A connection that opens with a CancelRequest (16 bytes: length, code,
/// pid, secret) is one: it cancels the named session's running statement
/// and closes. Read before TLS negotiation, which would swallow it.
/// Returns whether the connection is done with: a cancel request, or a
/// client that sent nothing for [`FIRST_BYTES_TIMEOUT`] (dropped, so
/// silent sockets cannot pile up uncounted).
async fn take_cancel_request(tcp: &mut TcpStream, shared: &Shared) -> bool {
    let mut head = [0u8; 16];
    let deadline = tokio::time::Instant::now() + FIRST_BYTES_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, tcp.peek(&mut head)).await {
            Err(_) => return true,
            Ok(Ok(n)) if n >= 8 => break,
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            Ok(Ok(_)) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    let length = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let code = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    if length != 16 || code != CANCEL_REQUEST_CODE {
        return false;
    }
    if tokio::io::AsyncReadExt::read_exact(tcp, &mut head).await.is_err() {
        return true;
    }
    let pid = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    let secret = i32::from_be_bytes([head[12], head[13], head[14], head[15]]);
    shared.cancel(pid, &SecretKey::I32(secret));
    true
}

impl Shared {
    /// Cancels the running statement of every session (shutdown).
    pub(crate) fn cancel_all(&self) {
        for (_, flag) in self.cancels.lock().values() {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Cancels the running statement of the session with this pid, if the
    /// secret matches.
    fn cancel(&self, pid: i32, secret: &SecretKey) {
        let cancels = self.cancels.lock();
        if let Some((known, flag)) = cancels.get(&pid)
            && known.to_bytes() == secret.to_bytes()
        {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// What a connection is told when the server stops under it.
fn shutting_down() -> ErrorInfo {
    error::info("FATAL", "57P01", "terminating connection due to administrator command")
}

/// Most COPY data merged into one message.
const COPY_GATHER_BYTES: usize = 256 * 1024;

/// `first` and the CopyData messages already buffered behind it, as one
/// message (clients such as pgbench send one per row, and the session
/// decodes records across message boundaries anyway), plus the first
/// other message met, if any. Never waits for the network. Whole CopyData
/// frames are taken from the socket's read buffer directly, which costs a
/// copy instead of a decoded message each.
fn gather_copy_data(
    first: CopyData,
    socket: &mut PgSocket,
    buffer: &mut BytesMut,
) -> (CopyData, Option<PgWireResult<PgWireFrontendMessage>>) {
    // The buffer's allocation comes back once the session has dropped the
    // last chunk, so a long load reuses one buffer instead of faulting in
    // fresh memory per chunk.
    buffer.clear();
    buffer.reserve(first.data.len() + COPY_GATHER_BYTES);
    buffer.extend_from_slice(&first.data);
    let mut held = None;
    while buffer.len() < COPY_GATHER_BYTES {
        take_copy_frames(socket.read_buffer_mut(), buffer);
        if buffer.len() >= COPY_GATHER_BYTES {
            break;
        }
        // Reads what the socket has now; decodes one message.
        match socket.next().now_or_never() {
            Some(Some(Ok(PgWireFrontendMessage::CopyData(more)))) => buffer.extend_from_slice(&more.data),
            Some(Some(other)) => {
                held = Some(other);
                break;
            }
            // Nothing more to read now, or the stream ended (the next read
            // sees that).
            Some(None) | None => break,
        }
    }
    (CopyData::new(buffer.split().freeze()), held)
}

/// Moves the payloads of the whole CopyData frames at the front of `input`
/// to `out` (up to [`COPY_GATHER_BYTES`]); stops at anything else, which
/// the protocol decoder then reads as usual.
fn take_copy_frames(input: &mut BytesMut, out: &mut BytesMut) {
    let mut at = 0;
    while out.len() < COPY_GATHER_BYTES {
        let Some(&[kind, a, b, c, d]) = input.get(at..at + 5) else { break };
        let len = u32::from_be_bytes([a, b, c, d]) as usize;
        if kind != b'd' || !(4..=COPY_GATHER_BYTES).contains(&len) {
            break;
        }
        let Some(payload) = input.get(at + 5..at + 1 + len) else { break };
        out.extend_from_slice(payload);
        at += 1 + len;
    }
    bytes::Buf::advance(input, at);
}

/// The next message from the client, or `None` when the connection is to
/// close: the server is stopping while the client is idle, the client went
/// away, or it stayed silent past its idle timeout (each told why, where
/// the protocol allows).
async fn read_message(
    socket: &mut PgSocket,
    conn: &PgConnection,
    stopping: &mut crate::Stopping,
    at_rest: bool,
    in_startup: bool,
    startup_deadline: tokio::time::Instant,
) -> Option<PgWireResult<PgWireFrontendMessage>> {
    let idle = if in_startup { None } else { conn.idle_timeout() };
    let idle_now = at_rest
        && !in_startup
        && !matches!(socket.state(), PgWireConnectionState::CopyInProgress(_))
        && socket.read_buffer().is_empty();
    if stopping.is_set() && idle_now {
        let _ = socket.send(PgWireBackendMessage::ErrorResponse(shutting_down().into())).await;
        return None;
    }
    let deadline =
        if in_startup { Some(startup_deadline) } else { idle.map(|(limit, _, _)| tokio::time::Instant::now() + limit) };
    let read = async {
        match deadline {
            Some(at) => tokio::time::timeout_at(at, socket.next()).await.ok(),
            None => Some(socket.next().await),
        }
    };
    let read = tokio::select! {
        read = read => Some(read),
        _ = stopping.wait(), if idle_now || in_startup => None,
    };
    match read {
        Some(Some(message)) => message,
        // Idle when the server stops.
        None => {
            if !in_startup {
                let _ = socket.send(PgWireBackendMessage::ErrorResponse(shutting_down().into())).await;
            }
            None
        }
        Some(None) => {
            if let Some((_, code, why)) = idle.filter(|_| !in_startup) {
                let info = error::info("FATAL", code, why);
                let _ = socket.send(PgWireBackendMessage::ErrorResponse(info.into())).await;
            }
            None
        }
    }
}

/// Whether the connection is still in its startup and login exchange.
fn in_startup(socket: &PgSocket) -> bool {
    matches!(socket.state(), PgWireConnectionState::AwaitingStartup | PgWireConnectionState::AuthenticationInProgress)
}

/// A client connection's framed socket.
type PgSocket = tokio_util::codec::Framed<
    pgwire::tokio::server::MaybeTls,
    pgwire::tokio::server::PgWireMessageServerCodec<Arc<super::query::PgStatement>>,
>;

/// Runs one client connection to its end.
pub async fn serve_connection(
    mut tcp: TcpStream,
    peer: std::net::SocketAddr,
    shared: Arc<Shared>,
    mut stopping: crate::Stopping,
) {
    if take_cancel_request(&mut tcp, &shared).await {
        return;
    }
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let conn = Arc::new(PgConnection::new(shared, peer.ip()));
    let negotiated = tokio::time::timeout(
        Duration::from_secs(60),
        negotiate_tls(tcp, conn.shared.tls.as_ref().map(|t| t.pg_acceptor())),
    )
    .await;
    let mut socket = match negotiated {
        Ok(Ok(Some(socket))) => socket,
        _ => return,
    };
    let startup_deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    // Whether the last reply ended with ReadyForQuery and nothing more is
    // buffered: the only moment a stopping server closes the connection,
    // so a Parse/Bind/Execute/Sync sequence is never cut in half.
    let mut at_rest = true;
    // A message read while gathering COPY data, handled next.
    let mut held: Option<PgWireResult<PgWireFrontendMessage>> = None;
    // Where COPY data is gathered (see `gather_copy_data`).
    let mut copy_buffer = BytesMut::new();
    loop {
        let in_startup = in_startup(&socket);
        let message = match held.take() {
            Some(message) => message,
            None => {
                match read_message(&mut socket, &conn, &mut stopping, at_rest, in_startup, startup_deadline).await {
                    Some(message) => message,
                    None => break,
                }
            }
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                // Garbage or an oversized message: say so, then hang up.
                let info = error::info("FATAL", "08P01", format!("invalid frontend message: {e}"));
                let _ = socket.send(PgWireBackendMessage::ErrorResponse(info.into())).await;
                break;
            }
        };
        let message = match message {
            PgWireFrontendMessage::CopyData(first)
                if matches!(socket.state(), PgWireConnectionState::CopyInProgress(_)) =>
            {
                let (gathered, next) = gather_copy_data(first, &mut socket, &mut copy_buffer);
                held = next;
                PgWireFrontendMessage::CopyData(gathered)
            }
            other => other,
        };
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let is_cancel = matches!(message, PgWireFrontendMessage::CancelRequest(_));
        let ends_group = matches!(message, PgWireFrontendMessage::Query(_) | PgWireFrontendMessage::Sync(_));
        at_rest = in_startup || matches!(message, PgWireFrontendMessage::Query(_) | PgWireFrontendMessage::Sync(_));
        let is_extended = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        // Statements are only counted where they would run: not in the
        // messages a failed extended-protocol batch discards until Sync.
        let limited = match socket.state() {
            PgWireConnectionState::ReadyForQuery => conn.rate_limited(&message, peer.ip()),
            _ => None,
        };
        let handled = match limited {
            Some(refused) => Err(refused),
            None => {
                process_message(
                    message,
                    &mut socket,
                    conn.clone(),
                    conn.clone(),
                    conn.clone(),
                    conn.clone(),
                    conn.clone(),
                )
                .await
            }
        };
        if let Err(e) = handled {
            if is_extended {
                // Any error between two Syncs aborts the batch: its implicit
                // transaction rolls back, an explicit block fails.
                conn.session.lock().fail_block();
            }
            let fatal = e.is_fatal();
            socket.set_transaction_status(conn.transaction_status());
            if process_error(&mut socket, e, is_extended).await.is_err() || fatal {
                break;
            }
            if !is_extended {
                // process_error reported ReadyForQuery with pgwire's guess of
                // the status; ours is authoritative from the next message on.
                socket.set_transaction_status(conn.transaction_status());
            }
        }
        if is_cancel {
            break;
        }
        // Replies wait in the write buffer while the client's next message
        // is already here (a pipeline) and go out in one write before the
        // server waits on the network. A group that ends a transaction (its
        // Sync leaves no block open: a commit, an implicit transaction, a
        // failed block) is answered at once, as PostgreSQL does, so no
        // acknowledgement of a commit waits behind a later statement (which
        // might wait for a lock); only replies inside an open block wait.
        let hold = !in_startup
            && whole_message_buffered(socket.read_buffer())
            && (!ends_group || conn.transaction_status() == TransactionStatus::Transaction);
        if !hold && socket.flush().await.is_err() {
            break;
        }
    }
}

/// Whether `input` starts with a whole frontend message (type byte, then
/// a length that counts itself), which the loop handles without reading
/// from the network.
fn whole_message_buffered(input: &[u8]) -> bool {
    match input.get(1..5).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
        Some(length) => input.len() > u32::from_be_bytes(length) as usize,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::whole_message_buffered;

    #[test]
    fn a_message_counts_as_buffered_only_when_all_of_it_is() {
        // Sync: type, length 4 (itself), no body.
        assert!(whole_message_buffered(b"S\0\0\0\x04"));
        assert!(whole_message_buffered(b"S\0\0\0\x04Q\0"));
        assert!(!whole_message_buffered(b""));
        assert!(!whole_message_buffered(b"S\0\0\0"));
        // Query of length 9 (itself and five bytes): two bytes missing.
        assert!(!whole_message_buffered(b"Q\0\0\0\x09SEL"));
        assert!(whole_message_buffered(b"Q\0\0\0\x09SEL;\0"));
    }
}
