//! Storage: aggregate counters and recent nonces, in SQLite (one file, WAL, `synchronous=FULL`)
//! or PostgreSQL (many collectors on one database). Both backends run the same statements in
//! one transaction per batch; migrations are numbered SQL files in `migrations/<backend>/`, run by
//! `sqlx::migrate!`.
//!
//! What is stored (and nothing else): per (campaign, config_id, epoch, key) a counter, and per
//! accepted report its campaign, nonce and epoch until the epoch leaves the acceptance window.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

/// A nonce to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRow<'a> {
    /// Campaign id.
    pub campaign: &'a str,
    /// The report's nonce.
    pub nonce: [u8; 16],
    /// The report's epoch.
    pub epoch: u64,
}

/// An increment of one counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterDelta {
    /// Campaign id.
    pub campaign: String,
    /// Configuration the reports were made for.
    pub config_id: String,
    /// Epoch.
    pub epoch: u64,
    /// Counter name.
    pub key: String,
    /// Amount to add.
    pub delta: u64,
}

/// A stored counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRow {
    /// Configuration.
    pub config_id: String,
    /// Epoch.
    pub epoch: u64,
    /// Counter name.
    pub key: String,
    /// Value.
    pub value: u64,
}

/// A storage failure. Its message is for the operator's log, never for clients.
#[derive(Debug)]
pub struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError(e.to_string())
    }
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError(format!("{n} does not fit a 64-bit signed column")))
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The database.
#[derive(Debug, Clone)]
pub enum Store {
    /// An embedded SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL server.
    Postgres(PgPool),
}

/// Rows per multi-row statement (well under both databases' limits on bound parameters).
const ROWS_PER_STATEMENT: usize = 1000;

/// The schema's migrations, embedded at build time; `sqlx` records each applied one with its
/// checksum in `_sqlx_migrations` and refuses a database whose applied migrations were changed.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens `sqlite:PATH` (created if missing) or `postgres://...`, migrates it and checks
    /// that a write commits ([`Store::probe_write`]).
    ///
    /// # Errors
    /// When the URL is of neither kind, or the database cannot be opened, migrated or written.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = if url.starts_with("sqlite:") {
            Store::Sqlite(Store::sqlite_pool().connect_with(Store::sqlite_options(url)?).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // A batch waits at most 5 s for a connection (the server down or restarting), then
            // is refused with 503 for the client to send again, rather than holding the request.
            Store::Postgres(
                PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await?,
            )
        } else {
            return Err(StoreError(format!(
                "'{url}' is not a database URL; use sqlite:PATH or postgres://..."
            )));
        };
        store.ready().await?;
        Ok(store)
    }

    /// Migrates the store and checks that a write commits: what [`Store::open`] does after
    /// connecting, for stores built from their own pool (fault tests).
    ///
    /// # Errors
    /// When the database cannot be migrated or written.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.migrate().await?;
        self.probe_write()
            .await
            .map_err(|e| StoreError(format!("the database cannot be written: {}", e.0)))
    }

    /// The pool the collector uses for SQLite. One connection: SQLite writes one transaction
    /// at a time anyway, and a single connection keeps the B-tree pages in one warm cache
    /// instead of four cold ones.
    pub fn sqlite_pool() -> SqlitePoolOptions {
        SqlitePoolOptions::new().max_connections(1)
    }

    /// The connection options the collector uses for `sqlite:PATH`.
    ///
    /// # Errors
    /// When the URL does not parse.
    pub fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
        Ok(SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .page_size(1024)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            // Checkpoint less often: each commit dirties many random pages of the nonces.
            .pragma("wal_autocheckpoint", "40000")
            // Keep the nonce B-tree's pages in SQLite's own cache (32 MiB per connection,
            // used by the writer): without it every lookup is a read syscall, and a large
            // commit spills dirty pages to the WAL before it ends.
            .pragma("cache_size", "-32768")
            // The statement journal of multi-row upserts, in memory rather than a temp file.
            .pragma("temp_store", "memory"))
    }

    /// Commits one write to the probe row: proof that writes reach the database now. On
    /// failure the connection is discarded, as after a failed batch.
    ///
    /// # Errors
    /// When the write or its commit fails.
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        let at = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
        .unwrap_or(0);
        macro_rules! probe {
            ($pool:expr, $sql:literal) => {{
                let mut conn = $pool.acquire().await?;
                let result: Result<(), StoreError> = async {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    sqlx::query($sql).bind(at).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(())
                }
                .await;
                if result.is_err() {
                    discard(conn).await;
                }
                result
            }};
        }
        match self {
            Store::Sqlite(pool) => probe!(
                pool,
                "INSERT INTO dpseg_probe (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = excluded.at"
            ),
            Store::Postgres(pool) => probe!(
                pool,
                "INSERT INTO dpseg_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at"
            ),
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // Each migration runs in its own transaction; on PostgreSQL sqlx holds an advisory lock
        // meanwhile, so collectors that start together do not migrate twice.
        match self {
            Store::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Store::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .map_err(|e| StoreError(format!("migrating the database failed: {e}")))
    }

    /// In one transaction: records every nonce not seen before, then adds the counters that
    /// `deltas` computes from which nonces were new (`true` = new). Returns those flags. When it
    /// returns, the increments are durable. A nonce repeated within `nonces` is new only once.
    ///
    /// # Errors
    /// On a database failure; nothing is then recorded.
    pub async fn ingest(
        &self,
        nonces: &[NonceRow<'_>],
        deltas: impl FnOnce(&[bool]) -> Vec<CounterDelta>,
    ) -> Result<Vec<bool>, StoreError> {
        // Within the batch, only the first occurrence of a nonce can be new.
        let mut first = std::collections::HashSet::with_capacity(nonces.len());
        let unique: Vec<bool> =
            nonces.iter().map(|n| first.insert((n.campaign, n.nonce))).collect();
        let candidates: Vec<&NonceRow<'_>> =
            nonces.iter().zip(&unique).filter(|(_, &u)| u).map(|(n, _)| n).collect();
        macro_rules! run {
            ($pool:expr, $db:ty) => {{
                let mut conn = $pool.acquire().await?;
                let result: Result<Vec<bool>, StoreError> = async {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let mut inserted = std::collections::HashSet::with_capacity(candidates.len());
                for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO nonces (campaign, nonce, epoch) ");
                    let mut bad = None;
                    q.push_values(chunk, |mut b, n| {
                        let epoch = to_i64(n.epoch).map_err(|e| bad = Some(e)).unwrap_or(0);
                        b.push_bind(n.campaign).push_bind(&n.nonce[..]).push_bind(epoch);
                    });
                    if let Some(e) = bad {
                        return Err(e);
                    }
                    q.push(" ON CONFLICT DO NOTHING RETURNING campaign, nonce");
                    for row in q.build().fetch_all(&mut *tx).await? {
                        inserted.insert((row.get::<String, _>(0), row.get::<Vec<u8>, _>(1)));
                    }
                }
                let fresh: Vec<bool> = nonces
                    .iter()
                    .zip(&unique)
                    .map(|(n, &u)| u && inserted.contains(&(n.campaign.to_owned(), n.nonce.to_vec())))
                    .collect();
                let mut deltas = deltas(&fresh);
                // A fixed order of row locks keeps concurrent collectors from deadlocking.
                deltas.sort_by(|a, b| (&a.campaign, &a.config_id, a.epoch, &a.key).cmp(&(&b.campaign, &b.config_id, b.epoch, &b.key)));
                for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO counters (campaign, config_id, epoch, key, value) ");
                    let mut bad = None;
                    q.push_values(chunk, |mut b, d| {
                        let epoch = to_i64(d.epoch).map_err(|e| bad = Some(e)).unwrap_or(0);
                        let delta = to_i64(d.delta).map_err(|e| bad = Some(e)).unwrap_or(0);
                        b.push_bind(&d.campaign).push_bind(&d.config_id).push_bind(epoch).push_bind(&d.key).push_bind(delta);
                    });
                    if let Some(e) = bad {
                        return Err(e);
                    }
                    q.push(" ON CONFLICT (campaign, config_id, epoch, key) DO UPDATE SET value = counters.value + excluded.value");
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(fresh)
                }
                .await;
                if result.is_err() {
                    discard(conn).await;
                }
                result
            }};
        }
        match self {
            Store::Sqlite(pool) => run!(pool, sqlx::Sqlite),
            Store::Postgres(pool) => run!(pool, sqlx::Postgres),
        }
    }

    /// The counters of `campaign`, for one epoch or all.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn counters(
        &self,
        campaign: &str,
        epoch: Option<u64>,
    ) -> Result<Vec<CounterRow>, StoreError> {
        let epoch = epoch.map(to_i64).transpose()?;
        macro_rules! fetch {
            ($pool:expr, $sql:literal) => {
                sqlx::query($sql)
                    .bind(campaign)
                    .bind(epoch)
                    .fetch_all($pool)
                    .await?
                    .into_iter()
                    .map(|r| {
                        (
                            r.get::<String, _>(0),
                            r.get::<i64, _>(1),
                            r.get::<String, _>(2),
                            r.get::<i64, _>(3),
                        )
                    })
                    .collect::<Vec<_>>()
            };
        }
        let rows = match self {
            Store::Sqlite(pool) => fetch!(
                pool,
                "SELECT config_id, epoch, key, value FROM counters WHERE campaign = ?1 AND (?2 IS NULL OR epoch = ?2)"
            ),
            Store::Postgres(pool) => fetch!(
                pool,
                "SELECT config_id, epoch, key, value FROM counters WHERE campaign = $1 AND ($2::BIGINT IS NULL OR epoch = $2)"
            ),
        };
        Ok(rows
            .into_iter()
            .map(|(config_id, epoch, key, value)| CounterRow {
                config_id,
                epoch: to_u64(epoch),
                key,
                value: to_u64(value),
            })
            .collect())
    }

    /// Deletes nonces of `campaign` from epochs before `epoch`; returns how many.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn prune_nonces(&self, campaign: &str, epoch: u64) -> Result<u64, StoreError> {
        let epoch = to_i64(epoch)?;
        macro_rules! delete {
            ($pool:expr, $sql:literal) => {
                sqlx::query($sql).bind(campaign).bind(epoch).execute($pool).await?.rows_affected()
            };
        }
        let r = match self {
            Store::Sqlite(pool) => {
                delete!(pool, "DELETE FROM nonces WHERE campaign = ?1 AND epoch < ?2")
            }
            Store::Postgres(pool) => {
                delete!(pool, "DELETE FROM nonces WHERE campaign = $1 AND epoch < $2")
            }
        };
        Ok(r)
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop)?,
            Store::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop)?,
        }
        Ok(())
    }

    /// Closes every connection (after in-flight work).
    pub async fn close(&self) {
        match self {
            Store::Sqlite(pool) => pool.close().await,
            Store::Postgres(pool) => pool.close().await,
        }
    }
}

/// Closes a connection whose transaction failed instead of returning it to the pool. After
/// `SQLITE_FULL` and some I/O errors SQLite rolls the transaction back by itself, and a dropped
/// transaction's `ROLLBACK` can fail: the driver may then believe a transaction is still open
/// and turn the next batch's `BEGIN` into a savepoint inside a transaction that never commits,
/// acknowledging reports that are never stored. A fresh connection starts clean, whatever the
/// driver believed; PostgreSQL connections that a server restart or `pg_terminate_backend`
/// broke are replaced the same way.
async fn discard<DB: sqlx::Database>(conn: sqlx::pool::PoolConnection<DB>) {
    let _ = conn.close().await;
}
