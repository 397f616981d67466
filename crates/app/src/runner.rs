//! The runner: what a job executes for one attempt of one step (`nightshift runner`).
//!
//! It reads its step from its environment and the run document, renders the step's templates against the
//! upstream outputs, runs `terraform init/apply/output`, `ansible-playbook` or the smoke command, streams the log
//! to the store, records the result, and sends it on `step-events`. On SIGTERM it stops its child and reports the
//! attempt as interrupted. The local process job runner and Azure Container Instances run this same code.

use crate::catalog_files::{resolve_in_repo, Kind};
use crate::repo::{log_key, result_key};
use crate::service::App;
use crate::settings::Mode;
use crate::tools;
use chrono::Utc;
use nightshift_core::catalog::Action;
use nightshift_core::messages::{
    StepEventMessage, StepOutcome, STEP_EVENTS_QUEUE, STEP_EVENT_SCHEMA,
};
use nightshift_core::ports::{OutboundMessage, PortError, Precondition};
use nightshift_core::run::Run;
use nightshift_core::template::{self, Context};
use nightshift_core::{RunId, StepName};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Which attempt this process runs, from its environment.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub run_id: RunId,
    pub step: StepName,
    pub attempt: u32,
}

impl Assignment {
    pub fn from_env() -> Result<Self, String> {
        let get = |k: &str| {
            std::env::var(k).map_err(|_| {
                format!("{k} is not set: the runner is started by nightshift's job runner")
            })
        };
        Ok(Self {
            run_id: RunId::parse(&get("NIGHTSHIFT_RUN_ID")?).map_err(|e| e.to_string())?,
            step: StepName::parse(&get("NIGHTSHIFT_STEP")?).map_err(|e| e.to_string())?,
            attempt: get("NIGHTSHIFT_ATTEMPT")?
                .parse()
                .map_err(|_| "NIGHTSHIFT_ATTEMPT is not a number".to_string())?,
        })
    }
}

/// A failure, and whether another attempt could fix it.
struct Failure {
    reason: String,
    permanent: bool,
    interrupted: bool,
}

impl Failure {
    fn retryable(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            permanent: false,
            interrupted: false,
        }
    }
    fn permanent(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            permanent: true,
            interrupted: false,
        }
    }
}

/// The attempt's log: echoed to stdout (the job's own log) and kept for the store.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<String>>);

impl Log {
    fn line(&self, l: &str) {
        println!("{l}");
        let mut s = self.0.lock().expect("log lock");
        s.push_str(l);
        s.push('\n');
    }
    fn text(&self) -> String {
        self.0.lock().expect("log lock").clone()
    }
    fn tail(&self, n: usize) -> String {
        let t = self.text();
        let lines: Vec<&str> = t.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join(" | ")
    }
}

/// Records the runner's exit code where a local job keeps it (`$NIGHTSHIFT_JOB_DIR/exit`, when the local job
/// runner set it), written in place while the process still lives: the local jobs adapter starts `nightshift
/// runner` without a wrapper shell to do it.
pub fn record_exit(code: i32) {
    let Some(dir) = std::env::var_os("NIGHTSHIFT_JOB_DIR").filter(|d| !d.is_empty()) else {
        return;
    };
    let path = std::path::Path::new(&dir).join("exit");
    if let Err(e) = std::fs::write(&path, format!("{code}\n")) {
        eprintln!(
            "nightshift runner: cannot record exit code {code} in {}: {e}",
            path.display()
        );
    }
}

/// Runs the attempt and reports it. Returns the process exit code.
pub async fn run(app: &App, a: &Assignment) -> i32 {
    let started_at = Utc::now();
    let log = Log::default();
    let key = log_key(&a.run_id, &a.step, a.attempt);
    let flusher = {
        let (store, log, key) = (app.ports.store.clone(), log.clone(), key.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                let _ = store
                    .put(&key, log.text().into_bytes(), Precondition::None)
                    .await;
            }
        })
    };
    log.line(&format!(
        "nightshift runner: {} step {} attempt {}",
        a.run_id, a.step, a.attempt
    ));
    let exec = execute(app, a, &log);
    tokio::pin!(exec);
    let outcome = tokio::select! {
        r = &mut exec => r,
        _ = terminated() => {
            // Stop the step's process group cleanly (Terraform saves its state on SIGTERM), then hard.
            log.line(&format!("SIGTERM: stopping the step (grace {}s)", STOP_GRACE.as_secs()));
            signal_child(libc::SIGTERM);
            if tokio::time::timeout(STOP_GRACE, &mut exec).await.is_err() {
                log.line("the step did not stop within the grace period: killed");
                signal_child(libc::SIGKILL);
            }
            Err(Failure { reason: "interrupted by SIGTERM".into(), permanent: false, interrupted: true })
        }
    };
    flusher.abort();
    let (outcome_kind, reason, permanent, outputs, code) = match outcome {
        Ok(outputs) => (StepOutcome::Succeeded, None, false, outputs, 0),
        Err(f) => {
            log.line(&format!("step failed: {}", f.reason));
            let kind = if f.interrupted {
                StepOutcome::Interrupted
            } else {
                StepOutcome::Failed
            };
            (
                kind,
                Some(f.reason),
                f.permanent,
                BTreeMap::new(),
                if f.interrupted { 143 } else { 1 },
            )
        }
    };
    let _ = app
        .ports
        .store
        .put(&key, log.text().into_bytes(), Precondition::None)
        .await;
    let msg = StepEventMessage {
        schema: STEP_EVENT_SCHEMA.into(),
        run_id: a.run_id.clone(),
        step: a.step.clone(),
        attempt: a.attempt,
        outcome: outcome_kind,
        exit_code: Some(code),
        reason,
        permanent,
        outputs,
        started_at,
        finished_at: Utc::now(),
        log: Some(key),
    };
    if let Err(e) = report(app, &msg).await {
        // The watchdog reads the stored result if the message is lost; if even the store failed, it re-runs.
        eprintln!("nightshift runner: could not report the result: {e}");
        return if code == 0 { 75 } else { code };
    }
    code
}

async fn report(app: &App, msg: &StepEventMessage) -> Result<(), PortError> {
    let body = serde_json::to_string(msg).expect("serializable");
    let mut last = None;
    for i in 0..5u64 {
        let r = async {
            app.ports
                .store
                .put(
                    &result_key(&msg.run_id, &msg.step, msg.attempt),
                    body.clone().into_bytes(),
                    Precondition::None,
                )
                .await?;
            app.ports
                .bus
                .send(OutboundMessage {
                    queue: STEP_EVENTS_QUEUE.into(),
                    body: body.clone(),
                    message_id: msg.message_id(),
                    correlation_id: Some(msg.run_id.to_string()),
                    scheduled_at: None,
                })
                .await
        }
        .await;
        match r {
            Ok(()) => return Ok(()),
            Err(e) if e.is_retryable() => {
                last = Some(e);
                tokio::time::sleep(std::time::Duration::from_millis(200 << i)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| PortError::Transient("unknown".into())))
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

/// The run as this attempt's job needs it: the assignment written when the job was started, else (a job started
/// by an older handler) the run folded from its journal.
async fn load_run(app: &App, a: &Assignment) -> Result<Run, Failure> {
    let id = &a.run_id;
    for i in 0..5u64 {
        let read = match app.repo.assignment(id, &a.step, a.attempt).await {
            Ok(Some(r)) => Ok(Some(r)),
            Ok(None) => app.repo.run(id).await,
            Err(e) => Err(e),
        };
        match read {
            Ok(Some(r)) => return Ok(r),
            Ok(None) => return Err(Failure::permanent(format!("run {id} is not in the store"))),
            Err(e) if e.is_retryable() && i < 4 => {
                tokio::time::sleep(std::time::Duration::from_millis(200 << i)).await
            }
            Err(e) => return Err(Failure::retryable(format!("cannot read run {id}: {e}"))),
        }
    }
    unreachable!("the loop returns")
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs the step, then passes what it reports (outputs, failure reason) through the same redaction as its log: a
/// secret a step prints to its outputs file never reaches the result, the run document or the status.
async fn execute(app: &App, a: &Assignment, log: &Log) -> Result<BTreeMap<String, Value>, Failure> {
    let mut secrets = Vec::new();
    let result = execute_step(app, a, log, &mut secrets).await;
    match result {
        Ok(outputs) => Ok(outputs
            .into_iter()
            .map(|(k, v)| (redact(&k, &secrets), redact_value(v, &secrets)))
            .collect()),
        Err(f) => Err(Failure {
            reason: redact(&f.reason, &secrets),
            ..f
        }),
    }
}

/// Runs the step; `secrets` receives the values to redact as soon as they are read.
async fn execute_step(
    app: &App,
    a: &Assignment,
    log: &Log,
    secrets: &mut Vec<String>,
) -> Result<BTreeMap<String, Value>, Failure> {
    let run = load_run(app, a).await?;
    let step = run
        .steps
        .get(&a.step)
        .ok_or_else(|| Failure::permanent(format!("run {} has no step {}", run.id, a.step)))?;
    let ctx = Context {
        values: run.context.clone(),
        outputs: run.outputs(),
    };
    let render = |v: &Value| {
        template::render_value(v, &ctx).map_err(|e| Failure::permanent(format!("template: {e}")))
    };
    let render_text = |s: &str| {
        template::render_text(s, &ctx).map_err(|e| Failure::permanent(format!("template: {e}")))
    };
    let s = &app.settings;
    let root = s.repo_root.clone();
    let job_dir = std::env::var_os("NIGHTSHIFT_JOB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let outputs_file = job_dir.join(format!("outputs-{}-{}.json", a.step, a.attempt));

    let mut env: Vec<(String, String)> = Vec::new();
    for (var, name) in &secret_names(&step.def.secrets, std::env::vars()) {
        // A job platform may hand the value in already (a secure environment variable); otherwise fetch it by
        // name with the job's own identity.
        let value = match std::env::var(var) {
            Ok(v) if !v.is_empty() => v,
            _ => app
                .ports
                .secrets
                .get(name)
                .await
                .map_err(|e| Failure {
                    reason: format!("secret {name}: {e}"),
                    permanent: !e.is_retryable(),
                    interrupted: false,
                })?
                .expose()
                .to_string(),
        };
        env.push((var.clone(), value));
    }
    let secret_values: Vec<String> = env
        .iter()
        .map(|(_, v)| v.clone())
        .filter(|v| v.len() >= 4)
        .collect();
    secrets.extend(secret_values.iter().cloned());
    let tags = serde_json::to_string(&run.tags).expect("tags serialize");

    match &step.def.action {
        Action::Terraform { stack, vars } => {
            let tf = tools::terraform().map_err(|e| Failure::permanent(e.to_string()))?;
            // A removed layer's old definition may name a directory that went with the layer: say what to do.
            let dir = resolve_in_repo(&root, stack, Kind::Directory).map_err(|e| {
                Failure::permanent(match &step.teardown {
                    Some(built_by) => format!(
                        "layer {} was removed from the catalog, but its stack cannot be used ({e}): restore it for \
                         one release so the layer built by {built_by} can be destroyed, or destroy the environment",
                        a.step
                    ),
                    None => format!("stack: {e}"),
                })
            })?;
            let state_base = s
                .terraform_dir()
                .join(run.product.as_str())
                .join(run.environment.as_str());
            env.push(("TF_IN_AUTOMATION".into(), "1".into()));
            env.push(("TF_INPUT".into(), "0".into()));
            env.push((
                "TF_DATA_DIR".into(),
                state_base
                    .join(a.step.as_str())
                    .join("data")
                    .display()
                    .to_string(),
            ));
            env.push(("TF_VAR_nightshift_tags".into(), tags.clone()));
            env.push(("TF_VAR_environment".into(), run.environment.to_string()));
            env.push(("TF_VAR_product".into(), run.product.to_string()));
            if s.mode == Mode::Local {
                env.push((
                    "TF_VAR_local_cloud_dir".into(),
                    s.cloud_dir().display().to_string(),
                ));
            }
            for (k, v) in vars {
                env.push((format!("TF_VAR_{k}"), json_text(&render(v)?)));
            }
            // A layer removed from the catalog: destroyed from its own state, which then goes.
            let teardown = step.teardown.is_some();
            let backend: Vec<String> = match s.mode {
                Mode::Local => {
                    std::fs::create_dir_all(&state_base)
                        .map_err(|e| Failure::retryable(e.to_string()))?;
                    vec![format!(
                        "-backend-config=path={}",
                        state_base.join(format!("{}.tfstate", a.step)).display()
                    )]
                }
                Mode::Azure => {
                    env.extend(s.terraform.provider_env());
                    s.terraform.backend_config(
                        run.product.as_str(),
                        run.environment.as_str(),
                        a.step.as_str(),
                    )
                }
            };
            let mut init = vec![
                "init".to_string(),
                "-input=false".into(),
                "-no-color".into(),
                "-reconfigure".into(),
            ];
            init.extend(backend);
            run_child(
                log,
                &tf,
                &init,
                &dir,
                &env,
                &secret_values,
                "terraform init",
            )
            .await?;
            if teardown {
                let destroy =
                    ["destroy", "-auto-approve", "-input=false", "-no-color"].map(String::from);
                run_child(
                    log,
                    &tf,
                    &destroy,
                    &dir,
                    &env,
                    &secret_values,
                    "terraform destroy",
                )
                .await?;
                forget_layer_state(app, &run, a.step.as_str(), &state_base).await?;
                log.line(&format!("layer {} destroyed and its state removed", a.step));
                return Ok(BTreeMap::new());
            }
            let apply = ["apply", "-auto-approve", "-input=false", "-no-color"].map(String::from);
            run_child(
                log,
                &tf,
                &apply,
                &dir,
                &env,
                &secret_values,
                "terraform apply",
            )
            .await?;
            let out = capture(&tf, &["output".into(), "-json".into()], &dir, &env).await?;
            let parsed: BTreeMap<String, Value> = serde_json::from_str(&out)
                .map_err(|e| Failure::retryable(format!("terraform output -json: {e}")))?;
            Ok(parsed
                .into_iter()
                .filter(|(_, o)| !o.get("sensitive").and_then(Value::as_bool).unwrap_or(false))
                .filter_map(|(k, o)| o.get("value").cloned().map(|v| (k, v)))
                .collect())
        }
        Action::Ansible { playbook, vars, .. } => {
            let tools_dir = s.tools_dir.clone();
            let say = |m: &str| log.line(m);
            let ap = tools::ensure_ansible_playbook(&tools_dir, &say)
                .map_err(|e| Failure::permanent(e.to_string()))?;
            let path = resolve_in_repo(&root, playbook, Kind::File)
                .map_err(|e| Failure::permanent(format!("playbook: {e}")))?;
            let mut extra = serde_json::Map::new();
            for (k, v) in vars {
                extra.insert(k.clone(), render(v)?);
            }
            extra.insert(
                "nightshift_environment".into(),
                run.environment.to_string().into(),
            );
            extra.insert("nightshift_product".into(), run.product.to_string().into());
            extra.insert("nightshift_run_id".into(), run.id.to_string().into());
            extra.insert(
                "nightshift_data_tiers".into(),
                serde_json::to_value(&step.tiers).expect("tiers"),
            );
            extra.insert(
                "nightshift_tags".into(),
                serde_json::to_value(&run.tags).expect("tags"),
            );
            if s.mode == Mode::Local {
                extra.insert(
                    "nightshift_local_cloud_dir".into(),
                    s.cloud_dir().display().to_string().into(),
                );
            }
            std::fs::create_dir_all(&job_dir).map_err(|e| Failure::retryable(e.to_string()))?;
            let vars_file = job_dir.join(format!("extra-vars-{}-{}.json", a.step, a.attempt));
            std::fs::write(
                &vars_file,
                serde_json::to_vec_pretty(&Value::Object(extra)).expect("json"),
            )
            .map_err(|e| Failure::retryable(e.to_string()))?;
            env.push((
                "NIGHTSHIFT_OUTPUTS_FILE".into(),
                outputs_file.display().to_string(),
            ));
            env.push(("ANSIBLE_NOCOLOR".into(), "1".into()));
            env.push(("ANSIBLE_LOCALHOST_WARNING".into(), "False".into()));
            env.push(("ANSIBLE_INVENTORY_UNPARSED_WARNING".into(), "False".into()));
            let args = vec![
                "-i".to_string(),
                "localhost,".into(),
                "-c".into(),
                "local".into(),
                path.display().to_string(),
                "-e".into(),
                format!("@{}", vars_file.display()),
            ];
            run_child(
                log,
                &ap,
                &args,
                &root,
                &env,
                &secret_values,
                "ansible-playbook",
            )
            .await?;
            read_outputs(&outputs_file)
        }
        Action::Smoke {
            command,
            env: extra,
        } => {
            let argv: Vec<String> = command
                .iter()
                .map(|c| render_text(c))
                .collect::<Result<_, _>>()?;
            for (k, v) in extra {
                env.push((k.clone(), render_text(v)?));
            }
            env.push(("NIGHTSHIFT_ENVIRONMENT".into(), run.environment.to_string()));
            env.push(("NIGHTSHIFT_PRODUCT".into(), run.product.to_string()));
            env.push(("NIGHTSHIFT_RUN_ID".into(), run.id.to_string()));
            env.push((
                "NIGHTSHIFT_OUTPUTS_FILE".into(),
                outputs_file.display().to_string(),
            ));
            if s.mode == Mode::Local {
                env.push((
                    "NIGHTSHIFT_LOCAL_CLOUD_DIR".into(),
                    s.cloud_dir().display().to_string(),
                ));
            }
            let program = PathBuf::from(&argv[0]);
            run_child(
                log,
                &program,
                &argv[1..],
                &root,
                &env,
                &secret_values,
                "smoke check",
            )
            .await?;
            read_outputs(&outputs_file)
        }
    }
}

/// The step's secrets, `ENV_VAR -> Key Vault secret name`: the run journal's, plus any
/// `NIGHTSHIFT_SECRET_<VAR>=<name>` the job platform set (the ACI adapter does); the journal wins on a clash.
/// After a removed layer's `terraform destroy`: its state (the local file and Terraform's data directory, or the
/// state blob) describes nothing any more.
async fn forget_layer_state(
    app: &App,
    run: &Run,
    layer: &str,
    state_base: &std::path::Path,
) -> Result<(), Failure> {
    match &app.ports.tfstate {
        Some(store) => store
            .delete(&format!(
                "{}/{}/{layer}.tfstate",
                run.product, run.environment
            ))
            .await
            .map_err(|e| Failure::retryable(format!("removing the state of {layer}: {e}"))),
        None => {
            for path in [
                state_base.join(format!("{layer}.tfstate")),
                state_base.join(format!("{layer}.tfstate.backup")),
            ] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Failure::retryable(format!("{}: {e}", path.display()))),
                }
            }
            let _ = std::fs::remove_dir_all(state_base.join(layer));
            Ok(())
        }
    }
}

fn secret_names(
    journal: &BTreeMap<String, String>,
    process_env: impl Iterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = process_env
        .filter_map(|(k, v)| {
            let var = k.strip_prefix("NIGHTSHIFT_SECRET_")?;
            (!var.is_empty() && !v.trim().is_empty())
                .then(|| (var.to_string(), v.trim().to_string()))
        })
        .collect();
    names.extend(journal.iter().map(|(k, v)| (k.clone(), v.clone())));
    names
}

fn read_outputs(path: &PathBuf) -> Result<BTreeMap<String, Value>, Failure> {
    match std::fs::read(path) {
        Err(_) => Ok(BTreeMap::new()),
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Failure::permanent(format!("{} is not a JSON object: {e}", path.display()))
        }),
    }
}

/// Replaces every secret value in `line` with `***` (logs here, and `nightshift bundle`).
pub fn redact(line: &str, secrets: &[String]) -> String {
    // Longest first: a secret that contains another is replaced whole.
    let mut sorted: Vec<&String> = secrets.iter().collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut l = line.to_string();
    for s in sorted {
        l = l.replace(s.as_str(), "***");
    }
    l
}

/// Redacts every string of a JSON value (object keys too); a number or boolean whose text holds a secret becomes
/// the redacted text.
fn redact_value(v: Value, secrets: &[String]) -> Value {
    match v {
        Value::String(s) => Value::String(redact(&s, secrets)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| redact_value(i, secrets))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (redact(&k, secrets), redact_value(v, secrets)))
                .collect(),
        ),
        Value::Number(_) | Value::Bool(_) => {
            let text = v.to_string();
            let clean = redact(&text, secrets);
            if clean == text {
                v
            } else {
                Value::String(clean)
            }
        }
        Value::Null => Value::Null,
    }
}

/// How long the step's processes get to stop after SIGTERM before they are killed. ACI gives a stopped container
/// about 30 s, so this leaves time to report.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// The process group of the step's current child: one attempt per runner process, one child at a time.
static CHILD_GROUP: std::sync::Mutex<Option<i32>> = std::sync::Mutex::new(None);

fn signal_child(signal: i32) {
    if let Some(pgid) = *CHILD_GROUP.lock().expect("child lock") {
        // SAFETY: kill(2) on a process group we created; a group that is gone gives ESRCH, which is fine.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// Runs a child in its own process group, streaming its output lines into the log. On SIGTERM the runner signals
/// the whole group (see [`signal_child`]); if this future is dropped the direct child is killed.
async fn run_child(
    log: &Log,
    program: &PathBuf,
    args: &[String],
    cwd: &PathBuf,
    env: &[(String, String)],
    secrets: &[String],
    what: &str,
) -> Result<(), Failure> {
    log.line(&format!("$ {} {}", program.display(), args.join(" ")));
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .map_err(|e| {
            Failure::permanent(format!("{what}: cannot start {}: {e}", program.display()))
        })?;
    *CHILD_GROUP.lock().expect("child lock") = child.id().map(|p| p as i32);
    let pump = |r: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        let log = log.clone();
        let secrets = secrets.to_vec();
        async move {
            if let Some(r) = r {
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    log.line(&redact(&l, &secrets));
                }
            }
        }
    };
    let out = pump(child.stdout.take().map(|s| Box::new(s) as _));
    let err = pump(child.stderr.take().map(|s| Box::new(s) as _));
    let (status, _, _) = tokio::join!(child.wait(), out, err);
    *CHILD_GROUP.lock().expect("child lock") = None;
    let status = status.map_err(|e| Failure::retryable(format!("{what}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::retryable(format!(
            "{what} exited with {}: {}",
            status
                .code()
                .map(|c| c.to_string())
                .unwrap_or("a signal".into()),
            log.tail(3)
        )))
    }
}

async fn capture(
    program: &PathBuf,
    args: &[String],
    cwd: &PathBuf,
    env: &[(String, String)],
) -> Result<String, Failure> {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Failure::retryable(e.to_string()))?;
    if !out.status.success() {
        return Err(Failure::retryable(format!(
            "{} {}: {}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_reaches_every_string_key_and_number_of_an_output_value() {
        let secrets = vec!["hunter22".to_string(), "20252025".to_string()];
        let v = serde_json::json!({
            "url": "https://u:hunter22@db", "hunter22": 1, "deep": [{"x": "hunter22"}], "pin": 20252025,
            "port": 5432, "ok": true, "none": null,
        });
        let r = redact_value(v, &secrets);
        assert_eq!(
            r,
            serde_json::json!({
                "url": "https://u:***@db", "***": 1, "deep": [{"x": "***"}], "pin": "***",
                "port": 5432, "ok": true, "none": null,
            })
        );
    }

    #[test]
    fn a_secret_containing_another_is_redacted_whole() {
        let secrets = vec!["abcd".to_string(), "abcdefgh".to_string()];
        assert_eq!(redact("x abcdefgh y abcd", &secrets), "x *** y ***");
    }

    #[test]
    fn secret_names_come_from_the_journal_and_the_job_platform() {
        let journal: BTreeMap<String, String> =
            [("DB_PASSWORD".to_string(), "sql-admin".to_string())].into();
        let process = vec![
            (
                "NIGHTSHIFT_SECRET_API_KEY".to_string(),
                "sendgrid".to_string(),
            ),
            (
                "NIGHTSHIFT_SECRET_DB_PASSWORD".to_string(),
                "other".to_string(),
            ),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let names = secret_names(&journal, process.into_iter());
        assert_eq!(names.len(), 2);
        assert_eq!(names["DB_PASSWORD"], "sql-admin");
        assert_eq!(names["API_KEY"], "sendgrid");
    }
}
