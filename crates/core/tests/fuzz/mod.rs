//! What the property and fuzz tests share: how many cases to run, and generators of hostile text.
//!
//! Each harness runs a bounded number of cases so the suite stays fast in CI; `NIGHTSHIFT_FUZZ_CASES=20000` runs
//! that many instead (RELIABILITY.md gives the commands and the figures). Proptest turns any panic inside a case
//! into a failure of that test, with the input that caused it, shrunk.
#![allow(dead_code)] // each test crate uses its own part of this module

use proptest::prelude::*;
use proptest::test_runner::Config;

/// The number of cases: `NIGHTSHIFT_FUZZ_CASES` when set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("NIGHTSHIFT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A proptest configuration running [`cases`] cases, without writing regression files into the source tree (a
/// failure prints its shrunk input; a test that keeps it is written by hand).
pub fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Text that looks like a duration more often than not: numbers of every size, units right and wrong, signs,
/// spaces, Unicode digits and plain noise.
pub fn duration_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        (0u64..100_000).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{15,40}",
        Just(String::new()),
        Just("-1".to_string()),
        Just("+3".to_string()),
        Just("١٢".to_string()),
        Just("1.5".to_string()),
        Just("0x10".to_string()),
    ];
    let unit = prop_oneof![
        prop::sample::select(vec!["s", "m", "h", "d", "w"]).prop_map(str::to_string),
        prop::sample::select(vec!["", "y", "ms", "D", " d", "d ", "dd", "\u{feff}d", "s\0"])
            .prop_map(str::to_string),
        ".{0,3}",
    ];
    prop_oneof![
        4 => (number, unit).prop_map(|(n, u)| format!("{n}{u}")),
        1 => ".{0,24}",
    ]
}

/// A string that tends to be hostile for a text field: empty, whitespace, control characters, long, Unicode.
pub fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("\u{feff}ci".to_string()),
        Just("a\u{0}b".to_string()),
        Just("line\nbreak".to_string()),
        "[a-z0-9.+-]{1,12}",
        ".{0,40}",
        (1usize..600).prop_map(|n| "x".repeat(n)),
        (1usize..300).prop_map(|n| "é".repeat(n)),
    ]
}
