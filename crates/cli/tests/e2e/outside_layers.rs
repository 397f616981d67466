//! Layers that own resources outside the resource group (issue 10, finding 2), end to end on the local demo: its
//! `dns` layer publishes records in the local cloud's shared zone (`cloud/dns-zones/`), outside every group, as
//! Cloudflare does. The sweep (`nightshift sweep`, a separate process, as from a workstation) destroys that layer by
//! a teardown run of real runner processes and real `terraform destroy` before the groups go; a destroy that fails
//! keeps the groups and the state, and is tried again on the next pass.

use crate::helpers::*;
use nightshift_core::run::{Run, RunStatus};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn sweep(state: &Path, now: &str) -> (i32, serde_json::Value) {
    let out = Command::new(nightshift_bin())
        .args(["sweep", "--now", now, "--json", "--state-dir"])
        .arg(state)
        .current_dir(repo_root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "sweep --json: {e}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// pr-5's records in the shared zone.
fn records(state: &Path) -> Vec<PathBuf> {
    let dir = state.join("cloud/dns-zones/orthense.local/records");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.to_string_lossy().contains(".pr-5."));
    out
}

fn pr5_groups(state: &Path) -> Vec<String> {
    std::fs::read_dir(state.join("cloud/resource-groups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("pr-5"))
        .collect()
}

fn actions(report: &serde_json::Value) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["environment"] == "pr-5")
        .map(|i| i["action"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until the teardown run of `attempt` is finished.
async fn teardown(app: &TestApp, attempt: u32) -> Run {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let found = app.runs().await.into_iter().find(|r| {
            matches!(r.trigger, nightshift_core::run::Trigger::Teardown { attempt: a, .. } if a == attempt)
                && r.status.is_finished()
        });
        if let Some(r) = found {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "teardown attempt {attempt} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sweep_destroys_the_dns_layer_before_the_groups_and_a_failed_destroy_keeps_the_groups_and_the_state(
) {
    // Arrange: pr-5 built by a release, its records published outside its groups.
    let catalog = std::fs::read_to_string(repo_root().join("catalog/orthense-demo.yaml")).unwrap();
    let app = spawn_app(Options::new(catalog)).await;
    let settings = app.stack.app.settings.clone();
    let state = settings.state_dir.clone();
    app.send_release(
        r#"{"schema":"nightshift.release/v1","product":"orthense-demo","environment":"pr-5","version":"1.0.0","requested_by":"ci"}"#,
        "rel-1",
    );
    let build = app.finished_run(Duration::from_secs(240)).await;
    assert_eq!(build.status, RunStatus::Succeeded, "{:?}", build.reason);
    assert!(
        !records(&state).is_empty(),
        "the dns layer published records"
    );
    assert!(!pr5_groups(&state).is_empty());
    let env_state = settings.terraform_dir().join("orthense-demo/pr-5");
    let dns_state = env_state.join("dns.tfstate");
    let good_state = std::fs::read(&dns_state).unwrap();
    let after = nightshift_core::expiry::tags::format_time(
        build.expires_at.unwrap() + chrono::Duration::minutes(1),
    );

    // Act: the first pass after expiry, while the dns layer's state cannot be read (its destroy fails).
    std::fs::write(&dns_state, b"not a terraform state").unwrap();
    let (code, report) = sweep(&state, &after);

    // Assert: the groups wait for the teardown, which fails: the groups, the records and the state stay.
    assert_eq!(code, 0, "{report}");
    let first = actions(&report);
    assert!(!first.is_empty());
    assert!(
        first
            .iter()
            .all(|a| a.starts_with("pending: destroying dns first")),
        "{first:?}"
    );
    let failed = teardown(&app, 1).await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert!(
        !pr5_groups(&state).is_empty(),
        "a failed destroy keeps the groups"
    );
    assert!(!records(&state).is_empty());
    assert!(
        env_state.join("foundation.tfstate").exists(),
        "and the state"
    );
    let rec = app
        .stack
        .app
        .repo
        .environment("orthense-demo", "pr-5")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, "destroying");

    // Act: the next pass, the state readable again.
    std::fs::write(&dns_state, &good_state).unwrap();
    let (code, report) = sweep(&state, &after);

    // Assert: the failure is reported and the teardown tried again; once it succeeded, the groups go.
    assert_eq!(
        code, 1,
        "a failed teardown is an error of the pass: {report}"
    );
    let second = actions(&report);
    assert!(
        second
            .iter()
            .all(|a| a.starts_with("error: layers dns not destroyed")
                && a.contains("groups and state kept")),
        "{second:?}"
    );
    let done = teardown(&app, 2).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{:?}", done.reason);
    let deadline = Instant::now() + Duration::from_secs(60);
    let rec = loop {
        let rec = app
            .stack
            .app
            .repo
            .environment("orthense-demo", "pr-5")
            .await
            .unwrap()
            .unwrap();
        if rec.status == "destroyed" {
            break rec;
        }
        assert!(Instant::now() < deadline, "pr-5 was not destroyed: {rec:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(pr5_groups(&state).is_empty(), "the groups are gone");
    assert!(
        records(&state).is_empty(),
        "its records are gone from the zone"
    );
    assert!(!env_state.exists(), "its state is gone");
    assert!(
        rec.destroyed_at.unwrap() >= done.finished_at.unwrap(),
        "recorded destroyed only after the teardown"
    );
    let (code, report) = sweep(&state, &after);
    assert_eq!(code, 0, "{report}");
    assert!(actions(&report).is_empty(), "nothing left: {report}");
    app.shutdown().await;
}
