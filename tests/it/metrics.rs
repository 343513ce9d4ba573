//! `GET /__mock/metrics`, read by an independent parser of the Prometheus
//! text format (`prometheus-parse`): the counters follow the traffic sent,
//! and the endpoint is guarded like the rest of the control API.

use prometheus_parse::{Scrape, Value as Metric};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{config, start, TestServer};
use crate::dialects::{post, receiver, updates, Receiver, JSON};
use minimax_mock::server::Config;

/// The metrics, parsed.
async fn scrape(server: &TestServer) -> Scrape {
    let r = server.get("/__mock/metrics").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let scrape = Scrape::parse(r.body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    // Every sample of ours is documented and typed.
    for sample in &scrape.samples {
        let family = sample.metric.trim_end_matches("_sum").trim_end_matches("_count");
        assert!(scrape.docs.contains_key(family), "{} has no HELP", sample.metric);
    }
    scrape
}

/// The value of the sample `name` whose labels include `labels`: a counter,
/// gauge or untyped value, or a histogram's +Inf bucket. 0 if absent.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
            Metric::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Metric::Summary(_) => panic!("no summaries here"),
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {} samples", found.len());
    found.first().copied().unwrap_or(0.0)
}

/// The cumulative count of `name`'s histogram at bucket `le`.
fn bucket(scrape: &Scrape, name: &str, labels: &[(&str, &str)], le: f64) -> f64 {
    let sample = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no {name} {labels:?}"));
    let Metric::Histogram(buckets) = &sample.value else {
        panic!("{name} is not a histogram")
    };
    buckets
        .iter()
        .find(|b| (b.less_than - le).abs() < 1e-12)
        .unwrap_or_else(|| panic!("no bucket {le}"))
        .count
}

/// A GET that may be answered by a reset: the status, if any.
async fn raw_get(server: &TestServer, target: &str) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let head = String::from_utf8_lossy(&answer);
    head.split(' ').nth(1).and_then(|s| s.parse().ok())
}

#[tokio::test]
async fn the_counters_follow_the_traffic() {
    let hook = receiver(Receiver::Echo).await;
    let server = start(config()).await;

    // The gateway: a submit polled through its five steps, and one refused.
    let task = server.submit("success-polls").await;
    for _ in 0..5 {
        assert_eq!(server.query(&task).await.status, 200);
    }
    let refused = post(&server, "/minimax/v1/video_generation", &[], "{}").await;
    assert_eq!(refused.status, 400);

    // MiniMax's v1: flaky meets every fault once in ten polls.
    let flaky = post(
        &server,
        "/v1/video_generation",
        &[("Prefer", "scenario=flaky")],
        r#"{"model": "MiniMax-Hailuo-02", "prompt": "x"}"#,
    )
    .await
    .json()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(raw_get(&server, &format!("/v1/query/video_generation?task_id={flaky}")).await);
    }
    assert_eq!(statuses.iter().filter(|s| s.is_none()).count(), 1, "one reset");

    // v2 with a callback: rough-delivery's updates, one dropped.
    let body = json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "ratio": "1:1", "resolution": "768P", "duration": 5, "callback_url": hook.url});
    let v2 = post(
        &server,
        "/v2/video_generation",
        &[("Prefer", "scenario=rough-delivery")],
        &body.to_string(),
    )
    .await
    .json()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server
        .send("POST", "/__mock/clock", &[JSON], r#"{"advance": "30s"}"#)
        .await;
    assert_eq!(r.status, 200);
    updates(&server, &v2, 4).await;
    // A task that has not started, and a path nobody serves.
    let r = server
        .send("PUT", "/__mock/tasks/waiting", &[JSON], r#"{"scenario": "slow"}"#)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(server.get("/nope").await.status, 404);

    let m = scrape(&server).await;
    let requests = "minimax_mock_requests_total";
    let req = |api, route, status| value(&m, requests, &[("api", api), ("route", route), ("status", status)]);
    assert_eq!(req("gateway", "submit", "200"), 1.0);
    assert_eq!(req("gateway", "submit", "400"), 1.0);
    assert_eq!(req("gateway", "query", "200"), 5.0);
    assert_eq!(req("native", "submit", "200"), 1.0);
    assert_eq!(req("native", "query", "200"), 6.0);
    for status in ["429", "502", "503", "reset"] {
        assert_eq!(req("native", "query", status), 1.0, "{status}");
    }
    assert_eq!(req("v2", "submit", "200"), 1.0);
    assert_eq!(req("mock", "control", "200"), 2.0, "the clock and the script");
    assert_eq!(req("none", "not_found", "404"), 1.0);

    // The durations: ten native queries, one held 100..400 ms by its delay.
    let took = "minimax_mock_request_duration_seconds";
    let native_query = [("api", "native"), ("route", "query")];
    assert_eq!(value(&m, took, &native_query), 10.0);
    assert_eq!(value(&m, &format!("{took}_count"), &native_query), 10.0);
    assert_eq!(bucket(&m, took, &native_query, 0.1), 9.0);
    assert!(value(&m, &format!("{took}_sum"), &native_query) >= 0.1);

    let submits = |api, outcome| value(&m, "minimax_mock_submits_total", &[("api", api), ("outcome", outcome)]);
    assert_eq!(
        [submits("gateway", "accepted"), submits("gateway", "refused")],
        [1.0, 1.0]
    );
    assert_eq!([submits("native", "accepted"), submits("v2", "accepted")], [1.0, 1.0]);

    let polls = |api, phase| value(&m, "minimax_mock_polls_total", &[("api", api), ("phase", phase)]);
    assert_eq!(
        [
            polls("gateway", "pending"),
            polls("gateway", "processing"),
            polls("gateway", "success")
        ],
        [3.0, 1.0, 1.0]
    );
    assert_eq!(
        [
            polls("native", "pending"),
            polls("native", "processing"),
            polls("native", "success")
        ],
        [4.0, 5.0, 1.0]
    );
    assert_eq!(polls("v2", "pending"), 0.0);

    let faults = |kind| value(&m, "minimax_mock_faults_total", &[("api", "native"), ("kind", kind)]);
    assert_eq!(
        ["status", "delay", "truncated", "malformed", "reset", "break"].map(faults),
        [3.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    );
    assert_eq!(
        value(
            &m,
            "minimax_mock_faults_total",
            &[("api", "gateway"), ("kind", "status")]
        ),
        0.0
    );

    let callbacks = |kind, outcome| {
        value(
            &m,
            "minimax_mock_callbacks_total",
            &[("kind", kind), ("outcome", outcome)],
        )
    };
    assert_eq!(callbacks("challenge", "delivered"), 1.0);
    assert_eq!(
        [
            callbacks("update", "delivered"),
            callbacks("update", "dropped"),
            callbacks("update", "failed")
        ],
        [3.0, 1.0, 0.0]
    );

    let tasks = |api, status| value(&m, "minimax_mock_tasks", &[("api", api), ("status", status)]);
    assert_eq!(
        [
            tasks("gateway", "SUCCESS"),
            tasks("gateway", "NOT_START"),
            tasks("native", "SUCCESS"),
            tasks("v2", "SUCCESS")
        ],
        [1.0, 1.0, 1.0, 1.0]
    );
    assert_eq!(tasks("gateway", "QUEUED"), 0.0);

    // Counters only grow; the scrape itself counts from the next one on.
    let again = scrape(&server).await;
    assert_eq!(
        value(
            &again,
            requests,
            &[("api", "mock"), ("route", "control"), ("status", "200")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &again,
            requests,
            &[("api", "native"), ("route", "query"), ("status", "200")]
        ),
        6.0
    );
}

/// The metrics are the control API's: a token, a foreign origin and
/// `--no-control` keep them as they keep the rest.
#[tokio::test]
async fn the_metrics_are_guarded_like_the_control_api() {
    let server = start(Config {
        control_token: Some("s3cret".to_owned()),
        ..config()
    })
    .await;
    assert_eq!(server.get("/__mock/metrics").await.status, 401);
    let r = server
        .send("GET", "/__mock/metrics", &[("Authorization", "Bearer s3cret")], "")
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("# TYPE minimax_mock_requests_total counter\n"));
    let r = server
        .send(
            "GET",
            "/__mock/metrics",
            &[("Authorization", "Bearer s3cret"), ("Origin", "http://evil.example")],
            "",
        )
        .await;
    assert_eq!(r.status, 403);
    let r = server
        .send("POST", "/__mock/metrics", &[("Authorization", "Bearer s3cret")], "")
        .await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));

    let closed = start(Config {
        control: false,
        ..config()
    })
    .await;
    assert_eq!(closed.get("/__mock/metrics").await.status, 404);
}

/// One endpoint for the instance: a namespace's traffic is counted under its
/// `namespace` label, the default namespace's without one; a namespace's own
/// endpoint shows that namespace.
#[tokio::test]
async fn each_namespace_is_counted_under_its_label() {
    let server = start(config()).await;
    let body = r#"{"model": "MiniMax-Hailuo-02", "prompt": "x"}"#;
    for _ in 0..2 {
        let r = post(&server, "/ns/t1/minimax/v1/video_generation", &[], body).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = post(&server, "/minimax/v1/video_generation", &[], body).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let all = scrape(&server).await;
    let submits = |ns: Option<&str>| -> f64 {
        all.samples
            .iter()
            .filter(|s| {
                s.metric == "minimax_mock_requests_total"
                    && s.labels.get("api") == Some("gateway")
                    && s.labels.get("route") == Some("submit")
                    && s.labels.get("namespace") == ns
            })
            .map(|s| match s.value {
                Metric::Counter(v) => v,
                _ => panic!("a counter"),
            })
            .sum()
    };
    assert_eq!((submits(None), submits(Some("t1"))), (1.0, 2.0));
    assert_eq!(
        value(
            &all,
            "minimax_mock_tasks",
            &[("namespace", "t1"), ("api", "gateway"), ("status", "NOT_START")]
        ),
        2.0
    );

    let r = server.get("/ns/t1/__mock/metrics").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let own = Scrape::parse(r.body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    assert!(own.samples.iter().all(|s| s.labels.get("namespace") == Some("t1")));
    assert_eq!(
        value(
            &own,
            "minimax_mock_submits_total",
            &[("api", "gateway"), ("outcome", "accepted")]
        ),
        2.0
    );
}
