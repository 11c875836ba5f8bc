//! `syncwatch doctor` against real servers: a read-only role is reported as such (exit 0), a
//! role that could write is named with what would let it (exit 1), an unreachable source wins
//! (exit 2), and no password is ever printed.

mod common;

use common::{bin, unique, Fixture, MY_URL, PG_URL};
use serde_json::Value;
use sqlx::Executor;

fn doctor(f: &Fixture) -> (Option<i32>, Value) {
    let out = bin()
        .args(["doctor", "--format", "json", "--config"])
        .arg(f.settings_path())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc)
}

const CHECKS: &str =
    "checks:\n  - name: anything\n    source: a\n    row_count: { table: t, error_below: 1 }\n";

fn source<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

#[tokio::test]
async fn read_only_roles_pass_and_writers_are_named() {
    let (Some(mut pg), Some(mut my)) = (common::pg().await, common::mysql().await) else {
        return;
    };
    let role = unique("sw_ro");
    pg.execute(format!("CREATE ROLE {role} LOGIN").as_str())
        .await
        .unwrap();
    my.execute(format!("CREATE USER '{role}'@'%'").as_str())
        .await
        .unwrap();
    my.execute(format!("GRANT SELECT ON test.* TO '{role}'@'%'").as_str())
        .await
        .unwrap();
    let f = Fixture::new("", &[]);
    let lite = f.path().join("partner.db");
    common::sqlite_partner(&lite, "CREATE TABLE t (a);").await;
    let ro_pg = PG_URL.replace("postgres@", &format!("{role}@"));
    let ro_my = MY_URL.replace("root@", &format!("{role}@"));
    let readers = format!(
        "sources:\n  a: {{ url: \"{ro_pg}\" }}\n  b: {{ url: \"{ro_my}\" }}\n  c: {{ url: \"sqlite:{}\" }}\n",
        lite.display()
    );
    let f1 = Fixture::new(&readers, &[("c.yaml", CHECKS)]);
    let (code, doc) = doctor(&f1);
    let writers = format!("sources:\n  a: {{ url: \"{PG_URL}\" }}\n  b: {{ url: \"{MY_URL}\" }}\n");
    let f2 = Fixture::new(&writers, &[("c.yaml", CHECKS)]);
    let (code2, doc2) = doctor(&f2);
    let _ = pg.execute(format!("DROP ROLE {role}").as_str()).await;
    let _ = my.execute(format!("DROP USER '{role}'@'%'").as_str()).await;

    assert_eq!(code, Some(0), "{doc:#}");
    for name in ["a", "b", "c"] {
        let s = source(&doc, name);
        assert_eq!(s["reachable"], true, "{s}");
        assert_eq!(s["could_write"], false, "{s}");
        assert!(s["version"].as_str().is_some_and(|v| !v.is_empty()), "{s}");
        assert!(s["latency_ms"].as_f64().is_some(), "{s}");
    }
    assert_eq!(source(&doc, "a")["statement_timeout"], "30s");
    assert_eq!(source(&doc, "a")["time_zone"], "UTC");

    assert_eq!(code2, Some(1), "{doc2:#}");
    let a = source(&doc2, "a");
    assert_eq!(a["could_write"], true);
    assert!(
        a["write_access"][0]
            .as_str()
            .unwrap()
            .starts_with("superuser"),
        "{a}"
    );
    let b = source(&doc2, "b");
    assert_eq!(b["could_write"], true);
    assert!(
        b["write_access"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("ALL PRIVILEGES on *.*")),
        "{b}"
    );
}

#[test]
fn an_unreachable_source_is_exit_2_and_keeps_its_password() {
    let settings = "sources:\n  a: { url: \"postgres://u:hunter2-doctor@127.0.0.1:1/x\", connect_timeout: 1s }\n";
    let f = Fixture::new(settings, &[("c.yaml", CHECKS)]);
    let out = bin()
        .args(["doctor", "--config"])
        .arg(f.settings_path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("reachable          NO: cannot connect to"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}
