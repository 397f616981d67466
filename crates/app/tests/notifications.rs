//! Notification delivery with the local adapters and a loopback webhook (127.0.0.1 only; Slack and Teams cannot
//! be reached here, so the webhook stands for their documented contract: a 2xx is delivered, a 429/5xx may succeed
//! later, a 404 never will): retries as scheduled messages on the `notifications` queue, at-least-once redelivery
//! that sends nothing twice, the delivery record with its delay, failures in `status`, and the sweeper's expiry
//! warnings, once per expiry value, with signed action links.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use nightshift_app::usecases::notify::{DeliveryRecord, MAX_DELIVERY_ATTEMPTS};
use nightshift_app::{App, Settings};
use nightshift_core::engine::{Notification, NotificationKind};
use nightshift_local::queue::{LocalBus, QueueOptions, QueuedMessage};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  app: { smoke: { command: [true] } }
environments:
  pr: { kind: pull-request }
  main: { kind: persistent }
"#;

/// A loopback webhook: records every body, answers the scripted statuses in order, then 200.
#[derive(Clone, Default)]
struct Hook {
    bodies: Arc<Mutex<Vec<Value>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Hook {
    async fn serve(answers: &[u16]) -> (Self, String) {
        let hook = Hook::default();
        hook.answers.lock().unwrap().extend(answers);
        let h = hook.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::Json<Value>| {
                let h = h.clone();
                async move {
                    h.bodies.lock().unwrap().push(body.0);
                    let code = h.answers.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(code).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (hook, url)
    }
    fn received(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

struct Fixture {
    app: App,
    _dir: tempfile::TempDir,
}

fn setup(hook_url: &str, extra: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::write(dir.path().join("catalog/shop.yaml"), CATALOG).unwrap();
    let mut env: BTreeMap<&str, String> = [
        (
            "NIGHTSHIFT_STATE_DIR",
            dir.path().join("state").display().to_string(),
        ),
        (
            "NIGHTSHIFT_CATALOG",
            dir.path().join("catalog").display().to_string(),
        ),
        (
            "NIGHTSHIFT_NOTIFY_WEBHOOKS",
            "teams:notify-teams-url".to_string(),
        ),
    ]
    .into();
    for (k, v) in extra {
        env.insert(k, v.to_string());
    }
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    let vault = settings.key_vault_dir();
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("notify-teams-url"), hook_url).unwrap();
    std::fs::write(vault.join("actions-link-key"), "the-link-key").unwrap();
    let ports = nightshift_app::wiring::local(&settings);
    Fixture {
        app: App::new(ports, settings),
        _dir: dir,
    }
}

fn notification() -> Notification {
    Notification {
        kind: NotificationKind::RunStarted,
        run: "shop.pr-7.r1-0-0-0123456789".into(),
        product: "shop".into(),
        environment: "pr-7".into(),
        text: "shop.pr-7.r1-0-0-0123456789 started: 1 steps".into(),
        details: Default::default(),
    }
}

fn retries(app: &App) -> Vec<QueuedMessage> {
    let bus = LocalBus::new(app.settings.queues_dir(), QueueOptions::default());
    bus.queue("notifications").unwrap().peek_all().unwrap()
}

async fn records(app: &App) -> Vec<DeliveryRecord> {
    app.deliveries().await.unwrap()
}

#[tokio::test]
async fn a_failed_delivery_is_retried_from_a_scheduled_message_and_its_delay_is_recorded() {
    let (hook, url) = Hook::serve(&[503]).await;
    let f = setup(&url, &[]);

    // The first try fails: a retry is scheduled, not slept on.
    f.app.send_notification(&notification()).await;
    assert_eq!(hook.received().len(), 1);
    let queued = retries(&f.app);
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0].scheduled_at.unwrap() > Utc::now() + Duration::seconds(20),
        "backoff"
    );
    assert_eq!(records(&f.app).await[0].outcome, "pending");

    // The scheduled message arrives: delivered, with its delay.
    let m = &queued[0];
    f.app
        .notification_retry(&m.message_id, &m.body)
        .await
        .unwrap();
    assert_eq!(hook.received().len(), 2);
    let r = &records(&f.app).await[0];
    assert_eq!(
        (r.outcome.as_str(), r.attempts, r.target.as_str()),
        ("delivered", 2, "teams:notify-teams-url")
    );
    assert!(
        r.delivered_at.unwrap() >= r.event_at && r.delay_ms.unwrap() >= 0,
        "{r:?}"
    );
    assert_eq!(hook.received()[1]["type"], "message", "the Teams format");

    // At least once: the retry redelivered and the event repeated send nothing more.
    f.app
        .notification_retry(&m.message_id, &m.body)
        .await
        .unwrap();
    f.app.send_notification(&notification()).await;
    assert_eq!(hook.received().len(), 2);
}

#[tokio::test]
async fn a_delivery_that_cannot_succeed_is_recorded_as_failed_and_shown_in_status() {
    let (hook, url) = Hook::serve(&[404]).await;
    let f = setup(&url, &[]);
    f.app.send_notification(&notification()).await;
    assert_eq!(hook.received().len(), 1);
    assert!(retries(&f.app).is_empty(), "a 404 is not retried");
    let status = f.app.status().await.unwrap();
    assert_eq!(status.failed_notifications.len(), 1);
    let failed = &status.failed_notifications[0];
    assert!(
        failed.error.as_deref().unwrap().contains("404"),
        "{failed:?}"
    );
    assert!(
        !failed.error.as_deref().unwrap().contains(&url),
        "the webhook URL is a secret"
    );
}

/// The portal's notification-delay tile reads these fields of `nightshift.notification.finished` (the handler
/// emits it when a delivery ends: crates/app/tests/portal.rs checks the call site, the e2e tests the host log).
#[tokio::test]
async fn a_finished_delivery_gives_the_portal_its_channel_format_outcome_and_delay_but_never_the_url(
) {
    let (_hook, url) = Hook::serve(&[]).await;
    let f = setup(&url, &[]);
    f.app.send_notification(&notification()).await;
    let delivered = &records(&f.app).await[0];
    let e = delivered.event_fields();
    assert_eq!(
        (&e["channel"], &e["format"], &e["outcome"], &e["attempts"]),
        (
            &json!("teams:notify-teams-url"),
            &json!("teams"),
            &json!("delivered"),
            &json!(1)
        )
    );
    assert_eq!(e["delay_ms"], json!(delivered.delay_ms.unwrap()));
    assert_eq!(
        (&e["product"], &e["environment"], &e["id"]),
        (&json!("shop"), &json!("pr-7"), &json!(delivered.id))
    );
    assert!(!e.to_string().contains(&url), "the webhook URL is a secret");

    let (_hook, url) = Hook::serve(&[404]).await;
    let f = setup(&url, &[]);
    f.app.send_notification(&notification()).await;
    let e = records(&f.app).await[0].event_fields();
    assert_eq!(
        (&e["outcome"], &e["delay_ms"]),
        (&json!("failed"), &Value::Null)
    );
    assert!(e["error"].as_str().unwrap().contains("404"), "{e}");
}

#[tokio::test]
async fn a_delivery_gives_up_after_its_last_try() {
    let (hook, url) = Hook::serve(&[500; 10]).await;
    let f = setup(&url, &[]);
    f.app.send_notification(&notification()).await;
    for attempt in 2..=MAX_DELIVERY_ATTEMPTS {
        let m = retries(&f.app)
            .into_iter()
            .find(|m| m.message_id.ends_with(&format!("-{attempt}")))
            .expect("the next try is scheduled");
        f.app
            .notification_retry(&m.message_id, &m.body)
            .await
            .unwrap();
    }
    assert_eq!(hook.received().len() as u32, MAX_DELIVERY_ATTEMPTS);
    assert_eq!(
        retries(&f.app).len() as u32,
        MAX_DELIVERY_ATTEMPTS - 1,
        "no try after the last"
    );
    let r = &records(&f.app).await[0];
    assert_eq!(
        (r.outcome.as_str(), r.attempts),
        ("failed", MAX_DELIVERY_ATTEMPTS)
    );
}

#[tokio::test]
async fn a_retry_for_a_channel_no_longer_configured_is_rejected_not_retried() {
    let (_hook, url) = Hook::serve(&[]).await;
    let f = setup(&url, &[]);
    let body = json!({"schema": "nightshift.notification-retry/v1", "target": "slack:gone", "attempt": 2,
                      "notification": notification()});
    f.app
        .notification_retry("m-1", &body.to_string())
        .await
        .unwrap();
    f.app.notification_retry("m-2", "not json").await.unwrap();
    let rejected = f.app.status().await.unwrap().rejected;
    assert_eq!(rejected.len(), 2);
    assert!(rejected.iter().all(|r| r.queue == "notifications"));
}

async fn put_env(app: &App, env: &str, expires_in: Duration) {
    let rec = serde_json::from_value(json!({
        "product": "shop", "environment": env, "kind": "pull-request", "last_run": format!("shop.{env}.r1-0-0-0123456789"),
        "status": "ready", "expires_at": Utc::now() + expires_in, "destroyed_at": null, "destroyed_reason": null,
    }))
    .unwrap();
    app.repo.put_environment(&rec).await.unwrap();
}

fn warnings(hook: &Hook) -> Vec<Value> {
    hook.received()
        .into_iter()
        .filter(|b| {
            b["attachments"][0]["content"]["body"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("will be deleted soon"))
        })
        .collect()
}

#[tokio::test]
async fn the_sweeper_warns_once_per_expiry_within_warn_before_with_signed_action_links() {
    let (hook, url) = Hook::serve(&[]).await;
    let f = setup(
        &url,
        &[
            ("NIGHTSHIFT_PUBLIC_URL", "http://127.0.0.1:7071"),
            ("NIGHTSHIFT_ACTIONS_KEY_SECRET", "actions-link-key"),
        ],
    );
    put_env(&f.app, "pr-7", Duration::hours(1)).await; // within the 12h default
    put_env(&f.app, "pr-8", Duration::days(2)).await; // not yet

    f.app.sweep(None, false, 20).await.unwrap();
    f.app.sweep(None, false, 20).await.unwrap();
    let sent = warnings(&hook);
    assert_eq!(
        sent.len(),
        1,
        "one warning for pr-7, none for pr-8, nothing on the second pass"
    );
    let card = &sent[0]["attachments"][0]["content"];
    assert!(card
        .to_string()
        .contains("nightshift extend shop pr-7 --by 1d"));
    let links: Vec<&str> = card["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["url"].as_str())
        .filter(|u| u.contains("/api/actions?token="))
        .collect();
    assert_eq!(links.len(), 2, "extend and keep");
    let token = links[0].split("token=").nth(1).unwrap();
    let claims = nightshift_core::action_link::verify(b"the-link-key", token, Utc::now()).unwrap();
    assert_eq!(claims.environment.as_str(), "pr-7");

    // Extended: a new expiry, a new warning once it is due.
    put_env(&f.app, "pr-7", Duration::hours(3)).await;
    f.app.sweep(None, false, 20).await.unwrap();
    f.app.sweep(None, false, 20).await.unwrap();
    assert_eq!(warnings(&hook).len(), 2);
}

#[tokio::test]
async fn a_dry_run_sweep_warns_nobody() {
    let (hook, url) = Hook::serve(&[]).await;
    let f = setup(&url, &[]);
    put_env(&f.app, "pr-7", Duration::hours(1)).await;
    f.app.sweep(None, true, 20).await.unwrap();
    assert!(hook.received().is_empty());
}
