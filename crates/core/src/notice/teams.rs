//! Microsoft Teams: an Adaptive Card 1.5 in the Workflows webhook envelope (Office 365 connectors are retired and
//! Workflows webhooks take cards only, not `{"text"}`): a coloured title, the text, a FactSet, the redacted log
//! tail in monospace, and `Action.OpenUrl` buttons. The card is checked with the Adaptive Cards library's own
//! parser by `tools/adaptivecards-check` (see docs/notifications.md).

use super::{facts, links, title, tone, Tone};
use crate::engine::Notification;
use serde_json::{json, Value};

fn colour(n: &Notification) -> &'static str {
    match tone(&n.kind) {
        Tone::Good => "Good",
        Tone::Attention => "Attention",
        Tone::Warning => "Warning",
        Tone::Neutral => "Accent",
    }
}

pub(super) fn render(n: &Notification) -> Value {
    let d = &n.details;
    let mut body = vec![
        json!({"type": "TextBlock", "text": title(n), "weight": "Bolder", "size": "Medium", "color": colour(n), "wrap": true}),
        json!({"type": "TextBlock", "text": n.text, "wrap": true}),
        json!({"type": "FactSet", "facts": facts(n).into_iter().map(|(k, v)| json!({"title": k, "value": v})).collect::<Vec<_>>()}),
    ];
    if let Some(r) = &d.reason {
        body.push(json!({"type": "TextBlock", "text": format!("**Why:** {r}"), "wrap": true}));
    }
    if !d.log_tail.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "Last log lines", "weight": "Bolder", "wrap": true}));
        body.push(json!({"type": "TextBlock", "text": d.log_tail.join("\n"), "fontType": "Monospace", "size": "Small", "wrap": true}));
    }
    if let Some(next) = &d.next {
        body.push(json!({"type": "TextBlock", "text": format!("**Next:** {next}"), "wrap": true}));
    }
    body.push(json!({"type": "TextBlock", "text": format!("run {}", n.run), "isSubtle": true, "size": "Small", "wrap": true}));
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "msteams": {"width": "Full"},
        "body": body,
    });
    let actions: Vec<Value> = links(n)
        .into_iter()
        .map(|l| json!({"type": "Action.OpenUrl", "title": l.label, "url": l.url}))
        .collect();
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }]
    })
}
