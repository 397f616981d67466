//! `FunctionsHost`: a local stand-in for the Azure Functions host. It drives our custom handler over HTTP exactly
//! as the real host does (the protocol and its quirks are in the shared reference on custom handlers, and in
//! [`payload`]): it starts the handler with `FUNCTIONS_CUSTOMHANDLER_PORT`, waits for any answer to `GET /`, then
//! POSTs one invocation per trigger event to `/<function>` and acts on the answer.
//!
//! - Timers (`timerTrigger`): six-field NCRONTAB schedules in UTC, one run of a given timer at a time; a failed run
//!   is not retried. [`FunctionsHost::invoke_timer`] fires one now.
//! - Service Bus triggers: a receive loop per function on its [`DiskQueue`], woken by the
//!   queue's socket when another process sends (see [`WakeListener`]) and looking every `poll_interval` (peek-lock,
//!   up to host.json's `extensions.serviceBus.maxConcurrentCalls` at once, per function). A 2xx answer completes
//!   the message and sends the `serviceBus` output bindings' messages (with fresh random ids, as the real host gives); anything else, or no answer, abandons it,
//!   so it is redelivered and dead-lettered after the queue's maximum delivery count. A 2xx answer's `Logs` go to
//!   the host log; a failed invocation's outputs and logs are discarded.
//! - HTTP triggers: [`FunctionsHost::invoke_http`], and optionally a loopback server under `/<routePrefix>/`.
//!
//! - The handler is supervised: when it dies, the host starts it again with backoff (0.2 s doubling to 10 s), and
//!   delivery pauses meanwhile: receive loops receive nothing, and a message in flight when the handler died keeps
//!   its lock and is posted again to the new handler instead of being abandoned (which would burn a delivery count
//!   each time, and dead-letter it within milliseconds).
//! - [`FunctionsHost::shutdown`] is graceful: the receive loops and timers stop taking new work, invocations in
//!   flight finish and are settled, then the handler gets SIGTERM.
//! - `release_stale_locks`: at start, messages still locked by a previous host on the same queues (one killed with
//!   SIGKILL) are made visible again at once instead of after their lock expires.
//! - `POST /admin/functions/<name>` on the HTTP port fires a non-HTTP function, as the real host's admin API does.
//!
//! Test hooks: `deliver_twice`, [`FunctionsHost::kill_handler`], [`FunctionsHost::restart_handler`], and the
//! [`Observer`] of invocations. Files: the handler's stdout and stderr and the host's own lines go to `log_file`, each stderr line marked
//! [`STDERR_MARK`] (the real host logs a custom handler's stderr as errors).

mod client;
pub mod definition;
mod front;
pub mod ncrontab;
pub mod payload;
mod supervisor;
#[cfg(test)]
mod tests;

pub use definition::{AppDefinition, FunctionDef, HandlerCommand, Output, Trigger};
pub use payload::HttpResponse;

use crate::fsutil::unique_id;
use crate::queue::{DiskQueue, LocalBus, NewMessage, QueueOptions, Received, WakeListener};
use chrono::{DateTime, Utc};
use nightshift_core::ports::PortError;
use payload::{HttpRequest, InvocationResponse, ScheduleStatus};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::Child;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("function app configuration: {0}")]
    Config(String),
    #[error("custom handler: {0}")]
    Handler(String),
    #[error("no function {0:?} with that kind of trigger")]
    UnknownFunction(String),
    #[error("no HTTP function answers {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("invocation of {function} failed: {detail}")]
    InvocationFailed {
        function: String,
        /// The handler's status; None when it gave no answer.
        status: Option<u16>,
        detail: String,
    },
    #[error(transparent)]
    Queue(#[from] PortError),
}

/// Starts each line the handler wrote on stderr in the host log: the Functions host records those lines as errors
/// (`UseStdErrorStreamForErrorsOnly`), so tests can tell them from stdout's information.
pub const STDERR_MARK: &str = "[handler stderr] ";

async fn mark_stderr(stderr: tokio::process::ChildStderr, mut log: std::fs::File) {
    use std::io::Write;
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        // One write per line, on a file opened for appending: lines from stdout are never cut in two.
        let _ = log.write_all(format!("{STDERR_MARK}{line}\n").as_bytes());
    }
}

/// How to run the host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Holds `host.json` and `function-definitions/`.
    pub app_root: PathBuf,
    pub handler: HandlerCommand,
    /// For `%NAME%` expansion; also the handler's environment, as in Azure.
    pub app_settings: BTreeMap<String, String>,
    /// One subdirectory per queue (see [`LocalBus`]).
    pub queues_dir: PathBuf,
    pub queue_options: QueueOptions,
    /// The handler's stdout and stderr, and the host's own lines (appended).
    pub log_file: PathBuf,
    /// Serve HTTP triggers on `127.0.0.1:<port>` (0 picks a free port); None serves nothing.
    pub http_port: Option<u16>,
    /// Service Bus invocations in flight per function, instead of host.json's `extensions.serviceBus.maxConcurrentCalls`
    /// ([`AppDefinition::max_concurrent_calls`]). Default None: host.json decides, as on Azure.
    pub max_concurrent_calls: Option<usize>,
    /// The peek-lock a Service Bus invocation holds. Default 5 minutes.
    pub lock_duration: Duration,
    /// How often idle receive loops look at their queue. Default 10 ms.
    pub poll_interval: Duration,
    /// How long the handler has to answer `GET /`. Default 60 s.
    pub startup_timeout: Duration,
    /// Fire timers on their schedules (off: only `invoke_timer`). Default on.
    pub run_timers: bool,
    /// Test hook: after a successful Service Bus invocation, deliver the same message once more with the next
    /// delivery count before completing it, as if its lock had been lost.
    pub deliver_twice: bool,
    /// At start, abandon the messages a previous host left locked on the trigger queues. Only when this host is
    /// the queues' only consumer (the caller holds the state directory's lock).
    pub release_stale_locks: bool,
}

impl HostConfig {
    pub fn new(
        app_root: impl Into<PathBuf>,
        handler: HandlerCommand,
        queues_dir: impl Into<PathBuf>,
        log_file: impl Into<PathBuf>,
    ) -> Self {
        Self {
            app_root: app_root.into(),
            handler,
            app_settings: BTreeMap::new(),
            queues_dir: queues_dir.into(),
            queue_options: QueueOptions::default(),
            log_file: log_file.into(),
            http_port: None,
            max_concurrent_calls: None,
            lock_duration: Duration::from_secs(300),
            poll_interval: Duration::from_millis(10),
            startup_timeout: Duration::from_secs(60),
            run_timers: true,
            deliver_twice: false,
            release_stale_locks: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    Timer,
    ServiceBus,
    Http,
}

/// One invocation, as the observer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationRecord {
    pub function: String,
    pub trigger: TriggerKind,
    /// The handler's HTTP status; None when it gave no answer (not running, connection lost, timeout).
    pub status: Option<u16>,
    /// 2xx, and the outputs went out.
    pub succeeded: bool,
    pub error: Option<String>,
    pub delivery_count: Option<u32>,
    pub message_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// Counts invocations per function and their outcomes. A Service Bus invocation is recorded once its message is
/// settled (completed or abandoned) and its outputs sent.
pub struct Observer {
    records: Mutex<Vec<InvocationRecord>>,
    changed: watch::Sender<usize>,
}

impl Observer {
    fn new() -> Self {
        Self {
            records: Mutex::new(Vec::new()),
            changed: watch::channel(0).0,
        }
    }

    fn push(&self, record: InvocationRecord) {
        let n = {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            records.push(record);
            records.len()
        };
        self.changed.send_replace(n);
    }

    /// Every invocation so far, in the order they finished.
    pub fn invocations(&self) -> Vec<InvocationRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The invocations of one function.
    pub fn of(&self, function: &str) -> Vec<InvocationRecord> {
        self.invocations()
            .into_iter()
            .filter(|r| r.function == function)
            .collect()
    }

    pub fn count(&self, function: &str) -> usize {
        self.of(function).len()
    }

    /// The handler's statuses for one function (None: no answer).
    pub fn statuses(&self, function: &str) -> Vec<Option<u16>> {
        self.of(function).iter().map(|r| r.status).collect()
    }

    /// Waits until `condition` holds for the invocations so far, or `timeout` passes; says whether it held.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        condition: impl Fn(&[InvocationRecord]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.changed.subscribe();
        loop {
            if condition(&self.invocations()) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return condition(&self.invocations()),
            }
        }
    }
}

#[derive(Default)]
struct TimerMemory {
    last: Option<DateTime<Utc>>,
    last_updated: Option<DateTime<Utc>>,
}

struct Inner {
    config: HostConfig,
    app: AppDefinition,
    bus: LocalBus,
    handler: tokio::sync::Mutex<Option<Child>>,
    handler_port: AtomicU16,
    handler_up: AtomicBool,
    observer: Observer,
    /// Queue name -> the receive loops to wake when the host itself sends to it.
    wake: HashMap<String, Vec<Arc<Notify>>>,
    wake_of: HashMap<String, Arc<Notify>>,
    timers: HashMap<String, tokio::sync::Mutex<TimerMemory>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    http_addr: Mutex<Option<SocketAddr>>,
    /// Mirrors `handler_up`, for waiting on it.
    up_changed: watch::Sender<bool>,
    /// Set by the `kill_handler` test hook: the supervisor leaves the handler down until `start_handler`.
    suspended: AtomicBool,
    /// Set by `shutdown`: take no new work.
    stopping: watch::Sender<bool>,
    /// Service Bus invocations in flight, and a wake-up when one ends.
    in_flight: AtomicUsize,
    settled: Notify,
    restarts: AtomicU32,
}

/// The running local Functions host. Dropping it stops its loops and kills the handler; prefer
/// [`FunctionsHost::shutdown`], which lets the handler exit on SIGTERM.
pub struct FunctionsHost {
    inner: Arc<Inner>,
}

/// How often an idle receive loop receives even though its queue's stamp has not changed.
const FULL_RECEIVE_EVERY: Duration = Duration::from_millis(250);

/// The supervisor's backoff between restarts of a dead handler: doubling from the first to the last, and back to
/// the first once a handler has stayed up for `BACKOFF_RESET`.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
const BACKOFF_RESET: Duration = Duration::from_secs(30);
/// How often the supervisor looks at the handler process.
const SUPERVISE_EVERY: Duration = Duration::from_millis(100);
/// How long `shutdown` waits for invocations in flight before it stops the handler anyway.
const DRAIN_DEFAULT: Duration = Duration::from_secs(120);
/// What `post` says when the function timed out (a real failure, not a handler that went away).
const TIMED_OUT: &str = "timed out after";

fn free_port() -> Result<u16, HostError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| HostError::Handler(format!("finding a free port: {e}")))
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

impl FunctionsHost {
    /// Loads the function app, starts the handler and waits until it answers, then starts the triggers.
    pub async fn start(config: HostConfig) -> Result<Self, HostError> {
        let app = AppDefinition::load(&config.app_root, &config.app_settings)?;
        let bus = LocalBus::new(&config.queues_dir, config.queue_options.clone());
        let mut wake: HashMap<String, Vec<Arc<Notify>>> = HashMap::new();
        let mut wake_of = HashMap::new();
        let mut timers = HashMap::new();
        for f in &app.functions {
            match &f.trigger {
                Trigger::ServiceBus { queue, .. } => {
                    bus.queue(queue)?;
                    let n = Arc::new(Notify::new());
                    wake.entry(queue.clone()).or_default().push(n.clone());
                    wake_of.insert(f.name.clone(), n);
                }
                Trigger::Timer { .. } => {
                    timers.insert(
                        f.name.clone(),
                        tokio::sync::Mutex::new(TimerMemory::default()),
                    );
                }
                Trigger::Http { .. } => {}
            }
        }
        let inner = Arc::new(Inner {
            config,
            app,
            bus,
            handler: tokio::sync::Mutex::new(None),
            handler_port: AtomicU16::new(0),
            handler_up: AtomicBool::new(false),
            observer: Observer::new(),
            wake,
            wake_of,
            timers,
            tasks: Mutex::new(Vec::new()),
            http_addr: Mutex::new(None),
            up_changed: watch::channel(false).0,
            suspended: AtomicBool::new(false),
            stopping: watch::channel(false).0,
            in_flight: AtomicUsize::new(0),
            settled: Notify::new(),
            restarts: AtomicU32::new(0),
        });
        if inner.config.release_stale_locks {
            inner.release_stale_locks().await;
        }
        inner.start_handler().await?;
        let mut tasks = vec![tokio::spawn(inner.clone().supervise())];
        for queue in inner.wake.keys() {
            tasks.push(tokio::spawn(inner.clone().doorbell(queue.clone())));
        }
        for f in &inner.app.functions {
            match &f.trigger {
                Trigger::ServiceBus { .. } => {
                    tasks.push(tokio::spawn(inner.clone().service_bus_loop(f.name.clone())));
                }
                Trigger::Timer { .. } if inner.config.run_timers => {
                    tasks.push(tokio::spawn(inner.clone().timer_loop(f.name.clone())));
                }
                _ => {}
            }
        }
        if let Some(port) = inner.config.http_port {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| HostError::Config(format!("binding HTTP port {port}: {e}")))?;
            let addr = listener
                .local_addr()
                .map_err(|e| HostError::Config(format!("HTTP address: {e}")))?;
            *inner.http_addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(addr);
            let router = axum::Router::new()
                .route(
                    "/admin/functions/{name}",
                    axum::routing::post(front::admin_invoke),
                )
                .fallback(front::serve_http)
                .with_state(inner.clone());
            let mut stop = inner.stopping.subscribe();
            tasks.push(tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.changed().await;
                };
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::error!("HTTP trigger server stopped: {e}");
                }
            }));
            inner.log_line(&format!(
                "HTTP triggers on http://{addr}/{}/",
                inner.app.route_prefix
            ));
        }
        inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(tasks);
        Ok(Self { inner })
    }

    /// The function app as loaded.
    pub fn app(&self) -> &AppDefinition {
        &self.inner.app
    }

    /// The queues; messages sent here reach the Service Bus triggers within a poll interval.
    pub fn bus(&self) -> &LocalBus {
        &self.inner.bus
    }

    pub fn observer(&self) -> &Observer {
        &self.inner.observer
    }

    /// The port the handler listens on (it changes when the handler restarts).
    pub fn handler_port(&self) -> u16 {
        self.inner.handler_port.load(Ordering::SeqCst)
    }

    /// The handler's process id, while it runs (it changes when the handler restarts).
    pub async fn handler_pid(&self) -> Option<u32> {
        self.inner
            .handler
            .lock()
            .await
            .as_ref()
            .and_then(|c| c.id())
    }

    /// Where HTTP triggers are served, if they are.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        *self
            .inner
            .http_addr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Fires a timer function now (after any run of it in progress), as `nightshift up` does.
    pub async fn invoke_timer(&self, function: &str) -> Result<InvocationRecord, HostError> {
        self.inner.fire_timer(function).await
    }

    /// Calls an HTTP-triggered function as a request to `/<routePrefix>/<path>` would, and gives its `res` output.
    /// A failed invocation (non-2xx from the handler, or no answer) is an error, where a client would see a 500.
    pub async fn invoke_http(
        &self,
        function: &str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<HttpResponse, HostError> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let port = self.http_addr().map_or(7071, |a| a.port());
        let mut url = format!(
            "http://127.0.0.1:{port}/{}/{}",
            self.inner.app.route_prefix,
            path.trim_start_matches('/')
        );
        if !query.is_empty() {
            let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            url = format!("{url}?{}", q.join("&"));
        }
        let req = HttpRequest {
            method: method.to_ascii_uppercase(),
            url,
            query,
            headers: vec![("Host".into(), format!("127.0.0.1:{port}"))],
            body: None,
        };
        self.inner.http(Some(function), path, req).await
    }

    /// Starts the handler if it is not running.
    pub async fn start_handler(&self) -> Result<(), HostError> {
        self.inner.start_handler().await
    }

    /// Test hook: SIGKILLs the handler. In-flight invocations fail (their messages are abandoned), and receive
    /// loops pause until the handler is started again.
    pub async fn kill_handler(&self) {
        self.inner.kill_handler().await;
    }

    pub async fn restart_handler(&self) -> Result<(), HostError> {
        self.inner.kill_handler().await;
        self.inner.start_handler().await
    }

    /// How many times the supervisor started the handler again after it died.
    pub fn handler_restarts(&self) -> u32 {
        self.inner.restarts.load(Ordering::SeqCst)
    }

    /// Service Bus invocations in flight now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Stops taking work (receive loops, timers, the HTTP front end), lets the invocations in flight finish and
    /// settle (up to the function timeout), then stops the handler (SIGTERM, SIGKILL after 5 s).
    pub async fn shutdown(self) {
        self.inner.stopping.send_replace(true);
        let tasks: Vec<JoinHandle<()>> = self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        let drain = self.inner.app.function_timeout.unwrap_or(DRAIN_DEFAULT);
        let deadline = tokio::time::Instant::now() + drain;
        for mut task in tasks {
            // Receive loops and timers end on their own once the receive or timer run they are in is done.
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
        while self.inner.in_flight.load(Ordering::SeqCst) > 0 {
            let settled = self.inner.settled.notified();
            if self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                self.inner.log_line(&format!(
                    "{} invocations still in flight after {drain:?}: stopping anyway (their messages are redelivered)",
                    self.inner.in_flight.load(Ordering::SeqCst)
                ));
                break;
            }
        }
        self.inner.set_up(false);
        let child = self.inner.handler.lock().await.take();
        if let Some(mut child) = child {
            if let Some(pid) = child.id() {
                // SAFETY: signals the handler process we started.
                unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            }
            if tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        self.inner.log_line("host stopped");
    }
}

impl Drop for FunctionsHost {
    fn drop(&mut self) {
        self.inner.abort_tasks();
        if let Ok(mut slot) = self.inner.handler.try_lock() {
            if let Some(child) = slot.as_mut() {
                let _ = child.start_kill();
            }
        }
    }
}

impl Inner {
    fn set_up(&self, up: bool) {
        self.handler_up.store(up, Ordering::SeqCst);
        self.up_changed.send_replace(up);
    }

    fn stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    fn abort_tasks(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }

    /// A line in the host log (the file the handler's output goes to) and in tracing.
    fn log_line(&self, line: &str) {
        tracing::info!(target: "nightshift::host", "{line}");
        let text = format!("{} [host] {line}\n", Utc::now().to_rfc3339());
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.config.log_file)
            .and_then(|mut f| f.write_all(text.as_bytes()));
    }

    /// POSTs an invocation; Err when there is no HTTP answer.
    async fn post(&self, function: &str, body: &Value) -> Result<(u16, Vec<u8>), String> {
        if !self.handler_up.load(Ordering::SeqCst) {
            return Err("the handler is not running".into());
        }
        let port = self.handler_port.load(Ordering::SeqCst);
        let path = format!("/{function}");
        let call = client::post_json(port, &path, body);
        match self.app.function_timeout {
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .map_err(|_| format!("{TIMED_OUT} {limit:?} (functionTimeout)"))?,
            None => call.await,
        }
    }

    /// Acts on the answer: on 2xx, forwards Logs and sends the Service Bus outputs; builds the record.
    async fn finish(
        &self,
        f: &FunctionDef,
        trigger: TriggerKind,
        result: Result<(u16, Vec<u8>), String>,
    ) -> (InvocationRecord, Option<InvocationResponse>) {
        let mut record = InvocationRecord {
            function: f.name.clone(),
            trigger,
            status: None,
            succeeded: false,
            error: None,
            delivery_count: None,
            message_id: None,
            at: Utc::now(),
        };
        match result {
            Ok((status, bytes)) if is_success(status) => {
                record.status = Some(status);
                let resp = InvocationResponse::parse(&bytes);
                for line in &resp.logs {
                    self.log_line(&format!("{}: {line}", f.name));
                }
                match self.send_outputs(f, &resp).await {
                    Ok(()) => record.succeeded = true,
                    Err(e) => record.error = Some(e),
                }
                return (record, Some(resp));
            }
            Ok((status, bytes)) => {
                record.status = Some(status);
                let text = String::from_utf8_lossy(&bytes);
                let snippet: String = text.chars().take(500).collect();
                record.error = Some(format!("the handler answered {status}: {snippet}"));
            }
            Err(e) => record.error = Some(e),
        }
        self.log_line(&format!(
            "{} failed: {}",
            f.name,
            record.error.as_deref().unwrap_or_default()
        ));
        (record, None)
    }

    async fn send_outputs(&self, f: &FunctionDef, resp: &InvocationResponse) -> Result<(), String> {
        for out in &f.outputs {
            let Output::ServiceBus { binding, queue } = out else {
                continue;
            };
            let Some(value) = resp.outputs.get(binding) else {
                continue;
            };
            let bodies = payload::output_messages(value);
            if bodies.is_empty() {
                continue;
            }
            for body in &bodies {
                if payload::looks_like_base64(body) {
                    self.log_line(&format!(
                        "{}: output {binding} {body:?} is valid base64: the real host would send the decoded bytes",
                        f.name
                    ));
                }
            }
            let q = self.bus.queue(queue).map_err(|e| e.to_string())?;
            tokio::task::spawn_blocking(move || {
                for body in bodies {
                    q.send(NewMessage::new(body, unique_id()))?;
                }
                Ok::<_, PortError>(())
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("sending output {binding} to {queue}: {e}"))?;
            for n in self.wake.get(queue).into_iter().flatten() {
                n.notify_one();
            }
        }
        Ok(())
    }

    /// Wakes a queue's receive loops when another process (a runner job, the CLI) sends to it: see
    /// [`WakeListener`]. Without the socket, the loops still find the message at their next look.
    async fn doorbell(self: Arc<Self>, queue: String) {
        let dir = self.bus.dir().join(&queue);
        let listener = match WakeListener::bind(&dir) {
            Ok(l) => l,
            Err(e) => {
                self.log_line(&format!(
                    "{queue}: no wake-up socket ({e}): messages from other processes are seen within {:?}",
                    self.config.poll_interval
                ));
                return;
            }
        };
        let mut stop = self.stopping.subscribe();
        loop {
            tokio::select! {
                rung = listener.rung() => {
                    if let Err(e) = rung {
                        self.log_line(&format!("{queue}: wake-up socket: {e}"));
                        return;
                    }
                }
                _ = stop.changed() => return,
            }
            for n in self.wake.get(&queue).into_iter().flatten() {
                n.notify_one();
            }
        }
    }

    async fn service_bus_loop(self: Arc<Self>, function: String) {
        let Some(f) = self.app.function(&function).cloned() else {
            return;
        };
        let Trigger::ServiceBus { binding, queue } = f.trigger.clone() else {
            return;
        };
        let q = match self.bus.queue(&queue) {
            Ok(q) => q,
            Err(e) => {
                self.log_line(&format!("{function}: cannot open queue {queue}: {e}"));
                return;
            }
        };
        let wake = self.wake_of.get(&function).cloned().unwrap_or_default();
        let calls = self
            .config
            .max_concurrent_calls
            .unwrap_or(self.app.max_concurrent_calls);
        let permits = Arc::new(Semaphore::new(calls.max(1)));
        let poll = self.config.poll_interval;
        let mut stop = self.stopping.subscribe();
        loop {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            if self.stopping() {
                return;
            }
            if !self.handler_up.load(Ordering::SeqCst) {
                drop(permit);
                tokio::time::sleep(poll).await;
                continue;
            }
            let receiver = q.clone();
            let lock = self.config.lock_duration;
            let stamp = q.change_stamp();
            match tokio::task::spawn_blocking(move || receiver.receive(lock)).await {
                Ok(Ok(Some(message))) => {
                    let (me, f, binding, q) = (self.clone(), f.clone(), binding.clone(), q.clone());
                    self.in_flight.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        me.deliver(&f, &binding, &q, message).await;
                        drop(permit);
                        me.in_flight.fetch_sub(1, Ordering::SeqCst);
                        me.settled.notify_waiters();
                    });
                }
                Ok(Ok(None)) => {
                    drop(permit);
                    // Idle: look at the directory's stamp each poll interval, and receive again when it changed,
                    // when woken, or at least every FULL_RECEIVE_EVERY (scheduled messages, expired locks).
                    let idle_since = tokio::time::Instant::now();
                    loop {
                        tokio::select! {
                            _ = wake.notified() => break,
                            _ = stop.changed() => return,
                            _ = tokio::time::sleep(poll) => {}
                        }
                        if q.change_stamp() != stamp || idle_since.elapsed() >= FULL_RECEIVE_EVERY {
                            break;
                        }
                    }
                }
                Ok(Err(e)) => {
                    drop(permit);
                    self.log_line(&format!("{function}: receiving from {queue}: {e}"));
                    tokio::time::sleep(poll * 50).await;
                }
                Err(e) => {
                    drop(permit);
                    self.log_line(&format!("{function}: receive task failed: {e}"));
                    tokio::time::sleep(poll * 50).await;
                }
            }
        }
    }

    async fn invoke_message(
        &self,
        f: &FunctionDef,
        binding: &str,
        m: &Received,
    ) -> InvocationRecord {
        let body = payload::service_bus_request(&f.name, binding, m, Utc::now(), &unique_id());
        let mut result = self.post(&f.name, &body).await;
        // No answer because the handler went away: keep the lock and post again to the handler the supervisor
        // starts, rather than abandon (which burns a delivery each time). A handler that runs and answers `GET /`
        // but not this call, a timeout, a deliberate kill or the host stopping: a failed delivery, as before.
        while let Err(e) = &result {
            if e.starts_with(TIMED_OUT) || self.stopping() || self.suspended.load(Ordering::SeqCst)
            {
                break;
            }
            if self.handler_answers().await {
                break;
            }
            self.set_up(false);
            let margin = chrono::Duration::seconds(5);
            let Ok(left) = (m.locked_until - margin - Utc::now()).to_std() else {
                break;
            };
            if !self.wait_up(tokio::time::Instant::now() + left).await {
                break;
            }
            result = self.post(&f.name, &body).await;
        }
        let (mut record, _) = self.finish(f, TriggerKind::ServiceBus, result).await;
        record.delivery_count = Some(m.delivery_count);
        record.message_id = Some(m.message_id.clone());
        record
    }

    async fn deliver(&self, f: &FunctionDef, binding: &str, q: &DiskQueue, m: Received) {
        let mut records = vec![self.invoke_message(f, binding, &m).await];
        if records[0].succeeded && self.config.deliver_twice {
            let mut again = m.clone();
            again.delivery_count += 1;
            again.lock_token = unique_id();
            records.push(self.invoke_message(f, binding, &again).await);
        }
        let ok = records.last().is_some_and(|r| r.succeeded);
        let (queue, token) = (q.clone(), m.lock_token.clone());
        let settled = tokio::task::spawn_blocking(move || {
            if ok {
                queue.complete(&token)
            } else {
                queue.abandon(&token)
            }
        })
        .await;
        if !ok {
            // Visible again at once: let this function's receive loop know.
            if let Some(n) = self.wake_of.get(&f.name) {
                n.notify_one();
            }
        }
        match settled {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.log_line(&format!(
                "{}: settling message {}: {e}",
                f.name, m.message_id
            )),
            Err(e) => self.log_line(&format!("{}: settling task failed: {e}", f.name)),
        }
        for record in records {
            self.observer.push(record);
        }
    }

    async fn fire_timer(&self, function: &str) -> Result<InvocationRecord, HostError> {
        let unknown = || HostError::UnknownFunction(function.to_string());
        let f = self.app.function(function).ok_or_else(unknown)?;
        let Trigger::Timer {
            binding, schedule, ..
        } = &f.trigger
        else {
            return Err(unknown());
        };
        let mut memory = self.timers.get(function).ok_or_else(unknown)?.lock().await;
        let now = Utc::now();
        let status = memory.last.map(|last| ScheduleStatus {
            last,
            next: schedule.next_after(now).unwrap_or(now),
            last_updated: memory.last_updated.unwrap_or(last),
        });
        let body = payload::timer_request(function, binding, status, now, &unique_id());
        // A handler being restarted gets its chance: timers are not retried.
        self.wait_up(tokio::time::Instant::now() + self.config.startup_timeout)
            .await;
        let result = self.post(function, &body).await;
        let (record, _) = self.finish(f, TriggerKind::Timer, result).await;
        memory.last = Some(now);
        memory.last_updated = Some(Utc::now());
        self.observer.push(record.clone());
        Ok(record)
    }

    async fn timer_loop(self: Arc<Self>, function: String) {
        let Some(Trigger::Timer {
            schedule,
            run_on_startup,
            ..
        }) = self.app.function(&function).map(|f| f.trigger.clone())
        else {
            return;
        };
        if run_on_startup {
            let _ = self.fire_timer(&function).await;
        }
        let mut after = Utc::now();
        let mut stop = self.stopping.subscribe();
        loop {
            let Some(next) = schedule.next_after(after) else {
                self.log_line(&format!(
                    "{function}: schedule {schedule} has no next occurrence"
                ));
                return;
            };
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            if self.stopping() {
                return;
            }
            let _ = self.fire_timer(&function).await;
            // A run longer than the interval skips the occurrences it overlapped, as the real host does.
            after = Utc::now().max(next);
        }
    }

    async fn http(
        &self,
        function: Option<&str>,
        path: &str,
        req: HttpRequest,
    ) -> Result<HttpResponse, HostError> {
        let method = req.method.to_ascii_lowercase();
        let found = self.app.functions.iter().find_map(|f| {
            if function.is_some_and(|name| name != f.name) {
                return None;
            }
            let Trigger::Http {
                binding,
                methods,
                route,
            } = &f.trigger
            else {
                return None;
            };
            if !methods.is_empty() && !methods.contains(&method) {
                return None;
            }
            payload::match_route(route, path).map(|params| (f, binding, params))
        });
        let Some((f, binding, params)) = found else {
            return Err(match function {
                Some(name) if self.app.function(name).is_none() => {
                    HostError::UnknownFunction(name.into())
                }
                _ => HostError::NoRoute {
                    method: req.method,
                    path: path.to_string(),
                },
            });
        };
        let body = payload::http_request(&f.name, binding, &req, &params, Utc::now(), &unique_id());
        let result = self.post(&f.name, &body).await;
        let (record, resp) = self.finish(f, TriggerKind::Http, result).await;
        self.observer.push(record.clone());
        let Some(resp) = resp.filter(|_| record.succeeded) else {
            return Err(HostError::InvocationFailed {
                function: f.name.clone(),
                status: record.status,
                detail: record.error.unwrap_or_default(),
            });
        };
        let out = f.outputs.iter().find_map(|o| match o {
            Output::Http { binding } => Some(binding.as_str()),
            _ => None,
        });
        let value = match out {
            Some("$return") => Some(&resp.return_value),
            Some(name) => resp.outputs.get(name),
            None => None,
        };
        Ok(HttpResponse::from_output(value))
    }
}
