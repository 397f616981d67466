//! nightshift's Azure Functions custom handler.
//!
//! The Functions host owns triggers and bindings; it POSTs each invocation to `/<FunctionName>` on the port in
//! `FUNCTIONS_CUSTOMHANDLER_PORT` and polls `GET /` at start-up. [`router`] is the whole application, callable
//! without a socket in tests; [`serve`] binds it.

pub mod error;
pub mod functions;
pub mod invocation;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use nightshift_app::App;
use std::sync::Arc;

pub type AppState = Arc<App>;

/// The largest invocation the handler reads. The host repeats a JSON message's top-level properties in
/// `Metadata` and escapes the body once more, so an envelope is two to three times its message: this leaves room to
/// read, and record as rejected with its reason, any message well past the 2 MiB message bound
/// ([`nightshift_core::messages::MAX_BODY_BYTES`]) instead of answering 413 (axum's default limit is 2 MB) and
/// leaving the host to retry it until it is dead-lettered with no record.
pub const MAX_INVOCATION_BYTES: usize = 64 * 1024 * 1024;

pub fn router(app: AppState) -> Router {
    use functions::*;
    Router::new()
        .route("/", get(|| async { "nightshift handler" }))
        .route("/nightly-scheduler", post(nightly_scheduler::handle))
        .route("/release-intake", post(release_intake::handle))
        .route("/step-dispatch", post(step_dispatch::handle))
        .route("/step-events", post(step_events::handle))
        .route("/job-watchdog", post(job_watchdog::handle))
        .route("/expiry-sweeper", post(expiry_sweeper::handle))
        .route("/status", post(status::handle))
        .route("/actions", post(actions::handle))
        .route("/notification-retry", post(notification_retry::handle))
        .layer(DefaultBodyLimit::max(MAX_INVOCATION_BYTES))
        .with_state(app)
}

/// Serves until the process is stopped.
pub async fn serve(app: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(app)).await
}

/// The port the host gave us.
pub fn port_from_env() -> anyhow::Result<u16> {
    let raw = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT").unwrap_or_else(|_| "8080".into());
    raw.parse()
        .map_err(|_| anyhow::anyhow!("FUNCTIONS_CUSTOMHANDLER_PORT={raw:?} is not a port number"))
}

/// The handler process: settings from the environment the host gave us, adapters by mode, then serve.
pub async fn run_from_env() -> anyhow::Result<()> {
    let settings = nightshift_app::Settings::from_env()?.absolutize();
    let port = port_from_env()?;
    let ports = nightshift_app::wiring::ports(&settings).await?;
    let app = Arc::new(App::new(ports, settings));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(
        port,
        mode = app.settings.mode.as_str(),
        "nightshift handler listening"
    );
    serve(app, listener).await?;
    Ok(())
}
