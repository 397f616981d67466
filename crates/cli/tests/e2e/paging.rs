//! `status` and `environments` a page at a time (issue 9): `--limit`, and `--cursor` with the `next_cursor` the page
//! before gave. The runs are created through release intake and left running (no host runs their jobs): paging is
//! about what the indexes list, not about jobs.

use crate::cli_env::CliEnv;
use crate::helpers::{sh_step, shell_catalog};
use serde_json::Value;

fn json(env: &CliEnv, args: &[&str]) -> Value {
    let out = env.run(args);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", out.stdout))
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_environments_page_with_a_limit_and_the_cursor_they_give() {
    let env = CliEnv::new(&shell_catalog(&sh_step("a", &[], "true")));
    let app = env.app();
    for (i, pr) in ["pr-1", "pr-2", "pr-3"].iter().enumerate() {
        let body = format!(
            r#"{{"schema":"nightshift.release/v1","product":"demo","environment":"{pr}","version":"1.0.{i}","requested_by":"ci"}}"#
        );
        app.release(&body, &format!("m-{i}")).await.unwrap();
    }

    let first = json(&env, &["status", "--json", "--limit", "2"]);
    assert_eq!(first["runs"].as_array().unwrap().len(), 2, "{first:#}");
    let cursor = first["next_cursor"].as_str().expect("more runs follow");
    let second = json(
        &env,
        &["status", "--json", "--limit", "2", "--cursor", cursor],
    );
    assert_eq!(second["runs"].as_array().unwrap().len(), 1, "{second:#}");
    assert!(second["next_cursor"].is_null(), "the last page: {second:#}");
    let mut ids: Vec<&str> = first["runs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["runs"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "every run once: {ids:?}");

    let text = env.run(&["status", "--limit", "1"]);
    assert!(
        text.stdout
            .contains("Older runs: nightshift status --limit 1 --cursor "),
        "{}",
        text.stdout
    );
    let bad = env.run(&["status", "--json", "--cursor", "nonsense"]);
    assert_ne!(bad.code, 0);
    assert!(
        bad.stdout.is_empty(),
        "--json prints JSON only: {}",
        bad.stdout
    );
    assert!(bad.stderr.contains("without --cursor"), "{}", bad.stderr);

    let page = json(&env, &["environments", "--json", "--limit", "2"]);
    let names: Vec<&str> = page["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pr-1", "pr-2"]);
    assert_eq!(
        page["environments"][0]["recent_runs"][0]["status"],
        "running"
    );
    let cursor = page["next_cursor"].as_str().expect("pr-3 follows");
    let rest = json(
        &env,
        &["environments", "--json", "--limit", "2", "--cursor", cursor],
    );
    assert_eq!(rest["environments"][0]["environment"], "pr-3");
    assert!(rest["next_cursor"].is_null());
}
