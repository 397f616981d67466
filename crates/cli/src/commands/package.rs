//! `nightshift package`: the Functions zip the orchestrator's Terraform deploys (`WEBSITE_RUN_FROM_PACKAGE`):
//! host.json, one folder per function (from `function-definitions/`), and the handler binary under the name
//! host.json gives it. The binary must be a static Linux x86_64 executable (the Functions image has no Rust
//! runtime libraries to rely on): `cargo build --release --target x86_64-unknown-linux-musl -p nightshift-handlers`.
//! Entries are stored (not compressed), in a fixed order with a fixed date, so the same inputs give the same zip.

use crate::cli::{Global, PackageArgs};
use anyhow::{bail, Context};
use std::path::Path;

pub async fn run(_g: &Global, a: PackageArgs) -> anyhow::Result<i32> {
    let files = collect(&a.root, &a.handler)?;
    let zip = write_zip(&files);
    std::fs::write(&a.out, &zip).with_context(|| format!("cannot write {}", a.out.display()))?;
    outln!(
        "{}: {} entries, {} bytes; upload it to the deployments container (terraform/README.md, step 7)",
        a.out.display(),
        files.len(),
        zip.len()
    );
    Ok(0)
}

/// (path in the zip, bytes, executable) for every entry, in a fixed order.
fn collect(root: &Path, handler: &Path) -> anyhow::Result<Vec<(String, Vec<u8>, bool)>> {
    let host_text = std::fs::read_to_string(root.join("host.json"))
        .with_context(|| format!("{}: cannot read host.json (pass --root)", root.display()))?;
    let host: serde_json::Value =
        serde_json::from_str(&host_text).context("host.json is not valid JSON")?;
    let handler_description = &host["customHandler"]["description"];
    let executable = handler_description["defaultExecutablePath"]
        .as_str()
        .context("host.json: customHandler.description.defaultExecutablePath is missing")?;
    if host["customHandler"]
        .get("enableForwardingHttpRequest")
        .is_some()
    {
        bail!("host.json: enableForwardingHttpRequest is the legacy setting; use enableProxyingHttpRequest or none");
    }
    let binary = std::fs::read(handler)
        .with_context(|| format!("cannot read the handler binary {}", handler.display()))?;
    if let Some(problem) = not_a_static_linux_x86_64(&binary) {
        bail!(
            "{}: {problem}; build it with `cargo build --release --target x86_64-unknown-linux-musl -p nightshift-handlers --bin handler`",
            handler.display()
        );
    }

    let mut files = vec![("host.json".to_string(), host_text.into_bytes(), false)];
    let definitions = root.join("function-definitions");
    let mut functions: Vec<_> = std::fs::read_dir(&definitions)
        .with_context(|| format!("cannot read {}", definitions.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("function.json").is_file())
        .collect();
    functions.sort();
    if functions.is_empty() {
        bail!("{}: no <function>/function.json", definitions.display());
    }
    for dir in functions {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read(dir.join("function.json"))?;
        serde_json::from_slice::<serde_json::Value>(&text).with_context(|| {
            format!("function-definitions/{name}/function.json is not valid JSON")
        })?;
        files.push((format!("{name}/function.json"), text, false));
    }
    files.push((executable.to_string(), binary, true));
    Ok(files)
}

/// Why `bytes` is not a statically linked Linux x86_64 ELF executable, if it is not.
pub fn not_a_static_linux_x86_64(bytes: &[u8]) -> Option<String> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Some("not an ELF executable".into());
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Some("not a 64-bit little-endian ELF".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    if u16_at(0x12) != 0x3e {
        return Some("not built for x86_64".into());
    }
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().ok()?) as usize;
    let (phentsize, phnum) = (u16_at(0x36) as usize, u16_at(0x38) as usize);
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let Some(kind) = bytes.get(at..at + 4) else {
            return Some("truncated program headers".into());
        };
        // PT_INTERP: the binary asks for a dynamic loader, so it is not static.
        if u32::from_le_bytes(kind.try_into().ok()?) == 3 {
            return Some("dynamically linked (it has an interpreter)".into());
        }
    }
    None
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip of stored entries (APPNOTE 4.3): local headers, data, central directory, end record. Fixed date
/// 1980-01-01 00:00; Unix permissions 0755 for executables, 0644 otherwise.
pub fn write_zip(files: &[(String, Vec<u8>, bool)]) -> Vec<u8> {
    const DOS_DATE: u16 = (1 << 5) | 1; // 1980-01-01
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data, executable) in files {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let mut local = Vec::new();
        local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        local.extend_from_slice(&20u16.to_le_bytes()); // version needed
        local.extend_from_slice(&0u16.to_le_bytes()); // flags
        local.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        local.extend_from_slice(&0u16.to_le_bytes()); // time
        local.extend_from_slice(&DOS_DATE.to_le_bytes());
        local.extend_from_slice(&crc.to_le_bytes());
        local.extend_from_slice(&size.to_le_bytes());
        local.extend_from_slice(&size.to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes()); // extra
        local.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&local);
        out.extend_from_slice(data);

        let mode: u32 = if *executable { 0o100755 } else { 0o100644 };
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by: Unix
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&DOS_DATE.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes()); // extra
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&(mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc32_is_the_zip_one() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
