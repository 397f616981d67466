//! The CLI as a person runs it: `nightshift` processes (serve, up, release, ...) on a temporary state directory
//! and catalog, with the journal read back through the same adapters. HTTP only on free loopback ports.

use crate::helpers::{nightshift_bin, repo_root};
use nightshift_app::{App, Settings};
use nightshift_core::run::Run;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct CliEnv {
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
    pub env: BTreeMap<String, String>,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliEnv {
    pub fn new(catalog: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let catalog_dir = dir.path().join("catalog");
        std::fs::create_dir_all(&catalog_dir).unwrap();
        std::fs::write(
            catalog_dir.join("test.yaml"),
            catalog.replace("$TMP", &dir.path().display().to_string()),
        )
        .unwrap();
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("NIGHTSHIFT_STATE_DIR", state.display().to_string()),
            ("NIGHTSHIFT_CATALOG", catalog_dir.display().to_string()),
            ("NIGHTSHIFT_REPO_ROOT", repo_root().display().to_string()),
            ("NIGHTSHIFT_RUNNER", format!("{} runner", nightshift_bin())),
            // The shell steps of these catalogs need no Ansible: nothing is installed.
            ("NIGHTSHIFT_ANSIBLE_PLAYBOOK", "/bin/true".to_string()),
            ("NIGHTSHIFT_WATCHDOG_REDISPATCH_SECS", "3".to_string()),
            ("NIGHTSHIFT_WATCHDOG_RESULT_GRACE_SECS", "2".to_string()),
        ] {
            env.insert(k.to_string(), v);
        }
        Self { dir, state, env }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(nightshift_bin());
        c.args(args)
            .current_dir(repo_root())
            .env_remove("NIGHTSHIFT_MODE")
            .envs(&self.env);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// `nightshift serve --port 0`, its output in `serve-<n>.log`; returns once it published its port.
    pub fn serve(&self, n: usize) -> Child {
        let log = std::fs::File::create(self.dir.path().join(format!("serve-{n}.log"))).unwrap();
        let child = self
            .command(&["serve", "--port", "0"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.state.join("serve.json").exists() {
            assert!(
                Instant::now() < deadline,
                "serve did not start: {}",
                self.serve_log(n)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    pub fn serve_log(&self, n: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("serve-{n}.log"))).unwrap_or_default()
    }

    pub fn app(&self) -> App {
        let settings =
            Settings::from_lookup(|k| self.env.get(k).cloned().or_else(|| std::env::var(k).ok()))
                .unwrap()
                .absolutize();
        App::new(nightshift_app::wiring::local(&settings), settings)
    }

    pub async fn runs(&self) -> Vec<Run> {
        self.app().repo.runs().await.unwrap()
    }

    /// Waits until `n` runs exist and all are finished, their bookkeeping done.
    pub async fn finished_runs(&self, n: usize, timeout: Duration) -> Vec<Run> {
        let deadline = Instant::now() + timeout;
        loop {
            let app = self.app();
            let runs = app.repo.runs().await.unwrap();
            if runs.len() >= n && runs.iter().all(|r| r.status.is_finished()) {
                let mut done = true;
                for r in &runs {
                    done &= crate::helpers::bookkept(&app.repo, r).await;
                }
                if done {
                    return runs;
                }
            }
            assert!(
                Instant::now() < deadline,
                "runs did not finish: {:#?}",
                runs.iter().map(|r| (&r.id, r.status)).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// How many times a runner started in each job (from the job logs).
    pub fn runner_starts(&self) -> BTreeMap<String, usize> {
        let dir = self.state.join("jobs");
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| {
                        let log = std::fs::read_to_string(e.path().join("log")).unwrap_or_default();
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            crate::helpers::runner_start_lines(&log),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn sigkill(child: &mut Child) {
    // SAFETY: signals a process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
}

/// Ctrl-C, and its exit status; a process still running 60 s later is killed and the test fails.
pub fn sigint(child: &mut Child) -> std::process::ExitStatus {
    // SAFETY: signals a process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            sigkill(child);
            panic!("still running 60 s after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
