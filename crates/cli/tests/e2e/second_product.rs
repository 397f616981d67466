//! Acceptance of issue 7: a second product, added to `catalog/` with its own stacks and seeds and no Rust change
//! (`vao-demo`, seed 002), lives its daily life through the CLI alone on the local service: validated, released to
//! `pr-1`, extended, kept through a sweep, closed and swept; its persistent `main` never gets test data, and its smoke
//! check never runs before its reference data is loaded. Real Terraform (built-in resources), real Ansible, real
//! SQLite stand-ins of the PostgreSQL database.

use crate::cli_env::{sigint, CliEnv};
use crate::helpers::repo_root;
use chrono::{DateTime, Duration, Utc};
use nightshift_core::run::{Run, StepStatus};
use nightshift_core::StepName;
use std::path::Path;

fn catalog() -> String {
    std::fs::read_to_string(repo_root().join("catalog/vao-demo.yaml"))
        .expect("catalog/vao-demo.yaml")
}

fn environment(env: &CliEnv, name: &str) -> serde_json::Value {
    let out = env.run(&["environments", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("environments --json is JSON");
    list["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["product"] == "vao-demo" && e["environment"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no vao-demo/{name} in {list}"))
}

fn group_tags(env: &CliEnv, group: &str) -> serde_json::Value {
    let path = env
        .state
        .join("cloud/resource-groups")
        .join(group)
        .join("tags.json");
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn time(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

/// Every step started only after each step it transitively needs had finished (through skipped ones, to what they
/// needed in turn).
fn assert_dependencies_finished_first(run: &Run) {
    for (name, step) in &run.steps {
        let Some(started) = step.started_at.or(step.finished_at) else {
            continue;
        };
        let mut stack: Vec<_> = step.def.needs.clone();
        while let Some(dep) = stack.pop() {
            let d = &run.steps[&dep];
            stack.extend(d.def.needs.clone());
            if d.status == StepStatus::Skipped {
                // Skipped once its own dependencies were done: no time of its own; what it needs is checked.
                continue;
            }
            let finished = d
                .finished_at
                .unwrap_or_else(|| panic!("{dep} never finished"));
            assert!(
                finished <= started,
                "{}: {name} started at {started} before {dep} finished at {finished}",
                run.id
            );
        }
    }
}

fn db_rows(path: &Path, table: &str) -> i64 {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(f'select count(*) from {sys.argv[2]}').fetchone()[0])",
        ])
        .arg(path)
        .arg(table)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!(
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_product_lives_its_daily_life_through_the_cli_alone() {
    let mut env = CliEnv::new(&catalog());
    // This product's seeds are real Ansible playbooks.
    env.env.remove("NIGHTSHIFT_ANSIBLE_PLAYBOOK");
    let out = env.run(&["validate"]);
    assert_eq!(out.code, 0, "validate: {}{}", out.stdout, out.stderr);

    let mut serve = env.serve(1);
    let app = env.app();
    let wait = ["--wait", "--timeout", "300", "--requested-by", "ci"];

    // A pull request: built with test data, its smoke check after both seeds.
    let out = env.run(&[&["release", "vao-demo", "pr-1", "1.0.0"][..], &wait].concat());
    assert_eq!(
        out.code,
        0,
        "release pr-1: {}\n{}\n{}",
        out.stdout,
        out.stderr,
        env.serve_log(1)
    );
    let pr = environment(&env, "pr-1");
    assert_eq!(pr["status"], "ready");
    let runs = app.repo.runs().await.unwrap();
    let pr_run = runs
        .iter()
        .find(|r| r.environment.as_str() == "pr-1")
        .unwrap();
    assert_dependencies_finished_first(pr_run);
    assert_eq!(
        pr_run.steps[&StepName::parse("jeux-de-test").unwrap()].status,
        StepStatus::Succeeded
    );
    let database = pr_run.outputs()["postgres"]["database_path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        db_rows(Path::new(&database), "sejours") > 0,
        "test data in a pull-request environment"
    );

    // Extend: the record and the resource group's expiry tag move together.
    let before = time(&pr["expires_at"]);
    let out = env.run(&[&["extend", "vao-demo", "pr-1", "--by", "2d"][..], &wait].concat());
    assert_eq!(out.code, 0, "extend: {}\n{}", out.stdout, out.stderr);
    let extended = environment(&env, "pr-1");
    let after = time(&extended["expires_at"]);
    assert_eq!(after - before, Duration::days(2));
    assert_eq!(extended["expiry_reason"], "extended");
    // Tags carry whole seconds (RFC 3339, `Z`): the record's instant, to the second.
    assert_eq!(
        time(&group_tags(&env, "rg-vao-demo-pr-1")["nightshift-expires-at"]).timestamp(),
        after.timestamp(),
        "the group's tag follows the record"
    );

    // Keep: the sweep at the (extended) expiry keeps it.
    let out = env.run(
        &[
            &[
                "keep",
                "vao-demo",
                "pr-1",
                "--for",
                "20d",
                "--reason",
                "debugging the smoke check",
            ][..],
            &wait,
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "keep: {}\n{}", out.stdout, out.stderr);
    let at = (after + Duration::hours(1)).to_rfc3339();
    let out = env.run(&["sweep", "--now", &at, "--json"]);
    assert_eq!(out.code, 0, "sweep: {}\n{}", out.stdout, out.stderr);
    assert!(
        env.state
            .join("cloud/resource-groups/rg-vao-demo-pr-1")
            .is_dir(),
        "a kept environment survives its old expiry"
    );
    assert_eq!(environment(&env, "pr-1")["status"], "ready");

    // The persistent main: reference data only, and smoke waited for the reference data through the skipped step.
    let out = env.run(&[&["release", "vao-demo", "main", "1.0.0"][..], &wait].concat());
    assert_eq!(
        out.code,
        0,
        "release main: {}\n{}\n{}",
        out.stdout,
        out.stderr,
        env.serve_log(1)
    );
    let runs = app.repo.runs().await.unwrap();
    let main_run = runs
        .iter()
        .find(|r| r.environment.as_str() == "main")
        .unwrap();
    assert_eq!(
        main_run.steps[&StepName::parse("jeux-de-test").unwrap()].status,
        StepStatus::Skipped
    );
    assert_dependencies_finished_first(main_run);
    let main_db = main_run.outputs()["postgres"]["database_path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        db_rows(Path::new(&main_db), "regions") >= 13,
        "reference data in main"
    );
    for table in ["organismes", "agrements", "sejours"] {
        assert_eq!(
            db_rows(Path::new(&main_db), table),
            0,
            "no test data ({table}) in the persistent main"
        );
    }

    // Close: groups, data and Terraform state gone, the reason says who.
    let out = env.run(&[&["close", "vao-demo", "pr-1"][..], &wait].concat());
    assert_eq!(out.code, 0, "close: {}\n{}", out.stdout, out.stderr);
    let closed = environment(&env, "pr-1");
    assert_eq!(closed["status"], "destroyed");
    assert!(
        closed["destroyed_reason"]
            .as_str()
            .unwrap()
            .contains("closed by ci"),
        "{closed}"
    );
    assert!(
        !env.state
            .join("cloud/resource-groups/rg-vao-demo-pr-1")
            .exists(),
        "the group is gone"
    );
    assert!(!Path::new(&database).exists(), "its database is gone");
    assert!(
        !env.state.join("terraform/vao-demo/pr-1").exists(),
        "its Terraform state is gone"
    );

    // Close on main is refused and changes nothing; the sweep, however far ahead, never deletes main.
    let out = env.run(&[&["close", "vao-demo", "main"][..], &wait].concat());
    assert_eq!(
        out.code, 1,
        "a persistent environment is not closed: {}",
        out.stdout
    );
    let out = env.run(&["sweep", "--now", "2099-01-01T00:00:00Z", "--json"]);
    assert_eq!(out.code, 0, "sweep: {}\n{}", out.stdout, out.stderr);
    assert!(env
        .state
        .join("cloud/resource-groups/rg-vao-demo-main")
        .is_dir());
    assert_eq!(environment(&env, "main")["status"], "ready");
    assert_eq!(sigint(&mut serve).code(), Some(0));
}
