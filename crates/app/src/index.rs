//! The run indexes: what `status`, `environments`, `metrics` and the HTTP `status` function read instead of every
//! run ever stored.
//!
//! - `index/runs/<YYYY-MM-DD>/<HHMMSSffffff>-<run>.json`: one [`RunDigest`] per run, under the day it was created.
//!   One key per run, so no document is hot; listed newest first a page at a time.
//! - `index/days/<YYYY-MM-DD>`: one marker per day that has runs, so a page lists only the days it needs.
//! - `index/environments/<product>/<environment>.json`: an environment's current run and its recent runs
//!   ([`EnvironmentIndex`], at most [`RECENT_PER_ENVIRONMENT`]).
//! - `index/failed-notifications/<run>/<id>`: the key of each delivery that gave up.
//! - `index/built`: present once a state directory written before the indexes existed has been indexed.
//!
//! Every write is idempotent and never goes backwards: a digest replaces another only when it says more
//! ([`RunDigest::supersedes`]), with a conditional write. A run's digest is written before the run is created
//! ("intended": a reader skips a digest whose run does not exist), then again at each status change through the
//! environment record. What a crash leaves stale heals: the watchdog finishes runs whose hand-over was cut short
//! (writing their digests), and every reader that reads a run (the runs a status page shows, an environment's
//! unfinished runs) writes back a digest that is behind it.

use crate::repo::Repo;
use crate::service::{App, AppError};
use chrono::{DateTime, Utc};
use nightshift_core::ports::{PortError, Precondition};
use nightshift_core::run::Run;
use nightshift_core::run_digest::RunDigest;
use nightshift_core::RunId;
use serde::{Deserialize, Serialize};

pub const RUNS_PREFIX: &str = "index/runs/";
pub const DAYS_PREFIX: &str = "index/days/";
pub const ENVIRONMENTS_PREFIX: &str = "index/environments/";
pub const FAILED_NOTIFICATIONS_PREFIX: &str = "index/failed-notifications/";
pub const BUILT_KEY: &str = "index/built";
/// How many runs an environment's index keeps (newest first).
pub const RECENT_PER_ENVIRONMENT: usize = 20;
const MAX_CAS_ATTEMPTS: usize = 50;

/// An environment's current run and its recent runs, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentIndex {
    pub product: String,
    pub environment: String,
    /// The newest run of the environment (waiting, building or finished).
    pub current: Option<String>,
    pub recent: Vec<RunDigest>,
}

impl EnvironmentIndex {
    /// The index with `d` in it (replacing an older digest of the same run), newest first, bounded.
    fn with(mut self, d: &RunDigest) -> Option<Self> {
        match self.recent.iter_mut().find(|r| r.id == d.id) {
            Some(r) if d.supersedes(r) => *r = d.clone(),
            Some(_) => return None,
            None => self.recent.push(d.clone()),
        }
        self.product = d.product.to_string();
        self.environment = d.environment.to_string();
        self.recent
            .sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        self.recent.truncate(RECENT_PER_ENVIRONMENT);
        self.current = self.recent.first().map(|r| r.id.to_string());
        Some(self)
    }
}

pub fn day_of(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The key of a run's digest: under its creation day, in creation order.
pub fn digest_key(id: &RunId, created_at: DateTime<Utc>) -> String {
    format!(
        "{RUNS_PREFIX}{}/{}-{id}.json",
        day_of(created_at),
        created_at.format("%H%M%S%6f")
    )
}

pub fn environment_index_key(product: &str, env: &str) -> String {
    format!("{ENVIRONMENTS_PREFIX}{product}/{env}.json")
}

/// A page of runs, newest first, and the cursor of the next (older) page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub digests: Vec<RunDigest>,
    pub next_cursor: Option<String>,
}

/// Why a cursor was refused: it names what to do instead.
fn bad_cursor(cursor: &str) -> PortError {
    PortError::Permanent(format!(
        "cursor {cursor:?} is not one nightshift gave: start again without --cursor (the newest runs first)"
    ))
}

/// Checks a cursor's shape (`YYYY-MM-DD/<name>`): nothing else is listed with it.
fn parse_cursor(cursor: &str) -> Result<(&str, &str), PortError> {
    let (day, name) = cursor.split_once('/').ok_or_else(|| bad_cursor(cursor))?;
    let day_ok = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok() && day.len() == 10;
    let name_ok = !name.is_empty()
        && name.ends_with(".json")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if day_ok && name_ok {
        Ok((day, name))
    } else {
        Err(bad_cursor(cursor))
    }
}

impl Repo {
    /// Writes a run's digest into the indexes (day marker, digest, environment index), unless they already say as
    /// much. Idempotent; safe against concurrent writers.
    pub async fn index_run(&self, run: &Run) -> Result<(), PortError> {
        let d = RunDigest::of(run);
        self.index_digest(&d).await
    }

    pub async fn index_digest(&self, d: &RunDigest) -> Result<(), PortError> {
        let day = day_of(d.created_at);
        let marker = format!("{DAYS_PREFIX}{day}");
        // Written once a day: read first, so a day's every run does not cost a write that fails.
        if self.store().get(&marker).await?.is_none() {
            match self
                .store()
                .put(&marker, day.clone().into_bytes(), Precondition::Absent)
                .await
            {
                Ok(_) | Err(PortError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let key = digest_key(&d.id, d.created_at);
        self.put_if_newer(&key, |old: Option<RunDigest>| match old {
            Some(o) if !d.supersedes(&o) => None,
            _ => Some(d.clone()),
        })
        .await?;
        self.put_if_newer(
            &environment_index_key(d.product.as_str(), d.environment.as_str()),
            |old: Option<EnvironmentIndex>| old.unwrap_or_default().with(d),
        )
        .await
    }

    /// A conditional read-modify-write: `f` returns the new document, or None to leave it.
    async fn put_if_newer<T, F>(&self, key: &str, f: F) -> Result<(), PortError>
    where
        T: Serialize + for<'de> Deserialize<'de>,
        F: Fn(Option<T>) -> Option<T>,
    {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let (old, pre) = match self.get_json::<T>(key).await {
                Ok(Some((v, version))) => (Some(v), Precondition::Version(version)),
                Ok(None) => (None, Precondition::Absent),
                // An unreadable index document is rebuilt from what is being written.
                Err(PortError::Permanent(_)) => match self.store().get(key).await? {
                    Some(v) => (None, Precondition::Version(v.version)),
                    None => (None, Precondition::Absent),
                },
                Err(e) => return Err(e),
            };
            let Some(new) = f(old) else { return Ok(()) };
            match self.put_json(key, &new, pre).await {
                Ok(_) => return Ok(()),
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PortError::Transient(format!(
            "{key}: too many concurrent writers"
        )))
    }

    /// The days that have runs, oldest first.
    pub async fn index_days(&self) -> Result<Vec<String>, PortError> {
        Ok(self
            .store()
            .list(DAYS_PREFIX)
            .await?
            .into_iter()
            .filter_map(|k| k.strip_prefix(DAYS_PREFIX).map(str::to_string))
            .collect())
    }

    /// The digest keys of one day, oldest first.
    pub async fn index_keys_of_day(&self, day: &str) -> Result<Vec<String>, PortError> {
        self.store().list(&format!("{RUNS_PREFIX}{day}/")).await
    }

    /// Up to `limit` digests, newest first, older than `cursor` when given. Reads the keys of the days it needs and
    /// `limit` digests; a digest whose document cannot be read is skipped.
    pub async fn page_digests(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page, PortError> {
        let limit = limit.max(1);
        let after = match cursor {
            Some(c) => Some(parse_cursor(c)?),
            None => None,
        };
        let mut keys: Vec<String> = Vec::new();
        let mut more = false;
        'days: for day in self.index_days().await?.iter().rev() {
            if let Some((cday, _)) = after {
                if day.as_str() > cday {
                    continue;
                }
            }
            let mut day_keys = self.index_keys_of_day(day).await?;
            day_keys.reverse();
            for k in day_keys {
                if let Some((cday, cname)) = after {
                    if k >= format!("{RUNS_PREFIX}{cday}/{cname}") {
                        continue;
                    }
                }
                if keys.len() == limit {
                    more = true;
                    break 'days;
                }
                keys.push(k);
            }
        }
        let next_cursor = more
            .then(|| keys.last().and_then(|k| k.strip_prefix(RUNS_PREFIX)))
            .flatten()
            .map(str::to_string);
        let mut digests = Vec::with_capacity(keys.len());
        for k in &keys {
            match self.get_json::<RunDigest>(k).await {
                Ok(Some((d, _))) => digests.push(d),
                Ok(None) => {}
                Err(e) if !e.is_retryable() => tracing::warn!("{k} skipped: {e}"),
                Err(e) => return Err(e),
            }
        }
        Ok(Page {
            digests,
            next_cursor,
        })
    }

    /// Every digest of runs created on or after `since` (all when None): what the metrics count.
    pub async fn digests_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<RunDigest>, PortError> {
        let first = since.map(day_of);
        let mut out: Vec<RunDigest> = Vec::new();
        for day in self.index_days().await? {
            if first.as_ref().is_some_and(|f| &day < f) {
                continue;
            }
            for k in self.index_keys_of_day(&day).await? {
                match self.get_json::<RunDigest>(&k).await {
                    Ok(Some((d, _))) => out.push(d),
                    Ok(None) => {}
                    Err(e) if !e.is_retryable() => tracing::warn!("{k} skipped: {e}"),
                    Err(e) => return Err(e),
                }
            }
        }
        // A run whose creation raced may have a second digest (another creator's clock): counted once.
        let mut by_id: std::collections::BTreeMap<RunId, RunDigest> = Default::default();
        for d in out {
            match by_id.get(&d.id) {
                Some(kept) if !d.supersedes(kept) => {}
                _ => {
                    by_id.insert(d.id.clone(), d);
                }
            }
        }
        let mut out: Vec<RunDigest> = by_id.into_values().collect();
        out.sort_by_key(|d| d.created_at);
        Ok(out)
    }

    pub async fn environment_index(
        &self,
        product: &str,
        env: &str,
    ) -> Result<Option<EnvironmentIndex>, PortError> {
        match self
            .get_json::<EnvironmentIndex>(&environment_index_key(product, env))
            .await
        {
            Ok(v) => Ok(v.map(|(i, _)| i)),
            Err(e) if !e.is_retryable() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Notes a delivery that gave up (before its record says so: a marker whose record is not `failed` is
    /// skipped by its reader).
    pub async fn index_failed_delivery(&self, delivery_key: &str) -> Result<(), PortError> {
        let Some(rest) = delivery_key.strip_prefix("notifications/") else {
            return Ok(());
        };
        let marker = format!(
            "{FAILED_NOTIFICATIONS_PREFIX}{}",
            rest.trim_end_matches(".json")
        );
        self.store()
            .put(
                &marker,
                delivery_key.as_bytes().to_vec(),
                Precondition::None,
            )
            .await
            .map(|_| ())
    }

    /// The delivery keys of the deliveries that gave up.
    pub async fn failed_delivery_keys(&self) -> Result<Vec<String>, PortError> {
        Ok(self
            .store()
            .list(FAILED_NOTIFICATIONS_PREFIX)
            .await?
            .into_iter()
            .filter_map(|k| {
                k.strip_prefix(FAILED_NOTIFICATIONS_PREFIX)
                    .map(|rest| format!("notifications/{rest}.json"))
            })
            .collect())
    }
}

/// What building the indexes of an older state directory did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexBuilt {
    pub at: Option<DateTime<Utc>>,
    pub runs: usize,
    pub failed_notifications: usize,
}

impl App {
    /// A state directory written before the indexes existed is indexed once, by the first reader: every run's
    /// digest, and the deliveries that gave up. Idempotent (a reader that dies half-way leaves no marker, and the
    /// next one writes the same digests again); costs one read once built.
    pub async fn ensure_index(&self) -> Result<Option<IndexBuilt>, AppError> {
        if self.repo.store().get(BUILT_KEY).await?.is_some() {
            return Ok(None);
        }
        match self.build_index().await {
            Ok(built) => Ok(Some(built)),
            // A reader that may not write (a read-only role on the journal) answers from what is there; whoever
            // writes next builds the indexes.
            Err(e) if !e.is_retryable() => {
                tracing::warn!(error = %e, "the run indexes could not be built here (read-only access?)");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn build_index(&self) -> Result<IndexBuilt, AppError> {
        let store = self.repo.store();
        let mut built = IndexBuilt {
            at: Some(self.now()),
            ..IndexBuilt::default()
        };
        for run in self.repo.runs().await? {
            self.repo.index_run(&run).await?;
            built.runs += 1;
        }
        for key in store.list("notifications/").await? {
            let failed = matches!(
                self.repo.get_json::<serde_json::Value>(&key).await,
                Ok(Some((v, _))) if v.get("outcome").and_then(|o| o.as_str()) == Some("failed")
            );
            if failed {
                self.repo.index_failed_delivery(&key).await?;
                built.failed_notifications += 1;
            }
        }
        if built.runs > 0 || built.failed_notifications > 0 {
            tracing::info!(
                runs = built.runs,
                failed_notifications = built.failed_notifications,
                "indexes built for a state written before they existed"
            );
        }
        self.repo
            .put_json(BUILT_KEY, &built, Precondition::None)
            .await?;
        Ok(built)
    }

    /// Writes a run's digest: called where a run is about to be created and wherever its status changes.
    pub(crate) async fn index_run(&self, run: &Run) -> Result<(), AppError> {
        Ok(self.repo.index_run(run).await?)
    }

    /// Reads a run a reader shows and writes its digest back when the index is behind it (a crash between the
    /// run's write and the index's). None when the run's document is gone.
    pub(crate) async fn run_healing_index(&self, d: &RunDigest) -> Result<Option<Run>, AppError> {
        let Some(run) = self.repo.run(&d.id).await? else {
            return Ok(None);
        };
        if run.created_at == d.created_at && RunDigest::of(&run).supersedes(d) {
            self.repo.index_run(&run).await?;
        }
        Ok(Some(run))
    }
}
