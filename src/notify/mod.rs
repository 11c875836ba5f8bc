//! Pages and notices: what is said (`message`, and `incident` for acknowledgement, escalation
//! and calls), how one message is delivered (`deliver`), and the dispatcher that empties the
//! outbox (`dispatch`).

pub mod deliver;
pub mod dispatch;
pub mod incident;
mod incident_io;
pub mod message;
