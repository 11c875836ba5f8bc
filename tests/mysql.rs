//! Checks against a real MariaDB/MySQL: every kind and verdict, DATETIME/TIMESTAMP/epoch columns,
//! the server-side statement timeout, read-only enforcement.

mod common;

use common::{run_all, unique, Fixture, MY_URL};
use sqlx::{Executor, MySqlConnection};
use syncwatch::verdict::{Observed, Verdict};

async fn database(my: &mut MySqlConnection) -> String {
    let d = unique("sw");
    for stmt in [
        format!("CREATE DATABASE {d}"),
        format!(
            "CREATE TABLE {d}.events (id INT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(10), dt DATETIME(6), ts TIMESTAMP(6) NULL, epoch BIGINT, amount DECIMAL(10,2))"
        ),
        format!(
            "INSERT INTO {d}.events (kind, dt, ts, epoch, amount) VALUES
             ('fresh', UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE, UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE, UNIX_TIMESTAMP() - 600, 1.25),
             ('warn', UTC_TIMESTAMP(6) - INTERVAL 3 HOUR, UTC_TIMESTAMP(6) - INTERVAL 3 HOUR, UNIX_TIMESTAMP() - 10800, 1.25),
             ('fail', UTC_TIMESTAMP(6) - INTERVAL 2 DAY, UTC_TIMESTAMP(6) - INTERVAL 2 DAY, UNIX_TIMESTAMP() - 172800, 1.25)"
        ),
    ] {
        my.execute("SET time_zone = '+00:00'").await.unwrap();
        my.execute(stmt.as_str()).await.unwrap();
    }
    d
}

async fn drop_database(my: &mut MySqlConnection, d: &str) {
    let _ = my.execute(format!("DROP DATABASE {d}").as_str()).await;
}

fn settings() -> String {
    format!("sources:\n  my: {{ url: \"{MY_URL}\", statement_timeout: 2s }}\n")
}

#[tokio::test]
async fn freshness_verdicts_for_each_column_type() {
    let Some(mut my) = common::mysql().await else {
        return;
    };
    let d = database(&mut my).await;
    let mut checks = String::from("defaults: { source: my }\nchecks:\n");
    for col in ["dt", "ts", "epoch"] {
        for kind in ["fresh", "warn", "fail"] {
            checks.push_str(&format!(
                "  - name: {col}_{kind}\n    freshness: {{ table: {d}.events, column: {col}, filter: \"kind = '{kind}'\", warn_after: 1h, error_after: 6h{} }}\n",
                if col == "epoch" { ", format: epoch_seconds" } else { "" }
            ));
        }
    }
    checks.push_str(&format!(
        "  - name: empty_default\n    freshness: {{ table: {d}.events, column: dt, filter: \"kind = 'none'\", error_after: 1h }}\n\
         \x20 - name: by_query\n    freshness: {{ query: \"SELECT max(ts) FROM {d}.events WHERE kind <> 'fresh'\", warn_after: 1h, error_after: 6h }}\n"
    ));
    let f = Fixture::new(&settings(), &[("my.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    drop_database(&mut my, &d).await;
    for col in ["dt", "ts", "epoch"] {
        for (kind, verdict) in [
            ("fresh", Verdict::Pass),
            ("warn", Verdict::Warn),
            ("fail", Verdict::Fail),
        ] {
            let name = format!("{col}_{kind}");
            assert_eq!(got[&name].verdict, verdict, "{name}: {:?}", got[&name]);
        }
    }
    assert_eq!(got["empty_default"].verdict, Verdict::Fail);
    assert_eq!(
        got["by_query"].verdict,
        Verdict::Warn,
        "{:?}",
        got["by_query"]
    );
    let Observed::Age { age_seconds, .. } = got["ts_fresh"].observed else {
        panic!("{:?}", got["ts_fresh"])
    };
    assert!(
        (540.0..720.0).contains(&age_seconds),
        "10 minutes old, measured {age_seconds}s"
    );
}

#[tokio::test]
async fn row_count_and_sql_checks() {
    let Some(mut my) = common::mysql().await else {
        return;
    };
    let d = database(&mut my).await;
    let checks = format!(
        "defaults: {{ source: my }}\nchecks:\n\
         \x20 - name: count_ok\n    row_count: {{ table: {d}.events, warn_below: 2, error_below: 1 }}\n\
         \x20 - name: count_warn\n    row_count: {{ table: {d}.events, filter: \"kind = 'fresh'\", warn_below: 2, error_below: 1 }}\n\
         \x20 - name: decimal_sum\n    sql: {{ query: \"SELECT sum(amount) FROM {d}.events\", warn_if: \"> 3\", error_if: \"> 10\" }}\n\
         \x20 - name: bad_sql\n    sql: {{ query: \"SELECT nope FROM {d}.events\", error_if: \"> 0\" }}\n"
    );
    let f = Fixture::new(&settings(), &[("my.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    drop_database(&mut my, &d).await;
    assert_eq!(got["count_ok"].verdict, Verdict::Pass);
    assert_eq!(got["count_ok"].observed, Observed::Number { value: 3.0 });
    assert_eq!(got["count_warn"].verdict, Verdict::Warn);
    assert_eq!(
        got["decimal_sum"].verdict,
        Verdict::Warn,
        "{:?}",
        got["decimal_sum"]
    );
    assert_eq!(
        got["decimal_sum"].observed,
        Observed::Number { value: 3.75 }
    );
    assert_eq!(got["bad_sql"].verdict, Verdict::Error);
    assert!(got["bad_sql"]
        .reason
        .as_deref()
        .unwrap()
        .contains("Unknown column 'nope'"));
}

#[tokio::test]
async fn a_query_beyond_statement_timeout_is_an_error_and_others_still_pass() {
    let Some(_my) = common::mysql().await else {
        return;
    };
    let checks = "defaults: { source: my }\nchecks:\n\
        \x20 - name: slow\n    sql: { query: \"SELECT count(*) FROM information_schema.tables t1, information_schema.tables t2 WHERE SLEEP(0.05) = 0\", error_if: \"< 0\" }\n\
        \x20 - name: quick\n    sql: { query: \"SELECT 1\", error_if: \"> 1\" }\n";
    let f = Fixture::new(&settings(), &[("my.yaml", checks)]);
    let (report, got) = run_all(f.plan()).await;
    assert_eq!(got["slow"].verdict, Verdict::Error, "{:?}", got["slow"]);
    let reason = got["slow"].reason.as_deref().unwrap();
    assert!(reason.contains("statement_timeout 2s"), "{reason}");
    assert_eq!(got["quick"].verdict, Verdict::Pass);
    assert!(report.duration.as_secs_f64() < 10.0);
}

#[tokio::test]
async fn checks_cannot_write_to_the_partner_database() {
    let Some(mut my) = common::mysql().await else {
        return;
    };
    let d = database(&mut my).await;
    my.execute(
        format!(
            "CREATE FUNCTION {d}.sneaky() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO {d}.events (kind) VALUES ('written'); RETURN 1; END"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let checks = format!(
        "defaults: {{ source: my }}\nchecks:\n\
         \x20 - name: writes_via_function\n    sql: {{ query: \"SELECT {d}.sneaky()\", error_if: \"> 5\" }}\n\
         \x20 - name: injects_via_filter\n    row_count: {{ table: {d}.events, filter: \"1=1); DELETE FROM {d}.events; SELECT (1\", error_below: 1 }}\n"
    );
    let f = Fixture::new(&settings(), &[("my.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {d}.events"))
        .fetch_one(&mut my)
        .await
        .unwrap();
    drop_database(&mut my, &d).await;
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
async fn naive_datetime_is_read_in_the_source_time_zone() {
    use chrono::TimeZone;
    let Some(mut my) = common::mysql().await else {
        return;
    };
    let d = unique("sw_tz");
    // New York wall time of ten minutes ago, stored without a zone, as a partner in New York
    // writes it.
    let local = chrono_tz::America::New_York
        .from_utc_datetime(&(chrono::Utc::now() - chrono::Duration::minutes(10)).naive_utc())
        .naive_local()
        .format("%Y-%m-%d %H:%M:%S%.6f");
    for stmt in [
        format!("CREATE DATABASE {d}"),
        format!("CREATE TABLE {d}.loads (dt DATETIME(6))"),
        format!("INSERT INTO {d}.loads VALUES ('{local}')"),
    ] {
        my.execute(stmt.as_str()).await.unwrap();
    }
    let settings = format!(
        "sources:\n  my_utc: {{ url: \"{MY_URL}\" }}\n  my_ny: {{ url: \"{MY_URL}\", timezone: America/New_York }}\n"
    );
    let checks = format!(
        "checks:\n\
         \x20 - name: in_new_york\n    source: my_ny\n    freshness: {{ table: {d}.loads, column: dt, warn_after: 1h, error_after: 3h }}\n\
         \x20 - name: read_as_utc\n    source: my_utc\n    freshness: {{ table: {d}.loads, column: dt, warn_after: 1h, error_after: 3h }}\n"
    );
    let f = Fixture::new(&settings, &[("my.yaml", &checks)]);
    let (_, got) = run_all(f.plan()).await;
    drop_database(&mut my, &d).await;
    assert_eq!(
        got["in_new_york"].verdict,
        Verdict::Pass,
        "{:?}",
        got["in_new_york"]
    );
    let Observed::Age { age_seconds, .. } = got["in_new_york"].observed else {
        panic!("{:?}", got["in_new_york"])
    };
    assert!((590.0..660.0).contains(&age_seconds), "{age_seconds}");
    // The same wall time read as UTC is four or five hours older: the zone matters.
    assert_eq!(
        got["read_as_utc"].verdict,
        Verdict::Fail,
        "{:?}",
        got["read_as_utc"]
    );
}
