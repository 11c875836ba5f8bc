//! Pages and notices: what is said (`message`), how one message is delivered (`deliver`),
//! and the dispatcher that empties the outbox (`dispatch`).

pub mod deliver;
pub mod dispatch;
pub mod message;
