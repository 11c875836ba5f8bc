//! syncwatch: declarative freshness and health checks for data syncs.
//!
//! Data flow: `config::load` → `Plan` → `pass::run` (due checks → `probe` → `judge` → `store`)
//! → `report`. The CLI in `main.rs` is a thin layer over these.

pub mod app;
pub mod check;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod duration;
pub mod incidents;
pub mod judge;
pub mod metrics;
pub mod notify;
pub mod oncall;
pub mod pass;
pub mod policy;
pub mod probe;
pub mod report;
pub mod respond;
pub mod restart;
pub mod retro;
pub mod schedule;
pub mod scheduler;
pub mod secret;
pub mod shard;
pub mod silence;
pub mod status_page;
pub mod store;
pub mod tick;
pub mod verdict;
pub mod web;
