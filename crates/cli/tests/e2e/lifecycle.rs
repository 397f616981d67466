//! The demo product's whole lifecycle, and the CLI around it.

use crate::helpers::*;
use nightshift_core::run::{RunStatus, StepStatus};
use std::process::Command;
use std::time::Duration;

fn cli(state: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(nightshift_bin())
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .current_dir(repo_root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_environment_is_built_seeded_checked_and_swept_after_expiry_while_a_persistent_one_survives(
) {
    let catalog = std::fs::read_to_string(repo_root().join("catalog/orthense-demo.yaml")).unwrap();
    let app = spawn_app(Options::new(catalog)).await;
    let state = app.stack.app.settings.state_dir.clone();

    // Tonight's run of the nightly environment, and a release into the persistent `main`.
    app.fire_nightly().await;
    let release = r#"{"schema":"nightshift.release/v1","product":"orthense-demo","environment":"main","version":"2.0.0","requested_by":"release-pipeline"}"#;
    app.stack
        .host
        .bus()
        .queue("releases")
        .unwrap()
        .send(nightshift_local::queue::NewMessage::new(
            release,
            "main-2-0-0",
        ))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    let runs = loop {
        let runs = app.runs().await;
        if runs.len() == 2 && runs.iter().all(|r| r.status.is_finished()) {
            break runs;
        }
        assert!(std::time::Instant::now() < deadline, "runs did not finish");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for r in &runs {
        assert_eq!(r.status, RunStatus::Succeeded, "{}: {:?}", r.id, r.reason);
        assert!(r.steps.values().all(|s| s.status == StepStatus::Succeeded));
    }
    let nightly = runs
        .iter()
        .find(|r| r.environment.as_str() == "nightly")
        .unwrap();
    let main = runs
        .iter()
        .find(|r| r.environment.as_str() == "main")
        .unwrap();
    let smoke = |r: &nightshift_core::run::Run| {
        r.steps
            .values()
            .find(|s| s.def.name.as_str() == "smoke")
            .unwrap()
            .outputs
            .clone()
    };
    assert_eq!(smoke(nightly)["test_data_loaded"], serde_json::json!(true));
    assert_eq!(
        smoke(main)["test_data_loaded"],
        serde_json::json!(false),
        "persistent environments get reference data only"
    );
    assert!(smoke(nightly)["sql_patient_accounts"].as_u64().unwrap() > 0);

    // `status --json` shows every step's status, attempts and timings.
    let (code, out, _) = cli(&state, &["status", "--json"]);
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let run = status["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["environment"] == "nightly")
        .unwrap();
    assert_eq!(run["status"], "succeeded");
    for s in run["steps"].as_array().unwrap() {
        assert_eq!(s["status"], "succeeded");
        assert_eq!(s["attempts"], 1);
        assert!(s["duration_secs"].as_f64().unwrap() > 0.0);
    }
    // The environment's technical dossier is stored once the run has finished (right after its document says so),
    // linked from status, with the run's URLs.
    let key = format!("dossiers/orthense-demo/nightly/{}.json", nightly.id);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, out, _) = cli(&state, &["status", "--json"]);
        let status: serde_json::Value = serde_json::from_str(&out).unwrap();
        let linked = status["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["dossier"] == serde_json::json!(key));
        if linked {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no dossier linked from status: {out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored =
        std::fs::read_to_string(state.join("store").join(key.replace(".json", ".md"))).unwrap();
    assert!(
        stored.contains("https://api-medical.nightly.orthense.local"),
        "{stored}"
    );
    let (code, out, err) = cli(
        &state,
        &["dossier", "orthense-demo", "--environment", "nightly"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("**Exécution :** {}", nightly.id)),
        "{out}"
    );

    let groups = state.join("cloud/resource-groups");
    let nightly_db = nightly
        .steps
        .values()
        .find(|s| s.def.name.as_str() == "sql")
        .unwrap()
        .outputs["database_path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(std::path::Path::new(&nightly_db).is_file());
    let expires = nightly.expires_at.unwrap();
    let after = nightshift_core::expiry::tags::format_time(expires + chrono::Duration::minutes(1));

    // A dry run changes nothing.
    let before: Vec<_> = std::fs::read_dir(&groups)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let (code, out, _) = cli(&state, &["sweep", "--dry-run", "--now", &after, "--json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["deleted"], 0);
    assert!(report["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["action"] == "would-delete, after destroying dns first"));
    let after_dry: Vec<_> = std::fs::read_dir(&groups)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after_dry);

    // Before expiry nothing goes; after it, the nightly groups and their databases go, `main` stays: its `dns`
    // layer (records outside the groups) first, by a teardown run, then the groups.
    let (_, out, _) = cli(&state, &["sweep", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["deleted"],
        0
    );
    let (code, out, _) = cli(&state, &["sweep", "--now", &after, "--json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = report["items"].as_array().unwrap();
    assert!(items
        .iter()
        .filter(|i| i["environment"] == "nightly")
        .all(|i| i["action"]
            .as_str()
            .unwrap()
            .starts_with("pending: destroying dns first")
            && i["reason"].as_str().unwrap().contains("expired")));
    assert!(items
        .iter()
        .filter(|i| i["environment"] == "main")
        .all(|i| i["action"] == "kept" && i["reason"].as_str().unwrap().contains("persistent")));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while std::fs::read_dir(&groups).unwrap().count() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the nightly groups did not go after their dns layer"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        !std::path::Path::new(&nightly_db).exists(),
        "the nightly database went with its resource group"
    );
    let remaining: Vec<String> = std::fs::read_dir(&groups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(remaining, vec!["rg-orthense-demo-main".to_string()]);
    // The handler's domain events reach its output (on Azure: Application Insights traces, for the workbook).
    let host_log = std::fs::read_to_string(state.join("logs/host.log")).unwrap();
    for event in ["nightshift.run.finished", "nightshift.step.finished"] {
        assert!(
            host_log.contains(&format!("\"event\":\"{event}\"")),
            "no {event} in the host log"
        );
    }
    app.shutdown().await;
}

#[test]
fn bad_usage_exits_2_with_a_message_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = cli(dir.path(), &["sweep", "--now", "tomorrow"]);
    assert_eq!(code, 2);
    assert!(err.contains("2026-11-22T09:00:00Z"), "{err}");
    let (code, _, err) = cli(dir.path(), &["launch"]);
    assert_eq!(code, 2);
    assert!(err.contains("Usage"), "{err}");
}

#[test]
fn a_malformed_catalog_is_reported_with_its_file_and_field_and_nothing_starts() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let text = std::fs::read_to_string(repo_root().join("catalog/orthense-demo.yaml"))
        .unwrap()
        .replace("needs: [spas]", "needs: [spa]");
    std::fs::write(catalog.join("demo.yaml"), text).unwrap();
    let state = dir.path().join("state");
    let catalog_arg = catalog.display().to_string();
    for cmd in ["validate", "up"] {
        let (code, _, err) = cli(&state, &[cmd, "--catalog", &catalog_arg]);
        assert_eq!(code, 1, "{cmd}");
        assert!(
            err.contains("demo.yaml")
                && err.contains("steps.dns.needs[0]")
                && err.contains("unknown step \"spa\""),
            "{cmd}: {err}"
        );
    }
    assert!(!state.exists(), "nothing was started");
}

#[test]
fn validate_and_up_refuse_a_stack_or_playbook_outside_the_repository_and_nothing_starts() {
    let demo = std::fs::read_to_string(repo_root().join("catalog/orthense-demo.yaml")).unwrap();
    let foundation = "stack: terraform/local/orthense-demo/foundation";
    let seed = "playbook: seeds/orthense-demo/seed-mongo.yml";
    for (from, to, field) in [
        (
            foundation,
            "stack: /etc",
            "steps.foundation.terraform.stack",
        ),
        (
            foundation,
            "stack: ../../../../tmp",
            "steps.foundation.terraform.stack",
        ),
        (
            foundation,
            "stack: terraform/local/orthense-demo/nowhere",
            "steps.foundation.terraform.stack",
        ),
        (
            seed,
            "playbook: /etc/passwd",
            "steps.seed-mongo.ansible.playbook",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let catalog = dir.path().join("catalog");
        std::fs::create_dir_all(&catalog).unwrap();
        assert!(demo.contains(from), "the fixture edit must apply: {from}");
        std::fs::write(catalog.join("demo.yaml"), demo.replacen(from, to, 1)).unwrap();
        let state = dir.path().join("state");
        let catalog_arg = catalog.display().to_string();
        for cmd in ["validate", "up"] {
            let (code, out, err) = cli(&state, &[cmd, "--catalog", &catalog_arg]);
            assert_eq!(code, 1, "{cmd} with {to}: {out}{err}");
            assert!(
                err.contains("demo.yaml") && err.contains(field),
                "{cmd} with {to}: {err}"
            );
            assert!(!err.contains("root:"), "a file's content leaked: {err}");
        }
        assert!(!state.exists(), "{to}: nothing was started");
    }
}

#[test]
fn plan_prints_the_dag_and_its_critical_path() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = cli(
        dir.path(),
        &["plan", "--product", "orthense-demo", "--json"],
    );
    assert_eq!(code, 0);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let path: Vec<&str> = plan[0]["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(path.first(), Some(&"foundation"));
    assert_eq!(path.last(), Some(&"smoke"));
    assert!(
        plan[0]["critical_path_secs"].as_f64().unwrap()
            < plan[0]["sequential_secs"].as_f64().unwrap()
    );
}

#[test]
fn up_without_terraform_stops_with_a_clear_message_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = Command::new(nightshift_bin())
        .args(["up", "--state-dir"])
        .arg(&state)
        .current_dir(repo_root())
        .env("PATH", dir.path())
        .env_remove("NIGHTSHIFT_TERRAFORM")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("terraform was not found on PATH") && err.contains("NIGHTSHIFT_TERRAFORM"),
        "{err}"
    );
    assert!(!state.join("queues").exists(), "nothing was started");
}
