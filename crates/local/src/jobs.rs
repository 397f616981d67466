//! `ProcessJobs`: the `Jobs` port as detached local processes, one directory per job.
//!
//! `start` creates `<jobs_dir>/<job>/` with `create_dir`, which fails if it exists: a redelivered dispatch finds
//! the job it started before and starts nothing. The runner command runs in its own process group (it outlives the
//! handler, and signals meant for the host's group miss it), with its output appended to `<dir>/log`, and its exit
//! code ends in `<dir>/exit` whoever is left to see it: `nightshift runner` writes it itself and starts directly
//! ([`ProcessJobs::with_runner_writing_its_exit`]); any other runner command runs under a small `/bin/sh` wrapper
//! that writes it. Files: `spec.json` (secrets appear as names only), `pid`, `started_at`, `log`, `exit`.
//!
//! Secret values, when a `Secrets` source is configured, go only into the child's environment, as Container
//! Instances' secure environment variables would: this adapter never writes them to a file.

use crate::fsutil::{blocking, check_segment, io_error, write_atomic};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nightshift_core::names::JobName;
use nightshift_core::ports::{JobSpec, JobStart, JobState, Jobs, PortError, Secrets};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Runs the command, then writes its exit code to `$NIGHTSHIFT_JOB_DIR/exit`. The trap keeps the shell alive
/// through the SIGTERM of `stop` (sent to the whole group), so a stopped job still records its code (143). The
/// code is written in place with the shell's own `printf` (one `write` of a few bytes), not to a temporary file
/// renamed by `mv`, which cost a process start per job: a reader that finds the file empty or unreadable goes on to
/// the pid, which is still alive while the shell writes (see `state_of`).
pub const WRAPPER: &str = r#"trap ':' TERM INT HUP
"$@"
code=$?
printf '%s\n' "$code" > "$NIGHTSHIFT_JOB_DIR/exit"
exit "$code""#;

/// Jobs as local processes.
#[derive(Clone)]
pub struct ProcessJobs {
    jobs_dir: PathBuf,
    runner: Vec<String>,
    env: BTreeMap<String, String>,
    secrets: Option<Arc<dyn Secrets>>,
    stop_grace: Duration,
    /// The runner writes `$NIGHTSHIFT_JOB_DIR/exit` itself: it is started without the wrapper shell.
    writes_own_exit: bool,
}

/// `spec.json`: the job spec as written to disk; secrets are names.
#[derive(Serialize)]
struct SpecFile<'a> {
    name: &'a str,
    run_id: String,
    step: &'a str,
    attempt: u32,
    env: &'a BTreeMap<String, String>,
    /// Environment variable -> secret name.
    secrets: &'a BTreeMap<String, String>,
    cpu: f64,
    memory_gb: f64,
}

impl ProcessJobs {
    /// Jobs under `jobs_dir`, each running `runner` (program and arguments, e.g. `["/usr/bin/nightshift",
    /// "runner"]`).
    pub fn new(jobs_dir: impl Into<PathBuf>, runner: Vec<String>) -> Self {
        Self {
            jobs_dir: jobs_dir.into(),
            runner,
            env: BTreeMap::new(),
            secrets: None,
            stop_grace: Duration::from_secs(10),
            writes_own_exit: false,
        }
    }

    /// The runner records its own exit code in `$NIGHTSHIFT_JOB_DIR/exit` (`nightshift runner` does), so jobs start
    /// it directly instead of under the [`WRAPPER`] shell: one process start less per step (about 1.4 ms here). A
    /// runner that ends without writing it (a crash) gets its code written when this process reaps it; if this
    /// process died first, a runner gone without the file reads as killed (-1), as a job killed under the wrapper.
    pub fn with_runner_writing_its_exit(mut self) -> Self {
        self.writes_own_exit = true;
        self
    }

    /// An environment variable every job gets (after the spec's own, so it wins).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Where secret values come from; without it, a spec that names secrets is refused.
    pub fn with_secrets(mut self, secrets: Arc<dyn Secrets>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// How long `stop` waits after SIGTERM before SIGKILL. Default 10 s.
    pub fn with_stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    pub fn jobs_dir(&self) -> &Path {
        &self.jobs_dir
    }

    /// The job's directory.
    pub fn dir_of(&self, name: &JobName) -> Result<PathBuf, PortError> {
        check_segment("job name", name.as_str())?;
        Ok(self.jobs_dir.join(name.as_str()))
    }

    async fn resolve_secrets(&self, spec: &JobSpec) -> Result<Vec<(String, String)>, PortError> {
        if spec.secrets.is_empty() {
            return Ok(Vec::new());
        }
        let source = self.secrets.as_ref().ok_or_else(|| {
            PortError::Permanent(format!(
                "job {} needs secrets but no secret source is configured for local jobs",
                spec.name
            ))
        })?;
        let mut out = Vec::new();
        for (var, secret) in &spec.secrets {
            out.push((var.clone(), source.get(secret).await?.expose().to_string()));
        }
        Ok(out)
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn signal_group(pgid: i32, signal: i32) -> bool {
    // SAFETY: sends a signal to a process group we created; no memory is touched.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

fn exited(dir: &Path) -> Option<JobState> {
    let path = dir.join("exit");
    let code = read_trimmed(&path)?.parse().ok()?;
    let finished_at = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .map(DateTime::<Utc>::from);
    Some(JobState::Exited { code, finished_at })
}

/// Writes a reaped runner's exit code (a signal as 128 + its number, as a shell reports it) unless the runner wrote
/// one.
fn record_exit_if_missing(path: &Path, status: std::process::ExitStatus) {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        let _ = writeln!(f, "{code}");
    }
}

fn state_of(dir: &Path) -> JobState {
    if !dir.is_dir() {
        return JobState::NotFound;
    }
    if let Some(state) = exited(dir) {
        return state;
    }
    match read_trimmed(&dir.join("pid")).and_then(|p| p.parse::<i32>().ok()) {
        Some(pid) if pid_alive(pid) => JobState::Running,
        Some(_) => exited(dir).unwrap_or(JobState::Exited {
            // Gone without an exit file: killed.
            code: -1,
            finished_at: None,
        }),
        None => {
            // Between create_dir and the pid file; a spawner that died there leaves a job that never ran.
            let young = std::fs::metadata(dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age < Duration::from_secs(30));
            if young {
                JobState::Running
            } else {
                JobState::Exited {
                    code: -1,
                    finished_at: None,
                }
            }
        }
    }
}

#[async_trait]
impl Jobs for ProcessJobs {
    #[tracing::instrument(skip_all, fields(job = %spec.name))]
    async fn start(&self, spec: &JobSpec) -> Result<JobStart, PortError> {
        if self.runner.is_empty() {
            return Err(PortError::Permanent(
                "no runner command configured for local jobs".into(),
            ));
        }
        let dir = self.dir_of(&spec.name)?;
        let secret_env = self.resolve_secrets(spec).await?;
        std::fs::create_dir_all(&self.jobs_dir).map_err(|e| io_error("creating jobs dir", e))?;
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                tracing::info!("job exists already: nothing started");
                return Ok(JobStart::AlreadyExists);
            }
            Err(e) => return Err(io_error(format!("creating {}", dir.display()), e)),
        }
        let spec_file = SpecFile {
            name: spec.name.as_str(),
            run_id: spec.run_id.to_string(),
            step: spec.step.as_str(),
            attempt: spec.attempt,
            env: &spec.env,
            secrets: &spec.secrets,
            cpu: spec.cpu,
            memory_gb: spec.memory_gb,
        };
        let bytes = serde_json::to_vec_pretty(&spec_file)
            .map_err(|e| PortError::Permanent(format!("serializing spec: {e}")))?;
        write_atomic(&dir.join("spec.json"), &bytes)
            .map_err(|e| io_error("writing spec.json", e))?;

        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("log"))
            .map_err(|e| io_error("opening log", e))?;
        let log_err = log.try_clone().map_err(|e| io_error("opening log", e))?;
        let mut cmd = if self.writes_own_exit {
            let mut cmd = tokio::process::Command::new(&self.runner[0]);
            cmd.args(&self.runner[1..]);
            cmd
        } else {
            let mut cmd = tokio::process::Command::new("/bin/sh");
            cmd.arg("-c").arg(WRAPPER).arg("sh").args(&self.runner);
            cmd
        };
        cmd.envs(&spec.env)
            .envs(&self.env)
            .envs(secret_env)
            .env("NIGHTSHIFT_JOB", spec.name.as_str())
            .env("NIGHTSHIFT_JOB_DIR", &dir)
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(false);
        // Its own process group, so `stop` signals the whole group and a Ctrl-C at the terminal of `serve` or `up`
        // (sent to their foreground group) does not reach it. No `pre_exec` hook: the standard library then starts
        // it with `posix_spawn` (a `vfork`-like clone) instead of copying the handler's address space with `fork`.
        cmd.process_group(0);
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                // Nothing runs: free the name so a retry can start it.
                let _ = std::fs::remove_dir_all(&dir);
                return Err(io_error(format!("spawning {:?}", self.runner), e));
            }
        };
        let pid = child.id().unwrap_or_default();
        write_atomic(&dir.join("pid"), pid.to_string().as_bytes())
            .map_err(|e| io_error("writing pid", e))?;
        write_atomic(&dir.join("started_at"), Utc::now().to_rfc3339().as_bytes())
            .map_err(|e| io_error("writing started_at", e))?;
        // Reap the child while we live; if we die first, init reaps it and the wrapper (or the runner) still writes
        // `exit`. A runner that writes its own and ended without it gets it here.
        let own_exit = self.writes_own_exit.then(|| dir.join("exit"));
        tokio::spawn(async move {
            let status = child.wait().await;
            if let (Some(path), Ok(status)) = (own_exit, status) {
                record_exit_if_missing(&path, status);
            }
        });
        tracing::info!(pid, "job started");
        Ok(JobStart::Started)
    }

    async fn state(&self, name: &JobName) -> Result<JobState, PortError> {
        let dir = self.dir_of(name)?;
        blocking(move || Ok(state_of(&dir))).await
    }

    async fn logs(&self, name: &JobName) -> Result<String, PortError> {
        let dir = self.dir_of(name)?;
        let name = name.to_string();
        blocking(move || {
            if !dir.is_dir() {
                return Err(PortError::Permanent(format!("no job named {name}")));
            }
            match std::fs::read(dir.join("log")) {
                Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(io_error(format!("reading log of {name}"), e)),
            }
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(job = %name))]
    async fn stop(&self, name: &JobName) -> Result<(), PortError> {
        let dir = self.dir_of(name)?;
        if state_of(&dir) != JobState::Running {
            return Ok(());
        }
        let Some(pgid) = read_trimmed(&dir.join("pid")).and_then(|p| p.parse::<i32>().ok()) else {
            return Ok(());
        };
        if !signal_group(pgid, libc::SIGTERM) {
            return Ok(()); // gone already
        }
        tracing::info!(pgid, "SIGTERM sent to the job's process group");
        let grace = self.stop_grace;
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + grace;
            while tokio::time::Instant::now() < deadline {
                if !signal_group(pgid, 0) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if signal_group(pgid, libc::SIGKILL) {
                tracing::warn!(pgid, "job ignored SIGTERM: SIGKILL sent");
            }
        });
        Ok(())
    }

    async fn delete(&self, name: &JobName) -> Result<(), PortError> {
        let dir = self.dir_of(name)?;
        let name = name.to_string();
        blocking(move || {
            if state_of(&dir) == JobState::Running {
                return Err(PortError::Transient(format!(
                    "job {name} is still running: stop it first"
                )));
            }
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_error(format!("deleting job {name}"), e)),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::LocalSecrets;
    use nightshift_core::names::{RunId, StepName};
    use nightshift_core::ports::SecretValue;

    fn spec(name: &str) -> JobSpec {
        JobSpec {
            name: JobName::from_existing(name),
            run_id: RunId::parse("shop.nightly.k1").unwrap(),
            step: StepName::parse("infra").unwrap(),
            attempt: 1,
            env: BTreeMap::from([("GREETING".to_string(), "hello".to_string())]),
            secrets: BTreeMap::new(),
            cpu: 1.0,
            memory_gb: 1.0,
        }
    }

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    /// Polls the job's state until it has exited, with a generous deadline.
    async fn wait_exit(jobs: &ProcessJobs, name: &JobName) -> JobState {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let state = jobs.state(name).await.unwrap();
            if matches!(state, JobState::Exited { .. }) {
                return state;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job did not exit: {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_job_runs_with_its_environment_and_records_its_exit_code_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(
            dir.path(),
            sh(r#"echo "$GREETING from $NIGHTSHIFT_JOB extra=$EXTRA"; echo oops >&2; exit 3"#),
        )
        .with_env("EXTRA", "x");
        let s = spec("job-a");
        assert_eq!(jobs.start(&s).await.unwrap(), JobStart::Started);
        let state = wait_exit(&jobs, &s.name).await;
        assert!(
            matches!(
                state,
                JobState::Exited {
                    code: 3,
                    finished_at: Some(_)
                }
            ),
            "{state:?}"
        );
        let log = jobs.logs(&s.name).await.unwrap();
        assert!(log.contains("hello from job-a extra=x"), "{log}");
        assert!(log.contains("oops"), "{log}");
        let spec_json = std::fs::read_to_string(dir.path().join("job-a/spec.json")).unwrap();
        assert!(spec_json.contains("\"attempt\": 1"));
        assert!(
            dir.path().join("job-a/pid").exists() && dir.path().join("job-a/started_at").exists()
        );
    }

    #[tokio::test]
    async fn starting_an_existing_job_again_starts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(dir.path(), sh("echo ran >> \"$NIGHTSHIFT_JOB_DIR/runs\""));
        let s = spec("job-b");
        assert_eq!(jobs.start(&s).await.unwrap(), JobStart::Started);
        assert_eq!(jobs.start(&s).await.unwrap(), JobStart::AlreadyExists);
        wait_exit(&jobs, &s.name).await;
        let runs = std::fs::read_to_string(dir.path().join("job-b/runs")).unwrap();
        assert_eq!(runs.lines().count(), 1);
    }

    #[tokio::test]
    async fn an_unknown_job_is_not_found_and_deleting_it_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(dir.path(), sh("true"));
        let name = JobName::from_existing("nope");
        assert_eq!(jobs.state(&name).await.unwrap(), JobState::NotFound);
        jobs.delete(&name).await.unwrap();
        jobs.stop(&name).await.unwrap();
    }

    #[tokio::test]
    async fn a_stopped_job_exits_and_can_then_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(
            dir.path(),
            sh(r#"touch "$NIGHTSHIFT_JOB_DIR/ready"; sleep 600"#),
        )
        .with_stop_grace(Duration::from_secs(30));
        let s = spec("job-c");
        jobs.start(&s).await.unwrap();
        let ready = dir.path().join("job-c/ready");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !ready.exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the job never started"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(jobs.state(&s.name).await.unwrap(), JobState::Running);
        assert!(
            jobs.delete(&s.name).await.is_err(),
            "a running job is not deleted"
        );
        jobs.stop(&s.name).await.unwrap();
        let state = wait_exit(&jobs, &s.name).await;
        assert!(
            matches!(state, JobState::Exited { code: 143, .. }),
            "{state:?}"
        );
        jobs.delete(&s.name).await.unwrap();
        assert_eq!(jobs.state(&s.name).await.unwrap(), JobState::NotFound);
    }

    #[tokio::test]
    async fn an_exit_file_still_being_written_reads_as_running_while_the_job_lives_and_as_killed_after(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(dir.path(), sh("true"));
        let name = JobName::from_existing("ns-half-written");
        let job = jobs.dir_of(&name).unwrap();
        std::fs::create_dir_all(&job).unwrap();
        // The wrapper's `printf > exit` has created the file and not yet written the code.
        std::fs::write(job.join("exit"), b"").unwrap();
        std::fs::write(job.join("pid"), std::process::id().to_string()).unwrap();

        assert_eq!(jobs.state(&name).await.unwrap(), JobState::Running);

        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let dead = gone.id();
        gone.wait().unwrap();
        std::fs::write(job.join("pid"), dead.to_string()).unwrap();
        assert_eq!(
            jobs.state(&name).await.unwrap(),
            JobState::Exited {
                code: -1,
                finished_at: None
            }
        );
    }

    #[tokio::test]
    async fn a_runner_that_writes_its_own_exit_starts_with_no_wrapper_and_keeps_the_code_it_wrote()
    {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(
            dir.path(),
            sh(r#"echo $$ > own_pid; echo 7 > "$NIGHTSHIFT_JOB_DIR/exit""#),
        )
        .with_runner_writing_its_exit();
        let s = spec("job-own");
        jobs.start(&s).await.unwrap();

        let state = wait_exit(&jobs, &s.name).await;

        assert!(
            matches!(state, JobState::Exited { code: 7, .. }),
            "{state:?}"
        );
        let job = dir.path().join("job-own");
        assert_eq!(
            read_trimmed(&job.join("pid")),
            read_trimmed(&job.join("own_pid")),
            "the runner is the job's process: no shell in between"
        );
    }

    #[tokio::test]
    async fn a_runner_that_ends_without_writing_its_exit_gets_its_code_written_when_it_is_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(dir.path(), sh("exit 3")).with_runner_writing_its_exit();
        let s = spec("job-crash");
        jobs.start(&s).await.unwrap();
        let exit = dir.path().join("job-crash/exit");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while read_trimmed(&exit).unwrap_or_default().is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "no exit file");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        assert!(matches!(
            jobs.state(&s.name).await.unwrap(),
            JobState::Exited { code: 3, .. }
        ));
    }

    #[tokio::test]
    async fn a_job_whose_spawner_died_before_its_pid_runs_for_30_s_then_reads_as_killed() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(dir.path(), sh("true"));
        let name = JobName::from_existing("ns-never-spawned");
        let job = jobs.dir_of(&name).unwrap();
        std::fs::create_dir_all(&job).unwrap();
        // The host died between `create_dir` and the spawn: a directory, no pid, no exit.
        assert_eq!(jobs.state(&name).await.unwrap(), JobState::Running);

        let past = std::time::SystemTime::now() - Duration::from_secs(31);
        std::fs::File::open(&job)
            .unwrap()
            .set_modified(past)
            .unwrap();
        assert_eq!(
            jobs.state(&name).await.unwrap(),
            JobState::Exited {
                code: -1,
                finished_at: None
            },
            "the watchdog can fail it and retry the step"
        );
    }

    #[tokio::test]
    async fn a_killed_job_is_reported_as_exited_with_minus_one() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(dir.path(), sh("sleep 600"));
        let s = spec("job-d");
        jobs.start(&s).await.unwrap();
        let pid: i32 = read_trimmed(&dir.path().join("job-d/pid"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(signal_group(pid, libc::SIGKILL));
        let state = wait_exit(&jobs, &s.name).await;
        assert_eq!(
            state,
            JobState::Exited {
                code: -1,
                finished_at: None
            }
        );
    }

    #[tokio::test]
    async fn a_secret_value_reaches_the_job_but_never_its_spec_or_log() {
        let dir = tempfile::tempdir().unwrap();
        let vault = LocalSecrets::new(dir.path().join("vault"));
        vault
            .set("db-password", &SecretValue::new("s3cr3t-value".into()))
            .unwrap();
        let jobs = ProcessJobs::new(
            dir.path().join("jobs"),
            sh(r#"test "$DB_PASSWORD" = s3cr3t-value && echo secret received"#),
        )
        .with_secrets(Arc::new(vault));
        let mut s = spec("job-e");
        s.secrets.insert("DB_PASSWORD".into(), "db-password".into());
        jobs.start(&s).await.unwrap();
        let state = wait_exit(&jobs, &s.name).await;
        assert!(
            matches!(state, JobState::Exited { code: 0, .. }),
            "{state:?}"
        );
        let job_dir = dir.path().join("jobs/job-e");
        for entry in std::fs::read_dir(&job_dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains("s3cr3t-value"));
        }
        assert!(std::fs::read_to_string(job_dir.join("spec.json"))
            .unwrap()
            .contains("db-password"));
        assert!(jobs
            .logs(&s.name)
            .await
            .unwrap()
            .contains("secret received"));
    }

    #[tokio::test]
    async fn a_spec_naming_secrets_without_a_secret_source_is_refused_and_starts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = ProcessJobs::new(dir.path(), sh("true"));
        let mut s = spec("job-f");
        s.secrets.insert("X".into(), "x".into());
        assert!(matches!(jobs.start(&s).await, Err(PortError::Permanent(_))));
        assert_eq!(jobs.state(&s.name).await.unwrap(), JobState::NotFound);
    }
}
