//! Coming from dbt: syncwatch reads a dbt project's sources as they are, and gives the verdicts
//! real `dbt source freshness` (dbt-core 1.11 with dbt-postgres) gives on the same tables.

mod common;

use common::{unique, Fixture, PG_URL};
use serde_json::Value;
use sqlx::Executor;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The dbt executable: `SYNCWATCH_DBT`, else `dbt` on PATH; a skip (a failure in CI) without.
fn dbt() -> Option<PathBuf> {
    let found = std::env::var_os("SYNCWATCH_DBT")
        .map(PathBuf::from)
        .or_else(|| common::which("dbt"));
    if found.is_none() {
        if common::required() {
            panic!("dbt is required (SYNCWATCH_REQUIRE_SERVICES=1): set SYNCWATCH_DBT or put dbt on PATH (.ci/run installs dbt-core and dbt-postgres 1.11)");
        }
        eprintln!("SKIPPED: dbt is not installed (set SYNCWATCH_DBT); the differential test needs dbt-core and dbt-postgres 1.11");
    }
    found
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncwatch_gives_the_verdicts_dbt_source_freshness_gives() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let Some(dbt) = dbt() else {
        return;
    };
    let schema = unique("sw_dbt");
    let mut ddl = format!("CREATE SCHEMA {schema};");
    let table = |name: &str, ago: &str| {
        format!("CREATE TABLE {schema}.{name} (id int, kind text, loaded_at timestamptz); INSERT INTO {schema}.{name} VALUES (1, 'new', now() - interval '{ago}');")
    };
    for (name, ago) in [
        ("fresh", "10 minutes"),
        ("aging", "2 hours"),
        ("stale", "7 hours"),
        ("tighter", "40 minutes"),
        ("disabled_fresh", "10 hours"),
        ("orders_raw", "3 hours"),
        ("by_query", "10 minutes"),
        ("\"MixedCase\"", "2 hours"),
        ("folded_table", "2 hours"),
        ("warn_too", "2 hours"),
    ] {
        ddl.push_str(&table(name, ago));
    }
    ddl.push_str(&format!(
        "CREATE TABLE {schema}.filtered (id int, kind text, loaded_at timestamptz);\
         INSERT INTO {schema}.filtered VALUES (1, 'new', now() - interval '5 minutes'), (2, 'old', now() - interval '8 hours');\
         CREATE TABLE {schema}.empty (id int, loaded_at timestamptz);\
         CREATE TABLE {schema}.naive (id int, loaded_at timestamp);\
         CREATE TABLE {schema}.as_date (loaded_at date); INSERT INTO {schema}.as_date VALUES (current_date - 3);\
         CREATE TABLE {schema}.as_epoch (loaded_at bigint); INSERT INTO {schema}.as_epoch VALUES (extract(epoch from now() - interval '2 hours')::bigint);\
         CREATE TABLE {schema}.as_text (loaded_at text); INSERT INTO {schema}.as_text VALUES (to_char((now() - interval '2 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'));\
         CREATE TABLE {schema}.as_infinity (loaded_at timestamptz); INSERT INTO {schema}.as_infinity VALUES ('infinity');\
         INSERT INTO {schema}.naive VALUES (1, (now() AT TIME ZONE 'UTC') - interval '2 hours');"
    ));
    pg.execute(ddl.as_str()).await.unwrap();

    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dbt_project"),
        &project,
    );
    std::fs::write(
        work.path().join("profiles.yml"),
        "sw_dbt:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: 127.0.0.1\n      port: 5432\n      user: postgres\n      password: \"\"\n      dbname: test\n      schema: public\n      threads: 4\n",
    )
    .unwrap();

    // dbt's own verdicts.
    let out = std::process::Command::new(&dbt)
        .args(["source", "freshness", "--project-dir"])
        .arg(&project)
        .arg("--profiles-dir")
        .arg(work.path())
        .arg("--target-path")
        .arg(work.path().join("target"))
        .env("SW_DBT_SCHEMA", &schema)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DO_NOT_TRACK", "1")
        .output()
        .unwrap();
    let sources: Value = serde_json::from_str(
        &std::fs::read_to_string(work.path().join("target/sources.json")).unwrap_or_else(|e| {
            panic!(
                "dbt wrote no sources.json ({e}):\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        }),
    )
    .unwrap();
    let theirs: BTreeMap<String, String> = sources["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = r["unique_id"]
                .as_str()
                .unwrap()
                .trim_start_matches("source.sw_dbt.")
                .to_string();
            (id, r["status"].as_str().unwrap().to_string())
        })
        .collect();

    // syncwatch's, from the same project read as it is.
    let f = Fixture::new(
        &format!(
            "sources:\n  pg: {{ url: \"{PG_URL}\" }}\n\
             dbt:\n  - {{ project: \"{}\", source: pg, defaults: {{ labels: {{ team: data }} }} }}\n",
            project.display()
        ),
        &[("none.yaml", "checks: []\n")],
    );
    let r = f.cli_env(
        &["run", "--all", "--format", "json"],
        &[("SW_DBT_SCHEMA", &schema)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let ours: BTreeMap<String, String> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let verdict = match c["verdict"].as_str().unwrap() {
                "fail" => "error",
                "error" => "runtime error",
                other => other,
            };
            (c["name"].as_str().unwrap().to_string(), verdict.to_string())
        })
        .collect();
    // Where dbt fails or misreads the data, syncwatch gives the verdict the data supports and
    // says what dbt would have said; everywhere else the verdicts are dbt's.
    let differs: BTreeMap<&str, (&str, &str)> = [
        (
            "odd.as_date",
            (
                "error",
                "dbt: runtime error (dbt cannot read a date column's max as a timestamp)",
            ),
        ),
        (
            "odd.as_epoch",
            (
                "warn",
                "dbt: runtime error (dbt does not read epoch numbers)",
            ),
        ),
        (
            "odd.as_text",
            (
                "warn",
                "dbt: runtime error (dbt does not read timestamps stored as text)",
            ),
        ),
        (
            "odd.as_infinity",
            (
                "warn",
                "dbt: pass ('infinity' reads as a time in the future)",
            ),
        ),
    ]
    .into_iter()
    .collect();
    for (name, (verdict, note)) in &differs {
        let c = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == *name)
            .unwrap();
        assert_eq!(ours[*name], *verdict, "{c}");
        assert_eq!(c["differs_from_dbt"], *note, "{c}");
    }
    // A project-level +loaded_at_field does not reach a source table in dbt 1.11: neither checks it.
    assert!(!theirs.contains_key("proj_field.aging") && !ours.contains_key("proj_field.aging"));
    // dbt leaves out what it failed on (a database error) and passes 'infinity'.
    assert_eq!(
        theirs.get("odd.as_infinity").map(String::as_str),
        Some("pass")
    );
    for name in ["odd.as_date", "odd.as_epoch", "odd.as_text"] {
        assert!(!theirs.contains_key(name), "dbt read {name}: {theirs:?}");
    }
    let same: BTreeMap<String, String> = ours
        .iter()
        .filter(|(k, _)| !differs.contains_key(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let theirs_same: BTreeMap<String, String> = theirs
        .iter()
        .filter(|(k, _)| !differs.contains_key(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        same, theirs_same,
        "syncwatch (left) and dbt (right) differ;\nsyncwatch: {}",
        r.stdout
    );
    for c in v["checks"].as_array().unwrap() {
        if !differs.contains_key(c["name"].as_str().unwrap()) {
            assert!(c["differs_from_dbt"].is_null(), "{c}");
        }
    }
    // What the fixture covers, so that a change in either reader shows here.
    let want: BTreeMap<&str, &str> = [
        ("shop.fresh", "pass"),
        ("shop.aging", "warn"),
        ("shop.stale", "error"),
        ("shop.tighter", "warn"),
        ("shop.filtered", "error"),
        ("shop.orders", "warn"),
        ("shop.by_query", "warn"),
        ("shop.empty", "error"),
        ("shop.mixed_case", "warn"),
        ("shop.naive", "warn"),
        ("legacy.stale", "error"),
        ("legacy.aging", "pass"),
        ("legacy.folded", "pass"),
        ("legacy.warn_too", "warn"),
        ("proj_level.aging", "warn"),
        ("proj_level.fresh", "pass"),
        ("forms.both_forms", "error"),
    ]
    .into_iter()
    .collect();
    let ours_ref: BTreeMap<&str, &str> =
        same.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(ours_ref, want);
    // sources.json: `--format dbt-sources`, and `--dbt-sources-out` beside the normal output;
    // it validates against dbt's sources v3 schema (shipped in tests/dbt_schemas, checked
    // offline with the jsonschema package dbt-core itself depends on).
    let out_path = work.path().join("sw-sources.json");
    let r = {
        let mut cmd = common::bin();
        cmd.args([
            "run",
            "--all",
            "--format",
            "dbt-sources",
            "--dbt-sources-out",
        ])
        .arg(&out_path)
        .arg("--config")
        .arg(f.settings_path())
        .env("SW_DBT_SCHEMA", &schema);
        cmd.output().unwrap()
    };
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let printed: Value = serde_json::from_slice(&r.stdout).unwrap();
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    assert_eq!(
        printed["results"].as_array().unwrap().len(),
        21,
        "{printed}"
    );
    assert_eq!(written["results"].as_array().unwrap().len(), 21);
    assert_eq!(
        printed["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/sources/v3.json"
    );
    let status = |doc: &Value, id: &str| {
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unique_id"] == format!("source.sw_dbt.{id}"))
            .map(|r| r["status"].clone())
    };
    for (id, dbt_status) in &theirs {
        if !differs.contains_key(id.as_str()) {
            assert_eq!(
                status(&printed, id),
                Some(Value::from(dbt_status.as_str())),
                "{id}"
            );
        }
    }
    let python = dbt.parent().unwrap().join("python");
    let python = if python.is_file() {
        python
    } else {
        PathBuf::from("python3")
    };
    let schema_file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dbt_schemas/sources-v3.json");
    let check = std::process::Command::new(&python)
        .args(["-c", "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))); print('valid')"])
        .arg(&out_path)
        .arg(&schema_file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "sources.json does not validate against dbt's schema:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // dbt's own sources.json validates against the same schema: the schema is the one dbt writes.
    let check = std::process::Command::new(&python)
        .args(["-c", "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))"])
        .arg(work.path().join("target/sources.json"))
        .arg(&schema_file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // Labels: the dbt names, the project's meta, the source's tags, the defaults'.
    let fresh = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "shop.fresh")
        .unwrap();
    assert_eq!(fresh["labels"]["dbt_source"], "shop");
    assert_eq!(fresh["labels"]["dbt_table"], "fresh");
    assert_eq!(fresh["labels"]["team"], "commerce", "{fresh}");
    assert_eq!(fresh["labels"]["dbt_tags"], "orders");
    let legacy = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "legacy.stale")
        .unwrap();
    assert_eq!(legacy["labels"]["dbt_database"], "test", "{legacy}");
}
