//! The one `App`: plan, store, source pools and HTTP client, built once and passed by reference.

use crate::clock::Clock;
use crate::config::Plan;
use crate::probe::{pool::PoolError, Probes, SourcePool};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("Kubernetes CA {path}: {reason}")]
    KubeCa { path: String, reason: String },
}

/// A client for the Kubernetes API (rollout restarts).
pub struct Kube {
    pub client: reqwest::Client,
    pub base: String,
    pub token: Option<secrecy::SecretString>,
}

pub struct App {
    pub plan: Plan,
    pub kube: Option<Kube>,
    by_name: HashMap<String, usize>,
    pub store: Store,
    pub probes: Probes,
    /// When each paced notifier (Statuspage: 1 request/s) may send next.
    pub pace: tokio::sync::Mutex<HashMap<String, tokio::time::Instant>>,
    /// The clock every step reads (runs, records, deliveries): the system's, or a virtual one
    /// that follows paused tokio time in tests.
    pub clock: Clock,
    /// This process, as it signs its outbox claims: `host/pid/start`, so a restarted process
    /// on the same host can tell its dead predecessor's claims from a live neighbour's.
    pub owner: String,
}

impl App {
    /// Opens the store (migrating it) and prepares lazy pools; connects to no partner database yet.
    pub async fn build(plan: Plan) -> Result<Arc<App>, AppError> {
        App::build_with_clock(plan, Clock::System).await
    }

    /// `build`, reading time from `clock`.
    pub async fn build_with_clock(plan: Plan, clock: Clock) -> Result<Arc<App>, AppError> {
        let store = Store::open(&plan.settings.store).await?;
        let mut sources = HashMap::new();
        for (name, spec) in &plan.settings.sources {
            sources.insert(name.clone(), SourcePool::new(spec.clone())?);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        let kube = match &plan.settings.kubernetes {
            Some(k) => Some(kube_client(k)?),
            None => None,
        };
        let by_name = plan
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        Ok(Arc::new(App {
            plan,
            kube,
            by_name,
            store,
            probes: Probes { sources, http },
            pace: tokio::sync::Mutex::new(HashMap::new()),
            clock,
            owner: owner(),
        }))
    }

    /// Position of a check in the plan.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub async fn close(&self) {
        for s in self.probes.sources.values() {
            s.close().await;
        }
        self.store.close().await;
    }
}

fn kube_client(k: &crate::restart::action::KubeSpec) -> Result<Kube, AppError> {
    let mut b =
        reqwest::Client::builder().user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &k.ca_file {
        let bad = |reason: String| AppError::KubeCa {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        b = b.add_root_certificate(
            reqwest::Certificate::from_pem(&pem).map_err(|e| bad(e.to_string()))?,
        );
    }
    Ok(Kube {
        client: b.build()?,
        base: k.api_url.as_str().to_string(),
        token: k.token.clone(),
    })
}

/// `host/pid/start-ms` for this process (the host from HOSTNAME, as Kubernetes sets it).
fn owner() -> String {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| chrono::Utc::now().timestamp_millis());
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "syncwatch".into());
    format!("{host}/{}/{start}", std::process::id())
}
