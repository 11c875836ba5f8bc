//! The alert rules under deploy/ load in Prometheus and fire as their unit tests expect.

mod common;

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus");
    let calls: [&[&str]; 2] = [
        &["check", "rules", "syncwatch-rules.yaml"],
        &["test", "rules", "syncwatch-rules.test.yaml"],
    ];
    for args in calls {
        let out = std::process::Command::new(&promtool)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
