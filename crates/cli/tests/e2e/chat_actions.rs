//! The chat message's action links end to end under `nightshift serve`, over real HTTP on the port it serves
//! (`/api/actions`, the host.json routePrefix): a pull-request environment is built, the sweeper's pass (fired
//! through serve's admin API, as `up` fires timers) posts an expiry warning with signed Extend and Keep links to a
//! loopback webhook (127.0.0.1: Slack and Teams cannot be reached here; the webhook stands for their contract, any
//! 2xx is delivered), and the links are followed as a person's browser would: a GET shows the confirmation page and
//! changes nothing, the page's POST extends the environment (record and resource-group tag), a second POST of the
//! same token is refused, and forged, altered and expired tokens are refused and recorded.

use crate::cli_env::{sigint, CliEnv};
use crate::helpers::*;
use chrono::{DateTime, Utc};
use nightshift_core::action_link::{self, ActionClaims, LinkAction};
use nightshift_core::expiry::tags;
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "an e2e link key";

/// `nightshift serve --port PORT`, its output in `serve.log`; returns once it published its port.
fn serve_on(env: &CliEnv, port: u16) -> Child {
    let log = std::fs::File::create(env.dir.path().join("serve.log")).unwrap();
    let child = env
        .command(&["serve", "--port", &port.to_string()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !env.state.join("serve.json").exists() {
        assert!(
            Instant::now() < deadline,
            "serve did not start: {}",
            log_of(env)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn log_of(env: &CliEnv) -> String {
    std::fs::read_to_string(env.dir.path().join("serve.log")).unwrap_or_default()
}

/// A CLI command, off the runtime's threads (the webhook answers on them meanwhile).
async fn cli(env: &CliEnv, args: &[&str]) -> crate::cli_env::Output {
    let mut c = env.command(args);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    crate::cli_env::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

/// The environment's expiry as the journal says it, and as its resource group's tag says it (whole seconds, as
/// tags keep it).
fn expiries(env: &CliEnv) -> (i64, i64) {
    let out = env.run(&["environments", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let record = list["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == "pr-1")
        .cloned()
        .unwrap_or_else(|| panic!("no pr-1 in {list}"));
    let group: Value = serde_json::from_str(
        &std::fs::read_to_string(
            env.state
                .join("cloud/resource-groups/rg-demo-pr-1/tags.json"),
        )
        .unwrap(),
    )
    .unwrap();
    (
        time(&record["expires_at"]).timestamp(),
        time(&group[tags::EXPIRES_AT]).timestamp(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn under_serve_an_extend_link_from_the_chat_extends_on_post_only_once_and_bad_links_are_refused(
) {
    let (hook_url, bodies) = webhook().await;
    let catalog = shell_catalog(&sh_step("app", &[], "echo up")).replace(
        "pr: { kind: pull-request, lifetime: 7d }",
        "pr: { kind: pull-request, lifetime: 7d, max_lifetime: 30d, warn_before: 8d }",
    );
    let mut env = CliEnv::new(&catalog);
    // The public URL is serve's own address: the links in the card point at it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let public = format!("http://127.0.0.1:{port}");
    for (k, v) in [
        ("NIGHTSHIFT_NOTIFY_WEBHOOKS", "generic:test-hook-url"),
        ("NIGHTSHIFT_PUBLIC_URL", public.as_str()),
        ("NIGHTSHIFT_ACTIONS_KEY_SECRET", "actions-link-key"),
    ] {
        env.env.insert(k.into(), v.into());
    }
    let vault = env.app().settings.key_vault_dir();
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("test-hook-url"), &hook_url).unwrap();
    std::fs::write(vault.join("actions-link-key"), KEY).unwrap();
    let mut serve = serve_on(&env, port);

    let out = cli(
        &env,
        &[
            "release",
            "demo",
            "pr-1",
            "1.0.0",
            "--wait",
            "--timeout",
            "120",
        ],
    )
    .await;
    assert_eq!(
        out.code,
        0,
        "{}\n{}\n{}",
        out.stdout,
        out.stderr,
        log_of(&env)
    );
    // The resource group a Terraform layer would have created, with the run's tags (expiry included).
    let run = env.runs().await.remove(0);
    nightshift_local::cloud::LocalCloud::new(env.state.join("cloud"))
        .create_group("rg-demo-pr-1", &run.tags)
        .unwrap();

    // The sweeper's pass, fired through serve's admin API: pr-1 is within warn_before, so a warning is sent.
    let http = reqwest::Client::new();
    let fired = http
        .post(format!("{public}/admin/functions/expiry-sweeper"))
        .send()
        .await
        .unwrap();
    assert_eq!(fired.status(), 202, "{}", fired.text().await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let warning = loop {
        let found = bodies
            .lock()
            .unwrap()
            .iter()
            .find(|b| b["kind"] == "expiry-warning")
            .cloned();
        if let Some(w) = found {
            break w;
        }
        assert!(
            Instant::now() < deadline,
            "no expiry warning: {}",
            log_of(&env)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let link = warning["details"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["label"].as_str().unwrap().starts_with("Extend"))
        .unwrap_or_else(|| panic!("no Extend link: {warning}"))["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        link.starts_with(&format!("{public}/api/actions?token=")),
        "{link}"
    );
    let before = expiries(&env);
    assert_eq!(
        before.0, before.1,
        "the group is tagged with the record's expiry"
    );

    // GET (a link scanner, a chat preview, or the person): the confirmation page, nothing changes.
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<form method=\"post\">") && html.contains("extend demo/pr-1 by 1d"),
        "{html}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(expiries(&env), before, "a GET changed the environment");

    // The page's button: a POST to the same URL (the form has no action). The environment moves by 1d.
    let done = http.post(&link).send().await.unwrap();
    assert_eq!(done.status(), 202, "{}", done.text().await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let now = expiries(&env);
        if now.0 != before.0 && now.1 != before.1 {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "the POST did not extend the environment (record, tag): {now:?}\n{}",
            log_of(&env)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(after.0, after.1, "record and tag moved together");
    assert_eq!(
        after.0 - before.0,
        24 * 3600,
        "extended by the configured step"
    );

    // Each token acts once: the same POST again is refused, and nothing moves.
    let replay = http.post(&link).send().await.unwrap();
    assert_eq!(replay.status(), 409);
    assert!(replay.text().await.unwrap().contains("already used"));

    // Forged, altered and expired tokens are refused; none acts.
    let token = link.split("token=").nth(1).unwrap();
    let altered = token.replacen(".pr-1.", ".pr-2.", 1);
    assert_ne!(altered, token);
    let forged = {
        let claims = ActionClaims {
            action: LinkAction::Extend,
            product: nightshift_core::ProductName::parse("demo").unwrap(),
            environment: nightshift_core::EnvironmentName::parse("pr-1").unwrap(),
            expires_at: DateTime::from_timestamp(Utc::now().timestamp() + 3600, 0).unwrap(),
            token_id: action_link::token_id("forged"),
        };
        action_link::sign(b"not the key", &claims)
    };
    let expired = {
        let claims = ActionClaims {
            action: LinkAction::Extend,
            product: nightshift_core::ProductName::parse("demo").unwrap(),
            environment: nightshift_core::EnvironmentName::parse("pr-1").unwrap(),
            expires_at: DateTime::from_timestamp(Utc::now().timestamp() - 60, 0).unwrap(),
            token_id: action_link::token_id("expired"),
        };
        action_link::sign(KEY.as_bytes(), &claims)
    };
    for (what, token, status) in [
        ("altered", altered.as_str(), 403),
        ("forged", forged.as_str(), 403),
        ("expired", expired.as_str(), 410),
    ] {
        let url = format!("{public}/api/actions?token={token}");
        let r = http.post(&url).send().await.unwrap();
        assert_eq!(r.status(), status, "{what}: {}", r.text().await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        expiries(&env),
        after,
        "a refused link changed the environment"
    );

    // Each refusal is recorded (visible in `status`), without the link's signature.
    let out = cli(&env, &["status", "--json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let status: Value = serde_json::from_str(&out.stdout).expect("status --json is JSON");
    let refused: Vec<String> = status["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["queue"] == "actions")
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    for code in ["(replayed)", "(forged)", "(expired)"] {
        assert!(
            refused.iter().any(|r| r.contains(code)),
            "no {code} refusal recorded: {refused:#?}"
        );
    }
    assert_eq!(
        refused.len(),
        4,
        "replayed, altered, forged, expired: {refused:#?}"
    );
    let signature = token.rsplit('.').next().unwrap();
    assert!(
        !out.stdout.contains(signature),
        "a record keeps the signature"
    );

    // The portal's notification-delay tile reads one event per finished delivery from the handler's stdout.
    let log = std::fs::read_to_string(env.state.join("logs/host.log")).unwrap();
    let delivered: Vec<Value> = log
        .lines()
        .filter_map(|l| l.strip_prefix("nightshift-event "))
        .map(|j| serde_json::from_str::<Value>(j).unwrap())
        .filter(|e| e["event"] == "nightshift.notification.finished")
        .collect();
    assert_eq!(
        delivered.len(),
        bodies.lock().unwrap().len(),
        "one event per delivery: {delivered:#?}"
    );
    assert!(
        delivered.iter().all(|e| e["outcome"] == "delivered"
            && e["channel"] == "generic:test-hook-url"
            && e["delay_ms"].as_i64().is_some_and(|d| d >= 0)),
        "{delivered:#?}"
    );
    assert!(!log.contains(&hook_url), "the webhook URL is a secret");

    assert_eq!(sigint(&mut serve).code(), Some(0), "{}", log_of(&env));
}
