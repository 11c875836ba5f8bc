//! What a user sees from the command line: the demo, run/plan/validate output, exit codes.

mod common;

use common::bin;
use std::process::Output;

fn demo_in(dir: &std::path::Path, args: &[&str]) -> Output {
    bin()
        .arg("demo")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A folder with these settings and one check `a` (a row count on source `p`).
fn folder(settings: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("syncwatch.yaml"), settings).unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("checks/a.yaml"),
        "checks:\n  - name: a\n    source: p\n    row_count: { table: t, error_below: 1 }\n",
    )
    .unwrap();
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn demo_tells_the_whole_story_from_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo_in(dir.path(), &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for header in [
        "CHECK",
        "KIND",
        "SOURCE",
        "VERDICT",
        "OBSERVED",
        "THRESHOLDS",
        "TOOK",
        "RESPONSE",
        "REASON",
    ] {
        assert!(stdout.contains(header), "{stdout}");
    }
    // The first pass: every verdict, and two restarts.
    let first = &stdout[..stdout
        .find("restarted. Waiting")
        .expect("the wait is announced")];
    let line = |name: &str| {
        first
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{stdout}"))
            .to_string()
    };
    assert!(line("van_contacts_sync ").contains("  PASS  "), "{stdout}");
    assert!(line("ngp_donations_sync ").contains("  WARN  "));
    assert!(line("ngp_donations_sync ").contains("(> warn_after 1h)"));
    assert!(line("mobilize_events_sync ").contains("  FAIL  "));
    assert!(line("mobilize_events_sync ").contains("  restart  "));
    assert!(line("actblue_contributions_sync ").contains("  restart  "));
    assert!(line("legacy_signups_sync ").contains("  ERROR  "));
    assert!(line("legacy_signups_sync ").contains("no such table: legacy_signups"));
    assert!(first.contains("7 checks ran in"), "{stdout}");
    assert!(
        first.contains("3 pass, 1 warn, 2 fail, 1 error"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 syncs were restarted. Waiting 2s"),
        "{stdout}"
    );
    // The re-check: one fixed by its restart, one still stale and paged.
    let second = &stdout[stdout.find("restarted. Waiting").unwrap()..];
    let recheck = |name: &str| {
        second
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not re-checked:\n{stdout}"))
            .to_string()
    };
    assert!(
        recheck("mobilize_events_sync ").contains("  PASS  "),
        "{stdout}"
    );
    assert!(
        recheck("mobilize_events_sync ").contains("  notice"),
        "{stdout}"
    );
    assert!(recheck("actblue_contributions_sync ").contains("  FAIL  "));
    assert!(recheck("actblue_contributions_sync ").contains("  page  "));
    // The page, on the console notifier, names the Prog Lead; the fix is a notice, not a page.
    let page = &stderr[stderr
        .find("── console · page")
        .expect("a page on the console")..];
    assert!(page.contains("actblue_contributions_sync"), "{stderr}");
    assert!(
        page.lines()
            .nth(2)
            .is_some_and(|l| l.starts_with("│ Prog Lead: @U0")),
        "{stderr}"
    );
    assert!(page.contains("still failing at the re-check"), "{stderr}");
    assert!(
        stderr.contains("is fresh again after restarting")
            && stderr.matches("console · page").count() == 1,
        "{stderr}"
    );
    // The incident and its retro draft, with the story in its timeline.
    assert!(stdout.contains("$ syncwatch incidents list"), "{stdout}");
    let open: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("1   open"))
        .collect();
    assert_eq!(open.len(), 1, "{stdout}");
    assert!(open[0].contains("actblue_contributions_sync"));
    for step in [
        "first run → fail",
        "restart of command:",
        "re-check after the restart: fail",
        "paged prog_lead; Prog Lead",
        "page delivered to console",
    ] {
        assert!(
            stdout.contains(step),
            "the retro's timeline lacks {step:?}:\n{stdout}"
        );
    }
    // The example is left behind, and works.
    assert!(
        stdout.contains("Wrote syncwatch.yaml and checks/demo.yaml here"),
        "{stdout}"
    );
    assert!(dir.path().join(".syncwatch/demo-partner.db").exists());
    let validate = bin()
        .arg("validate")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        text(&validate.stderr)
    );
    // Again: a fresh story (the demo's state starts empty), and nothing overwritten.
    std::fs::write(dir.path().join("checks/demo.yaml"), "# mine\n").unwrap();
    let again = demo_in(dir.path(), &[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again.stdout).contains("2 syncs were restarted"));
    assert!(!text(&again.stdout).contains("Wrote "));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("checks/demo.yaml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn demo_serve_shows_the_incident_on_the_status_page() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["demo", "--serve", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("The status page, with that incident: ")
                .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        })
        .expect("demo --serve prints its address");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (page, api) = rt.block_on(async {
        let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
        let api: serde_json::Value = reqwest::get(format!("{url}api/incidents"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (page, api)
    });
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(page.contains("Open incidents"), "{page}");
    assert!(page.contains("actblue_contributions_sync"), "{page}");
    assert_eq!(
        api["incidents"][0]["check"], "actblue_contributions_sync",
        "{api}"
    );
    assert_eq!(status.code(), Some(0), "Ctrl-C stops it cleanly");
}

#[test]
fn run_json_fail_on_and_only() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    // Copy the repository's demo settings and checks so `run` works like at the repo root.
    std::fs::copy(
        format!("{repo}/syncwatch.yaml"),
        dir.path().join("syncwatch.yaml"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    std::fs::copy(
        format!("{repo}/checks/demo.yaml"),
        dir.path().join("checks/demo.yaml"),
    )
    .unwrap();
    assert_eq!(
        demo_in(dir.path(), &["--format", "json"]).status.code(),
        Some(0)
    );

    let run = |args: &[&str]| {
        bin()
            .arg("run")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["--all", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stale data is handled by paging, not by failing the Job"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["ran"], 7);
    assert_eq!(
        report["summary"]["fail"], 1,
        "mobilize was fixed by the demo's restart"
    );
    let checks = report["checks"].as_array().unwrap();
    let actblue = checks
        .iter()
        .find(|c| c["name"] == "actblue_contributions_sync")
        .unwrap();
    assert_eq!(actblue["verdict"], "fail");
    assert_eq!(actblue["labels"]["partner"], "demo");
    assert!(actblue["observed"]["age_seconds"].as_f64().unwrap() > 5.0 * 3600.0);
    assert_eq!(
        actblue["consecutive_failures"], 3,
        "the demo ran it and re-checked it before"
    );

    assert_eq!(run(&["--all", "--fail-on", "error"]).status.code(), Some(1));
    assert_eq!(
        run(&["--only", "van_contacts_sync", "--fail-on", "warn"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&[
            "--only",
            "ngp_donations_sync,van_contacts_sync",
            "--fail-on",
            "warn"
        ])
        .status
        .code(),
        Some(1)
    );
    let out = run(&["--only", "van_contact_sync"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr)
        .contains("no check named \"van_contact_sync\" (did you mean \"van_contacts_sync\"?)"));

    // Nothing is due right after a run of every check.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("0 checks ran in"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("7 not due (run with --all to include them)"));

    let out = bin()
        .args(["plan", "--format", "json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mobilize = plan["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mobilize_events_sync")
        .unwrap();
    assert_eq!(mobilize["schedule"], "0 6 * * *");
    assert_eq!(mobilize["timezone"], "America/New_York");
    let next: Vec<&str> = mobilize["next_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(next.len(), 3);
    assert!(
        next.iter()
            .all(|t| t.ends_with("T06:00:00-05:00") || t.ends_with("T06:00:00-04:00")),
        "06:00 in New York, with the offset of that day: {next:?}"
    );
    assert_eq!(
        mobilize["limits"],
        serde_json::json!({"warn_after_seconds": 21600.0, "error_after_seconds": 86400.0, "future_tolerance_seconds": 300.0}),
        "thresholds as numbers for scripts"
    );

    let out = bin()
        .arg("validate")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        "syncwatch.yaml: OK: 7 checks in 1 file, 1 source"
    );
}

#[test]
fn an_unreachable_store_is_a_runtime_error() {
    let dir = folder(
        "store: { url: \"postgres://u:store-secret@127.0.0.1:1/state\", connect_timeout: 1s }\nsources:\n  p: { url: \"sqlite:p.db\" }\n",
    );
    let out = bin().arg("run").current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("postgres://127.0.0.1:1/state"), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    assert!(!err.contains("store-secret"), "{err}");
}

#[test]
fn help_lists_commands_and_exit_codes() {
    let out = bin().arg("--help").output().unwrap();
    let help = text(&out.stdout);
    for word in ["run", "validate", "plan", "demo", "Exit codes", "--config"] {
        assert!(help.contains(word), "{help}");
    }
}

#[test]
fn oncall_shows_the_prog_lead_overrides_and_handoffs_across_dst() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("syncwatch.yaml"),
        "sources:\n  p: { url: \"sqlite:p.db\" }\n\
         oncall:\n  timezone: America/New_York\n  handoff: { weekday: monday, time: \"10:00\" }\n  start: 2026-01-01\n\
         \x20 members: [{ name: ana, slack: U0ANA }, { name: ben }, { name: cho }]\n\
         \x20 overrides: [{ member: cho, from: \"2026-01-06 00:00\", until: \"2026-01-07 00:00\" }]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("checks/a.yaml"),
        "checks:\n  - name: a\n    source: p\n    row_count: { table: t, error_below: 1 }\n",
    )
    .unwrap();
    let oncall = |at: &str| {
        let out = bin()
            .args(["oncall", "--weeks", "2", "--format", "json", "--at", at])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let v = oncall("2026-01-06 12:00");
    assert_eq!(v["on_call"]["prog_lead"]["name"], "cho");
    assert_eq!(v["on_call"]["covering_for"], "ana");
    let v = oncall("2026-03-01T00:00:00Z");
    // 10:00 EST is 15:00Z; after the spring-forward of 8 March, 10:00 EDT is 14:00Z.
    assert_eq!(v["handoffs"][0]["at"], "2026-03-02T15:00:00Z");
    assert_eq!(v["handoffs"][1]["at"], "2026-03-09T14:00:00Z");
    let out = bin()
        .args(["oncall", "--at", "2026-01-06 12:00"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).starts_with("Prog Lead: cho (covering for ana)\nSecondary: ana, ben\n"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn oncall_shows_who_covers_each_area_and_warns_when_no_expert_is_on_call() {
    let f = common::Fixture::new(
        "sources:\n  p: { url: \"sqlite:p.db\" }\n\
         oncall:\n  timezone: UTC\n  handoff: { weekday: monday, time: \"10:00\" }\n  start: 2026-01-05\n\
         \x20 secondary: [ben]\n\
         \x20 members: [ { name: ana, expertise: [billing] }, { name: ben, expertise: [crm, billing] }, { name: cho, expertise: [hr] } ]\n",
        &[(
            "a.yaml",
            "checks:\n  - name: a\n    source: p\n    area: hr\n    row_count: { table: t, error_below: 1 }\n",
        )],
    );
    let run = |format: &[&str]| {
        let out = bin()
            .args(["oncall", "--at", "2026-01-06 12:00", "--config"])
            .arg(f.path().join("syncwatch.yaml"))
            .args(format)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        (text(&out.stdout), text(&out.stderr))
    };
    let (json, _) = run(&["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["on_call"]["prog_lead"]["name"], "ana", "{v}");
    let area = |name: &str| {
        v["areas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["area"] == name)
            .unwrap_or_else(|| panic!("no area {name} in {v}"))
            .clone()
    };
    assert_eq!(
        area("billing")["experts"],
        serde_json::json!(["ana", "ben"])
    );
    assert_eq!(area("billing")["prog_lead"], true);
    assert_eq!(area("crm")["experts"], serde_json::json!(["ben"]));
    assert_eq!(area("crm")["prog_lead"], false);
    assert_eq!(area("hr")["experts"], serde_json::json!([]));
    assert_eq!(area("hr")["off_rota"], serde_json::json!(["cho"]));
    assert_eq!(
        v["warnings"],
        serde_json::json!(["area hr: no expert on call"])
    );
    let (table, stderr) = run(&[]);
    assert!(table.contains("Areas:"), "{table}");
    assert!(table.contains("crm"), "{table}");
    assert!(
        stderr
            .contains("warning: area hr: no expert on call this week (knows it, not on call: cho)"),
        "{stderr}"
    );
}

#[test]
fn piping_output_into_a_reader_that_stops_early_ends_quietly_without_a_panic() {
    use std::io::Read;
    let f = common::Fixture::new(
        "sources:\n  p: { url: \"sqlite:p.db\" }\n\
         oncall:\n  timezone: UTC\n  handoff: { weekday: monday, time: \"10:00\" }\n  start: 2026-01-05\n\
         \x20 members: [ { name: ana }, { name: ben } ]\n",
        &[(
            "a.yaml",
            "checks:\n  - name: a\n    source: p\n    row_count: { table: t, error_below: 1 }\n",
        )],
    );
    // Far more than a pipe buffer holds, so the writer meets the closed pipe.
    let mut child = bin()
        .args(["oncall", "--weeks", "5000", "--format", "json", "--config"])
        .arg(f.settings_path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then `head` closes the pipe
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
}

#[test]
fn validate_warns_about_a_sqlite_source_file_that_does_not_exist() {
    let dir = folder("sources:\n  p: { url: \"sqlite:data/partner.db\" }\n");
    let out = bin()
        .arg("validate")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "a warning, not a problem");
    let missing = dir.path().join("data/partner.db");
    assert_eq!(
        text(&out.stderr).trim(),
        format!(
            "warning: source \"p\": the SQLite file {} does not exist; checks on it will be errors until it does (paths are relative to the settings file)",
            missing.display()
        )
    );
    let json = bin()
        .args(["validate", "--format", "json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["warnings"].as_array().map(Vec::len), Some(1), "{doc}");
    // Once the file is there, no warning.
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(&missing, b"").unwrap();
    let out = bin()
        .arg("validate")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
}

#[test]
fn an_empty_check_list_is_a_warning_and_the_other_commands_still_work() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("syncwatch.yaml"),
        "store: { url: \"sqlite:state.db\" }\n\
         oncall:\n  timezone: UTC\n  handoff: { weekday: monday, time: \"10:00\" }\n  start: 2026-01-05\n  members: [ { name: ana, slack: U1 } ]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("checks/a.yaml"), "checks: []\n").unwrap();
    let cmd = |args: &[&str]| {
        let out = bin().args(args).current_dir(dir.path()).output().unwrap();
        (
            out.status.code(),
            text(&out.stdout).trim().to_string(),
            text(&out.stderr).trim().to_string(),
        )
    };
    let (code, out, err) = cmd(&["validate"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "syncwatch.yaml: OK: 0 checks in 1 file, 0 sources")
    );
    assert!(
        err.starts_with("warning: no checks in checks: nothing will be checked"),
        "{err}"
    );
    let (code, out, _) = cmd(&["run"]);
    assert_eq!(
        code,
        Some(0),
        "a CronJob whose checks were all removed does not fail"
    );
    assert!(out.starts_with("0 checks ran"), "{out}");
    assert_eq!(
        cmd(&["plan"]).1,
        "no checks in checks (`syncwatch validate` says more)"
    );
    let (code, out, _) = cmd(&["oncall"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("Prog Lead: ana"), "{out}");
    assert_eq!(
        cmd(&["silence", "--list"]).1,
        "no current silences (add one with `syncwatch silence NAME --for 2h --reason …`)"
    );
    let help = cmd(&["silence", "--help"]).1;
    for flag in ["--list  ", "--end <ID>", "--format <FORMAT>"] {
        let line = help.lines().find(|l| l.contains(flag)).unwrap_or_default();
        assert!(
            line.trim().len() > flag.len() + 10,
            "{flag} has help: {help}"
        );
    }
}
