//! The tags nightshift puts on every resource group it creates.

use crate::catalog::EnvironmentKind;
use crate::names::{EnvironmentName, ProductName, RunId};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "nightshift-managed-by";
pub const PRODUCT: &str = "nightshift-product";
pub const ENVIRONMENT: &str = "nightshift-environment";
pub const RUN: &str = "nightshift-run";
pub const KIND: &str = "nightshift-kind";
pub const EXPIRES_AT: &str = "nightshift-expires-at";

/// Every tag the sweep relies on, in the order the docs list them.
pub const ALL: [&str; 6] = [MANAGED_BY, PRODUCT, ENVIRONMENT, RUN, KIND, EXPIRES_AT];

pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn for_environment(
    instance: &str,
    product: &ProductName,
    environment: &EnvironmentName,
    run: &RunId,
    kind: EnvironmentKind,
    expires_at: Option<DateTime<Utc>>,
) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    t.insert(MANAGED_BY.to_string(), instance.to_string());
    t.insert(PRODUCT.to_string(), product.to_string());
    t.insert(ENVIRONMENT.to_string(), environment.to_string());
    t.insert(RUN.to_string(), run.to_string());
    t.insert(KIND.to_string(), kind.as_str().to_string());
    if let (Some(at), false) = (expires_at, kind == EnvironmentKind::Persistent) {
        t.insert(EXPIRES_AT.to_string(), format_time(at));
    }
    t
}
