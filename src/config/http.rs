//! Decodes the body of an `http` check: URL, method, headers, expected status, optional body timestamp.

use super::kinds::{age_thresholds, on_empty};
use super::node::{MapNode, Node};
use crate::check::{AgeThresholds, HttpCheck};
use std::time::Duration;

pub fn decode(
    node: &Node<'_>,
    calendars: &super::expect::Calendars,
    tz: Option<chrono_tz::Tz>,
) -> Option<HttpCheck> {
    let m = node.map()?;
    let url = m.req("url").and_then(|n| super::respond::http_url(&n));
    let method = super::respond::method(
        &m,
        reqwest::Method::GET,
        &["GET", "HEAD", "POST"],
        " for a health check",
    );
    let headers = super::respond::optional_headers(&m);
    let expect_status = expect_status(&m);
    let timeout = m
        .get("timeout")
        .map(|n| n.duration())
        .unwrap_or(Some(Duration::from_secs(10)));
    let pointer = m.str("timestamp_pointer").filter(|p| {
        let ok = p.starts_with('/');
        if !ok {
            if let Some(n) = m.get("timestamp_pointer") {
                n.error(
                    format!("\"{p}\" is not a JSON pointer"),
                    Some("JSON pointers start with /, e.g. /last_success_at".into()),
                );
            }
        }
        ok
    });
    let has_pointer = m.has("timestamp_pointer");
    let expect = super::expect::decode(&m, calendars, tz);
    let thresholds = if has_pointer {
        age_thresholds(&m, expect.is_none())
    } else {
        for k in ["warn_after", "error_after", "future_tolerance", "expect"] {
            if let Some(n) = m.get(k) {
                n.error(
                    format!("{k} needs timestamp_pointer"),
                    Some("point at a timestamp in the JSON body, e.g. /last_success_at".into()),
                );
            }
        }
        Some(AgeThresholds {
            warn_after: None,
            error_after: None,
            future_tolerance: crate::check::FUTURE_TOLERANCE,
        })
    };
    let on_empty = on_empty(&m);
    m.finish();
    Some(HttpCheck {
        url: url?,
        method: method?,
        headers: headers?,
        expect_status: expect_status?,
        timeout: timeout?,
        timestamp_pointer: if has_pointer { Some(pointer?) } else { None },
        thresholds: thresholds?,
        on_empty: on_empty?,
        expect: if has_pointer {
            match expect {
                None => None,
                Some(e) => Some(Box::new(e?)),
            }
        } else {
            None
        },
    })
}

fn expect_status(m: &MapNode<'_>) -> Option<Vec<u16>> {
    let Some(n) = m.get("expect_status") else {
        return Some(vec![200]);
    };
    let items = match n.value {
        yaml_serde::Value::Sequence(_) => n.seq()?,
        _ => vec![n.clone()],
    };
    let mut out = Vec::new();
    for item in items {
        match item.number() {
            Some(c) if (100.0..600.0).contains(&c) && c.fract() == 0.0 => out.push(c as u16),
            Some(c) => item.error(
                format!("{c} is not an HTTP status"),
                Some("use 100–599, e.g. 200".into()),
            ),
            None => {}
        }
    }
    (!out.is_empty()).then_some(out)
}
