//! Who may use the HTTP API: the token for changes, and whether reads need it too.

/// Who may use the HTTP API.
#[derive(Debug, Clone, Default)]
pub struct ApiAccess {
    /// Bearer token for changes (ack, resolve); without it, changes are refused.
    pub token: Option<secrecy::SecretString>,
    /// Whether reads (/api/..., the status page) need the token too.
    pub protect_reads: bool,
}
