//! syncwatch: declarative freshness and health checks for data syncs.
//!
//! Data flow: `config::load` → `Plan` → `tick` (what is due → `pass`: `probe` → `judge` →
//! `respond` (record, decide, render, enqueue) → incident timers → `notify::dispatch`) →
//! `report`. The CLI (`src/cli/`) and the daemon are thin shells over these.

pub mod app;
pub mod calendar;
pub mod check;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod duration;
pub mod expect;
pub mod inbound;
pub mod incidents;
pub mod judge;
pub mod metrics;
pub mod notify;
pub mod oncall;
pub mod partners;
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
pub mod slo;
pub mod stats;
pub mod status_page;
pub mod store;
pub mod streaks;
pub mod tick;
pub mod verdict;
pub mod web;
