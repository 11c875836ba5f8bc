//! A user with a broken configuration sees every problem at once, each located and explained.

mod common;

use common::Fixture;

const SETTINGS: &str = "\
checks_dir: checks
sources:
  pad:
    url: sqlite:pad.db
  warehouse:
    url: ${SYNCWATCH_TEST_SURELY_UNSET_URL}
    statement_timeout: 30 sec
";

fn problems(settings: &str, checks: &[(&str, &str)]) -> Vec<String> {
    let f = Fixture::new(settings, checks);
    let errors = f.load().expect_err("configuration should be refused");
    let dir = format!("{}/", f.path().display());
    errors
        .0
        .iter()
        .map(|d| d.to_string().replace(&dir, ""))
        .collect()
}

#[test]
fn every_problem_is_reported_at_once_with_location_and_hint() {
    let van = "\
defaults: { source: pad, schedule: \"*/15 * * * *\" }
checks:
  - name: van_contacts_sync
    freshness:
      tabel: van.contacts
      column: updated_at
      warn_after: 2h
      error_after: 6hr
  - name: van_volume
    schedule: \"*/15 * * *\"
    row_count: { table: van.contacts, warn_below: 100, error_below: 1000 }
  - name: van_dupes
    source: pad_warehose
    sql: { query: \"select 1\" }
  - name: van_contacts_sync
    freshness: { table: t, column: c, warn_after: 6h, error_after: 2h }
  - name: no_kind
    timezone: America/New_Yrok
";
    let got = problems(SETTINGS, &[("van.yaml", van)]);
    let want = [
        "checks/van.yaml:4:5: check \"van_contacts_sync\": freshness: missing required field \"table\"",
        "checks/van.yaml:5:7: check \"van_contacts_sync\": freshness: unknown field \"tabel\" (did you mean \"table\"?)",
        "checks/van.yaml:8:20: check \"van_contacts_sync\": freshness.error_after: \"6hr\" unknown unit \"hr\" (try \"6h\")",
        "checks/van.yaml:10:15: check \"van_volume\": schedule: invalid cron expression \"*/15 * * *\": has 4 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 with leading seconds (e.g. \"*/15 * * * *\" (minute hour day-of-month month day-of-week) or \"@hourly\")",
        "checks/van.yaml:11:51: check \"van_volume\": row_count.warn_below: warn_below (100) must be greater than error_below (1000) (a check warns first, then fails)",
        "checks/van.yaml:13:13: check \"van_dupes\": source: unknown source \"pad_warehose\" (sources defined in settings: pad, warehouse)",
        "checks/van.yaml:14:5: check \"van_dupes\": sql: missing required field \"error_if\" (set warn_if, error_if or both, e.g. error_if: \"> 0\")",
        "checks/van.yaml:15:11: check \"van_contacts_sync\": name: duplicate check name (first defined at checks/van.yaml:3:11; names must be unique across all files)",
        "checks/van.yaml:16:51: check \"van_contacts_sync\": freshness.warn_after: warn_after (6h) must be less than error_after (2h) (a check warns first, then fails)",
        "checks/van.yaml:17:5: check \"no_kind\": no check kind (add one of: freshness, row_count, sql, http)",
        "checks/van.yaml:18:15: check \"no_kind\": timezone: unknown time zone \"America/New_Yrok\" (did you mean \"America/New_York\"?)",
        "syncwatch.yaml:6:10: sources.warehouse.url: environment variable ${SYNCWATCH_TEST_SURELY_UNSET_URL} is not set (export SYNCWATCH_TEST_SURELY_UNSET_URL=… or write ${SYNCWATCH_TEST_SURELY_UNSET_URL:-default})",
        "syncwatch.yaml:7:24: sources.warehouse.statement_timeout: \"30 sec\" unknown unit \"sec\" (try \"30s\")",
    ];
    for w in &want {
        assert!(
            got.contains(&w.to_string()),
            "missing:\n  {w}\ngot:\n  {}",
            got.join("\n  ")
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "unexpected extra problems:\n  {}",
        got.join("\n  ")
    );
}

#[test]
fn yaml_syntax_errors_are_located_and_other_files_still_checked() {
    let broken = "checks:\n  - name: a\n    freshness: { table: t, column: c\n";
    let other = "checks:\n  - name: b\n    source: pad\n    row_count: { table: t, error_below: 1, colour: red }\n";
    let got = problems(
        "sources:\n  pad: { url: \"sqlite:x.db\" }\n",
        &[("a.yaml", broken), ("b.yaml", other)],
    );
    assert_eq!(got.len(), 2, "{got:#?}");
    // Located at the brace that is never closed, not at the end of the file.
    assert_eq!(
        got[0],
        "checks/a.yaml:3:16: YAML syntax error: this flow collection is never closed (close each [ with ] and each { with })"
    );
    assert_eq!(
        got[1],
        "checks/b.yaml:4:44: check \"b\": row_count: unknown field \"colour\" (expected one of: error_above, error_below, filter, table, warn_above, warn_below)"
    );
}

#[test]
fn missing_required_fields_are_named() {
    let checks = "checks:\n  - name: a\n    source: pad\n    freshness:\n      table: t\n      warn_after: 1h\n  - freshness: { table: t, column: c, error_after: 1h }\n    source: pad\n";
    let got = problems(
        "sources:\n  pad: { url: \"sqlite:x.db\" }\n",
        &[("a.yaml", checks)],
    );
    assert_eq!(
        got,
        vec![
            "checks/a.yaml:4:5: check \"a\": freshness: missing required field \"column\" (the timestamp column, e.g. `updated_at`)".to_string(),
            "checks/a.yaml:7:5: check \"checks[1]\": missing required field \"name\"".to_string(),
        ]
    );
}

#[test]
fn a_good_configuration_loads_with_defaults_applied() {
    let settings = "sources:\n  pad: { url: \"sqlite:pad.db\", timezone: Europe/Berlin }\ndefaults: { labels: { team: data } }\n";
    let checks = "defaults: { source: pad, timezone: America/New_York, labels: { partner: van } }\nchecks:\n  - name: a\n    labels: { tier: critical }\n    freshness: { table: van.contacts, column: updated_at, error_after: 1d }\n";
    let f = Fixture::new(settings, &[("van.yaml", checks)]);
    let plan = f.plan();
    let c = &plan.checks[0];
    assert_eq!(c.source.as_deref(), Some("pad"));
    assert_eq!(c.schedule.expr(), "*/15 * * * *");
    assert_eq!(c.schedule.timezone(), chrono_tz::America::New_York);
    let labels: Vec<(&str, &str)> = c
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        vec![("partner", "van"), ("team", "data"), ("tier", "critical")]
    );
    assert_eq!(
        plan.settings.sources["pad"].timezone,
        chrono_tz::Europe::Berlin
    );
}

#[test]
fn validate_exits_78_and_lists_all_problems_on_stderr() {
    let checks = "checks:\n  - name: a\n    source: nope\n    sql: { query: \"select 1\", error_if: \"> 0\" }\n  - name: b\n    source: pad\n    freshness: { table: t, column: c, warn_after: 2 }\n";
    let f = Fixture::new(
        "sources:\n  pad: { url: \"sqlite:x.db\" }\n",
        &[("a.yaml", checks)],
    );
    let out = common::bin()
        .arg("validate")
        .arg("--config")
        .arg(f.settings_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "check \"a\": source: unknown source \"nope\" (sources defined in settings: pad)"
        ),
        "{err}"
    );
    assert!(
        err.contains("check \"b\": freshness.warn_after: \"2\" has no unit (try \"2m\" or \"2s\")"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("2 problems found"), "{err}");
    // `run` refuses the same configuration with the same exit code, before touching anything.
    let out = common::bin()
        .arg("run")
        .arg("--config")
        .arg(f.settings_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(
        !f.path().join(".syncwatch").exists(),
        "no store is created for a bad configuration"
    );
}

#[test]
fn on_failure_routes_restarts_and_dependencies_are_validated() {
    let settings = "sources:\n  pad: { url: \"sqlite:x.db\" }\n\
        notifiers:\n  pd: { type: pagerduty, routing_key: short }\n  slack: { type: slak, webhook_url: \"https://hooks.example/x\" }\n\
        routes:\n  prog_lead: [pd, slakc]\n";
    let checks = "defaults: { source: pad }\nchecks:\n\
        \x20 - name: a\n    depends_on: [b, nope]\n    row_count: { table: t, error_below: 1 }\n    on_failure: { page: prog_led, restart: { kubernetes: { namespace: Syncs }, settle: 5 } }\n\
        \x20 - name: b\n    depends_on: [a]\n    row_count: { table: t, error_below: 1 }\n";
    let got = problems(settings, &[("a.yaml", checks)]);
    let want = [
        "checks/a.yaml:3:5: check \"a\": depends_on: depends_on forms a loop back to this check (while both fail, neither would page)",
        "checks/a.yaml:3:5: check \"a\": depends_on: unknown check \"nope\"",
        "checks/a.yaml:6:25: check \"a\": on_failure.page: unknown route \"prog_led\" (did you mean \"prog_lead\"?)",
        "checks/a.yaml:6:46: check \"a\": on_failure.restart.kubernetes: missing required field \"deployment\"",
        "checks/a.yaml:6:71: check \"a\": on_failure.restart.kubernetes.namespace: \"Syncs\" is not a Kubernetes namespace name (lowercase letters, digits, - and .)",
        "checks/a.yaml:6:88: check \"a\": on_failure.restart.settle: \"5\" has no unit (try \"5m\" or \"5s\")",
        "checks/a.yaml:7:5: check \"b\": depends_on: depends_on forms a loop back to this check (while both fail, neither would page)",
        "syncwatch.yaml:4:39: notifiers.pd.routing_key: a PagerDuty routing key has 32 characters, this one 5 (copy the Integration Key of an Events API v2 integration)",
        "syncwatch.yaml:5:18: notifiers.slack.type: unknown notifier type \"slak\" (use pagerduty, slack, statuspage, webhook or console)",
        "syncwatch.yaml:7:19: routes.prog_lead[1]: unknown notifier \"slakc\" (did you mean \"slack\"?)",
    ];
    for w in &want {
        assert!(
            got.contains(&w.to_string()),
            "missing:\n  {w}\ngot:\n  {}",
            got.join("\n  ")
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "unexpected extra problems:\n  {}",
        got.join("\n  ")
    );
}

#[test]
fn incident_settings_are_checked_with_the_rest() {
    let settings = "\
sources: { pad: { url: \"sqlite:pad.db\" } }
notifiers:
  hook: { type: slack, webhook_url: \"https://hooks.slack.example/T/B/X\" }
  status: { type: statuspage, api_key: k, page_id: p, components: { a: c1 }, fail_status: total_outage }
incidents:
  ack_timeout: 15 minutes
  escalate: secondry
  call: { slack: hook }
  raised_route: pager
api: { token: short }
inbound:
  pagerduty: { secrets: [] }
  slack: { signing_secret: \"${SYNCWATCH_TEST_SURELY_UNSET_SECRET}\", bot: hook, buttons: yes }
";
    let got = problems(settings, &[]);
    let want = [
        "syncwatch.yaml:4:91: notifiers.status.fail_status: \"total_outage\" is not a failing component status (use partial_outage or major_outage)",
        "syncwatch.yaml:6:16: incidents.ack_timeout: \"15 minutes\" unknown unit \"minutes\" (try \"15m\")",
        "syncwatch.yaml:7:13: incidents.escalate: unknown route \"secondry\" (define it under `routes:` or `notifiers:` in the settings)",
        "syncwatch.yaml:8:18: incidents.call.slack: \"hook\" is not a Slack bot notifier (channels are created with the Web API: name a notifier with bot_token and channel)",
        "syncwatch.yaml:9:17: incidents.raised_route: unknown route \"pager\" (define it under `routes:` or `notifiers:` in the settings)",
        "syncwatch.yaml:10:15: api.token: the API token is shorter than 16 characters (generate one, e.g. `openssl rand -hex 24`)",
        "syncwatch.yaml:12:25: inbound.pagerduty.secrets: no secrets listed (list the webhook subscription's secret: secrets: [\"${PD_WEBHOOK_SECRET}\"])",
        "syncwatch.yaml:13:28: inbound.slack.signing_secret: environment variable ${SYNCWATCH_TEST_SURELY_UNSET_SECRET} is not set (export SYNCWATCH_TEST_SURELY_UNSET_SECRET=… or write ${SYNCWATCH_TEST_SURELY_UNSET_SECRET:-default})",
        "syncwatch.yaml:13:74: inbound.slack.bot: \"hook\" is not a Slack bot notifier (name a notifier with bot_token and channel: its token opens the Resolve dialog)",
        "syncwatch.yaml:13:80: inbound.slack: unknown field \"buttons\" (expected one of: bot, signing_secret)",
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn durations_beyond_what_a_field_can_hold_are_refused_not_a_panic_later() {
    // Regression: a jitter of millions of weeks made `serve` panic in the scheduler, and a
    // statement_timeout of weeks panicked in the SQLite driver and failed every PostgreSQL check.
    // The settings' problems come first (a bad source explains the problems of its checks).
    let settings = "sources:\n  pad:\n    url: sqlite:pad.db\n    statement_timeout: 3w\n    connect_timeout: 1d\ndrain_timeout: 9999999w\n";
    let checks = "\
checks:
  - name: far
    source: pad
    jitter: 9999999w
    freshness: { table: t, column: c, warn_after: 99999w, error_after: 999999w }
";
    let got = problems(settings, &[("c.yaml", checks)]);
    let want = [
        "syncwatch.yaml:4:24: sources.pad.statement_timeout: \"3w\" is longer than statement_timeout allows (1d) (PostgreSQL and SQLite keep it in milliseconds in a 32-bit integer; a check that runs for hours is not a check)",
        "syncwatch.yaml:5:22: sources.pad.connect_timeout: \"1d\" is longer than connect_timeout allows (10m) (a source that takes longer to answer is down)",
        "syncwatch.yaml:6:16: drain_timeout: \"9999999w\" is longer than drain_timeout allows (1h) (a delivery is bounded by its requests' timeouts)",
        "checks/c.yaml:4:13: check \"far\": jitter: \"9999999w\" is longer than jitter allows (1h) (jitter spreads a schedule's starts within a run's own period)",
        "checks/c.yaml:5:51: check \"far\": freshness.warn_after: \"99999w\" is longer than warn_after allows (3650d) (ten years is the longest duration syncwatch accepts)",
        "checks/c.yaml:5:72: check \"far\": freshness.error_after: \"999999w\" is longer than error_after allows (3650d) (ten years is the longest duration syncwatch accepts)",
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn only_regular_files_are_read_and_bad_bytes_are_located() {
    // Regression: a FIFO in the checks folder made validate block forever, and a link to
    // /dev/zero grew to gigabytes; unreadable files were reported at syncwatch.yaml:1:1.
    let f = Fixture::new("sources:\n  pad: { url: \"sqlite:pad.db\" }\n", &[]);
    let checks = f.path().join("checks");
    let ok =
        "checks:\n  - name: fine\n    source: pad\n    row_count: { table: t, error_below: 1 }\n";
    std::fs::write(checks.join("real.txt"), ok).unwrap();
    std::os::unix::fs::symlink(checks.join("real.txt"), checks.join("linked.yaml")).unwrap();
    let fifo = checks.join("fifo.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", checks.join("zero.yaml")).unwrap();
    std::os::unix::fs::symlink(checks.join("gone.txt"), checks.join("dangling.yaml")).unwrap();
    std::fs::write(checks.join("big.yaml"), vec![b'#'; 5 << 20]).unwrap();
    std::fs::write(checks.join("latin1.yaml"), b"checks:\n  - name: caf\xe9\n").unwrap();
    std::fs::write(checks.join("nul.yaml"), b"checks:\n  - na\0me: x\n").unwrap();
    let started = std::time::Instant::now();
    let errors = f.load().expect_err("refused");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "no blocking read"
    );
    let dir = format!("{}/", f.path().display());
    let got: Vec<String> = errors
        .0
        .iter()
        .map(|d| d.to_string().replace(&dir, ""))
        .collect();
    let want = [
        "checks/big.yaml:1:1: is larger than 4 MiB (split the checks over several files)",
        "checks/dangling.yaml:1:1: cannot read it: No such file or directory (os error 2) (it is a link to a file that does not exist)",
        "checks/fifo.yaml:1:1: is not a regular file (a folder, FIFO, socket or device) (syncwatch reads only regular files and links to them)",
        "checks/latin1.yaml:2:14: is not UTF-8 (byte 0xe9) (save the file as UTF-8)",
        "checks/nul.yaml:2:7: contains a NUL byte (is it a binary file?)",
        "checks/zero.yaml:1:1: is not a regular file (a folder, FIFO, socket or device) (syncwatch reads only regular files and links to them)",
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn accepted_before_but_useless_a_cron_that_never_fires_and_a_negative_row_bound() {
    let checks = "\
checks:
  - name: feb31
    source: pad
    schedule: \"0 0 31 2 *\"
    row_count: { table: t, error_below: -5 }
";
    let got = problems(
        "sources:\n  pad: { url: \"sqlite:pad.db\" }\n",
        &[("c.yaml", checks)],
    );
    let want = [
        "checks/c.yaml:4:15: check \"feb31\": schedule: invalid cron expression \"0 0 31 2 *\": never fires (no such date, e.g. February 31st) (e.g. \"*/15 * * * *\" (minute hour day-of-month month day-of-week) or \"@hourly\")",
        "checks/c.yaml:5:41: check \"feb31\": row_count.error_below: error_below is negative (-5); a row count never is (use 0 or more)",
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn check_names_and_variables_say_which_rule_failed() {
    let long = "a".repeat(129);
    let settings = "sources:\n  pad: { url: \"sqlite:pad.db\" }\n  w1: { url: \"${WAREHOUSE_URL\" }\n  w2: { url: \"${}\" }\n  w3: { url: \"${WAREHOUSE URL}\" }\n";
    let checks = format!(
        "defaults: {{ source: pad }}\nchecks:\n  - name: {long}\n    row_count: {{ table: t, error_below: 1 }}\n  - name: \"-dash\"\n    row_count: {{ table: t, error_below: 1 }}\n  - name: \"sp ace\"\n    row_count: {{ table: t, error_below: 1 }}\n"
    );
    let got = problems(settings, &[("c.yaml", &checks)]);
    let want = [
        "syncwatch.yaml:3:14: sources.w1.url: \"${\" is not closed (close it: ${NAME})".to_string(),
        "syncwatch.yaml:4:14: sources.w2.url: \"${}\" names no environment variable (write ${NAME}, e.g. ${WAREHOUSE_URL})".to_string(),
        "syncwatch.yaml:5:14: sources.w3.url: \"${WAREHOUSE URL}\" is not an environment variable name (names are letters, digits and _, not starting with a digit)".to_string(),
        format!("checks/c.yaml:3:11: check \"{long}\": name: check name \"{long}\" is 129 characters long; at most 128 (names appear in metrics, Slack channel names, file names and commands; e.g. \"van_contacts_sync\")"),
        "checks/c.yaml:5:11: check \"-dash\": name: check name \"-dash\" must start with a letter or a digit (names appear in metrics, Slack channel names, file names and commands; e.g. \"van_contacts_sync\")".to_string(),
        "checks/c.yaml:7:11: check \"sp ace\": name: check name \"sp ace\" has characters other than letters, digits, _ - . : (names appear in metrics, Slack channel names, file names and commands; e.g. \"van_contacts_sync\")".to_string(),
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn an_override_that_ends_before_it_starts_and_a_member_listed_twice_are_refused() {
    let settings = "\
sources:
  pad: { url: \"sqlite:pad.db\" }
oncall:
  timezone: UTC
  handoff: { weekday: monday, time: \"10:00\" }
  start: \"2026-01-05\"
  members: [ { name: ana }, { name: ben }, { name: ana } ]
  overrides:
    - { member: ben, from: \"2026-02-10 09:00\", until: \"2026-02-09 09:00\" }
";
    let checks =
        "checks:\n  - name: c\n    source: pad\n    row_count: { table: t, error_below: 1 }\n";
    let got = problems(settings, &[("c.yaml", checks)]);
    let want = [
        "syncwatch.yaml:7:44: oncall.members[2]: \"ana\" is listed twice (each member once; the rotation goes round them in order)",
        "syncwatch.yaml:9:55: oncall.overrides[0].until: the override ends before it starts (`until` must be after `from`)",
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn a_settings_silence_that_matches_no_check_is_refused() {
    let settings = "\
sources:
  pad: { url: \"sqlite:pad.db\" }
silences:
  - { check: \"van_*\", from: \"2026-01-01T00:00:00Z\", until: \"2026-01-02T00:00:00Z\", reason: maintenance }
  - { check: van_contcts_sync, from: \"2026-01-01T00:00:00Z\", until: \"2026-01-02T00:00:00Z\", reason: typo }
";
    let checks = "checks:\n  - name: van_contacts_sync\n    source: pad\n    row_count: { table: t, error_below: 1 }\n";
    let got = problems(settings, &[("c.yaml", checks)]);
    let want = [
        "syncwatch.yaml:5:14: silences[1].check: \"van_contcts_sync\" matches no check (did you mean \"van_contacts_sync\"?)",
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn numbers_out_of_range_and_unencoded_passwords_name_the_real_problem() {
    let settings = "\
sources:
  pad: { url: \"sqlite:pad.db\" }
  hashed: { url: \"postgres://app:pa#ss@db.internal:5432/x\" }
  cut: { url: \"mysql://app:a/b@db.internal/x\" }
  percent: { url: \"postgres://app:100%sure@db.internal/x\" }
";
    let checks = "\
defaults: { source: pad }
checks:
  - name: huge_float
    row_count: { table: t, error_below: 1e400 }
  - name: quoted
    row_count: { table: t, error_below: \"5\" }
  - name: many_after
    freshness: { table: t, column: ts, error_after: 1h }
    on_failure: { after: 4294967296 }
";
    let got = problems(settings, &[("c.yaml", checks)]);
    let joined = got.join("\n");
    for secret in ["pa#ss", "a/b", "100%sure"] {
        assert!(!joined.contains(secret), "a password was echoed: {joined}");
    }
    let want = [
        "syncwatch.yaml:3:18: sources.hashed.url: the user name or password holds an unencoded `#`, which cuts the URL in the wrong place (percent-encode special characters in the user name and password: # → %23, ? → %3F, / → %2F, @ → %40, % → %25)",
        "syncwatch.yaml:4:15: sources.cut.url: the user name or password holds an unencoded `/`, which cuts the URL in the wrong place (percent-encode special characters in the user name and password: # → %23, ? → %3F, / → %2F, @ → %40, % → %25)",
        "syncwatch.yaml:5:19: sources.percent.url: the user name or password has a `%` that does not start a %XX escape: write % as %25 (percent-encode special characters in the user name and password: # → %23, ? → %3F, / → %2F, @ → %40, % → %25)",
        "checks/c.yaml:4:41: check \"huge_float\": row_count.error_below: 1e400 is beyond the range of numbers (about ±1.8e308)",
        "checks/c.yaml:6:41: check \"quoted\": row_count.error_below: expected a number, found the text \"5\" (write the number without quotes)",
        "checks/c.yaml:9:26: check \"many_after\": on_failure.after: 4294967296 is too large: at most 4294967295",
    ];
    assert_eq!(got, want);

    // An integer past 64 bits cannot even be read into YAML's model: one located message.
    let got = problems(
        "sources:\n  pad: { url: \"sqlite:pad.db\" }\nhttp_concurrency: 99999999999999999999\n",
        &[],
    );
    assert_eq!(
        got,
        ["syncwatch.yaml:3:19: http_concurrency: the number 99999999999999999999 is too large (numbers must fit in 64 bits) (quote it if it is meant as text)"]
    );
}

#[test]
fn a_file_wrong_throughout_stops_at_a_hundred_problems_and_says_how_many_checks_are_left() {
    let mut checks = String::from("checks: [");
    for i in 0..300 {
        checks.push_str(&format!("{{name: c{i}, source: pad, bogus: 1}}, "));
    }
    checks.push_str("]\n");
    let got = problems(
        "sources:\n  pad: { url: \"sqlite:pad.db\" }\n",
        &[("big.yaml", &checks)],
    );
    // Each check has two problems (no kind, an unknown field): 50 checks make the hundred.
    assert_eq!(got.len(), 101, "{:#?}", &got[95..]);
    let last = got.last().unwrap();
    assert!(
        last.ends_with("checks[50]: 250 more checks in this file not checked: over 100 problems so far (fix the problems above first)"),
        "{last}"
    );
}

#[test]
fn unknown_owners_areas_nobody_covers_and_bad_partner_contacts_are_refused() {
    let settings = "\
sources:
  pad: { url: \"sqlite:pad.db\" }
oncall:
  timezone: UTC
  handoff: { weekday: monday, time: \"10:00\" }
  start: \"2026-01-05\"
  members: [ { name: ana, expertise: [billing] }, { name: ben, expertise: [crm] } ]
partners:
  van: { name: Vandelay, contacts: [U0PARTNER, \"pat@example.com\", \"#partnerships\"] }
";
    let checks = "\
defaults: { area: bil∫ing }
checks:
  - name: a
    source: pad
    row_count: { table: t, error_below: 1 }
  - name: b
    source: pad
    area: crm
    owners: [ana, bne]
    row_count: { table: t, error_below: 1 }
  - name: c
    source: pad
    area: billing
    row_count: { table: t, error_below: 1 }
  - name: d
    source: pad
    area: payroll
    row_count: { table: t, error_below: 1 }
";
    let got = problems(settings, &[("c.yaml", checks)]);
    let want = [
        "syncwatch.yaml:9:67: partners.van.contacts[2]: \"#partnerships\" is neither a Slack user id nor an email address (write a Slack user id (U0123ABC) or an email)",
        "checks/c.yaml:1:19: defaults.area: no member of the rotation covers area \"bil∫ing\" (did you mean \"billing\"?)",
        "checks/c.yaml:9:19: check \"b\": owners[1]: \"bne\" is not a member of the rotation (members: ana, ben)",
        "checks/c.yaml:17:11: check \"d\": area: no member of the rotation covers area \"payroll\" (add `expertise: [payroll]` to the members of `oncall` who know it)",
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn expected_loads_calendars_and_maintenance_windows_are_checked_with_the_rest() {
    let settings = "\
sources:
  pad: { url: \"sqlite:pad.db\" }
calendars:
  us_holidays: { ics: holidays.ics }
  shutdown: { dates: [2026-08-10, 2026-8-32] }
  missing: { ics: nowhere.ics }
silences:
  - { check: \"van_*\", schedule: \"0 2 * * 0\", duration: 0s, reason: maintenance }
  - { check: \"van_*\", schedule: \"0 2 * * 0\", duration: 2h, from: \"2026-01-01T00:00:00Z\", reason: mixed }
";
    let checks = "\
checks:
  - name: van_a
    source: pad
    freshness: { table: t, column: ts, expect: { schedule: \"0 6 * * 1-5\", deadline: \"0 9 * * *\", grace: 2h } }
  - name: van_b
    source: pad
    freshness: { table: t, column: ts, expect: { schedule: \"0 6 * * 1-5\", grace: 1h, warn_grace: 2h, skip: [us_holiday] } }
  - name: van_c
    source: pad
    freshness: { table: t, column: ts, expect: { deadline: \"0 10 * * *\", grace: 1h } }
  - name: van_d
    source: pad
    freshness: { table: t, column: ts, expect: { schedule: \"0 6 * * 1-5\", grace: 40d } }
  - name: van_ok
    source: pad
    freshness: { table: t, column: ts, expect: { schedule: \"0 6 * * 1-5\", timezone: America/New_York, grace: 2h, skip: [shutdown] } }
";
    let f = common::Fixture::new(settings, &[("c.yaml", checks)]);
    std::fs::write(
        f.path().join("holidays.ics"),
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nSUMMARY:Standup\nDTSTART:20261225T090000Z\nEND:VEVENT\nEND:VCALENDAR\n",
    )
    .unwrap();
    let errors = f.load().expect_err("refused");
    let dir = format!("{}/", f.path().display());
    let got: Vec<String> = errors
        .0
        .iter()
        .map(|d| d.to_string().replace(&dir, ""))
        .collect();
    let want = [
        "syncwatch.yaml:5:35: calendars.shutdown.dates[1]: \"2026-8-32\" is not a date (write YYYY-MM-DD, e.g. 2026-12-25)",
        "syncwatch.yaml:6:19: calendars.missing.ics: cannot use \"nowhere.ics\": cannot read it: No such file or directory (os error 2)",
        "syncwatch.yaml:8:56: silences[0].duration: \"0s\" is zero (use a positive duration)",
        "syncwatch.yaml:9:60: silences[1].from: `from` goes with a one-off silence; this one repeats on `schedule` (a recurring window is schedule + duration (+ timezone))",
        "checks/c.yaml:4:48: check \"van_a\": freshness.expect: has both schedule and deadline (`schedule` + `grace` for load times, or `deadline` + `window` for a window that ends at a deadline)",
        "checks/c.yaml:7:98: check \"van_b\": freshness.expect.warn_grace: warn_grace (2h) must be less than the grace (1h) (a late load warns first, then fails)",
        "checks/c.yaml:7:109: check \"van_b\": freshness.expect.skip[0]: unknown calendar \"us_holiday\" (did you mean \"us_holidays\"?)",
        "checks/c.yaml:10:40: check \"van_c\": freshness.expect: missing required field \"window\"",
        "checks/c.yaml:10:81: check \"van_c\": freshness.expect.grace: `grace` goes with `schedule` (with `deadline`, the data must land in the `window` before it)",
        "checks/c.yaml:13:82: check \"van_d\": freshness.expect.grace: \"40d\" is longer than grace allows (31d) (a load later than a month is missed; use error_after for longer)",
        "holidays.ics:3:1: event 1 (Standup): DTSTART \"20261225T090000Z\" is a date and time, not a day (calendars hold all-day events, e.g. DTSTART;VALUE=DATE:20261225)",
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn a_dbt_projects_jinja_it_cannot_read_is_located_in_the_dbt_file_and_select_picks_sources() {
    let settings = "\
sources:
  pad: { url: \"sqlite:pad.db\" }
dbt:
  - { project: shop_dbt, source: pad, select: [\"shop*\"] }
  - { project: shop_dbt, source: pda }
  - { project: nowhere, source: pad }
";
    let f = common::Fixture::new(settings, &[("c.yaml", "checks: []\n")]);
    let dir = f.path().join("shop_dbt/models");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        f.path().join("shop_dbt/dbt_project.yml"),
        "name: shop\nvars: { t: orders }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src.yml"),
        "version: 2\nsources:\n  - name: shop\n    schema: \"{{ target.schema }}\"\n    loaded_at_field: at\n    freshness: { error_after: { count: 1, period: day } }\n    tables:\n      - name: a\n        identifier: \"{{ var('missing') }}\"\n      - name: b\n        loaded_at_field: \"{{ env_var('SW_SURELY_UNSET_VAR') }}\"\n      - name: c\n        identifier: \"{{ var('t') }}\"\n  - name: other\n    schema: \"{{ nonsense() }}\"\n    loaded_at_field: at\n    freshness: { error_after: { count: 1, period: fortnight } }\n    tables: [ { name: x } ]\n",
    )
    .unwrap();
    let errors = f.load().expect_err("refused");
    let dir = format!("{}/", f.path().display());
    let got: Vec<String> = errors
        .0
        .iter()
        .map(|d| d.to_string().replace(&dir, ""))
        .collect();
    let has = |needle: &str| got.iter().any(|p| p.contains(needle));
    assert!(
        has("syncwatch.yaml:5:34: dbt[1].source: unknown source \"pda\""),
        "{got:#?}"
    );
    assert!(
        has("syncwatch.yaml:6:5: dbt[2]: no dbt_project.yml in"),
        "{got:#?}"
    );
    assert!(has("shop_dbt/models/src.yml:4:13: sources[0].schema: unsupported Jinja `{{ target.schema }}`"), "{got:#?}");
    assert!(has("shop_dbt/models/src.yml:9:21: sources[0].tables[0].identifier: var('missing') is not in the project's `vars:`"), "{got:#?}");
    assert!(has("shop_dbt/models/src.yml:11:26: sources[0].tables[1].loaded_at_field: env_var('SW_SURELY_UNSET_VAR'): the environment variable is not set"), "{got:#?}");
    // `other` is not selected: its problems are not read. A value in error is reported once.
    assert!(!has("nonsense") && !has("fortnight"), "{got:#?}");
    assert_eq!(got.len(), 5, "{got:#?}");
    // Without the bad entries and Jinja, the good table loads as a check named SOURCE.TABLE.
    std::fs::write(
        f.path().join("syncwatch.yaml"),
        "sources:\n  pad: { url: \"sqlite:pad.db\" }\ndbt:\n  - { project: shop_dbt, source: pad, select: [\"shop*\"], defaults: { schedule: \"0 * * * *\", labels: { team: data } } }\n",
    )
    .unwrap();
    std::fs::write(
        f.path().join("shop_dbt/models/src.yml"),
        "version: 2\nsources:\n  - name: shop\n    loaded_at_field: at\n    freshness: { error_after: { count: 1, period: day } }\n    tables:\n      - name: c\n        identifier: \"{{ var('t') }}\"\n",
    )
    .unwrap();
    let plan = f.load().expect("loads");
    assert_eq!(plan.checks.len(), 1);
    let c = &plan.checks[0];
    assert_eq!(c.name, "shop.c");
    assert_eq!(c.schedule.expr(), "0 * * * *");
    assert_eq!(c.labels.get("team").map(String::as_str), Some("data"));
    assert!(
        c.defined_at.contains("shop_dbt/models/src.yml:7:"),
        "{}",
        c.defined_at
    );
    let v = f.cli(&["plan", "--format", "json"]);
    assert!(v.stdout.contains("\"name\": \"shop.c\""), "{}", v.stdout);
}

/// Check files are decoded side by side: a name taken in an earlier file is still reported in
/// the later one, pointing at the earlier file, and every file's problems arrive.
#[test]
fn files_decoded_side_by_side_still_report_duplicates_across_files_and_every_problem() {
    let texts: Vec<(String, String)> = (0..40)
        .map(|i| {
            // Files 3 and 37 both name their first check "twice".
            let name = if i == 3 || i == 37 { "twice".to_string() } else { format!("c{i}") };
            (
                format!("f{i:02}.yaml"),
                format!(
                    "defaults: {{ source: pad }}\nchecks:\n  - name: {name}\n    row_count: {{ table: t{i}, error_below: 1 }}\n  - name: bad{i}\n    row_count: {{ tabel: t }}\n"
                ),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let got = problems(
        "checks_dir: checks\nsources:\n  pad: { url: \"sqlite:pad.db\" }\n",
        &files,
    );
    assert!(
        got.contains(&"checks/f37.yaml:3:11: check \"twice\": name: duplicate check name (first defined at checks/f03.yaml:3:11; names must be unique across all files)".to_string()),
        "got:\n  {}",
        got.join("\n  ")
    );
    // Each file's bad check: no table, no bound, an unknown field; 120 in all, and the duplicate.
    for i in 0..40 {
        let unknown = format!("checks/f{i:02}.yaml:6:18: check \"bad{i}\": row_count: unknown field \"tabel\" (did you mean \"table\"?)");
        assert!(got.contains(&unknown), "missing {unknown}");
    }
    assert_eq!(got.len(), 121, "got:\n  {}", got.join("\n  "));
}

/// One source's batches never lock more than 1,000 tables at once (PostgreSQL's shared lock
/// table serves every session of the partner's server): a batch_size past it is refused with
/// the largest that fits, and the default shrinks for many connections.
#[test]
fn batches_times_connections_stay_under_the_lock_bound() {
    let check = "defaults: { source: pad }\nchecks:\n  - name: c\n    row_count: { table: t, error_below: 1 }\n";
    let got = problems(
        "checks_dir: checks\nsources:\n  pad: { url: \"sqlite:pad.db\", max_connections: 16, batch_size: 625 }\n",
        &[("c.yaml", check)],
    );
    assert_eq!(
        got,
        ["syncwatch.yaml:3:65: sources.pad.batch_size: batch_size 625 × max_connections 16 = 10000 tables locked at once is too many (at most 1000 tables at once: PostgreSQL's shared lock table serves every session of the server; e.g. batch_size: 62)"]
    );
    let plan = |settings: &str| Fixture::new(settings, &[("c.yaml", check)]).plan();
    let batch = |settings: &str| plan(settings).settings.sources["pad"].batch_size;
    assert_eq!(
        batch("checks_dir: checks\nsources:\n  pad: { url: \"sqlite:pad.db\" }\n"),
        50
    );
    assert_eq!(
        batch("checks_dir: checks\nsources:\n  pad: { url: \"sqlite:pad.db\", max_connections: 64 }\n"),
        15
    );
    assert_eq!(
        batch("checks_dir: checks\nsources:\n  pad: { url: \"sqlite:pad.db\", max_connections: 4, batch_size: 250 }\n"),
        250
    );
    assert_eq!(
        batch("checks_dir: checks\nsources:\n  pad: { url: \"sqlite:pad.db\", max_connections: 2000 }\n"),
        1
    );
}
