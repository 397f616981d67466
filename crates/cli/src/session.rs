//! A local host to work with: the one a `nightshift serve` (or another `up`) runs on this state directory, joined
//! through its `serve.json`, or one started here and stopped when the caller is done. `up` and `--wait` use it.

use crate::local_stack::{LocalStack, StackOptions};
use crate::serve_lock::{self, ServeInfo};
use anyhow::Context;
use nightshift_app::{App, Settings};

pub enum Session {
    /// Started here: stop it with [`Session::shutdown`].
    Own(Box<LocalStack>),
    /// Another process's host; `app` reads the same store.
    Joined { info: ServeInfo, app: Box<App> },
}

/// `port` if it is free on 127.0.0.1, else 0 (any free port): a second state directory's host must not fail
/// because the first one has 7071.
fn usable_port(port: u16) -> u16 {
    if port == 0 || std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
        port
    } else {
        0
    }
}

impl Session {
    pub async fn join_or_start(
        settings: Settings,
        port: u16,
        say: &dyn Fn(&str),
    ) -> anyhow::Result<Self> {
        if let Some(info) = serve_lock::running(&settings.state_dir) {
            say(&format!(
                "Joining the local host already running on {} (pid {}{})",
                settings.state_dir.display(),
                info.pid,
                info.port
                    .map(|p| format!(", http://127.0.0.1:{p}/api/status"))
                    .unwrap_or_default()
            ));
            let app = App::new(nightshift_app::wiring::local(&settings), settings);
            return Ok(Self::Joined {
                info,
                app: Box::new(app),
            });
        }
        say(&format!(
            "Starting the local Functions host and the custom handler (state in {})",
            settings.state_dir.display()
        ));
        let opts = StackOptions {
            http_port: Some(usable_port(port)),
            ..StackOptions::default()
        };
        let stack = LocalStack::start(settings, opts).await?;
        Ok(Self::Own(Box::new(stack)))
    }

    pub fn app(&self) -> &App {
        match self {
            Self::Own(s) => &s.app,
            Self::Joined { app, .. } => app,
        }
    }

    /// Fires a timer function now: on our host directly, on a joined one through its admin API.
    pub async fn fire(&self, function: &str) -> anyhow::Result<()> {
        match self {
            Self::Own(s) => {
                let r = s.host.invoke_timer(function).await?;
                if r.succeeded {
                    Ok(())
                } else {
                    anyhow::bail!(
                        "{}",
                        r.error.unwrap_or_else(|| format!("status {:?}", r.status))
                    )
                }
            }
            Self::Joined { info, .. } => {
                let Some(port) = info.port else {
                    anyhow::bail!(
                        "the running host (pid {}) serves no HTTP: cannot fire {function}",
                        info.pid
                    )
                };
                let url = format!("http://127.0.0.1:{port}/admin/functions/{function}");
                let resp = reqwest::Client::new()
                    .post(&url)
                    .json(&serde_json::json!({ "input": "" }))
                    .send()
                    .await
                    .with_context(|| format!("POST {url}"))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    anyhow::bail!("POST {url}: {status}: {text}")
                }
            }
        }
    }

    /// Stops our host (gracefully); a joined one keeps running.
    pub async fn shutdown(self) {
        if let Self::Own(s) = self {
            s.shutdown().await;
        }
    }
}
