//! Load benchmark of `dpseg serve` over loopback (`cargo bench -p dpseg-cli --bench collector_load`).
//!
//! Starts the real binary on SQLite (and on PostgreSQL when `DPSEG_TEST_POSTGRES_URL` is set),
//! then keep-alive clients send unique reports for `LOAD_SECS` seconds (default 5) at batch
//! sizes 1 and 100, printing reports/s and p50/p99 request latency. Every acknowledgement is
//! durable (SQLite `synchronous=FULL`, PostgreSQL `fsync=on`). Last, a 60-second run at batch 100
//! samples the server's resident memory every 10 seconds (`LOAD_MEMORY_SECS`, 0 to skip), and
//! 16 clients send 1 MiB bodies for `LOAD_BIG_SECS` seconds (default 10): arrays of a million
//! numbers (refused, 413) and 1,000 reports padded to 1 MiB (stored), printing the server's peak
//! resident memory. `DPSEG_BIN` runs another build of the binary (to compare before and after).
//! Target (issue 5): at least 100,000 reports/s at batch 100 on SQLite, memory flat. The
//! rate limits are off (`--request-rate 0 --reports-per-address 0 --reports-per-prefix 0`):
//! the clients are the load.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "benchmark figures"
)]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dpseg::campaign::Campaign;
use dpseg::limits::Limits;
use dpseg::privacy::coin::DeviceRandomness;
use dpseg::privacy::ledger::Secret;
use dpseg::privacy::mechanism::Slot;
use dpseg::report::encode;
use dpseg::schema::Schema;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/outdoor")
}

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `n` unique reports (JSON objects, serialised) for spring-2027 in the current epoch.
fn reports(n: usize, seed: u64) -> Vec<String> {
    let limits = Limits::default();
    let schema = Schema::from_toml(
        &std::fs::read_to_string(examples().join("schema.toml")).unwrap(),
        &limits,
    )
    .unwrap();
    let text = std::fs::read_to_string(examples().join("campaigns/spring-2027.toml")).unwrap();
    let compiled = Campaign::from_toml(&text, &limits).unwrap().compile(&schema, &limits).unwrap();
    let mech = compiled.mechanism().unwrap();
    let epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / 86_400;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mech.per_report())];
    let prf = Secret::generate(&mut rng).prf(compiled.config_id());
    let truth = vec![1u16; mech.items().len()];
    (0..n)
        .map(|_| {
            let mut r = DeviceRandomness::one_version(&mut rng, &prf);
            mech.privatize(&truth, &mut r, &mut slots);
            serde_json::to_string(&encode(
                "spring-2027",
                compiled.config_id(),
                epoch,
                mech,
                &slots,
                &mut r,
            ))
            .unwrap()
        })
        .collect()
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("dpseg-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(examples().join("campaigns/spring-2027.toml"), dir.join("spring-2027.toml"))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bin = std::env::var("DPSEG_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dpseg").to_owned());
    let child = Command::new(bin)
        .args(["serve", "--campaigns"])
        .arg(&dir)
        .arg("--schema")
        .arg(examples().join("schema.toml"))
        .args([
            "--db",
            db,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--epochs-back",
            "2",
            "--request-rate",
            "0",
            "--reports-per-address",
            "0",
            "--reports-per-prefix",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "collector did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// A keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { reader: BufReader::new(s.try_clone().unwrap()), writer: s }
    }

    /// Posts `body`; returns the status, or 0 when the server closed the connection.
    fn post(&mut self, body: &[u8]) -> u16 {
        let head = format!(
            "POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.writer.write_all(head.as_bytes()).unwrap();
        self.writer.write_all(body).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut len = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).unwrap();
        status
    }
}

/// Sends batches of `batch` from `pool` with `clients` connections for `secs`; returns
/// (reports/s, p50, p99 latency in ms).
fn run(
    port: u16,
    pool: &Arc<Vec<String>>,
    batch: usize,
    clients: usize,
    secs: u64,
    cycle: bool,
) -> (f64, f64, f64) {
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (pool, next, stop) = (pool.clone(), next.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::open(port);
                let mut latencies = Vec::new();
                let mut sent = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let mut start = next.fetch_add(batch, Ordering::Relaxed);
                    if start + batch > pool.len() {
                        if !cycle {
                            break;
                        }
                        start %= pool.len() - batch;
                    }
                    let body = format!("[{}]", pool[start..start + batch].join(","));
                    let t = Instant::now();
                    assert_eq!(conn.post(body.as_bytes()), 200);
                    latencies.push(t.elapsed().as_secs_f64() * 1e3);
                    sent += batch;
                }
                (sent, latencies)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    let mut lat = Vec::new();
    for t in threads {
        let (s, l) = t.join().unwrap();
        sent += s;
        lat.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat.get(((lat.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(f64::NAN);
    (sent as f64 / elapsed, q(0.5), q(0.99))
}

/// CPU seconds (user + system) the process has used.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// 16 clients post 1 MiB bodies for `secs` seconds; returns (requests, statuses seen, peak RSS
/// in KiB, RSS before in KiB).
fn big_bodies(server: &Server, pool: &Arc<Vec<String>>, secs: u64) -> (usize, Vec<u16>, u64, u64) {
    let mib = 1 << 20;
    // A million numbers in 1 MiB: the body a parser that builds a tree first pays most for.
    let mut numbers = String::from("[1");
    while numbers.len() < mib - 3 {
        numbers.push_str(",1");
    }
    numbers.push(']');
    // 1,000 real reports, padded with whitespace to 1 MiB.
    let mut padded = format!("[{}", pool[..1000].join(","));
    padded.push_str(&" ".repeat(mib - 1 - padded.len()));
    padded.push(']');
    let bodies = Arc::new([numbers, padded]);
    let before = rss_kib(server.child.id());
    let stop = Arc::new(AtomicBool::new(false));
    let port = server.port;
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (bodies, stop) = (bodies.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::open(port);
                let (mut n, mut statuses) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let status = conn.post(bodies[(i + n) % 2].as_bytes());
                    if !statuses.contains(&status) {
                        statuses.push(status);
                    }
                    n += 1;
                }
                (n, statuses)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let (mut requests, mut statuses) = (0, Vec::new());
    for t in threads {
        let (n, s) = t.join().unwrap();
        requests += n;
        for x in s {
            if !statuses.contains(&x) {
                statuses.push(x);
            }
        }
    }
    statuses.sort_unstable();
    (requests, statuses, status_kib(server.child.id(), "VmHWM:"), before)
}

fn main() {
    let secs = env_secs("LOAD_SECS", 5);
    let big_secs = env_secs("LOAD_BIG_SECS", 10);
    let memory_secs = env_secs("LOAD_MEMORY_SECS", 60);
    println!("generating reports...");
    let pool = Arc::new(reports(1_200_000, 1));
    let mut dbs = vec![(
        "sqlite",
        format!("sqlite:{}/dpseg-load-{}.db", std::env::temp_dir().display(), std::process::id()),
    )];
    if let Ok(pg) = std::env::var("DPSEG_TEST_POSTGRES_URL") {
        dbs.push(("postgres", pg));
    }
    if big_secs > 0 {
        let server = start(&dbs[0].1);
        let (requests, statuses, peak, before) = big_bodies(&server, &pool, big_secs);
        println!(
            "16 clients, 1 MiB bodies for {big_secs} s: {requests} requests (statuses {statuses:?}); collector RSS {} MiB before, peak {} MiB",
            before / 1024,
            peak / 1024
        );
    }
    println!(
        "| backend | batch | clients | reports/s | p50 ms | p99 ms | collector CPU |\n|---|---|---|---|---|---|---|"
    );
    for (name, db) in &dbs {
        for (batch, clients) in [(1usize, 16usize), (100, 8), (100, 32)] {
            let server = start(db);
            let cpu = cpu_secs(server.child.id());
            let (rate, p50, p99) = run(server.port, &pool, batch, clients, secs, false);
            let used = (cpu_secs(server.child.id()) - cpu) / secs as f64;
            println!("| {name} | {batch} | {clients} | {rate:.0} | {p50:.2} | {p99:.2} | {:.0}% of a core |", used * 100.0);
        }
    }
    if memory_secs > 0 {
        let server = start(&dbs[0].1);
        let pid = server.child.id();
        let sampler = std::thread::spawn(move || {
            let mut samples = Vec::new();
            for _ in 0..=memory_secs / 10 {
                samples.push(rss_kib(pid));
                std::thread::sleep(Duration::from_secs(10));
            }
            samples
        });
        let (rate, _, _) = run(server.port, &pool, 100, 8, memory_secs, true);
        let samples = sampler.join().unwrap();
        println!("\nmemory over {memory_secs} s at batch 100 (sqlite, {rate:.0} reports/s): RSS every 10 s (KiB): {samples:?}");
    }
}
