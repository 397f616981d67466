//! The daily verbs through the CLI alone: environments, logs, bundle, and a pull-request environment's whole life
//! (release, extend, keep, close) on the local service.

use crate::cli_env::*;
use crate::helpers::*;
use std::io::Read;

/// The files of a bundle, by path inside it.
fn bundle_files(path: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            (name, text)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_environments_and_bundle_show_a_finished_run() {
    let env = CliEnv::new(&shell_catalog(
        &[
            sh_step("a", &[], "echo hello from a"),
            sh_step(
                "web",
                &["a"],
                r#"echo '{"url":"https://web.pr-5.demo.local"}' > "$NIGHTSHIFT_OUTPUTS_FILE"; echo web up"#,
            ),
        ]
        .concat(),
    ));
    let out = env.run(&[
        "release",
        "demo",
        "pr-5",
        "3.1.4",
        "--wait",
        "--timeout",
        "120",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = env.runs().await.remove(0);
    let id = run.id.to_string();

    // logs: every step's attempts, or one step's log as it is.
    let out = env.run(&["logs", &id]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("==> a attempt 1") && out.stdout.contains("hello from a"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("==> web attempt 1"), "{}", out.stdout);
    let out = env.run(&["logs", &id, "a", "--attempt", "1"]);
    assert!(
        out.stdout.contains("hello from a") && !out.stdout.contains("==>"),
        "{}",
        out.stdout
    );
    let out = env.run(&["logs", &id, "a", "--attempt", "7"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("attempt 7"), "{}", out.stderr);

    // environments: kind, status, version, expiry and why, URLs, last run.
    let out = env.run(&["environments", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(list["next_cursor"].is_null(), "one page: {list}");
    let pr = list["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == "pr-5")
        .unwrap();
    assert_eq!(pr["kind"], "pull-request");
    assert_eq!(pr["status"], "ready");
    assert_eq!(pr["version"], "3.1.4");
    assert_eq!(pr["expiry_reason"], "lifetime");
    assert!(pr["expires_at"].is_string());
    assert_eq!(pr["last_run"], id.as_str());
    assert_eq!(pr["urls"]["web"], "https://web.pr-5.demo.local");
    let out = env.run(&["environments"]);
    assert!(
        out.stdout.contains("demo/pr-5") && out.stdout.contains("https://web.pr-5.demo.local"),
        "{}",
        out.stdout
    );
    // The environment links the technical dossier of its last successful run, as `status` links the run's (it is
    // stored right after the run's document says it finished).
    let dossier = format!("dossiers/demo/pr-5/{id}.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = env.run(&["environments", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let linked = list["environments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["environment"] == "pr-5" && e["dossier"] == dossier.as_str());
        if linked {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no dossier linked from environments: {}",
            out.stdout
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let out = env.run(&["environments"]);
    assert!(
        out.stdout.contains(&format!(
            "dossier: {dossier} (nightshift dossier demo --environment pr-5"
        )),
        "{}",
        out.stdout
    );

    // bundle: the run document, each attempt's log and result, outputs, plan, host log excerpt.
    let path = env.dir.path().join("out/bundle.tar.gz");
    let out = env.run(&["bundle", &id, "-o", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let files = bundle_files(&path);
    let root = format!("nightshift-bundle-{id}");
    for name in [
        "run.json",
        "outputs.json",
        "plan.json",
        "environment.json",
        "host-log-excerpt.txt",
        "logs/a/1.log",
        "logs/web/1.log",
        "results/a/1.json",
        "results/web/1.json",
    ] {
        assert!(
            files.contains_key(&format!("{root}/{name}")),
            "{name} in {:?}",
            files.keys()
        );
    }
    let doc: serde_json::Value = serde_json::from_str(&files[&format!("{root}/run.json")]).unwrap();
    assert_eq!(doc["id"], id.as_str());
    assert!(files[&format!("{root}/plan.json")].contains("\"web\""));
    assert!(files[&format!("{root}/host-log-excerpt.txt")].contains(&id));
    let out = env.run(&["bundle", "demo.pr-5.nope", "-o", path.to_str().unwrap()]);
    assert_eq!(out.code, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_contains_no_secret_value_even_where_a_step_printed_one() {
    let catalog = shell_catalog(&sh_step(
        "a",
        &[],
        "echo token=$TOKEN; echo \"{\\\"t\\\":\\\"$TOKEN\\\"}\" > \"$NIGHTSHIFT_OUTPUTS_FILE\"",
    ))
    .replace(
        "    smoke:",
        "    secrets: { TOKEN: demo-token }\n    smoke:",
    );
    let env = CliEnv::new(&catalog);
    std::fs::create_dir_all(env.state.join("key-vault")).unwrap();
    std::fs::write(env.state.join("key-vault/demo-token"), "s3cr3t-v4lue\n").unwrap();
    let out = env.run(&[
        "release",
        "demo",
        "pr-6",
        "1.0.0",
        "--wait",
        "--timeout",
        "120",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let id = env.runs().await.remove(0).id.to_string();
    let path = env.dir.path().join("b.tar.gz");
    assert_eq!(
        env.run(&["bundle", &id, "-o", path.to_str().unwrap()]).code,
        0
    );
    let files = bundle_files(&path);
    let log = files
        .iter()
        .find(|(k, _)| k.ends_with("logs/a/1.log"))
        .map(|(_, v)| v)
        .expect("the attempt's log is in the bundle");
    assert!(
        log.contains("token=***"),
        "the step printed the secret, redacted: {log}"
    );
    for (name, text) in &files {
        assert!(
            !text.contains("s3cr3t-v4lue"),
            "{name} holds the secret value"
        );
    }
}

/// Acceptance of issue 7: a pull-request environment's whole life, driven through the CLI only.
#[tokio::test(flavor = "multi_thread")]
async fn a_pull_request_environment_lives_its_whole_life_through_the_cli() {
    let env = CliEnv::new(&diamond().replace(
        "pr: { kind: pull-request, lifetime: 7d }",
        "pr: { kind: pull-request, lifetime: 7d, max_lifetime: 10d }",
    ));
    let mut serve = env.serve(1);
    let app = env.app();
    let environment = || async {
        let out = env.run(&["environments", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        list["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["environment"] == "pr-7")
            .cloned()
            .unwrap()
    };
    let wait = ["--wait", "--timeout", "120", "--requested-by", "alice"];

    let out = env.run(&[&["release", "demo", "pr-7", "1.0.0"][..], &wait].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let first = environment().await;
    assert_eq!(first["status"], "ready");
    let out = env.run(&[&["release", "demo", "pr-7", "1.0.1"][..], &wait].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let second = environment().await;
    assert!(
        second["expires_at"].as_str() > first["expires_at"].as_str(),
        "expiry pushed"
    );

    let out = env.run(&[&["extend", "demo", "pr-7", "--by", "2d"][..], &wait].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let extended = environment().await;
    assert_eq!(extended["expiry_reason"], "extended");

    let out = env.run(&[&["extend", "demo", "pr-7", "--by", "30d"][..], &wait].concat());
    assert_eq!(out.code, 1, "past max_lifetime: {}", out.stdout);
    assert!(
        out.stdout.contains("10d") || out.stderr.contains("10d"),
        "the cap is in the reason"
    );

    let out = env.run(
        &[
            &[
                "keep",
                "demo",
                "pr-7",
                "--for",
                "3d",
                "--reason",
                "flaky smoke",
            ][..],
            &wait,
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(environment().await["expiry_reason"], "kept");

    let out = env.run(&[&["close", "demo", "pr-7"][..], &wait].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let closed = environment().await;
    assert_eq!(closed["status"], "destroyed");
    assert!(closed["destroyed_reason"]
        .as_str()
        .unwrap()
        .contains("alice"));

    let out = env.run(&[&["release", "demo", "main", "1.0.0"][..], &wait].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let out = env.run(&[&["close", "demo", "main"][..], &wait].concat());
    assert_eq!(
        out.code, 1,
        "a persistent environment is not closed: {}",
        out.stdout
    );
    let main = app.repo.environment("demo", "main").await.unwrap().unwrap();
    assert_eq!(main.status, "ready", "nothing changed");
    assert_eq!(sigint(&mut serve).code(), Some(0));
}

#[test]
fn environments_reads_records_with_the_lifecycle_fields_and_reports_a_garbled_one_without_failing()
{
    let env = CliEnv::new(&diamond());
    let dir = env.state.join("store/environments/demo");
    std::fs::create_dir_all(&dir).unwrap();
    let kept = serde_json::json!({
        "product": "demo", "environment": "pr-8", "kind": "pull-request", "last_run": "demo.pr-8.r1-0-0-abcdef0123",
        "status": "failed", "expires_at": "2026-12-20T00:00:00Z", "destroyed_at": null, "destroyed_reason": null,
        "expiry_reason": "kept", "kept_until": "2026-12-20T00:00:00Z", "keep_reason": "flaky smoke",
        "version": "1.0.0", "urls": {"api": "https://api.pr-8.demo.local"}, "last_success_run": null
    });
    std::fs::write(dir.join("pr-8.json"), kept.to_string()).unwrap();
    std::fs::write(dir.join("pr-9.json"), "{not json").unwrap();

    let out = env.run(&["environments", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list["environments"].as_array().unwrap().len(), 1);
    let e = &list["environments"][0];
    assert_eq!(
        (
            &e["expiry_reason"],
            &e["kept_until"],
            &e["keep_reason"],
            &e["version"]
        ),
        (
            &kept["expiry_reason"],
            &kept["kept_until"],
            &kept["keep_reason"],
            &kept["version"]
        )
    );
    assert_eq!(e["urls"]["api"], "https://api.pr-8.demo.local");
    assert!(
        out.stderr.contains("pr-9.json"),
        "the garbled record is named: {}",
        out.stderr
    );
    let out = env.run(&["environments"]);
    assert!(
        out.stdout
            .contains("kept until 2026-12-20T00:00:00Z: flaky smoke"),
        "{}",
        out.stdout
    );
}
