//! A hostile check author against real PostgreSQL, MariaDB and SQLite partner databases:
//! every attempt to write, to leave the read-only transaction, or to leave state on a pooled
//! connection is an `error` whose reason starts with "refused:", and the database (and the
//! server's file system) is verified unchanged after each engine's table of attempts.
//! Every SQL text below is valid SQL as the server would read it if syncwatch sent it as
//! plain text, so a refusal comes from syncwatch's safeguards, not from a syntax error.

mod common;

use common::{unique, Fixture, MY_URL, PG_URL};
use sqlx::{Connection, Executor, SqliteConnection};
use std::collections::HashMap;
use std::sync::Arc;
use syncwatch::app::App;
use syncwatch::pass::{self, Selection};
use syncwatch::verdict::{Outcome, Verdict};

/// Where a case's SQL goes.
enum Via {
    /// `row_count.filter` on the fixture table.
    Filter(String),
    /// `freshness.query`.
    Query(String),
    /// `sql.query`.
    Sql(String),
}

struct Case {
    name: &'static str,
    via: Via,
    /// Text the reason must contain (after "refused:", unless the case says otherwise).
    expect: &'static str,
}

fn case(name: &'static str, via: Via, expect: &'static str) -> Case {
    Case { name, via, expect }
}

/// A YAML double-quoted scalar.
fn yq(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn checks_yaml(source: &str, table: &str, cases: &[Case]) -> String {
    let mut y = format!("defaults: {{ source: {source} }}\nchecks:\n");
    for c in cases {
        let body = match &c.via {
            Via::Filter(f) => format!(
                "row_count: {{ table: {table}, filter: {}, error_below: 1 }}",
                yq(f)
            ),
            Via::Query(q) => format!("freshness: {{ query: {}, error_after: 100d }}", yq(q)),
            Via::Sql(q) => format!("sql: {{ query: {}, error_if: \"< -1\" }}", yq(q)),
        };
        y.push_str(&format!("  - name: {}\n    {body}\n", c.name));
    }
    y
}

/// Runs every case once and keeps the App (and its pools) alive for the caller's checks.
async fn run(settings: &str, checks: &str) -> (Arc<App>, HashMap<String, Outcome>) {
    let f = Fixture::new(settings, &[("hostile.yaml", checks)]);
    let plan = f.plan();
    let names: Vec<String> = plan.checks.iter().map(|c| c.name.clone()).collect();
    let app = App::build(plan).await.expect("app builds");
    let report = pass::run(app.clone(), &Selection::All, chrono::Utc::now())
        .await
        .expect("pass runs");
    let got = report
        .results
        .iter()
        .map(|r| (names[r.index].clone(), r.outcome.clone()))
        .collect();
    (app, got)
}

fn assert_refused(cases: &[Case], got: &HashMap<String, Outcome>) {
    let mut wrong = Vec::new();
    for c in cases {
        let o = &got[c.name];
        let reason = o.reason.as_deref().unwrap_or("");
        let want_refused = c.expect != "statement_timeout";
        if o.verdict != Verdict::Error
            || (want_refused && !reason.starts_with("refused:"))
            || !reason.contains(c.expect)
        {
            wrong.push(format!(
                "{}: {} {reason:?} (wanted error containing {:?})",
                c.name, o.verdict, c.expect
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "not refused as expected:\n{}",
        wrong.join("\n")
    );
    if std::env::var_os("SHOW_REASONS").is_some() {
        for c in cases {
            eprintln!("{}: {:?}", c.name, got[c.name].reason);
        }
    }
}

fn marker(dir: &std::path::Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[tokio::test]
async fn postgres_refuses_every_write_and_leaves_nothing_on_the_session() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let s = unique("hostile");
    pg.execute(
        format!(
            "CREATE SCHEMA {s};
             CREATE TABLE {s}.t (id int, updated_at timestamptz);
             INSERT INTO {s}.t VALUES (1, now() - interval '10 minutes');
             CREATE SEQUENCE {s}.seq;
             CREATE FUNCTION {s}.sneaky() RETURNS bigint LANGUAGE sql AS
               $$ INSERT INTO {s}.t VALUES (66, now()); SELECT 1::bigint $$;"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The server runs as another user: a file it could create must be in a folder it may write.
    let pwned = format!("/tmp/{}", unique("sw_pwned_pg"));
    let sleeper = unique("sw_sleeper");
    let ins = format!("INSERT INTO {s}.t VALUES (99, now())");
    let cases = vec![
        case(
            "chain_filter",
            Via::Filter(format!("1=1); {ins}; SELECT (1")),
            "one statement",
        ),
        case(
            "chain_query",
            Via::Query(format!(
                "SELECT max(updated_at) FROM {s}.t); {ins}; SELECT (now()"
            )),
            "one statement",
        ),
        case(
            "commit_and_reopen",
            Via::Filter(format!(
                "1=1); COMMIT; BEGIN READ WRITE; {ins}; COMMIT; BEGIN READ ONLY; SELECT (1"
            )),
            "one statement",
        ),
        case(
            "rollback_then_write",
            Via::Filter(format!("1=1); ROLLBACK; {ins}; SELECT (1")),
            "one statement",
        ),
        case(
            "set_transaction_statement",
            Via::Filter(format!(
                "1=1); SET TRANSACTION READ WRITE; {ins}; SELECT (1"
            )),
            "one statement",
        ),
        case(
            "set_transaction_function",
            Via::Filter("set_config('transaction_read_only', 'off', true) = 'off'".into()),
            "read-only",
        ),
        case(
            "data_modifying_cte",
            Via::Sql(format!(
                "WITH d AS (DELETE FROM {s}.t RETURNING 1) SELECT count(*) FROM d"
            )),
            "data-modifying",
        ),
        case(
            "nextval",
            Via::Filter(format!("nextval('{s}.seq') > 0")),
            "read-only",
        ),
        case(
            "setval",
            Via::Filter(format!("setval('{s}.seq', 100) > 0")),
            "read-only",
        ),
        case(
            "writing_function",
            Via::Sql(format!("SELECT {s}.sneaky()")),
            "read-only",
        ),
        case(
            "advisory_lock",
            Via::Filter("pg_advisory_lock(424242) IS NOT NULL".into()),
            "advisory lock",
        ),
        case(
            "advisory_lock_then_error",
            // CASE fixes the order: the lock is taken, then the row fails.
            Via::Filter(
                "CASE WHEN pg_advisory_lock(424243) IS NOT NULL THEN 1/(id - id) ELSE 0 END = 1"
                    .into(),
            ),
            "advisory lock",
        ),
        case(
            "set_config_session",
            Via::Filter("set_config('statement_timeout', '0', false) IS NOT NULL".into()),
            "session settings",
        ),
        case(
            "set_session_statement",
            Via::Filter("1=1); SET SESSION statement_timeout = 0; SELECT (1".into()),
            "one statement",
        ),
        case(
            "copy_to_program",
            Via::Filter(format!(
                "1=1); COPY (SELECT 1) TO PROGRAM 'touch {pwned}'; SELECT (1"
            )),
            "one statement",
        ),
        case(
            "beyond_statement_timeout",
            Via::Sql(format!("SELECT count(*) FROM pg_sleep(30) /* {sleeper} */")),
            "statement_timeout",
        ),
    ];
    let settings = format!(
        "sources:\n  pg: {{ url: \"{PG_URL}\", statement_timeout: 1s, max_connections: 2 }}\n"
    );
    let (app, got) = run(&settings, &checks_yaml("pg", &format!("{s}.t"), &cases)).await;

    // While the pools are still open: no lock, no running query, no open transaction left.
    let locks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid IN (424242, 424243)",
    )
    .fetch_one(&mut pg)
    .await
    .unwrap();
    let running: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
    )
    .bind(&sleeper)
    .fetch_one(&mut pg)
    .await
    .unwrap();
    let in_tx: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'syncwatch' AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut pg)
    .await
    .unwrap();
    // A check after them on the same pool still runs with the source's settings.
    let probe = "defaults: { source: pg }\nchecks:\n  - name: timeout_in_effect\n    sql: { query: \"SELECT EXTRACT(EPOCH FROM current_setting('statement_timeout')::interval)\", error_if: \"!= 1\" }\n";
    let f = Fixture::new(&settings, &[("probe.yaml", probe)]);
    let after = pass::run(
        App::build(f.plan()).await.unwrap(),
        &Selection::All,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    app.close().await;
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {s}.t"))
        .fetch_one(&mut pg)
        .await
        .unwrap();
    let seq_called: bool = sqlx::query_scalar(&format!("SELECT is_called FROM {s}.seq"))
        .fetch_one(&mut pg)
        .await
        .unwrap();
    let _ = pg
        .execute(format!("DROP SCHEMA {s} CASCADE").as_str())
        .await;

    assert_refused(&cases, &got);
    assert_eq!(rows, 1, "no row was written");
    assert!(!seq_called, "the sequence was not advanced");
    assert_eq!(locks, 0, "no advisory lock outlives its check");
    assert_eq!(running, 0, "the slow query was cancelled on the server");
    assert_eq!(in_tx, 0, "no transaction is left open");
    assert!(
        !std::path::Path::new(&pwned).exists(),
        "COPY TO PROGRAM ran"
    );
    assert_eq!(
        after.results[0].outcome.verdict,
        Verdict::Pass,
        "{:?}",
        after.results[0].outcome
    );
    drop(tmp);
}

#[tokio::test]
async fn mariadb_refuses_every_write_and_leaves_nothing_on_the_session() {
    let Some(mut my) = common::mysql().await else {
        return;
    };
    let d = unique("hostile");
    for sql in [
        format!("CREATE DATABASE {d}"),
        format!("CREATE TABLE {d}.t (id int, updated_at datetime(6))"),
        format!("INSERT INTO {d}.t VALUES (1, UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE)"),
        format!("CREATE SEQUENCE {d}.seq"),
        format!(
            "CREATE FUNCTION {d}.sneaky() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO {d}.t VALUES (66, NOW()); RETURN 1; END"
        ),
    ] {
        my.execute(sql.as_str()).await.unwrap();
    }
    // The server writes files as its own user: /tmp is where it could.
    let pwned = format!("/tmp/{}", unique("sw_pwned_my"));
    let lock = unique("sw_lock");
    let sleeper = unique("sw_sleeper");
    let ins = format!("INSERT INTO {d}.t VALUES (99, NOW())");
    let cases = vec![
        case(
            "chain_filter",
            Via::Filter(format!("1=1); {ins}; SELECT (1")),
            "one statement",
        ),
        case(
            "chain_query",
            Via::Query(format!(
                "SELECT max(updated_at) FROM {d}.t); {ins}; SELECT (NOW()"
            )),
            "one statement",
        ),
        case(
            "commit_and_reopen",
            Via::Filter(format!(
                "1=1); COMMIT; START TRANSACTION READ WRITE; {ins}; COMMIT; SELECT (1"
            )),
            "one statement",
        ),
        case(
            "into_outfile",
            Via::Sql(format!("1) INTO OUTFILE '{pwned}' FROM dual WHERE (1")),
            "did not open",
        ),
        case(
            "into_outfile_in_executable_comment",
            Via::Sql(format!(
                "1 /*!50000 ) INTO OUTFILE '{pwned}' FROM dual WHERE (1 */"
            )),
            "executable comments",
        ),
        case(
            "backslash_quote_escape",
            Via::Sql(format!(
                "'\\' ) INTO OUTFILE '{pwned}' FROM dual WHERE (1 -- '"
            )),
            "backslash",
        ),
        case(
            "nextval",
            Via::Filter(format!("NEXTVAL({d}.seq) > 0")),
            "read-only",
        ),
        case(
            "writing_function",
            Via::Sql(format!("SELECT {d}.sneaky()")),
            "read-only",
        ),
        case(
            "get_lock",
            Via::Filter(format!("GET_LOCK('{lock}', 0) = 1")),
            "GET_LOCK",
        ),
        case(
            "user_variable",
            Via::Filter("(@sw_hostile := 1) = 1".into()),
            "@variables",
        ),
        case(
            "set_session_statement",
            Via::Filter("1=1); SET SESSION max_statement_time = 0; SELECT (1".into()),
            "one statement",
        ),
        case(
            "beyond_statement_timeout",
            Via::Sql(format!("SELECT SLEEP(30) /* {sleeper} */")),
            "statement_timeout",
        ),
    ];
    let settings = format!(
        "sources:\n  my: {{ url: \"{MY_URL}\", statement_timeout: 1s, max_connections: 2 }}\n"
    );
    let (app, got) = run(&settings, &checks_yaml("my", &format!("{d}.t"), &cases)).await;
    let lock_free: i64 = sqlx::query_scalar(&format!("SELECT IS_FREE_LOCK('{lock}')"))
        .fetch_one(&mut my)
        .await
        .unwrap();
    let running: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('%', ?, '%') AND ID <> CONNECTION_ID()",
    )
    .bind(&sleeper)
    .fetch_one(&mut my)
    .await
    .unwrap();
    app.close().await;
    let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {d}.t"))
        .fetch_one(&mut my)
        .await
        .unwrap();
    let _ = my.execute(format!("DROP DATABASE {d}").as_str()).await;

    assert_refused(&cases, &got);
    assert_eq!(rows, 1, "no row was written");
    assert_eq!(lock_free, 1, "no GET_LOCK lock outlives its check");
    assert_eq!(running, 0, "the slow query was stopped on the server");
    assert!(
        !std::path::Path::new(&pwned).exists(),
        "INTO OUTFILE wrote a file"
    );
}

#[tokio::test]
async fn sqlite_refuses_every_statement_after_the_first() {
    let f = Fixture::new("", &[]);
    let db = f.path().join("partner.db");
    common::sqlite_partner(
        &db,
        "CREATE TABLE t (id INTEGER, ts TEXT); INSERT INTO t VALUES (1, datetime('now', '-10 minutes'));",
    )
    .await;
    let attached = marker(f.path(), "attached.db");
    let cases = vec![
        case(
            "chain_filter",
            Via::Filter("1=1); DELETE FROM t; SELECT (1".into()),
            "one statement",
        ),
        case(
            "chain_query",
            Via::Query("SELECT max(ts) FROM t); DELETE FROM t; SELECT (datetime('now')".into()),
            "one statement",
        ),
        case(
            "attach",
            Via::Filter(format!(
                "1=1); ATTACH DATABASE '{attached}' AS x; CREATE TABLE x.y (a); SELECT (1"
            )),
            "one statement",
        ),
        case(
            "pragma_write",
            Via::Filter("1=1); PRAGMA user_version = 7; SELECT (1".into()),
            "one statement",
        ),
        case(
            "commit_and_write",
            Via::Filter(
                "1=1); COMMIT; BEGIN IMMEDIATE; DELETE FROM t; COMMIT; BEGIN; SELECT (1".into(),
            ),
            "one statement",
        ),
        case(
            "temp_table",
            Via::Filter("1=1); CREATE TEMP TABLE z (a); SELECT (1".into()),
            "one statement",
        ),
    ];
    let settings = format!(
        "sources:\n  lite: {{ url: \"sqlite:{}\", max_connections: 1 }}\n",
        db.display()
    );
    let (app, got) = run(&settings, &checks_yaml("lite", "t", &cases)).await;
    app.close().await;
    let mut c = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_refused(&cases, &got);
    assert_eq!(rows, 1, "nothing was deleted");
    assert_eq!(version, 0, "no PRAGMA was written");
    assert!(
        !std::path::Path::new(&attached).exists(),
        "ATTACH created a file"
    );
}

#[tokio::test]
async fn ordinary_user_sql_still_runs_on_every_engine() {
    // The safeguards refuse escapes, not SQL: comments, quotes and parentheses inside a filter.
    let f = Fixture::new("", &[]);
    let db = f.path().join("partner.db");
    common::sqlite_partner(
        &db,
        "CREATE TABLE t (id INTEGER, name TEXT, ts TEXT); INSERT INTO t VALUES (1, 'O''Brien (x)', datetime('now', '-10 minutes'));",
    )
    .await;
    let mut sources = format!("sources:\n  lite: {{ url: \"sqlite:{}\" }}\n", db.display());
    let mut checks = String::from("checks:\n");
    let mut cleanup = None;
    let filter = "name = 'O''Brien (x)' AND (id IN (SELECT 1)) -- a comment; with ) in it";
    checks.push_str(&format!(
        "  - name: lite_ok\n    source: lite\n    row_count: {{ table: t, filter: {}, error_below: 1 }}\n",
        yq(filter)
    ));
    if let Some(mut my) = common::mysql().await {
        let d = unique("ordinary");
        my.execute(format!("CREATE DATABASE {d}").as_str())
            .await
            .unwrap();
        my.execute(format!("CREATE TABLE {d}.t (id int, name text)").as_str())
            .await
            .unwrap();
        my.execute(format!("INSERT INTO {d}.t VALUES (1, 'O''Brien (x)')").as_str())
            .await
            .unwrap();
        sources.push_str(&format!("  my: {{ url: \"{MY_URL}\" }}\n"));
        checks.push_str(&format!(
            "  - name: my_ok\n    source: my\n    row_count: {{ table: {d}.t, filter: {}, error_below: 1 }}\n",
            yq(&format!("{filter}\n # and a hash comment ;)"))
        ));
        cleanup = Some((my, d));
    }
    let f2 = Fixture::new(&sources, &[("ok.yaml", &checks)]);
    let (_, got) = common::run_all(f2.plan()).await;
    if let Some((mut my, d)) = cleanup {
        let _ = my.execute(format!("DROP DATABASE {d}").as_str()).await;
        assert_eq!(got["my_ok"].verdict, Verdict::Pass, "{:?}", got["my_ok"]);
    }
    assert_eq!(
        got["lite_ok"].verdict,
        Verdict::Pass,
        "{:?}",
        got["lite_ok"]
    );
}
