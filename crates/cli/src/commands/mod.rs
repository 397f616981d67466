//! One module per command.

pub mod bundle;
pub mod doctor;
pub mod dossier;
pub mod environments;
pub mod lifecycle;
pub mod logs;
pub mod package;
pub mod plan;
pub mod serve;
pub mod status;
pub mod sweep;
pub mod up;
pub mod validate;

use crate::cli::{Cli, Command, Global};
use anyhow::Context;
use lifecycle::Action;
use nightshift_app::{App, Settings};

pub async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    // Domain-event lines are for the Functions host's log pipeline, not for a person at a terminal.
    nightshift_app::telemetry::set_enabled(matches!(
        cli.command,
        Command::Runner | Command::Handler
    ));
    match cli.command {
        Command::Up(a) => up::run(&cli.global, a).await,
        Command::Serve(a) => serve::run(&cli.global, a).await,
        Command::Release(a) => {
            let action = Action::Deploy {
                version: a.version,
                ttl: a.ttl,
            };
            lifecycle::run(&cli.global, action, &a.product, &a.environment, &a.send).await
        }
        Command::Close(a) => {
            lifecycle::run(
                &cli.global,
                Action::Close,
                &a.product,
                &a.environment,
                &a.send,
            )
            .await
        }
        Command::Destroy(a) => {
            lifecycle::run(
                &cli.global,
                Action::Destroy,
                &a.product,
                &a.environment,
                &a.send,
            )
            .await
        }
        Command::Extend(a) => {
            let action = Action::Extend {
                by: a.by,
                until: a.until,
            };
            lifecycle::run(&cli.global, action, &a.product, &a.environment, &a.send).await
        }
        Command::Keep(a) => {
            let action = Action::Keep {
                for_: a.for_,
                reason: a.reason,
            };
            lifecycle::run(&cli.global, action, &a.product, &a.environment, &a.send).await
        }
        Command::Environments(a) => environments::run(&cli.global, a).await,
        Command::Logs(a) => logs::run(&cli.global, a).await,
        Command::Bundle(a) => bundle::run(&cli.global, a).await,
        Command::Status(a) => status::run(&cli.global, a).await,
        Command::Sweep(a) => sweep::run(&cli.global, a).await,
        Command::Plan(a) => plan::run(&cli.global, a).await,
        Command::Validate => validate::run(&cli.global).await,
        Command::Doctor(a) => doctor::run(&cli.global, a).await,
        Command::Package(a) => package::run(&cli.global, a).await,
        Command::Dossier(a) => dossier::run(&cli.global, a).await,
        Command::Runner => runner().await,
        Command::Handler => handler().await,
    }
}

/// Settings from the environment, with the command line's paths on top, made absolute.
pub fn settings(g: &Global) -> anyhow::Result<Settings> {
    settings_for(g, nightshift_app::Need::ALL)
}

/// As [`settings`], requiring in Azure mode only the Azure settings of what the command uses.
pub fn settings_for(g: &Global, needs: &[nightshift_app::Need]) -> anyhow::Result<Settings> {
    let mut s = Settings::from_env_for(needs)?;
    s.state_dir = g.state_dir.clone();
    s.catalog_dir = g.catalog.clone();
    Ok(s.absolutize())
}

pub async fn app(settings: Settings) -> anyhow::Result<App> {
    let ports = nightshift_app::wiring::ports(&settings)
        .await
        .context("cannot set up nightshift's adapters")?;
    Ok(App::new(ports, settings))
}

/// A job: settings come only from the environment the job runner gave it.
async fn runner() -> anyhow::Result<i32> {
    let assignment = nightshift_app::runner::Assignment::from_env().map_err(anyhow::Error::msg)?;
    let settings = Settings::from_env()?.absolutize();
    let app = app(settings).await?;
    Ok(nightshift_app::runner::run(&app, &assignment).await)
}

async fn handler() -> anyhow::Result<i32> {
    nightshift_handlers::run_from_env().await?;
    Ok(0)
}
