//! The sweep's decision on hostile tag sets (issue 8, defect 9): tag names in any case, look-alike names, values
//! that are almost right, repeated tags, environments in another case.
//!
//! The property, as the issue words it: for any tag set, a group is deleted only if it is managed by this instance
//! (case-insensitive name, exact value), has exactly one parsable expiry in the past, is of a non-persistent kind,
//! and its environment is not persistent in the catalog. The oracle below checks that independently of
//! `expiry::decide`. `NIGHTSHIFT_FUZZ_CASES` sets the number of tag sets.

mod fuzz;

use chrono::{DateTime, TimeZone, Utc};
use fuzz::Outcome;
use nightshift_core::expiry::{decide, tags, PersistentSet, ResourceGroup};
use proptest::prelude::*;
use std::collections::BTreeMap;

const INSTANCE: &str = "nightshift";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

fn persistent() -> PersistentSet {
    PersistentSet::from([("shop".to_string(), "main".to_string())])
}

fn group(tags: &[(&str, &str)]) -> ResourceGroup {
    ResourceGroup::new(
        "rg",
        tags.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn expired(extra: &[(&str, &str)]) -> ResourceGroup {
    let mut t: BTreeMap<String, String> = [
        (tags::MANAGED_BY, INSTANCE),
        (tags::PRODUCT, "shop"),
        (tags::ENVIRONMENT, "pr-1"),
        (tags::KIND, "pull-request"),
        (tags::EXPIRES_AT, "2026-11-21T11:00:00Z"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        // An extra tag replaces the canonical one it spells differently, or joins it when asked with a '+'.
        match k.strip_prefix('+') {
            Some(k) => {
                t.insert(k.to_string(), v.to_string());
            }
            None => {
                let canonical = tags::ALL
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(k.trim_start_matches('\u{feff}').trim()))
                    .copied()
                    .unwrap_or(k);
                t.remove(canonical);
                t.insert(k.to_string(), v.to_string());
            }
        }
    }
    ResourceGroup::new("rg", t)
}

fn deletes(g: &ResourceGroup) -> bool {
    decide(g, INSTANCE, now(), &persistent()).is_delete()
}

#[test]
fn an_expired_well_tagged_group_is_deleted() {
    assert!(deletes(&expired(&[])));
    // Azure tag names are case-insensitive: the tag in another case is the same tag.
    assert!(deletes(&expired(&[(
        "Nightshift-Expires-At",
        "2026-11-21T11:00:00Z"
    )])));
}

#[test]
fn the_issue_s_fail_open_tag_sets_are_kept_with_a_reason() {
    for (extra, needle) in [
        (
            vec![("Nightshift-Kind", "persistent")],
            "persistent environment",
        ),
        (
            vec![("nightshift-kind", "Persistent")],
            "not exactly one of",
        ),
        (
            vec![("nightshift-kind", "persistent ")],
            "not exactly one of",
        ),
        (
            vec![("nightshift-kind", "\u{feff}nightly")],
            "not exactly one of",
        ),
        (
            vec![("nightshift-environment", "Main")],
            "persistent in the catalog",
        ),
        (
            vec![("nightshift-environment", " main")],
            "persistent in the catalog",
        ),
        (
            vec![
                ("nightshift-product", "Shop"),
                ("nightshift-environment", "MAIN"),
            ],
            "persistent in the catalog",
        ),
        // Duplicated keys where `persistent` comes first.
        (vec![("+Nightshift-Kind", "persistent")], "given 2 times"),
        (
            vec![("+NIGHTSHIFT-EXPIRES-AT", "2030-01-01T00:00:00Z")],
            "given 2 times",
        ),
        // A byte-order mark or a trailing space in a name: it may be the tag meant.
        (
            vec![("+\u{feff}nightshift-kind", "persistent")],
            "reads as nightshift-kind",
        ),
        (
            vec![("+nightshift-kind ", "persistent")],
            "reads as nightshift-kind",
        ),
        (
            vec![("+nightshift-\u{212a}ind", "persistent")],
            "reads as nightshift-kind",
        ),
        // Numeric-looking values are read as text, and text that is not a time is not one.
        (
            vec![("nightshift-expires-at", "1700000000")],
            "does not parse",
        ),
        (
            vec![("nightshift-managed-by", "Nightshift")],
            "not by this instance",
        ),
        (vec![("nightshift-environment", "pr_1")], "environment name"),
    ] {
        let g = expired(&extra);
        let v = decide(&g, INSTANCE, now(), &persistent());
        assert!(!v.is_delete(), "{extra:?} deleted: {v:?}");
        assert!(v.reason().contains(needle), "{extra:?}: {}", v.reason());
    }
    let mut no_kind = expired(&[]);
    no_kind.tags.remove(tags::KIND);
    assert!(!deletes(&no_kind));
    let unreadable = ResourceGroup::unreadable("rg", "tags.json: duplicate key");
    let v = decide(&unreadable, INSTANCE, now(), &persistent());
    assert!(
        !v.is_delete() && v.reason().contains("cannot be read"),
        "{v:?}"
    );
}

#[test]
fn the_tags_nightshift_writes_are_read_back_whatever_their_case_and_a_bom_in_the_file() {
    let text = "\u{feff}{\"NIGHTSHIFT-MANAGED-BY\":\"nightshift\",\"nightshift-kind\":\"nightly\"}";
    let read = tags::parse_json(text.as_bytes()).unwrap();
    let known = tags::read_known(&read).unwrap();
    assert_eq!(known[tags::MANAGED_BY], "nightshift");
    assert!(tags::parse_json(br#"{"a":"1","a":"2"}"#)
        .unwrap_err()
        .contains("duplicate key"));
    assert!(tags::parse_json(br#"{"a":1}"#)
        .unwrap_err()
        .contains("not a string"));
    assert!(tags::parse_json(br#"["a"]"#).is_err());
    let _ = group(&[]);
}

/// Tag names: each known name in a random case or a look-alike spelling, or a stranger.
fn tag_name() -> impl Strategy<Value = String> {
    let known = prop::sample::select(tags::ALL.to_vec());
    prop_oneof![
        4 => known.clone().prop_map(str::to_string),
        3 => (known.clone(), prop::collection::vec(any::<bool>(), 32)).prop_map(|(k, up)| {
            k.chars()
                .zip(up)
                .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                .collect()
        }),
        1 => (known, prop::sample::select(vec!["\u{feff}", " ", "\u{200b}", "\t"]), any::<bool>())
            .prop_map(|(k, junk, front)| if front { format!("{junk}{k}") } else { format!("{k}{junk}") }),
        1 => "[a-zA-Z-]{1,24}",
    ]
}

/// Values: the right ones, almost-right ones, times in the past and the future, numbers, noise.
fn tag_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "nightshift",
            "Nightshift",
            "nightshift ",
            "other",
            "nightly",
            "pull-request",
            "persistent",
            "Persistent",
            "persistent ",
            "\u{feff}persistent",
            "PERSISTENT",
            "shop",
            "Shop",
            "main",
            "Main",
            "MAIN",
            " main",
            "pr-1",
            "pr_1",
            "nightly-x",
            "",
            "1",
            "0",
            "-1",
            "1700000000",
            "true",
        ])
        .prop_map(str::to_string),
        (-400_000i64..400_000)
            .prop_map(|off| tags::format_time(now() + chrono::Duration::seconds(off))),
        (-400_000i64..400_000)
            .prop_map(|off| (now() + chrono::Duration::seconds(off)).to_rfc3339()),
        ".{0,12}",
    ]
}

/// Tag sets that start from a well-tagged expired group, so deletions are common enough to test the guards.
fn tag_set() -> impl Strategy<Value = BTreeMap<String, String>> {
    let base = prop::collection::btree_map(
        prop::sample::select(tags::ALL.to_vec()).prop_map(str::to_string),
        tag_value(),
        0..6,
    );
    (
        base,
        prop::collection::vec((tag_name(), tag_value()), 0..4),
        any::<bool>(),
    )
        .prop_map(|(over, extra, canonical)| {
            let mut t = if canonical {
                expired(&[]).tags
            } else {
                BTreeMap::new()
            };
            t.extend(over);
            t.extend(extra);
            t
        })
}

/// The issue's property, computed without `decide`: `None` when the group may be deleted, else why not.
fn must_keep(t: &BTreeMap<String, String>) -> Option<String> {
    let named = |known: &str| -> Vec<&String> {
        t.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(known))
            .map(|(_, v)| v)
            .collect()
    };
    let one = |known: &str| -> Option<&String> {
        match named(known).as_slice() {
            [v] => Some(*v),
            _ => None,
        }
    };
    if one(tags::MANAGED_BY).map(String::as_str) != Some(INSTANCE) {
        return Some("not managed by this instance under exactly one tag".into());
    }
    let expiry = one(tags::EXPIRES_AT).and_then(|v| DateTime::parse_from_rfc3339(v).ok());
    match expiry {
        Some(e) if e <= now() => {}
        _ => return Some("no single parsable expiry in the past".into()),
    }
    if !matches!(
        one(tags::KIND).map(String::as_str),
        Some("nightly" | "pull-request")
    ) {
        return Some("not of a non-persistent kind".into());
    }
    let env = one(tags::ENVIRONMENT).map(|e| e.trim().to_ascii_lowercase());
    let product = one(tags::PRODUCT).map(|p| p.trim().to_ascii_lowercase());
    match (product, env) {
        (Some(p), Some(e)) if !(p == "shop" && e == "main") => None,
        _ => Some("its environment may be persistent in the catalog".into()),
    }
}

#[test]
fn a_group_is_deleted_only_if_every_guard_of_the_issue_holds() {
    let tally = fuzz::run("sweep tag sets", 3000, tag_set(), |t| {
        let g = ResourceGroup::new("rg", t.clone());
        let verdict = decide(&g, INSTANCE, now(), &persistent());
        match (verdict.is_delete(), must_keep(t)) {
            (true, Some(why)) => Outcome::Wrong(format!("deleted although {why}")),
            (true, None) => Outcome::Accepted,
            (false, _) if verdict.reason().is_empty() => {
                Outcome::Wrong("kept without a reason".into())
            }
            (false, _) => Outcome::Refused,
        }
    });
    // The generator must reach deletions, or the property proves nothing.
    assert!(tally.accepted > 0, "no tag set was deleted: {tally:?}");
}

proptest! {
    #![proptest_config(fuzz::config(500))]

    /// The same property under proptest's shrinking, so a failure shows the smallest tag set that breaks it.
    #[test]
    fn deletion_implies_the_issue_s_guards(t in tag_set()) {
        let v = decide(&ResourceGroup::new("rg", t.clone()), INSTANCE, now(), &persistent());
        if v.is_delete() {
            prop_assert_eq!(must_keep(&t), None, "{}", v.reason());
        }
    }
}
