//! The one `App`: plan, store, source pools and HTTP client, built once and passed by reference.

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
}

pub struct App {
    pub plan: Plan,
    by_name: HashMap<String, usize>,
    pub store: Store,
    pub probes: Probes,
}

impl App {
    /// Opens the store (migrating it) and prepares lazy pools; connects to no partner database yet.
    pub async fn build(plan: Plan) -> Result<Arc<App>, AppError> {
        let store = Store::open(&plan.settings.store).await?;
        let mut sources = HashMap::new();
        for (name, spec) in &plan.settings.sources {
            sources.insert(name.clone(), SourcePool::new(spec.clone())?);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        let by_name = plan
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        Ok(Arc::new(App {
            plan,
            by_name,
            store,
            probes: Probes { sources, http },
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
