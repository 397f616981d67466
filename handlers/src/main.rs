//! The custom handler the Functions host starts (host.json `defaultExecutablePath`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    nightshift_handlers::logging::init();
    nightshift_handlers::run_from_env().await
}
