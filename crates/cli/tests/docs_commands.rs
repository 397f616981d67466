//! Docs are tested: every `nightshift …` command shown in README.md and under docs/ (in code blocks, and in
//! inline code) must parse with the flags it shows, with the real command-line definition.

use clap::Parser;
use nightshift::cli::Cli;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn docs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut out = vec![repo_root().join("README.md")];
    walk(&repo_root().join("docs"), &mut out);
    out
}

/// Splits a command line as a shell would for these simple cases: words, '…' and "…" quoting, a `#` comment.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// The nightshift command lines of a Markdown file: lines of code blocks, and inline code spans.
pub fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            let l = line.trim();
            let l = l
                .strip_prefix("cargo run --release -- ")
                .map(|r| format!("nightshift {r}"));
            let l = l.unwrap_or_else(|| line.trim().to_string());
            if l.starts_with("nightshift ") {
                out.push(l);
            }
        } else {
            for (i, span) in line.split('`').enumerate() {
                if i % 2 == 1 && span.starts_with("nightshift ") && !span.contains('…') {
                    out.push(span.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn every_command_in_the_readme_and_the_docs_parses_with_the_flags_it_shows() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in docs() {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in commands(&text) {
            checked += 1;
            if let Err(e) = Cli::try_parse_from(words(&line)) {
                failures.push(format!("{}: `{line}`: {}", path.display(), e.kind()));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        checked >= 20,
        "only {checked} commands found: is the extraction broken?"
    );
}

#[test]
fn the_readme_shows_the_daily_verbs_on_its_first_screen_after_the_two_set_up_commands() {
    let text = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let first_screen: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
    let setup = first_screen
        .find("cargo run --release -- up")
        .expect("the first command");
    let tests = first_screen
        .find("cargo test --workspace")
        .expect("the second command");
    assert!(setup < tests);
    // The daily verbs, shown as `nightshift …` lines after the two set-up commands.
    let block_end = tests
        + first_screen[tests..]
            .find("```")
            .expect("the set-up block ends")
        + 3;
    let daily = commands(&first_screen[block_end..]);
    for verb in [
        "release",
        "close",
        "extend",
        "keep",
        "environments",
        "serve",
        "up",
        "status",
    ] {
        assert!(
            daily.iter().any(|c| c.starts_with("nightshift ")
                && words(c).get(1).map(String::as_str) == Some(verb)),
            "`nightshift {verb}` is not on the first screen after the set-up commands: {daily:?}"
        );
    }
}

#[test]
fn the_extraction_finds_block_lines_inline_spans_and_strips_comments_and_quotes() {
    let md = "```sh\nnightshift keep p pr-1 --for 3d --reason \"a b # c\"   # pin it\ncargo run --release -- up\n```\nRun `nightshift status --json` or `nightshift-managed-by`.";
    let cmds = commands(md);
    assert_eq!(cmds.len(), 3, "{cmds:?}");
    assert_eq!(
        words(&cmds[0]),
        [
            "nightshift",
            "keep",
            "p",
            "pr-1",
            "--for",
            "3d",
            "--reason",
            "a b # c"
        ]
    );
    assert_eq!(cmds[1], "nightshift up");
    assert!(
        Cli::try_parse_from(words("nightshift launch")).is_err(),
        "an unknown verb fails"
    );
}
