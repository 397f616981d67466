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
        8 => (0u64..100_000).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => "[0-9]{15,40}",
        1 => prop::sample::select(vec!["", "-1", "+3", "١٢", "1.5", "0x10", " 7", "07"])
            .prop_map(str::to_string),
    ];
    let unit = prop_oneof![
        6 => prop::sample::select(vec!["s", "m", "h", "d", "w"]).prop_map(str::to_string),
        2 => prop::sample::select(vec!["", "y", "ms", "D", " d", "d ", "dd", "\u{feff}d", "s\0"])
            .prop_map(str::to_string),
        1 => ".{0,3}",
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

/// What one generated input did.
pub enum Outcome {
    /// Accepted, and every invariant of an accepted value holds.
    Accepted,
    /// Refused with a reason.
    Refused,
    /// Accepted although it breaks an invariant (or deleted what must be kept): the reason.
    Wrong(String),
}

/// A harness's figures: RELIABILITY.md reports them.
#[derive(Debug, Default)]
pub struct Tally {
    pub cases: u32,
    pub accepted: u32,
    pub refused: u32,
    pub panics: u32,
    pub wrong: u32,
    pub examples: Vec<String>,
}

/// Runs `check` on [`cases`]`(default)` inputs drawn from `strategy` with a fixed seed (the same command gives the
/// same figures), counting panics instead of stopping at the first, prints one line of figures, and fails if
/// anything panicked or was wrongly accepted, showing the first inputs that did.
pub fn run<S>(name: &str, default: u32, strategy: S, check: impl Fn(&S::Value) -> Outcome) -> Tally
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        config(default),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let mut tally = Tally::default();
    let total = cases(default);
    for _ in 0..total {
        let value = strategy
            .new_tree(&mut runner)
            .expect("the generator produces values")
            .current();
        tally.cases += 1;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&value)));
        match outcome {
            Ok(Outcome::Accepted) => tally.accepted += 1,
            Ok(Outcome::Refused) => tally.refused += 1,
            Ok(Outcome::Wrong(why)) => {
                tally.wrong += 1;
                if tally.examples.len() < 5 {
                    tally.examples.push(format!("{why}: {value:?}"));
                }
            }
            Err(_) => {
                tally.panics += 1;
                if tally.examples.len() < 5 {
                    tally.examples.push(format!("panic: {value:?}"));
                }
            }
        }
    }
    println!(
        "fuzz {name}: {} cases, {} accepted, {} refused, {} panics, {} wrong",
        tally.cases, tally.accepted, tally.refused, tally.panics, tally.wrong
    );
    assert!(
        tally.panics == 0 && tally.wrong == 0,
        "{name}: {} panics and {} wrong outcomes in {} cases; first: {:#?}",
        tally.panics,
        tally.wrong,
        tally.cases,
        tally.examples
    );
    tally
}
