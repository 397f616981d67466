//! Expiry: the tags an environment's resource groups carry, and the sweep's decision for each group.
//!
//! The sweep deletes only what this instance manages, whose single expiry parses and has passed, whose kind is
//! exactly a non-persistent one and whose environment the catalog does not keep; never more than its cap in one
//! pass; and a dry run deletes nothing. Tags are read as Azure reads them (names without regard to case), and any
//! doubt (a repeated or look-alike tag, an unreadable tag file, an almost-right value) keeps the group. Every
//! decision has a reason.

pub mod tags;

use crate::names::{EnvironmentName, ProductName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceGroup {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// Why the group's tags could not be read, when they could not: the group is then kept, with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

impl ResourceGroup {
    pub fn new(name: impl Into<String>, tags: BTreeMap<String, String>) -> Self {
        Self {
            name: name.into(),
            tags,
            unreadable: None,
        }
    }

    /// A group listed although its tags could not be read (kept by every sweep, with `why`).
    pub fn unreadable(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tags: BTreeMap::new(),
            unreadable: Some(why.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    Delete { reason: String },
    Keep { reason: String },
}

impl Verdict {
    pub fn is_delete(&self) -> bool {
        matches!(self, Self::Delete { .. })
    }
    pub fn reason(&self) -> &str {
        match self {
            Self::Delete { reason } | Self::Keep { reason } => reason,
        }
    }
}

/// Environments the catalog declares persistent, as `(product, environment)`: kept whatever their tags say.
/// Compared without regard to case or surrounding spaces, so a tag saying `Main` is still `main`.
pub type PersistentSet = BTreeSet<(String, String)>;

/// The sweep's decision for one group. It deletes only when every guard holds, each checked on the tags as Azure
/// reads them (tag names are case-insensitive there):
/// - the tags were readable, and no tag nightshift relies on appears twice or under a look-alike name;
/// - `nightshift-managed-by` is exactly this instance;
/// - `nightshift-kind` is exactly `nightly` or `pull-request` (any other value, `Persistent` or `"persistent "`
///   included, keeps the group);
/// - product and environment are valid names, and the catalog does not declare them persistent (in any case);
/// - there is exactly one `nightshift-expires-at`, it parses as RFC 3339, and it has passed.
///
/// Anything else keeps the group, with the reason: when in doubt, the sweep keeps.
pub fn decide(
    group: &ResourceGroup,
    instance: &str,
    now: DateTime<Utc>,
    persistent: &PersistentSet,
) -> Verdict {
    let keep = |r: String| Verdict::Keep { reason: r };
    if let Some(why) = &group.unreadable {
        return keep(format!("its tags cannot be read ({why}): fix them by hand"));
    }
    let known = match tags::read_known(&group.tags) {
        Ok(k) => k,
        Err(why) => return keep(format!("{why}: fix the tags by hand")),
    };
    match known.get(tags::MANAGED_BY) {
        None => return keep(format!("no {} tag: not nightshift's", tags::MANAGED_BY)),
        Some(owner) if *owner != instance => {
            return keep(format!(
                "managed by {owner:?}, not by this instance {instance:?}"
            ))
        }
        Some(_) => {}
    }
    match known.get(tags::KIND).copied() {
        Some("nightly" | "pull-request") => {}
        Some("persistent") => return keep("persistent environment".into()),
        Some(other) => {
            return keep(format!(
                "{} {other:?} is not exactly one of nightly, pull-request, persistent",
                tags::KIND
            ))
        }
        None => return keep(format!("no {} tag: treated as persistent", tags::KIND)),
    }
    let (Some(product), Some(env)) = (
        known.get(tags::PRODUCT).copied(),
        known.get(tags::ENVIRONMENT).copied(),
    ) else {
        return keep(format!(
            "no {} or {} tag: cannot tell whether the catalog keeps it",
            tags::PRODUCT,
            tags::ENVIRONMENT
        ));
    };
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    if persistent
        .iter()
        .any(|(p, e)| same(p, product) && same(e, env))
    {
        return keep(format!("{product}/{env} is persistent in the catalog"));
    }
    if let Err(e) = ProductName::parse(product) {
        return keep(format!("{}: {e}", tags::PRODUCT));
    }
    if let Err(e) = EnvironmentName::parse(env) {
        return keep(format!("{}: {e}", tags::ENVIRONMENT));
    }
    let Some(raw) = known.get(tags::EXPIRES_AT) else {
        return keep(format!(
            "no {} tag: treated as persistent",
            tags::EXPIRES_AT
        ));
    };
    let Ok(expires) = DateTime::parse_from_rfc3339(raw) else {
        return keep(format!(
            "{} {raw:?} does not parse as RFC 3339: fix the tag by hand",
            tags::EXPIRES_AT
        ));
    };
    let expires = expires.with_timezone(&Utc);
    if expires > now {
        return keep(format!(
            "expires at {} (in {})",
            tags::format_time(expires),
            human(expires - now)
        ));
    }
    Verdict::Delete {
        reason: format!(
            "expired at {} ({} ago)",
            tags::format_time(expires),
            human(now - expires)
        ),
    }
}

fn human(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub group: ResourceGroup,
    pub verdict: Verdict,
    /// Expired, but left for the next sweep because the cap was reached.
    pub deferred: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepPlan {
    pub decisions: Vec<Decision>,
}

impl SweepPlan {
    pub fn to_delete(&self) -> impl Iterator<Item = &ResourceGroup> {
        self.decisions
            .iter()
            .filter(|d| d.verdict.is_delete() && !d.deferred)
            .map(|d| &d.group)
    }
}

/// Decides every group; the oldest expiries go first when the cap bites.
pub fn plan_sweep(
    groups: Vec<ResourceGroup>,
    instance: &str,
    now: DateTime<Utc>,
    cap: usize,
    persistent: &PersistentSet,
) -> SweepPlan {
    let mut decisions: Vec<Decision> = groups
        .into_iter()
        .map(|g| Decision {
            verdict: decide(&g, instance, now, persistent),
            group: g,
            deferred: false,
        })
        .collect();
    decisions.sort_by(|a, b| {
        let key = |d: &Decision| {
            (
                !d.verdict.is_delete(),
                d.group.tags.get(tags::EXPIRES_AT).cloned(),
                d.group.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    for d in decisions
        .iter_mut()
        .filter(|d| d.verdict.is_delete())
        .skip(cap)
    {
        d.deferred = true;
        d.verdict = Verdict::Delete {
            reason: format!(
                "{}; deferred: the sweep's cap of {cap} was reached",
                d.verdict.reason()
            ),
        };
    }
    SweepPlan { decisions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    fn rg(name: &str, tags: &[(&str, &str)]) -> ResourceGroup {
        ResourceGroup::new(
            name,
            tags.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn managed(name: &str, expires: &str) -> ResourceGroup {
        rg(
            name,
            &[
                (tags::MANAGED_BY, "nightshift"),
                (tags::PRODUCT, "shop"),
                (tags::ENVIRONMENT, "pr-1"),
                (tags::KIND, "pull-request"),
                (tags::EXPIRES_AT, expires),
            ],
        )
    }

    #[test]
    fn only_managed_expired_non_persistent_groups_are_deleted() {
        let none = PersistentSet::new();
        assert!(decide(
            &managed("a", "2026-11-21T11:00:00Z"),
            "nightshift",
            now(),
            &none
        )
        .is_delete());
        assert!(!decide(
            &managed("b", "2026-11-21T13:00:00Z"),
            "nightshift",
            now(),
            &none
        )
        .is_delete());
        assert!(!decide(&managed("c", "tomorrow"), "nightshift", now(), &none).is_delete());
        assert!(!decide(&managed("d", "2026-11-21T11:00:00Z"), "other", now(), &none).is_delete());
        assert!(!decide(
            &rg("e", &[(tags::EXPIRES_AT, "2020-01-01T00:00:00Z")]),
            "nightshift",
            now(),
            &none
        )
        .is_delete());
        let mut p = managed("f", "2026-11-21T11:00:00Z");
        p.tags.insert(tags::KIND.into(), "persistent".into());
        assert!(!decide(&p, "nightshift", now(), &none).is_delete());
        let catalog_persistent = PersistentSet::from([("shop".to_string(), "pr-1".to_string())]);
        assert!(!decide(
            &managed("g", "2026-11-21T11:00:00Z"),
            "nightshift",
            now(),
            &catalog_persistent
        )
        .is_delete());
    }

    #[test]
    fn the_cap_defers_the_youngest_expiries() {
        let groups = vec![
            managed("new", "2026-11-21T11:00:00Z"),
            managed("old", "2026-11-20T11:00:00Z"),
            managed("mid", "2026-11-21T01:00:00Z"),
        ];
        let plan = plan_sweep(groups, "nightshift", now(), 2, &PersistentSet::new());
        let deleted: Vec<&str> = plan.to_delete().map(|g| g.name.as_str()).collect();
        assert_eq!(deleted, vec!["old", "mid"]);
        assert!(plan
            .decisions
            .iter()
            .any(|d| d.deferred && d.group.name == "new" && d.verdict.reason().contains("cap")));
    }

    proptest! {
        /// Whatever the tags, a group is deleted only if it is ours, not persistent, and its parsed expiry passed.
        #[test]
        fn deletion_implies_every_guard(owner in prop::option::of(prop_oneof!["nightshift", "other"]),
                                        kind in prop::option::of(prop_oneof!["nightly", "persistent", "pull-request"]),
                                        offset in prop::option::of(-100_000i64..100_000),
                                        garbage in any::<bool>()) {
            let mut t = BTreeMap::new();
            if let Some(o) = &owner { t.insert(tags::MANAGED_BY.to_string(), o.clone()); }
            if let Some(k) = &kind { t.insert(tags::KIND.to_string(), k.clone()); }
            if let Some(off) = offset {
                let v = if garbage { format!("x{off}") } else { tags::format_time(now() + chrono::Duration::seconds(off)) };
                t.insert(tags::EXPIRES_AT.to_string(), v);
            }
            let v = decide(&ResourceGroup::new("g", t), "nightshift", now(), &PersistentSet::new());
            if v.is_delete() {
                prop_assert_eq!(owner.as_deref(), Some("nightshift"));
                prop_assert_ne!(kind.as_deref(), Some("persistent"));
                prop_assert!(!garbage);
                prop_assert!(offset.unwrap() <= 0);
            }
        }
    }
}
