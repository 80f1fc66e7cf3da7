//! The simple and extended query protocols over a [`Session`].
//!
//! Parse binds the statement against the catalog at once (so Describe
//! knows parameter and result types without running anything, and errors
//! such as an unknown table come back from Parse, as on PostgreSQL); the
//! plan made then is reused by every Execute while the schema stays the
//! same. Replies are queued with `feed` and written with one flush at Sync
//! (or at the end of a simple Query), so a pipelined
//! Parse/Bind/Describe/Execute/Sync costs one socket write.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{BufMut, BytesMut};
use futures::{Sink, SinkExt, StreamExt};
use memdb_engine::{DataType, Value};
use memdb_sql::{CopyFormat, Notice, Outcome, OutputColumn, PreparedStatement, QueryResult, Session};
use parking_lot::Mutex;
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{CopyResponse, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::data::{DataRow, NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete, PortalSuspended, Sync as PgSync,
    TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse, NoticeResponse, ReadyForQuery};
use pgwire::messages::simplequery::Query;

use super::connection::PgConnection;
use super::error::{error_info, protocol_error, sql_error};
use super::types::{ParamType, field_description, param_type, pg_type, read_binary, write_binary, write_text};

/// A statement prepared through the extended protocol.
#[derive(Debug)]
pub struct PgStatement {
    /// The SQL text.
    pub sql: String,
    /// The session's prepared statement (its plan is refreshed in place).
    prepared: Mutex<PreparedStatement>,
    /// How each parameter is read.
    params: Vec<(ParamType, DataType)>,
    /// Result columns (empty: no rows).
    columns: Arc<[OutputColumn]>,
}

impl PgStatement {
    /// The parameter OIDs Describe reports.
    fn parameter_oids(&self) -> Vec<u32> {
        self.params
            .iter()
            .map(|(declared, ty)| match declared {
                ParamType::OneByteChar => Type::CHAR.oid(),
                _ => pg_type(ty).oid(),
            })
            .collect()
    }

    /// Decodes a Bind message's parameters.
    fn decode_params(&self, portal: &Portal<Arc<PgStatement>>) -> PgWireResult<Vec<Value>> {
        if portal.parameters.len() != self.params.len() {
            return Err(protocol_error(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
                    portal.parameters.len(),
                    portal.statement.id,
                    self.params.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(self.params.len());
        for (i, (raw, (declared, ty))) in portal.parameters.iter().zip(&self.params).enumerate() {
            let Some(raw) = raw else {
                out.push(Value::Null);
                continue;
            };
            let bad = |m: String| protocol_error("22P02", format!("invalid value for parameter ${}: {m}", i + 1));
            let value = if portal.parameter_format.is_binary(i) {
                match declared {
                    ParamType::OneByteChar => {
                        Value::Text(raw.first().map(|b| char::from(*b).to_string()).unwrap_or_default())
                    }
                    _ => read_binary(raw, ty).map_err(bad)?,
                }
            } else {
                let text =
                    std::str::from_utf8(raw).map_err(|_| bad("invalid byte sequence for encoding \"UTF8\"".into()))?;
                match declared {
                    ParamType::OneByteChar => Value::Text(text.chars().next().map(String::from).unwrap_or_default()),
                    _ if *ty == DataType::Text => Value::Text(text.to_owned()),
                    _ => Value::parse(text, ty).map_err(|e| sql_error(&e.into(), None))?,
                }
            };
            out.push(value);
        }
        Ok(out)
    }
}

/// Parses and describes statements for a connection's session.
pub struct StatementParser {
    pub(super) session: Arc<Mutex<Session>>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Arc<PgStatement>;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let declared: Vec<ParamType> =
            types.iter().map(|t| t.as_ref().map_or(ParamType::Infer, |t| param_type(t.oid()))).collect();
        let for_session = declared
            .iter()
            .map(|d| match d {
                ParamType::Known(t) => Some(t.clone()),
                ParamType::OneByteChar => Some(DataType::Text),
                ParamType::Infer => None,
            })
            .collect();
        let prepared = self.session.lock().prepare_described(sql, for_session).map_err(|e| sql_error(&e, Some(sql)))?;
        let types = prepared.parameter_types();
        let params = types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| (declared.get(i).cloned().unwrap_or(ParamType::Infer), ty))
            .collect();
        let columns = prepared.columns();
        Ok(Some(Arc::new(PgStatement { sql: sql.to_owned(), prepared: Mutex::new(prepared), params, columns })))
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        Ok(stmt.parameter_oids().into_iter().filter_map(Type::from_oid).collect())
    }

    fn get_result_schema(&self, stmt: &Self::Statement, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        Ok(field_infos(&stmt.columns, format))
    }
}

fn field_infos(columns: &[OutputColumn], format: Option<&Format>) -> Vec<FieldInfo> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let f = format.map_or(pgwire::api::results::FieldFormat::Text, |f| f.format_for(i));
            FieldInfo::from(field_description(&c.name, &c.data_type, f == pgwire::api::results::FieldFormat::Binary))
        })
        .collect()
}

fn row_description(columns: &[OutputColumn], format: Option<&Format>) -> RowDescription {
    RowDescription::new(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| field_description(&c.name, &c.data_type, format.is_some_and(|f| f.is_binary(i))))
            .collect(),
    )
}

/// Encodes one row; `binary(i)` says whether column `i` goes in binary.
fn data_row(row: &[Value], binary: &dyn Fn(usize) -> bool) -> PgWireResult<DataRow> {
    let mut data = BytesMut::with_capacity(row.len() * 12);
    for (i, v) in row.iter().enumerate() {
        if v.is_null() {
            data.put_i32(-1);
            continue;
        }
        let at = data.len();
        data.put_i32(0);
        if binary(i) {
            write_binary(v, &mut data).map_err(|m| protocol_error("54000", m))?;
        } else {
            write_text(v, &mut data);
        }
        let len = i32::try_from(data.len() - at - 4).map_err(|_| protocol_error("54000", "value too large to send"))?;
        data[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    let field_count = i16::try_from(row.len()).map_err(|_| protocol_error("54011", "too many columns"))?;
    Ok(DataRow::new(data, field_count))
}

/// Whether a result is a row set (a query, or DML with RETURNING) rather
/// than a bare command tag.
fn returns_rows(r: &QueryResult) -> bool {
    r.row_set
}

/// A statement's outcome as a pgwire response, rows in `format`;
/// `rows_tag` gives a row set's command tag.
fn outcome_response(outcome: Outcome, format: &Format, rows_tag: impl FnOnce(&QueryResult) -> String) -> Response {
    match outcome {
        Outcome::Done(r) if !returns_rows(&r) => Response::Execution(Tag::new(&r.tag)),
        Outcome::Done(r) => {
            let schema = Arc::new(field_infos(&r.columns, Some(format)));
            let rows: Vec<_> = r.rows.iter().map(|row| data_row(row, &|i| format.is_binary(i))).collect();
            let mut q = QueryResponse::new(schema, futures::stream::iter(rows));
            q.set_command_tag(&rows_tag(&r));
            Response::Query(q)
        }
        Outcome::CopyIn { columns, .. } => Response::CopyIn(CopyResponse::new(0, columns, futures::stream::empty())),
        Outcome::CopyOut { columns, data, .. } => Response::CopyOut(CopyResponse::new(
            0,
            columns,
            futures::stream::iter(data.into_iter().map(|d| Ok(CopyData::new(d.into())))),
        )),
    }
}

/// Queues a COPY TO STDOUT's data and completion.
async fn send_copy_out<C>(
    client: &mut C,
    columns: usize,
    format: CopyFormat,
    data: Vec<Vec<u8>>,
    rows: u64,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let _ = format; // text and CSV are both textual (format 0)
    let columns = i16::try_from(columns).map_err(|_| protocol_error("54011", "too many columns"))?;
    client
        .feed(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(0, columns, vec![0; columns as usize])))
        .await?;
    for chunk in data {
        client.feed(PgWireBackendMessage::CopyData(CopyData::new(chunk.into()))).await?;
    }
    client.feed(PgWireBackendMessage::CopyDone(CopyDone::new())).await?;
    client.feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(format!("COPY {rows}")))).await?;
    Ok(())
}

fn copy_in_response(columns: usize) -> PgWireResult<CopyInResponse> {
    let columns = i16::try_from(columns).map_err(|_| protocol_error("54011", "too many columns"))?;
    Ok(CopyInResponse::new(0, columns, vec![0; columns as usize]))
}

/// The NoticeResponse for a notice the session raised.
fn notice_response(notice: Notice) -> PgWireBackendMessage {
    let info = super::error::info(notice.severity.name(), notice.code, notice.message);
    PgWireBackendMessage::NoticeResponse(NoticeResponse::from(info))
}

impl PgConnection {
    /// Queues the notices the session raised (of every statement, or of
    /// those up to statement `upto` of the query) as NoticeResponse.
    async fn send_notices<C>(&self, client: &mut C, notices: &mut Vec<(usize, Notice)>, upto: usize) -> PgWireResult<()>
    where
        C: Sink<PgWireBackendMessage> + Unpin,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let due = notices.iter().take_while(|(statement, _)| *statement <= upto).count();
        for (_, notice) in notices.drain(..due) {
            client.feed(notice_response(notice)).await?;
        }
        Ok(())
    }

    /// Queues ParameterStatus for settings a SET changed.
    async fn report_settings<C>(&self, client: &mut C, tag: &str) -> PgWireResult<()>
    where
        C: Sink<PgWireBackendMessage> + Unpin,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if tag == "SET" || tag == "RESET" {
            for p in self.changed_settings() {
                client.feed(PgWireBackendMessage::ParameterStatus(p)).await?;
            }
        }
        Ok(())
    }

    /// Runs a portal's statement.
    fn run_portal(&self, portal: &Portal<Arc<PgStatement>>) -> PgWireResult<Outcome> {
        let stmt = &portal.statement.statement;
        let params = stmt.decode_params(portal)?;
        let mut prepared = stmt.prepared.lock();
        let start = std::time::Instant::now();
        let outcome = {
            let mut session = self.session.lock();
            // Executes until the next Sync share one transaction.
            session.begin_implicit();
            session.execute_prepared_outcome(&mut prepared, &params)
        };
        self.shared.metrics.statement_done(&stmt.sql, start.elapsed());
        outcome.map_err(|e| sql_error(&e, Some(&stmt.sql)))
    }
}

#[async_trait]
impl SimpleQueryHandler for PgConnection {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let results = match self.run_simple(&query.query) {
            Some(results) => results,
            None => {
                client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?;
                Vec::new()
            }
        };
        let mut notices = self.session.lock().take_notices();
        let mut copy_in = false;
        for (statement, r) in results.into_iter().enumerate() {
            // A statement's notices go before its results, as it raised
            // them while it ran.
            self.send_notices(client, &mut notices, statement).await?;
            let r = match r {
                Ok(Outcome::CopyOut { columns, format, data, rows }) => {
                    send_copy_out(client, columns, format, data, rows).await?;
                    continue;
                }
                // The simple protocol sends the whole tag (`SELECT 3`) itself.
                Ok(outcome) => outcome_response(outcome, &Format::UnifiedText, |r| r.tag.clone()),
                Err(e) => Response::Error(e),
            };
            match r {
                Response::EmptyQuery => {
                    client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?
                }
                Response::Query(mut q) => {
                    client.feed(PgWireBackendMessage::RowDescription(pgwire_row_description(&q.row_schema()))).await?;
                    let tag = q.command_tag().to_owned();
                    let rows = q.data_rows();
                    while let Some(row) = rows.next().await {
                        client.feed(PgWireBackendMessage::DataRow(row?)).await?;
                    }
                    client.feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(tag))).await?;
                }
                Response::Execution(tag) | Response::TransactionStart(tag) | Response::TransactionEnd(tag) => {
                    let complete = CommandComplete::from(tag);
                    self.report_settings(client, &complete.tag).await?;
                    client.feed(PgWireBackendMessage::CommandComplete(complete)).await?;
                }
                Response::Error(e) => client.feed(PgWireBackendMessage::ErrorResponse((*e).into())).await?,
                Response::CopyIn(c) => {
                    client.feed(PgWireBackendMessage::CopyInResponse(copy_in_response(c.columns)?)).await?;
                    copy_in = true;
                }
                Response::CopyOut(_) | Response::CopyBoth(_) => {
                    return Err(protocol_error("0A000", "COPY BOTH is not supported"));
                }
            }
        }
        self.send_notices(client, &mut notices, usize::MAX).await?;
        let status = self.transaction_status();
        client.set_transaction_status(status);
        if copy_in {
            client.set_state(PgWireConnectionState::CopyInProgress(false));
            client.flush().await?;
        } else {
            client.set_state(PgWireConnectionState::ReadyForQuery);
            client.send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status))).await?;
        }
        Ok(())
    }

    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some(results) = self.run_simple(query) else { return Ok(vec![Response::EmptyQuery]) };
        let mut responses = Vec::with_capacity(results.len());
        for result in results {
            responses.push(match result {
                Err(e) => Response::Error(e),
                // The simple protocol sends the whole tag (`SELECT 3`) itself.
                Ok(outcome) => outcome_response(outcome, &Format::UnifiedText, |r| r.tag.clone()),
            });
        }
        Ok(responses)
    }
}

impl PgConnection {
    /// Runs a simple query's statements: one outcome or error each;
    /// `None` for an empty query.
    fn run_simple(&self, query: &str) -> Option<Vec<Result<Outcome, Box<ErrorInfo>>>> {
        if query.chars().all(|c| c == ';' || c.is_whitespace()) {
            return None;
        }
        let start = std::time::Instant::now();
        let outcomes = self.session.lock().run_outcomes(query);
        self.shared.metrics.statement_done(query, start.elapsed());
        Some(outcomes.into_iter().map(|r| r.map_err(|e| Box::new(error_info(&e, Some(query))))).collect())
    }
}

fn pgwire_row_description(schema: &[FieldInfo]) -> RowDescription {
    RowDescription::new(schema.iter().map(Into::into).collect())
}

#[async_trait]
impl ExtendedQueryHandler for PgConnection {
    type Statement = Arc<PgStatement>;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // A Parse of a name already in use replaces that statement.
        // PostgreSQL refuses it (42P05), but its SQL DEALLOCATE also frees
        // protocol-level statements, which memdb's does not; drivers that
        // deallocate with SQL and prepare the same name again (pgx's
        // DeallocateAll) must keep working.
        let name = message.name.clone().unwrap_or_else(|| DEFAULT_NAME.to_owned());
        match StoredStatement::parse(client, &message, self.parser.clone()).await? {
            Some(stmt) => client.portal_store().put_statement(Arc::new(stmt)),
            None => client.portal_store().put_empty_statement(&name),
        }
        client.feed(PgWireBackendMessage::ParseComplete(ParseComplete::new())).await?;
        Ok(())
    }

    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal_name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
        match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                let portal = Portal::try_new(&message, statement)?;
                client.portal_store().put_portal(Arc::new(portal));
            }
            Some(Entry::Empty) if message.parameters.is_empty() => client.portal_store().put_empty_portal(portal_name),
            Some(Entry::Empty) => {
                return Err(protocol_error(
                    "08P01",
                    format!(
                        "bind message supplies {} parameters, but prepared statement requires 0",
                        message.parameters.len()
                    ),
                ));
            }
            None => {
                return Err(protocol_error("26000", format!("prepared statement \"{statement_name}\" does not exist")));
            }
        }
        client.feed(PgWireBackendMessage::BindComplete(BindComplete::new())).await?;
        Ok(())
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let portal_name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let max_rows = usize::try_from(message.max_rows).unwrap_or(0);
        let portal = match client.portal_store().get_portal(portal_name) {
            Some(Entry::Value(portal)) => portal,
            Some(Entry::Empty) => {
                client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?;
                return Ok(());
            }
            None => return Err(protocol_error("34000", format!("portal \"{portal_name}\" does not exist"))),
        };
        let started = !matches!(&*portal.state().lock().await, PortalExecutionState::Initial);
        if started {
            return self.fetch_suspended(client, &portal, max_rows).await;
        }
        let outcome = self.run_portal(&portal);
        let mut notices = self.session.lock().take_notices();
        self.send_notices(client, &mut notices, usize::MAX).await?;
        client.set_transaction_status(self.transaction_status());
        match outcome? {
            Outcome::Done(r) if !returns_rows(&r) => {
                self.report_settings(client, &r.tag).await?;
                client.feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(r.tag))).await?;
                *portal.state().lock().await = PortalExecutionState::Finished;
            }
            Outcome::Done(r) => {
                let format = &portal.result_column_format;
                let binary = |i: usize| format.is_binary(i);
                let total = r.rows.len();
                let mut rows = r.rows.into_iter();
                let send_now = if max_rows == 0 { total } else { max_rows.min(total) };
                for row in rows.by_ref().take(send_now) {
                    client.feed(PgWireBackendMessage::DataRow(data_row(&row, &binary)?)).await?;
                }
                if send_now < total {
                    let rest: Vec<PgWireResult<DataRow>> = rows.map(|row| data_row(&row, &binary)).collect();
                    let mut pending = QueryResponse::new(Arc::new(Vec::new()), futures::stream::iter(rest));
                    // The last fetch's tag counts the rows of that fetch,
                    // under the statement's own verb (`SELECT 2`, `INSERT
                    // 0 1`), as PostgreSQL's PortalRun reports it.
                    let verb = match r.tag.rsplit_once(' ') {
                        Some((verb, count)) if count.bytes().all(|b| b.is_ascii_digit()) => verb,
                        _ => r.tag.as_str(),
                    };
                    pending.set_command_tag(verb);
                    portal.start(pending).await;
                    client.feed(PgWireBackendMessage::PortalSuspended(PortalSuspended::new())).await?;
                } else {
                    let tag = if r.tag.starts_with("SELECT") { format!("SELECT {total}") } else { r.tag };
                    client.feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(tag))).await?;
                    *portal.state().lock().await = PortalExecutionState::Finished;
                }
            }
            Outcome::CopyIn { columns, .. } => {
                client.feed(PgWireBackendMessage::CopyInResponse(copy_in_response(columns)?)).await?;
                client.flush().await?;
                client.set_state(PgWireConnectionState::CopyInProgress(true));
            }
            Outcome::CopyOut { columns, format, data, rows } => {
                send_copy_out(client, columns, format, data, rows).await?;
            }
        }
        Ok(())
    }

    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => match client.portal_store().get_statement(name) {
                Some(Entry::Value(stmt)) => {
                    let s = &stmt.statement;
                    client
                        .feed(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(s.parameter_oids())))
                        .await?;
                    if s.columns.is_empty() {
                        client.feed(PgWireBackendMessage::NoData(NoData::new())).await?;
                    } else {
                        client.feed(PgWireBackendMessage::RowDescription(row_description(&s.columns, None))).await?;
                    }
                }
                Some(Entry::Empty) => {
                    client
                        .feed(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(Vec::new())))
                        .await?;
                    client.feed(PgWireBackendMessage::NoData(NoData::new())).await?;
                }
                None => return Err(protocol_error("26000", format!("prepared statement \"{name}\" does not exist"))),
            },
            TARGET_TYPE_BYTE_PORTAL => match client.portal_store().get_portal(name) {
                Some(Entry::Value(portal)) => {
                    let columns = &portal.statement.statement.columns;
                    if columns.is_empty() {
                        client.feed(PgWireBackendMessage::NoData(NoData::new())).await?;
                    } else {
                        let rd = row_description(columns, Some(&portal.result_column_format));
                        client.feed(PgWireBackendMessage::RowDescription(rd)).await?;
                    }
                }
                Some(Entry::Empty) => client.feed(PgWireBackendMessage::NoData(NoData::new())).await?,
                None => return Err(protocol_error("34000", format!("portal \"{name}\" does not exist"))),
            },
            other => return Err(PgWireError::InvalidTargetType(other)),
        }
        Ok(())
    }

    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.portal_store().rm_portal(DEFAULT_NAME);
        // Sync commits what the Executes since the last one did together.
        let committed = self.session.lock().end_implicit();
        if let Err(e) = committed {
            client.feed(PgWireBackendMessage::ErrorResponse(error_info(&e, None).into())).await?;
        }
        let status = self.transaction_status();
        client.set_transaction_status(status);
        client.set_state(PgWireConnectionState::ReadyForQuery);
        // Buffered, not flushed: the connection loop flushes once no whole
        // message is waiting, so a pipeline of Bind/Execute/Sync groups is
        // answered with one write instead of one per Sync.
        client.feed(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status))).await?;
        Ok(())
    }

    async fn on_close<C>(&self, client: &mut C, message: Close) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => client.portal_store().rm_statement(name),
            TARGET_TYPE_BYTE_PORTAL => client.portal_store().rm_portal(name),
            other => return Err(PgWireError::InvalidTargetType(other)),
        }
        client.feed(PgWireBackendMessage::CloseComplete(CloseComplete::new())).await?;
        Ok(())
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // pgwire's Execute appends the row count to the tag.
        let outcome = self.run_portal(portal)?;
        Ok(outcome_response(outcome, &portal.result_column_format, |_| "SELECT".to_owned()))
    }
}

impl PgConnection {
    /// Execute on a suspended portal: the next `max_rows` rows.
    async fn fetch_suspended<C>(
        &self,
        client: &mut C,
        portal: &Portal<Arc<PgStatement>>,
        max_rows: usize,
    ) -> PgWireResult<()>
    where
        C: Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let fetched = portal.fetch(max_rows).await?;
        let mut response = fetched.response;
        let tag = response.command_tag().to_owned();
        let mut count = 0usize;
        while let Some(row) = response.data_rows().next().await {
            client.feed(PgWireBackendMessage::DataRow(row?)).await?;
            count += 1;
        }
        if fetched.suspended {
            client.feed(PgWireBackendMessage::PortalSuspended(PortalSuspended::new())).await?;
        } else {
            let tag = if tag.is_empty() { format!("SELECT {count}") } else { format!("{tag} {count}") };
            client.feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(tag))).await?;
        }
        Ok(())
    }
}
