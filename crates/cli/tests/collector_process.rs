//! The real `dpseg serve` binary: crash safety under SIGKILL, and several collectors sharing one
//! PostgreSQL database. Runs on SQLite always and on PostgreSQL when `DPSEG_TEST_POSTGRES_URL`
//! names a server (the test script starts one).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dpseg::campaign::Campaign;
use dpseg::estimate::{estimates, Tally};
use dpseg::limits::Limits;
use dpseg::privacy::coin::DeviceRandomness;
use dpseg::privacy::ledger::Secret;
use dpseg::privacy::mechanism::Slot;
use dpseg::report::{encode, Report};
use dpseg::schema::Schema;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{json, Value};

const TOKEN: &str = "process-test-token";

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/outdoor")
}

static N: AtomicU64 = AtomicU64::new(0);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dpseg-proc-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Fresh databases: a SQLite file, and a new PostgreSQL database when configured.
fn databases(name: &str) -> Vec<String> {
    let mut dbs = vec![format!("sqlite:{}", scratch(name).join("collector.db").display())];
    if let Ok(server) = std::env::var("DPSEG_TEST_POSTGRES_URL") {
        let db = format!("dpseg_proc_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let psql = |sql: &str| {
            let ok = Command::new("psql")
                .args([server.as_str(), "-q", "-c", sql])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "psql {sql}");
        };
        psql(&format!("DROP DATABASE IF EXISTS {db}"));
        psql(&format!("CREATE DATABASE {db}"));
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        dbs.push(format!("{base}/{db}"));
    }
    dbs
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(db: &str, campaigns: &Path) -> Server {
        // The test's clients are the load, from one address.
        let unlimited =
            ["--reports-per-address", "0", "--reports-per-prefix", "0", "--request-rate", "0"];
        let (child, port) = serve(db, campaigns, &unlimited, Stdio::null());
        Server { child, port }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 exchange; `None` when the connection fails.
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    token: Option<&str>,
) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let body = body.unwrap_or(b"");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Some((status, json))
}

/// Starts `dpseg serve` on `db` with extra arguments, and waits (with a deadline) until it
/// answers `/healthz`; its stderr goes to `stderr`.
fn serve(db: &str, campaigns: &Path, extra: &[&str], stderr: Stdio) -> (Child, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_dpseg"))
        .args(["serve", "--campaigns"])
        .arg(campaigns)
        .arg("--schema")
        .arg(examples().join("schema.toml"))
        .args(["--db", db, "--listen", &format!("127.0.0.1:{port}"), "--token", TOKEN])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(port, "GET", "/healthz", None, None).map(|(s, _)| s) != Some(200) {
        assert!(Instant::now() < deadline, "collector did not start on {db}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

fn campaigns_dir() -> PathBuf {
    let dir = scratch("campaigns");
    std::fs::copy(examples().join("campaigns/spring-2027.toml"), dir.join("spring-2027.toml"))
        .unwrap();
    dir
}

/// `n` reports of fresh devices for spring-2027 in the current epoch, and their tally.
fn reports(n: usize, seed: u64) -> (Vec<Report>, Tally, dpseg::privacy::mechanism::Mechanism) {
    let limits = Limits::default();
    let schema = Schema::from_toml(
        &std::fs::read_to_string(examples().join("schema.toml")).unwrap(),
        &limits,
    )
    .unwrap();
    let text = std::fs::read_to_string(examples().join("campaigns/spring-2027.toml")).unwrap();
    let compiled = Campaign::from_toml(&text, &limits).unwrap().compile(&schema, &limits).unwrap();
    let mech = compiled.mechanism().unwrap().clone();
    let epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / 86_400;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut tally = Tally::new(&mech);
    let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mech.per_report())];
    let out = (0..n)
        .map(|i| {
            let truth: Vec<u16> =
                (0..mech.items().len()).map(|k| u16::from((i + k) % 3 == 0)).collect();
            let prf = Secret::generate(&mut rng).prf(compiled.config_id());
            let mut r = DeviceRandomness::one_version(&mut rng, &prf);
            mech.privatize(&truth, &mut r, &mut slots);
            tally.add(&mech, &slots);
            encode("spring-2027", compiled.config_id(), epoch, &mech, &slots, &mut r)
        })
        .collect();
    (out, tally, mech)
}

/// The server's estimates of the current epoch, and the core's over `tally`.
fn compare(port: u16, tally: &Tally, mech: &dpseg::privacy::mechanism::Mechanism) {
    let (status, body) =
        http(port, "GET", "/v1/campaigns/spring-2027/estimates", None, Some(TOKEN)).unwrap();
    assert_eq!(status, 200, "{body}");
    let epoch = &body["epochs"][0];
    assert_eq!(epoch["reports"], json!(tally.reports()), "every report counted exactly once");
    let want = estimates(mech, tally);
    assert_eq!(epoch["segments"]["hikers"], serde_json::to_value(want[0][0]).unwrap());
    assert_eq!(epoch["segments"]["dach_hikers"], serde_json::to_value(want[7][0]).unwrap());
    assert_eq!(epoch["groups"]["experience"]["expert"], serde_json::to_value(want[9][2]).unwrap());
}

#[test]
fn acknowledged_reports_survive_sigkill_and_count_once() {
    for db in databases("crash") {
        let campaigns = campaigns_dir();
        let (all, tally, mech) = reports(6_000, 1);
        let batches: Vec<Vec<u8>> =
            all.chunks(50).map(|c| serde_json::to_vec(c).unwrap()).collect();
        let server = Server::start(&db, &campaigns);
        let port = server.port;
        let acked = Arc::new(Mutex::new(vec![false; batches.len()]));
        let next = Arc::new(AtomicU64::new(0));
        let batches = Arc::new(batches);
        // Four clients send concurrently until the server dies.
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let (acked, next, batches) = (acked.clone(), next.clone(), batches.clone());
                std::thread::spawn(move || loop {
                    let i = usize::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap();
                    let Some(b) = batches.get(i) else { return };
                    match http(port, "POST", "/v1/reports", Some(b), None) {
                        Some((200, _)) => acked.lock().unwrap()[i] = true,
                        _ => return,
                    }
                })
            })
            .collect();
        // Kill mid-load: once a third of the batches are acknowledged.
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().iter().filter(|&&a| a).count() < batches.len() / 3 {
            assert!(Instant::now() < deadline, "{db}: load did not progress");
            std::thread::sleep(Duration::from_millis(2));
        }
        server.kill();
        for c in clients {
            c.join().unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        let done = acked.iter().filter(|&&a| a).count();
        assert!(done < batches.len(), "{db}: the kill came too late to test anything");
        // Restart; re-send every unacknowledged batch and every third acknowledged one.
        let server = Server::start(&db, &campaigns);
        for (i, b) in batches.iter().enumerate() {
            if !acked[i] || i % 3 == 0 {
                let (status, body) =
                    http(server.port, "POST", "/v1/reports", Some(b), None).unwrap();
                assert_eq!(status, 200, "{db}: {body}");
                if acked[i] {
                    assert_eq!(
                        body["duplicate"].as_array().unwrap().len(),
                        50,
                        "{db}: an acknowledged batch was lost"
                    );
                }
            }
        }
        compare(server.port, &tally, &mech);
    }
}

#[test]
fn two_collectors_on_one_database_equal_one() {
    let Some(db) = databases("shared").into_iter().find(|d| d.starts_with("postgres")) else {
        eprintln!("DPSEG_TEST_POSTGRES_URL is not set: two collectors need PostgreSQL; run ./scripts/test.sh");
        return;
    };
    let campaigns = campaigns_dir();
    let (all, tally, mech) = reports(4_000, 2);
    let (a, b) = (Server::start(&db, &campaigns), Server::start(&db, &campaigns));
    let halves: Vec<(u16, Vec<Report>)> =
        vec![(a.port, all[..2_000].to_vec()), (b.port, all[2_000..].to_vec())];
    let threads: Vec<_> = halves
        .into_iter()
        .map(|(port, half)| {
            std::thread::spawn(move || {
                for chunk in half.chunks(100) {
                    let (status, body) = http(
                        port,
                        "POST",
                        "/v1/reports",
                        Some(&serde_json::to_vec(chunk).unwrap()),
                        None,
                    )
                    .unwrap();
                    assert_eq!(status, 200, "{body}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Both collectors read the same counts, equal to one process's over the whole set.
    compare(a.port, &tally, &mech);
    compare(b.port, &tally, &mech);
}

#[test]
fn sigterm_stops_gracefully_and_the_log_holds_nothing_about_clients() {
    let db = format!("sqlite:{}", scratch("log").join("c.db").display());
    let (mut child, port) = serve(&db, &campaigns_dir(), &[], Stdio::piped());
    let (good, _, _) = reports(3, 4);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = serde_json::to_vec(&json!([good[0], {"v": 1, "campaign": "x"}])).unwrap();
    let head = format!(
        "POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: SecretBrowser/9.9\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let client = s.local_addr().unwrap().to_string();
    let ok =
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success();
    assert!(ok);
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(log.contains("stopped"), "{log}");
    for secret in ["SecretBrowser", good[0].nonce.as_str(), client.as_str()] {
        assert!(!log.contains(secret), "the log holds '{secret}': {log}");
    }
}

/// A collector started with extra arguments; `admin` is its operator port when asked for.
struct Bounded {
    child: Child,
    port: u16,
    admin: u16,
}

impl Bounded {
    fn start(extra: &[&str]) -> Bounded {
        let db = format!("sqlite:{}", scratch("bounded").join("c.db").display());
        let admin = free_port();
        let listen = format!("127.0.0.1:{admin}");
        let args: Vec<&str> =
            ["--admin-listen", listen.as_str()].into_iter().chain(extra.iter().copied()).collect();
        let (child, port) = serve(&db, &campaigns_dir(), &args, Stdio::null());
        Bounded { child, port, admin }
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the server closes `s` (read returns 0 or an error), at most `within`; returns
/// how long it took, or `None` if it stayed open.
fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {} // a response (408, 400) before closing
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            Err(_) => return Some(started.elapsed()),
        }
        if started.elapsed() > within {
            return None;
        }
    }
}

#[test]
fn slow_and_idle_connections_are_closed_at_their_deadlines() {
    let c = Bounded::start(&["--header-timeout", "1", "--body-timeout", "1"]);
    // Headers one byte at a time, never finished: closed at the header deadline.
    let mut slow = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
    slow.write_all(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\n").unwrap();
    let took =
        closed_within(&mut slow, Duration::from_secs(10)).expect("a slow header stayed open");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A body that never arrives in full: closed at the body deadline.
    let mut body = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
    body.write_all(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[").unwrap();
    let took = closed_within(&mut body, Duration::from_secs(10)).expect("a slow body stayed open");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // An idle keep-alive connection after a complete request: closed at the header deadline.
    let mut idle = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let took =
        closed_within(&mut idle, Duration::from_secs(10)).expect("an idle connection stayed open");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn open_connections_are_capped_and_the_operator_listener_still_answers() {
    let c = Bounded::start(&["--max-connections", "8", "--header-timeout", "60"]);
    // Eight idle connections take every slot of the public listener.
    let held: Vec<TcpStream> =
        (0..8).map(|_| TcpStream::connect(("127.0.0.1", c.port)).unwrap()).collect();
    // Wait until the server has accepted them all: a ninth request is not answered.
    let mut ninth = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
    ninth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    ninth.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut buf = [0u8; 12];
    assert!(ninth.read(&mut buf).is_err(), "a ninth connection was served past the cap");
    // The operator's listener is not starved.
    assert_eq!(http(c.admin, "GET", "/healthz", None, None).map(|(s, _)| s), Some(200));
    assert_eq!(http(c.admin, "GET", "/readyz", None, None).map(|(s, _)| s), Some(200));
    // One slot frees: the waiting request is served.
    drop(held);
    ninth.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    ninth.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
}

#[test]
fn metrics_are_the_operators_not_the_publics() {
    let c = Bounded::start(&[]);
    let (status, _) = http(c.port, "GET", "/metrics", None, None).unwrap();
    assert_eq!(status, 404, "the public listener does not serve /metrics with --admin-listen");
    let mut s = TcpStream::connect(("127.0.0.1", c.admin)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("dpseg_reports_accepted_total"), "{text}");
    assert_eq!(
        http(c.admin, "POST", "/v1/reports", Some(b"[]".as_slice()), None).map(|(s, _)| s),
        Some(404)
    );
}

#[test]
fn sigterm_waits_for_a_slow_client_no_longer_than_the_deadline() {
    let mut c = Bounded::start(&["--shutdown-deadline", "1", "--header-timeout", "60"]);
    let mut slow = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
    slow.write_all(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\n").unwrap();
    // The connection is accepted (the server answers others) before the signal.
    assert_eq!(http(c.port, "GET", "/healthz", None, None).map(|(s, _)| s), Some(200));
    let started = Instant::now();
    let ok = Command::new("kill").args(["-TERM", &c.child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let status = c.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "SIGTERM waited {took:?} for a slow client");
}

#[test]
fn tokens_come_from_a_file() {
    let file = scratch("tokens").join("tokens");
    std::fs::write(&file, "# the dashboard's tokens\nfile-token-1\n\n  file-token-2  \n").unwrap();
    let c = Bounded::start(&["--token-file", file.to_str().unwrap()]);
    let estimates = "/v1/campaigns/spring-2027/estimates";
    for t in ["file-token-1", "file-token-2"] {
        assert_eq!(http(c.port, "GET", estimates, None, Some(t)).map(|(s, _)| s), Some(200), "{t}");
    }
    assert_eq!(
        http(c.port, "GET", estimates, None, Some("# the dashboard's tokens")).map(|(s, _)| s),
        Some(401)
    );
}
