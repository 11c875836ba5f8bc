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

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");

/// Every Kubernetes manifest under deploy/ that has a built-in schema (ServiceMonitor and
/// PrometheusRule are CRDs: checked below instead).
const MANIFESTS: &[&str] = &[
    "base/namespace.yaml",
    "base/serviceaccount.yaml",
    "base/secret.yaml",
    "cronjob/cronjob.yaml",
    "cronjob/pvc.yaml",
    "daemon/deployment.yaml",
    "daemon/service.yaml",
    "daemon/poddisruptionbudget.yaml",
    "rbac/restart-rbac.yaml",
];

#[test]
fn manifests_pass_the_kubernetes_schemas_offline() {
    let Some(validate) = common::tool("kubernetes-validate") else {
        return;
    };
    let out = std::process::Command::new(validate)
        .arg("--strict")
        .args(MANIFESTS)
        .current_dir(DEPLOY)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.matches(" passed for resource ").count(),
        12,
        "every resource was checked:\n{text}"
    );
}

fn yaml(path: &str) -> serde_json::Value {
    yaml_serde::from_str(&std::fs::read_to_string(format!("{DEPLOY}/{path}")).unwrap()).unwrap()
}

#[test]
fn the_prometheus_rule_resource_holds_the_same_rules_as_the_rules_file() {
    let crd = yaml("prometheus/prometheusrule.yaml");
    assert_eq!(crd["kind"], "PrometheusRule");
    assert_eq!(
        crd["spec"]["groups"],
        yaml("prometheus/syncwatch-rules.yaml")["groups"]
    );
    let monitor = yaml("daemon/servicemonitor.yaml");
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"],
        yaml("daemon/service.yaml")["metadata"]["labels"]
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "http");
}

#[test]
fn the_rbac_is_what_k8s_render_makes_of_the_check_files() {
    let out = common::bin()
        .args([
            "k8s",
            "render",
            "--config",
            &format!("{DEPLOY}/base/config/syncwatch.yaml"),
        ])
        .env("PAD_WAREHOUSE_URL", "postgres://render@db/pad")
        .env("PD_ROUTING_KEY", "0123456789abcdef0123456789abcdef")
        .env("SLACK_WEBHOOK_URL", "https://hooks.example/x")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read_to_string(format!("{DEPLOY}/rbac/restart-rbac.yaml")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "regenerate deploy/rbac/restart-rbac.yaml with `syncwatch k8s render`"
    );
    // Least privilege: get and patch on the named Deployments only.
    let roles: Vec<serde_json::Value> = committed
        .split("---\n")
        .skip(1)
        .map(|d| yaml_serde::from_str(d).unwrap())
        .filter(|d: &serde_json::Value| d["kind"] == "Role")
        .collect();
    let syncs = roles
        .iter()
        .find(|r| r["metadata"]["namespace"] == "syncs")
        .unwrap();
    assert_eq!(
        syncs["rules"][0]["resourceNames"],
        serde_json::json!(["ngp-sync", "van-sync"])
    );
    assert_eq!(
        syncs["rules"][0]["verbs"],
        serde_json::json!(["get", "patch"])
    );
}
