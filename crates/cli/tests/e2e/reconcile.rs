//! A catalog change reconciles (issue 7, item 5): a Terraform layer removed from the catalog is destroyed, with its
//! state, by the next release of the environment, before the environment is reported ready. The local demo's real
//! stacks, run by the real runner with the real `terraform`.

use crate::helpers::*;
use nightshift_core::run::{Run, RunStatus, StepStatus};
use nightshift_core::StepName;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn release(app: &TestApp, version: &str, message_id: &str) {
    let body = format!(
        r#"{{"schema":"nightshift.release/v1","product":"orthense-demo","environment":"pr-5","version":"{version}","requested_by":"ci"}}"#
    );
    app.send_release(&body, message_id);
}

async fn finished(app: &TestApp, n: usize) -> Vec<Run> {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let runs = app.runs().await;
        if runs.len() == n && runs.iter().all(|r| r.status.is_finished()) {
            return runs;
        }
        assert!(Instant::now() < deadline, "runs did not finish");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The records pr-5's `dns` layer published in the local cloud's shared zone (outside every resource group).
fn records(state: &Path) -> Vec<PathBuf> {
    let dir = state.join("cloud/dns-zones/orthense.local/records");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.to_string_lossy().contains(".pr-5."));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_removed_from_the_catalog_is_destroyed_with_its_state_by_the_next_release() {
    // Arrange: pr-5 built with every layer, dns included.
    let catalog = std::fs::read_to_string(repo_root().join("catalog/orthense-demo.yaml")).unwrap();
    let app = spawn_app(Options::new(catalog.clone())).await;
    let settings = app.stack.app.settings.clone();
    let state = settings.state_dir.clone();
    release(&app, "1.0.0", "rel-1");
    let first = finished(&app, 1).await.remove(0);
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.reason);
    let dns_state = settings
        .terraform_dir()
        .join("orthense-demo/pr-5/dns.tfstate");
    assert!(dns_state.exists());
    assert!(
        !records(&state).is_empty(),
        "the dns layer published its records"
    );

    // Act: the dns layer leaves the catalog; the next release.
    let dns_block = catalog
        .split("  dns:\n")
        .nth(1)
        .unwrap()
        .split("  smoke:\n")
        .next()
        .unwrap();
    let lean = catalog
        .replace(&format!("  dns:\n{dns_block}"), "")
        .replace(
            "needs: [seed-mongo, seed-sql, dns]",
            "needs: [seed-mongo, seed-sql, spas]",
        );
    assert_ne!(lean, catalog);
    std::fs::write(settings.catalog_dir.join("test.yaml"), lean).unwrap();
    release(&app, "1.0.1", "rel-2");
    let runs = finished(&app, 2).await;

    // Assert
    let second = runs.iter().find(|r| r.id != first.id).unwrap();
    assert_eq!(second.status, RunStatus::Succeeded, "{:?}", second.reason);
    let dns = &second.steps[&StepName::parse("dns").unwrap()];
    assert_eq!(dns.teardown.as_ref(), Some(&first.id));
    assert_eq!(dns.status, StepStatus::Succeeded);
    assert!(records(&state).is_empty(), "the layer's resources are gone");
    assert!(!dns_state.exists(), "and its state");
    assert!(settings
        .terraform_dir()
        .join("orthense-demo/pr-5/foundation.tfstate")
        .exists());
    let env = app
        .stack
        .app
        .repo
        .environment("orthense-demo", "pr-5")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(env.status, "ready");
    app.shutdown().await;
}
