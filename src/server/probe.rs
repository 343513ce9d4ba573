//! `minimax-mock probe`: is a mock live? For a container's health check
//! where there is no curl (a scratch image holds only this binary). One
//! plain HTTP/1.1 request over std's blocking `TcpStream`: no runtime, no
//! TLS (the mock serves plain HTTP). Parsing the URL and the status line is
//! pure; [`probe`] does the I/O.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::{Duration, Instant};

use crate::contract::LIVE_PATH;

/// What `probe` asks when given no URL: the default `serve` address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Why the mock is not known to be live.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0:?} is not an http:// URL (the mock serves plain HTTP)")]
    Scheme(String),
    #[error("{0:?} names no host")]
    Host(String),
    #[error("{0:?} has a port that is not a number from 1 to 65535")]
    Port(String),
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: std::io::Error },
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: std::io::Error },
    #[error("{url}: {source}")]
    Exchange { url: String, source: std::io::Error },
    #[error("{url} did not answer HTTP: {line:?}")]
    NotHttp { url: String, line: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
}

/// Where a probe goes: parsed from the URL, nothing resolved yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host as written, without an IPv6 address's brackets.
    pub host: String,
    pub port: u16,
    /// `Host` header: the URL's authority.
    pub authority: String,
    /// The request target: the URL's path and query, or [`LIVE_PATH`] when
    /// the URL has no path (the mock's base URL).
    pub target: String,
}

impl Target {
    /// Parses `http://HOST[:PORT][/PATH]`; the port defaults to 80.
    pub fn parse(url: &str) -> Result<Self, ProbeError> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| {
                url.get(..7)
                    .filter(|s| s.eq_ignore_ascii_case("http://"))
                    .map(|_| &url[7..])
            })
            .ok_or_else(|| ProbeError::Scheme(url.to_owned()))?;
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let target = match target {
            "" | "/" => LIVE_PATH.to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| ProbeError::Host(url.to_owned()))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.contains('@') {
            return Err(ProbeError::Host(url.to_owned()));
        }
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| ProbeError::Port(url.to_owned()))?,
        };
        Ok(Target {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            target,
        })
    }

    /// The URL probed, for messages.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.target)
    }

    /// Whether the target is the mock's control API (`/__mock/…`, in a
    /// namespace or not): the only place the control token is sent, so a
    /// probe of some other URL never hands it out.
    pub fn is_control(&self) -> bool {
        let path = self.target.split('?').next().unwrap_or_default();
        let path = match path.strip_prefix("/ns/") {
            Some(rest) => rest.find('/').map_or("", |i| &rest[i..]),
            None => path,
        };
        path.starts_with("/__mock/")
    }

    /// The whole request: a GET that asks the server to close after it,
    /// with `token` as a bearer if the target is the control API.
    pub fn request(&self, token: Option<&str>) -> String {
        let auth = match token.filter(|t| !t.is_empty() && self.is_control()) {
            Some(token) => format!("Authorization: Bearer {token}\r\n"),
            None => String::new(),
        };
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: minimax-mock-probe\r\n{auth}Connection: close\r\n\r\n",
            self.target, self.authority
        )
    }
}

/// The status code of a response's first line (`HTTP/1.1 200 OK`).
pub fn status_of(line: &str) -> Option<u16> {
    let mut words = line.split_ascii_whitespace();
    let version = words.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = words.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// Asks `url` once, within `timeout` overall: `Ok` on a 2xx answer.
/// `token` goes to a control path only ([`Target::is_control`]).
pub fn probe(url: &str, timeout: Duration, token: Option<&str>) -> Result<u16, ProbeError> {
    let target = Target::parse(url)?;
    let url = target.url();
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|source| ProbeError::Resolve {
            host: target.host.clone(),
            source,
        })?
        .collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, left()) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or(ProbeError::Connect {
        url: url.clone(),
        source: last,
    })?;
    let exchange = |source| ProbeError::Exchange {
        url: url.clone(),
        source,
    };
    stream.set_write_timeout(Some(left())).map_err(exchange)?;
    stream.write_all(target.request(token).as_bytes()).map_err(exchange)?;
    // Only the status line matters: read until its end (or 1 KiB).
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        stream.set_read_timeout(Some(left())).map_err(exchange)?;
        match stream.read(&mut buf).map_err(exchange)? {
            0 => break,
            n => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or_default();
    match status_of(line) {
        Some(status) if (200..300).contains(&status) => Ok(status),
        Some(status) => Err(ProbeError::Status { url, status }),
        None => Err(ProbeError::NotHttp {
            url,
            line: line.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn a_base_url_probes_the_live_path() {
        let t = target("http://127.0.0.1:8080");
        assert_eq!(
            (t.host.as_str(), t.port, t.target.as_str()),
            ("127.0.0.1", 8080, LIVE_PATH)
        );
        assert_eq!(target("http://mock:9000/").target, LIVE_PATH);
        assert_eq!(target("HTTP://mock").port, 80);
        assert_eq!(t.url(), "http://127.0.0.1:8080/__mock/live");
    }

    #[test]
    fn a_path_and_query_are_kept() {
        assert_eq!(target("http://localhost:1/__mock/health").target, "/__mock/health");
        assert_eq!(target("http://localhost:1?x=1").target, "/?x=1");
        assert_eq!(target("http://h:2/a?b=c").target, "/a?b=c");
    }

    #[test]
    fn ipv6_addresses_lose_their_brackets_but_keep_them_in_host() {
        let t = target("http://[::1]:8080/");
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert!(
            t.request(None).contains("\r\nHost: [::1]:8080\r\n"),
            "{}",
            t.request(None)
        );
        assert_eq!(target("http://[::1]").port, 80);
    }

    #[test]
    fn bad_urls_are_named() {
        for (url, kind) in [
            ("https://mock:8080", "Scheme"),
            ("mock:8080", "Scheme"),
            ("http://", "Host"),
            ("http://:8080", "Host"),
            ("http://user@mock:8080", "Host"),
            ("http://[::1:8080", "Host"),
            ("http://mock:0", "Port"),
            ("http://mock:99999", "Port"),
            ("http://mock:x", "Port"),
        ] {
            let e = Target::parse(url).expect_err(url);
            assert!(format!("{e:?}").starts_with(kind), "{url}: {e:?}");
            assert!(e.to_string().contains(url), "{e}");
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_of("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(status_of("HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(status_of("HTTP/1.1 204"), Some(204));
        assert_eq!(status_of("SSH-2.0-OpenSSH"), None);
        assert_eq!(status_of("HTTP/1.1 2000 OK"), None);
        assert_eq!(status_of(""), None);
    }

    #[test]
    fn nothing_listening_is_a_connect_error() {
        // A port just released: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = probe(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2), None).unwrap_err();
        assert!(matches!(e, ProbeError::Connect { .. }), "{e:?}");
    }

    #[test]
    fn the_token_goes_to_control_paths_only() {
        let bearer = "\r\nAuthorization: Bearer t0k\r\n";
        for url in [
            "http://m:1/__mock/health",
            "http://m:1/ns/run-1/__mock/health",
            "http://m:1/__mock/tasks?x=1",
        ] {
            assert!(target(url).request(Some("t0k")).contains(bearer), "{url}");
        }
        for url in [
            "http://m:1/minimax/v1/query/video_generation",
            "http://m:1/ns/run-1/v1/videos",
            "http://m:1/ns/__mock/x",
        ] {
            let r = target(url).request(Some("t0k"));
            assert!(!r.contains("Authorization"), "{url}: {r}");
        }
        assert!(!target("http://m:1/__mock/health")
            .request(None)
            .contains("Authorization"));
        assert!(!target("http://m:1/__mock/health")
            .request(Some(""))
            .contains("Authorization"));
    }
}
