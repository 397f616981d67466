//! `nightshift serve`: the local Functions host and the custom handler, running until Ctrl-C (or SIGTERM). It
//! serves the timers (nightly scheduler hourly, watchdog, sweep), the queues, and HTTP: the HTTP functions (`status`,
//! `health`, `actions`) under `http://127.0.0.1:7071/api/` (the port `func start` uses; `--port` to change), and the admin API
//! `up` uses to fire the nightly timer. A dead handler is restarted with backoff. One line per run and step
//! change. Stopping is graceful: no new work is taken, invocations in flight finish and are settled, then the
//! handler stops; runs still going resume when a host runs again (their journal and queues are on disk).

use crate::cli::{Global, ServeArgs};
use crate::local_stack::{LocalStack, StackOptions};
use crate::progress::Progress;
use nightshift_app::Mode;
use nightshift_core::RunId;
use std::collections::BTreeSet;
use std::time::Duration;

pub async fn run(g: &Global, a: ServeArgs) -> anyhow::Result<i32> {
    let mut settings = super::settings(g)?;
    if settings.mode != Mode::Local {
        errln!("error: `nightshift serve` runs the embedded local default; on Azure the Functions host runs the handler. Unset NIGHTSHIFT_MODE (it is {})", settings.mode.as_str());
        return Ok(2);
    }
    if std::env::var_os("NIGHTSHIFT_RUNNER").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            settings.runner_command = vec![exe.display().to_string(), "runner".into()];
        }
    }
    if let Err(e) = nightshift_app::catalog_files::load(&settings.catalog_dir) {
        errln!("error: {e}");
        errln!("Nothing was started. The catalog format is described in docs/catalog.md.");
        return Ok(1);
    }
    if let Err(e) = nightshift_app::tools::terraform() {
        errln!("error: {e}");
        return Ok(1);
    }
    let say = |m: &str| outln!("{m}");
    if let Err(e) = nightshift_app::tools::ensure_ansible_playbook(&settings.tools_dir, &say) {
        errln!("error: {e}");
        return Ok(1);
    }
    if a.port != 0 && std::net::TcpListener::bind(("127.0.0.1", a.port)).is_err() {
        errln!(
            "error: port {} on 127.0.0.1 is taken: give another with --port (0 picks a free one)",
            a.port
        );
        return Ok(1);
    }
    let state = settings.state_dir.clone();
    let opts = StackOptions {
        http_port: Some(a.port),
        ..StackOptions::default()
    };
    let stack = match LocalStack::start(settings, opts).await {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e:#}");
            return Ok(1);
        }
    };
    let port = stack.host.http_addr().map(|a| a.port()).unwrap_or(a.port);
    outln!(
        "nightshift serve: http://127.0.0.1:{port}/api/status, state in {}. Ctrl-C stops it (runs in flight resume at the next start).",
        state.display()
    );

    let mut progress = Progress::new(true);
    let mut active: BTreeSet<RunId> = BTreeSet::new();
    if let Ok(runs) = stack.app.repo.runs().await {
        progress.seen(
            &runs
                .iter()
                .filter(|r| r.status.is_finished())
                .cloned()
                .collect::<Vec<_>>(),
        );
    }
    // Both listeners live across iterations: a signal arriving while the loop reads the journal is not lost.
    use tokio::signal::unix::{signal, SignalKind};
    let (mut sigint, mut sigterm) = (
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    );
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        // Runs in flight, and those that just left the active index (to print how they ended).
        let now_active = stack.app.repo.active_runs().await.unwrap_or_default();
        let ids: BTreeSet<RunId> = now_active.iter().map(|r| r.id.clone()).collect();
        let mut runs = now_active;
        for gone in active.difference(&ids) {
            if let Ok(Some(r)) = stack.app.repo.run(gone).await {
                runs.push(r);
            }
        }
        active = ids;
        for line in progress.changes(&runs, true) {
            outln!("{line}");
        }
    }
    outln!(
        "Stopping: {} invocation(s) in flight finish first.",
        stack.host.in_flight()
    );
    stack.shutdown().await;
    outln!("Stopped.");
    Ok(0)
}
