//! Scenarios that must hold on every engine, as one table over PostgreSQL, MariaDB and SQLite
//! (through the shared harness): the same data gives the same verdicts, and the same hostile
//! filter is refused with the table unchanged.

mod common;

use common::harness::{Partner, Scenario};
use syncwatch::verdict::Verdict;

#[tokio::test]
async fn the_same_data_gives_the_same_verdicts_on_every_engine() {
    let mut partners = Partner::all().await;
    let mut failures = Vec::new();
    for p in &mut partners {
        p.timestamps("t_fresh", &[30, 90]).await;
        p.timestamps("t_warn", &[180]).await;
        p.timestamps("t_stale", &[600]).await;
        p.timestamps("t_empty", &[]).await;
        p.timestamps("t_mixed", &[10, 600]).await;
        p.timestamps("t_future", &[-180]).await; // three hours ahead: a wrong time zone
        let age = |t: &str| {
            format!(
                "freshness: {{ table: {}, column: ts, warn_after: 1h, error_after: 6h }}",
                p.table(t)
            )
        };
        let mixed = p.table("t_mixed");
        let cases: Vec<(&str, String, Verdict, &str)> = vec![
            ("fresh", age("t_fresh"), Verdict::Pass, ""),
            ("warn", age("t_warn"), Verdict::Warn, "> warn_after 1h"),
            ("stale", age("t_stale"), Verdict::Fail, "> error_after 6h"),
            ("empty", age("t_empty"), Verdict::Fail, "no data"),
            ("missing", age("t_nope"), Verdict::Error, ""),
            (
                // An integer id is not a time: an error that names the option, not 1970.
                "id_as_time",
                format!(
                    "freshness: {{ table: {}, column: id, error_after: 6h }}",
                    p.table("t_fresh")
                ),
                Verdict::Error,
                "is a number, not a time (if it counts seconds since 1970, set `format: epoch_seconds`",
            ),
            (
                "future",
                age("t_future"),
                Verdict::Warn,
                "ahead of the database clock (> future_tolerance 5m)",
            ),
            (
                "future_tolerated",
                format!(
                    "freshness: {{ table: {}, column: ts, error_after: 6h, future_tolerance: 4h }}",
                    p.table("t_future")
                ),
                Verdict::Pass,
                "in the future",
            ),
            (
                "filtered",
                format!("freshness: {{ table: {mixed}, column: ts, filter: \"id = 1\", error_after: 6h }}"),
                Verdict::Fail,
                "> error_after 6h",
            ),
            (
                "count",
                format!("row_count: {{ table: {mixed}, warn_below: 5, error_below: 1 }}"),
                Verdict::Warn,
                "2 rows",
            ),
            (
                "sql",
                format!("sql: {{ query: \"SELECT COUNT(*) FROM {mixed} WHERE id > 5\", error_if: \"> 0\" }}"),
                Verdict::Pass,
                "",
            ),
            (
                "chained",
                format!("row_count: {{ table: {mixed}, filter: \"1=1); DELETE FROM {mixed}; SELECT (1\", error_below: 1 }}"),
                Verdict::Error,
                "refused: one statement only",
            ),
        ];
        let mut yaml = String::from("defaults: { source: p }\nchecks:\n");
        for (name, body, _, _) in &cases {
            yaml.push_str(&format!("  - name: {name}\n    {body}\n"));
        }
        let f = Scenario::new()
            .source(p.source("p", ""))
            .checks("engine.yaml", yaml)
            .build();
        let (_, got) = common::run_all(f.plan()).await;
        for (name, _, verdict, reason) in &cases {
            let o = &got[*name];
            let text = o.reason.as_deref().unwrap_or("");
            if o.verdict != *verdict || !text.contains(reason) {
                failures.push(format!(
                    "{}: {name}: got {} {text:?}, want {verdict} with {reason:?}",
                    p.engine(),
                    o.verdict
                ));
            }
        }
        if p.count("t_mixed").await != 2 {
            failures.push(format!("{}: the chained DELETE ran", p.engine()));
        }
    }
    let engines: Vec<&str> = partners.iter().map(Partner::engine).collect();
    if common::required() {
        assert_eq!(
            engines,
            ["postgres", "mariadb", "sqlite"],
            "every engine ran"
        );
    }
    for p in partners {
        p.cleanup().await;
    }
    assert!(
        failures.is_empty(),
        "on {engines:?}:\n{}",
        failures.join("\n")
    );
}

/// Freshness checks on a table and a column go in batches (one statement, one round trip); the
/// verdicts and reasons are those of the check-by-check path, on every engine and every column
/// type, with missing tables and a column that is not a time in the same batch.
#[tokio::test]
async fn batched_freshness_checks_give_the_verdicts_and_reasons_of_the_unbatched_path() {
    let mut partners = Partner::all().await;
    let mut failures = Vec::new();
    for p in &mut partners {
        p.timestamps("b_fresh", &[30, 90]).await;
        p.timestamps("b_warn", &[180]).await;
        p.timestamps("b_stale", &[600]).await;
        p.timestamps("b_empty", &[]).await;
        p.timestamps("b_future", &[-180]).await;
        // Every column type the engine has for times: zoned, naive, date, text, epoch numbers.
        let typed = p.table("b_typed");
        match p.engine() {
            "postgres" => p.exec(&format!("CREATE TABLE {typed} (tz timestamptz, naive timestamp, d date, txt text, epoch bigint, millis bigint);\
                 INSERT INTO {typed} VALUES (now() - interval '2 hours', (now() AT TIME ZONE 'UTC') - interval '7 hours', current_date - 3, \
                 to_char((now() - interval '30 minutes') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                 extract(epoch from now() - interval '3 hours')::bigint, (extract(epoch from now() - interval '20 minutes') * 1000)::bigint)")).await,
            "mariadb" => p.exec(&format!("CREATE TABLE {typed} (tz timestamp(6) NULL, naive datetime(6), d date, txt text, epoch bigint, millis bigint)")).await,
            _ => p.exec(&format!("CREATE TABLE {typed} (tz TEXT, naive TEXT, d TEXT, txt TEXT, epoch INTEGER, millis INTEGER)")).await,
        }
        if p.engine() == "mariadb" {
            p.exec(&format!("INSERT INTO {typed} VALUES (UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, UTC_TIMESTAMP(6) - INTERVAL 7 HOUR, UTC_DATE() - INTERVAL 3 DAY, \
                 DATE_FORMAT(UTC_TIMESTAMP() - INTERVAL 30 MINUTE, '%Y-%m-%dT%H:%i:%sZ'), UNIX_TIMESTAMP() - 10800, (UNIX_TIMESTAMP() - 1200) * 1000)")).await;
        }
        if p.engine() == "sqlite" {
            p.exec(&format!("INSERT INTO {typed} VALUES (strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 hours'), datetime('now', '-7 hours'), date('now', '-3 days'), \
                 strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-30 minutes'), CAST(strftime('%s', 'now', '-3 hours') AS INTEGER), CAST(strftime('%s', 'now', '-20 minutes') AS INTEGER) * 1000)")).await;
        }
        // Checks whose batch succeeds (a column that is not a time fails only its own check),
        // and checks in a batch that fails (a missing table, a missing column): run one by one.
        let mut good: Vec<(String, String)> = Vec::new();
        for t in ["b_fresh", "b_warn", "b_stale", "b_empty", "b_future"] {
            good.push((t.to_string(), format!("table: {}, column: ts", p.table(t))));
        }
        good.push((
            "b_id".into(),
            format!("table: {}, column: id", p.table("b_fresh")),
        ));
        for col in ["tz", "naive", "d", "txt"] {
            good.push((
                format!("typed_{col}"),
                format!("table: {typed}, column: {col}"),
            ));
        }
        good.push((
            "typed_epoch".into(),
            format!("table: {typed}, column: epoch, format: epoch_seconds"),
        ));
        good.push((
            "typed_millis".into(),
            format!("table: {typed}, column: millis, format: epoch_millis"),
        ));
        let mut bad = good.clone();
        bad.push((
            "b_missing".into(),
            format!("table: {}, column: ts", p.table("b_missing")),
        ));
        bad.push((
            "b_no_column".into(),
            format!("table: {}, column: nope", p.table("b_fresh")),
        ));
        for (set, checks) in [("good", &good), ("with missing", &bad)] {
            let mut yaml = String::from("defaults: { source: p }\nchecks:\n");
            for (name, body) in checks.iter() {
                yaml.push_str(&format!("  - name: {name}\n    freshness: {{ {body}, warn_after: 1h, error_after: 6h }}\n"));
            }
            let run = |batch: &str| {
                let f = common::harness::Scenario::new()
                    .source(p.source("p", batch))
                    .checks("batch.yaml", yaml.clone())
                    .build();
                async move { common::run_all(f.plan()).await }
            };
            let (_, one_by_one) = run("batch_size: 1").await;
            let (report, batched) = run("").await;
            for (name, _) in checks.iter() {
                let (a, b) = (&one_by_one[name], &batched[name]);
                if (a.verdict, &a.reason) != (b.verdict, &b.reason) {
                    failures.push(format!(
                        "{} ({set}): {name}: unbatched {} {:?}, batched {} {:?}",
                        p.engine(),
                        a.verdict,
                        a.reason,
                        b.verdict,
                        b.reason
                    ));
                }
            }
            // A batch that worked is one statement: its checks share one start and duration.
            let runs: std::collections::HashSet<_> = report
                .results
                .iter()
                .map(|x| (x.started_at, x.duration))
                .collect();
            if set == "good" && runs.len() != 1 {
                failures.push(format!(
                    "{}: the good batch was not one statement: {runs:?}",
                    p.engine()
                ));
            }
            if set != "good" && runs.len() != checks.len() {
                failures.push(format!(
                    "{}: a failed batch is run check by check: {runs:?}",
                    p.engine()
                ));
            }
        }
    }
    for p in partners {
        p.cleanup().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
