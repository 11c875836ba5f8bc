//! `syncwatch serve` as Prometheus and Kubernetes see it: a real Prometheus scrapes it,
//! promtool accepts its metrics, reloads keep the last good configuration, SIGTERM drains.

mod common;

use common::{eventually, get, serve, tool, Child, Fixture};
use std::process::Command;

/// A SQLite partner with one fresh and one stale table, and checks on them.
async fn fixture(extra_settings: &str) -> Fixture {
    let f = Fixture::new("", &[]);
    let db = f.path().join("partner.db");
    common::sqlite_partner(
        &db,
        "CREATE TABLE fresh (ts TEXT); INSERT INTO fresh VALUES (datetime('now', '-5 minutes'));
         CREATE TABLE stale (ts TEXT); INSERT INTO stale VALUES (datetime('now', '-2 days'));",
    )
    .await;
    std::fs::write(
        f.settings_path(),
        format!("store: {{ url: \"sqlite:state.db\" }}\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\n{extra_settings}"),
    )
    .unwrap();
    std::fs::write(f.path().join("checks/p.yaml"), checks(&["fresh", "stale"])).unwrap();
    f
}

fn checks(names: &[&str]) -> String {
    let mut s = String::from(
        "defaults: { source: p, schedule: \"*/10 * * * *\", labels: { partner: acme } }\nchecks:\n",
    );
    for n in names {
        s.push_str(&format!("  - name: {n}\n    freshness: {{ table: {n}, column: ts, warn_after: 1h, error_after: 6h }}\n"));
    }
    s
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

async fn api_checks(base: &str) -> serde_json::Value {
    serde_json::from_str(&get(&format!("{base}/api/checks")).await.1).unwrap()
}

#[tokio::test]
async fn prometheus_scrapes_a_stale_check_and_promtool_accepts_the_metrics() {
    let (Some(promtool), Some(prometheus)) = (tool("promtool"), tool("prometheus")) else {
        return;
    };
    let f = fixture("").await;
    let (_serve, base) = serve(&f.settings_path(), &[]);
    // Never-run checks run at start.
    let metrics = eventually(20, || async {
        let (_, m) = get(&format!("{base}/metrics")).await;
        m.contains("syncwatch_check_status{check=\"stale\",kind=\"freshness\",source=\"p\",verdict=\"fail\"} 1").then_some(m)
    })
    .await
    .expect("the stale check shows as fail");
    assert!(metrics.contains("syncwatch_check_error_after_seconds{check=\"stale\",kind=\"freshness\",source=\"p\"} 21600"));
    assert!(metrics.contains("syncwatch_check_info{check=\"stale\",kind=\"freshness\",partner=\"acme\",schedule=\"*/10 * * * *\",source=\"p\",timezone=\"UTC\"} 1"));
    assert!(metrics.contains("# TYPE syncwatch_check_runs_total counter"));

    common::promtool_check_metrics(&promtool, &metrics);

    // Asked for gzip (as Prometheus asks), the same text comes compressed, as one gzip member
    // built from the ready per-check families and the rest compressed at scrape time.
    let zipped = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let body = zipped.bytes().await.unwrap();
    let mut gz = flate2::read::GzDecoder::new(&body[..]);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut gz, &mut text).expect("valid gzip");
    assert!(gz.into_inner().is_empty(), "one member, nothing after it");
    let (_, plain) = get(&format!("{base}/metrics")).await;
    let lines = |t: &str| {
        let mut v: Vec<String> = t.lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(lines(&text), lines(&plain), "the same metrics either way");
    common::promtool_check_metrics(&promtool, &text);
    // A scraper refusing gzip gets the plain text.
    let refused = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .header("Accept-Encoding", "gzip;q=0, identity")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("content-encoding").is_none());

    // A real Prometheus scrapes the daemon; its query API must show the stale check.
    let target = base.trim_start_matches("http://");
    let port = common::free_port();
    let data = tempfile::tempdir().unwrap();
    let cfg = data.path().join("prometheus.yml");
    std::fs::write(&cfg, format!("global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: syncwatch\n    static_configs: [{{ targets: ['{target}'] }}]\n")).unwrap();
    let _prom = Child(
        Command::new(&prometheus)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                data.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let query = |q: &'static str| {
        let url = format!(
            "http://127.0.0.1:{port}/api/v1/query?query={}",
            url_encode(q)
        );
        async move {
            let resp = reqwest::get(&url).await.ok()?;
            let v: serde_json::Value = resp.json().await.ok()?;
            let value = v["data"]["result"][0]["value"][1]
                .as_str()?
                .parse::<f64>()
                .ok()?;
            Some(value)
        }
    };
    let status = eventually(60, || {
        query("syncwatch_check_status{check=\"stale\",verdict=\"fail\"}")
    })
    .await;
    assert_eq!(status, Some(1.0), "Prometheus sees the stale check failing");
    let age = query("syncwatch_check_data_age_seconds{check=\"stale\"}")
        .await
        .unwrap();
    assert!(age > 2.0 * 86400.0 - 60.0, "age through Prometheus: {age}");
    let over = query("syncwatch_check_data_age_seconds > on(check, source, kind) syncwatch_check_error_after_seconds").await;
    assert!(
        over.is_some(),
        "an alert rule can compare age with the exported threshold"
    );
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What a script reads from `/api/checks` for a check that ran: its definition, its latest
/// verdict and why, and its streak, as JSON.
#[tokio::test]
async fn api_checks_gives_each_checks_definition_latest_result_and_streak() {
    let f = fixture("").await;
    let (_serve, base) = serve(&f.settings_path(), &[]);
    // Never-run checks run at start.
    let v = eventually(20, || async {
        let v = api_checks(&base).await;
        let ran = v["checks"]
            .as_array()?
            .iter()
            .all(|c| c["verdict"].is_string());
        ran.then_some(v)
    })
    .await
    .expect("both checks ran at start");
    let resp = reqwest::get(format!("{base}/api/checks")).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    let stale = checks.iter().find(|c| c["name"] == "stale").unwrap();
    assert_eq!(stale["verdict"], "fail");
    assert_eq!(stale["kind"], "freshness");
    assert_eq!(stale["source"], "p");
    assert_eq!(stale["schedule"], "*/10 * * * *");
    assert_eq!(stale["timezone"], "UTC");
    assert_eq!(stale["labels"]["partner"], "acme");
    assert_eq!(stale["thresholds"], "warn >1h, fail >6h");
    assert_eq!(stale["limits"]["error_after_seconds"], 21600.0);
    assert_eq!(stale["consecutive_failures"], 1);
    assert!(stale["last_success_at"].is_null(), "{stale}");
    assert!(stale["description"].is_null());
    let reason = stale["reason"].as_str().unwrap();
    assert!(reason.contains("> error_after 6h"), "{reason}");
    assert_eq!(stale["observed"]["type"], "age");
    assert!(stale["observed"]["age_seconds"].as_f64().unwrap() > 2.0 * 86400.0 - 60.0);
    assert!(stale["last_run_at"].is_string() && stale["next_run"].is_string());
    assert!(stale["last_duration_seconds"].as_f64().unwrap() >= 0.0);
    let fresh = checks.iter().find(|c| c["name"] == "fresh").unwrap();
    assert_eq!(fresh["verdict"], "pass");
    assert!(fresh["reason"].is_null());
    assert_eq!(fresh["consecutive_failures"], 0);
    assert!(fresh["last_success_at"].is_string());
}

#[tokio::test]
async fn a_bad_reload_keeps_the_last_good_configuration_and_a_good_one_applies() {
    let f = fixture("").await;
    let (serve, base) = serve(&f.settings_path(), &["--watch-interval", "0s"]);
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&api_checks(&base).await), ["fresh", "stale"]);

    std::fs::write(
        f.path().join("checks/p.yaml"),
        "checks:\n  - name: broken\n    freshness: { table: x }\n",
    )
    .unwrap();
    signal(&serve, "-HUP");
    let failed = eventually(10, || async {
        let (_, m) = get(&format!("{base}/metrics")).await;
        m.contains("syncwatch_config_reloads_total{result=\"failure\"} 1")
            .then_some(m)
    })
    .await
    .expect("the failed reload is counted");
    assert!(failed.contains("syncwatch_config_last_reload_successful 0"));
    assert_eq!(
        names(&api_checks(&base).await),
        ["fresh", "stale"],
        "still running the last good configuration"
    );
    assert_eq!(get(&format!("{base}/readyz")).await.0, 200);

    std::fs::write(f.path().join("checks/p.yaml"), checks(&["stale", "fresh2"])).unwrap();
    common::sqlite_partner(
        &f.path().join("partner.db"),
        "CREATE TABLE fresh2 (ts TEXT); INSERT INTO fresh2 VALUES (datetime('now'));",
    )
    .await;
    signal(&serve, "-HUP");
    let v = eventually(10, || async {
        let v = api_checks(&base).await;
        let added_ran = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "fresh2" && c["verdict"] == "pass");
        added_ran.then_some(v)
    })
    .await
    .expect("the added check is scheduled and runs promptly");
    assert_eq!(names(&v), ["stale", "fresh2"], "the removed check is gone");
    let (_, m) = get(&format!("{base}/metrics")).await;
    assert!(
        !m.contains("check=\"fresh\""),
        "no series remain for the removed check"
    );
    assert!(m.contains("syncwatch_config_last_reload_successful 1"));
}

#[tokio::test]
async fn a_changed_check_file_is_picked_up_without_a_signal() {
    let f = fixture("").await;
    let (_serve, base) = serve(&f.settings_path(), &["--watch-interval", "1s"]);
    std::fs::write(f.path().join("checks/p.yaml"), checks(&["stale"])).unwrap();
    let v = eventually(15, || async {
        let v = api_checks(&base).await;
        (v["checks"].as_array().unwrap().len() == 1).then_some(v)
    })
    .await
    .expect("the change is noticed by polling");
    assert_eq!(v["checks"][0]["name"], "stale");
}

// Multi-threaded: the slow service answers while this thread waits for `serve` to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_run_in_flight_finish_and_exits_zero() {
    let server = common::http_server::start(vec![(
        "/slow",
        common::http_server::Answer {
            status: 200,
            body: "{}".into(),
            delay: std::time::Duration::from_secs(2),
        },
    )])
    .await;
    let f = fixture("").await;
    std::fs::write(
        f.path().join("checks/p.yaml"),
        format!(
            "checks:\n  - name: slow_api\n    http: {{ url: \"{}/slow\", timeout: 10s }}\n",
            server.base
        ),
    )
    .unwrap();
    let (mut serve, _base) = serve(&f.settings_path(), &[]);
    // The never-run check starts at once; wait until its request is in flight.
    eventually(10, || async {
        (!server.seen.lock().unwrap().is_empty()).then_some(())
    })
    .await
    .expect("the check started");
    signal(&serve, "-TERM");
    let status = serve.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let plan = f.plan();
    let app = syncwatch::app::App::build(plan).await.unwrap();
    assert_eq!(
        app.store.run_count("slow_api").await.unwrap(),
        1,
        "the run in flight finished and was recorded"
    );
    // Finished, not cut short: the 2 s answer arrived and the run passed (a cancelled or
    // timed-out run would be recorded as an error).
    let last = &app.store.latest_runs().await.unwrap()["slow_api"];
    assert_eq!(
        (last.outcome.verdict, last.outcome.reason.as_deref()),
        (syncwatch::verdict::Verdict::Pass, None),
        "{:?}",
        last.outcome.reason
    );
    assert!(last.duration >= std::time::Duration::from_secs(2));
    app.close().await;
}

#[tokio::test]
async fn run_pushes_its_metrics_to_a_real_pushgateway() {
    let Some(pushgateway) = tool("prometheus-pushgateway") else {
        return;
    };
    let port = common::free_port();
    let data = tempfile::tempdir().unwrap();
    let _pg = Child(
        Command::new(&pushgateway)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--persistence.file={}",
                data.path().join("p").display()
            ))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let gw = format!("http://127.0.0.1:{port}");
    eventually(20, || async {
        reqwest::get(format!("{gw}/-/ready"))
            .await
            .ok()
            .filter(|r| r.status().is_success())
    })
    .await
    .expect("pushgateway is up");
    let f = fixture("").await;
    for _ in 0..2 {
        let out = common::bin()
            .args(["run", "--all", "--push-gateway", &gw, "--config"])
            .arg(f.settings_path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_, m) = get(&format!("{gw}/metrics")).await;
    assert!(m.contains("syncwatch_check_status{check=\"stale\",instance=\"\",job=\"syncwatch\",kind=\"freshness\",source=\"p\",verdict=\"fail\"} 1"), "{m}");
    assert!(m.contains("# TYPE syncwatch_check_runs_total counter"));
    assert!(m.contains("# TYPE syncwatch_check_data_age_seconds gauge"));
    assert!(m.contains(
        "syncwatch_pass_last_success_timestamp_seconds{instance=\"\",job=\"syncwatch\"}"
    ));
    assert!(m.contains("check=\"fresh\""), "{m}");
    // The group is replaced on each push: a check deleted from the files vanishes.
    std::fs::write(f.path().join("checks/p.yaml"), checks(&["stale"])).unwrap();
    let out = common::bin()
        .args(["run", "--all", "--push-gateway", &gw, "--config"])
        .arg(f.settings_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let (_, m) = get(&format!("{gw}/metrics")).await;
    assert!(m.contains("check=\"stale\""), "{m}");
    assert!(
        !m.contains("check=\"fresh\""),
        "the deleted check is gone: {m}"
    );
    // A refused push (no such gateway) is a runtime error, exit 2.
    let out = common::bin()
        .args([
            "run",
            "--all",
            "--push-gateway",
            "http://127.0.0.1:1",
            "--config",
        ])
        .arg(f.settings_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pushing metrics to http://127.0.0.1:1"));
}

#[tokio::test]
async fn serve_restarts_rechecks_after_settle_and_pages_in_the_background() {
    let (hook, hook_url) = common::contracts::webhook().await;
    let f = fixture(&format!(
        "notifiers:\n  ops: {{ type: webhook, url: \"{hook_url}/events\" }}\n"
    ))
    .await;
    let marker = f.path().join("restarted");
    std::fs::write(
        f.path().join("checks/p.yaml"),
        format!(
            "checks:\n  - name: stale\n    source: p\n    schedule: \"0 0 1 1 *\"\n    freshness: {{ table: stale, column: ts, error_after: 6h }}\n\
             \x20   on_failure: {{ restart: {{ command: [touch, \"{}\"], settle: 2s }}, page: ops }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let (_serve, base) = serve(&f.settings_path(), &[]);
    // At start the never-run check runs and restarts; 2 s later the re-check pages, with no cron tick in between.
    let page = eventually(20, || async {
        hook.requests()
            .into_iter()
            .find(|r| r.json()["event"] == "page")
    })
    .await
    .expect("paged after the re-check");
    assert!(marker.exists(), "the restart command ran");
    assert!(page.json()["summary"]
        .as_str()
        .unwrap()
        .contains("still failing at the re-check"));
    let (_, m) = get(&format!("{base}/metrics")).await;
    assert!(
        m.contains(
            "syncwatch_restarts_total{action=\"command\",check=\"stale\",result=\"delivered\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains(
        "syncwatch_notifications_total{event=\"page\",notifier=\"ops\",outcome=\"delivered\"} 1"
    ));
    assert!(m.contains("syncwatch_outbox_pending 0"));
}

#[tokio::test]
async fn sigterm_is_honoured_while_a_reload_is_still_parsing() {
    // Regression: a reload parsed on the async threads; a huge file (here 2 MiB of flow entries,
    // seconds of parsing and checking) held SIGTERM until it was done.
    let f = fixture("").await;
    let (mut serve, _base) = serve(&f.settings_path(), &["--watch-interval", "0s"]);
    let hostile = format!("checks: [{}]", "{a: 1}, ".repeat(260_000));
    std::fs::write(f.path().join("checks/p.yaml"), hostile).unwrap();
    // The daemon listens for SIGHUP once it is up; give it that moment.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    signal(&serve, "-HUP");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let asked = std::time::Instant::now();
    signal(&serve, "-TERM");
    let status = tokio::task::spawn_blocking(move || serve.0.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(3),
        "stopped {:?} after SIGTERM (grace 30s, but nothing was running)",
        asked.elapsed()
    );
}

/// The daemon hands checks falling due at the same instant to one pass per slice of 500,
/// which batches them per source: 1,100 freshness checks every five seconds (jitter off) take
/// 22 statements per fire time (slices of 500, 500 and 100 in batches of 50), not 1,100. One
/// statement's checks share a start and a duration in the recorded runs.
#[tokio::test]
async fn checks_due_at_the_same_instant_run_in_batches() {
    const CHECKS: usize = 1100;
    let f = fixture("").await;
    let mut yaml = String::from("defaults: { source: p, schedule: \"*/5 * * * * *\" }\nchecks:\n");
    for i in 0..CHECKS {
        yaml.push_str(&format!(
            "  - name: c{i:04}\n    freshness: {{ table: fresh, column: ts, warn_after: 1h, error_after: 6h }}\n"
        ));
    }
    std::fs::write(f.path().join("checks/p.yaml"), yaml).unwrap();
    let (serve, _base) = serve(&f.settings_path(), &["--watch-interval", "0s"]);
    tokio::time::sleep(std::time::Duration::from_secs(16)).await;
    signal(&serve, "-TERM");
    let mut serve = serve;
    assert_eq!(serve.0.wait().unwrap().code(), Some(0));
    let url = format!("sqlite:{}", f.path().join("state.db").display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    // (fire time's five seconds, statements in them, runs in them)
    let rounds: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT CAST(strftime('%s', substr(started_at, 1, 19)) AS INTEGER) / 5, \
         COUNT(DISTINCT started_at || '/' || duration_ms), COUNT(*) FROM runs GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let full: Vec<&(i64, i64, i64)> = rounds
        .iter()
        .filter(|(_, _, runs)| *runs == CHECKS as i64)
        .collect();
    assert!(
        full.len() >= 2,
        "every check ran at each fire time: {rounds:?}"
    );
    for (second, statements, _) in &full {
        assert!(
            *statements <= 22,
            "{second}: {CHECKS} due checks took {statements} statements, not 22 batches"
        );
    }
    let errors: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE verdict <> 'pass'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(errors, 0, "every batched run judged the fresh table");
}

/// Past 200 checks the status page is a summary: every check counted, the checks needing
/// attention listed, every source with its counts and a link to its pages of 200 rows; the
/// store is read only for the rows shown, so the first screen stays small.
#[tokio::test]
async fn the_status_page_at_450_checks_is_a_summary_with_a_page_per_source() {
    let f = fixture("  q: { url: \"sqlite:partner.db\" }\n").await;
    let mut yaml = String::from("defaults: { schedule: \"*/10 * * * *\" }\nchecks:\n");
    for i in 0..450 {
        let (source, table) = match i {
            0..=399 if i % 80 == 7 => ("p", "stale"),
            0..=399 => ("p", "fresh"),
            _ => ("q", "fresh"),
        };
        yaml.push_str(&format!(
            "  - name: c{i:03}\n    source: {source}\n    freshness: {{ table: {table}, column: ts, warn_after: 1h, error_after: 6h }}\n"
        ));
    }
    std::fs::write(f.path().join("checks/p.yaml"), yaml).unwrap();
    let (_serve, base) = serve(&f.settings_path(), &["--watch-interval", "0s"]);
    let summary = eventually(30, || async {
        let (_, body) = get(&format!("{base}/")).await;
        body.contains("450 checks: 445 pass, 0 warn, 5 fail, 0 error.")
            .then_some(body)
    })
    .await
    .expect("every check ran and is counted");
    assert!(
        summary.len() < 300 * 1024,
        "small first screen: {}",
        summary.len()
    );
    assert!(summary.contains("Needs attention: 5 checks"), "{summary}");
    for failing in ["c007", "c087", "c167", "c247", "c327"] {
        assert!(
            summary.contains(&format!("<th scope=\"row\">{failing}")),
            "{failing}: {summary}"
        );
    }
    assert!(
        !summary.contains("<th scope=\"row\">c000"),
        "passing checks are on their source's pages"
    );
    assert!(summary.contains(
        "<a href=\"?source=p\">p</a></th><td data-label=\"Checks\">400</td><td data-label=\"Pass\">395</td>"
    ));
    assert!(summary.contains("<a href=\"?source=q\">q</a></th><td data-label=\"Checks\">50</td>"));
    let rows = |html: &str| html.matches("<th scope=\"row\">c").count();
    let (_, p1) = get(&format!("{base}/?source=p")).await;
    assert_eq!(rows(&p1), 200, "a page of 200 rows");
    assert!(p1.contains("source p: 400 checks, page 1 of 2"), "{p1}");
    assert!(p1.contains("<a href=\"?source=p&amp;page=2\" rel=\"next\">next</a>"));
    assert!(
        p1.contains("450 checks: 445 pass"),
        "the counts cover every check"
    );
    let (_, p2) = get(&format!("{base}/?source=p&page=2")).await;
    assert_eq!(rows(&p2), 200);
    assert!(p2.contains("<th scope=\"row\">c399"), "{p2}");
    let (_, beyond) = get(&format!("{base}/?source=p&page=9")).await;
    assert!(
        beyond.contains("page 2 of 2"),
        "a page past the end shows the last"
    );
    let (_, q) = get(&format!("{base}/?source=q")).await;
    assert_eq!(rows(&q), 50);
}
