//! HTTP checks against a local service: status, timeouts, a timestamp in the JSON body, and
//! secrets in the URL or headers never showing in reasons.

mod common;

use common::http_server::{self, ok, Answer};
use common::{run_all, Fixture};
use std::time::Duration;
use syncwatch::verdict::{Observed, Verdict};

#[tokio::test]
async fn status_timeouts_and_body_timestamps() {
    let now = chrono::Utc::now();
    let fresh = (now - chrono::Duration::minutes(5)).to_rfc3339();
    let stale = (now - chrono::Duration::hours(3)).timestamp();
    let server = http_server::start(vec![
        ("/healthz", ok("{}")),
        (
            "/down",
            Answer {
                status: 503,
                body: "{}".into(),
                delay: Duration::ZERO,
            },
        ),
        (
            "/slow",
            Answer {
                status: 200,
                body: "{}".into(),
                delay: Duration::from_secs(5),
            },
        ),
        (
            "/status/fresh",
            ok(&format!(
                "{{\"sync\": {{\"last_success_at\": \"{fresh}\"}}}}"
            )),
        ),
        (
            "/status/stale",
            ok(&format!("{{\"sync\": {{\"last_success_at\": {stale}}}}}")),
        ),
        ("/status/garbled", ok("<html>oops</html>")),
    ])
    .await;
    let b = &server.base;
    let checks = format!(
        "checks:\n\
         \x20 - name: healthy\n    http: {{ url: \"{b}/healthz?token=${{SW_TEST_TOKEN:-tok-secret}}\", headers: {{ Authorization: \"Bearer hdr-secret\" }} }}\n\
         \x20 - name: down\n    http: {{ url: \"{b}/down?token=tok-secret\", headers: {{ Authorization: \"Bearer hdr-secret-down\" }} }}\n\
         \x20 - name: slow\n    http: {{ url: \"{b}/slow?api_key=key-secret\", timeout: 1s, headers: {{ X-Api-Key: \"hdr-secret-slow\" }} }}\n\
         \x20 - name: refused\n    http: {{ url: \"http://user:pw-secret@127.0.0.1:1/healthz?token=tok-secret\", headers: {{ Authorization: \"Bearer hdr-secret-refused\" }} }}\n\
         \x20 - name: fresh\n    http: {{ url: \"{b}/status/fresh\", timestamp_pointer: /sync/last_success_at, warn_after: 1h, error_after: 6h }}\n\
         \x20 - name: stale\n    http: {{ url: \"{b}/status/stale\", timestamp_pointer: /sync/last_success_at, warn_after: 1h, error_after: 6h }}\n\
         \x20 - name: garbled\n    http: {{ url: \"{b}/status/garbled\", timestamp_pointer: /sync/last_success_at, error_after: 6h }}\n\
         \x20 - name: wrong_pointer\n    http: {{ url: \"{b}/status/fresh\", timestamp_pointer: /nope, error_after: 6h }}\n"
    );
    let f = Fixture::new("http_concurrency: 4\n", &[("http.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    let expect = [
        ("healthy", Verdict::Pass),
        ("down", Verdict::Fail),
        ("slow", Verdict::Fail),
        ("refused", Verdict::Fail),
        ("fresh", Verdict::Pass),
        ("stale", Verdict::Warn),
        ("garbled", Verdict::Error),
        ("wrong_pointer", Verdict::Error),
    ];
    for (name, verdict) in expect {
        assert_eq!(got[name].verdict, verdict, "{name}: {:?}", got[name]);
        let reason = got[name].reason.clone().unwrap_or_default();
        assert!(
            !reason.contains("secret"),
            "{name} leaks a secret: {reason}"
        );
    }
    assert_eq!(got["down"].observed, Observed::Status { code: 503 });
    assert!(got["down"]
        .reason
        .as_deref()
        .unwrap()
        .ends_with("/down answered 503 (expected 200)"));
    assert_eq!(
        got["slow"].reason.as_deref().unwrap(),
        format!("GET {b}/slow: no answer within timeout 1s")
    );
    assert!(got["refused"]
        .reason
        .as_deref()
        .unwrap()
        .contains("cannot connect"));
    assert!(got["wrong_pointer"]
        .reason
        .as_deref()
        .unwrap()
        .ends_with("JSON has nothing at /nope"));
    let seen = server.seen.lock().unwrap();
    let health = seen
        .iter()
        .find(|s| s.path == "/healthz")
        .expect("healthz was called");
    assert_eq!(health.method, "GET");
    assert_eq!(
        health.headers.get("authorization").map(String::as_str),
        Some("Bearer hdr-secret")
    );
    // The failing checks did send their secrets, so their reasons had something to leak.
    let down = seen.iter().find(|s| s.path.starts_with("/down")).unwrap();
    assert_eq!(
        down.headers.get("authorization").map(String::as_str),
        Some("Bearer hdr-secret-down")
    );
    let slow = seen.iter().find(|s| s.path.starts_with("/slow")).unwrap();
    assert_eq!(
        slow.headers.get("x-api-key").map(String::as_str),
        Some("hdr-secret-slow")
    );
}

/// An HTTP health endpoint's own "last success" judged against expected loads, at chosen
/// instants (the clock passed in): Mon–Fri 06:00 New York with 2h grace.
#[tokio::test]
async fn a_sync_services_last_success_is_judged_against_its_expected_loads() {
    use chrono::TimeZone;
    let ny = |d: u32, h: u32, m: u32| {
        chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 12, d, h, m, 0)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let server = http_server::start(vec![(
        "/sync",
        ok(&format!(
            "{{\"last_success_at\": \"{}\"}}",
            ny(4, 6, 4).to_rfc3339()
        )),
    )])
    .await;
    let checks = format!(
        "checks:\n  - name: partner_api\n    http: {{ url: \"{}/sync\", timestamp_pointer: /last_success_at, \
         expect: {{ schedule: \"0 6 * * 1-5\", timezone: America/New_York, grace: 2h }} }}\n",
        server.base
    );
    let f = Fixture::new("", &[("http.yaml", &checks)]);
    let plan = f.plan();
    let at = |t| {
        let plan = plan.clone();
        async move {
            let app =
                syncwatch::app::App::build_with_clock(plan, syncwatch::clock::Clock::virtual_at(t))
                    .await
                    .unwrap();
            let r = syncwatch::pass::run(app.clone(), &syncwatch::pass::Selection::All, t)
                .await
                .unwrap();
            app.close().await;
            r.results[0].outcome.clone()
        }
    };
    // Sunday: nothing expected. Monday 09:00: the 06:00 load is missed.
    assert_eq!(at(ny(6, 12, 0)).await.verdict, Verdict::Pass);
    let missed = at(ny(7, 9, 0)).await;
    assert_eq!(missed.verdict, Verdict::Fail);
    assert_eq!(
        missed.reason.as_deref(),
        Some("the Mon 06:00 load is 3h00m late (grace 2h); newest data is from Fri 06:04")
    );
}
