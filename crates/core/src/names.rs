//! Validated newtypes for the names that travel through nightshift.
//!
//! Raw strings never enter the domain: a name is parsed once at the boundary and carries its guarantees with it.
//! The rules are the intersection of what Azure resource names, blob names and Service Bus message ids accept.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is invalid: {why}")]
pub struct NameError {
    pub what: &'static str,
    pub value: String,
    pub why: String,
}

fn check_slug(what: &'static str, value: &str, min: usize, max: usize) -> Result<(), NameError> {
    let err = |why: String| NameError {
        what,
        value: value.to_string(),
        why,
    };
    if value.len() < min || value.len() > max {
        return Err(err(format!("use {min} to {max} characters")));
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(err("start with a lowercase letter".into()));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(err(format!(
            "use lowercase letters, digits and '-' only (found {c:?})"
        )));
    }
    if value.ends_with('-') || value.contains("--") {
        return Err(err("do not end with '-' or repeat '-'".into()));
    }
    Ok(())
}

macro_rules! slug {
    ($(#[$m:meta])* $name:ident, $what:literal, $min:expr, $max:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, NameError> {
                check_slug($what, value, $min, $max)?;
                Ok(Self(value.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(value: String) -> Result<Self, NameError> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

slug!(
    /// A product of the catalog (`orthense`).
    ProductName, "product name", 2, 24
);
slug!(
    /// A concrete environment (`nightly`, `pr-123`, `main`).
    EnvironmentName, "environment name", 2, 32
);
slug!(
    /// A step of a product's DAG (`foundation`, `seed-sql`).
    StepName, "step name", 1, 32
);

/// A run: `<product>.<environment>.<trigger key>`, deterministic so that a repeated trigger finds the same run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

impl RunId {
    pub fn new(product: &ProductName, environment: &EnvironmentName, key: &str) -> Self {
        let key: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        Self(format!("{product}.{environment}.{key}"))
    }

    pub fn parse(value: &str) -> Result<Self, NameError> {
        let err = |why: &str| NameError {
            what: "run id",
            value: value.to_string(),
            why: why.to_string(),
        };
        let parts: Vec<&str> = value.split('.').collect();
        if parts.len() != 3 {
            return Err(err("expected <product>.<environment>.<key>"));
        }
        ProductName::parse(parts[0]).map_err(|e| err(&e.why))?;
        EnvironmentName::parse(parts[1]).map_err(|e| err(&e.why))?;
        if parts[2].is_empty()
            || parts[2].len() > 64
            || !parts[2]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(err(
                "the key uses lowercase letters, digits and '-' (at most 64)",
            ));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RunId {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, NameError> {
        Self::parse(&value)
    }
}
impl From<RunId> for String {
    fn from(value: RunId) -> String {
        value.0
    }
}
impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of the job that runs one attempt of one step: deterministic, so a redelivered dispatch finds the job
/// it already started instead of starting another. Valid as an Azure container group name (63 chars, lowercase).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobName(String);

impl JobName {
    pub fn for_attempt(run: &RunId, step: &StepName, attempt: u32) -> Self {
        let digest = Sha256::digest(format!("{run}/{step}/{attempt}").as_bytes());
        let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        let mut readable = format!("ns-{step}-{attempt}");
        readable.truncate(63 - 9);
        Self(format!("{readable}-{hash}"))
    }

    pub fn from_existing(value: &str) -> Self {
        Self(value.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest duration nightshift accepts anywhere (timeouts, backoffs, estimates, catch-up windows, lifetimes,
/// release ttls): 10 years of 365 days. Anything longer is a typo, and bounding it keeps every later clock
/// arithmetic (`now + lifetime`, `now - started > timeout`) far inside chrono's range, so no value can panic.
pub const MAX_DURATION_SECS: u64 = 10 * 365 * 86_400;

/// The same bound as written in a catalog.
pub const MAX_DURATION_TEXT: &str = "3650d (10 years)";

/// A number of seconds as a chrono duration, saturating instead of panicking: stored documents carry seconds as
/// plain numbers, and a garbled one must not take the watchdog down.
pub fn chrono_secs(secs: u64) -> chrono::Duration {
    let secs = i64::try_from(secs.min(MAX_DURATION_SECS)).unwrap_or(i64::MAX);
    chrono::Duration::try_seconds(secs).unwrap_or(chrono::Duration::MAX)
}

/// A lifetime such as `30m`, `20h`, `3d` or `1w`: a whole number above zero and a unit, at most
/// [`MAX_DURATION_SECS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ttl(Duration);

impl Ttl {
    pub fn parse(value: &str) -> Result<Self, NameError> {
        let err = |why: &str| NameError {
            what: "duration",
            value: value.to_string(),
            why: why.to_string(),
        };
        let text = value.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| err("add a unit: s, m, h, d or w"))?;
        let (digits, unit) = text.split_at(split);
        if digits.is_empty() {
            return Err(err("start with a whole number, as in 3d"));
        }
        let unit_secs: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => {
                return Err(err(
                    "the unit is one of s, m, h, d, w (as in 90s, 30m, 20h, 3d, 1w)",
                ))
            }
        };
        let too_long = || err(&format!("too long: at most {MAX_DURATION_TEXT}"));
        // Digits only, so a failed parse is an overflow of u64: far past the maximum.
        let n: u64 = digits.parse().map_err(|_| too_long())?;
        if n == 0 {
            return Err(err("must be more than zero"));
        }
        let secs = n.checked_mul(unit_secs).ok_or_else(too_long)?;
        if secs > MAX_DURATION_SECS {
            return Err(too_long());
        }
        Ok(Self(Duration::from_secs(secs)))
    }

    /// A duration from seconds, capped at [`MAX_DURATION_SECS`] (for defaults written in code).
    pub fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs.min(MAX_DURATION_SECS)))
    }

    pub fn as_duration(&self) -> Duration {
        self.0
    }

    pub fn as_chrono(&self) -> chrono::Duration {
        chrono_secs(self.0.as_secs())
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
            if s.is_multiple_of(size) {
                return write!(f, "{}{unit}", s / size);
            }
        }
        write!(f, "{s}s")
    }
}

impl Serialize for Ttl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ttl::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_azure_friendly_slugs_and_explain_rejections() {
        assert!(EnvironmentName::parse("pr-123").is_ok());
        let e = EnvironmentName::parse("PR_123").unwrap_err();
        assert!(e.to_string().contains("lowercase"), "{e}");
        assert!(ProductName::parse("a").is_err());
        assert!(StepName::parse("seed-").is_err());
    }

    #[test]
    fn ttl_parses_units_and_prints_them_back() {
        assert_eq!(
            Ttl::parse("3d").unwrap().as_duration().as_secs(),
            3 * 86_400
        );
        assert_eq!(Ttl::parse("1w").unwrap().to_string(), "1w");
        assert_eq!(Ttl::parse("90s").unwrap().to_string(), "90s");
        assert!(Ttl::parse("3").unwrap_err().to_string().contains("unit"));
        assert!(Ttl::parse("3y").is_err());
        assert!(Ttl::parse("0d").is_err());
    }

    #[test]
    fn durations_past_ten_years_are_refused_instead_of_overflowing() {
        // Issue 8: `213503982334602d` wrapped around to about 17 hours in release builds.
        for huge in [
            "213503982334602d",
            "10000000000000000s",
            "99999999d",
            "99999999999999999999999w",
            "3651d",
            "522w",
        ] {
            let e = Ttl::parse(huge).unwrap_err();
            assert!(e.to_string().contains("at most 3650d"), "{huge}: {e}");
        }
        assert_eq!(
            Ttl::parse("3650d").unwrap().as_duration().as_secs(),
            MAX_DURATION_SECS
        );
        assert!(Ttl::parse("521w").is_ok());
        assert!(Ttl::parse("d")
            .unwrap_err()
            .to_string()
            .contains("whole number"));
    }

    #[test]
    fn seconds_from_stored_documents_saturate_instead_of_panicking() {
        assert_eq!(
            chrono_secs(u64::MAX).num_seconds() as u64,
            MAX_DURATION_SECS
        );
        assert_eq!(chrono_secs(90).num_seconds(), 90);
        assert_eq!(
            Ttl::from_secs(u64::MAX).as_duration().as_secs(),
            MAX_DURATION_SECS
        );
    }

    #[test]
    fn job_names_are_deterministic_valid_and_distinct_per_attempt() {
        let run = RunId::parse("orthense.pr-12.r1-4-2").unwrap();
        let step = StepName::parse("seed-sql").unwrap();
        let a = JobName::for_attempt(&run, &step, 1);
        assert_eq!(a, JobName::for_attempt(&run, &step, 1));
        assert_ne!(a, JobName::for_attempt(&run, &step, 2));
        assert!(a.as_str().len() <= 63);
        assert!(a
            .as_str()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }

    #[test]
    fn run_ids_are_built_from_safe_parts() {
        let id = RunId::new(
            &ProductName::parse("orthense").unwrap(),
            &EnvironmentName::parse("pr-12").unwrap(),
            "r1.4.2",
        );
        assert_eq!(id.as_str(), "orthense.pr-12.r1-4-2");
        assert_eq!(RunId::parse(id.as_str()).unwrap(), id);
    }
}
