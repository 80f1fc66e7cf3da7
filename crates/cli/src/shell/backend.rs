//! Where the shell's statements run: an embedded database (a data
//! directory opened in this process, or memory only) or a server reached
//! over the PostgreSQL protocol. Both answer with the same [`Reply`]s, so
//! the rest of the shell does not care which it talks to.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use memdb_engine::Database;
use memdb_sql::{Outcome, Session};

/// What one statement produced.
#[derive(Debug)]
pub enum Reply {
    /// A result set (possibly empty) and its command tag.
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// Values in PostgreSQL's text form; `None` is NULL.
        rows: Vec<Vec<Option<String>>>,
        /// The command tag (`SELECT 3`).
        tag: String,
    },
    /// A statement without rows: its command tag (`INSERT 0 1`).
    Command(String),
    /// `COPY … TO STDOUT` data, to print as is.
    CopyOut(Vec<u8>),
}

/// A line of `COPY … FROM STDIN` data, or why there is none.
#[derive(Debug, PartialEq, Eq)]
pub enum CopyInput {
    /// A data line (`\.` ends the data).
    Line(String),
    /// The input ended: the rows so far are copied.
    End,
    /// Ctrl-C: the COPY is abandoned, nothing is copied.
    Cancel,
}

/// A statement's failure, as the shell prints it.
#[derive(Debug)]
pub struct Failure {
    /// The SQLSTATE, when the database gave one.
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// PostgreSQL's DETAIL, if any.
    pub detail: Option<String>,
    /// PostgreSQL's HINT, if any.
    pub hint: Option<String>,
    /// Whether the connection is gone (the shell cannot go on).
    pub fatal: bool,
}

impl Failure {
    fn plain(message: impl Into<String>) -> Failure {
        Failure { code: None, message: message.into(), detail: None, hint: None, fatal: false }
    }

    fn copy_canceled() -> Failure {
        Failure { code: Some("57014".into()), ..Failure::plain("COPY from stdin canceled by the user") }
    }
}

/// Where statements run.
pub enum Backend {
    /// A database in this process.
    Embedded {
        /// The session (taken while a statement runs on a blocking thread).
        session: Option<Box<Session>>,
        /// The database, flushed when the shell ends.
        db: Arc<Database>,
        /// What `\conninfo` says.
        description: String,
    },
    /// A server.
    Remote {
        /// The connection.
        client: tokio_postgres::Client,
        /// Drives the connection; ends when it closes.
        driver: tokio::task::JoinHandle<()>,
        /// What `\conninfo` says.
        description: String,
    },
}

impl Backend {
    /// A shell session on an open database.
    pub fn embedded(db: Arc<Database>, description: String) -> Backend {
        let session = Box::new(Session::new(db.clone(), "memdb"));
        Backend::Embedded { session: Some(session), db, description }
    }

    /// Connects to a server with a libpq-style URL or `key=value` string;
    /// `tls` is the client configuration to use when the server is asked
    /// for TLS (`sslmode` other than `disable`).
    pub async fn connect(target: &str, tls: Option<rustls::ClientConfig>) -> Result<Backend, Failure> {
        let mut config: tokio_postgres::Config =
            target.parse().map_err(|e| Failure::plain(format!("invalid connection string \"{target}\": {e}")))?;
        if config.get_user().is_none() {
            config.user(std::env::var("PGUSER").ok().as_deref().unwrap_or("memdb"));
        }
        if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD").or_else(|_| std::env::var("MEMDB_PASSWORD"))
        {
            config.password(password);
        }
        if config.get_hosts().is_empty() {
            config.host("127.0.0.1");
        }
        if config.get_dbname().is_none() {
            config.dbname("memdb");
        }
        if tls.is_some() && !target.contains("sslmode") {
            // A CA certificate means TLS was asked for: no silent
            // fallback to plaintext (libpq's `prefer`).
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
        }
        let user = config.get_user().unwrap_or("memdb").to_owned();
        let refused = |e: tokio_postgres::Error| {
            let mut failure = from_pg(&e);
            failure.fatal = true;
            if failure.code.is_none() {
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    why.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                failure.message = format!("cannot connect to {target}: {why}");
            }
            failure
        };
        let (client, driver) = match tls {
            Some(tls) => {
                let (client, connection) =
                    config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls)).await.map_err(refused)?;
                (client, tokio::spawn(async move { drop(connection.await) }))
            }
            None => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(refused)?;
                (client, tokio::spawn(async move { drop(connection.await) }))
            }
        };
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let description = format!("connected to the server at {}:{port} as user \"{user}\"", hosts.join(","));
        Ok(Backend::Remote { client, driver, description })
    }

    /// What `\conninfo` prints.
    pub fn description(&self) -> &str {
        match self {
            Backend::Embedded { description, .. } | Backend::Remote { description, .. } => description,
        }
    }

    /// Runs one statement (`copy_rows` feeds `COPY … FROM STDIN`). Ctrl-C
    /// while it runs cancels it.
    pub async fn run(&mut self, sql: &str, copy_rows: &mut dyn FnMut() -> CopyInput) -> Result<Vec<Reply>, Failure> {
        match self {
            Backend::Embedded { session, .. } => {
                let Some(mut running) = session.take() else {
                    return Err(Failure::plain("the session was lost after a crash in an earlier statement"));
                };
                let cancel = running.cancel_flag();
                let text = sql.to_owned();
                let task = tokio::task::spawn_blocking(move || {
                    let outcomes = running.run_outcomes(&text);
                    (running, outcomes)
                });
                tokio::pin!(task);
                let (back, outcomes) = loop {
                    tokio::select! {
                        done = &mut task => break done.map_err(|e| Failure::plain(format!("the statement crashed: {e}")))?,
                        _ = tokio::signal::ctrl_c() => cancel.store(true, Ordering::Relaxed),
                    }
                };
                let mut running = back;
                let mut replies = Vec::new();
                let mut failure = None;
                for outcome in outcomes {
                    match outcome {
                        Ok(Outcome::Done(result)) => {
                            if result.columns.is_empty() {
                                replies.push(Reply::Command(result.tag));
                            } else {
                                replies.push(Reply::Rows {
                                    columns: result.columns.iter().map(|c| c.name.clone()).collect(),
                                    rows: result
                                        .rows
                                        .iter()
                                        .map(|row| row.iter().map(|v| (!v.is_null()).then(|| v.to_string())).collect())
                                        .collect(),
                                    tag: result.tag,
                                });
                            }
                        }
                        Ok(Outcome::CopyOut { data, .. }) => replies.push(Reply::CopyOut(data.concat())),
                        Ok(Outcome::CopyIn { .. }) => {
                            let mut fed = Ok(());
                            let mut canceled = false;
                            loop {
                                match copy_rows() {
                                    CopyInput::Line(line) if line == "\\." => break,
                                    CopyInput::Line(line) => {
                                        if fed.is_ok() {
                                            fed = running.copy_data(format!("{line}\n").as_bytes());
                                        }
                                    }
                                    CopyInput::End => break,
                                    CopyInput::Cancel => {
                                        canceled = true;
                                        break;
                                    }
                                }
                            }
                            if canceled {
                                running.copy_fail("canceled by the user");
                                failure = Some(Failure::copy_canceled());
                            } else {
                                match fed.and_then(|()| running.copy_done()) {
                                    Ok(result) => replies.push(Reply::Command(result.tag)),
                                    Err(e) => {
                                        running.copy_fail("");
                                        failure = Some(from_sql(&e));
                                    }
                                }
                            }
                        }
                        Err(e) => failure = Some(from_sql(&e)),
                    }
                    if failure.is_some() {
                        break;
                    }
                }
                *session = Some(running);
                cancel.store(false, Ordering::Relaxed);
                match failure {
                    Some(f) => Err(f),
                    None => Ok(replies),
                }
            }
            Backend::Remote { client, .. } => run_remote(client, sql, copy_rows).await,
        }
    }

    /// Ends the session: an embedded database is flushed to disk.
    pub fn close(self) -> Result<(), String> {
        match self {
            Backend::Embedded { session, db, .. } => {
                drop(session);
                db.flush().map_err(|e| format!("flushing the database failed: {e}"))
            }
            Backend::Remote { client, driver, .. } => {
                drop(client);
                driver.abort();
                Ok(())
            }
        }
    }
}

/// One statement on a server: COPY goes through the copy sub-protocol, the
/// rest through the simple query protocol (whose answer carries the row
/// count but not the tag's text, which is rebuilt from the statement).
async fn run_remote(
    client: &tokio_postgres::Client,
    sql: &str,
    copy_rows: &mut dyn FnMut() -> CopyInput,
) -> Result<Vec<Reply>, Failure> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_postgres::SimpleQueryMessage;

    let head = crate::shell::split::skip_comments(sql);
    match copy_direction_of(head) {
        Some(CopyDirection::In) => {
            let sink = client.copy_in::<_, bytes::Bytes>(sql).await.map_err(|e| from_pg(&e))?;
            tokio::pin!(sink);
            let mut outcome = Ok(());
            loop {
                match copy_rows() {
                    CopyInput::Line(line) if line == "\\." => break,
                    CopyInput::Line(line) => {
                        if outcome.is_ok() {
                            outcome = sink.send(bytes::Bytes::from(format!("{line}\n"))).await;
                        }
                    }
                    CopyInput::End => break,
                    // Dropping the sink unfinished sends CopyFail: the
                    // server copies nothing.
                    CopyInput::Cancel => return Err(Failure::copy_canceled()),
                }
            }
            outcome.map_err(|e| from_pg(&e))?;
            let rows = sink.as_mut().finish().await.map_err(|e| from_pg(&e))?;
            Ok(vec![Reply::Command(format!("COPY {rows}"))])
        }
        Some(CopyDirection::Out) => {
            let work = async {
                let stream = client.copy_out(sql).await?;
                tokio::pin!(stream);
                let mut data = Vec::new();
                while let Some(chunk) = stream.next().await {
                    data.extend_from_slice(&chunk?);
                }
                Ok::<_, tokio_postgres::Error>(data)
            };
            let data = cancellable(client, work).await.map_err(|e| from_pg(&e))?;
            Ok(vec![Reply::CopyOut(data)])
        }
        None => {
            let messages = cancellable(client, client.simple_query(sql)).await.map_err(|e| from_pg(&e))?;
            let mut replies = Vec::new();
            let mut columns: Option<Vec<String>> = None;
            let mut rows = Vec::new();
            for message in messages {
                match message {
                    SimpleQueryMessage::RowDescription(described) => {
                        columns = Some(described.iter().map(|c| c.name().to_owned()).collect());
                    }
                    SimpleQueryMessage::Row(row) => {
                        rows.push((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect());
                    }
                    SimpleQueryMessage::CommandComplete(n) => {
                        let tag = tag_for(head, n, columns.is_some());
                        match columns.take() {
                            Some(columns) => {
                                replies.push(Reply::Rows { columns, rows: std::mem::take(&mut rows), tag })
                            }
                            None => replies.push(Reply::Command(tag)),
                        }
                    }
                    _ => {}
                }
            }
            Ok(replies)
        }
    }
}

/// Awaits `work`, sending the server a cancel request on Ctrl-C.
async fn cancellable<T>(client: &tokio_postgres::Client, work: impl std::future::Future<Output = T>) -> T {
    let cancel = client.cancel_token();
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = tokio::signal::ctrl_c() => {
                let _ = cancel.cancel_query(tokio_postgres::NoTls).await;
            }
        }
    }
}

enum CopyDirection {
    In,
    Out,
}

/// Whether a statement is `COPY … FROM STDIN` (which reads data lines).
pub fn is_copy_in(sql: &str) -> bool {
    matches!(copy_direction(sql), Some(CopyDirection::In))
}

/// Whether a statement is `COPY … FROM STDIN` or `COPY … TO STDOUT`
/// (comments before it aside).
fn copy_direction(sql: &str) -> Option<CopyDirection> {
    copy_direction_of(crate::shell::split::skip_comments(sql))
}

/// [`copy_direction`] of a statement whose leading comments are skipped.
fn copy_direction_of(sql: &str) -> Option<CopyDirection> {
    let words: Vec<String> = sql.split_whitespace().map(|w| w.to_ascii_uppercase()).collect();
    if words.first().map(String::as_str) != Some("COPY") {
        return None;
    }
    let has = |a: &str, b: &str| words.windows(2).any(|w| w[0] == a && w[1].trim_end_matches(';') == b);
    if has("FROM", "STDIN") {
        Some(CopyDirection::In)
    } else if has("TO", "STDOUT") {
        Some(CopyDirection::Out)
    } else {
        None
    }
}

/// The command tag PostgreSQL would have sent for `sql` with `n` rows.
pub fn tag_for(sql: &str, n: u64, has_rows: bool) -> String {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(3)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let first = words.first().map(String::as_str).unwrap_or("");
    match first {
        _ if has_rows && !matches!(first, "INSERT" | "UPDATE" | "DELETE" | "MERGE") => format!("SELECT {n}"),
        "INSERT" => format!("INSERT 0 {n}"),
        "UPDATE" | "DELETE" | "MERGE" | "COPY" | "FETCH" | "MOVE" | "SELECT" => format!("{first} {n}"),
        "CREATE" | "DROP" | "ALTER" => {
            let mut object: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
            object.retain(|w| !matches!(*w, "OR" | "REPLACE" | "UNIQUE" | "TEMP" | "TEMPORARY" | "IF"));
            match object.first() {
                Some(what) => format!("{first} {what}"),
                None => first.to_owned(),
            }
        }
        "START" => "START TRANSACTION".to_owned(),
        "END" => "COMMIT".to_owned(),
        "ABORT" => "ROLLBACK".to_owned(),
        other => other.to_owned(),
    }
}

fn from_sql(e: &memdb_sql::SqlError) -> Failure {
    Failure { code: Some(e.sqlstate().to_owned()), message: e.to_string(), detail: None, hint: None, fatal: false }
}

fn from_pg(e: &tokio_postgres::Error) -> Failure {
    match e.as_db_error() {
        Some(db) => Failure {
            code: Some(db.code().code().to_owned()),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            fatal: db.severity() == "FATAL",
        },
        None => Failure { code: None, message: e.to_string(), detail: None, hint: None, fatal: e.is_closed() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_rebuilt_like_postgresql_sends_them() {
        assert_eq!(tag_for("insert into t values (1)", 1, false), "INSERT 0 1");
        assert_eq!(tag_for("SELECT * FROM t", 3, true), "SELECT 3");
        assert_eq!(tag_for("WITH x AS (SELECT 1) SELECT * FROM x", 1, true), "SELECT 1");
        assert_eq!(tag_for("update t set a = 1", 2, false), "UPDATE 2");
        assert_eq!(tag_for("create unique index i on t (a)", 0, false), "CREATE INDEX");
        assert_eq!(tag_for("CREATE TABLE IF NOT EXISTS t (a int)", 0, false), "CREATE TABLE");
        assert_eq!(tag_for("begin", 0, false), "BEGIN");
    }

    #[test]
    fn copy_statements_are_recognised() {
        assert!(matches!(copy_direction("copy t from stdin"), Some(CopyDirection::In)));
        assert!(matches!(copy_direction("COPY (SELECT 1) TO STDOUT"), Some(CopyDirection::Out)));
        assert!(copy_direction("COPY t FROM '/tmp/x'").is_none());
        assert!(copy_direction("SELECT 'copy from stdin'").is_none());
        assert!(is_copy_in("-- Data for Name: t; Type: TABLE DATA\n--\nCOPY public.t (a) FROM stdin"));
    }
}
