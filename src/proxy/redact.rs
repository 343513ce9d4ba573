//! Redaction of credentials in what the proxy keeps (the recording, the
//! journal, the log): a recording is made to be shared (committed for CI,
//! attached to a bug), and the key it was made with must not travel with it.
//!
//! Pure functions of a name and a value. What counts as a secret is decided
//! by the name alone, so a value that merely looks random is kept, and a
//! header the gateway invents (`X-Gateway-Token`) is caught by its name.
//! A recording is a file made to be shared, so it hides a secret whole
//! (`REDACTED`); what the control API serves over HTTP (the proxy's journal
//! too) shortens it instead, with `server::control::redact`, so a test can still tell
//! which key was sent.

use std::borrow::Cow;

/// What a secret is replaced with.
pub const REDACTED: &str = "REDACTED";

/// Names that are secrets whole (after lower-casing, `_` read as `-`).
const EXACT: [&str; 11] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "key",
    "token",
    "auth",
    "sig",
    "signature",
    "password",
    "secret",
];

/// Parts that make a name a secret wherever they appear in it.
const PARTS: [&str; 9] = [
    "api-key",
    "apikey",
    "accesskey",
    "access-key",
    "token",
    "secret",
    "password",
    "signature",
    "credential",
];

/// Whether a header or query parameter named `name` carries a credential:
/// `Authorization`, `X-Api-Key`, `api_key`, `key`, `token`, `access_token`,
/// `OSSAccessKeyId`, `Signature`, cookies, and the like.
pub fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "-");
    EXACT.contains(&name.as_str()) || name.ends_with("-key") || PARTS.iter().any(|part| name.contains(part))
}

/// A header's value as it may be kept: a secret is replaced, keeping the
/// scheme of an `Authorization` (`Bearer REDACTED`), so a reader still sees
/// which kind of credential was sent.
pub fn header_value<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if !is_secret(name) {
        return Cow::Borrowed(value);
    }
    let lower = name.to_ascii_lowercase();
    if lower == "authorization" || lower == "proxy-authorization" {
        if let Some((scheme, _)) = value.trim().split_once(' ') {
            return Cow::Owned(format!("{scheme} {REDACTED}"));
        }
    }
    Cow::Borrowed(REDACTED)
}

/// A query string as it may be kept: the value of every secret parameter
/// replaced, everything else byte for byte (order, encoding, empty values).
pub fn query(query: &str) -> Cow<'_, str> {
    let secret = |pair: &str| {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        is_secret(&crate::server::http::percent_decode(key))
    };
    if !query.split('&').any(|pair| pair.contains('=') && secret(pair)) {
        return Cow::Borrowed(query);
    }
    let pairs: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if secret(pair) => Cow::Owned(format!("{key}={REDACTED}")),
            _ => Cow::Borrowed(pair),
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}

/// A copy of `headers` with every secret value redacted.
pub fn headers(headers: &hyper::HeaderMap) -> hyper::HeaderMap {
    let mut out = hyper::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let value = match value.to_str() {
            Ok(text) if is_secret(name.as_str()) => header_value(name.as_str(), text)
                .parse()
                .unwrap_or_else(|_| value.clone()),
            _ => value.clone(),
        };
        out.append(name, value);
    }
    out
}

/// A URL or request target with its query redacted.
pub fn target(target: &str) -> Cow<'_, str> {
    match target.split_once('?') {
        Some((path, q)) => match query(q) {
            Cow::Borrowed(_) => Cow::Borrowed(target),
            Cow::Owned(q) => Cow::Owned(format!("{path}?{q}")),
        },
        None => Cow::Borrowed(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "Authorization",
            "X-Api-Key",
            "x_api_key",
            "api_key",
            "apiKey",
            "key",
            "token",
            "access_token",
            "X-Auth-Token",
            "OSSAccessKeyId",
            "Signature",
            "Cookie",
            "Set-Cookie",
            "x-goog-api-key",
            "client_secret",
        ] {
            assert!(is_secret(name), "{name}");
        }
        for name in [
            "Content-Type",
            "task_id",
            "file_id",
            "Prefer",
            "Expires",
            "Host",
            "Accept",
            "keyword",
            "monkey",
        ] {
            assert!(!is_secret(name), "{name}");
        }
    }

    #[test]
    fn header_values_keep_the_scheme() {
        assert_eq!(header_value("Authorization", "Bearer sk-123"), "Bearer REDACTED");
        assert_eq!(header_value("authorization", "sk-123"), "REDACTED");
        assert_eq!(header_value("X-Api-Key", "sk-123"), "REDACTED");
        assert_eq!(header_value("Content-Type", "application/json"), "application/json");
    }

    #[test]
    fn queries_keep_everything_but_secrets() {
        assert!(matches!(query("task_id=1&x=%20"), Cow::Borrowed("task_id=1&x=%20")));
        assert_eq!(
            query("task_id=1&api_key=sk-1&key=&flag"),
            "task_id=1&api_key=REDACTED&key=REDACTED&flag"
        );
        assert_eq!(query("api%5Fkey=sk"), "api%5Fkey=REDACTED");
        assert_eq!(
            target("/v.mp4?Expires=1&OSSAccessKeyId=LTAI&Signature=abc%3D"),
            "/v.mp4?Expires=1&OSSAccessKeyId=REDACTED&Signature=REDACTED"
        );
        assert_eq!(target("/minimax/v1/query"), "/minimax/v1/query");
    }
}
