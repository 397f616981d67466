//! Starts Azurite's blob service (the npm package `azurite`, installed by `npm install` at the repository root) on
//! a free loopback port, in memory, once per test binary. Without it the Blob tests skip with a reason, unless
//! `NIGHTSHIFT_REQUIRE_AZURITE` is set (CI), where they fail.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Azurite's published well-known development account and key: test use only.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub struct Azurite {
    /// The blob endpoint including the account, path-style.
    pub endpoint: String,
    // Closing this pipe (when the test binary exits) makes the wrapper shell kill Azurite.
    _stdin: std::process::ChildStdin,
    _shell: std::process::Child,
}

static AZURITE: OnceLock<Option<Azurite>> = OnceLock::new();

fn find_binary() -> Option<PathBuf> {
    let repo_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let local = repo_root.join("node_modules/.bin/azurite-blob");
    if local.is_file() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("azurite-blob"))
            .find(|p| p.is_file())
    })
}

/// The shared Azurite, or `None` (with the reason printed) when it is not installed and not required.
pub fn azurite() -> Option<&'static Azurite> {
    AZURITE.get_or_init(start).as_ref()
}

fn start() -> Option<Azurite> {
    let required = std::env::var_os("NIGHTSHIFT_REQUIRE_AZURITE").is_some();
    let Some(binary) = find_binary() else {
        let reason = "azurite-blob not found in node_modules/.bin or on PATH (run `npm install` at the repo root)";
        assert!(!required, "NIGHTSHIFT_REQUIRE_AZURITE is set but {reason}");
        eprintln!("SKIPPED Blob Storage tests: {reason}");
        return None;
    };
    let workdir = tempfile::tempdir().expect("temp dir");
    // The shell starts Azurite in the background and kills it when our end of its stdin closes.
    // The shell starts Azurite in the background with its output in a file (so it never writes to a closed pipe),
    // prints the URL it listens on, and kills it when our end of its stdin closes.
    let script = r#""$0" --blobHost 127.0.0.1 --blobPort 0 --inMemoryPersistence --extentMemoryLimit 256 \
        --loose --skipApiVersionCheck --disableTelemetry >azurite.log 2>&1 & pid=$!
        i=0; until grep -q 'successfully listens on' azurite.log; do
          i=$((i+1)); if [ $i -gt 900 ] || ! kill -0 $pid 2>/dev/null; then cat azurite.log >&2; exit 1; fi; sleep 0.1
        done
        grep 'successfully listens on' azurite.log; cat >/dev/null; kill $pid"#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(&binary)
        .current_dir(workdir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start azurite-blob");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("successfully listens on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let started = Instant::now();
    let url = rx
        .recv_timeout(Duration::from_secs(90))
        .unwrap_or_else(|_| panic!("Azurite did not start within {:?}", started.elapsed()));
    // Keep the directory for the whole run: Azurite may write its debug files there.
    std::mem::forget(workdir);
    eprintln!(
        "Azurite blob service at {url} (started in {:?})",
        started.elapsed()
    );
    Some(Azurite {
        endpoint: format!("{url}/{ACCOUNT}"),
        _stdin: stdin,
        _shell: child,
    })
}
