//! Checks against a real PostgreSQL: every kind and verdict, timestamp/timestamptz/epoch columns,
//! naive timestamps in the source's time zone, timeouts, read-only enforcement.

mod common;

use common::{run_all, unique, Fixture, PG_URL};
use sqlx::{Executor, PgConnection};
use syncwatch::verdict::{Observed, Verdict};

async fn schema(pg: &mut PgConnection) -> String {
    let s = unique("sw");
    pg.execute(
        format!(
            "CREATE SCHEMA {s};
             CREATE TABLE {s}.events (id serial, kind text, ts timestamp, tstz timestamptz, epoch bigint, amount numeric(10,2));
             INSERT INTO {s}.events (kind, ts, tstz, epoch, amount)
             SELECT k, (now() - a) AT TIME ZONE 'UTC', now() - a, extract(epoch from now() - a)::bigint, 1.25
             FROM (VALUES ('fresh', interval '10 minutes'), ('warn', interval '3 hours'), ('fail', interval '2 days')) v(k, a);
             CREATE TABLE {s}.ny (ts_local timestamp);
             INSERT INTO {s}.ny VALUES ((now() - interval '3 hours') AT TIME ZONE 'America/New_York');"
        )
        .as_str(),
    )
    .await
    .unwrap();
    s
}

async fn drop_schema(pg: &mut PgConnection, s: &str) {
    let _ = pg
        .execute(format!("DROP SCHEMA {s} CASCADE").as_str())
        .await;
}

fn settings() -> String {
    format!(
        "sources:\n  pg: {{ url: \"{PG_URL}\", statement_timeout: 2s }}\n  pg_ny: {{ url: \"{PG_URL}\", timezone: America/New_York }}\n"
    )
}

#[tokio::test]
async fn freshness_verdicts_for_each_column_type() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let s = schema(&mut pg).await;
    let mut checks = String::from("defaults: { source: pg }\nchecks:\n");
    for col in ["ts", "tstz", "epoch"] {
        for kind in ["fresh", "warn", "fail"] {
            checks.push_str(&format!(
                "  - name: {col}_{kind}\n    freshness: {{ table: {s}.events, column: {col}, filter: \"kind = '{kind}'\", warn_after: 1h, error_after: 6h{} }}\n",
                if col == "epoch" { ", format: epoch_seconds" } else { "" }
            ));
        }
    }
    checks.push_str(&format!(
        "  - name: empty_default\n    freshness: {{ table: {s}.events, column: tstz, filter: \"kind = 'none'\", error_after: 1h }}\n\
         \x20 - name: empty_warn\n    freshness: {{ table: {s}.events, column: tstz, filter: \"kind = 'none'\", error_after: 1h, on_empty: warn }}\n\
         \x20 - name: by_query\n    freshness: {{ query: \"SELECT max(tstz) FROM {s}.events WHERE kind <> 'fresh'\", warn_after: 1h, error_after: 6h }}\n\
         \x20 - name: naive_new_york\n    source: pg_ny\n    freshness: {{ table: {s}.ny, column: ts_local, warn_after: 1h, error_after: 6h }}\n"
    ));
    let f = Fixture::new(&settings(), &[("pg.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    drop_schema(&mut pg, &s).await;
    let want = [
        ("ts_fresh", Verdict::Pass),
        ("ts_warn", Verdict::Warn),
        ("ts_fail", Verdict::Fail),
        ("tstz_fresh", Verdict::Pass),
        ("tstz_warn", Verdict::Warn),
        ("tstz_fail", Verdict::Fail),
        ("epoch_fresh", Verdict::Pass),
        ("epoch_warn", Verdict::Warn),
        ("epoch_fail", Verdict::Fail),
        ("empty_default", Verdict::Fail),
        ("empty_warn", Verdict::Warn),
        ("by_query", Verdict::Warn),
        // Read as New York wall time: 3 h old (warn). Read as UTC it would be 8 h (fail).
        ("naive_new_york", Verdict::Warn),
    ];
    for (name, verdict) in want {
        assert_eq!(got[name].verdict, verdict, "{name}: {:?}", got[name]);
    }
    let Observed::Age { age_seconds, .. } = got["tstz_fresh"].observed else {
        panic!("{:?}", got["tstz_fresh"])
    };
    assert!(
        (540.0..720.0).contains(&age_seconds),
        "10 minutes old, measured {age_seconds}s"
    );
    let Observed::Age { age_seconds, .. } = got["naive_new_york"].observed else {
        panic!()
    };
    assert!(
        (3.0 * 3600.0 - 60.0..3.0 * 3600.0 + 120.0).contains(&age_seconds),
        "{age_seconds}"
    );
}

#[tokio::test]
async fn row_count_and_sql_checks() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let s = schema(&mut pg).await;
    let checks = format!(
        "defaults: {{ source: pg }}\nchecks:\n\
         \x20 - name: count_ok\n    row_count: {{ table: {s}.events, warn_below: 2, error_below: 1 }}\n\
         \x20 - name: count_warn\n    row_count: {{ table: {s}.events, filter: \"kind = 'fresh'\", warn_below: 2, error_below: 1 }}\n\
         \x20 - name: count_fail_above\n    row_count: {{ table: {s}.events, warn_above: 1, error_above: 2 }}\n\
         \x20 - name: numeric_sum\n    sql: {{ query: \"SELECT sum(amount) FROM {s}.events\", warn_if: \"> 3\", error_if: \"> 10\" }}\n\
         \x20 - name: zero_is_fine\n    sql: {{ query: \"SELECT count(*) FROM {s}.events WHERE kind = 'x'\", error_if: \"> 0\" }}\n\
         \x20 - name: bad_sql\n    sql: {{ query: \"SELECT nope FROM {s}.events\", error_if: \"> 0\" }}\n"
    );
    let f = Fixture::new(&settings(), &[("pg.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    drop_schema(&mut pg, &s).await;
    assert_eq!(got["count_ok"].verdict, Verdict::Pass);
    assert_eq!(got["count_ok"].observed, Observed::Number { value: 3.0 });
    assert_eq!(got["count_warn"].verdict, Verdict::Warn);
    assert_eq!(got["count_fail_above"].verdict, Verdict::Fail);
    assert_eq!(
        got["numeric_sum"].verdict,
        Verdict::Warn,
        "{:?}",
        got["numeric_sum"]
    );
    assert_eq!(
        got["numeric_sum"].observed,
        Observed::Number { value: 3.75 }
    );
    assert_eq!(got["zero_is_fine"].verdict, Verdict::Pass);
    assert_eq!(got["bad_sql"].verdict, Verdict::Error);
    assert!(got["bad_sql"]
        .reason
        .as_deref()
        .unwrap()
        .contains("column \"nope\" does not exist"));
}

#[tokio::test]
async fn a_query_beyond_statement_timeout_is_an_error_and_others_still_pass() {
    let Some(_pg) = common::pg().await else {
        return;
    };
    let checks = "defaults: { source: pg }\nchecks:\n\
        \x20 - name: slow\n    sql: { query: \"SELECT count(*) FROM (SELECT pg_sleep(5)) s\", error_if: \"> 100\" }\n\
        \x20 - name: quick\n    sql: { query: \"SELECT 1\", error_if: \"> 1\" }\n";
    let f = Fixture::new(&settings(), &[("pg.yaml", checks)]);
    let (report, got) = run_all(f.plan()).await;
    assert_eq!(got["slow"].verdict, Verdict::Error);
    let reason = got["slow"].reason.as_deref().unwrap();
    assert!(reason.contains("statement_timeout 2s"), "{reason}");
    assert_eq!(got["quick"].verdict, Verdict::Pass);
    assert!(
        report.duration.as_secs_f64() < 5.0,
        "the server cancelled the query at 2s"
    );
}

#[tokio::test]
async fn checks_cannot_write_to_the_partner_database() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let s = schema(&mut pg).await;
    pg.execute(
        format!(
            "CREATE FUNCTION {s}.sneaky() RETURNS bigint LANGUAGE sql AS $$ INSERT INTO {s}.events (kind) VALUES ('written'); SELECT 1::bigint $$;"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let checks = format!(
        "defaults: {{ source: pg }}\nchecks:\n\
         \x20 - name: writes_via_function\n    sql: {{ query: \"SELECT {s}.sneaky()\", error_if: \"> 5\" }}\n\
         \x20 - name: injects_via_filter\n    row_count: {{ table: {s}.events, filter: \"1=1); DELETE FROM {s}.events; SELECT (1\", error_below: 1 }}\n"
    );
    let f = Fixture::new(&settings(), &[("pg.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {s}.events"))
        .fetch_one(&mut pg)
        .await
        .unwrap();
    drop_schema(&mut pg, &s).await;
    assert_eq!(rows, 3, "nothing was inserted or deleted");
    assert_eq!(got["writes_via_function"].verdict, Verdict::Error);
    let reason = got["writes_via_function"].reason.as_deref().unwrap();
    assert!(
        reason.starts_with("refused: checks are read-only"),
        "{reason}"
    );
    // Valid SQL if sent as plain text: the refusal is syncwatch's, not a syntax error.
    assert_eq!(got["injects_via_filter"].verdict, Verdict::Error);
    let reason = got["injects_via_filter"].reason.as_deref().unwrap();
    assert!(
        reason.starts_with("refused: one statement only"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_failed_query_leaves_its_pooled_connection_usable() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let s = schema(&mut pg).await;
    // One connection, so every check reuses the one the failing check used.
    let settings = format!("sources:\n  one: {{ url: \"{PG_URL}\", max_connections: 1 }}\n");
    let mut checks = String::from("defaults: { source: one }\nchecks:\n");
    for i in 0..3 {
        checks.push_str(&format!(
            "  - name: missing{i}\n    freshness: {{ table: {s}.nope, column: ts, error_after: 1h }}\n\
             \x20 - name: fine{i}\n    freshness: {{ table: {s}.events, column: tstz, error_after: 6h }}\n\
             \x20 - name: count{i}\n    row_count: {{ table: {s}.events, error_below: 1 }}\n"
        ));
    }
    let f = Fixture::new(&settings, &[("pg.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    drop_schema(&mut pg, &s).await;
    for i in 0..3 {
        assert_eq!(got[&format!("missing{i}")].verdict, Verdict::Error);
        assert!(got[&format!("missing{i}")]
            .reason
            .as_deref()
            .unwrap()
            .contains("does not exist"));
        assert_eq!(
            got[&format!("fine{i}")].verdict,
            Verdict::Pass,
            "{:?}",
            got[&format!("fine{i}")]
        );
        assert_eq!(got[&format!("count{i}")].verdict, Verdict::Pass);
    }
}

#[tokio::test]
async fn infinity_timestamps_are_read_and_named_in_the_reason() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let s = unique("inf");
    pg.execute(
        format!(
            "CREATE SCHEMA {s};
             CREATE TABLE {s}.up (tstz timestamptz, ts timestamp, d date);
             INSERT INTO {s}.up VALUES ('infinity', 'infinity', 'infinity');
             CREATE TABLE {s}.down (tstz timestamptz, ts timestamp, d date);
             INSERT INTO {s}.down VALUES ('-infinity', '-infinity', '-infinity');"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let mut checks = String::from("defaults: { source: pg }\nchecks:\n");
    for table in ["up", "down"] {
        for col in ["tstz", "ts", "d"] {
            // Generated SQL (text protocol) and user SQL (extended protocol, binary values).
            checks.push_str(&format!(
                "  - name: {table}_{col}\n    freshness: {{ table: {s}.{table}, column: {col}, error_after: 1h }}\n\
                 \x20 - name: {table}_{col}_filtered\n    freshness: {{ table: {s}.{table}, column: {col}, filter: \"true\", error_after: 1h }}\n"
            ));
        }
    }
    let f = Fixture::new(&settings(), &[("pg.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    drop_schema(&mut pg, &s).await;
    for col in ["tstz", "ts", "d"] {
        for suffix in ["", "_filtered"] {
            let up = &got[&format!("up_{col}{suffix}")];
            assert_eq!(up.verdict, Verdict::Warn, "{col}{suffix}: {up:?}");
            assert!(
                up.reason.as_deref().unwrap().contains("'infinity'"),
                "{up:?}"
            );
            let down = &got[&format!("down_{col}{suffix}")];
            assert_eq!(down.verdict, Verdict::Fail, "{col}{suffix}: {down:?}");
            assert!(
                down.reason.as_deref().unwrap().contains("'-infinity'"),
                "{down:?}"
            );
        }
    }
}

#[tokio::test]
async fn library_log_lines_stay_out_at_the_default_level() {
    // Regression: sqlx's "slow statement" warning appeared for every check slower than 1 s, at
    // the default level; the check's own line says what matters.
    let Some(_pg) = common::pg().await else {
        return;
    };
    let checks = "defaults: { source: pg }\nchecks:\n  - name: slowish\n    sql: { query: \"SELECT count(*) FROM pg_sleep(1.3)\", error_if: \"> 5\" }\n";
    let f = Fixture::new(&settings(), &[("pg.yaml", checks)]);
    let out = common::bin()
        .args(["run", "--all", "--config"])
        .arg(f.settings_path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("sqlx") && !stderr.contains("slow statement"),
        "library log lines at the default level:\n{stderr}"
    );
}

#[tokio::test]
async fn date_and_text_columns() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let s = unique("sw_cols");
    pg.execute(
        format!(
            "CREATE SCHEMA {s};
             CREATE TABLE {s}.loads (kind text, d date, iso text, naive text);
             INSERT INTO {s}.loads
             SELECT k, (now() AT TIME ZONE 'UTC' - a)::date,
                    to_char((now() - a) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    to_char((now() - a) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
             FROM (VALUES ('fresh', interval '10 minutes'), ('old', interval '5 days')) v(k, a);"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let mut checks = String::from("defaults: { source: pg }\nchecks:\n");
    for col in ["d", "iso", "naive"] {
        for kind in ["fresh", "old"] {
            checks.push_str(&format!(
                "  - name: {col}_{kind}\n    freshness: {{ table: {s}.loads, column: {col}, filter: \"kind = '{kind}'\", error_after: 2d }}\n"
            ));
        }
    }
    let f = Fixture::new(&settings(), &[("pg.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    drop_schema(&mut pg, &s).await;
    for col in ["d", "iso", "naive"] {
        assert_eq!(
            got[&format!("{col}_fresh")].verdict,
            Verdict::Pass,
            "{col}: {:?}",
            got[&format!("{col}_fresh")]
        );
        assert_eq!(
            got[&format!("{col}_old")].verdict,
            Verdict::Fail,
            "{col}: {:?}",
            got[&format!("{col}_old")]
        );
    }
    // A date is midnight (in the source's zone) of that day: today's is under a day old.
    let Observed::Age { age_seconds, .. } = got["d_fresh"].observed else {
        panic!("{:?}", got["d_fresh"])
    };
    assert!((0.0..86_400.0).contains(&age_seconds), "{age_seconds}");
    // Text is read as the instant it names: ten minutes, give or take the test's own time.
    for col in ["iso", "naive"] {
        let Observed::Age { age_seconds, .. } = got[&format!("{col}_fresh")].observed else {
            panic!("{:?}", got[&format!("{col}_fresh")])
        };
        assert!(
            (590.0..660.0).contains(&age_seconds),
            "{col}: {age_seconds}"
        );
    }
}

/// On PostgreSQL a freshness column's newest value is read as "the newest non-null value in
/// the column's order" rather than `MAX` (planned once instead of twice): on every type a
/// freshness column can have, with NULLs, infinities, NaN, text in a case-sensitive collation
/// and columns with and without an index, the batch and the single check read exactly what
/// `max()` reads, and a filter still applies.
#[tokio::test]
async fn the_newest_value_read_on_postgres_is_exactly_max() {
    use syncwatch::check::{TableRef, TimestampSource};
    use syncwatch::probe::{query, source::Engine};
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let s = unique("sw_newest");
    pg.execute(
        format!(
            "CREATE SCHEMA {s};
             CREATE TABLE {s}.v (k int, tz timestamptz, naive timestamp, d date, txt text COLLATE \"C\",
                                  f float8, n numeric, epoch bigint, none timestamptz);
             INSERT INTO {s}.v VALUES
               (1, now() - interval '1 hour', '2026-01-01 10:00', '2026-01-01', 'apple', 1.5, 2.25, 100, NULL),
               (2, NULL, '2026-06-30 23:59:59.999999', NULL, 'Zebra', 'NaN', NULL, 200, NULL),
               (3, '-infinity', NULL, '2025-12-31', 'zebra', -3, 'NaN', NULL, NULL),
               (4, now() - interval '5 minutes', 'infinity', '2026-02-03', NULL, NULL, 7, 50, NULL);
             CREATE INDEX ON {s}.v (tz);
             CREATE INDEX ON {s}.v (txt DESC);
             CREATE TABLE {s}.empty (tz timestamptz);
             CREATE TABLE {s}.inf (tz timestamptz);
             INSERT INTO {s}.inf VALUES ('infinity'), (now()), (NULL);
             CREATE INDEX ON {s}.inf (tz);"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let t = |name: &str| TableRef {
        parts: vec![s.clone(), name.to_string()],
    };
    let cols = [
        ("v", "tz"),
        ("v", "naive"),
        ("v", "d"),
        ("v", "txt"),
        ("v", "f"),
        ("v", "n"),
        ("v", "epoch"),
        ("v", "none"),
        ("empty", "tz"),
        ("inf", "tz"),
    ];
    let tables: Vec<TableRef> = cols.iter().map(|(table, _)| t(table)).collect();
    let items: Vec<(&TableRef, &str)> = tables.iter().zip(cols.iter().map(|c| c.1)).collect();
    let batch = query::freshness_batch(Engine::Postgres, &items);
    assert!(batch.generated(), "the batch holds no user text");
    assert!(
        !batch.text.contains("MAX("),
        "the batch reads the newest value in order, not with MAX: {}",
        batch.text
    );
    let maxes: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, (table, c))| format!("(SELECT max({c}) FROM {s}.{table}) AS n{i}"))
        .collect();
    // Both in one transaction, so now() (the clock column) is the same in both rows.
    pg.execute("BEGIN").await.unwrap();
    let (ours, theirs): (String, String) = sqlx::query_as(&format!(
        "SELECT (SELECT row_to_json(b)::text FROM ({}) b), (SELECT row_to_json(m)::text FROM (SELECT {}, now() AS db_now) m)",
        batch.text,
        maxes.join(", ")
    ))
    .fetch_one(&mut pg)
    .await
    .unwrap();
    assert_eq!(ours, theirs, "the batch read differs from max()");
    assert!(ours.contains("\"zebra\"") && ours.contains("\"NaN\"") && ours.contains("infinity"));
    // The single check, with a filter (user text) that leaves out the newest rows.
    for (col, filter, want) in [
        (
            "tz",
            "k <> 4",
            format!("SELECT max(tz) FROM {s}.v WHERE k <> 4"),
        ),
        (
            "txt",
            "k < 3",
            format!("SELECT max(txt) FROM {s}.v WHERE k < 3"),
        ),
        (
            "naive",
            "k = 1 -- a comment",
            format!("SELECT max(naive) FROM {s}.v WHERE k = 1"),
        ),
    ] {
        let single = query::freshness(
            Engine::Postgres,
            &TimestampSource::Column {
                table: t("v"),
                column: col.into(),
                filter: Some(filter.into()),
            },
        );
        let (ours, theirs): (Option<String>, Option<String>) = sqlx::query_as(&format!(
            "SELECT (SELECT newest::text FROM ({}) q), ({want})::text",
            single.text
        ))
        .fetch_one(&mut pg)
        .await
        .unwrap();
        assert_eq!(ours, theirs, "{col} where {filter}: {}", single.text);
        assert!(
            ours.is_some(),
            "{col} where {filter}: the filter left no row"
        );
    }
    pg.execute("ROLLBACK").await.unwrap();
    drop_schema(&mut pg, &s).await;
}
