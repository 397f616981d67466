//! The environment catalog: products, their steps, their environments.
//!
//! Parsed from YAML text (the caller reads the files) and validated as a whole before anything else happens, so a
//! malformed catalog stops before any side effect. Every error names the file and the field at fault.

use crate::names::{EnvironmentName, ProductName, StepName, Ttl};
use crate::template::{self, Reference};
use chrono::{NaiveTime, Weekday};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub mod annotations;
mod duplicates;

pub const SCHEMA: &str = "nightshift.catalog/v1";

/// A catalog error: the file, the field path inside it, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CatalogError {
    pub file: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.message)
        }
    }
}

/// Where a product may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    Local,
    #[default]
    Azure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvironmentKind {
    Nightly,
    PullRequest,
    Persistent,
}

impl EnvironmentKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Nightly => "nightly",
            Self::PullRequest => "pull-request",
            Self::Persistent => "persistent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataTier {
    Reference,
    Test,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu: f64,
    pub memory_gb: f64,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            cpu: 1.0,
            memory_gb: 1.5,
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    Terraform {
        stack: String,
        vars: BTreeMap<String, Value>,
    },
    Ansible {
        playbook: String,
        tiers: Vec<DataTier>,
        vars: BTreeMap<String, Value>,
    },
    Smoke {
        command: Vec<String>,
        env: BTreeMap<String, String>,
    },
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Terraform { .. } => "terraform",
            Self::Ansible { .. } => "ansible",
            Self::Smoke { .. } => "smoke",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDef {
    pub name: StepName,
    pub needs: Vec<StepName>,
    /// Extra attempts after the first failure.
    pub retries: u32,
    pub backoff_secs: u64,
    pub timeout_secs: u64,
    pub estimate_secs: u64,
    pub resources: Resources,
    pub secrets: BTreeMap<String, String>,
    pub action: Action,
    /// The layer owns resources outside the environment's resource groups (DNS records at Cloudflare): deleting
    /// the groups would not remove them, so the layer is destroyed first (`teardown: terraform`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<Teardown>,
}

/// How a layer that owns resources outside its environment's resource groups is torn down before the groups go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Teardown {
    /// Its own `terraform destroy`, run as a job.
    Terraform,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub at: NaiveTime,
    pub timezone: chrono_tz::Tz,
    pub days: Vec<Weekday>,
    /// How long after its time a missed night may still be started.
    pub catch_up_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentDef {
    pub name: EnvironmentName,
    pub kind: EnvironmentKind,
    pub schedule: Option<Schedule>,
    pub lifetime: Option<Ttl>,
    pub max_lifetime: Option<Ttl>,
    /// How long before expiry people are warned (default 12h pull-request, 2h nightly; none when persistent).
    #[serde(default)]
    pub warn_before: Option<Ttl>,
    pub vars: BTreeMap<String, String>,
    /// What happens to the environment when a run of it fails.
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// The most jobs one run of this environment runs at once (its own `max_parallel`, else the product's
    /// `defaults.max_parallel`); None: as many as the DAG allows (the global `NIGHTSHIFT_MAX_JOBS` still applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
}

/// What a failed run leaves behind (`on_failure` in the catalog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// The environment stays, marked failed, until its expiry (`keep` can pin it longer).
    #[default]
    Keep,
    /// Torn down `grace` after the failure (throw-away environments only).
    Destroy { grace: Ttl },
    /// The last version that succeeded is deployed again (persistent environments only).
    Rollback,
}

/// The grace before a failed environment with `on_failure: destroy` is torn down, unless the catalog says.
pub const DEFAULT_FAILURE_GRACE_SECS: u64 = 2 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub name: ProductName,
    pub description: String,
    pub platform: Platform,
    pub source: String,
    pub steps: IndexMap<StepName, StepDef>,
    pub environments: IndexMap<EnvironmentName, EnvironmentDef>,
    /// The `dossier:` section: components and flows the stacks cannot show (docs/dossier.md).
    #[serde(default)]
    pub dossier: annotations::Annotations,
}

impl Product {
    /// The catalog entry a concrete environment name belongs to: an exact name, or a pull-request entry `pr`
    /// for `pr-<suffix>`.
    pub fn resolve_environment(&self, name: &EnvironmentName) -> Option<&EnvironmentDef> {
        if let Some(def) = self.environments.get(name) {
            return Some(def);
        }
        self.environments.values().find(|def| {
            def.kind == EnvironmentKind::PullRequest
                && name
                    .as_str()
                    .strip_prefix(def.name.as_str())
                    .is_some_and(|rest| rest.len() > 1 && rest.starts_with('-'))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Catalog {
    pub products: IndexMap<ProductName, Product>,
}

impl Catalog {
    /// Parses and validates every `(file name, text)` pair; the first error stops it.
    pub fn parse_files(files: &[(String, String)]) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::default();
        for (file, text) in files {
            let product = parse_product(file, text)?;
            if let Some(other) = catalog.products.get(&product.name) {
                return Err(CatalogError {
                    file: file.clone(),
                    field: "product".into(),
                    message: format!(
                        "product {:?} is already defined in {}: rename one of them",
                        product.name.as_str(),
                        other.source
                    ),
                });
            }
            catalog.products.insert(product.name.clone(), product);
        }
        Ok(catalog)
    }

    pub fn product(&self, name: &str) -> Option<&Product> {
        self.products
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
    }
}

// ---- raw YAML shape -------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    schema: String,
    product: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    platform: Platform,
    #[serde(default)]
    defaults: RawDefaults,
    steps: IndexMap<String, RawStep>,
    environments: IndexMap<String, RawEnvironment>,
    dossier: Option<serde_yaml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    retries: Option<u32>,
    backoff: Option<String>,
    timeout: Option<String>,
    resources: Option<RawResources>,
    max_parallel: Option<u32>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawResources {
    cpu: Option<f64>,
    memory_gb: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    needs: Vec<String>,
    retries: Option<u32>,
    backoff: Option<String>,
    timeout: Option<String>,
    estimate: Option<String>,
    resources: Option<RawResources>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    teardown: Option<String>,
    // `Some(None)`: the key is there with no value (`ansible:`), which plain `Option` would read as absent.
    #[serde(default, deserialize_with = "present")]
    terraform: Option<Option<RawTerraform>>,
    #[serde(default, deserialize_with = "present")]
    ansible: Option<Option<RawAnsible>>,
    #[serde(default, deserialize_with = "present")]
    smoke: Option<Option<RawSmoke>>,
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerraform {
    stack: String,
    #[serde(default)]
    vars: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnsible {
    playbook: String,
    tiers: Option<Vec<DataTier>>,
    #[serde(default)]
    vars: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmoke {
    command: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    kind: EnvironmentKind,
    schedule: Option<RawSchedule>,
    lifetime: Option<String>,
    max_lifetime: Option<String>,
    warn_before: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    on_failure: Option<String>,
    grace: Option<String>,
    max_parallel: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    at: String,
    timezone: Option<String>,
    days: Option<Vec<String>>,
    catch_up: Option<String>,
}

const MAX_RETRIES: u32 = 10;

/// The largest `max_parallel` a catalog may give (more jobs than that at once is no longer a cap).
pub const MAX_PARALLEL: u32 = 1000;

fn check_max_parallel(v: Option<u32>) -> Result<Option<u32>, String> {
    match v {
        Some(0) => Err("at least 1 (remove max_parallel for no per-run cap)".into()),
        Some(n) if n > MAX_PARALLEL => Err(format!("at most {MAX_PARALLEL}")),
        other => Ok(other),
    }
}

fn parse_product(file: &str, text: &str) -> Result<Product, CatalogError> {
    let err = |field: String, message: String| CatalogError {
        file: file.to_string(),
        field,
        message,
    };
    // Duplicate keys first: serde_yaml would keep the last one silently (or name no line for a struct field).
    let unchecked = match duplicates::check(text) {
        Ok(()) => None,
        Err(duplicates::Finding::Duplicate(d)) => {
            return Err(err(
                d.field,
                format!(
                    "key {:?} is given twice, on lines {} and {}: keep one (YAML would silently use the last)",
                    d.key, d.first_line, d.second_line
                ),
            ))
        }
        Err(duplicates::Finding::Unreadable(why)) => Some(why),
    };
    let raw: RawProduct = serde_yaml::from_str(text).map_err(|e| {
        let (field, msg) = split_yaml_error(&e.to_string());
        err(field, msg)
    })?;
    if let Some(why) = unchecked {
        return Err(err(
            String::new(),
            format!(
                "the YAML could not be checked for duplicate keys ({why}): simplify its syntax"
            ),
        ));
    }
    if raw.schema != SCHEMA {
        return Err(err(
            "schema".into(),
            format!("expected {SCHEMA:?}, found {:?}", raw.schema),
        ));
    }
    let name =
        ProductName::parse(&raw.product).map_err(|e| err("product".into(), e.to_string()))?;
    let dur = |field: String, v: &Option<String>, default: u64| -> Result<u64, CatalogError> {
        match v {
            None => Ok(default),
            Some(s) => Ttl::parse(s)
                .map(|t| t.as_duration().as_secs())
                .map_err(|e| err(field, e.to_string())),
        }
    };
    let d_retries = raw.defaults.retries.unwrap_or(2);
    if d_retries > MAX_RETRIES {
        return Err(err(
            "defaults.retries".into(),
            format!("at most {MAX_RETRIES}"),
        ));
    }
    let d_backoff = dur("defaults.backoff".into(), &raw.defaults.backoff, 5)?;
    let d_timeout = dur("defaults.timeout".into(), &raw.defaults.timeout, 30 * 60)?;
    let d_res = merge_resources(Resources::default(), raw.defaults.resources.as_ref());
    let d_max_parallel = check_max_parallel(raw.defaults.max_parallel)
        .map_err(|m| err("defaults.max_parallel".into(), m))?;

    if raw.steps.is_empty() {
        return Err(err(
            "steps".into(),
            "a product needs at least one step".into(),
        ));
    }
    let mut steps = IndexMap::new();
    for (sname, s) in &raw.steps {
        let at = |f: &str| {
            if f.is_empty() {
                format!("steps.{sname}")
            } else {
                format!("steps.{sname}.{f}")
            }
        };
        let step_name = StepName::parse(sname).map_err(|e| err(at(""), e.to_string()))?;
        let retries = s.retries.unwrap_or(d_retries);
        if retries > MAX_RETRIES {
            return Err(err(at("retries"), format!("at most {MAX_RETRIES}")));
        }
        for (kind, given) in [
            ("terraform", matches!(s.terraform, Some(None))),
            ("ansible", matches!(s.ansible, Some(None))),
            ("smoke", matches!(s.smoke, Some(None))),
        ] {
            if given {
                return Err(err(
                    at(kind),
                    format!("{kind} has no value: give its fields, or remove the key"),
                ));
            }
        }
        let action = match (
            s.terraform.as_ref().and_then(Option::as_ref),
            s.ansible.as_ref().and_then(Option::as_ref),
            s.smoke.as_ref().and_then(Option::as_ref),
        ) {
            (Some(t), None, None) => {
                if t.stack.trim().is_empty() {
                    return Err(err(
                        at("terraform.stack"),
                        "give the stack directory, e.g. terraform/stacks/app".into(),
                    ));
                }
                Action::Terraform {
                    stack: t.stack.clone(),
                    vars: t.vars.clone(),
                }
            }
            (None, Some(a), None) => {
                if a.playbook.trim().is_empty() {
                    return Err(err(at("ansible.playbook"), "give the playbook path".into()));
                }
                let tiers = a
                    .tiers
                    .clone()
                    .unwrap_or_else(|| vec![DataTier::Reference, DataTier::Test]);
                Action::Ansible {
                    playbook: a.playbook.clone(),
                    tiers,
                    vars: a.vars.clone(),
                }
            }
            (None, None, Some(sm)) => {
                if sm.command.is_empty() {
                    return Err(err(
                        at("smoke.command"),
                        "give the command in exec form, e.g. [python3, smoke.py]".into(),
                    ));
                }
                Action::Smoke {
                    command: sm.command.clone(),
                    env: sm.env.clone(),
                }
            }
            _ => {
                return Err(err(
                    at(""),
                    "give exactly one of terraform, ansible or smoke".into(),
                ))
            }
        };
        let teardown = match s.teardown.as_deref() {
            None => None,
            Some("terraform") if matches!(action, Action::Terraform { .. }) => {
                Some(Teardown::Terraform)
            }
            Some("terraform") => {
                return Err(err(
                    at("teardown"),
                    format!(
                        "teardown: terraform is for Terraform steps only (this step runs {}): remove it",
                        action.kind()
                    ),
                ))
            }
            Some(other) => {
                return Err(err(
                    at("teardown"),
                    format!(
                        "unknown teardown {other:?}: the only one is `terraform` (the layer's own terraform \
                         destroy, run before its environment's resource groups are deleted)"
                    ),
                ))
            }
        };
        for (k, v) in &s.secrets {
            if !is_env_name(k) {
                return Err(err(
                    at(&format!("secrets.{k}")),
                    "use an environment variable name (letters, digits, _; not starting with a digit)".into(),
                ));
            }
            if !is_secret_name(v) {
                return Err(err(
                    at(&format!("secrets.{k}")),
                    "give a Key Vault secret name (letters, digits, '-'), never a secret value"
                        .into(),
                ));
            }
        }
        let mut needs = Vec::new();
        for (i, n) in s.needs.iter().enumerate() {
            if !raw.steps.contains_key(n) {
                let known: Vec<&str> = raw.steps.keys().map(|k| k.as_str()).collect();
                return Err(err(
                    at(&format!("needs[{i}]")),
                    format!("unknown step {n:?} (known: {})", known.join(", ")),
                ));
            }
            let n =
                StepName::parse(n).map_err(|e| err(at(&format!("needs[{i}]")), e.to_string()))?;
            if n == step_name {
                return Err(err(
                    at(&format!("needs[{i}]")),
                    "a step cannot need itself".into(),
                ));
            }
            if !needs.contains(&n) {
                needs.push(n);
            }
        }
        steps.insert(
            step_name.clone(),
            StepDef {
                name: step_name,
                needs,
                retries,
                backoff_secs: dur(at("backoff"), &s.backoff, d_backoff)?,
                timeout_secs: dur(at("timeout"), &s.timeout, d_timeout)?,
                estimate_secs: dur(at("estimate"), &s.estimate, 60)?,
                resources: merge_resources(d_res.clone(), s.resources.as_ref()),
                secrets: s.secrets.clone(),
                action,
                teardown,
            },
        );
    }
    if let Some(cycle) = find_cycle(&steps) {
        let path: Vec<&str> = cycle.iter().map(|s| s.as_str()).collect();
        return Err(err(
            format!("steps.{}.needs", path[0]),
            format!(
                "dependency cycle {}: remove one of these needs",
                path.join(" -> ")
            ),
        ));
    }

    let mut environments = IndexMap::new();
    if raw.environments.is_empty() {
        return Err(err(
            "environments".into(),
            "a product needs at least one environment".into(),
        ));
    }
    for (ename, e) in &raw.environments {
        let at = |f: &str| {
            if f.is_empty() {
                format!("environments.{ename}")
            } else {
                format!("environments.{ename}.{f}")
            }
        };
        let env_name = EnvironmentName::parse(ename).map_err(|x| err(at(""), x.to_string()))?;
        let ttl = |f: &str, v: &Option<String>| -> Result<Option<Ttl>, CatalogError> {
            v.as_deref()
                .map(Ttl::parse)
                .transpose()
                .map_err(|x| err(at(f), x.to_string()))
        };
        let lifetime = ttl("lifetime", &e.lifetime)?;
        let max_lifetime = ttl("max_lifetime", &e.max_lifetime)?;
        let warn_before = match (e.kind, ttl("warn_before", &e.warn_before)?) {
            (EnvironmentKind::Persistent, Some(_)) => {
                return Err(err(
                    at("warn_before"),
                    "a persistent environment never expires: remove warn_before".into(),
                ))
            }
            (EnvironmentKind::Persistent, None) => None,
            (EnvironmentKind::Nightly, w) => Some(w.unwrap_or(Ttl::from_secs(2 * 3600))),
            (EnvironmentKind::PullRequest, w) => Some(w.unwrap_or(Ttl::from_secs(12 * 3600))),
        };
        let schedule = match (&e.schedule, e.kind) {
            (Some(s), EnvironmentKind::Nightly) => Some(parse_schedule(s).map_err(|(f, m)| err(at(&format!("schedule.{f}")), m))?),
            (None, EnvironmentKind::Nightly) => {
                return Err(err(at("schedule"), "a nightly environment needs a schedule, e.g. {at: \"02:00\", timezone: Europe/Paris}".into()))
            }
            (Some(_), _) => return Err(err(at("schedule"), "only nightly environments have a schedule".into())),
            (None, _) => None,
        };
        let (lifetime, max_lifetime) = match e.kind {
            EnvironmentKind::Persistent => {
                if lifetime.is_some() || max_lifetime.is_some() {
                    return Err(err(
                        at("lifetime"),
                        "a persistent environment never expires: remove lifetime".into(),
                    ));
                }
                (None, None)
            }
            EnvironmentKind::Nightly => (
                Some(lifetime.unwrap_or(Ttl::from_secs(86_400))),
                max_lifetime.or(Some(Ttl::from_secs(30 * 86_400))),
            ),
            EnvironmentKind::PullRequest => (
                Some(lifetime.unwrap_or(Ttl::from_secs(7 * 86_400))),
                max_lifetime.or(Some(Ttl::from_secs(30 * 86_400))),
            ),
        };
        if let (Some(l), Some(m)) = (lifetime, max_lifetime) {
            if l > m {
                return Err(err(
                    at("lifetime"),
                    format!("{l} is longer than max_lifetime {m}"),
                ));
            }
        }
        let grace = ttl("grace", &e.grace)?;
        let on_failure = match (e.on_failure.as_deref(), e.kind) {
            (None | Some("keep"), _) if grace.is_some() => {
                return Err(err(
                    at("grace"),
                    "grace is the delay before `on_failure: destroy` tears down: set on_failure: destroy or remove grace".into(),
                ))
            }
            (None | Some("keep"), _) => FailurePolicy::Keep,
            (Some("destroy"), EnvironmentKind::Persistent) => {
                return Err(err(
                    at("on_failure"),
                    "a persistent environment is never destroyed by nightshift: use keep or rollback".into(),
                ))
            }
            (Some("destroy"), _) => FailurePolicy::Destroy {
                grace: grace.unwrap_or(Ttl::from_secs(DEFAULT_FAILURE_GRACE_SECS)),
            },
            (Some("rollback"), EnvironmentKind::Persistent) if grace.is_some() => {
                return Err(err(at("grace"), "grace applies to on_failure: destroy only".into()))
            }
            (Some("rollback"), EnvironmentKind::Persistent) => FailurePolicy::Rollback,
            (Some("rollback"), kind) => {
                return Err(err(
                    at("on_failure"),
                    format!(
                        "rollback is for persistent environments (this one is {}): use keep or destroy",
                        kind.as_str()
                    ),
                ))
            }
            (Some(other), _) => {
                return Err(err(
                    at("on_failure"),
                    format!("{other:?} is not a failure policy: use keep, destroy or rollback"),
                ))
            }
        };
        let max_parallel = check_max_parallel(e.max_parallel)
            .map_err(|m| err(at("max_parallel"), m))?
            .or(d_max_parallel);
        environments.insert(
            env_name.clone(),
            EnvironmentDef {
                name: env_name,
                kind: e.kind,
                schedule,
                lifetime,
                max_lifetime,
                warn_before,
                vars: e.vars.clone(),
                on_failure,
                max_parallel,
            },
        );
    }

    // Templates: every reference must be something the step can see.
    for step in steps.values() {
        let ancestors = ancestors(&steps, &step.name);
        let at = |f: &str| format!("steps.{}.{}", step.name, f);
        let check = |field: String,
                     refs: Result<Vec<Reference>, template::TemplateError>|
         -> Result<(), CatalogError> {
            for r in refs.map_err(|e| err(field.clone(), e.to_string()))? {
                match r {
                    Reference::Output { step: s, output } => {
                        if !ancestors.iter().any(|a| a.as_str() == s) {
                            return Err(err(
                                field.clone(),
                                format!("${{{s}.{output}}}: step {s:?} is not among this step's needs (direct or indirect): add it to needs"),
                            ));
                        }
                    }
                    Reference::Context(c) => {
                        if let Some(k) = c.strip_prefix("env.vars.") {
                            if let Some((en, _)) =
                                environments.iter().find(|(_, e)| !e.vars.contains_key(k))
                            {
                                return Err(err(
                                    field.clone(),
                                    format!("${{{c}}}: environment {en:?} has no var {k:?}"),
                                ));
                            }
                        }
                    }
                }
            }
            Ok(())
        };
        match &step.action {
            Action::Terraform { vars, .. } | Action::Ansible { vars, .. } => {
                for (k, v) in vars {
                    let prefix = if step.action.kind() == "terraform" {
                        "terraform"
                    } else {
                        "ansible"
                    };
                    check(
                        at(&format!("{prefix}.vars.{k}")),
                        template::value_references(v),
                    )?;
                }
            }
            Action::Smoke { command, env } => {
                for (i, c) in command.iter().enumerate() {
                    check(at(&format!("smoke.command[{i}]")), template::references(c))?;
                }
                for (k, v) in env {
                    check(at(&format!("smoke.env.{k}")), template::references(v))?;
                }
            }
        }
    }

    let step_names: Vec<&str> = steps.keys().map(|s| s.as_str()).collect();
    let dossier = annotations::parse(file, text, raw.dossier, &step_names)?;
    Ok(Product {
        name,
        dossier,
        description: raw.description,
        platform: raw.platform,
        source: file.to_string(),
        steps,
        environments,
    })
}

fn merge_resources(base: Resources, over: Option<&RawResources>) -> Resources {
    match over {
        None => base,
        Some(o) => Resources {
            cpu: o.cpu.unwrap_or(base.cpu),
            memory_gb: o.memory_gb.unwrap_or(base.memory_gb),
        },
    }
}

fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_secret_name(s: &str) -> bool {
    (1..=127).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn parse_schedule(s: &RawSchedule) -> Result<Schedule, (String, String)> {
    let at = NaiveTime::parse_from_str(&s.at, "%H:%M").map_err(|_| {
        (
            "at".to_string(),
            format!("{:?} is not a time: use HH:MM, e.g. \"02:00\"", s.at),
        )
    })?;
    let timezone: chrono_tz::Tz = match &s.timezone {
        None => chrono_tz::UTC,
        Some(tz) => tz.parse().map_err(|_| {
            (
                "timezone".to_string(),
                format!("{tz:?} is not an IANA time zone, e.g. Europe/Paris"),
            )
        })?,
    };
    let days = match &s.days {
        None => vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
        Some(days) => days
            .iter()
            .enumerate()
            .map(|(i, d)| {
                d.parse::<Weekday>().map_err(|_| {
                    (
                        format!("days[{i}]"),
                        format!("{d:?} is not a day: use mon, tue, ..., sun"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    if days.is_empty() {
        return Err((
            "days".into(),
            "give at least one day, or leave days out for every day".into(),
        ));
    }
    let catch_up_secs = match &s.catch_up {
        None => 24 * 3600,
        Some(c) => Ttl::parse(c)
            .map_err(|e| ("catch_up".to_string(), e.to_string()))?
            .as_duration()
            .as_secs(),
    };
    Ok(Schedule {
        at,
        timezone,
        days,
        catch_up_secs,
    })
}

/// serde_yaml says `steps.foo: unknown field ...`; split the path from the message when it leads.
fn split_yaml_error(msg: &str) -> (String, String) {
    if let Some((path, rest)) = msg.split_once(": ") {
        if !path.contains(' ') && !path.is_empty() {
            return (path.to_string(), rest.to_string());
        }
    }
    (String::new(), msg.to_string())
}

/// The transitive dependencies of a step.
pub fn ancestors(steps: &IndexMap<StepName, StepDef>, step: &StepName) -> BTreeSet<StepName> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<StepName> = steps.get(step).map(|s| s.needs.clone()).unwrap_or_default();
    while let Some(s) = stack.pop() {
        if seen.insert(s.clone()) {
            if let Some(d) = steps.get(&s) {
                stack.extend(d.needs.iter().cloned());
            }
        }
    }
    seen
}

/// A dependency cycle, as a path that returns to its start, if any.
pub fn find_cycle(steps: &IndexMap<StepName, StepDef>) -> Option<Vec<StepName>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        n: &StepName,
        steps: &IndexMap<StepName, StepDef>,
        marks: &mut BTreeMap<StepName, Mark>,
        path: &mut Vec<StepName>,
    ) -> Option<Vec<StepName>> {
        match marks.get(n).copied().unwrap_or(Mark::New) {
            Mark::Done => return None,
            Mark::Active => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(n.clone());
                return Some(cycle);
            }
            Mark::New => {}
        }
        marks.insert(n.clone(), Mark::Active);
        path.push(n.clone());
        for d in steps.get(n).map(|s| s.needs.as_slice()).unwrap_or_default() {
            if let Some(c) = visit(d, steps, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(n.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in steps.keys() {
        if let Some(c) = visit(n, steps, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const DEMO: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
defaults: { retries: 2, backoff: 1s }
steps:
  foundation:
    terraform: { stack: tf/foundation }
  db:
    needs: [foundation]
    terraform:
      stack: tf/db
      vars: { rg: "${foundation.rg}", size: 3 }
  seed:
    needs: [db]
    ansible: { playbook: seeds/seed.yml, vars: { path: "${db.path}" } }
  app:
    needs: [foundation]
    terraform: { stack: tf/app }
  smoke:
    needs: [seed, app]
    smoke: { command: [python3, smoke.py, "${db.path}"] }
environments:
  nightly:
    kind: nightly
    schedule: { at: "02:00", timezone: Europe/Paris, days: [mon, tue, wed, thu, fri] }
    lifetime: 20h
  pr: { kind: pull-request }
  main: { kind: persistent }
"#;

    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        Catalog::parse_files(&[("catalog/shop.yaml".into(), text.into())])
    }

    #[test]
    fn a_valid_catalog_parses_with_defaults_applied() {
        let c = parse(DEMO).unwrap();
        let p = c.product("shop").unwrap();
        assert_eq!(p.steps.len(), 5);
        assert_eq!(p.steps[1].retries, 2);
        assert_eq!(p.steps[1].backoff_secs, 1);
        let pr = &p.environments[1];
        assert_eq!(pr.lifetime.unwrap().to_string(), "1w");
        assert_eq!(p.environments[2].lifetime, None);
        match &p.steps[2].action {
            Action::Ansible { tiers, .. } => {
                assert_eq!(tiers, &vec![DataTier::Reference, DataTier::Test])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_failure_policy_defaults_to_keep_and_destroy_takes_a_grace_of_two_hours_by_default() {
        let p = parse(DEMO).unwrap().products[0].clone();
        assert!(p
            .environments
            .values()
            .all(|e| e.on_failure == FailurePolicy::Keep));
        let c = parse(&DEMO.replace(
            "pr: { kind: pull-request }",
            "pr: { kind: pull-request, on_failure: destroy }",
        ))
        .unwrap();
        assert_eq!(
            c.products[0].environments[1].on_failure,
            FailurePolicy::Destroy {
                grace: Ttl::from_secs(7200)
            }
        );
        let c = parse(&DEMO.replace(
            "pr: { kind: pull-request }",
            "pr: { kind: pull-request, on_failure: destroy, grace: 30m }",
        ))
        .unwrap();
        assert_eq!(
            c.products[0].environments[1].on_failure,
            FailurePolicy::Destroy {
                grace: Ttl::from_secs(1800)
            }
        );
        let c = parse(&DEMO.replace(
            "main: { kind: persistent }",
            "main: { kind: persistent, on_failure: rollback }",
        ))
        .unwrap();
        assert_eq!(
            c.products[0].environments[2].on_failure,
            FailurePolicy::Rollback
        );
    }

    #[test]
    fn a_failure_policy_that_does_not_fit_the_environment_is_refused_naming_the_field() {
        for (from, to, field, needle) in [
            (
                "pr: { kind: pull-request }",
                "pr: { kind: pull-request, on_failure: rollback }",
                "environments.pr.on_failure",
                "persistent environments",
            ),
            (
                "main: { kind: persistent }",
                "main: { kind: persistent, on_failure: destroy }",
                "environments.main.on_failure",
                "never destroyed",
            ),
            (
                "pr: { kind: pull-request }",
                "pr: { kind: pull-request, on_failure: explode }",
                "environments.pr.on_failure",
                "keep, destroy or rollback",
            ),
            (
                "pr: { kind: pull-request }",
                "pr: { kind: pull-request, grace: 1h }",
                "environments.pr.grace",
                "on_failure: destroy",
            ),
            (
                "pr: { kind: pull-request }",
                "pr: { kind: pull-request, on_failure: destroy, grace: soon }",
                "environments.pr.grace",
                "duration",
            ),
        ] {
            let e = parse(&DEMO.replace(from, to)).unwrap_err();
            assert_eq!(e.field, field, "{to}: {e}");
            assert!(e.message.contains(needle), "{to}: {e}");
        }
    }

    #[test]
    fn pull_request_environments_match_by_prefix() {
        let c = parse(DEMO).unwrap();
        let p = c.product("shop").unwrap();
        let pick = |n: &str| {
            p.resolve_environment(&EnvironmentName::parse(n).unwrap())
                .map(|e| e.name.to_string())
        };
        assert_eq!(pick("pr-123").as_deref(), Some("pr"));
        assert_eq!(pick("main").as_deref(), Some("main"));
        assert_eq!(pick("prx-1"), None);
        assert_eq!(pick("staging"), None);
    }

    #[test]
    fn an_unknown_dependency_names_the_file_the_field_and_the_known_steps() {
        let e = parse(&DEMO.replace("needs: [db]", "needs: [dbb]")).unwrap_err();
        assert_eq!(e.file, "catalog/shop.yaml");
        assert_eq!(e.field, "steps.seed.needs[0]");
        assert!(e.message.contains("unknown step \"dbb\""), "{e}");
        assert!(e.message.contains("foundation"), "{e}");
    }

    #[test]
    fn a_cycle_is_rejected_with_its_path() {
        let e = parse(&DEMO.replace(
            "terraform: { stack: tf/foundation }",
            "needs: [smoke]\n    terraform: { stack: tf/foundation }",
        ))
        .unwrap_err();
        assert!(e.message.contains("cycle"), "{e}");
        assert!(e.message.contains("->"), "{e}");
    }

    #[test]
    fn a_reference_to_a_step_that_is_not_upstream_is_rejected() {
        let e = parse(&DEMO.replace(
            "stack: tf/app }",
            "stack: tf/app, vars: { p: \"${db.path}\" } }",
        ))
        .unwrap_err();
        assert_eq!(e.field, "steps.app.terraform.vars.p");
        assert!(e.message.contains("not among this step's needs"), "{e}");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_named() {
        let e = parse(&DEMO.replace("lifetime: 20h", "lifetme: 20h")).unwrap_err();
        assert!(e.to_string().contains("lifetme"), "{e}");
        let e = parse(&DEMO.replace("lifetime: 20h", "lifetime: 20")).unwrap_err();
        assert_eq!(e.field, "environments.nightly.lifetime");
        let e = parse(&DEMO.replace("Europe/Paris", "Europe/Pariss")).unwrap_err();
        assert_eq!(e.field, "environments.nightly.schedule.timezone");
        let e = parse(&DEMO.replace(
            "main: { kind: persistent }",
            "main: { kind: persistent, lifetime: 1d }",
        ))
        .unwrap_err();
        assert!(e.message.contains("never expires"), "{e}");
    }

    #[test]
    fn a_terraform_step_may_declare_teardown_terraform_and_any_other_use_is_refused_naming_the_file_and_field(
    ) {
        let c = parse(&DEMO.replace(
            "terraform: { stack: tf/app }",
            "teardown: terraform\n    terraform: { stack: tf/app }",
        ))
        .unwrap();
        let p = c.product("shop").unwrap();
        assert_eq!(p.steps[3].teardown, Some(Teardown::Terraform));
        assert_eq!(p.steps[1].teardown, None, "absent by default");

        let e = parse(&DEMO.replace(
            "smoke: { command",
            "teardown: terraform\n    smoke: { command",
        ))
        .unwrap_err();
        assert_eq!(e.file, "catalog/shop.yaml");
        assert_eq!(e.field, "steps.smoke.teardown");
        assert!(e.message.contains("Terraform steps only"), "{e}");

        let e = parse(&DEMO.replace(
            "terraform: { stack: tf/app }",
            "teardown: ansible\n    terraform: { stack: tf/app }",
        ))
        .unwrap_err();
        assert_eq!(e.field, "steps.app.teardown");
        assert!(e.message.contains("unknown teardown \"ansible\""), "{e}");
    }

    #[test]
    fn secrets_are_names_never_values() {
        let e = parse(&DEMO.replace(
            "smoke: { command",
            "secrets: { API_KEY: \"SG.abc/def+=\" }\n    smoke: { command",
        ))
        .unwrap_err();
        assert!(e.message.contains("never a secret value"), "{e}");
    }

    #[test]
    fn warn_before_defaults_by_kind_and_a_persistent_environment_has_none() {
        let c = parse(DEMO).unwrap();
        let p = c.product("shop").unwrap();
        let w: Vec<Option<String>> = p
            .environments
            .values()
            .map(|e| e.warn_before.map(|t| t.to_string()))
            .collect();
        assert_eq!(w, [Some("2h".to_string()), Some("12h".to_string()), None]);
        let c = parse(&DEMO.replace(
            "pr: { kind: pull-request }",
            "pr: { kind: pull-request, warn_before: 1d }",
        ))
        .unwrap();
        assert_eq!(
            c.product("shop").unwrap().environments[1]
                .warn_before
                .unwrap()
                .to_string(),
            "1d"
        );
        let e = parse(&DEMO.replace(
            "main: { kind: persistent }",
            "main: { kind: persistent, warn_before: 1h }",
        ))
        .unwrap_err();
        assert_eq!(e.field, "environments.main.warn_before");
    }
}
