//! Who may use the control plane (`/__mock/`). The mock's API stays open
//! to every origin; the control API, which can reset the mock and read the
//! journal, answers only:
//!
//! - requests that name this server in `Host` (loopback names and
//!   addresses, the bound address, the `--public-url` host,
//!   `--allowed-host`), so a page cannot reach it through DNS rebinding;
//! - browsers on its own origin, or on one named with `--control-origin`
//!   (any other origin is refused before anything is done, so a "simple"
//!   cross-site POST cannot reset the mock either);
//! - on an address other than loopback, requests with the control token.
//!
//! Checked only on control routes: the API's hot path never gets here.

use std::net::{IpAddr, SocketAddr};

use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};

use crate::server::api::render;
use crate::server::http::{bearer, json, Reply};

/// The environment variable `--control-token` falls back to.
pub const TOKEN_ENV: &str = "MINIMAX_MOCK_CONTROL_TOKEN";

/// The control API's gatekeeper, built once at bind.
#[derive(Debug)]
pub struct Guard {
    hosts: Hosts,
    /// Normalized origins granted CORS; `*` grants every origin.
    origins: Vec<String>,
    token: Option<Token>,
}

/// A secret that `Debug` does not print.
struct Token {
    value: String,
    /// Made up at start (nobody gave one): it is printed once.
    generated: bool,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"…")
            .field("generated", &self.generated)
            .finish()
    }
}

/// The names a control request may give in `Host`, besides loopback's.
#[derive(Debug, Default)]
struct Hosts {
    /// `--allowed-host '*'`: no check.
    any: bool,
    /// Bound to 0.0.0.0 or `::`: every address of the machine is the
    /// bound address, so any IP literal is this server's own name.
    any_ip: bool,
    names: Vec<String>,
    /// `--allowed-host .example.com`: the domain and its subdomains.
    domains: Vec<String>,
}

/// Why a control request was refused, before it did anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 403: `Host` names something else (DNS rebinding).
    Host(String),
    /// 403: a browser on a foreign origin.
    Origin(String),
    /// 401: no token, or the wrong one.
    Token,
}

impl Guard {
    /// The guard of a server bound to `bound` (given as `host`), with the
    /// settings of [`crate::server::Config`]. A token is made up when the
    /// address is not loopback and none is given (`control` off: none).
    pub fn new(
        bound: SocketAddr,
        host: &str,
        public_url: Option<&str>,
        allowed_hosts: &[String],
        control_origins: &[String],
        token: Option<&str>,
        control: bool,
    ) -> Self {
        let mut hosts = Hosts {
            any_ip: bound.ip().is_unspecified(),
            ..Hosts::default()
        };
        hosts.names.push(bound.ip().to_string());
        hosts.names.extend(host_name(host));
        let public = public_url.and_then(|u| u.split_once("://")).map(|(scheme, rest)| {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
            (scheme.to_ascii_lowercase(), authority.to_owned())
        });
        if let Some((_, authority)) = &public {
            hosts.names.extend(host_name(authority));
        }
        for allowed in allowed_hosts {
            let allowed = allowed.trim().to_ascii_lowercase();
            match allowed.strip_prefix('.') {
                _ if allowed == "*" => hosts.any = true,
                Some(domain) => hosts.domains.push(domain.trim_end_matches('.').to_owned()),
                None => hosts.names.extend(host_name(&allowed)),
            }
        }
        let mut origins: Vec<String> = control_origins.iter().filter_map(|o| parse_origin(o).ok()).collect();
        // The public URL's origin is this server's own, behind a proxy.
        if let Some(origin) =
            public.and_then(|(scheme, authority)| parse_origin(&format!("{scheme}://{authority}")).ok())
        {
            origins.push(origin);
        }
        let token = match token.filter(|t| !t.is_empty()) {
            Some(value) => Some(Token {
                value: value.to_owned(),
                generated: false,
            }),
            None if control && !bound.ip().is_loopback() => Some(Token {
                value: generate_token(),
                generated: true,
            }),
            None => None,
        };
        Self { hosts, origins, token }
    }

    /// The token control requests need, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_ref().map(|t| t.value.as_str())
    }

    /// The token, if it was made up at start (and so must be printed).
    pub fn generated_token(&self) -> Option<&str> {
        self.token.as_ref().filter(|t| t.generated).map(|t| t.value.as_str())
    }

    /// Admits a control request: the `Access-Control-Allow-Origin` to
    /// answer with (none for same-origin and non-browser requests), or why not.
    pub fn admit(&self, parts: &Parts) -> Result<Option<HeaderValue>, Refusal> {
        // No Host (HTTP/1.0), or an empty one, names nothing: local.
        let host = parts
            .headers
            .get(header::HOST)
            .filter(|h| !h.is_empty())
            .map(|h| h.to_str().unwrap_or("\u{fffd}"));
        for named in host.into_iter().chain(parts.uri.authority().map(|a| a.as_str())) {
            if !self.hosts.allows(named) {
                return Err(Refusal::Host(named.to_owned()));
            }
        }
        let granted = match parts.headers.get(header::ORIGIN) {
            None => None,
            Some(origin) => {
                let text = origin.to_str().unwrap_or("\u{fffd}");
                if self.origins.iter().any(|o| o == "*") {
                    Some(HeaderValue::from_static("*"))
                } else if self.origins.iter().any(|o| o.eq_ignore_ascii_case(text)) {
                    Some(origin.clone())
                } else if host.is_some_and(|h| same_origin(text, h)) {
                    None
                } else {
                    return Err(Refusal::Origin(text.to_owned()));
                }
            }
        };
        // A preflight never carries credentials: the request that follows does.
        if parts.method != Method::OPTIONS {
            if let Some(token) = &self.token {
                let given = bearer(&parts.headers).unwrap_or_default();
                if !constant_time_eq(given.as_bytes(), token.value.as_bytes()) {
                    return Err(Refusal::Token);
                }
            }
        }
        Ok(granted)
    }
}

impl Refusal {
    /// The answer, in the gateway's envelope.
    pub fn reply(&self) -> Reply {
        match self {
            Refusal::Host(host) => {
                let name = host_name(host).unwrap_or_else(|| host.clone());
                let message = format!(
                    "Host {host:?} is not a name of this server, so the control API refuses it (a guard against DNS rebinding); \
                     to allow it, start the mock with --allowed-host {name}"
                );
                json(StatusCode::FORBIDDEN, render::error("forbidden_host", &message))
            }
            Refusal::Origin(origin) => {
                let message = format!(
                    "origin {origin:?} may not use the control API; to allow it, start the mock with --control-origin {origin}"
                );
                json(StatusCode::FORBIDDEN, render::error("forbidden_origin", &message))
            }
            Refusal::Token => {
                let message = format!(
                    "the control API on this address needs Authorization: Bearer <token>: the one given with \
                     --control-token or {TOKEN_ENV}, or else the one printed on stderr at start"
                );
                let mut reply = json(StatusCode::UNAUTHORIZED, render::error("unauthorized", &message));
                reply.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"minimax-mock control\""),
                );
                reply
            }
        }
    }
}

impl Hosts {
    /// Whether a `Host` value (`name[:port]`) is one of this server's names.
    fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let Some(name) = host_name(host) else { return false };
        if is_loopback(&name) || self.names.contains(&name) {
            return true;
        }
        if self.any_ip && name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
            return true;
        }
        self.domains
            .iter()
            .any(|d| name == *d || name.strip_suffix(d.as_str()).is_some_and(|s| s.ends_with('.')))
    }
}

/// The name of a `Host` value: lower case, without the port, the trailing
/// dot or an IPv6 address's brackets. `None` if it is not a plausible host.
pub fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']')?.0
    } else if host.matches(':').count() > 1 {
        // A bare IPv6 address (as `--host ::1` is given).
        host
    } else {
        host.split_once(':').map_or(host, |(name, _)| name)
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let plausible = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'));
    plausible.then_some(name)
}

/// localhost, *.localhost, 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z).
pub fn is_loopback(name: &str) -> bool {
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, lower case, no
/// default port, no path; `*` and `null` as they are.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == "*" || text == "null" {
        return Ok(text.to_owned());
    }
    let lower = text.trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, authority)) = lower.split_once("://") else {
        return Err(format!(
            "{text:?} is not an origin: give scheme, host and port, as http://localhost:5173"
        ));
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok || authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "{text:?} is not an origin: give scheme, host and port only, as http://localhost:5173"
        ));
    }
    Ok(format!("{scheme}://{}", without_default_port(scheme, authority)))
}

fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = match scheme {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return authority,
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// Whether `origin` is the origin of a request sent with `Host: host`:
/// a browser on the mock's own pages.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    let host = without_default_port(&scheme, host.trim());
    without_default_port(&scheme, authority).eq_ignore_ascii_case(host)
}

/// Compares two secrets in time that depends on their lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// 48 hex digits from the operating system's generator (or, should it
/// fail, from the time and process id through the seeded generator).
fn generate_token() -> String {
    let mut bytes = [0u8; 24];
    if getrandom::fill(&mut bytes).is_err() {
        use fake::{Fake, Faker};
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = now ^ u64::from(std::process::id()).rotate_left(32);
        let mut rng = crate::lifecycle::artifact::rng_for(seed, "control-token");
        for chunk in bytes.chunks_mut(8) {
            let word: u64 = Faker.fake_with_rng(&mut rng);
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(bound: &str, allowed: &[&str], origins: &[&str], token: Option<&str>) -> Guard {
        let bound: SocketAddr = bound.parse().unwrap();
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        let origins: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
        Guard::new(
            bound,
            &bound.ip().to_string(),
            Some("https://mock.example.com/base"),
            &allowed,
            &origins,
            token,
            true,
        )
    }

    fn request(method: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = hyper::Request::builder().method(method).uri("/__mock/requests");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn host_names() {
        assert_eq!(host_name("LocalHost.:8080").as_deref(), Some("localhost"));
        assert_eq!(host_name("[::1]:80").as_deref(), Some("::1"));
        assert_eq!(host_name("::1").as_deref(), Some("::1"));
        assert_eq!(host_name("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name(""), None);
        assert_eq!(host_name("a b"), None);
    }

    #[test]
    fn loopback_names_and_addresses() {
        for name in [
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback(name), "{name}");
        }
        for name in ["localhost.evil.com", "128.0.0.1", "0.0.0.0", "::", "example.com"] {
            assert!(!is_loopback(name), "{name}");
        }
    }

    #[test]
    fn hosts_allowed() {
        let g = guard("192.168.1.5:8080", &["mock", ".corp.example"], &[], None);
        for host in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "192.168.1.5:8080",
            "mock.example.com",
            "mock:8080",
            "corp.example",
            "ci.corp.example:8080",
        ] {
            assert!(g.hosts.allows(host), "{host}");
        }
        for host in [
            "evil.example",
            "192.168.1.6",
            "xcorp.example",
            "mock.example.com.evil",
            "",
        ] {
            assert!(!g.hosts.allows(host), "{host}");
        }
        let everywhere = guard("0.0.0.0:8080", &[], &[], None);
        assert!(everywhere.hosts.allows("10.1.2.3:8080"), "any address of the machine");
        assert!(everywhere.hosts.allows("[fe80::1]:8080"));
        assert!(!everywhere.hosts.allows("evil.example:8080"));
        assert!(guard("127.0.0.1:1", &["*"], &[], None).hosts.allows("evil.example"));
    }

    #[test]
    fn origins_are_normalized_and_checked() {
        assert_eq!(parse_origin("HTTP://LocalHost:5173/").unwrap(), "http://localhost:5173");
        assert_eq!(parse_origin("http://localhost:80").unwrap(), "http://localhost");
        assert_eq!(parse_origin("https://app.example:443").unwrap(), "https://app.example");
        assert_eq!(parse_origin("*").unwrap(), "*");
        assert!(parse_origin("localhost:5173").is_err());
        assert!(parse_origin("http://localhost:5173/path").is_err());
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(same_origin("http://localhost", "localhost:80"));
        assert!(!same_origin("http://localhost:5173", "localhost:8080"));
        assert!(!same_origin("null", "localhost:8080"));
    }

    #[test]
    fn admission() {
        let g = guard("127.0.0.1:8080", &[], &["http://localhost:5173"], None);
        let ok = |h: &[(&str, &str)]| g.admit(&request("GET", h));
        assert_eq!(ok(&[]), Ok(None), "no Host (HTTP/1.0) is local");
        assert_eq!(ok(&[("host", "localhost:8080")]), Ok(None));
        assert_eq!(
            ok(&[("host", "evil.example:8080")]),
            Err(Refusal::Host("evil.example:8080".into()))
        );
        assert_eq!(
            ok(&[("host", "localhost:8080"), ("origin", "http://localhost:8080")]),
            Ok(None),
            "same origin"
        );
        assert_eq!(
            ok(&[("host", "localhost:8080"), ("origin", "http://localhost:5173")]),
            Ok(Some(HeaderValue::from_static("http://localhost:5173")))
        );
        assert_eq!(
            ok(&[("host", "localhost:8080"), ("origin", "https://evil.example")]),
            Err(Refusal::Origin("https://evil.example".into()))
        );
        assert_eq!(
            ok(&[("host", "localhost:8080"), ("origin", "https://mock.example.com")]),
            Ok(Some(HeaderValue::from_static("https://mock.example.com"))),
            "the public URL's origin"
        );
        let all = guard("127.0.0.1:8080", &[], &["*"], None);
        assert_eq!(
            all.admit(&request("GET", &[("origin", "https://evil.example")])),
            Ok(Some(HeaderValue::from_static("*")))
        );
    }

    #[test]
    fn tokens() {
        assert!(
            guard("127.0.0.1:8080", &[], &[], None).token().is_none(),
            "loopback: none"
        );
        let open = guard("0.0.0.0:8080", &[], &[], None);
        let made = open.generated_token().expect("made up on 0.0.0.0");
        assert_eq!(made.len(), 48);
        assert_ne!(made, guard("0.0.0.0:8080", &[], &[], None).token().unwrap());
        let given = guard("127.0.0.1:8080", &[], &[], Some("s3cret-token"));
        assert_eq!((given.token(), given.generated_token()), (Some("s3cret-token"), None));
        let with = |t: &str| request("GET", &[("authorization", t)]);
        assert_eq!(given.admit(&with("Bearer s3cret-token")), Ok(None));
        assert_eq!(given.admit(&with("Bearer s3cret-tokeN")), Err(Refusal::Token));
        assert_eq!(given.admit(&request("GET", &[])), Err(Refusal::Token));
        assert_eq!(given.admit(&request("OPTIONS", &[])), Ok(None), "preflights carry none");
        assert!(format!("{given:?}").contains('…') && !format!("{given:?}").contains("s3cret"));
        let off = Guard::new("0.0.0.0:1".parse().unwrap(), "0.0.0.0", None, &[], &[], None, false);
        assert!(off.token().is_none(), "no control API, no token");
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
