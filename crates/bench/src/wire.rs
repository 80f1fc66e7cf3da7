//! Blocking PostgreSQL-protocol client for the benchmark threads: one
//! `tokio-postgres` connection driven by a current-thread runtime owned by
//! the thread, so every driver thread is one client connection doing one
//! request at a time, as YCSB's and TPC-C's client threads are.

use anyhow::{Context, Result};
use tokio::runtime::Runtime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

/// One connection, used synchronously.
pub struct PgClient {
    runtime: Runtime,
    client: Client,
}

impl PgClient {
    /// Connects to `url` (`postgres://user@host:port/db`).
    pub fn connect(url: &str) -> Result<PgClient> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let client = runtime.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(url, NoTls).await.with_context(|| format!("connecting to {url}"))?;
            tokio::spawn(async move {
                // The error surfaces on the next request; nothing to do here.
                let _ = connection.await;
            });
            anyhow::Ok(client)
        })?;
        Ok(PgClient { runtime, client })
    }

    /// Prepares `sql` on this connection.
    pub fn prepare(&self, sql: &str) -> Result<Statement> {
        self.runtime.block_on(self.client.prepare(sql)).with_context(|| format!("preparing {sql}"))
    }

    /// Runs a prepared statement and returns its rows.
    pub fn query(
        &self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.runtime.block_on(self.client.query(statement, params))
    }

    /// Runs prepared statements pipelined: every request is written before
    /// the first reply is read (one round trip for the lot, as a JDBC batch
    /// or a libpq pipeline), and the server runs them in order. Returns each
    /// statement's rows; stops at the first error.
    pub fn query_pipelined(
        &self,
        runs: &[(&Statement, Vec<&(dyn ToSql + Sync)>)],
    ) -> Result<Vec<Vec<Row>>, tokio_postgres::Error> {
        let requests = runs.iter().map(|(statement, params)| self.client.query(*statement, params));
        self.runtime.block_on(futures_util::future::try_join_all(requests))
    }

    /// Runs a prepared statement and returns the rows it affected.
    pub fn execute(&self, statement: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<u64, tokio_postgres::Error> {
        self.runtime.block_on(self.client.execute(statement, params))
    }

    /// Runs `sql` (one or more statements) through the simple protocol.
    pub fn batch(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.runtime.block_on(self.client.batch_execute(sql))
    }

    /// Runs `sql` through the simple protocol and returns the first
    /// column of the first row as text.
    pub fn scalar_text(&self, sql: &str) -> Result<Option<String>> {
        let messages = self.runtime.block_on(self.client.simple_query(sql))?;
        Ok(messages.into_iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        }))
    }
}

/// Whether a server error means "retry the transaction" (serialization
/// failure or deadlock).
pub fn is_retryable(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|c| c.code() == "40001" || c.code() == "40P01")
}
