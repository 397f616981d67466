//! `nightshift package` builds the zip the orchestrator deploys: host.json, one folder per function of
//! function-definitions/, and the handler binary under host.json's name, executable; it refuses a dynamically linked
//! binary. The zip is checked with the system's `unzip` (integrity, listing, permissions).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The smallest x86_64 ELF header; with `interp`, one program header of type PT_INTERP (a dynamic binary).
fn fake_elf(interp: bool) -> Vec<u8> {
    let mut b = vec![0u8; 64 + 56];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2; // 64-bit
    b[5] = 1; // little-endian
    b[0x12] = 0x3e; // x86_64
    b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    b[0x38..0x3a].copy_from_slice(&(interp as u16).to_le_bytes());
    b[64..68].copy_from_slice(&3u32.to_le_bytes());
    b
}

fn package(handler: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nightshift"))
        .args(["package", "--handler"])
        .arg(handler)
        .arg("--root")
        .arg(repo_root())
        .arg("--out")
        .arg(out)
        .output()
        .expect("nightshift runs")
}

fn unzip(args: &[&str], zip: &Path) -> String {
    let out = Command::new("unzip")
        .args(args)
        .arg(zip)
        .output()
        .expect("unzip is installed");
    assert!(
        out.status.success(),
        "unzip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn package_builds_a_functions_zip_with_host_json_every_function_and_the_executable_handler() {
    let dir = tempfile::tempdir().unwrap();
    let handler = dir.path().join("handler");
    std::fs::write(&handler, fake_elf(false)).unwrap();
    let (zip, again) = (dir.path().join("a.zip"), dir.path().join("b.zip"));

    let out = package(&handler, &zip);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(package(&handler, &again).status.success());

    unzip(&["-tq"], &zip); // every entry's CRC checks
    let names: Vec<String> = unzip(&["-Z1"], &zip).lines().map(String::from).collect();
    let mut expected = vec!["host.json".to_string()];
    let mut functions: Vec<String> = std::fs::read_dir(repo_root().join("function-definitions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    functions.sort();
    expected.extend(functions.iter().map(|f| format!("{f}/function.json")));
    expected.push("handler".into());
    assert_eq!(names, expected);
    let long = unzip(&["-Z"], &zip);
    let handler_line = long
        .lines()
        .find(|l| l.ends_with(" handler"))
        .expect("handler entry");
    assert!(handler_line.starts_with("-rwxr-xr-x"), "{handler_line}");
    assert_eq!(
        std::fs::read(&zip).unwrap(),
        std::fs::read(&again).unwrap(),
        "the same inputs give the same zip"
    );
}

#[test]
fn package_refuses_a_dynamically_linked_handler_and_says_how_to_build_a_static_one() {
    let dir = tempfile::tempdir().unwrap();
    let handler = dir.path().join("handler");
    std::fs::write(&handler, fake_elf(true)).unwrap();
    let zip = dir.path().join("a.zip");

    let out = package(&handler, &zip);

    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dynamically linked") && err.contains("x86_64-unknown-linux-musl"),
        "{err}"
    );
    assert!(!zip.exists(), "nothing half-done");
}
