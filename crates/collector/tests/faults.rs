//! Storage faults (docs/collector.md, "Durability"): under each, every report the collector
//! acknowledged is stored exactly once, a refused batch that the client sends again is counted
//! once, and the collector recovers without a restart once the fault is gone. The databases
//! are real: an SQLite file whose "disk" is made small with `PRAGMA max_page_count`, a write
//! lock held by another connection past the busy timeout, a read-only open; a PostgreSQL server
//! whose connections are terminated and whose statements time out behind a held lock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use common::*;
use dpseg::report::Report;
use dpseg_collector::store::Store;
use serde_json::Value;
use sqlx::{Connection, Executor};

fn sqlite_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("dpseg-faults-{}-{name}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// Reports counted in the database for `campaign`, over every epoch.
async fn stored(store: &Store, campaign: &str) -> u64 {
    store
        .counters(campaign, None)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.key == "reports")
        .map(|r| r.value)
        .sum()
}

/// Posts `batch`; returns how many reports were acknowledged, or `None` for a 503.
async fn send(router: &Router, batch: &[Report]) -> Option<u64> {
    let (status, body) = call(router, post(serde_json::to_vec(batch).unwrap())).await;
    match status {
        StatusCode::OK => {
            let n = |k: &str| body[k].as_array().map_or(0, Vec::len) as u64;
            assert_eq!(n("rejected"), 0, "{body}");
            Some(n("accepted"))
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            assert_eq!(body["error"]["code"], "storage-unavailable", "{body}");
            None
        }
        other => panic!("unexpected {other}: {body}"),
    }
}

/// What sending batches into a failing store gave.
struct Filled {
    /// Reports acknowledged.
    acked: u64,
    /// The batches refused, to send again.
    refused: Vec<Vec<Report>>,
    /// Reports acknowledged after the first refusal.
    after_first_refusal: u64,
}

/// Sends batches of `size` new reports (seeds from `seed`), at most `batches`, until `refusals`
/// of them are refused.
async fn fill(router: &Router, size: usize, seed: u64, batches: u64, refusals: usize) -> Filled {
    let mut f = Filled { acked: 0, refused: Vec::new(), after_first_refusal: 0 };
    for b in 0..batches {
        let batch = reports("spring-2027", size, seed + b);
        match send(router, &batch).await {
            Some(n) => {
                f.acked += n;
                if !f.refused.is_empty() {
                    f.after_first_refusal += n;
                }
            }
            None => f.refused.push(batch),
        }
        if f.refused.len() == refusals {
            break;
        }
    }
    f
}

async fn ready(router: &Router) -> (StatusCode, Value) {
    call(router, get("/readyz", None)).await
}

#[tokio::test]
async fn sqlite_disk_full_never_acknowledges_what_it_did_not_store() {
    let path = sqlite_path("full");
    let url = format!("sqlite:{}", path.display());
    // max_page_count is per connection: every connection the pool opens takes the current
    // limit, so the "disk" stays full when the collector replaces a failed connection.
    let limit = Arc::new(AtomicI64::new(1_000_000_000));
    let hook = limit.clone();
    let pool = Store::sqlite_pool()
        .after_connect(move |conn, _| {
            let limit = hook.load(Ordering::SeqCst);
            Box::pin(async move {
                conn.execute(format!("PRAGMA max_page_count = {limit}").as_str()).await?;
                Ok(())
            })
        })
        .connect_with(Store::sqlite_options(&url).unwrap())
        .await
        .unwrap();
    let store = Store::Sqlite(pool.clone());
    store.ready().await.unwrap();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&pool).await.unwrap();
    limit.store(pages + 60, Ordering::SeqCst);
    pool.execute(format!("PRAGMA max_page_count = {}", pages + 60).as_str()).await.unwrap();
    let (router, _state) = router(store.clone(), config()).await;

    let Filled { mut acked, refused, after_first_refusal } =
        fill(&router, 50, 10_000, 2_000, 20).await;
    assert_eq!(refused.len(), 20, "the small disk never filled");
    println!("disk full: {acked} acknowledged ({after_first_refusal} after the first refusal), 20 batches refused");
    // While full: not ready, and no write transaction is left open for others.
    assert_eq!(ready(&router).await.0, StatusCode::SERVICE_UNAVAILABLE);
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    other.execute("ROLLBACK").await.unwrap();
    other.close().await.unwrap();
    // Every acknowledged report is in the file now, as another connection reads it.
    let reader = Store::open(&url).await;
    let seen_now = match reader {
        Ok(r) => {
            let n = stored(&r, "spring-2027").await;
            r.close().await;
            Some(n)
        }
        Err(_) => None, // the reader's own write check fails on the full disk
    };
    if let Some(n) = seen_now {
        assert_eq!(n, acked, "acknowledged but not stored");
    }

    // The fault goes away: room again, with no restart.
    limit.store(1_000_000_000, Ordering::SeqCst);
    pool.execute("PRAGMA max_page_count = 1000000000").await.unwrap();
    let mut retried = 0;
    for batch in &refused {
        retried += send(&router, batch).await.expect("stored once there is room");
    }
    assert_eq!(retried, 20 * 50, "a refused batch was never partly counted");
    acked += retried;
    assert_eq!(ready(&router).await.0, StatusCode::OK);
    store.close().await;
    // After a restart, every acknowledged report is there exactly once.
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(stored(&reopened, "spring-2027").await, acked);
    reopened.close().await;
}

#[tokio::test]
async fn sqlite_lock_held_past_the_busy_timeout_is_refused_then_recovers() {
    let path = sqlite_path("locked");
    let url = format!("sqlite:{}", path.display());
    let options = Store::sqlite_options(&url).unwrap().busy_timeout(Duration::from_millis(200));
    let store = Store::Sqlite(Store::sqlite_pool().connect_with(options).await.unwrap());
    store.ready().await.unwrap();
    let (router, _state) = router(store.clone(), config()).await;
    let mut acked = send(&router, &reports("spring-2027", 100, 1)).await.unwrap();
    // Another process-like connection takes the write lock and keeps it.
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();
    let blocked = reports("spring-2027", 100, 2);
    assert_eq!(send(&router, &blocked).await, None, "refused while the lock is held");
    assert_eq!(ready(&router).await.0, StatusCode::SERVICE_UNAVAILABLE);
    holder.execute("ROLLBACK").await.unwrap();
    holder.close().await.unwrap();
    acked += send(&router, &blocked).await.expect("stored once the lock is gone");
    acked += send(&router, &reports("spring-2027", 100, 3)).await.unwrap();
    assert_eq!(ready(&router).await.0, StatusCode::OK);
    store.close().await;
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(stored(&reopened, "spring-2027").await, acked);
    assert_eq!(acked, 300);
}

#[tokio::test]
async fn a_database_that_cannot_be_written_is_refused_at_start() {
    let path = sqlite_path("readonly");
    let url = format!("sqlite:{}", path.display());
    Store::open(&url).await.unwrap().close().await;
    let err = Store::open(&format!("{url}?mode=ro")).await.expect_err("read-only must be refused");
    assert!(err.to_string().contains("cannot be written"), "{err}");
}

#[tokio::test]
async fn postgres_terminated_connections_and_statement_timeouts_lose_nothing() {
    let Ok(server) = std::env::var("DPSEG_TEST_POSTGRES_URL") else {
        println!("DPSEG_TEST_POSTGRES_URL not set: PostgreSQL faults not run");
        return;
    };
    let url = urls().await.pop().unwrap();
    assert!(url.starts_with("postgres"), "{url}");
    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin = sqlx::PgPool::connect(&server).await.unwrap();
    let store = Store::open(&url).await.unwrap();
    let (router, _state) = router(store.clone(), config()).await;
    let terminate = || async {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&name)
        .execute(&admin)
        .await
        .unwrap();
    };
    let (mut acked, mut refused) = (0u64, Vec::new());
    // Connections terminated between batches: a batch on a dead connection is refused (or
    // goes through on a new one); none is acknowledged without its commit.
    for b in 0..10u64 {
        let batch = reports("spring-2027", 50, 100 + b);
        match send(&router, &batch).await {
            Some(n) => acked += n,
            None => refused.push(batch),
        }
        if b % 3 == 0 {
            terminate().await;
        }
    }
    // Statements time out behind a lock another session holds.
    sqlx::query(&format!("ALTER DATABASE {name} SET statement_timeout = 200"))
        .execute(&admin)
        .await
        .unwrap();
    terminate().await; // new connections take the setting
    let target = url.clone();
    let mut locker = sqlx::PgConnection::connect(&target).await.unwrap();
    locker.execute("BEGIN").await.unwrap();
    locker.execute("LOCK TABLE counters IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let mut timed_out = 0;
    for b in 0..4u64 {
        let batch = reports("spring-2027", 50, 200 + b);
        match send(&router, &batch).await {
            Some(n) => acked += n,
            None => {
                timed_out += 1;
                refused.push(batch);
            }
        }
    }
    assert_eq!(timed_out, 4, "every batch behind the lock times out and is refused");
    assert_eq!(ready(&router).await.0, StatusCode::SERVICE_UNAVAILABLE);
    locker.execute("ROLLBACK").await.unwrap();
    locker.close().await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} RESET statement_timeout"))
        .execute(&admin)
        .await
        .unwrap();
    terminate().await;
    for batch in &refused {
        // The first request after a termination may meet a dead connection; the client retries.
        let mut n = send(&router, batch).await;
        if n.is_none() {
            n = send(&router, batch).await;
        }
        acked += n.expect("stored once the fault is gone");
    }
    println!("postgres: {acked} acknowledged, {} batches refused and sent again", refused.len());
    store.close().await;
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(stored(&reopened, "spring-2027").await, acked);
    assert_eq!(acked, 14 * 50, "every report counted exactly once");
    reopened.close().await;
    admin.close().await;
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// `None` where mounting is not allowed (not root): the `max_page_count` test above covers
    /// the same invariant there.
    fn mount(name: &str, size: &str) -> Option<SmallDisk> {
        let dir = std::env::temp_dir().join(format!("dpseg-disk-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(dir))
    }

    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Reports counted in the file, read through a read-only connection (which writes nothing, so
/// it works on a full disk).
async fn stored_read_only(path: &std::path::Path) -> u64 {
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}?mode=ro", path.display()))
        .await
        .unwrap();
    let n: Option<i64> =
        sqlx::query_scalar("SELECT sum(value) FROM counters WHERE key = 'reports'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    c.close().await.unwrap();
    u64::try_from(n.unwrap_or(0)).unwrap()
}

#[tokio::test]
async fn a_real_full_disk_never_acknowledges_what_it_did_not_store() {
    let Some(disk) = SmallDisk::mount("full", "2m") else {
        println!("cannot mount a tmpfs here (not root): the max_page_count test covers it");
        return;
    };
    let path = disk.0.join("collector.db");
    let url = format!("sqlite:{}", path.display());
    let store = Store::open(&url).await.unwrap();
    let (router, _state) = router(store.clone(), config()).await;
    let Filled { mut acked, refused, after_first_refusal } =
        fill(&router, 100, 50_000, 4_000, 30).await;
    println!(
        "real full disk: {acked} acknowledged ({after_first_refusal} after the first refusal)"
    );
    // Before connections were discarded after a failed transaction, two batches were refused
    // and every later one acknowledged and lost: this is the assertion that caught it.
    assert_eq!(stored_read_only(&path).await, acked, "acknowledged but not stored");
    assert_eq!(refused.len(), 30, "the 2 MB disk never filled");
    assert_eq!(ready(&router).await.0, StatusCode::SERVICE_UNAVAILABLE);
    // More room, no restart: the refused batches are stored once when sent again.
    disk.resize("64m");
    for batch in &refused {
        acked += send(&router, batch).await.expect("stored once there is room");
    }
    assert_eq!(ready(&router).await.0, StatusCode::OK);
    assert_eq!(stored_read_only(&path).await, acked);
    store.close().await;
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(stored(&reopened, "spring-2027").await, acked);
    reopened.close().await;
}

/// A PostgreSQL cluster of this test's own, which it may crash (`DPSEG_TEST_PG_BIN` names the
/// binaries; the test script sets it).
struct OwnPostgres {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
    root: bool,
}

impl OwnPostgres {
    fn start() -> Option<OwnPostgres> {
        let bin = std::path::PathBuf::from(std::env::var("DPSEG_TEST_PG_BIN").ok()?);
        let dir = std::env::temp_dir().join(format!("dpseg-own-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if root {
            // initdb and postgres refuse to run as root.
            assert!(std::process::Command::new("chown")
                .arg("postgres")
                .arg(&dir)
                .status()
                .unwrap()
                .success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = OwnPostgres { bin, dir, port, root };
        pg.run("initdb", &["-D", &pg.data(), "-U", "dpseg", "--auth=trust", "-E", "UTF8"]);
        pg.start_again();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if self.root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn start_again(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-o", &opts, "start"]);
    }

    /// Kills the server as a crash would (`immediate`: no checkpoint, recovery on start).
    fn crash(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://dpseg@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        };
        let _ = cmd.args(["-D", &data, "-m", "immediate", "-w", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn postgres_killed_mid_load_and_restarted_loses_nothing() {
    let Some(pg) = OwnPostgres::start() else {
        println!("DPSEG_TEST_PG_BIN not set: the crash test needs a cluster of its own");
        return;
    };
    let store = Store::open(&pg.url()).await.unwrap();
    let (router, _state) = router(store.clone(), config()).await;
    let mut acked = 0u64;
    for b in 0..5u64 {
        acked += send(&router, &reports("spring-2027", 100, 900 + b)).await.unwrap();
    }
    pg.crash();
    let mut refused = Vec::new();
    for b in 0..2u64 {
        let batch = reports("spring-2027", 100, 950 + b);
        match send(&router, &batch).await {
            Some(n) => panic!("{n} reports acknowledged while the server was down"),
            None => refused.push(batch),
        }
    }
    assert_eq!(ready(&router).await.0, StatusCode::SERVICE_UNAVAILABLE);
    pg.start_again();
    // No restart of the collector: the pool opens new connections; a batch that meets a
    // connection broken by the crash is refused and sent again.
    for batch in &refused {
        let mut n = None;
        for _ in 0..5 {
            n = send(&router, batch).await;
            if n.is_some() {
                break;
            }
        }
        acked += n.expect("stored once the server is back");
    }
    assert_eq!(ready(&router).await.0, StatusCode::OK);
    store.close().await;
    let reopened = Store::open(&pg.url()).await.unwrap();
    let n = stored(&reopened, "spring-2027").await;
    println!("postgres crash: {acked} acknowledged, {n} stored after recovery");
    assert_eq!(n, acked);
    assert_eq!(acked, 700);
    reopened.close().await;
}
