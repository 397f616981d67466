//! Docs are tested: every `nightshift` command shown in the README, docs/ (Markdown and the pipeline examples) and
//! the other READMEs parses with the real command-line parser, with the flags it shows.
//!
//! Commands are taken from fenced code blocks (`sh`, `bash`, `console`, `shell` or no language) and from the `run:`
//! (GitHub Actions) and `script:`/`bash:` (Azure Pipelines) steps of the YAML examples. `cargo run --release -- ARGS`
//! counts as `nightshift ARGS`. A command is cut at a pipe, `&&`, `;`, `||` or a `#` comment; environment assignments
//! before it are dropped; `$VAR`/`${{ expr }}`/`$(expr)` arguments stand for a value.

use clap::Parser;
use nightshift::cli::Cli;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The documents whose commands must parse.
fn documents() -> Vec<PathBuf> {
    let root = repo_root();
    let mut docs = vec![
        root.join("README.md"),
        root.join("terraform/README.md"),
        root.join("seeds/README.md"),
        root.join("BENCHMARKS.md"),
        root.join("RELIABILITY.md"),
    ];
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("docs/ is readable") {
            let path = entry.expect("a docs entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("md" | "yml" | "yaml")
            ) {
                docs.push(path);
            }
        }
    }
    docs.retain(|p| p.exists());
    docs.sort();
    docs
}

/// Splits a shell line into words: single and double quotes, backslash escapes; stops at an unquoted `#` comment.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                    in_word = true;
                }
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The nightshift arguments of one shell line, if it runs nightshift.
fn nightshift_args(line: &str) -> Option<Vec<String>> {
    let mut words = shell_words(line);
    // Cut at the first control operator.
    if let Some(i) = words
        .iter()
        .position(|w| matches!(w.as_str(), "|" | "||" | "&&" | ";" | ">" | "2>&1" | ">>"))
    {
        words.truncate(i);
    }
    // The command is the first word after environment assignments (output lines and diagrams that merely mention
    // nightshift are not commands).
    let start = words.iter().position(|w| !is_assignment(w)).filter(|&i| {
        let w = &words[i];
        w == "nightshift" || w.ends_with("/nightshift") || w == "cargo"
    })?;
    let mut words = words.split_off(start);
    if words[0] == "cargo" {
        // cargo run [--release] [-q] -- ARGS
        let sep = words.iter().position(|w| w == "--")?;
        if words.get(1).map(String::as_str) != Some("run") {
            return None;
        }
        words = words.split_off(sep + 1);
    } else {
        words.remove(0);
    }
    // Drop a trailing `;` glued to the last word, and stand-ins for values.
    Some(
        words
            .into_iter()
            .map(|w| w.trim_end_matches(';').to_string())
            .collect(),
    )
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Logical shell lines: backslash-continued lines joined.
fn join_continuations(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut first = 0;
    for (n, line) in text.lines().enumerate() {
        if current.is_empty() {
            first = n + 1;
        }
        let trimmed = line.trim_end();
        if let Some(stripped) = trimmed.strip_suffix('\\') {
            current.push_str(stripped);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            out.push((first, std::mem::take(&mut current)));
        }
    }
    if !current.is_empty() {
        out.push((first, current));
    }
    out
}

/// Shell lines of a Markdown file's shell code blocks, with their line numbers.
fn markdown_shell_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(lang) = t.strip_prefix("```") {
            match block.take() {
                Some((start, body)) => {
                    for (offset, l) in join_continuations(&body) {
                        out.push((start + offset, l));
                    }
                }
                None => {
                    let lang = lang.trim();
                    if matches!(lang, "" | "sh" | "bash" | "shell" | "console") {
                        block = Some((n + 1, String::new()));
                    } else {
                        // Another language: skip until its end.
                        block = None;
                        out.push((usize::MAX, format!("```{lang}")));
                    }
                }
            }
            continue;
        }
        if let Some((_, body)) = block.as_mut() {
            body.push_str(line.strip_prefix("$ ").unwrap_or(line));
            body.push('\n');
        }
    }
    // Remove the markers of skipped blocks (they only reset the state above).
    out.retain(|(n, _)| *n != usize::MAX);
    // Inline code spans in prose and tables that show a whole command: `nightshift status --json`.
    let mut in_block = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && (span.starts_with("nightshift ") || span.starts_with("cargo run ")) {
                out.push((n + 1, span.to_string()));
            }
        }
    }
    out
}

/// Shell lines of the `run:` / `script:` / `bash:` steps of a pipeline YAML file.
fn pipeline_shell_lines(text: &str) -> Vec<(usize, String)> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(text).expect("the pipeline example is valid YAML");
    let mut scripts = Vec::new();
    fn walk(v: &serde_yaml::Value, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::Mapping(m) => {
                for (k, v) in m {
                    if let (Some(k), Some(s)) = (k.as_str(), v.as_str()) {
                        if matches!(k, "run" | "script" | "bash" | "inlineScript") {
                            out.push(s.to_string());
                        }
                    }
                    walk(v, out);
                }
            }
            serde_yaml::Value::Sequence(s) => s.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&doc, &mut scripts);
    scripts.iter().flat_map(|s| join_continuations(s)).collect()
}

/// Replaces `${{ expr }}` (GitHub), `$(expr)` (Azure Pipelines) and `$VAR` stand-ins by a plain value, so a flag's
/// value parses the way the real value would.
fn substitute(word: &str) -> String {
    if word.contains("${{") || word.contains("$(") || word.contains('$') || word.starts_with('<') {
        // Keep a flag's name: `--ttl=$X` -> `--ttl=value`.
        if let Some((flag, _)) = word.split_once('=').filter(|(f, _)| f.starts_with("--")) {
            return format!("{flag}=x");
        }
        return "x".into();
    }
    word.to_string()
}

#[test]
fn every_nightshift_command_in_the_docs_parses_with_the_flags_it_shows() {
    let root = repo_root();
    let mut checked = 0;
    let mut errors = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("readable doc");
        let shown = doc
            .strip_prefix(&root)
            .unwrap_or(&doc)
            .display()
            .to_string();
        let lines = if shown.ends_with(".md") {
            markdown_shell_lines(&text)
        } else {
            pipeline_shell_lines(&text)
        };
        for (line_no, line) in lines {
            let Some(args) = nightshift_args(&line) else {
                continue;
            };
            // A synopsis names its values `<like this>`: the subcommand and the flags must exist, the values are
            // stand-ins that a value parser may refuse. A synopsis of "any command" names no command to check.
            if args.first().is_some_and(|a| a.starts_with('<')) {
                continue;
            }
            let synopsis = args.iter().any(|a| a.contains('<'));
            let argv: Vec<String> = std::iter::once("nightshift".to_string())
                .chain(args.iter().map(|a| substitute(a)))
                .collect();
            checked += 1;
            use clap::error::ErrorKind;
            match Cli::try_parse_from(&argv) {
                Ok(_) => {}
                Err(e)
                    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {}
                Err(e)
                    if synopsis
                        && matches!(
                            e.kind(),
                            ErrorKind::ValueValidation | ErrorKind::InvalidValue
                        ) => {}
                Err(e) => errors.push(format!(
                    "{shown}:{line_no}: `{}`: {}",
                    line.trim(),
                    e.to_string().lines().next().unwrap_or_default()
                )),
            }
        }
    }
    assert!(
        checked >= 5,
        "only {checked} nightshift commands found in the docs: is the extraction broken?"
    );
    assert!(
        errors.is_empty(),
        "{} documented command(s) do not parse:\n  {}",
        errors.len(),
        errors.join("\n  ")
    );
}

/// The benchmark's shapes and modes, from its own source: a documented `-- SHAPE` must be one it takes.
#[allow(dead_code)]
#[path = "../benches/shapes/catalogs.rs"]
mod shapes_catalogs;

/// `cargo bench` commands shown in a document, in code blocks and in inline code spans: their words from `cargo`
/// to the end of the span or the line (a `#` comment excluded), with their line numbers.
fn cargo_bench_commands(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("cargo bench") {
            let command = &rest[i..];
            let end = command.find('`').unwrap_or(command.len());
            out.push((n + 1, shell_words(&command[..end])));
            rest = &command[end..];
        }
    }
    out
}

/// What is wrong with a `cargo bench` command's bench or arguments, if anything: the bench must be one of
/// crates/cli/benches, `shapes` takes shape names and its modes, the others a number of runs or of stored runs.
fn bench_command_error(words: &[String]) -> Option<String> {
    let bench = words
        .iter()
        .position(|w| w == "--bench")
        .and_then(|i| words.get(i + 1))?;
    let benches = repo_root().join("crates/cli/benches");
    if !benches.join(format!("{bench}.rs")).exists()
        && !benches.join(bench).join("main.rs").exists()
    {
        return Some(format!("there is no bench {bench:?} in crates/cli/benches"));
    }
    let args = words
        .iter()
        .position(|w| w == "--")
        .map_or(&[][..], |i| &words[i + 1..]);
    for arg in args {
        let known = match bench.as_str() {
            "shapes" => {
                [shapes_catalogs::COST, shapes_catalogs::FLOOR].contains(&arg.as_str())
                    || shapes_catalogs::Shape::all()
                        .iter()
                        .any(|s| s.name() == *arg)
            }
            _ => arg.parse::<usize>().is_ok(),
        };
        if !known {
            return Some(format!("the {bench} bench takes no argument {arg:?}"));
        }
    }
    None
}

#[test]
fn every_cargo_bench_command_in_the_docs_names_a_bench_and_arguments_it_takes() {
    let root = repo_root();
    let mut checked = 0;
    let mut errors = Vec::new();
    for doc in documents()
        .into_iter()
        .filter(|d| d.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(&doc).expect("readable doc");
        for (line_no, words) in cargo_bench_commands(&text) {
            checked += 1;
            if let Some(e) = bench_command_error(&words) {
                let shown = doc
                    .strip_prefix(&root)
                    .unwrap_or(&doc)
                    .display()
                    .to_string();
                errors.push(format!("{shown}:{line_no}: `{}`: {e}", words.join(" ")));
            }
        }
    }
    assert!(
        checked >= 5,
        "only {checked} cargo bench commands found in the docs: is the extraction broken?"
    );
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn a_documented_bench_or_shape_that_does_not_exist_is_caught() {
    let bench = |line: &str| {
        let commands = cargo_bench_commands(line);
        assert_eq!(commands.len(), 1, "{line}");
        bench_command_error(&commands[0].1)
    };
    assert_eq!(
        bench("run `cargo bench -p nightshift --bench shapes -- chain400 floor`, then"),
        None
    );
    assert_eq!(
        bench("cargo bench -p nightshift --bench demo_dag -- 10   # more runs"),
        None
    );
    assert!(bench("cargo bench -p nightshift --bench shape").is_some());
    assert!(bench("cargo bench -p nightshift --bench shapes -- chain401").is_some());
    assert!(bench("cargo bench -p nightshift --bench status_index -- many").is_some());
}

#[test]
fn a_documented_command_with_an_unknown_flag_is_caught() {
    let lines = markdown_shell_lines("text\n```sh\nnightshift status --jsn   # a typo\n```\n");
    let args = nightshift_args(&lines[0].1).expect("a nightshift line");
    let argv: Vec<String> = std::iter::once("nightshift".to_string())
        .chain(args)
        .collect();
    assert!(Cli::try_parse_from(&argv).is_err(), "--jsn must not parse");
}

#[test]
fn shell_lines_are_split_like_a_shell_would() {
    assert_eq!(
        nightshift_args("NIGHTSHIFT_MODE=azure nightshift status --json | jq '.runs[0]'"),
        Some(vec!["status".into(), "--json".into()])
    );
    assert_eq!(
        nightshift_args("cargo run --release -- up   # the demo"),
        Some(vec!["up".into()])
    );
    assert_eq!(
        nightshift_args(r#"nightshift keep shop pr-1 --for 3d --reason "flaky smoke, looking""#),
        Some(vec![
            "keep".into(),
            "shop".into(),
            "pr-1".into(),
            "--for".into(),
            "3d".into(),
            "--reason".into(),
            "flaky smoke, looking".into()
        ])
    );
    assert_eq!(nightshift_args("cargo test --workspace"), None);
    let joined = join_continuations("nightshift sweep \\\n  --dry-run\n");
    assert_eq!(
        joined,
        vec![(1, "nightshift sweep    --dry-run".to_string())]
    );
}

#[test]
fn the_readme_shows_the_daily_verbs_on_its_first_screen_after_the_two_set_up_commands() {
    let text = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let first_screen: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
    let lines = markdown_shell_lines(&first_screen);
    let position = |wanted: &str| {
        lines
            .iter()
            .position(|(_, l)| l.trim_start().starts_with(wanted))
            .unwrap_or_else(|| panic!("`{wanted}` is not on the README's first screen"))
    };
    let (setup, tests) = (
        position("cargo run --release -- up"),
        position("cargo test --workspace"),
    );
    assert_eq!(
        (setup, tests),
        (0, 1),
        "the two set-up commands open the README"
    );
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
        let shown = lines.iter().enumerate().skip(2).any(|(_, (_, l))| {
            l.trim_start().starts_with("nightshift ")
                && nightshift_args(l)
                    .and_then(|a| a.first().cloned())
                    .as_deref()
                    == Some(verb)
        });
        assert!(
            shown,
            "`nightshift {verb}` is not on the first screen after the set-up commands"
        );
    }
}

#[test]
fn both_pipeline_examples_are_valid_yaml_that_release_and_close_with_oidc_and_no_stored_key() {
    let root = repo_root();
    for (file, login, credential) in [
        (
            "docs/pipelines/github-actions.yml",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "NIGHTSHIFT_CREDENTIAL: workload-identity",
        ),
        (
            "docs/pipelines/azure-pipelines.yml",
            "AzureCLI@2",
            "azure-cli",
        ),
    ] {
        let text =
            std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let commands: Vec<Vec<String>> = pipeline_shell_lines(&text)
            .iter()
            .filter_map(|(_, l)| nightshift_args(l))
            .collect();
        for verb in ["release", "close"] {
            assert!(
                commands
                    .iter()
                    .any(|c| c.first().map(String::as_str) == Some(verb)),
                "{file} never runs `nightshift {verb}`"
            );
        }
        assert!(
            commands
                .iter()
                .filter(|c| c[0] == "release")
                .all(|c| c.iter().any(|a| a == "--wait")),
            "{file}: every release waits for its environment, so the job fails when the environment does"
        );
        assert!(text.contains(login), "{file}: logs in with {login}");
        assert!(
            text.contains("NIGHTSHIFT_CREDENTIAL") && text.contains(credential),
            "{file}: nightshift takes its tokens from the OIDC login ({credential})"
        );
        for stored_key in [
            "client-secret",
            "AZURE_CLIENT_SECRET",
            "NIGHTSHIFT_ARM_TOKEN",
            "NIGHTSHIFT_STORAGE_KEY",
        ] {
            assert!(
                !text.contains(stored_key),
                "{file} uses a stored key ({stored_key})"
            );
        }
    }
}
