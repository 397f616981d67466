//! Slack Block Kit: a header, the text, a fields section, the redacted log tail, a context line and link buttons,
//! with a top-level `text` as the fallback (notifications, screen readers). Within Block Kit's documented limits,
//! which [`check_block_kit`] checks.

use super::{facts, links, title, tone, truncate, Tone};
use crate::engine::Notification;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Block Kit's documented limits: blocks in a message, characters of a section text, of a header.
pub const SLACK_MAX_BLOCKS: usize = 50;
pub const SLACK_MAX_TEXT: usize = 3000;
pub const SLACK_MAX_HEADER: usize = 150;
const MAX_FIELDS: usize = 10;
const MAX_FIELD_TEXT: usize = 2000;
const MAX_CONTEXT_ELEMENTS: usize = 10;
const MAX_ACTIONS: usize = 25;
const MAX_BUTTON_TEXT: usize = 75;
const MAX_URL: usize = 3000;

fn emoji(n: &Notification) -> &'static str {
    match tone(&n.kind) {
        Tone::Good => "✅",
        Tone::Attention => "❌",
        Tone::Warning => "⚠️",
        Tone::Neutral => "🔵",
    }
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": truncate(&text, SLACK_MAX_TEXT)})
}

pub(super) fn render(n: &Notification) -> Value {
    let d = &n.details;
    let head = format!("{} {}", emoji(n), title(n));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&head, SLACK_MAX_HEADER), "emoji": true}}),
        json!({"type": "section", "text": mrkdwn(n.text.clone())}),
    ];
    let fields: Vec<Value> = facts(n)
        .into_iter()
        .take(MAX_FIELDS)
        .map(|(k, v)| json!({"type": "mrkdwn", "text": truncate(&format!("*{k}*\n{v}"), MAX_FIELD_TEXT)}))
        .collect();
    blocks.push(json!({"type": "section", "fields": fields}));
    if let Some(r) = &d.reason {
        blocks.push(json!({"type": "section", "text": mrkdwn(format!("*Why:* {r}"))}));
    }
    if !d.log_tail.is_empty() {
        // Keep the end of the log when it is too long: the last lines say what went wrong.
        let mut tail = d.log_tail.join("\n");
        let room = SLACK_MAX_TEXT - 30; // the heading and the code fences
        if tail.chars().count() > room {
            let skip = tail.chars().count() - room;
            tail = format!("…{}", tail.chars().skip(skip + 1).collect::<String>());
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Last log lines*\n```{tail}```")}}));
    }
    let mut context = vec![format!("run `{}`", n.run)];
    if let Some(next) = &d.next {
        context.push(format!("*Next:* {next}"));
    }
    blocks.push(json!({"type": "context", "elements": context.into_iter().take(MAX_CONTEXT_ELEMENTS).map(mrkdwn).collect::<Vec<_>>()}));
    let buttons: Vec<Value> = links(n)
        .into_iter()
        .filter(|l| l.url.len() <= MAX_URL)
        .take(MAX_ACTIONS)
        .enumerate()
        .map(|(i, l)| {
            json!({"type": "button", "action_id": format!("link-{i}"),
                   "text": {"type": "plain_text", "text": truncate(&l.label, MAX_BUTTON_TEXT)}, "url": l.url})
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.truncate(SLACK_MAX_BLOCKS);
    json!({"text": truncate(&format!("{head}: {}", n.text), SLACK_MAX_TEXT), "blocks": blocks})
}

/// Checks a message payload against Block Kit's documented structure and limits, for the block types nightshift
/// uses (header, section, context, actions, divider). Returns every violation, empty when the payload is valid.
pub fn check_block_kit(payload: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut e = |m: String| errors.push(m);
    let text_len = |v: &Value| v.as_str().map(|s| s.chars().count());
    match payload.get("text").and_then(text_len) {
        Some(1..) => {}
        _ => e("top-level `text` (the fallback) is missing or empty".into()),
    }
    let Some(blocks) = payload.get("blocks").and_then(Value::as_array) else {
        e("`blocks` is not an array".into());
        return errors;
    };
    if blocks.len() > SLACK_MAX_BLOCKS {
        e(format!(
            "{} blocks: at most {SLACK_MAX_BLOCKS}",
            blocks.len()
        ));
    }
    let text_object =
        |v: &Value, at: &str, max: usize, plain_only: bool, e: &mut dyn FnMut(String)| {
            let ty = v.get("type").and_then(Value::as_str);
            match ty {
                Some("plain_text") => {}
                Some("mrkdwn") if !plain_only => {}
                other => e(format!(
                    "{at}: text object type {other:?} is not allowed here"
                )),
            }
            match v.get("text").and_then(text_len) {
                Some(n) if (1..=max).contains(&n) => {}
                Some(n) => e(format!("{at}: {n} characters, 1 to {max} allowed")),
                None => e(format!("{at}: `text` missing")),
            }
            if let Some(o) = v.as_object() {
                for k in o.keys() {
                    if !["type", "text", "emoji", "verbatim"].contains(&k.as_str()) {
                        e(format!("{at}: unknown field {k:?}"));
                    }
                }
            }
        };
    for (i, b) in blocks.iter().enumerate() {
        let at = format!("blocks[{i}]");
        let allowed: &[&str] = match b.get("type").and_then(Value::as_str) {
            Some("header") => {
                match b.get("text") {
                    Some(t) => {
                        text_object(t, &format!("{at}.text"), SLACK_MAX_HEADER, true, &mut e)
                    }
                    None => e(format!("{at}: a header needs `text`")),
                }
                &["type", "text", "block_id"]
            }
            Some("section") => {
                let text = b.get("text");
                let fields = b.get("fields").and_then(Value::as_array);
                if text.is_none() && fields.is_none() {
                    e(format!("{at}: a section needs `text` or `fields`"));
                }
                if let Some(t) = text {
                    text_object(t, &format!("{at}.text"), SLACK_MAX_TEXT, false, &mut e);
                }
                if let Some(f) = fields {
                    if f.is_empty() || f.len() > MAX_FIELDS {
                        e(format!(
                            "{at}: {} fields, 1 to {MAX_FIELDS} allowed",
                            f.len()
                        ));
                    }
                    for (j, f) in f.iter().enumerate() {
                        text_object(
                            f,
                            &format!("{at}.fields[{j}]"),
                            MAX_FIELD_TEXT,
                            false,
                            &mut e,
                        );
                    }
                }
                &["type", "text", "fields", "block_id", "accessory"]
            }
            Some("context") => {
                match b.get("elements").and_then(Value::as_array) {
                    Some(el) if !el.is_empty() && el.len() <= MAX_CONTEXT_ELEMENTS => {
                        for (j, x) in el.iter().enumerate() {
                            text_object(
                                x,
                                &format!("{at}.elements[{j}]"),
                                SLACK_MAX_TEXT,
                                false,
                                &mut e,
                            );
                        }
                    }
                    _ => e(format!(
                        "{at}: a context needs 1 to {MAX_CONTEXT_ELEMENTS} elements"
                    )),
                }
                &["type", "elements", "block_id"]
            }
            Some("actions") => {
                match b.get("elements").and_then(Value::as_array) {
                    Some(el) if !el.is_empty() && el.len() <= MAX_ACTIONS => {
                        let mut ids = BTreeSet::new();
                        for (j, x) in el.iter().enumerate() {
                            let at = format!("{at}.elements[{j}]");
                            if x.get("type").and_then(Value::as_str) != Some("button") {
                                e(format!("{at}: only buttons are used"));
                            }
                            match x.get("text") {
                                Some(t) => text_object(
                                    t,
                                    &format!("{at}.text"),
                                    MAX_BUTTON_TEXT,
                                    true,
                                    &mut e,
                                ),
                                None => e(format!("{at}: a button needs `text`")),
                            }
                            match x.get("url").and_then(Value::as_str) {
                                Some(u) if u.len() <= MAX_URL && (u.starts_with("https://") || u.starts_with("http://")) => {}
                                _ => e(format!("{at}: `url` must be an http(s) URL of at most {MAX_URL} characters")),
                            }
                            if let Some(id) = x.get("action_id").and_then(Value::as_str) {
                                if !ids.insert(id.to_string()) {
                                    e(format!("{at}: action_id {id:?} is not unique in the block"));
                                }
                            }
                        }
                    }
                    _ => e(format!("{at}: actions need 1 to {MAX_ACTIONS} elements")),
                }
                &["type", "elements", "block_id"]
            }
            Some("divider") => &["type", "block_id"],
            other => {
                e(format!(
                    "{at}: block type {other:?} is not one nightshift uses"
                ));
                &[]
            }
        };
        if let Some(o) = b.as_object() {
            for k in o.keys() {
                if !allowed.is_empty() && !allowed.contains(&k.as_str()) {
                    e(format!("{at}: unknown field {k:?}"));
                }
            }
        }
    }
    errors
}
