//! The upstream: where requests go (scheme, authority, path prefix), how
//! (a pooled keep-alive client, HTTPS with rustls), and what a failure to
//! reach it is called.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use super::pin::Pinned;
use super::tee::Tee;

/// How long an idle pooled connection to the upstream is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// Why the upstream flags cannot be used; nothing is served then.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("--upstream {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("--upstream-ca {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error("cannot read the system's trusted CAs ({0}); name the upstream's CA with --upstream-ca PEM")]
    Roots(String),
    #[error("TLS set-up: {0}")]
    Tls(String),
}

/// Why a request got no answer from the upstream.
#[derive(Debug)]
pub enum Failure {
    /// No answer head within the timeout.
    Timeout(Duration),
    /// Could not connect, TLS failed, or the connection broke before an answer.
    Unreachable(String),
}

/// The upstream and a pooled client to it.
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, Tee<Incoming>>,
    base: String,
    host: HeaderValue,
    /// The URL as given (for messages and the recording).
    pub url: String,
    pub timeout: Duration,
}

impl Upstream {
    /// `url` is `http://` or `https://` host, port and an optional path
    /// prefix; `ca`, a PEM file of CAs to trust instead of the system's.
    pub fn new(url: &str, ca: Option<&Path>, timeout: Duration) -> Result<Self, UpstreamError> {
        let bad = |reason: &str| UpstreamError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|e| bad(&format!("not a URL: {e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("give http:// or https:// and a host")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if uri.query().is_some() {
            return Err(bad("a query cannot be prepended to requests"));
        }
        let prefix = uri.path().trim_end_matches('/');
        let scheme = if https { "https" } else { "http" };
        let host = HeaderValue::from_str(authority.as_str()).map_err(|_| bad("the host is not a header value"))?;
        let tls = tls_config(https, ca)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);
        Ok(Self {
            client,
            base: format!("{scheme}://{authority}{prefix}"),
            host,
            url: url.trim_end_matches('/').to_owned(),
            timeout,
        })
    }

    /// The upstream URL of a request target (`/path?query`).
    pub fn uri(&self, target: &str) -> Result<Uri, String> {
        let url = format!("{}{target}", self.base);
        url.parse().map_err(|e| format!("{url}: {e}"))
    }

    /// The `Host` header requests to the upstream carry.
    pub fn host(&self) -> HeaderValue {
        self.host.clone()
    }

    /// Sends `request` and waits for the answer head, for at most the timeout.
    pub async fn send(&self, request: Request<Tee<Incoming>>) -> Result<Response<Incoming>, Failure> {
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Err(_) => Err(Failure::Timeout(self.timeout)),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(Failure::Unreachable(cause(&e))),
        }
    }
}

/// The deepest cause of an error: "Connection refused (os error 111)", not
/// "client error (Connect)".
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    let text = deepest.to_string();
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}

/// rustls with ring: the system's roots, or only the certificates of `ca`
/// (as `curl --cacert` does: CAs, and a server's own certificate, pinned).
/// An `http://` upstream reads no roots at all.
fn tls_config(https: bool, ca: Option<&Path>) -> Result<rustls::ClientConfig, UpstreamError> {
    let mut roots = RootCertStore::empty();
    let mut pinned = Vec::new();
    match ca {
        Some(path) => {
            let bad = |reason: String| UpstreamError::Ca {
                path: path.display().to_string(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
            for cert in certs {
                let cert = cert.map_err(|e| bad(e.to_string()))?;
                pinned.push(cert.clone());
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(bad("no certificate in the file".to_owned()));
            }
        }
        None if https => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                let why = if why.is_empty() {
                    "none found".to_owned()
                } else {
                    why.join("; ")
                };
                return Err(UpstreamError::Roots(why));
            }
        }
        None => {}
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::Tls(e.to_string()))?;
    if pinned.is_empty() {
        return Ok(builder.with_root_certificates(roots).with_no_client_auth());
    }
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| UpstreamError::Tls(e.to_string()))?;
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned::new(pinned, inner)))
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_prefix() {
        let up = Upstream::new("http://gw.example:8080/api/", None, Duration::from_secs(1)).unwrap();
        assert_eq!(
            up.uri("/minimax/v1/query/video_generation?task_id=1")
                .unwrap()
                .to_string(),
            "http://gw.example:8080/api/minimax/v1/query/video_generation?task_id=1"
        );
        assert_eq!(up.host(), "gw.example:8080");
        assert_eq!(up.url, "http://gw.example:8080/api");
        let bare = Upstream::new("http://127.0.0.1:9", None, Duration::from_secs(1)).unwrap();
        assert_eq!(bare.uri("/x").unwrap().to_string(), "http://127.0.0.1:9/x");
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in ["gw.example", "ftp://gw.example", "http://gw.example/?a=1", "http://"] {
            assert!(Upstream::new(url, None, Duration::from_secs(1)).is_err(), "{url}");
        }
        let missing = Upstream::new(
            "https://gw.example",
            Some(Path::new("/nonexistent.pem")),
            Duration::ZERO,
        );
        assert!(matches!(missing, Err(UpstreamError::Ca { .. })));
    }
}
