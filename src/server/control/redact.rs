//! Credentials, shortened for display: what the control API serves over
//! HTTP (the journal, the callbacks sent, a task's callback URL) shows a
//! secret as its scheme, a prefix and its last four characters
//! (`Bearer sk-1…ab12`), or nothing of it when it is short (`Bearer …`), so
//! a page or a log that reads the control plane never gets a usable key.
//!
//! Pure: strings in, strings out. What counts as a secret is decided by
//! name: the headers in [`SECRET_HEADERS`] and the query parameters that
//! [`is_secret_param`] recognises.

use std::borrow::Cow;

/// Whether what the control API serves shows credentials redacted (the
/// default) or as sent (`--keep-secrets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Secrets {
    #[default]
    Redact,
    Keep,
}

/// Headers whose values are credentials (lower-case names).
pub const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "x-auth-token",
    "x-access-token",
];

/// A secret shorter than this (in characters) is hidden entirely.
pub const SHORT: usize = 12;
/// Characters shown at the start and at the end of a longer secret.
const PREFIX: usize = 4;
const SUFFIX: usize = 4;
/// What stands for the hidden part.
pub const HIDDEN: &str = "…";

/// Query parameters whose values are credentials, by exact name (after
/// [`normalize`]).
const SECRET_PARAMS: &[&str] = &[
    "key",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "auth",
    "auth_token",
    "refresh_token",
    "id_token",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "pwd",
];

/// Suffixes that make a parameter name a credential's too
/// (`x-amz-security-token`, `openai_api_key`, `webhook_secret`).
const SECRET_SUFFIXES: &[&str] = &["_token", "_secret", "_key", "_apikey", "_password"];

/// Whether the header `name` carries a credential.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Whether the query parameter `name` (decoded) carries a credential.
pub fn is_secret_param(name: &str) -> bool {
    let name = normalize(name);
    SECRET_PARAMS.contains(&name.as_str()) || SECRET_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Lower case, `-` as `_`: `X-Api-Key` and `x_api_key` are one name.
fn normalize(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| if c == '-' { '_' } else { c.to_ascii_lowercase() })
        .collect()
}

/// A secret shortened: its first four and last four characters, or nothing
/// of it under [`SHORT`] characters. An empty value stays empty.
pub fn secret(value: &str) -> String {
    let count = value.chars().count();
    if count == 0 {
        return String::new();
    }
    if count < SHORT {
        return HIDDEN.to_owned();
    }
    let prefix: String = value.chars().take(PREFIX).collect();
    let suffix: String = value.chars().skip(count - SUFFIX).collect();
    format!("{prefix}{HIDDEN}{suffix}")
}

/// A credential of the form `Scheme value` (`Authorization`): the scheme
/// kept, the rest shortened. Without a scheme, all of it is the secret.
pub fn credentials(value: &str) -> String {
    let value = value.trim_start();
    match value.split_once(' ') {
        Some((scheme, rest)) if is_scheme(scheme) => {
            let rest = rest.trim();
            let shown = secret(rest);
            if shown.is_empty() {
                format!("{scheme} {HIDDEN}")
            } else {
                format!("{scheme} {shown}")
            }
        }
        _ => secret(value.trim_end()),
    }
}

/// An auth scheme is a token: letters, digits and a few marks (RFC 9110).
fn is_scheme(word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A `Cookie` header: every cookie's name kept, its value shortened.
pub fn cookies(value: &str) -> String {
    value
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|cookie| match cookie.split_once('=') {
            Some((name, value)) => format!("{name}={}", secret(value)),
            None => secret(cookie),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A header's value as the control API shows it: redacted if `name` is a
/// credential's header, as it is otherwise.
pub fn header<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if !is_secret_header(name) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" => credentials(value),
        "cookie" => cookies(value),
        _ => secret(value.trim()),
    })
}

/// A query string with the values of credential parameters shortened
/// (`key=sk-1…ab12`); untouched (and not copied) when it has none.
pub fn query(query: &str) -> Cow<'_, str> {
    let secret_pair = |pair: &str| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        !value.is_empty() && is_secret_param(&decode(name))
    };
    if !query.split('&').any(secret_pair) {
        return Cow::Borrowed(query);
    }
    let pairs: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| {
            if !secret_pair(pair) {
                return Cow::Borrowed(pair);
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Cow::Owned(format!("{name}={}", secret(&decode(value))))
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}

/// A URL with the password of its user info and its credential query
/// parameters shortened; untouched when it has neither.
pub fn url(url: &str) -> Cow<'_, str> {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (url, None),
    };
    let (base, query_part) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let base = password(base);
    let query_part = query_part.map(query);
    let untouched = matches!(base, Cow::Borrowed(_)) && !matches!(query_part, Some(Cow::Owned(_)));
    if untouched {
        return Cow::Borrowed(url);
    }
    let mut out = base.into_owned();
    if let Some(q) = query_part {
        out.push('?');
        out.push_str(&q);
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Cow::Owned(out)
}

/// `scheme://user:password@host/path` with the password shortened.
fn password(base: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = base.split_once("://") else {
        return Cow::Borrowed(base);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return Cow::Borrowed(base);
    };
    let Some((user, pass)) = userinfo.split_once(':') else {
        return Cow::Borrowed(base);
    };
    if pass.is_empty() {
        return Cow::Borrowed(base);
    }
    let path = &rest[authority_end..];
    Cow::Owned(format!("{scheme}://{user}:{}@{host}{path}", secret(&decode(pass))))
}

/// Percent-decodes a query component (`+` as a space); invalid UTF-8 becomes U+FFFD.
fn decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_secrets_keep_a_prefix_and_the_last_four() {
        assert_eq!(secret("sk-1234567890ab12"), "sk-1…ab12");
        assert_eq!(secret("abcdefghijkl"), "abcd…ijkl");
        assert_eq!(secret("ééééxxxxéééé"), "éééé…éééé", "characters, not bytes");
    }

    #[test]
    fn short_secrets_are_hidden_entirely() {
        assert_eq!(secret("abcdefghijk"), "…", "11 characters");
        assert_eq!(secret("x"), "…");
        assert_eq!(secret(""), "");
    }

    #[test]
    fn authorization_keeps_its_scheme() {
        assert_eq!(credentials("Bearer sk-1234567890ab12"), "Bearer sk-1…ab12");
        assert_eq!(credentials("Bearer sk-test"), "Bearer …");
        assert_eq!(credentials("Bearer "), "Bearer …");
        assert_eq!(credentials("Basic dXNlcjpwYXNzd29yZA=="), "Basic dXNl…ZA==");
        assert_eq!(credentials("sk-1234567890ab12"), "sk-1…ab12", "no scheme: all of it");
        assert_eq!(credentials("Bearer  spaced-token-value "), "Bearer spac…alue");
    }

    #[test]
    fn headers_are_redacted_by_name() {
        assert_eq!(header("Authorization", "Bearer sk-1234567890ab12"), "Bearer sk-1…ab12");
        assert_eq!(header("proxy-authorization", "Basic abc"), "Basic …");
        assert_eq!(header("X-Api-Key", "sk-1234567890ab12"), "sk-1…ab12");
        assert_eq!(header("api-key", "short"), "…");
        assert_eq!(
            header("cookie", "session=0123456789abcdef; theme=dark"),
            "session=0123…cdef; theme=…"
        );
        assert!(matches!(header("content-type", "application/json"), Cow::Borrowed(_)));
        assert!(matches!(header("x-api-key-id", "visible"), Cow::Borrowed(_)));
    }

    #[test]
    fn key_like_query_parameters_are_recognised() {
        for name in [
            "key",
            "api_key",
            "apikey",
            "API-KEY",
            "token",
            "access_token",
            "secret",
            "client_secret",
            "X-Amz-Security-Token",
            "openai_api_key",
            "password",
        ] {
            assert!(is_secret_param(name), "{name}");
        }
        for name in ["task_id", "path", "monkey", "tokens", "Expires", "Signature", "method"] {
            assert!(!is_secret_param(name), "{name}");
        }
    }

    #[test]
    fn queries_keep_everything_but_the_secrets() {
        assert_eq!(
            query("task_id=7&key=sk-1234567890ab12&x=1"),
            "task_id=7&key=sk-1…ab12&x=1"
        );
        assert_eq!(query("api_key=short&token="), "api_key=…&token=");
        assert_eq!(query("access%5Ftoken=sk%2D1234567890ab12"), "access%5Ftoken=sk-1…ab12");
        assert!(matches!(query("task_id=7&x=1"), Cow::Borrowed(_)));
        assert!(matches!(query(""), Cow::Borrowed(_)));
    }

    #[test]
    fn urls_lose_passwords_and_secret_parameters() {
        assert_eq!(
            url("https://hook.example/cb?token=0123456789abcdef&task=1#top"),
            "https://hook.example/cb?token=0123…cdef&task=1#top"
        );
        assert_eq!(
            url("https://user:hunter2@hook.example/cb"),
            "https://user:…@hook.example/cb"
        );
        assert!(matches!(url("http://127.0.0.1:9/cb?task=1"), Cow::Borrowed(_)));
        assert!(matches!(url("http://user@host/x"), Cow::Borrowed(_)));
    }
}
