//! Probes a sync service over HTTP: expected status, and optionally a timestamp in its JSON body.

use crate::check::HttpCheck;
use crate::judge;
use crate::verdict::{Observed, Outcome, Verdict};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

const MAX_BODY: usize = 1 << 20;

/// A down or wrong-status service is `fail` (the thing watched is unhealthy); a body we cannot
/// read a timestamp from is `error` (the check could not be evaluated).
pub async fn probe(
    client: &reqwest::Client,
    c: &HttpCheck,
    now: impl Fn() -> DateTime<Utc>,
) -> Outcome {
    let shown = c.url.redacted();
    let mut req = client
        .request(c.method.clone(), c.url.0.clone())
        .timeout(c.timeout);
    for (k, v) in &c.headers {
        req = req.header(k.as_str(), v.expose_secret());
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return Outcome {
                verdict: Verdict::Fail,
                observed: Observed::Nothing,
                reason: Some(format!("{} {shown}: {}", c.method, describe(&e, c.timeout))),
            }
        }
    };
    let code = resp.status().as_u16();
    if !c.expect_status.contains(&code) {
        let want: Vec<String> = c.expect_status.iter().map(u16::to_string).collect();
        return Outcome {
            verdict: Verdict::Fail,
            observed: Observed::Status { code },
            reason: Some(format!(
                "{} {shown} answered {code} (expected {})",
                c.method,
                want.join(" or ")
            )),
        };
    }
    let Some(pointer) = &c.timestamp_pointer else {
        return Outcome {
            verdict: Verdict::Pass,
            observed: Observed::Status { code },
            reason: None,
        };
    };
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_BODY => {
                body.extend_from_slice(&chunk)
            }
            Ok(Some(_)) => return Outcome::error(format!("{shown}: body is larger than 1 MiB")),
            Ok(None) => break,
            Err(e) => {
                return Outcome::error(format!(
                    "{shown}: reading the body: {}",
                    describe(&e, c.timeout)
                ))
            }
        }
    }
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return Outcome::error(format!("{shown}: body is not JSON: {e}")),
    };
    let newest = match json.pointer(pointer) {
        None => return Outcome::error(format!("{shown}: JSON has nothing at {pointer}")),
        Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => match super::value::parse_text(s, chrono_tz::Tz::UTC)
        {
            Ok(t) => Some(t),
            Err(e) => return Outcome::error(format!("{shown}: {pointer}: {e}")),
        },
        Some(serde_json::Value::Number(n)) => match n
            .as_f64()
            .and_then(|s| DateTime::from_timestamp_millis((s * 1000.0) as i64))
        {
            Some(t) => Some(t),
            None => return Outcome::error(format!("{shown}: {pointer}: {n} is not epoch seconds")),
        },
        Some(other) => {
            return Outcome::error(format!("{shown}: {pointer} is {other}, not a timestamp"))
        }
    };
    let now = now();
    let outcome = judge::age(newest, now, &c.thresholds, c.on_empty);
    match &c.expect {
        Some(e) => judge::with_expect(outcome, newest, now, e),
        None => outcome,
    }
}

/// reqwest errors print the full URL, which may hold a token: describe without it.
fn describe(e: &reqwest::Error, timeout: std::time::Duration) -> String {
    if e.is_timeout() {
        return format!(
            "no answer within timeout {}",
            crate::duration::canonical(timeout)
        );
    }
    let mut parts = Vec::new();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    let kind = if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    match parts.last() {
        Some(root) => format!("{kind}: {root}"),
        None => kind.to_string(),
    }
}
