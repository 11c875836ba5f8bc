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
