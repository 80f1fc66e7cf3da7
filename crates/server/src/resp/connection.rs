//! One RESP client: the read–run–write loop and the commands that are
//! about the connection or the server rather than the data.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use memdb_engine::keyspace::glob_match;
use memdb_engine::security::Access;
use memdb_engine::{Error, Eviction, KvCommand, KvReply, Watches};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Shared;
use super::commands::{self, Data, Shape};
use super::parse::{Parsed, Parser};
use super::reply::{Out, Proto, itoa};
use super::table;

/// Most bytes of unparsed input a client may have pending (Redis's
/// `client-query-buffer-limit`).
const QUERY_BUFFER_LIMIT: usize = 1 << 30;
/// Most requests taken from the read buffer at a time.
const MAX_PIPELINE: usize = 1024;
/// Most pipelined data commands run as one engine transaction.
const MAX_GROUP: usize = 256;
/// How often a blocked pop re-checks its lists even without a wake-up.
const BLOCK_RECHECK: Duration = Duration::from_millis(100);

/// A command queued inside MULTI.
enum Queued {
    Kv(KvCommand, Shape),
    /// A connection command run at EXEC (PING, ECHO, …).
    Local(Vec<Vec<u8>>),
}

/// Per-connection state.
struct Conn {
    shared: Arc<Shared>,
    id: u64,
    peer: SocketAddr,
    proto: Proto,
    name: Option<Vec<u8>>,
    authed: bool,
    /// The role the connection acts for (`None`: unrestricted) and when its
    /// privileges were last looked up.
    role: Option<(String, Arc<Access>, Instant)>,
    multi: Option<Vec<Queued>>,
    /// A command queued in MULTI was rejected: EXEC fails.
    multi_failed: bool,
    watches: Watches,
    started: Instant,
}

/// What to do after a request.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// Serves one client until it quits, disconnects or breaks the protocol.
pub async fn serve<S>(socket: S, peer: SocketAddr, shared: Arc<Shared>, mut stopping: crate::Stopping)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut socket = Flushing(socket);
    let open = shared.connected.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = ConnectedGuard(shared.clone());
    let mut out = BytesMut::with_capacity(16 * 1024);
    if shared.options.max_connections > 0 && open > shared.options.max_connections {
        Out { buf: &mut out, proto: Proto::V2 }.error("ERR max number of clients reached");
        let _ = socket.write_all(&out).await;
        return;
    }
    let mut conn = Conn {
        id: shared.next_id.fetch_add(1, Ordering::Relaxed),
        authed: open_without_login(&shared),
        role: None,
        shared,
        peer,
        proto: Proto::V2,
        name: None,
        multi: None,
        multi_failed: false,
        watches: Vec::new(),
        started: Instant::now(),
    };
    let mut input = BytesMut::with_capacity(16 * 1024);
    let mut parser = Parser::default();
    let mut requests = Vec::new();
    loop {
        // Take every complete request already read (up to MAX_PIPELINE),
        // run them, then write the replies together (pipelining).
        let mut broken = None;
        // Until a client has authenticated, its requests are parsed under
        // Redis's limits and one at a time (an AUTH lifts them for the next).
        parser.set_authenticated(conn.authed);
        let take = if conn.authed { MAX_PIPELINE } else { 1 };
        while requests.len() < take {
            match parser.parse(&input) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Empty(used)) => {
                    let _ = input.split_to(used);
                }
                Ok(Parsed::Request(args, used)) => {
                    let _ = input.split_to(used);
                    requests.push(args);
                }
                Err(e) => {
                    broken = Some(e);
                    break;
                }
            }
        }
        // More whole requests may be waiting behind the ones taken.
        let more_buffered = requests.len() == take;
        let mut requests = requests.drain(..).peekable();
        while let Some(args) = requests.next() {
            if let Err(wait) = conn.admit(&args) {
                // Inside MULTI the transaction is spoiled, as by any
                // refused command: EXEC answers EXECABORT.
                conn.reject_in_multi();
                let message = format!("ERR rate limit exceeded for this client; retry in {wait} s");
                Out { buf: &mut out, proto: conn.proto }.error(&message);
                continue;
            }
            if conn.batchable(&args) {
                // Consecutive data commands run as one engine transaction.
                let mut group = vec![args];
                while group.len() < MAX_GROUP {
                    match requests.next_if(|next| conn.batchable(next) && conn.admit(next).is_ok()) {
                        Some(next) => group.push(next),
                        None => break,
                    }
                }
                conn.shared.commands_total.fetch_add(group.len() as u64, Ordering::Relaxed);
                conn.run_group(group, &mut out);
            } else if conn.request(args, &mut out).await == Flow::Close {
                let _ = socket.write_all(&out).await;
                return;
            }
            if out.len() >= 1 << 20 {
                if socket.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
        }
        if let Some(e) = broken {
            Out { buf: &mut out, proto: conn.proto }.error(&format!("ERR Protocol error: {}", e.0));
            let _ = socket.write_all(&out).await;
            return;
        }
        if !out.is_empty() {
            if socket.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if input.len() > QUERY_BUFFER_LIMIT {
            Out { buf: &mut out, proto: conn.proto }.error("ERR Protocol error: query buffer limit exceeded");
            let _ = socket.write_all(&out).await;
            return;
        }
        if more_buffered {
            // Run what is already read before reading more: the client may
            // be waiting for these replies before it sends anything else.
            continue;
        }
        if input.capacity() - input.len() < 4096 {
            input.reserve(16 * 1024);
        }
        // Idle: a stopping server closes the connection here, with every
        // reply to what the client sent already written.
        if stopping.is_set() {
            return;
        }
        let read = tokio::select! {
            read = socket.read_buf(&mut input) => read,
            _ = stopping.wait() => return,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// A stream whose `write_all` also flushes, so replies buffered inside a
/// TLS session go out (a no-op on plain TCP).
struct Flushing<S>(S);

impl<S: AsyncRead + AsyncWrite + Unpin> Flushing<S> {
    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes).await?;
        self.0.flush().await
    }

    async fn read_buf(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        self.0.read_buf(buf).await
    }
}

/// Counts the connection out when it ends, however it ends.
struct ConnectedGuard(Arc<Shared>);

impl Drop for ConnectedGuard {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A client error message for an engine error, in Redis's words.
pub fn error_message(e: &Error) -> String {
    match e {
        Error::WrongType => "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
        Error::NotAnInteger(m) => format!("ERR {m}"),
        Error::NoSuchKey => "ERR no such key".into(),
        Error::IndexOutOfRange => "ERR index out of range".into(),
        Error::OutOfMemory(_) => "OOM command not allowed when used memory > 'maxmemory'.".into(),
        Error::InvalidParameter(m) => format!("ERR {m}"),
        other => format!("ERR {other}"),
    }
}

/// A request's arguments after the command name, without moving them.
fn after_name(args: Vec<Vec<u8>>) -> std::vec::IntoIter<Vec<u8>> {
    let mut args = args.into_iter();
    args.next();
    args
}

fn lower(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_lowercase()
}

impl Conn {
    fn out<'a>(&self, buf: &'a mut BytesMut) -> Out<'a> {
        Out { buf, proto: self.proto }
    }

    fn now_ms(&self) -> u64 {
        self.shared.kv.now_ms()
    }

    /// Takes a token from the client's bucket when commands are rate
    /// limited, or says how many seconds until one is there. MULTI, EXEC,
    /// DISCARD, RESET and QUIT always pass: refusing them would leave a
    /// transaction half-built (the commands queued in it paid already).
    fn admit(&self, args: &[Vec<u8>]) -> Result<(), u64> {
        let Some(limiter) = &self.shared.limiter else { return Ok(()) };
        let exempt = args.first().is_some_and(|name| {
            [&b"MULTI"[..], b"EXEC", b"DISCARD", b"RESET", b"QUIT"].iter().any(|c| name.eq_ignore_ascii_case(c))
        });
        if exempt { Ok(()) } else { limiter.check(self.peer.ip()).map_err(crate::ratelimit::retry_after_secs) }
    }

    /// Runs one request, writing its reply into `buf`.
    async fn request(&mut self, args: Vec<Vec<u8>>, buf: &mut BytesMut) -> Flow {
        self.shared.commands_total.fetch_add(1, Ordering::Relaxed);
        let Some(spec) = table::find(&args[0]) else {
            let mut message = format!("ERR unknown command '{}', with args beginning with: ", printable(&args[0]));
            for arg in args.iter().skip(1).take(16) {
                message.push_str(&format!("'{}' ", printable(arg)));
            }
            self.reject_in_multi();
            self.out(buf).error(&message);
            return Flow::Continue;
        };
        let name = spec.name;
        if !table::arity_ok(spec, args.len()) {
            self.reject_in_multi();
            self.out(buf).error(&format!("ERR wrong number of arguments for '{name}' command"));
            return Flow::Continue;
        }
        if !self.authed && !matches!(name, "auth" | "hello" | "quit") {
            self.out(buf).error("NOAUTH Authentication required.");
            return Flow::Continue;
        }
        if let Some(message) = self.denied(spec) {
            self.reject_in_multi();
            self.out(buf).error(&message);
            return Flow::Continue;
        }
        if self.multi.is_none() && matches!(name, "auth" | "hello") {
            if name == "auth" {
                let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
                let (user, password) = if args.len() == 2 { (b"default".to_vec(), arg(1)) } else { (arg(1), arg(2)) };
                match self.login(&user, &password).await {
                    Ok(()) => self.out(buf).ok(),
                    Err(e) => self.out(buf).error(&e),
                }
            } else {
                self.hello(&args, buf).await;
            }
            return Flow::Continue;
        }
        if self.multi.is_some() && !matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset") {
            self.queue(name, args, buf);
            return Flow::Continue;
        }
        if is_connection_command(name) {
            return self.connection_command(name, args, buf);
        }
        if matches!(name, "blpop" | "brpop") {
            match commands::parse(name, after_name(args), self.now_ms()) {
                Some(Ok(Data::Block { keys, front, timeout })) => self.block_pop(keys, front, timeout, buf).await,
                Some(Err(message)) => self.out(buf).error(&message),
                _ => self.out(buf).error(&format!("ERR unknown command '{name}'")),
            }
            return Flow::Continue;
        }
        self.run_group(vec![args], buf);
        Flow::Continue
    }

    /// Whether a request is a plain data command that can run grouped with
    /// its pipelined neighbours: known, right arity, authenticated, not in
    /// MULTI, not blocking.
    fn batchable(&mut self, args: &[Vec<u8>]) -> bool {
        if self.multi.is_some() || !self.authed {
            return false;
        }
        let Some(spec) = args.first().and_then(|name| table::find(name)) else { return false };
        self.denied(spec).is_none()
            && table::arity_ok(spec, args.len())
            && !is_connection_command(spec.name)
            && !matches!(spec.name, "blpop" | "brpop")
    }

    /// Runs pipelined data commands (see [`Conn::batchable`]): writes in
    /// one engine transaction, so a pipeline of N writes costs one commit;
    /// each command still gets its own reply or error, in order.
    fn run_group(&mut self, group: Vec<Vec<Vec<u8>>>, buf: &mut BytesMut) {
        let now = self.now_ms();
        let mut items: Vec<Result<(KvCommand, Shape), String>> = Vec::with_capacity(group.len());
        for args in group {
            let name = args.first().and_then(|name| table::find(name)).map_or("", |spec| spec.name);
            items.push(match commands::parse(name, after_name(args), now) {
                Some(Ok(Data::Kv(cmd, shape))) => Ok((cmd, shape)),
                Some(Ok(Data::EmptyScan)) => Err(String::new()),
                Some(Ok(Data::Block { .. })) | None => Err(format!("ERR unknown command '{name}'")),
                Some(Err(message)) => Err(message),
            });
        }
        let kv_count = items.iter().filter(|i| i.is_ok()).count();
        let writes = items.iter().any(|i| i.as_ref().is_ok_and(|(cmd, _)| cmd.is_write()));
        // Over the memory limit, commands that add data fail while the
        // others go on: each runs alone then.
        if writes && (kv_count < 2 || self.shared.kv.over_memory_limit()) {
            for item in items {
                match item {
                    Ok((cmd, shape)) => {
                        let result = self.shared.kv.exec(cmd);
                        self.reply_kv(result, shape, buf);
                    }
                    Err(message) => self.reply_rejected(&message, buf),
                }
            }
            return;
        }
        let mut plan = Vec::with_capacity(items.len());
        let mut cmds = Vec::with_capacity(kv_count);
        for item in items {
            match item {
                Ok((cmd, shape)) => {
                    cmds.push(cmd);
                    plan.push(Ok(shape));
                }
                Err(message) => plan.push(Err(message)),
            }
        }
        // Reads share one clock reading; writes one engine transaction.
        let mut results = if !writes {
            self.shared.kv.exec_reads(cmds).into_iter()
        } else {
            match self.shared.kv.exec_batch(cmds, &[]) {
                Ok(Some(results)) => results.into_iter(),
                Ok(None) => Vec::new().into_iter(),
                Err(e) => vec![Err(e); kv_count].into_iter(),
            }
        };
        for step in plan {
            match step {
                Ok(shape) => {
                    let result = results.next().unwrap_or_else(|| Err(Error::Internal("missing reply".into())));
                    self.reply_kv(result, shape, buf);
                }
                Err(message) => self.reply_rejected(&message, buf),
            }
        }
    }

    fn reply_rejected(&self, message: &str, buf: &mut BytesMut) {
        if message.is_empty() {
            self.out(buf).kv(&KvReply::Scan { cursor: 0, keys: Vec::new() });
        } else {
            self.out(buf).error(message);
        }
    }

    fn reject_in_multi(&mut self) {
        if self.multi.is_some() {
            self.multi_failed = true;
        }
    }

    fn reply_kv(&self, result: Result<KvReply, Error>, shape: Shape, buf: &mut BytesMut) {
        let mut out = self.out(buf);
        match (result, shape) {
            (Ok(KvReply::Ok), Shape::Flag) => out.int(1),
            (Ok(KvReply::Nil), Shape::Flag) => out.int(0),
            (Ok(reply), _) => out.kv(&reply),
            (Err(e), _) => out.error(&error_message(&e)),
        }
    }

    /// Inside MULTI: checks the command and queues it.
    fn queue(&mut self, name: &str, mut args: Vec<Vec<u8>>, buf: &mut BytesMut) {
        let queued = if is_connection_command(name) {
            match name {
                "ping" | "echo" | "time" | "info" | "select" | "client" | "command" | "config" | "unwatch" => {
                    Ok(Queued::Local(args))
                }
                other => Err(format!("ERR Command {other} is not allowed inside MULTI")),
            }
        } else {
            self.parse_queued(name, args.split_off(1))
        };
        match queued {
            Ok(q) => {
                if let Some(multi) = &mut self.multi {
                    multi.push(q);
                }
                self.out(buf).simple("QUEUED");
            }
            Err(message) => {
                self.multi_failed = true;
                self.out(buf).error(&message);
            }
        }
    }

    fn parse_queued(&self, name: &str, rest: Vec<Vec<u8>>) -> Result<Queued, String> {
        match commands::parse(name, rest.into_iter(), self.now_ms()) {
            Some(Ok(Data::Kv(cmd, shape))) => Ok(Queued::Kv(cmd, shape)),
            Some(Ok(Data::EmptyScan)) => Ok(Queued::Kv(KvCommand::Keys { pattern: Vec::new() }, Shape::Plain)),
            Some(Ok(Data::Block { keys, front, .. })) => {
                // Inside a transaction a blocking pop does not block: it
                // pops from the first list with elements, or answers nil.
                Ok(Queued::Kv(KvCommand::PopFirst { keys, front }, Shape::Plain))
            }
            Some(Err(message)) => Err(message),
            None => Err(format!("ERR unknown command '{name}'")),
        }
    }

    /// BLPOP / BRPOP: pops from the first non-empty list, or waits for a
    /// push to one of them until the timeout.
    async fn block_pop(&mut self, keys: Vec<Vec<u8>>, front: bool, timeout: Option<Duration>, buf: &mut BytesMut) {
        let deadline = timeout.map(|t| Instant::now() + t);
        let notifies: Vec<_> = keys.iter().map(|k| self.shared.waiters.get(k)).collect();
        loop {
            let mut waits: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> =
                notifies.iter().map(|n| Box::pin(n.notified())).collect();
            for w in &mut waits {
                w.as_mut().enable();
            }
            match self.shared.kv.exec(KvCommand::PopFirst { keys: keys.clone(), front }) {
                Ok(KvReply::NilArray) => {}
                popped => {
                    self.reply_kv(popped, Shape::Plain, buf);
                    return;
                }
            }
            let mut wait = BLOCK_RECHECK;
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.out(buf).nil_array();
                    return;
                }
                wait = wait.min(left);
            }
            let _ = tokio::time::timeout(wait, futures::future::select_all(waits)).await;
        }
    }

    /// Connection and server commands.
    fn connection_command(&mut self, name: &str, args: Vec<Vec<u8>>, buf: &mut BytesMut) -> Flow {
        let arg = |i: usize| args.get(i).map(|a| a.as_slice()).unwrap_or(&[]);
        match name {
            "ping" => match args.len() {
                1 => self.out(buf).simple("PONG"),
                _ => self.out(buf).bulk(arg(1)),
            },
            "echo" => self.out(buf).bulk(arg(1)),
            "quit" => {
                self.out(buf).ok();
                return Flow::Close;
            }
            "reset" => {
                self.multi = None;
                self.multi_failed = false;
                self.watches.clear();
                self.name = None;
                self.proto = Proto::V2;
                self.authed = open_without_login(&self.shared);
                self.role = None;
                self.out(buf).simple("RESET");
            }
            "select" => match commands::int(arg(1)) {
                Ok(0) => self.out(buf).ok(),
                Ok(_) => self.out(buf).error("ERR DB index is out of range"),
                Err(e) => self.out(buf).error(&e),
            },
            // Logins run outside transactions (see `Conn::request`).
            "auth" | "hello" => {
                self.out(buf).error(&format!("ERR {} inside MULTI is not allowed", name.to_uppercase()))
            }
            "multi" => {
                if self.multi.is_some() {
                    self.out(buf).error("ERR MULTI calls can not be nested");
                } else {
                    self.multi = Some(Vec::new());
                    self.multi_failed = false;
                    self.out(buf).ok();
                }
            }
            "discard" => {
                if self.multi.take().is_some() {
                    self.watches.clear();
                    self.out(buf).ok();
                } else {
                    self.out(buf).error("ERR DISCARD without MULTI");
                }
            }
            "exec" => self.exec(buf),
            "watch" => {
                if self.multi.is_some() {
                    self.out(buf).error("ERR WATCH inside MULTI is not allowed");
                } else {
                    let at = self.shared.kv.watch_point();
                    for key in &args[1..] {
                        if !self.watches.iter().any(|(k, _)| k == key) {
                            self.watches.push((key.clone(), at));
                        }
                    }
                    self.out(buf).ok();
                }
            }
            "unwatch" => {
                self.watches.clear();
                self.out(buf).ok();
            }
            "time" => {
                let micros = self.now_ms() as i64 * 1000;
                let mut out = self.out(buf);
                out.array(2);
                out.bulk(itoa(micros / 1_000_000).as_bytes());
                out.bulk(itoa(micros % 1_000_000).as_bytes());
            }
            "info" => {
                let text = self.info(args.get(1).map(|a| lower(a)));
                self.out(buf).bulk(text.as_bytes());
            }
            "config" => self.config(&args, buf),
            "client" => self.client(&args, buf),
            "command" => self.command(&args, buf),
            other => self.out(buf).error(&format!("ERR unknown command '{other}'")),
        }
        Flow::Continue
    }

    /// `AUTH [user] password`: the `default` user (or none) checks the
    /// configured `resp_password` if there is one, else logs in as the
    /// superuser; any other user logs in as that role, whose privileges
    /// then decide what the connection may run.
    async fn login(&mut self, user: &[u8], password: &[u8]) -> Result<(), String> {
        const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
        let auth = self.shared.options.auth.clone();
        let resp_password = self.shared.options.password.clone();
        if user == b"default"
            && let Some(expected) = &resp_password
        {
            if constant_time_eq(password, expected.as_bytes()) {
                self.authed = true;
                self.role = None;
                return Ok(());
            }
            if !auth.as_ref().is_some_and(|a| a.enabled()) {
                return Err(WRONGPASS.into());
            }
        }
        let Some(auth) = auth.filter(|a| a.enabled() || user != b"default") else {
            return Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into());
        };
        let user =
            if user == b"default" { auth.superuser().to_owned() } else { String::from_utf8_lossy(user).into_owned() };
        let password = String::from_utf8_lossy(password).into_owned();
        match auth.check_password(self.peer.ip(), &user, &password).await {
            Ok(role) => {
                let access = auth.access(&role);
                self.role = Some((role, access, Instant::now()));
                self.authed = true;
                Ok(())
            }
            Err(_) => Err(WRONGPASS.into()),
        }
    }

    /// Why the acting role may not run `spec` (Redis's NOPERM), if it may
    /// not. Privileges are looked up again after a second, so grants and
    /// revokes reach open connections.
    fn denied(&mut self, spec: &table::CommandSpec) -> Option<String> {
        let (role, access, at) = self.role.as_mut()?;
        if at.elapsed() > ACCESS_REFRESH
            && let Some(auth) = &self.shared.options.auth
        {
            *access = auth.access(role);
            *at = Instant::now();
        }
        let allowed = if spec.flags.contains(&"write") {
            access.can_write_kv()
        } else if spec.flags.contains(&"readonly") {
            access.can_read_kv()
        } else if spec.flags.contains(&"admin") {
            access.is_superuser()
        } else {
            true
        };
        (!allowed).then(|| format!("NOPERM User {role} has no permissions to run the '{}' command", spec.name))
    }

    async fn hello(&mut self, args: &[Vec<u8>], buf: &mut BytesMut) {
        let mut proto = self.proto;
        let mut i = 1;
        if let Some(version) = args.get(1) {
            match commands::int(version) {
                Ok(2) => proto = Proto::V2,
                Ok(3) => proto = Proto::V3,
                Ok(_) => return self.out(buf).error("NOPROTO unsupported protocol version"),
                Err(_) => return self.out(buf).error("ERR Protocol version is not an integer or out of range"),
            }
            i = 2;
        }
        while i < args.len() {
            match lower(&args[i]).as_str() {
                "auth" if i + 2 < args.len() => {
                    let (user, password) = (args[i + 1].clone(), args[i + 2].clone());
                    if let Err(e) = self.login(&user, &password).await {
                        return self.out(buf).error(&e);
                    }
                    i += 3;
                }
                "setname" if i + 1 < args.len() => {
                    self.name = Some(args[i + 1].clone());
                    i += 2;
                }
                other => return self.out(buf).error(&format!("ERR Syntax error in HELLO option '{other}'")),
            }
        }
        if !self.authed {
            return self.out(buf).error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }
        self.proto = proto;
        let mut out = self.out(buf);
        out.map(7);
        out.bulk(b"server");
        out.bulk(b"redis");
        out.bulk(b"version");
        out.bulk(REDIS_VERSION.as_bytes());
        out.bulk(b"proto");
        out.int(if proto == Proto::V3 { 3 } else { 2 });
        out.bulk(b"id");
        out.int(self.id as i64);
        out.bulk(b"mode");
        out.bulk(b"standalone");
        out.bulk(b"role");
        out.bulk(b"master");
        out.bulk(b"modules");
        out.array(0);
    }

    fn exec(&mut self, buf: &mut BytesMut) {
        let Some(queued) = self.multi.take() else {
            return self.out(buf).error("ERR EXEC without MULTI");
        };
        let watches = std::mem::take(&mut self.watches);
        if std::mem::take(&mut self.multi_failed) {
            return self.out(buf).error("EXECABORT Transaction discarded because of previous errors.");
        }
        let mut cmds = Vec::new();
        let mut plan = Vec::with_capacity(queued.len());
        for q in queued {
            match q {
                Queued::Kv(cmd, shape) => {
                    cmds.push(cmd);
                    plan.push(Ok(shape));
                }
                Queued::Local(args) => plan.push(Err(args)),
            }
        }
        match self.shared.kv.exec_batch(cmds, &watches) {
            Ok(None) => self.out(buf).nil_array(),
            Ok(Some(results)) => {
                self.out(buf).array(plan.len());
                let mut results = results.into_iter();
                for step in plan {
                    match step {
                        Ok(shape) => {
                            let result = results.next().unwrap_or_else(|| Err(Error::Internal("missing reply".into())));
                            self.reply_kv(result, shape, buf);
                        }
                        Err(args) => {
                            let name = lower(&args[0]);
                            self.connection_command(&name, args, buf);
                        }
                    }
                }
            }
            Err(e) => self.out(buf).error(&error_message(&e)),
        }
    }

    fn info(&self, section: Option<String>) -> String {
        let s = &self.shared;
        let stats = s.db.stats();
        let used = memdb_engine::resident_memory();
        let (expired, evicted) = s.kv.expired_and_evicted();
        let want = |name: &str| {
            section.as_deref().is_none_or(|w| w == name || w == "all" || w == "everything" || w == "default")
        };
        let mut text = String::new();
        if want("server") {
            let addr = s.addr.lock().map(|a| a.port()).unwrap_or(0);
            text.push_str(&format!(
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nmemdb_version:{}\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nprocess_id:{}\r\ntcp_port:{addr}\r\nuptime_in_seconds:{}\r\n\r\n",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::process::id(),
                s.started.elapsed().as_secs()
            ));
        }
        if want("clients") {
            text.push_str(&format!(
                "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n\r\n",
                s.connected.load(Ordering::Relaxed),
                s.options.max_connections
            ));
        }
        if want("memory") {
            text.push_str(&format!(
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{:.2}M\r\nused_memory_rss:{used}\r\nmaxmemory:{}\r\nmaxmemory_policy:{}\r\n\r\n",
                used as f64 / (1 << 20) as f64,
                s.options.max_memory,
                policy_name(s.options.eviction)
            ));
        }
        if want("stats") {
            text.push_str(&format!(
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nexpired_keys:{expired}\r\nevicted_keys:{evicted}\r\nactive_transactions:{}\r\n\r\n",
                s.connections_total.load(Ordering::Relaxed),
                s.commands_total.load(Ordering::Relaxed),
                stats.active_transactions
            ));
        }
        if want("persistence") {
            text.push_str(&format!(
                "# Persistence\r\nloading:0\r\naof_enabled:{}\r\nrdb_bgsave_in_progress:0\r\n\r\n",
                u8::from(s.options.durable)
            ));
        }
        if want("keyspace") {
            text.push_str("# Keyspace\r\n");
            let keys = s.kv.len();
            if keys > 0 {
                text.push_str(&format!("db0:keys={keys},expires={},avg_ttl=0\r\n", s.kv.volatile_len()));
            }
            text.push_str("\r\n");
        }
        text
    }

    fn config(&mut self, args: &[Vec<u8>], buf: &mut BytesMut) {
        let sub = lower(&args[1]);
        match sub.as_str() {
            "get" if args.len() >= 3 => {
                let s = &self.shared;
                let port = s.addr.lock().map(|a| a.port()).unwrap_or(0);
                let bind = s.addr.lock().map(|a| a.ip().to_string()).unwrap_or_default();
                let params: Vec<(&str, String)> = vec![
                    ("appendonly", if s.options.durable { "yes" } else { "no" }.into()),
                    ("bind", bind),
                    ("client-query-buffer-limit", QUERY_BUFFER_LIMIT.to_string()),
                    ("databases", "1".into()),
                    ("maxclients", s.options.max_connections.to_string()),
                    ("maxmemory", s.options.max_memory.to_string()),
                    ("maxmemory-policy", policy_name(s.options.eviction).into()),
                    ("port", port.to_string()),
                    ("proto-max-bulk-len", super::parse::MAX_BULK.to_string()),
                    ("save", String::new()),
                    ("timeout", "0".into()),
                ];
                let patterns: Vec<Vec<u8>> = args[2..].iter().map(|p| p.to_ascii_lowercase()).collect();
                let matched: Vec<&(&str, String)> =
                    params.iter().filter(|(name, _)| patterns.iter().any(|p| glob_match(p, name.as_bytes()))).collect();
                let mut out = self.out(buf);
                out.map(matched.len());
                for (name, value) in matched {
                    out.bulk(name.as_bytes());
                    out.bulk(value.as_bytes());
                }
            }
            "resetstat" => self.out(buf).ok(),
            "set" => self.out(buf).error(
                "ERR CONFIG SET is not supported: memdb reads its settings from its configuration file and flags",
            ),
            _ => self
                .out(buf)
                .error(&format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CONFIG HELP.")),
        }
    }

    fn client(&mut self, args: &[Vec<u8>], buf: &mut BytesMut) {
        let sub = lower(&args[1]);
        match (sub.as_str(), args.len()) {
            ("id", 2) => self.out(buf).int(self.id as i64),
            ("getname", 2) => match self.name.clone() {
                Some(name) => self.out(buf).bulk(&name),
                None => self.out(buf).nil(),
            },
            ("setname", 3) => {
                if args[2].iter().any(|&b| b <= b' ' || b > b'~') {
                    self.out(buf).error("ERR Client names cannot contain spaces, newlines or special characters.");
                } else {
                    self.name = Some(args[2].clone()).filter(|n| !n.is_empty());
                    self.out(buf).ok();
                }
            }
            ("setinfo", 4) => match lower(&args[2]).as_str() {
                "lib-name" | "lib-ver" => self.out(buf).ok(),
                other => self.out(buf).error(&format!("ERR Unrecognized option '{other}'")),
            },
            ("list", _) | ("info", 2) => {
                let line = format!(
                    "id={} addr={} laddr={} name={} age={} db=0 multi={} cmd=client|{sub} resp={}\n",
                    self.id,
                    self.peer,
                    self.shared.addr.lock().map(|a| a.to_string()).unwrap_or_default(),
                    String::from_utf8_lossy(self.name.as_deref().unwrap_or_default()),
                    self.started.elapsed().as_secs(),
                    self.multi.as_ref().map_or(-1, |m| m.len() as i64),
                    if self.proto == Proto::V3 { 3 } else { 2 }
                );
                self.out(buf).bulk(line.as_bytes());
            }
            ("no-evict" | "no-touch" | "reply", 3) => self.out(buf).ok(),
            _ => self
                .out(buf)
                .error(&format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP.")),
        }
    }

    fn command(&mut self, args: &[Vec<u8>], buf: &mut BytesMut) {
        let sub = args.get(1).map(|a| lower(a)).unwrap_or_default();
        let mut out = self.out(buf);
        let info = |out: &mut Out<'_>, spec: &table::CommandSpec| {
            out.array(6);
            out.bulk(spec.name.as_bytes());
            out.int(spec.arity);
            out.array(spec.flags.len());
            spec.flags.iter().for_each(|f| out.simple(f));
            out.int(spec.first);
            out.int(spec.last);
            out.int(spec.step);
        };
        match sub.as_str() {
            "" => {
                out.array(table::COMMANDS.len());
                table::COMMANDS.iter().for_each(|spec| info(&mut out, spec));
            }
            "count" => out.int(table::COMMANDS.len() as i64),
            "list" => {
                out.array(table::COMMANDS.len());
                table::COMMANDS.iter().for_each(|spec| out.bulk(spec.name.as_bytes()));
            }
            "info" => {
                out.array(args.len() - 2);
                for name in &args[2..] {
                    match table::find(name) {
                        Some(spec) => info(&mut out, spec),
                        None => out.nil(),
                    }
                }
            }
            // Documentation is optional for clients (redis-cli uses it for
            // hints only).
            "docs" => out.map(0),
            other => out.error(&format!("ERR unknown subcommand '{other}'. Try COMMAND HELP.")),
        }
    }
}

/// Commands about the connection or the server rather than the data.
fn is_connection_command(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "echo"
            | "quit"
            | "reset"
            | "select"
            | "auth"
            | "hello"
            | "multi"
            | "discard"
            | "exec"
            | "watch"
            | "unwatch"
            | "time"
            | "info"
            | "config"
            | "client"
            | "command"
    )
}

/// The Redis version memdb reports, for clients that check features by it.
pub const REDIS_VERSION: &str = "7.2.4";

fn policy_name(e: Eviction) -> &'static str {
    match e {
        Eviction::NoEviction => "noeviction",
        Eviction::AllKeysLru => "allkeys-lru",
        Eviction::VolatileTtl => "volatile-ttl",
    }
}

/// An argument as Redis quotes it in error messages (first 128 bytes).
fn printable(arg: &[u8]) -> String {
    String::from_utf8_lossy(&arg[..arg.len().min(128)]).into_owned()
}

/// How long a connection's privileges are used before they are looked up
/// again.
const ACCESS_REFRESH: Duration = Duration::from_secs(1);

/// Whether connections may run commands before AUTH: neither a RESP
/// password nor authentication is configured.
fn open_without_login(shared: &Shared) -> bool {
    shared.options.password.is_none() && !shared.options.auth.as_ref().is_some_and(|a| a.enabled())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
