//! What comes back from people where they already are: PagerDuty webhooks (v3) and Slack
//! (buttons on pages, the `/syncwatch` slash command). Every request is verified against the
//! vendor's signature before anything is read from it; `web::hooks` serves the paths.

pub mod pagerduty;
pub mod slack;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// `inbound:` in the settings. Without a vendor's secrets its `/hooks/…` paths answer 404.
#[derive(Debug, Clone, Default)]
pub struct InboundRules {
    /// PagerDuty webhook subscription secrets (several while one rotates).
    pub pagerduty: Vec<SecretString>,
    pub slack: Option<SlackInbound>,
}

#[derive(Debug, Clone)]
pub struct SlackInbound {
    pub signing_secret: SecretString,
    /// The Slack bot notifier whose token opens the "Resolve…" dialog; pages sent by Slack bot
    /// notifiers carry buttons.
    pub bot: Option<String>,
}

/// How far a Slack request's timestamp may be from now (Slack's replay window).
pub const SLACK_MAX_SKEW_SECONDS: i64 = 300;

/// Hex text to bytes; `None` for anything else.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `hex` is the HMAC-SHA256 of `parts` under `key` (compared in constant time).
fn signed(key: &SecretString, parts: &[&[u8]], hex: &str) -> bool {
    let Some(given) = unhex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes()) else {
        return false;
    };
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(&given).is_ok()
}

/// PagerDuty: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`, accepted when any signature
/// matches any configured secret.
pub fn pagerduty_signed(secrets: &[SecretString], header: Option<&str>, body: &[u8]) -> bool {
    let Some(header) = header else {
        return false;
    };
    header
        .split(',')
        .filter_map(|s| s.trim().strip_prefix("v1="))
        .any(|sig| secrets.iter().any(|k| signed(k, &[body], sig)))
}

/// Why a Slack request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackRefusal {
    Unsigned,
    Stale,
    BadSignature,
}

/// Slack: `X-Slack-Signature: v0=<hex>` over `v0:{timestamp}:{body}`, with the timestamp
/// within five minutes of now.
pub fn slack_signed(
    secret: &SecretString,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SlackRefusal> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(SlackRefusal::Unsigned);
    };
    let Ok(at) = ts.trim().parse::<i64>() else {
        return Err(SlackRefusal::Unsigned);
    };
    if (now.timestamp().saturating_sub(at)).abs() > SLACK_MAX_SKEW_SECONDS {
        return Err(SlackRefusal::Stale);
    }
    let Some(hex) = sig.trim().strip_prefix("v0=") else {
        return Err(SlackRefusal::BadSignature);
    };
    let base = format!("v0:{}:", ts.trim());
    if signed(secret, &[base.as_bytes(), body], hex) {
        Ok(())
    } else {
        Err(SlackRefusal::BadSignature)
    }
}

/// HMAC-SHA256 as lowercase hex (what the contract servers in the tests sign with).
pub fn hmac_hex(key: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test cases 1 and 2.
        let key1 = "\x0b".repeat(20);
        assert_eq!(
            hmac_hex(&key1, &[b"Hi There"]),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hmac_hex("Jefe", &[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn pagerduty_signatures_match_any_secret_and_any_listed_signature() {
        let body = br#"{"event":{"id":"01"}}"#;
        let good = hmac_hex("new-secret", &[body]);
        let other = hmac_hex("someone-else", &[body]);
        let secrets = [key("old-secret"), key("new-secret")];
        assert!(pagerduty_signed(
            &secrets,
            Some(&format!("v1={good}")),
            body
        ));
        assert!(pagerduty_signed(
            &secrets,
            Some(&format!("v1={other},v1={good}")),
            body
        ));
        assert!(!pagerduty_signed(
            &secrets,
            Some(&format!("v1={other}")),
            body
        ));
        assert!(!pagerduty_signed(
            &secrets,
            Some(&format!("v0={good}")),
            body
        ));
        assert!(!pagerduty_signed(&secrets, None, body));
        assert!(!pagerduty_signed(&secrets, Some("v1=zz"), body));
        let changed = br#"{"event":{"id":"02"}}"#;
        assert!(!pagerduty_signed(
            &secrets,
            Some(&format!("v1={good}")),
            changed
        ));
        assert!(!pagerduty_signed(&[], Some(&format!("v1={good}")), body));
    }

    #[test]
    fn slack_signatures_cover_timestamp_and_body_and_refuse_replays() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let secret = key("8f742231b10e8888abcd99yyyzzz85a5");
        let body = b"token=x&command=/syncwatch&text=status";
        let ts = now.timestamp().to_string();
        let sig = format!(
            "v0={}",
            hmac_hex(
                "8f742231b10e8888abcd99yyyzzz85a5",
                &[format!("v0:{ts}:").as_bytes(), body]
            )
        );
        assert_eq!(
            slack_signed(&secret, Some(&ts), Some(&sig), body, now),
            Ok(())
        );
        let later = now + chrono::Duration::seconds(SLACK_MAX_SKEW_SECONDS + 1);
        assert_eq!(
            slack_signed(&secret, Some(&ts), Some(&sig), body, later),
            Err(SlackRefusal::Stale)
        );
        let other_ts = (now.timestamp() - 1).to_string();
        assert_eq!(
            slack_signed(&secret, Some(&other_ts), Some(&sig), body, now),
            Err(SlackRefusal::BadSignature)
        );
        assert_eq!(
            slack_signed(&secret, Some(&ts), Some(&sig), b"text=ack", now),
            Err(SlackRefusal::BadSignature)
        );
        assert_eq!(
            slack_signed(&secret, None, Some(&sig), body, now),
            Err(SlackRefusal::Unsigned)
        );
        assert_eq!(
            slack_signed(&secret, Some("-9223372036854775808"), Some(&sig), body, now),
            Err(SlackRefusal::Stale)
        );
    }
}
