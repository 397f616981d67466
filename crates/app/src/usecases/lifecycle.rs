//! The lifecycle actions on an environment that exists (`close`, `destroy`, `extend`, `keep` on `releases`).
//!
//! Close and destroy tear the environment down now by the sweep's path; a build in progress is not cut in half:
//! the teardown is recorded on the environment and done when that run finishes. Extend and keep move the expiry
//! (the record and the `nightshift-expires-at` tag of every resource group) and leave a running build alone.
//! Each is idempotent: a redelivery after a crash finishes the job and moves nothing twice (the record remembers
//! which message last moved the expiry).

use super::release::{destroyed_reason, Applied};
use crate::environments::{record_from_run, Torn};
use crate::repo::PendingTeardown;
use crate::service::{App, AppError, Outputs};
use nightshift_core::catalog::EnvironmentDef;
use nightshift_core::lifecycle;
use nightshift_core::messages::{Rejection, Release, ReleaseAction, Request};
use nightshift_core::run::{Run, RunStatus};

impl App {
    pub(crate) async fn lifecycle(
        &self,
        release: &Release,
        def: &EnvironmentDef,
        message_id: &str,
        out: &mut Outputs,
    ) -> Result<Result<Applied, Rejection>, AppError> {
        let env = release.environment.as_str();
        if let Err(why) = lifecycle::check_applies(def, env, release.action()) {
            return Ok(Err(why));
        }
        match &release.request {
            Request::Close | Request::Destroy => self.close(release, message_id, out).await,
            Request::Extend(_) | Request::Keep { .. } => {
                self.move_expiry(release, def, message_id, out).await
            }
            Request::Deploy { .. } => unreachable!("deploy is handled by release intake"),
        }
    }

    /// The run building the environment now, if any.
    async fn building(&self, release: &Release) -> Result<Option<Run>, AppError> {
        Ok(self.repo.active_runs().await?.into_iter().find(|r| {
            r.product == release.product
                && r.environment == release.environment
                && r.status == RunStatus::Running
        }))
    }

    async fn close(
        &self,
        release: &Release,
        message_id: &str,
        out: &mut Outputs,
    ) -> Result<Result<Applied, Rejection>, AppError> {
        let (product, env) = (release.product.as_str(), release.environment.as_str());
        let reason = destroyed_reason(release.action(), &release.requested_by);
        if let Some(run) = self.building(release).await? {
            let pending = PendingTeardown {
                message_id: message_id.to_string(),
                reason: reason.clone(),
                requested_by: release.requested_by.clone(),
                requested_at: self.now(),
            };
            self.repo
                .update_environment(product, env, |prev| {
                    // No record yet (its first write was lost): the building run's own, so the request is kept.
                    let mut r = prev.unwrap_or_else(|| record_from_run(None, &run));
                    r.pending_teardown.get_or_insert(pending.clone());
                    Some(r)
                })
                .await?;
            // The run may have finished between the look and the write, and its end missed the request: then the
            // teardown is ours to do now.
            let finished = self
                .repo
                .run(&run.id)
                .await?
                .is_none_or(|r| r.status.is_finished());
            if !finished {
                out.log(format!(
                    "{product}/{env} is building (run {}): torn down when that run finishes",
                    run.id
                ));
                return Ok(Ok(Applied {
                    note: Some(format!(
                        "run {} is building the environment: it is torn down as soon as that run finishes",
                        run.id
                    )),
                    ..Applied::default()
                }));
            }
        }
        let before = self.repo.environment(product, env).await?;
        let groups = self.environment_groups(product, env).await?;
        if groups.is_empty() && before.as_ref().is_none_or(|r| r.status == "destroyed") {
            // Nothing there (never built, or swept): a close from a pipeline is not an error, and the reason a
            // destroyed environment went is kept.
            return Ok(Ok(Applied {
                note: Some(match before {
                    Some(r) => format!(
                        "already destroyed ({})",
                        r.destroyed_reason.unwrap_or_default()
                    ),
                    None => format!("nothing to destroy: {product}/{env} was never built"),
                }),
                ..Applied::default()
            }));
        }
        // Layers owning resources outside the groups (DNS records) are destroyed first, by a teardown run; the
        // groups go when it succeeds (after_finish), or on a later sweep pass if that is cut short.
        let note = match self
            .teardown(product, env, &reason, &release.requested_by, out)
            .await?
        {
            Torn::Done(n) => {
                out.log(format!(
                    "{product}/{env} destroyed ({reason}): {n} resource group(s)"
                ));
                format!("{n} resource group(s) deleted")
            }
            Torn::Waiting(note) | Torn::Failed(note) => {
                out.log(format!("{product}/{env}: {note}"));
                note
            }
        };
        Ok(Ok(Applied {
            note: Some(note),
            ..Applied::default()
        }))
    }

    /// Extend and keep: the new expiry in the record (decided against the record as stored, under a conditional
    /// write), then on every resource group's tag.
    async fn move_expiry(
        &self,
        release: &Release,
        def: &EnvironmentDef,
        message_id: &str,
        out: &mut Outputs,
    ) -> Result<Result<Applied, Rejection>, AppError> {
        let (product, env) = (release.product.as_str(), release.environment.as_str());
        let now = self.now();
        let mut verdict: Result<(), Rejection> = Ok(());
        let rec = self
            .repo
            .update_environment(product, env, |prev| {
                verdict = Ok(());
                let Some(mut rec) = prev.filter(|r| r.is_live()) else {
                    verdict = Err(Rejection::new(format!(
                        "{product}/{env} has no live environment (never built, or destroyed): release it first"
                    )));
                    return None;
                };
                if rec.expiry_set_by.as_deref() == Some(message_id) {
                    return None; // a redelivery: moved already
                }
                let current = rec.expires_at.unwrap_or(now);
                let moved = match &release.request {
                    Request::Extend(by) => lifecycle::extend(def, env, current, *by, now).map(|t| {
                        rec.expires_at = Some(t);
                        rec.expiry_reason = Some("extended".into());
                    }),
                    Request::Keep { for_, reason } => {
                        lifecycle::keep(def, env, current, *for_, now).map(|(t, until)| {
                            rec.expires_at = Some(t);
                            rec.kept_until = Some(until);
                            rec.keep_reason = Some(format!("{reason} (kept by {})", release.requested_by));
                            // The latest word on the expiry is the keep, even when an earlier extension
                            // reaches further.
                            rec.expiry_reason = Some("kept".into());
                        })
                    }
                    _ => Ok(()),
                };
                match moved {
                    Ok(()) => {
                        rec.expiry_set_by = Some(message_id.to_string());
                        Some(rec)
                    }
                    Err(why) => {
                        verdict = Err(why);
                        None
                    }
                }
            })
            .await?;
        if let Err(why) = verdict {
            return Ok(Err(why));
        }
        let Some(expires_at) = rec.and_then(|r| r.expires_at) else {
            return Ok(Err(Rejection::new(format!(
                "{product}/{env} has no expiry to move"
            ))));
        };
        let tagged = self.retag_expiry(product, env, expires_at).await?;
        out.log(format!(
            "{product}/{env} now expires at {} ({} by {}; {tagged} resource group(s) tagged)",
            expires_at.to_rfc3339(),
            if release.action() == ReleaseAction::Keep {
                "kept"
            } else {
                "extended"
            },
            release.requested_by
        ));
        Ok(Ok(Applied {
            expires_at: Some(expires_at),
            ..Applied::default()
        }))
    }
}
