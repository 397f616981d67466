//! `rust-version` in the workspace's Cargo.toml is the true minimum: the highest `rust-version` any locked package
//! that the build actually uses (normal, build and dev dependencies, every target, as `cargo tree` resolves them with
//! features) declares. `cargo fetch` first fills the local registry cache; then `cargo tree` and `cargo metadata` read
//! Cargo.lock and that cache offline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn cargo(args: &[&str]) -> String {
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn parse_version(v: &str) -> (u32, u32, u32) {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[test]
fn the_workspace_rust_version_is_the_highest_minimum_of_the_locked_dependencies() {
    // Every locked package for every target, as `--target all` below reads them: on a fresh machine the build has
    // downloaded only this platform's (a no-op once they are in the local cache).
    cargo(&["fetch", "--locked"]);
    // name vX.Y.Z -> declared rust-version, for every package Cargo.lock knows.
    let metadata: serde_json::Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--format-version",
        "1",
        "--offline",
        "--locked",
    ]))
    .expect("cargo metadata is JSON");
    let declared: BTreeMap<String, String> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| !p["source"].is_null())
        .filter_map(|p| {
            Some((
                format!("{} v{}", p["name"].as_str()?, p["version"].as_str()?),
                p["rust_version"].as_str()?.to_string(),
            ))
        })
        .collect();
    // What the build really compiles (an optional dependency no feature enables is in Cargo.lock but not here).
    let tree = cargo(&[
        "tree",
        "--workspace",
        "--offline",
        "--locked",
        "--target",
        "all",
        "-e",
        "normal,build,dev",
        "--prefix",
        "none",
    ]);
    let mut highest = ((0, 0, 0), String::new());
    for line in tree.lines() {
        let package = line
            .split(" (")
            .next()
            .unwrap_or_default()
            .trim_end_matches(" *");
        if let Some(v) = declared.get(package) {
            let parsed = parse_version(v);
            if parsed > highest.0 {
                highest = (parsed, format!("{package} needs {v}"));
            }
        }
    }
    assert!(
        highest.0 > (1, 0, 0),
        "no dependency declares a rust-version: {tree}"
    );

    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let ours = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("the workspace declares rust-version");
    let (major, minor, _) = highest.0;
    assert_eq!(
        parse_version(&ours),
        (major, minor, 0),
        "Cargo.toml says rust-version = {ours:?}, but the true minimum is {major}.{minor} ({})",
        highest.1
    );
}

#[test]
fn the_runner_image_builds_with_at_least_the_workspace_rust_version() {
    let dockerfile =
        std::fs::read_to_string(root().join("runner/Dockerfile")).expect("runner/Dockerfile");
    let pinned = dockerfile
        .lines()
        .find_map(|l| l.trim().strip_prefix("ARG RUST_VERSION="))
        .expect("runner/Dockerfile pins RUST_VERSION");
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let ours = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("the workspace declares rust-version");
    assert!(
        parse_version(pinned) >= parse_version(&ours),
        "the runner image builds with Rust {pinned}, below rust-version {ours}"
    );
}
