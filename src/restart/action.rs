//! The restart a check's `on_failure` asks for, and how to reach the Kubernetes API.

use crate::secret::SecretUrl;
use secrecy::SecretString;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Restart {
    pub action: RestartAction,
    /// Wait this long after a restart, then re-check.
    pub settle: Duration,
    /// No second restart of the same target within this time (whichever check asks).
    pub cooldown: Duration,
    /// At most this many restarts by this check per `window`.
    pub max_restarts: u32,
    pub window: Duration,
}

/// The closed set of ways to restart a sync.
#[derive(Debug, Clone)]
pub enum RestartAction {
    /// `kubectl rollout restart deployment/<deployment> -n <namespace>`.
    Kubernetes {
        namespace: String,
        deployment: String,
    },
    /// An HTTP call, e.g. triggering a job in a workflow platform.
    Webhook {
        url: SecretUrl,
        method: reqwest::Method,
        headers: Vec<(String, SecretString)>,
        body: Option<String>,
    },
    /// A program and its arguments, run without a shell.
    Command(Vec<String>),
}

impl RestartAction {
    /// The thing restarted; cooldowns are per target.
    pub fn target(&self) -> String {
        match self {
            RestartAction::Kubernetes {
                namespace,
                deployment,
            } => format!("kubernetes:{namespace}/{deployment}"),
            RestartAction::Webhook { url, .. } => format!("webhook:{}", url.redacted()),
            // The program by its file name: `/opt/bin/reload-van --all` is `reload-van --all`.
            RestartAction::Command(argv) => {
                let words: Vec<&str> = argv
                    .iter()
                    .enumerate()
                    .map(|(i, w)| match i {
                        0 => std::path::Path::new(w)
                            .file_name()
                            .and_then(|f| f.to_str())
                            .unwrap_or(w),
                        _ => w.as_str(),
                    })
                    .collect();
                format!("command:{}", words.join(" "))
            }
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            RestartAction::Kubernetes { .. } => "kubernetes",
            RestartAction::Webhook { .. } => "webhook",
            RestartAction::Command(_) => "command",
        }
    }
}

/// How to reach the Kubernetes API for rollout restarts.
#[derive(Debug, Clone)]
pub struct KubeSpec {
    pub api_url: url::Url,
    pub token: Option<SecretString>,
    pub ca_file: Option<std::path::PathBuf>,
}
