//! Tests of the local host against a fake custom handler: this very test binary, re-run as a child process with
//! `FAKE_HANDLER_RECORD` set so that only `fake_handler_serves_when_a_host_test_spawns_it` runs, and serves. It
//! records every invocation it receives, so the tests assert the exact JSON the host sends.

use super::*;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use std::path::Path;

const FAKE_TEST: &str = "host::tests::fake_handler_serves_when_a_host_test_spawns_it";

#[test]
fn fake_handler_serves_when_a_host_test_spawns_it() {
    let Ok(record) = std::env::var("FAKE_HANDLER_RECORD") else {
        return; // an ordinary test run: nothing to serve
    };
    let port: u16 = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT")
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { StatusCode::NOT_FOUND }))
            .route("/{function}", axum::routing::post(fake_invoke))
            .with_state(Arc::new(PathBuf::from(record)));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

async fn fake_invoke(
    State(record): State<Arc<PathBuf>>,
    UrlPath(function): UrlPath<String>,
    body: String,
) -> axum::response::Response {
    // How many invocations this handler is serving now, this one included (the slow ones overlap).
    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let in_flight = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
    let _leave = Leave;
    let invocation: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let line = json!({"function": function, "body": invocation, "in_flight": in_flight})
        .to_string()
        + "\n";
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&*record)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .unwrap();
    let answer = |v: Value| (StatusCode::OK, axum::Json(v)).into_response();
    match function.as_str() {
        "echo" => {
            let message = invocation["Data"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if message.contains("slow") {
                tokio::time::sleep(Duration::from_millis(800)).await;
            }
            if message.contains("hang") && invocation["Metadata"]["DeliveryCount"] == "1" {
                std::future::pending::<()>().await;
            }
            answer(json!({"Outputs": {"out": [message, {"n": 1}]}, "Logs": ["echoed"]}))
        }
        "fail" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "tick" => answer(json!({"Outputs": {}, "Logs": ["tick"]})),
        "status" => {
            let path = invocation["Data"]["req"]["Params"]["path"].clone();
            answer(json!({"Outputs": {"res": {
                "statusCode": 200,
                "status": 200,
                "body": json!({"path": path}).to_string(),
                "headers": {"Content-Type": "application/json"},
            }}}))
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Fixture {
    dir: tempfile::TempDir,
}

fn write(path: &Path, value: Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

impl Fixture {
    /// A function app with one function per trigger kind, answered by the fake handler.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        write(
            &app.join("host.json"),
            json!({"version": "2.0", "functionTimeout": "00:01:00",
                   "customHandler": {"description": {"defaultExecutablePath": "handler"}}}),
        );
        let defs = app.join("function-definitions");
        write(
            &defs.join("echo/function.json"),
            json!({"bindings": [
                {"name": "message", "type": "serviceBusTrigger", "direction": "in", "queueName": "%INBOX%", "connection": "ServiceBus"},
                {"name": "out", "type": "serviceBus", "direction": "out", "queueName": "outbox", "connection": "ServiceBus"}]}),
        );
        write(
            &defs.join("fail/function.json"),
            json!({"bindings": [{"name": "message", "type": "serviceBusTrigger", "direction": "in", "queueName": "poison"}]}),
        );
        write(
            &defs.join("tick/function.json"),
            json!({"bindings": [{"name": "timer", "type": "timerTrigger", "direction": "in", "schedule": "%TICK_SCHEDULE%"}]}),
        );
        write(
            &defs.join("status/function.json"),
            json!({"bindings": [
                {"name": "req", "type": "httpTrigger", "direction": "in", "authLevel": "function", "methods": ["get"], "route": "status/{*path}"},
                {"name": "res", "type": "http", "direction": "out"}]}),
        );
        Self { dir }
    }

    fn record(&self) -> PathBuf {
        self.dir.path().join("invocations.jsonl")
    }

    fn config(&self) -> HostConfig {
        let exe = std::env::current_exe().unwrap();
        let mut handler = HandlerCommand::new(
            exe,
            [FAKE_TEST, "--exact", "--nocapture", "--test-threads=1"],
        );
        handler.env.insert(
            "FAKE_HANDLER_RECORD".into(),
            self.record().display().to_string(),
        );
        let mut config = HostConfig::new(
            self.dir.path().join("app"),
            handler,
            self.dir.path().join("queues"),
            self.dir.path().join("host.log"),
        );
        config.app_settings.insert("INBOX".into(), "inbox".into());
        config
            .app_settings
            .insert("TICK_SCHEDULE".into(), "0 0 0 1 1 *".into());
        config.run_timers = false;
        config
    }

    /// The invocation bodies the fake handler received for one function, in order.
    fn received(&self, function: &str) -> Vec<Value> {
        std::fs::read_to_string(self.record())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["function"] == function)
            .map(|v| v["body"].clone())
            .collect()
    }
}

const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `condition` until it holds or a generous deadline passes.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

fn send(host: &FunctionsHost, queue: &str, body: &str, id: &str) {
    let mut m = NewMessage::new(body, id);
    m.correlation_id = Some("corr-1".into());
    host.bus().queue(queue).unwrap().send(m).unwrap();
}

#[tokio::test]
async fn a_service_bus_invocation_has_the_real_hosts_shape_and_its_outputs_are_enqueued() {
    let fx = Fixture::new();
    let host = FunctionsHost::start(fx.config()).await.unwrap();
    send(&host, "inbox", r#"{"run":"r1","attempt":2}"#, "m-1");

    assert!(host.observer().wait_for(PATIENCE, |r| !r.is_empty()).await);

    let sent = fx.received("echo");
    assert_eq!(sent.len(), 1);
    let inv = &sent[0];
    assert_eq!(
        inv["Data"]["message"],
        json!(r#"{"run":"r1","attempt":2}"#),
        "the body is a JSON string"
    );
    let meta = &inv["Metadata"];
    assert_eq!(meta["MessageId"], "\"m-1\"");
    assert_eq!(meta["CorrelationId"], "\"corr-1\"");
    assert_eq!(meta["DeliveryCount"], "1");
    assert_eq!(meta["SequenceNumber"], "1");
    assert_eq!(meta["ApplicationProperties"], json!({}));
    assert_eq!(
        meta["run"], "\"r1\"",
        "top-level body properties appear in Metadata"
    );
    let enqueued = meta["EnqueuedTimeUtc"].as_str().unwrap();
    assert!(
        !enqueued.ends_with('Z') && !enqueued.contains('+'),
        "{enqueued}"
    );
    assert!(meta["LockToken"].as_str().unwrap().starts_with('"'));
    assert_eq!(meta["sys"]["MethodName"], "echo");
    assert!(meta["sys"]["UtcNow"].as_str().unwrap().ends_with('Z'));
    assert_eq!(meta["sys"]["RandGuid"].as_str().unwrap().len(), 36);

    let outbox = host.bus().queue("outbox").unwrap().peek_all().unwrap();
    let bodies: Vec<&str> = outbox.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, vec![r#"{"run":"r1","attempt":2}"#, r#"{"n":1}"#]);
    assert_ne!(outbox[0].message_id, outbox[1].message_id);
    assert!(
        host.bus().queue("inbox").unwrap().is_empty().unwrap(),
        "completed"
    );
    let log = std::fs::read_to_string(fx.dir.path().join("host.log")).unwrap();
    assert!(
        log.contains("echo: echoed"),
        "Logs are forwarded to the host log"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_failing_invocation_is_redelivered_then_dead_lettered_after_the_maximum() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.queue_options.max_delivery_count = 3;
    let host = FunctionsHost::start(config).await.unwrap();
    send(&host, "poison", r#"{"x":1}"#, "p-1");

    let poison = host.bus().queue("poison").unwrap();
    // The last abandon dead-letters the message before the host has recorded that invocation: wait for both.
    assert!(
        eventually(
            || poison.dead_letters().unwrap().len() == 1 && host.observer().count("fail") == 3
        )
        .await
    );

    let counts: Vec<Value> = fx
        .received("fail")
        .iter()
        .map(|i| i["Metadata"]["DeliveryCount"].clone())
        .collect();
    assert_eq!(counts, vec![json!("1"), json!("2"), json!("3")]);
    assert_eq!(host.observer().statuses("fail"), vec![Some(500); 3]);
    assert_eq!(
        poison.dead_letters().unwrap()[0].reason,
        crate::queue::MAX_DELIVERY_COUNT_EXCEEDED
    );
    assert!(poison.is_empty().unwrap());
    host.shutdown().await;
}

#[tokio::test]
async fn a_timer_fires_on_its_schedule_with_the_documented_data_shape() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.run_timers = true;
    config
        .app_settings
        .insert("TICK_SCHEDULE".into(), "* * * * * *".into());
    let host = FunctionsHost::start(config).await.unwrap();

    assert!(
        host.observer()
            .wait_for(PATIENCE, |r| r.iter().any(|r| r.function == "tick"))
            .await
    );

    let first = &fx.received("tick")[0];
    let timer = &first["Data"]["timer"];
    assert_eq!(timer["Schedule"], json!({"AdjustForDST": true}));
    assert_eq!(timer["IsPastDue"], json!(false));
    assert_eq!(
        timer["ScheduleStatus"],
        Value::Null,
        "no earlier run in this host"
    );
    assert_eq!(first["Metadata"]["sys"]["MethodName"], "tick");
    host.shutdown().await;
}

#[tokio::test]
async fn a_timer_fired_by_hand_reports_its_schedule_status_from_the_second_run_on() {
    let fx = Fixture::new();
    let host = FunctionsHost::start(fx.config()).await.unwrap();

    let first = host.invoke_timer("tick").await.unwrap();
    let second = host.invoke_timer("tick").await.unwrap();

    assert!(first.succeeded && second.succeeded);
    let sent = fx.received("tick");
    assert_eq!(sent[0]["Data"]["timer"]["ScheduleStatus"], Value::Null);
    let status = &sent[1]["Data"]["timer"]["ScheduleStatus"];
    for key in ["Last", "Next", "LastUpdated"] {
        assert!(
            status[key].as_str().unwrap().ends_with("+00:00"),
            "{status}"
        );
    }
    assert!(status["Next"].as_str().unwrap().starts_with(&format!(
        "{}-01-01T00:00:00",
        Utc::now().format("%Y").to_string().parse::<i32>().unwrap() + 1
    )));
    assert!(matches!(
        host.invoke_timer("echo").await,
        Err(HostError::UnknownFunction(_))
    ));
    host.shutdown().await;
}

#[tokio::test]
async fn an_http_trigger_gets_the_request_shape_and_its_res_output_is_the_answer() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.http_port = Some(0);
    let host = FunctionsHost::start(config).await.unwrap();

    let resp = host
        .invoke_http("status", "GET", "status/runs/r1", &[("verbose", "1")])
        .await
        .unwrap();

    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, r#"{"path":"runs/r1"}"#);
    assert_eq!(resp.headers["Content-Type"], "application/json");
    let req = &fx.received("status")[0]["Data"]["req"];
    assert_eq!(req["Method"], "GET");
    assert_eq!(req["Query"], json!({"verbose": "1"}));
    assert_eq!(req["Params"], json!({"path": "runs/r1"}));
    assert!(
        req["Headers"]["Host"].is_array(),
        "header values are arrays of strings"
    );
    assert!(req["Url"]
        .as_str()
        .unwrap()
        .ends_with("/api/status/runs/r1?verbose=1"));
    assert!(matches!(
        host.invoke_http("status", "POST", "status/x", &[]).await,
        Err(HostError::NoRoute { .. })
    ));

    // The same function over the loopback front end.
    let addr = host.http_addr().unwrap();
    let (status, body) = client::send(addr.port(), "GET", "/api/status/a%20b?x=1", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(
        (status, String::from_utf8(body).unwrap()),
        (200, r#"{"path":"a b"}"#.to_string())
    );
    let (status, _) = client::send(addr.port(), "GET", "/api/nothing", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(status, 404);
    host.shutdown().await;
}

#[tokio::test]
async fn deliver_twice_delivers_a_successful_message_again_with_the_next_delivery_count() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.deliver_twice = true;
    let host = FunctionsHost::start(config).await.unwrap();
    send(&host, "inbox", r#"{"run":"r2"}"#, "m-2");

    assert!(host.observer().wait_for(PATIENCE, |r| r.len() == 2).await);

    let counts: Vec<Value> = fx
        .received("echo")
        .iter()
        .map(|i| i["Metadata"]["DeliveryCount"].clone())
        .collect();
    assert_eq!(counts, vec![json!("1"), json!("2")]);
    let ids: Vec<Value> = fx
        .received("echo")
        .iter()
        .map(|i| i["Metadata"]["MessageId"].clone())
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(
        host.bus().queue("outbox").unwrap().len().unwrap(),
        4,
        "the real host's output ids are random"
    );
    assert!(host.bus().queue("inbox").unwrap().is_empty().unwrap());
    host.shutdown().await;
}

#[tokio::test]
async fn a_message_in_flight_when_the_handler_is_killed_is_redelivered_to_the_restarted_handler() {
    let fx = Fixture::new();
    let host = FunctionsHost::start(fx.config()).await.unwrap();
    let first_port = host.handler_port();
    send(&host, "inbox", r#"{"hang":true}"#, "m-3");
    assert!(
        eventually(|| fx.received("echo").len() == 1).await,
        "the handler got the message and hangs"
    );

    host.kill_handler().await;
    assert!(host.observer().wait_for(PATIENCE, |r| r.len() == 1).await);
    host.restart_handler().await.unwrap();
    assert!(host.observer().wait_for(PATIENCE, |r| r.len() == 2).await);

    let records = host.observer().of("echo");
    assert_eq!((records[0].status, records[0].succeeded), (None, false));
    assert_eq!(
        (records[1].delivery_count, records[1].succeeded),
        (Some(2), true)
    );
    assert_ne!(host.handler_port(), first_port);
    assert_eq!(
        host.bus().queue("outbox").unwrap().len().unwrap(),
        2,
        "outputs of the lost invocation never went out"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_handler_that_exits_at_once_fails_the_start_with_a_pointer_to_the_log() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.handler = HandlerCommand::new("/bin/sh", ["-c", "echo bad config >&2; exit 7"]);
    let err = FunctionsHost::start(config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("host.log"), "{err}");
    let log = std::fs::read_to_string(fx.dir.path().join("host.log")).unwrap();
    assert!(log.contains("bad config"));
}

#[tokio::test]
async fn the_handlers_stderr_lines_are_marked_in_the_host_log_and_its_stdout_lines_are_not() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.handler = HandlerCommand::new(
        "/bin/sh",
        ["-c", "echo information line; echo error line >&2; exit 7"],
    );
    assert!(FunctionsHost::start(config).await.is_err());
    let log = std::fs::read_to_string(fx.dir.path().join("host.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.contains(&"information line"), "{log}");
    assert!(lines.contains(&"[handler stderr] error line"), "{log}");
}

/// Not a pass/fail test (timings vary by machine): prints the send-to-settled latency of Service Bus invocations
/// and the host's CPU use while idle. Run with `cargo test -p nightshift-local -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn service_bus_latency_and_idle_cpu_are_reported() {
    fn cpu_ticks() -> u64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
    let fx = Fixture::new();
    let host = FunctionsHost::start(fx.config()).await.unwrap();
    let mut latencies = Vec::new();
    for i in 0..50 {
        let start = std::time::Instant::now();
        send(&host, "inbox", "{}", &format!("lat-{i}"));
        assert!(
            host.observer()
                .wait_for(PATIENCE, |r| r.len() == i + 1)
                .await
        );
        latencies.push(start.elapsed());
    }
    latencies.sort();
    println!(
        "send -> invocation settled: p50 {:?}, p90 {:?}, max {:?}",
        latencies[25], latencies[45], latencies[49]
    );
    let before = cpu_ticks();
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!(
        "idle CPU over 3 s: {} ticks (100 ticks = 1 CPU-second)",
        cpu_ticks() - before
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_handler_that_dies_is_restarted_and_no_message_is_dead_lettered_while_it_is_down() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.queue_options.max_delivery_count = 3;
    let host = FunctionsHost::start(config).await.unwrap();
    let first = host.handler_pid().await.unwrap();
    // The handler dies on its own (not through the test hook): nobody tells the host.
    // SAFETY: signals the fake handler process this test's host started.
    unsafe { libc::kill(first as i32, libc::SIGKILL) };
    for i in 0..5 {
        send(
            &host,
            "inbox",
            &format!(r#"{{"n":{i}}}"#),
            &format!("d-{i}"),
        );
    }

    assert!(
        host.observer()
            .wait_for(PATIENCE, |r| r.iter().filter(|r| r.succeeded).count() == 5)
            .await,
        "every message was handled by the restarted handler: {:?}",
        host.observer().invocations()
    );
    let restarted = host.handler_pid().await.unwrap();
    assert_ne!(restarted, first, "a new handler process runs");
    let inbox = host.bus().queue("inbox").unwrap();
    assert!(
        inbox.dead_letters().unwrap().is_empty(),
        "nothing dead-lettered"
    );
    assert!(
        host.observer()
            .of("echo")
            .iter()
            .all(|r| r.delivery_count <= Some(2)),
        "at most one delivery burnt per message while the handler was down: {:?}",
        host.observer().of("echo")
    );
    let log = std::fs::read_to_string(fx.dir.path().join("host.log")).unwrap();
    assert!(log.contains("restarting the handler"), "{log}");
    host.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_an_invocation_in_flight_finish_and_settles_its_message() {
    let fx = Fixture::new();
    let host = FunctionsHost::start(fx.config()).await.unwrap();
    send(&host, "inbox", r#"{"slow":true}"#, "s-1");
    assert!(eventually(|| fx.received("echo").len() == 1).await);
    assert_eq!(host.in_flight(), 1);
    let queues = fx.dir.path().join("queues");
    host.shutdown().await;

    let bus = LocalBus::new(&queues, QueueOptions::default());
    assert!(
        bus.queue("inbox").unwrap().is_empty().unwrap(),
        "the message was completed, not left locked"
    );
    assert_eq!(
        bus.queue("outbox").unwrap().len().unwrap(),
        2,
        "its outputs went out"
    );
}

#[tokio::test]
async fn messages_a_killed_host_left_locked_are_delivered_at_once_by_the_next_host() {
    let fx = Fixture::new();
    let bus = LocalBus::new(fx.dir.path().join("queues"), QueueOptions::default());
    let inbox = bus.queue("inbox").unwrap();
    inbox.send(NewMessage::new("{}", "l-1")).unwrap();
    // A host that died holding the lock for five minutes.
    let held = inbox.receive(Duration::from_secs(300)).unwrap().unwrap();
    let mut config = fx.config();
    config.release_stale_locks = true;
    let host = FunctionsHost::start(config).await.unwrap();

    assert!(
        host.observer()
            .wait_for(PATIENCE, |r| r.iter().any(|r| r.succeeded))
            .await
    );
    let record = &host.observer().of("echo")[0];
    assert_eq!(record.message_id.as_deref(), Some(held.message_id.as_str()));
    assert_eq!(record.delivery_count, Some(2));
    host.shutdown().await;
}

#[tokio::test]
async fn the_admin_api_fires_a_timer_function_and_refuses_an_unknown_one() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.http_port = Some(0);
    let host = FunctionsHost::start(config).await.unwrap();
    let port = host.http_addr().unwrap().port();

    let (status, _) = client::send(port, "POST", "/admin/functions/tick", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(status, 202);
    assert_eq!(fx.received("tick").len(), 1);
    let (status, _) = client::send(port, "POST", "/admin/functions/nope", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(status, 404);
    host.shutdown().await;
}

#[tokio::test]
async fn the_host_never_runs_more_invocations_of_a_function_at_once_than_host_json_max_concurrent_calls(
) {
    // Arrange: host.json allows two calls at once; six slow messages wait.
    let fx = Fixture::new();
    write(
        &fx.dir.path().join("app/host.json"),
        json!({"version": "2.0", "functionTimeout": "00:01:00",
               "customHandler": {"description": {"defaultExecutablePath": "handler"}},
               "extensions": {"serviceBus": {"maxConcurrentCalls": 2}}}),
    );
    let host = FunctionsHost::start(fx.config()).await.unwrap();
    assert_eq!(host.app().max_concurrent_calls, 2);
    for i in 0..6 {
        send(&host, "inbox", r#"{"slow":true}"#, &format!("s-{i}"));
    }

    // Act
    assert!(
        host.observer()
            .wait_for(PATIENCE, |r| r.iter().filter(|r| r.succeeded).count() == 6)
            .await
    );

    // Assert: never more than two at once in the handler, and two did overlap (the cap, not chance, bounded it).
    let seen: Vec<u64> = std::fs::read_to_string(fx.record())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["in_flight"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seen.len(), 6);
    assert_eq!(seen.iter().max(), Some(&2), "{seen:?}");
    host.shutdown().await;
}

#[test]
fn max_concurrent_calls_comes_from_host_json_and_a_bad_value_is_refused_naming_it() {
    let fx = Fixture::new();
    let settings = fx.config().app_settings;
    let root = fx.dir.path().join("app");
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../host.json");
    let original = std::fs::read(root.join("host.json")).unwrap();
    std::fs::copy(ours, root.join("host.json")).unwrap();
    let app = AppDefinition::load(&root, &settings).unwrap();
    assert_eq!(app.max_concurrent_calls, 16, "the repository's host.json");

    std::fs::write(root.join("host.json"), original).unwrap();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        AppDefinition::load(&root, &settings)
            .unwrap()
            .max_concurrent_calls,
        16 * cores,
        "unset: the Service Bus extension's default"
    );
    write(
        &root.join("host.json"),
        json!({"version": "2.0", "extensions": {"serviceBus": {"maxConcurrentCalls": 0}}}),
    );
    let e = AppDefinition::load(&root, &settings)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("extensions.serviceBus.maxConcurrentCalls"),
        "{e}"
    );
}

#[tokio::test]
async fn a_message_sent_by_another_process_wakes_an_idle_receive_loop_without_waiting_for_its_next_look(
) {
    let fx = Fixture::new();
    let mut config = fx.config();
    // Far beyond the test's patience: only the queue's wake-up socket can deliver in time.
    config.poll_interval = Duration::from_secs(120);
    let host = FunctionsHost::start(config).await.unwrap();
    let inbox = host.bus().dir().join("inbox");
    assert!(
        eventually(|| inbox.join(crate::queue::WAKE_SOCKET).exists()).await,
        "the host listens on the queue's socket"
    );
    // Let the receive loop find the queue empty and go idle.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Another process's handle on the same queue (as a runner job sends its result).
    let other = DiskQueue::open(&inbox, QueueOptions::default()).unwrap();
    other
        .send(NewMessage::new(r#"{"run":"r1"}"#, "from-a-runner"))
        .unwrap();

    assert!(host.observer().wait_for(PATIENCE, |r| !r.is_empty()).await);
    host.shutdown().await;
    assert!(
        !inbox.join(crate::queue::WAKE_SOCKET).exists(),
        "the socket goes with the host"
    );
}
