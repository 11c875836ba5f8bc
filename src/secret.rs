//! Values that may carry credentials, redacted wherever they are shown.

use std::fmt;

/// A URL that may carry credentials: shown as scheme://host/path only.
#[derive(Clone)]
pub struct SecretUrl(pub url::Url);

impl SecretUrl {
    /// The URL without user info, query or fragment, fit for logs.
    pub fn redacted(&self) -> String {
        let u = &self.0;
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            port,
            u.path()
        )
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.redacted())
    }
}
