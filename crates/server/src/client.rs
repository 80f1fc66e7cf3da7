//! The client side of the CLI's maintenance commands: they reach a running
//! server over its own PostgreSQL protocol.

use std::path::Path;

use crate::ServerError;

/// Asks the server at `addr` (`host:port`) to write a backup into `output`
/// (`BACKUP TO '…'`), on the server's machine.
pub async fn backup_over_pg(addr: &str, output: &Path) -> Result<(), ServerError> {
    let (host, port) = addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_start_matches('[').trim_end_matches(']'), p.parse::<u16>().ok()?)))
        .ok_or_else(|| ServerError::Config(format!("bad server address \"{addr}\" (host:port)")))?;
    let mut config = tokio_postgres::Config::new();
    config.host(host).port(port).user("memdb").dbname("memdb");
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| ServerError::Config(format!("cannot reach the server at {addr}: {e}")))?;
    let driver = tokio::spawn(connection);
    let dir = output.to_str().ok_or_else(|| ServerError::Config("the output path is not UTF-8".into()))?;
    let sql = format!("BACKUP TO '{}'", dir.replace('\'', "''"));
    let outcome = client.batch_execute(&sql).await;
    drop(client);
    let _ = driver.await;
    outcome.map_err(|e| match e.as_db_error() {
        Some(db) => ServerError::Config(format!("the server refused the backup: {}", db.message())),
        None => ServerError::Config(format!("backup failed: {e}")),
    })
}
