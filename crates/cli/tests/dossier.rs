//! `nightshift dossier` and the dossier's part of `nightshift validate`, run as the binary.
//!
//! The Mermaid diagram is checked with Mermaid's own parser (the npm package `mermaid` under node, through
//! tools/mermaid-check), and the HTML is opened in headless Chromium (Debian's `chromium`). Where node's mermaid or
//! the browser is missing these tests say so and skip, unless NIGHTSHIFT_REQUIRE_MERMAID / NIGHTSHIFT_REQUIRE_CHROMIUM
//! is set (CI sets both, after installing them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn fixture_root() -> PathBuf {
    repo_root().join("crates/app/tests/data/dossier-agenda")
}

fn nightshift(root: &Path, catalog: &Path, args: &[&str]) -> Output {
    let state = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_nightshift"))
        .args([
            "--catalog",
            catalog.to_str().unwrap(),
            "--state-dir",
            state.path().to_str().unwrap(),
        ])
        .args(args)
        .env("NIGHTSHIFT_REPO_ROOT", root)
        .env_remove("NIGHTSHIFT_MODE")
        .current_dir(root)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_names_the_file_and_line_of_a_dossier_flow_to_an_unknown_component() {
    let repo = repo_root();
    let tmp = tempfile::tempdir().unwrap();
    for f in ["orthense.yaml", "orthense-demo.yaml"] {
        std::fs::copy(repo.join("catalog").join(f), tmp.path().join(f)).unwrap();
    }
    let ok = nightshift(&repo, tmp.path(), &["validate"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));

    let file = tmp.path().join("orthense.yaml");
    let mut yaml = std::fs::read_to_string(&file).unwrap();
    yaml.push_str("    - { from: api-medical, to: api-insee, protocol: HTTPS, port: 443 }\n");
    let line = yaml.lines().count();
    std::fs::write(&file, &yaml).unwrap();
    let out = nightshift(&repo, tmp.path(), &["validate"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "orthense.yaml:{line}: dossier.flows[3].to: unknown component \"api-insee\""
        )),
        "{err}"
    );

    // An instance the stacks do not create: known only once the stacks are read.
    std::fs::write(&file, yaml.replace("to: api-insee", "to: spas.admin")).unwrap();
    let out = nightshift(&repo, tmp.path(), &["validate"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "orthense.yaml:{line}: dossier flow api-medical -> spas.admin"
        )),
        "{err}"
    );
}

#[test]
fn the_dossier_command_writes_each_format_and_language_and_refuses_an_unknown_product() {
    let repo = repo_root();
    let out_dir = tempfile::tempdir().unwrap();
    let o = out_dir.path().to_str().unwrap();
    let md = nightshift(
        &repo,
        &repo.join("catalog"),
        &["dossier", "orthense", "--environment", "nightly", "-o", o],
    );
    assert_eq!(md.status.code(), Some(0), "{}", text(&md.stderr));
    let written =
        std::fs::read_to_string(out_dir.path().join("dossier-orthense-nightly.md")).unwrap();
    assert!(
        written.starts_with("# Dossier technique — orthense (nightly)"),
        "{written}"
    );
    assert!(
        written.contains("### Matrice des flux") && written.contains("```mermaid\nC4Container")
    );
    let en = nightshift(
        &repo,
        &repo.join("catalog"),
        &["dossier", "orthense-demo", "--lang", "en"],
    );
    assert_eq!(en.status.code(), Some(0), "{}", text(&en.stderr));
    assert!(text(&en.stdout).contains("### Flow matrix"));
    let bad = nightshift(&repo, &repo.join("catalog"), &["dossier", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("no product \"nope\""));
    let bad_env = nightshift(
        &repo,
        &repo.join("catalog"),
        &["dossier", "orthense", "--environment", "staging"],
    );
    assert_eq!(bad_env.status.code(), Some(2), "{}", text(&bad_env.stderr));
}

/// `(true, why)` to skip: the tool is missing and not required here.
fn skip(required_var: &str, missing: Option<String>) -> bool {
    match missing {
        None => false,
        Some(why) if std::env::var_os(required_var).is_some() => {
            panic!("{required_var} is set but {why}")
        }
        Some(why) => {
            eprintln!("SKIPPED: {why} (set {required_var} to make this a failure)");
            true
        }
    }
}

fn mermaid_missing(repo: &Path) -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    (!repo.join("node_modules/mermaid/package.json").exists())
        .then(|| "the npm package mermaid is not installed (npm ci)".into())
}

fn diagram_of(markdown: &str) -> String {
    let start = markdown.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let end = markdown[start..].find("```").unwrap() + start;
    markdown[start..end].to_string()
}

#[test]
fn the_diagrams_pass_mermaids_own_parser_and_a_broken_one_does_not() {
    let repo = repo_root();
    if skip("NIGHTSHIFT_REQUIRE_MERMAID", mermaid_missing(&repo)) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (root, product, one_env) in [
        (repo.clone(), "orthense", "nightly"),
        (repo.clone(), "orthense-demo", "nightly"),
        (repo.clone(), "vao-demo", "main"),
        (fixture_root(), "agenda", "nightly"),
    ] {
        for env in [None, Some(one_env)] {
            let mut args = vec!["dossier", product];
            if let Some(e) = env {
                args.extend(["--environment", e]);
            }
            let out = nightshift(&root, &root.join("catalog"), &args);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            let path = tmp
                .path()
                .join(format!("{product}-{}.mmd", env.unwrap_or("all")));
            std::fs::write(&path, diagram_of(&text(&out.stdout))).unwrap();
            files.push(path);
        }
    }
    let check = |files: &[PathBuf]| {
        Command::new("node")
            .arg(repo.join("tools/mermaid-check/check.mjs"))
            .args(files)
            .current_dir(&repo)
            .output()
            .unwrap()
    };
    let ok = check(&files);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}{}",
        text(&ok.stdout),
        text(&ok.stderr)
    );
    assert_eq!(
        text(&ok.stdout).matches(": c4 OK").count(),
        files.len(),
        "{}",
        text(&ok.stdout)
    );

    // The same diagram with one boundary closed twice: the parser refuses it.
    let broken = tmp.path().join("broken.mmd");
    let good = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&broken, format!("{good}    }}\n")).unwrap();
    let bad = check(&[broken]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stdout));
    assert!(
        text(&bad.stderr).contains("Parse error"),
        "{}",
        text(&bad.stderr)
    );
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn headless(browser: &str, extra: &[&str], page: &Path) -> Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--virtual-time-budget=15000")
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

#[test]
fn the_html_opens_in_headless_chromium_and_its_screenshot_shows_the_rendered_diagram() {
    let repo = repo_root();
    let browser = chromium();
    if skip(
        "NIGHTSHIFT_REQUIRE_CHROMIUM",
        browser
            .is_none()
            .then(|| "chromium is not installed (Debian: apt-get install chromium)".to_string()),
    ) || skip("NIGHTSHIFT_REQUIRE_CHROMIUM", mermaid_missing(&repo))
    {
        return;
    }
    let browser = browser.unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dossier-html");
    let _ = std::fs::remove_dir_all(&dir);
    let out = nightshift(
        &repo,
        &repo.join("catalog"),
        &[
            "dossier",
            "orthense",
            "--environment",
            "nightly",
            "--format",
            "html",
            "-o",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = dir.join("dossier-orthense-nightly.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("<script src="),
        "mermaid is embedded, nothing is fetched at view time"
    );

    // The DOM after the page's scripts ran: mermaid replaced the diagram's source with its SVG.
    let dom = text(&headless(browser, &["--dump-dom"], &page).stdout);
    assert!(
        dom.contains("data-mermaid=\"rendered\""),
        "mermaid did not render: {}",
        dom.lines()
            .find(|l| l.contains("data-mermaid"))
            .unwrap_or("no body attribute")
    );
    assert!(
        dom.contains("aria-roledescription=\"c4\""),
        "no C4 diagram SVG in the page"
    );
    for label in [
        "api-medical",
        "data-mongo",
        "SendGrid",
        "TLS (MongoDB) 10255",
    ] {
        assert!(
            dom.contains(&format!(">{label}<")),
            "{label} is not drawn in the SVG"
        );
    }

    // The screenshot: a page whose diagram rendered differs from the same page with mermaid's source left as text.
    let shot = dir.join("screenshot.png");
    let taken = headless(
        browser,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,5200",
        ],
        &page,
    );
    let png = std::fs::read(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}): {}", text(&taken.stderr)));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let plain = dir.join("no-diagram.html");
    let start = html.find("<script>\n").unwrap();
    std::fs::write(&plain, format!("{}</body></html>", &html[..start])).unwrap();
    let plain_shot = dir.join("no-diagram.png");
    headless(
        browser,
        &[
            &format!("--screenshot={}", plain_shot.display()),
            "--window-size=1400,5200",
        ],
        &plain,
    );
    let plain_png = std::fs::read(&plain_shot).unwrap();
    assert!(
        plain_png.starts_with(b"\x89PNG") && plain_png != png,
        "the diagram changed nothing on screen"
    );
    eprintln!("screenshot: {}", shot.display());
}

/// Every `nightshift dossier` command shown in docs/dossier.md exists with those flags.
#[test]
fn every_command_in_docs_dossier_md_parses() {
    let doc = std::fs::read_to_string(repo_root().join("docs/dossier.md")).unwrap();
    let commands: Vec<&str> = doc
        .lines()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("nightshift "))
        .map(|l| l.split("  #").next().unwrap_or(l).trim())
        .collect();
    assert!(commands.len() >= 4, "{commands:?}");
    for c in commands {
        let args: Vec<&str> = c.split_whitespace().collect();
        if let Err(e) = <nightshift::cli::Cli as clap::Parser>::try_parse_from(&args) {
            panic!("docs/dossier.md shows `{c}`, which does not parse: {e}");
        }
    }
}
