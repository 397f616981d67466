//! Snapshot tests: every notification kind in every format, compared with the expected JSON under
//! `crates/core/tests/data/notifications/` (`UPDATE_SNAPSHOTS=1` rewrites them; review the diff). The Teams files
//! are also what `tools/adaptivecards-check` validates with the Adaptive Cards library's parser.

use super::*;
use chrono::TimeZone;

const KINDS: [NotificationKind; 10] = [
    NotificationKind::RunWaiting,
    NotificationKind::RunStarted,
    NotificationKind::StepRetrying,
    NotificationKind::StepFailed,
    NotificationKind::RunSucceeded,
    NotificationKind::RunFailed,
    NotificationKind::RollbackStarted,
    NotificationKind::RollbackFinished,
    NotificationKind::EnvironmentDestroyed,
    NotificationKind::ExpiryWarning,
];

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
}

/// A realistic notification of each kind, with the details the application fills in.
fn sample(kind: NotificationKind) -> Notification {
    let mut d = Details {
        version: Some("1.4.2".into()),
        requested_by: Some("github-actions".into()),
        status_url: Some("https://nightshift.example.net/api/status/runs/shop-pr-7-r1".into()),
        event_at: Some(at(9)),
        ..Details::default()
    };
    let text = match kind {
        NotificationKind::RunWaiting => {
            "shop-pr-7-r1 waits: run shop-pr-7-r0 is building this environment".into()
        }
        NotificationKind::RunStarted => "shop-pr-7-r1 started: 4 steps".into(),
        NotificationKind::StepRetrying | NotificationKind::StepFailed => {
            d.step = Some("smoke".into());
            d.attempt = Some(2);
            d.log_tail = vec![
                "GET /health -> 503".into(),
                redact("token=abc123 curl failed"),
            ];
            if kind == NotificationKind::StepFailed {
                d.next = Some("read the log with `nightshift status --run shop-pr-7-r1`".into());
            }
            "shop-pr-7-r1: step smoke attempt 2 of 3 failed: exit code 1".into()
        }
        NotificationKind::RunSucceeded => {
            d.duration_secs = Some(754.0);
            d.urls
                .insert("web".into(), "https://shop-pr-7.example.net".into());
            d.expires_at = Some(at(9) + chrono::Duration::days(7));
            "shop-pr-7-r1 succeeded in 754.0s: every step succeeded".into()
        }
        NotificationKind::RunFailed => {
            d.duration_secs = Some(301.5);
            d.step = Some("smoke".into());
            d.reason = Some("failed steps: smoke".into());
            d.log_tail = vec!["assert status == 200".into(), "got 503".into()];
            d.next = Some(
                "fix and deploy again, or retry with `nightshift deploy shop pr-7 --version 1.4.2`"
                    .into(),
            );
            "shop-pr-7-r1 failed in 301.5s: failed steps: smoke".into()
        }
        NotificationKind::RollbackStarted => {
            d.reason = Some("step smoke failed".into());
            "shop/pr-7: rolling back to 1.4.1".into()
        }
        NotificationKind::RollbackFinished => {
            d.duration_secs = Some(95.0);
            "shop/pr-7: rolled back to 1.4.1".into()
        }
        NotificationKind::EnvironmentDestroyed => {
            d.requested_by = Some("expiry-sweeper".into());
            d.reason = Some("expired at 2026-12-08T09:00:00+00:00".into());
            d.version = None;
            "shop/pr-7 was destroyed by the sweep".into()
        }
        NotificationKind::ExpiryWarning => {
            d.expires_at = Some(at(21));
            d.next = Some("nightshift extend shop pr-7 --by 1d".into());
            d.actions = vec![
                Link {
                    label: "Extend by 1d".into(),
                    url: "https://nightshift.example.net/api/actions?t=signed-extend".into(),
                },
                Link {
                    label: "Keep".into(),
                    url: "https://nightshift.example.net/api/actions?t=signed-keep".into(),
                },
            ];
            "shop/pr-7 will be deleted at 2026-12-01 21:00 UTC".into()
        }
    };
    Notification {
        kind,
        run: "shop-pr-7-r1".into(),
        product: "shop".into(),
        environment: "pr-7".into(),
        text,
        details: Box::new(d),
    }
}

fn snapshot_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/notifications")
}

#[test]
fn every_kind_in_every_format_matches_its_snapshot() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut mismatches = Vec::new();
    for kind in KINDS {
        for format in [Format::Slack, Format::Teams, Format::Generic] {
            let got = render(format, &sample(kind.clone()));
            let path =
                snapshot_dir().join(format!("{}.{}.json", kind_name(&kind), format.as_str()));
            if update {
                std::fs::create_dir_all(snapshot_dir()).unwrap();
                std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
                continue;
            }
            let want: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
                    panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display())
                }))
                .unwrap();
            if got != want {
                mismatches.push(path.display().to_string());
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "differs from the snapshot: {mismatches:#?}"
    );
}

#[test]
fn every_slack_payload_is_within_block_kit_structure_and_limits() {
    for kind in KINDS {
        let payload = render(Format::Slack, &sample(kind.clone()));
        assert_eq!(check_block_kit(&payload), Vec::<String>::new(), "{kind:?}");
    }
}

#[test]
fn an_enormous_notification_is_cut_to_slack_limits() {
    let mut n = sample(NotificationKind::RunFailed);
    n.text = "x".repeat(10_000);
    n.product = "p".repeat(200);
    n.details.log_tail = (0..2000)
        .map(|i| format!("line {i} of a very long log"))
        .collect();
    n.details.urls = (0..60)
        .map(|i| (format!("u{i}"), format!("https://e.example/{i}")))
        .collect();
    let payload = render(Format::Slack, &n);
    assert_eq!(check_block_kit(&payload), Vec::<String>::new());
    let tail = payload["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| {
            b["text"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("*Last log lines*"))
        })
        .unwrap();
    assert!(
        tail["text"]["text"]
            .as_str()
            .unwrap()
            .contains("line 1999 of"),
        "the end of the log is kept"
    );
}

#[test]
fn the_block_kit_check_rejects_what_slack_would_refuse() {
    let mut payload = render(Format::Slack, &sample(NotificationKind::RunFailed));
    payload["blocks"][0]["text"]["text"] = Value::String("h".repeat(151));
    payload["blocks"][1]["text"]["text"] = Value::String("t".repeat(3001));
    payload["blocks"][1]["colour"] = Value::String("red".into());
    payload["blocks"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "carousel"}));
    payload.as_object_mut().unwrap().remove("text");
    let errors = check_block_kit(&payload);
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let many = json!({"text": "x", "blocks": vec![json!({"type": "divider"}); 51]});
    assert_eq!(
        check_block_kit(&many),
        vec!["51 blocks: at most 50".to_string()]
    );
}

#[test]
fn teams_payloads_are_adaptive_cards_1_5_in_the_workflows_envelope() {
    for kind in KINDS {
        let p = render(Format::Teams, &sample(kind.clone()));
        assert_eq!(p["type"], "message");
        assert_eq!(
            p["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(p["attachments"][0]["content"]["version"], "1.5");
        assert!(
            p.get("text").is_none(),
            "Workflows webhooks take cards, not text"
        );
    }
}

#[test]
fn a_failure_card_says_which_step_the_last_log_lines_and_what_to_do_next() {
    let n = sample(NotificationKind::RunFailed);
    for format in [Format::Slack, Format::Teams] {
        let s = render(format, &n).to_string();
        assert!(
            s.contains("smoke") && s.contains("got 503") && s.contains("nightshift deploy"),
            "{format:?}: {s}"
        );
    }
}

#[test]
fn the_expiry_warning_tells_how_to_extend_and_carries_the_action_buttons() {
    let n = sample(NotificationKind::ExpiryWarning);
    let slack = render(Format::Slack, &n);
    let buttons = slack["blocks"].as_array().unwrap().last().unwrap()["elements"]
        .as_array()
        .unwrap()
        .clone();
    assert!(buttons
        .iter()
        .any(|b| b["url"].as_str().unwrap().contains("signed-extend")));
    let teams = render(Format::Teams, &n);
    assert!(teams["attachments"][0]["content"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["type"] == "Action.OpenUrl" && a["title"] == "Keep"));
    assert!(teams
        .to_string()
        .contains("nightshift extend shop pr-7 --by 1d"));
}

#[test]
fn generic_payloads_keep_the_text_first_and_a_stable_schema() {
    let g = render(Format::Generic, &sample(NotificationKind::RunStarted));
    assert_eq!(g["schema"], "nightshift.notification/v1");
    assert_eq!(g["kind"], "run-started");
    assert_eq!(g["text"], "shop-pr-7-r1 started: 4 steps");
}

#[test]
fn redaction_masks_secrets_in_log_lines_and_keeps_the_rest() {
    assert_eq!(redact("login password=hunter2 ok"), "login password=*** ok");
    assert_eq!(
        redact("Authorization: Bearer eyJhbGciOi.x.y"),
        "Authorization: Bearer ***"
    );
    assert_eq!(redact("api_key: abc"), "api_key: ***");
    assert_eq!(
        redact("sig=8f3a9b2c4d5e6f708192a3b4c5d6e7f8091a2b3c"),
        "sig=***"
    );
    assert_eq!(
        redact("blob 8f3a9b2c4d5e6f708192a3b4c5d6e7f8091a2b3c done"),
        "blob *** done"
    );
    assert_eq!(
        redact("GET https://shop.example.net/health -> 503"),
        "GET https://shop.example.net/health -> 503"
    );
}

#[test]
fn a_notification_without_details_serializes_as_before() {
    let mut n = sample(NotificationKind::RunStarted);
    *n.details = Details::default();
    let v = serde_json::to_value(&n).unwrap();
    assert!(v.get("details").is_none());
    let back: Notification = serde_json::from_value(v).unwrap();
    assert_eq!(back, n);
}
