//! The lifecycle verbs: `release`, `close`, `destroy`, `extend`, `keep`. Each builds one `nightshift.release/v1`
//! message (docs/messages.md) and sends it on the `releases` queue: locally onto the on-disk queue, on Azure to
//! Service Bus, through the same `Bus` port the handler uses. The handler, the only writer, applies it and
//! journals the outcome at `actions/<sha256 of the MessageId>.json`.
//!
//! `--wait` follows that outcome (locally it needs a host: it joins a running `nightshift serve` or starts one, as
//! `up` does) and exits 0 only when the environment reached the state asked for: a deploy's run succeeded, a
//! close or destroy left the environment `destroyed`, an extend or keep was applied. A rejection prints its reason
//! and exits 1.

mod message;
mod wait;

pub use message::{action_key, default_identity, message, new_message_id, Action};

use crate::cli::{Global, SendArgs};
use crate::session::Session;
use message::valid_message_id;
use nightshift_app::{App, Mode, Need, Settings};
use nightshift_core::messages::RELEASES_QUEUE;
use nightshift_core::ports::OutboundMessage;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wait::wait;

pub async fn run(
    g: &Global,
    action: Action,
    product: &str,
    environment: &str,
    send: &SendArgs,
) -> anyhow::Result<i32> {
    let requested_by = send.requested_by.clone().unwrap_or_else(default_identity);
    let body = match message(&action, product, environment, &requested_by) {
        Ok(b) => b,
        Err(why) => {
            errln!("error: {why}");
            return Ok(2);
        }
    };
    let message_id = match send.message_id.as_deref().map(valid_message_id).transpose() {
        Ok(id) => id.unwrap_or_else(new_message_id),
        Err(why) => {
            errln!("error: {why}");
            return Ok(2);
        }
    };
    // Sending needs the bus (on Azure: Service Bus, its send key in Key Vault); following the outcome reads the
    // journal in the store. Nothing about jobs or ARM.
    let needs: &[Need] = if send.wait {
        &[Need::Bus, Need::Store]
    } else {
        &[Need::Bus]
    };
    let mut settings: Settings = super::settings_for(g, needs)?;
    if settings.mode == Mode::Local && std::env::var_os("NIGHTSHIFT_RUNNER").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            settings.runner_command = vec![exe.display().to_string(), "runner".into()];
        }
    }
    let ports = nightshift_app::wiring::ports(&settings).await?;
    let text = body.to_string();
    if let Err(e) = ports
        .bus
        .send(OutboundMessage {
            queue: RELEASES_QUEUE.into(),
            body: text.clone(),
            message_id: message_id.clone(),
            correlation_id: None,
            scheduled_at: None,
        })
        .await
    {
        errln!(
            "error: sending the {} message to the {RELEASES_QUEUE} queue: {e}",
            action.name()
        );
        return Ok(1);
    }
    let say = |m: &str| {
        if send.json {
            errln!("{m}");
        } else {
            outln!("{m}");
        }
    };
    say(&format!(
        "Sent {} {product}/{environment} as message {message_id} (requested by {}).",
        action.name(),
        body["requested_by"].as_str().unwrap_or_default()
    ));
    if !send.wait {
        if send.json {
            crate::output::print_json(&json!({
                "message_id": message_id, "action": action.name(), "product": product,
                "environment": environment, "message": body, "outcome": Value::Null,
            }));
        } else {
            outln!(
                "Follow it with `nightshift environments` and `nightshift status`, or wait for it:"
            );
            outln!(
                "  nightshift {} ... --wait --message-id {message_id}   (the same id is the same action: nothing is done twice)",
                action.name().replace("deploy", "release")
            );
        }
        return Ok(0);
    }

    let app_for_azure;
    let session = match settings.mode {
        Mode::Local => Some(Session::join_or_start(settings.clone(), send.port, &say).await?),
        Mode::Azure => None,
    };
    let app: &App = match &session {
        Some(s) => s.app(),
        None => {
            app_for_azure = App::new(ports, settings.clone());
            &app_for_azure
        }
    };
    let deadline = Instant::now() + Duration::from_secs(send.timeout);
    let outcome = wait(
        app,
        &action,
        product,
        environment,
        &message_id,
        deadline,
        &say,
    )
    .await;
    let code = match &outcome {
        Ok(o) => {
            say(&o.summary);
            if send.json {
                crate::output::print_json(&json!({
                    "message_id": message_id, "action": action.name(), "product": product,
                    "environment": environment, "outcome": o.outcome, "reason": o.reason,
                    "run_id": o.run_id, "expires_at": o.expires_at, "reached": o.reached,
                }));
            }
            if o.reached {
                0
            } else {
                1
            }
        }
        Err(why) => {
            errln!("error: {why}");
            1
        }
    };
    if let Some(s) = session {
        if matches!(s, Session::Own(_)) {
            drain(s.app(), deadline, &say).await;
        }
        s.shutdown().await;
    }
    Ok(code)
}

/// A host started here is stopped only once no run is in flight and no release is queued.
async fn drain(app: &App, deadline: Instant, say: &dyn Fn(&str)) {
    let mut told = false;
    while Instant::now() < deadline {
        let active = app.repo.active_runs().await.map(|r| r.len()).unwrap_or(0);
        if active == 0 {
            return;
        }
        if !told {
            say(&format!(
                "Waiting for {active} other run(s) in flight before stopping the local host"
            ));
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
