//! The proxy's `GET /__mock/metrics` (`minimax_mock_proxy_*`): exchanges by
//! outcome and status, the upstream's latency to its answer head, and what
//! judging found. Atomics only on the answer path, as `serve`'s metrics;
//! the text is written at scrape time with the same writer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::server::metrics::text::{Kind, Text};
use crate::server::metrics::BUCKETS_NS;

/// What became of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream's answer, passed on whole.
    Forwarded,
    /// The upstream's answer, cut at `--upstream-timeout` mid-body.
    Cut,
    /// 502: the upstream could not be reached.
    Unreachable,
    /// 504: no answer head within `--upstream-timeout`.
    Timeout,
    /// 400: the target cannot be forwarded.
    Invalid,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Forwarded,
        Outcome::Cut,
        Outcome::Unreachable,
        Outcome::Timeout,
        Outcome::Invalid,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::Cut => "cut",
            Outcome::Unreachable => "unreachable",
            Outcome::Timeout => "timeout",
            Outcome::Invalid => "invalid_target",
        }
    }
}

/// HTTP statuses 100..=599, one slot each.
const STATUSES: usize = 500;
const BUCKETS: usize = BUCKETS_NS.len() + 1;

fn counters(n: usize) -> Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The proxy's counters.
#[derive(Debug)]
pub struct ProxyMetrics {
    /// [outcome][status].
    exchanges: Box<[AtomicU64]>,
    /// [bucket], and the sum in nanoseconds.
    upstream: Box<[AtomicU64]>,
    upstream_sum: AtomicU64,
    /// [clean, with findings].
    judged: [AtomicU64; 2],
    /// [error, warning].
    findings: [AtomicU64; 2],
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self {
            exchanges: counters(Outcome::ALL.len() * STATUSES),
            upstream: counters(BUCKETS),
            upstream_sum: AtomicU64::new(0),
            judged: Default::default(),
            findings: Default::default(),
        }
    }
}

impl ProxyMetrics {
    /// An exchange ended with `outcome`, the client answered `status`.
    pub fn exchange(&self, outcome: Outcome, status: u16) {
        let slot = usize::from(status.clamp(100, 599) - 100);
        add(&self.exchanges[outcome as usize * STATUSES + slot], 1);
    }

    /// The upstream's answer head came this long after the request.
    pub fn upstream_latency(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_NS.iter().position(|&b| nanos <= b).unwrap_or(BUCKETS_NS.len());
        add(&self.upstream[bucket], 1);
        add(&self.upstream_sum, nanos);
    }

    /// An answer judged, with this many errors and warnings.
    pub fn judged(&self, errors: usize, warnings: usize) {
        add(&self.judged[usize::from(errors + warnings > 0)], 1);
        add(&self.findings[0], errors as u64);
        add(&self.findings[1], warnings as u64);
    }

    /// The Prometheus text.
    pub fn scrape(&self) -> String {
        let mut out = Text::default();
        out.family(
            "minimax_mock_proxy_exchanges_total",
            Kind::Counter,
            "Exchanges, by outcome (forwarded, cut mid-body at --upstream-timeout, unreachable 502, timeout 504, invalid_target 400) and the HTTP status the client got.",
        );
        for outcome in Outcome::ALL {
            for slot in 0..STATUSES {
                let n = read(&self.exchanges[outcome as usize * STATUSES + slot]);
                if n > 0 {
                    let labels = [
                        ("outcome", outcome.label().to_owned()),
                        ("status", (slot + 100).to_string()),
                    ];
                    out.sample("minimax_mock_proxy_exchanges_total", &labels, n);
                }
            }
        }
        out.family(
            "minimax_mock_proxy_upstream_seconds",
            Kind::Histogram,
            "How long the upstream took to start answering (the answer head), for the exchanges it answered.",
        );
        let buckets: Vec<u64> = self.upstream.iter().map(read).collect();
        let sum = read(&self.upstream_sum) as f64 / 1e9;
        out.histogram("minimax_mock_proxy_upstream_seconds", &[], &BUCKETS_NS, &buckets, sum);
        out.family(
            "minimax_mock_proxy_judged_total",
            Kind::Counter,
            "Answers of the contract's endpoints judged, by result (clean, or with findings).",
        );
        for (i, result) in ["clean", "findings"].into_iter().enumerate() {
            out.sample(
                "minimax_mock_proxy_judged_total",
                &[("result", result.to_owned())],
                read(&self.judged[i]),
            );
        }
        out.family(
            "minimax_mock_proxy_findings_total",
            Kind::Counter,
            "What judging found, one per error or warning, by severity.",
        );
        for (i, severity) in ["error", "warning"].into_iter().enumerate() {
            out.sample(
                "minimax_mock_proxy_findings_total",
                &[("severity", severity.to_owned())],
                read(&self.findings[i]),
            );
        }
        out.finish()
    }
}
