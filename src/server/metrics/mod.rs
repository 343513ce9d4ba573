//! `GET /__mock/metrics`: counters for soak and load runs, in the Prometheus
//! text format ([`text`]), for Grafana or an SLO check to read.
//!
//! The request path only adds to counters: fixed arrays of atomics indexed
//! by small enums ([`Endpoint`], [`Api`], the HTTP status), no lock, no
//! allocation, no formatting. Everything else (label strings, the task
//! gauge, the text) is made at scrape time ([`scrape`]).
//!
//! One [`Counters`] holds what one namespace counts, and [`scrape`] writes
//! any number, each but the default namespace's with its `namespace` label.
//!
//! Uses `lifecycle` (phases, statuses), `store` (the tasks, for the gauge)
//! and `http` (the reply); the request path reaches it through `App`.

pub mod serve;
pub mod text;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::lifecycle::Phase;
use crate::server::store::tasks::Surface;

/// The path of the metrics, under the control prefix.
pub const PATH: &str = "/__mock/metrics";

/// What a request was for: its `api` and `route` labels. Routing maps its
/// routes onto these (`routes::metered`); a new route gets a variant here,
/// its labels in [`Endpoint::labels`], and its arm there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    GatewaySubmit,
    GatewayQuery,
    GatewayFiles,
    NativeSubmit,
    NativeQuery,
    NativeFiles,
    V2Submit,
    V2Query,
    V2List,
    V2Delete,
    V2Regenerate,
    OpenAiSubmit,
    OpenAiVideo,
    OpenAiContent,
    OpenAiGeneration,
    /// `/__mock/live`.
    Live,
    /// Download links.
    Video,
    /// The control API (this one included).
    Control,
    Dashboard,
    OpenApi,
    /// No route for the path.
    NotFound,
}

impl Endpoint {
    pub const ALL: [Endpoint; 21] = [
        Endpoint::GatewaySubmit,
        Endpoint::GatewayQuery,
        Endpoint::GatewayFiles,
        Endpoint::NativeSubmit,
        Endpoint::NativeQuery,
        Endpoint::NativeFiles,
        Endpoint::V2Submit,
        Endpoint::V2Query,
        Endpoint::V2List,
        Endpoint::V2Delete,
        Endpoint::V2Regenerate,
        Endpoint::OpenAiSubmit,
        Endpoint::OpenAiVideo,
        Endpoint::OpenAiContent,
        Endpoint::OpenAiGeneration,
        Endpoint::Live,
        Endpoint::Video,
        Endpoint::Control,
        Endpoint::Dashboard,
        Endpoint::OpenApi,
        Endpoint::NotFound,
    ];

    /// The `api` and `route` labels.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            Endpoint::GatewaySubmit => ("gateway", "submit"),
            Endpoint::GatewayQuery => ("gateway", "query"),
            Endpoint::GatewayFiles => ("gateway", "files_retrieve"),
            Endpoint::NativeSubmit => ("native", "submit"),
            Endpoint::NativeQuery => ("native", "query"),
            Endpoint::NativeFiles => ("native", "files_retrieve"),
            Endpoint::V2Submit => ("v2", "submit"),
            Endpoint::V2Query => ("v2", "query"),
            Endpoint::V2List => ("v2", "list"),
            Endpoint::V2Delete => ("v2", "delete"),
            Endpoint::V2Regenerate => ("v2", "regenerate"),
            Endpoint::OpenAiSubmit => ("openai", "submit"),
            Endpoint::OpenAiVideo => ("openai", "query"),
            Endpoint::OpenAiContent => ("openai", "content"),
            Endpoint::OpenAiGeneration => ("openai", "generation"),
            Endpoint::Live => ("mock", "live"),
            Endpoint::Video => ("mock", "download"),
            Endpoint::Control => ("mock", "control"),
            Endpoint::Dashboard => ("mock", "dashboard"),
            Endpoint::OpenApi => ("mock", "openapi"),
            Endpoint::NotFound => ("none", "not_found"),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The API a task belongs to, for the submit, poll, fault and task counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Gateway,
    Native,
    V2,
    OpenAi,
}

impl Api {
    pub const ALL: [Api; 4] = [Api::Gateway, Api::Native, Api::V2, Api::OpenAi];

    pub fn of(surface: Surface) -> Self {
        match surface {
            Surface::Gateway => Api::Gateway,
            Surface::Native => Api::Native,
            Surface::V2 => Api::V2,
            Surface::OpenAi => Api::OpenAi,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Api::Gateway => "gateway",
            Api::Native => "native",
            Api::V2 => "v2",
            Api::OpenAi => "openai",
        }
    }
}

/// What a poll showed: the task's phase, or a recorded answer (`--replay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Phase(Phase),
    Replayed,
}

impl Shown {
    const COUNT: usize = 5;
    const ALL: [Shown; Shown::COUNT] = [
        Shown::Phase(Phase::Pending),
        Shown::Phase(Phase::Processing),
        Shown::Phase(Phase::Success),
        Shown::Phase(Phase::Fail),
        Shown::Replayed,
    ];

    fn index(self) -> usize {
        match self {
            Shown::Phase(Phase::Pending) => 0,
            Shown::Phase(Phase::Processing) => 1,
            Shown::Phase(Phase::Success) => 2,
            Shown::Phase(Phase::Fail) => 3,
            Shown::Replayed => 4,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Shown::Phase(Phase::Pending) => "pending",
            Shown::Phase(Phase::Processing) => "processing",
            Shown::Phase(Phase::Success) => "success",
            Shown::Phase(Phase::Fail) => "fail",
            Shown::Replayed => "replayed",
        }
    }
}

/// A scripted fault applied to an answer (a delay with an error status
/// counts once for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Delay,
    Status,
    Truncated,
    Malformed,
    Reset,
    Break,
}

impl FaultKind {
    const ALL: [FaultKind; 6] = [
        FaultKind::Delay,
        FaultKind::Status,
        FaultKind::Truncated,
        FaultKind::Malformed,
        FaultKind::Reset,
        FaultKind::Break,
    ];

    fn label(self) -> &'static str {
        match self {
            FaultKind::Delay => "delay",
            FaultKind::Status => "status",
            FaultKind::Truncated => "truncated",
            FaultKind::Malformed => "malformed",
            FaultKind::Reset => "reset",
            FaultKind::Break => "break",
        }
    }
}

/// What became of one callback attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    Delivered,
    /// No answer, a timeout, a non-2xx, a wrong echo's HTTP part.
    Failed,
    /// A step's callback fault dropped it.
    Dropped,
}

impl CallbackOutcome {
    const ALL: [CallbackOutcome; 3] = [
        CallbackOutcome::Delivered,
        CallbackOutcome::Failed,
        CallbackOutcome::Dropped,
    ];

    fn label(self) -> &'static str {
        match self {
            CallbackOutcome::Delivered => "delivered",
            CallbackOutcome::Failed => "failed",
            CallbackOutcome::Dropped => "dropped",
        }
    }
}

/// The callback kinds: `challenge` and `update`.
const CALLBACK_KINDS: [&str; 2] = ["challenge", "update"];

/// HTTP statuses 100..=599 have a slot each; the last slot is a reset.
const STATUS_SLOTS: usize = 501;
const RESET_SLOT: usize = STATUS_SLOTS - 1;

/// The request-duration buckets' upper bounds, in nanoseconds: the mock
/// answers in microseconds, a scripted delay in seconds.
pub const BUCKETS_NS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];
/// Each endpoint's buckets, +Inf last (not cumulative: scrape adds them up).
const BUCKET_SLOTS: usize = BUCKETS_NS.len() + 1;

fn counters(n: usize) -> Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

/// What one namespace counts. Only ever added to (Prometheus counters
/// never go down): `/__mock/reset` leaves them.
#[derive(Debug)]
pub struct Counters {
    /// [endpoint][status slot].
    requests: Box<[AtomicU64]>,
    /// [endpoint][bucket].
    durations: Box<[AtomicU64]>,
    /// [endpoint]: the durations' sum in nanoseconds.
    duration_sums: Box<[AtomicU64]>,
    /// [api][refused, accepted].
    submits: Box<[AtomicU64]>,
    /// [api][shown].
    polls: Box<[AtomicU64]>,
    /// [api][fault kind].
    faults: Box<[AtomicU64]>,
    /// [kind][outcome].
    callbacks: Box<[AtomicU64]>,
}

impl Default for Counters {
    fn default() -> Self {
        let endpoints = Endpoint::ALL.len();
        Self {
            requests: counters(endpoints * STATUS_SLOTS),
            durations: counters(endpoints * BUCKET_SLOTS),
            duration_sums: counters(endpoints),
            submits: counters(Api::ALL.len() * 2),
            polls: counters(Api::ALL.len() * Shown::COUNT),
            faults: counters(Api::ALL.len() * FaultKind::ALL.len()),
            callbacks: counters(CALLBACK_KINDS.len() * CallbackOutcome::ALL.len()),
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Counters {
    /// One request answered with `status` (`None`: the connection was
    /// reset), after `took`. Three relaxed atomic adds.
    pub fn request(&self, endpoint: Endpoint, status: Option<u16>, took: Duration) {
        let slot = match status {
            Some(code @ 100..=599) => usize::from(code - 100),
            // hyper allows nothing else; a reset has its own slot.
            _ => RESET_SLOT,
        };
        let e = endpoint.index();
        add(&self.requests[e * STATUS_SLOTS + slot], 1);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_NS.iter().position(|&b| nanos <= b).unwrap_or(BUCKETS_NS.len());
        add(&self.durations[e * BUCKET_SLOTS + bucket], 1);
        add(&self.duration_sums[e], nanos);
    }

    /// A submit through `api`: a task was created (`accepted`) or not.
    pub fn submit(&self, api: Api, accepted: bool) {
        add(&self.submits[api as usize * 2 + usize::from(accepted)], 1);
    }

    /// A counted poll of a task of `api`, and what it showed.
    pub fn poll(&self, api: Api, shown: Shown) {
        add(&self.polls[api as usize * Shown::COUNT + shown.index()], 1);
    }

    /// A scripted fault applied to an answer through `api`.
    pub fn fault(&self, api: Api, kind: FaultKind) {
        add(&self.faults[api as usize * FaultKind::ALL.len() + kind as usize], 1);
    }

    /// One callback attempt (`challenge` or `update`) and its outcome.
    pub fn callback(&self, kind: &str, outcome: CallbackOutcome) {
        let k = usize::from(kind != CALLBACK_KINDS[0]);
        add(&self.callbacks[k * CallbackOutcome::ALL.len() + outcome as usize], 1);
    }
}

/// The server's metrics: one namespace's counters today.
#[derive(Debug, Default)]
pub struct Metrics {
    pub counters: Counters,
}

/// What the task gauge counts, gathered at scrape time: `(api, gateway
/// status, count)` for every combination seen.
pub type TaskCounts = Vec<(Api, &'static str, u64)>;

/// Writes the counters of each namespace (`None`: the instance's own, no
/// label) and their task gauges in the Prometheus text format.
pub fn scrape(namespaces: &[(Option<&str>, &Counters, TaskCounts)]) -> String {
    let mut out = text::Text::default();
    let base = |ns: Option<&str>| -> Vec<(&'static str, String)> {
        ns.map(|n| vec![("namespace", n.to_owned())]).unwrap_or_default()
    };
    out.family(
        "minimax_mock_requests_total",
        text::Kind::Counter,
        "Requests answered, by API surface, route and HTTP status (reset: the connection was reset by a fault).",
    );
    for (ns, c, _) in namespaces {
        for endpoint in Endpoint::ALL {
            let (api, route) = endpoint.labels();
            for slot in 0..STATUS_SLOTS {
                let n = read(&c.requests[endpoint.index() * STATUS_SLOTS + slot]);
                if n == 0 {
                    continue;
                }
                let status = if slot == RESET_SLOT {
                    "reset".to_owned()
                } else {
                    (slot + 100).to_string()
                };
                let mut labels = base(*ns);
                labels.extend([("api", api.to_owned()), ("route", route.to_owned()), ("status", status)]);
                out.sample("minimax_mock_requests_total", &labels, n);
            }
        }
    }
    out.family(
        "minimax_mock_request_duration_seconds",
        text::Kind::Histogram,
        "How long requests took to answer, from the head read to the answer handed to the connection, by API surface and route.",
    );
    for (ns, c, _) in namespaces {
        for endpoint in Endpoint::ALL {
            let e = endpoint.index();
            let buckets: Vec<u64> = (0..BUCKET_SLOTS)
                .map(|b| read(&c.durations[e * BUCKET_SLOTS + b]))
                .collect();
            if buckets.iter().all(|&n| n == 0) {
                continue;
            }
            let (api, route) = endpoint.labels();
            let mut labels = base(*ns);
            labels.extend([("api", api.to_owned()), ("route", route.to_owned())]);
            let sum = read(&c.duration_sums[e]) as f64 / 1e9;
            out.histogram(
                "minimax_mock_request_duration_seconds",
                &labels,
                &BUCKETS_NS,
                &buckets,
                sum,
            );
        }
    }
    out.family(
        "minimax_mock_submits_total",
        text::Kind::Counter,
        "Submits, by API and whether a task was created (accepted) or the submit refused.",
    );
    for (ns, c, _) in namespaces {
        for api in Api::ALL {
            for (accepted, outcome) in [(true, "accepted"), (false, "refused")] {
                let mut labels = base(*ns);
                labels.extend([("api", api.label().to_owned()), ("outcome", outcome.to_owned())]);
                let n = read(&c.submits[api as usize * 2 + usize::from(accepted)]);
                out.sample("minimax_mock_submits_total", &labels, n);
            }
        }
    }
    out.family(
        "minimax_mock_polls_total",
        text::Kind::Counter,
        "Polls of a known task, by the API of the query and the phase it showed (replayed: a recorded answer).",
    );
    for (ns, c, _) in namespaces {
        for api in Api::ALL {
            for shown in Shown::ALL {
                let mut labels = base(*ns);
                labels.extend([("api", api.label().to_owned()), ("phase", shown.label().to_owned())]);
                let n = read(&c.polls[api as usize * Shown::COUNT + shown.index()]);
                out.sample("minimax_mock_polls_total", &labels, n);
            }
        }
    }
    out.family(
        "minimax_mock_faults_total",
        text::Kind::Counter,
        "Scripted faults applied to answers, by API and kind (a delay with an error status counts for each).",
    );
    for (ns, c, _) in namespaces {
        for api in Api::ALL {
            for kind in FaultKind::ALL {
                let mut labels = base(*ns);
                labels.extend([("api", api.label().to_owned()), ("kind", kind.label().to_owned())]);
                let n = read(&c.faults[api as usize * FaultKind::ALL.len() + kind as usize]);
                out.sample("minimax_mock_faults_total", &labels, n);
            }
        }
    }
    out.family(
        "minimax_mock_callbacks_total",
        text::Kind::Counter,
        "Callback attempts, by kind (challenge, update) and outcome (delivered, failed, dropped by a callback fault); every retry and every copy of a duplicate is an attempt.",
    );
    for (ns, c, _) in namespaces {
        for (k, kind) in CALLBACK_KINDS.iter().enumerate() {
            for outcome in CallbackOutcome::ALL {
                let mut labels = base(*ns);
                labels.extend([("kind", (*kind).to_owned()), ("outcome", outcome.label().to_owned())]);
                let n = read(&c.callbacks[k * CallbackOutcome::ALL.len() + outcome as usize]);
                out.sample("minimax_mock_callbacks_total", &labels, n);
            }
        }
    }
    out.family(
        "minimax_mock_tasks",
        text::Kind::Gauge,
        "Tasks in the store now, by API and the status they show now (the gateway's word), at the time of the scrape.",
    );
    for (ns, _, tasks) in namespaces {
        for (api, status, n) in tasks {
            let mut labels = base(*ns);
            labels.extend([("api", api.label().to_owned()), ("status", (*status).to_owned())]);
            out.sample("minimax_mock_tasks", &labels, *n);
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_land_in_their_status_and_bucket() {
        let c = Counters::default();
        c.request(Endpoint::GatewayQuery, Some(200), Duration::from_micros(50));
        c.request(Endpoint::GatewayQuery, Some(200), Duration::from_millis(3));
        c.request(Endpoint::GatewayQuery, None, Duration::from_secs(60));
        c.callback("update", CallbackOutcome::Dropped);
        let text = scrape(&[(None, &c, vec![(Api::V2, "QUEUED", 2)])]);
        assert!(
            text.contains("minimax_mock_requests_total{api=\"gateway\",route=\"query\",status=\"200\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("minimax_mock_requests_total{api=\"gateway\",route=\"query\",status=\"reset\"} 1\n"));
        assert!(text.contains(
            "minimax_mock_request_duration_seconds_bucket{api=\"gateway\",route=\"query\",le=\"0.0001\"} 1\n"
        ));
        assert!(text.contains(
            "minimax_mock_request_duration_seconds_bucket{api=\"gateway\",route=\"query\",le=\"0.005\"} 2\n"
        ));
        assert!(text
            .contains("minimax_mock_request_duration_seconds_bucket{api=\"gateway\",route=\"query\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("minimax_mock_request_duration_seconds_count{api=\"gateway\",route=\"query\"} 3\n"));
        assert!(text.contains("minimax_mock_callbacks_total{kind=\"update\",outcome=\"dropped\"} 1\n"));
        assert!(text.contains("minimax_mock_tasks{api=\"v2\",status=\"QUEUED\"} 2\n"));
        let namespaced = scrape(&[(Some("team-a"), &c, vec![])]);
        assert!(namespaced
            .contains("minimax_mock_callbacks_total{namespace=\"team-a\",kind=\"update\",outcome=\"dropped\"} 1\n"));
    }
}
