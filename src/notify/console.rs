//! The console notifier: each message printed to standard error as Slack would show it (the
//! same Block Kit the Slack notifier sends, its mrkdwn made readable), for trying routes
//! locally and for the demo. Printing cannot fail, so delivery always succeeds.

use super::http::Delivery;
use serde_json::Value;
use std::io::Write;

pub fn deliver(notifier: &str, event: &str, body: &Value) -> Delivery {
    let text = render(notifier, event, body);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
    Delivery::Delivered
}

/// The message as a framed block of text: a rule naming the notifier and event, then each
/// block's text (header, sections, context) on its own lines.
pub fn render(notifier: &str, event: &str, body: &Value) -> String {
    let mut lines: Vec<String> = Vec::new();
    let blocks = body["blocks"].as_array().cloned().unwrap_or_default();
    for b in &blocks {
        match b["type"].as_str() {
            Some("header" | "section") => {
                if let Some(t) = b["text"]["text"].as_str() {
                    lines.extend(readable(t).lines().map(str::to_string));
                }
            }
            Some("context") => {
                let parts: Vec<String> = b["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["text"].as_str())
                    .map(readable)
                    .collect();
                if !parts.is_empty() {
                    lines.push(parts.join(" · "));
                }
            }
            _ => {}
        }
    }
    if lines.is_empty() {
        lines.push(readable(body["text"].as_str().unwrap_or("")));
    }
    let title = format!("── {notifier} · {event} ");
    let mut out = format!(
        "{title}{}\n",
        "─".repeat(60usize.saturating_sub(title.chars().count()))
    );
    for l in lines {
        out.push_str(&format!("│ {l}\n"));
    }
    out
}

/// Slack mrkdwn as a person reads it: `<@U123>` → `@U123`, `<url|text>` → `text (url)`,
/// entities decoded, emoji codes for the common icons.
fn readable(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let inner = &rest[open + 1..open + close];
        match inner.split_once('|') {
            _ if inner.starts_with('@') || inner.starts_with('!') => {
                out.push('@');
                out.push_str(inner.trim_start_matches(['@', '!']));
            }
            Some((url, text)) => out.push_str(&format!("{text} ({url})")),
            None => out.push_str(inner),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.replace(":rotating_light:", "🚨")
        .replace(":white_check_mark:", "✅")
        .replace(":warning:", "⚠️")
        .replace(":eyes:", "👀")
        .replace(":information_source:", "ℹ️")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_blocks_as_a_person_reads_them() {
        let body = json!({
            "text": "fallback",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": ":rotating_light: van_sync"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "Prog Lead: <@U0ANA> (ana)\n*data is 3h old &gt; 1h*"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "source `demo`"}, {"type": "mrkdwn", "text": "<https://r.example/x|runbook>"}]},
            ]
        });
        assert_eq!(
            render("console", "page", &body),
            format!(
                "── console · page {}\n\
                 │ 🚨 van_sync\n\
                 │ Prog Lead: @U0ANA (ana)\n\
                 │ *data is 3h old > 1h*\n\
                 │ source `demo` · runbook (https://r.example/x)\n",
                "─".repeat(42)
            )
        );
        assert_eq!(
            render(
                "c",
                "ack",
                &json!({"text": "Acknowledged by <@U1> &amp; co"})
            ),
            format!(
                "── c · ack {}\n│ Acknowledged by @U1 & co\n",
                "─".repeat(49)
            )
        );
    }
}
