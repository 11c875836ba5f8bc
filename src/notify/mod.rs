//! Pages and notices. `message` decides who is told what for a run, `incident` for incidents
//! (ack, escalation, calls, handoffs); each vendor module (`pagerduty`, `slack`, `statuspage`,
//! `webhook`) renders its own jobs and delivers them; `job` is what the outbox holds; `deliver`
//! routes one job; `dispatch` empties the outbox with retries; `http` classifies answers.

pub mod console;
pub mod context;
pub mod deliver;
pub mod dispatch;
pub(crate) mod http;
pub mod incident;
pub mod job;
pub mod message;
pub mod notifier;
pub mod pagerduty;
pub mod slack;
pub mod statuspage;
pub mod webhook;
