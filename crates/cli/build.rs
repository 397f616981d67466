//! Links the `nightshift` binary as a position-dependent executable on Linux (glibc).
//!
//! Every step's job starts this binary (`nightshift runner`), as do the handler and the CLI. Built as a PIE, its
//! 1.4 MB of `.data.rel.ro` (52,000 relative relocations) is relocated, and so copied page by page, at every start:
//! `nightshift --version` took 4.2-4.8 ms of CPU and 522 page faults, against 1.4-1.8 ms and 156 linked this way
//! (`perf stat -r 100`, BENCHMARKS.md). Packed relocations (`-z pack-relative-relocs`) kept the copies and the cost
//! (3.4-4.0 ms). What it gives up is the randomised address of the binary's own image; its libraries, heap and
//! stacks stay randomised.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
