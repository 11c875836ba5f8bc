//! CronJob mode end to end, with real `syncwatch run` processes on SQLite: shards and the
//! Indexed Job's JOB_COMPLETION_INDEX, `silence --end`, reminders, the restart budget, and the
//! command restart's environment and time cap.

mod common;

use common::Fixture;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const STALE: &str = "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now', '-3 hours'));";

fn settings(hook_url: &str, extra: &str) -> String {
    format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         sources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
         notifiers:\n  ops: {{ type: webhook, url: \"{hook_url}/events\" }}\n{extra}"
    )
}

fn cli(f: &Fixture, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let r = f.cli_env(args, env);
    (r.code, r.stdout, r.stderr)
}

fn run_json(f: &Fixture, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let r = f.cli_env(&all, env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

fn names(doc: &Value) -> BTreeSet<String> {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn events(hook: &common::contracts::Script) -> Vec<(String, String)> {
    hook.accepted()
        .iter()
        .map(|r| {
            let m = r.json();
            (
                m["event"].as_str().unwrap_or("").to_string(),
                m["dedup_key"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn shards_split_the_checks_and_an_indexed_job_takes_its_index() {
    let mut checks = String::from("defaults: { source: p }\nchecks:\n");
    for i in 0..24 {
        checks.push_str(&format!(
            "  - name: c{i:02}\n    freshness: {{ table: t, column: ts, error_after: 6h }}\n"
        ));
    }
    let f = Fixture::new(
        "store: { url: \"sqlite:state.db\" }\nsources:\n  p: { url: \"sqlite:partner.db\" }\n",
        &[("c.yaml", &checks)],
    );
    common::sqlite_partner(&f.path().join("partner.db"), STALE).await;
    let shards: Vec<BTreeSet<String>> = (0..3)
        .map(|i| names(&run_json(&f, &["--all", "--shard", &format!("{i}/3")], &[])))
        .collect();
    let mut union = BTreeSet::new();
    for (i, s) in shards.iter().enumerate() {
        assert!(!s.is_empty(), "shard {i} has checks");
        for n in s {
            assert!(union.insert(n.clone()), "{n} is in two shards");
        }
    }
    assert_eq!(union.len(), 24, "every check in one shard");
    // The same split again (stable), and `--shard N` reads I from JOB_COMPLETION_INDEX.
    assert_eq!(
        names(&run_json(&f, &["--all", "--shard", "1/3"], &[])),
        shards[1]
    );
    let indexed = run_json(
        &f,
        &["--all", "--shard", "3"],
        &[("JOB_COMPLETION_INDEX", "2")],
    );
    assert_eq!(names(&indexed), shards[2]);
    let (code, _, err) = cli(&f, &["run", "--all", "--shard", "3"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("JOB_COMPLETION_INDEX"), "{err}");
    let (code, _, err) = cli(&f, &["run", "--all", "--shard", "3/3"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_ended_early_lets_the_next_run_page() {
    let (hook, hook_url) = common::contracts::webhook().await;
    let f = Fixture::new(
        &settings(&hook_url, ""),
        &[("c.yaml", "checks:\n  - name: stale\n    source: p\n    freshness: { table: t, column: ts, error_after: 1h }\n    on_failure: { page: ops }\n")],
    );
    common::sqlite_partner(&f.path().join("partner.db"), STALE).await;
    let (code, out, err) = cli(
        &f,
        &[
            "silence",
            "stale",
            "--for",
            "2h",
            "--reason",
            "partner maintenance",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let doc = run_json(&f, &["--all"], &[]);
    assert_eq!(
        doc["checks"][0]["response"],
        "silenced: partner maintenance"
    );
    assert!(hook.requests().is_empty());
    let (_, list, _) = cli(&f, &["silence", "--list", "--format", "json"], &[]);
    let list: Value = serde_json::from_str(&list).unwrap();
    let id = list["silences"][0]["id"].to_string();
    let (code, out, err) = cli(&f, &["silence", "--end", &id], &[]);
    assert_eq!(
        (code, out.trim()),
        (0, format!("silence {id} ended").as_str()),
        "{err}"
    );
    let (code, _, err) = cli(&f, &["silence", "--end", &id], &[]);
    assert_ne!(code, 0, "ending it twice is an error: {err}");
    let doc = run_json(&f, &["--all"], &[]);
    assert_eq!(doc["checks"][0]["response"], "page");
    assert_eq!(
        events(&hook),
        [("page".to_string(), "syncwatch/stale/1".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remind_every_repeats_the_page_with_the_same_key_between_runs() {
    let (hook, hook_url) = common::contracts::webhook().await;
    let f = Fixture::new(
        &settings(&hook_url, ""),
        &[("c.yaml", "checks:\n  - name: stale\n    source: p\n    freshness: { table: t, column: ts, error_after: 1h }\n    on_failure: { page: ops, remind_every: 2s }\n")],
    );
    common::sqlite_partner(&f.path().join("partner.db"), STALE).await;
    run_json(&f, &["--all"], &[]);
    run_json(&f, &["--all"], &[]); // too soon: nothing
    tokio::time::sleep(Duration::from_millis(2100)).await;
    run_json(&f, &["--all"], &[]);
    let key = "syncwatch/stale/1".to_string();
    assert_eq!(
        events(&hook),
        [
            ("page".to_string(), key.clone()),
            ("reminder".to_string(), key)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_restarts_per_window_then_the_page_says_why() {
    let (hook, hook_url) = common::contracts::webhook().await;
    let f = Fixture::new(
        &settings(&hook_url, ""),
        &[("c.yaml", "checks:\n  - name: flaky\n    source: p\n    freshness: { table: t, column: ts, error_after: 1h }\n\
            \x20   on_failure:\n      restart: { command: [\"true\"], settle: 1h, cooldown: 1s, max_restarts: 2, window: 1h }\n      page: ops\n")],
    );
    let partner = f.path().join("partner.db");
    common::sqlite_partner(&partner, STALE).await;
    let mut responses = Vec::new();
    for _ in 0..3 {
        // Stale: a restart (each episode may restart once) ...
        let doc = run_json(&f, &["--all"], &[]);
        responses.push(doc["checks"][0]["response"].as_str().unwrap().to_string());
        // ... then fresh again, which ends the episode; stale again for the next one.
        common::sqlite_partner(&partner, "UPDATE t SET ts = datetime('now');").await;
        run_json(&f, &["--all"], &[]);
        common::sqlite_partner(&partner, "UPDATE t SET ts = datetime('now', '-3 hours');").await;
        tokio::time::sleep(Duration::from_millis(1100)).await; // past the 1 s cooldown
    }
    assert_eq!(responses[..2], ["restart", "restart"]);
    assert_eq!(
        responses[2], "page",
        "the third episode in the window pages: {responses:?}"
    );
    let page = hook
        .accepted()
        .into_iter()
        .map(|r| r.json())
        .find(|m| m["event"] == "page")
        .expect("the page was sent");
    let summary = page["summary"].as_str().unwrap();
    assert!(
        summary.ends_with(
            "restart of command:true skipped: restarted 2 times in the last 1h00m (max_restarts)"
        ),
        "the page says why no restart was tried: {summary}"
    );
}

#[tokio::test]
async fn a_command_restart_gets_syncwatch_check_and_is_stopped_after_50_seconds() {
    let f = Fixture::new(
        "store: { url: \"sqlite:state.db\" }\ndrain_timeout: 90s\nsources:\n  p: { url: \"sqlite:partner.db\" }\n",
        &[],
    );
    let told_at = f.path().join("told");
    std::fs::write(
        f.path().join("checks/c.yaml"),
        format!(
            "defaults: {{ source: p }}\nchecks:\n\
             \x20 - name: tells_its_name\n    freshness: {{ table: t, column: ts, error_after: 1h }}\n\
             \x20   on_failure: {{ restart: {{ command: [sh, -c, 'echo \"$SYNCWATCH_CHECK\" > {}'], settle: 1h }} }}\n\
             \x20 - name: hangs\n    freshness: {{ table: t, column: ts, error_after: 1h }}\n\
             \x20   on_failure: {{ restart: {{ command: [sleep, \"3600.25\"], settle: 1h }} }}\n",
            told_at.display()
        ),
    )
    .unwrap();
    common::sqlite_partner(&f.path().join("partner.db"), STALE).await;
    let started = std::time::Instant::now();
    let doc = run_json(&f, &["--all"], &[]);
    let took = started.elapsed();
    let told = std::fs::read_to_string(&told_at).expect("the command ran and wrote its file");
    assert_eq!(told.trim(), "tells_its_name");
    assert_eq!(doc["outbox"]["gave_up"], 1, "{}", doc["outbox"]);
    assert!(
        took >= Duration::from_secs(49) && took < Duration::from_secs(80),
        "stopped at 50 s, not at the 90 s drain deadline: {took:?}"
    );
    let left = std::process::Command::new("pgrep")
        .args(["-f", "sleep 3600.25"])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "the command was killed, not left running"
    );
}
