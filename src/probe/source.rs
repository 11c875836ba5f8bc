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

/// The default `batch_size`.
pub const BATCH_SIZE: usize = 50;
