//! A partner database as the settings name it: engine, URL (a secret), caps and timeouts.
//! Built by `config`; `probe::pool` connects to it.

use chrono_tz::Tz;
use secrecy::SecretString;
use std::time::Duration;

/// The database engines a source can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    MySql,
    Sqlite,
}

impl Engine {
    pub fn label(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }
}

/// A named partner database connection.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: String,
    pub engine: Engine,
    /// Full connection URL (a secret: it may hold a password).
    pub url: SecretString,
    /// Host, port and database only: safe to print.
    pub display: String,
    pub max_connections: u32,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    /// Time zone of timestamps stored without one.
    pub timezone: Tz,
    /// How many `table` + `column` freshness checks go in one statement (1: none batched).
    /// It bounds the tables one transaction locks.
    pub batch_size: usize,
}

/// The default `max_connections`.
pub const MAX_CONNECTIONS: u32 = 4;

/// The default `batch_size` (lowered when `max_connections` is high: see [`LOCKED_TABLES`]).
pub const BATCH_SIZE: usize = 50;

/// At most this many tables locked at once by one source's batches (`batch_size` ×
/// `max_connections`). Each table read takes a lock entry for it and one for each index the
/// planner opens, in PostgreSQL's shared lock table, which holds about 64 × max_connections
/// entries (6,400 on defaults) for every session of the server: 16 connections × 625 tables
/// filled it here ("out of shared memory" for the partner's own queries too). 1,000 tables
/// (~2,000 entries with an index each) leave most of a default table to everyone else.
pub const LOCKED_TABLES: usize = 1000;
