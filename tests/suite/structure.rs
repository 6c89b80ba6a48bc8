//! The shape of the source tree, as tests: no import circle among the core's modules, and no
//! source file grows past about 500 lines (the files still over it are listed, to be split).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test fails by panicking"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/privacy/mechanism.rs` → `privacy::mechanism`; `src/campaign/mod.rs` → `campaign`.
fn module_of(file: &Path, src: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let parts: Vec<&str> =
        parts.iter().map(String::as_str).filter(|p| *p != "mod" && *p != "lib").collect();
    parts.join("::")
}

/// The modules a file imports from the crate (`crate::a::b::Item` → the longest prefix that is
/// a module), outside comments.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + 7..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
            if let Some(m) =
                (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|m| modules.contains(m))
            {
                out.insert(m);
            }
        }
    }
    out
}

#[test]
fn the_core_has_no_import_circle() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f, &src)).collect();
    let nested =
        |a: &str, b: &str| a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"));
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let m = module_of(f, &src);
        let deps = imports(&std::fs::read_to_string(f).unwrap(), &modules);
        // A module and its own submodules are one unit here (a parent re-exports its children).
        let deps = deps.into_iter().filter(|d| *d != m && !nested(d, &m)).collect();
        graph.insert(m, deps);
    }
    assert!(graph["campaign"].contains("privacy::mechanism"), "the scan sees imports: {graph:?}");
    // Depth-first search for a back edge; the circle is named.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = stack.iter().position(|s| s == m) {
            panic!("import circle: {} -> {m}", stack[i..].join(" -> "));
        }
        stack.push(m.to_owned());
        for d in graph.get(m).into_iter().flatten() {
            visit(d, graph, stack, done);
        }
        stack.pop();
        done.insert(m.to_owned());
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
}

/// No source file, Rust or the browser's JS, is over about 500 lines: a file that grows past it is
/// split by concern.
#[test]
fn no_source_file_grows_past_about_500_lines() {
    const LIMIT: usize = 520;
    let r = root();
    let mut files = Vec::new();
    for dir in ["src", "crates", "tests"] {
        rust_files(&r.join(dir), &mut files);
    }
    for js in ["crates/wasm/js", "crates/wasm/js/sdk", "www/assets"] {
        for e in std::fs::read_dir(r.join(js)).unwrap().map(Result::unwrap) {
            if e.path().extension().is_some_and(|x| x == "js") {
                files.push(e.path());
            }
        }
    }
    let mut over = Vec::new();
    for f in files.iter().filter(|f| !f.components().any(|c| c.as_os_str() == "target")) {
        let rel = f.strip_prefix(&r).unwrap().to_string_lossy().replace('\\', "/");
        let lines = std::fs::read_to_string(f).unwrap().lines().count();
        if lines > LIMIT {
            over.push(format!("{rel}: {lines} lines"));
        }
    }
    assert!(over.is_empty(), "{}", over.join("\n"));
}

/// `docs/limits.md`'s table is `Limits::default()`: every limit documented, with its default.
#[test]
fn the_limits_page_lists_every_limit_with_its_default() {
    let text = std::fs::read_to_string(root().join("docs/limits.md")).unwrap();
    let mut documented = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_owned();
        let value = cells[2].replace(',', "");
        let n: u64 = match value.split_once(' ') {
            Some((k, "MiB")) => k.parse::<u64>().unwrap() << 20,
            _ => {
                value.parse().unwrap_or_else(|_| panic!("{name}: default '{value}' is not a count"))
            }
        };
        documented.insert(name, n);
    }
    let actual: BTreeMap<String, u64> =
        match serde_json::to_value(dpseg::limits::Limits::default()).unwrap() {
            serde_json::Value::Object(m) => {
                m.into_iter().map(|(k, v)| (k, v.as_u64().unwrap())).collect()
            }
            _ => unreachable!(),
        };
    assert_eq!(documented, actual);
    // Read by name, the others defaulting; an unknown name is refused, not ignored.
    let l: dpseg::limits::Limits = serde_json::from_str(r#"{"rule_nodes_max": 4}"#).unwrap();
    assert_eq!(l.rule_nodes_max(), 4);
    assert_eq!(l.segments_max(), dpseg::limits::Limits::default().segments_max());
    assert!(serde_json::from_str::<dpseg::limits::Limits>(r#"{"rule_node_max": 4}"#).is_err());
}
