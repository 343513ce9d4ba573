//! The limits that keep the mock small and responsive under load: a bounded
//! task store, paged listings, stalled clients cut off while slow pollers
//! keep their connection, and a cap on connections.

use std::time::Duration;

use crate::common::{config, start, Conn};
use minimax_mock::server::http::connection::Timeouts;
use minimax_mock::server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn past_max_tasks_the_oldest_is_forgotten_even_with_a_rule() {
    let catalog = minimax_mock::lifecycle::scenarios::Catalog::from_text(
        "rules.json",
        r#"{"rules": [{"task_id": "e2e-*", "scenario": "success-polls"}]}"#,
    )
    .unwrap();
    let server = start(Config {
        catalog,
        max_tasks: 2,
        ..config()
    })
    .await;
    // A rule brings e2e-1 into being; two submits push it out.
    assert_eq!(server.query("e2e-1").await.status, 200);
    let a = server.submit("instant").await;
    let b = server.submit("instant").await;
    let gone = server.query("e2e-1").await;
    assert_eq!(gone.status, 400, "a forgotten task is not re-created: {}", gone.body);
    assert_eq!(gone.json()["code"], "task_not_exist");
    assert_eq!(server.query(&a).await.status, 200);
    assert_eq!(server.query(&b).await.status, 200);
    let health = server.get("/__mock/health").await.json();
    assert_eq!(
        (
            health["tasks"].as_u64(),
            health["max_tasks"].as_u64(),
            health["forgotten"].as_u64()
        ),
        (Some(2), Some(2), Some(1))
    );
    // A rule still creates ids it never forgot.
    assert_eq!(server.query("e2e-2").await.status, 200);
}

#[tokio::test]
async fn tasks_and_the_journal_are_listed_in_pages() {
    let server = start(config()).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(server.submit("instant").await);
    }
    let mut seen = Vec::new();
    let mut target = "/__mock/tasks?limit=2".to_owned();
    loop {
        let page = server.get(&target).await.json();
        for task in page["tasks"].as_array().unwrap() {
            seen.push(task["task_id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => target = format!("/__mock/tasks?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let first = server.get("/__mock/requests?limit=3").await.json();
    assert_eq!(first["requests"].as_array().unwrap().len(), 3);
    let next = first["next"].as_str().unwrap();
    let rest = server.get(&format!("/__mock/requests?after={next}")).await.json();
    assert_eq!(rest["requests"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next"], serde_json::Value::Null);
    let bad = server.get("/__mock/tasks?limit=many").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("?limit"), "{}", bad.body);
}

/// Reads until the peer closes; whether it did within `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn a_stalled_head_is_cut_off_but_a_slow_poller_keeps_its_connection() {
    let server = start(Config {
        timeouts: Timeouts {
            header: Duration::from_millis(150),
            keep_alive: Duration::from_secs(5),
        },
        ..config()
    })
    .await;
    // Half a request head, then nothing: closed after the header timeout.
    let mut stalled = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(b"GET /__mock/health HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut stalled, Duration::from_secs(2)).await,
        "a stalled head is cut off"
    );
    // A connection that never sends anything: also the header timeout.
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(2)).await);
    // A poller that waits longer than the header timeout between polls keeps its connection.
    let task = server.submit("success-polls").await;
    let mut poller = Conn::open(server.addr).await;
    let target = format!("/minimax/v1/query/video_generation?task_id={task}");
    for _ in 0..3 {
        assert_eq!(poller.send("GET", &target, &[], "").await.status, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let server = start(Config {
        timeouts: Timeouts {
            header: Duration::from_secs(5),
            keep_alive: Duration::from_millis(150),
        },
        ..config()
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /__mock/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_within(&mut stream, Duration::from_secs(2)).await,
        "idle past keep-alive"
    );
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_not_queued() {
    let server = start(Config {
        max_connections: 2,
        ..config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = Conn::open(server.addr).await;
        assert_eq!(conn.send("GET", "/__mock/health", &[], "").await.status, 200);
        held.push(conn);
    }
    let mut third = Conn::open(server.addr).await;
    let refused = third.read_response(false).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["code"], "too_many_connections");
    // Once one closes, a new connection is served.
    drop(held.pop());
    assert!(served_within(server.addr, 100).await.is_some());
}

/// A connection whose health probe is answered, opening one every 10 ms
/// for at most `tries` (the mock frees a closed one a moment later).
async fn served_within(addr: std::net::SocketAddr, tries: usize) -> Option<Conn> {
    for _ in 0..tries {
        let mut conn = Conn::open(addr).await;
        if conn.send("GET", "/__mock/health", &[], "").await.status == 200 {
            return Some(conn);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test]
async fn a_client_that_leaves_while_its_answer_waits_frees_its_connection() {
    let server = start(Config {
        max_connections: 1,
        ..config()
    })
    .await;
    let mut conn = Conn::open(server.addr).await;
    let steps = r#"{"steps": [{"status": "QUEUED", "polls": 1, "fault": {"delay": "60s"}}, {"status": "SUCCESS"}]}"#;
    assert_eq!(conn.send("PUT", "/__mock/tasks/slow", &[], steps).await.status, 200);
    conn.write_raw(b"GET /minimax/v1/query/video_generation?task_id=slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    // The one connection the mock allows waits on a 60 s delay; the client
    // gives up on it. The mock notices and serves the next client.
    drop(conn);
    let started = std::time::Instant::now();
    let served = served_within(server.addr, 200).await;
    let mut next = served.unwrap_or_else(|| panic!("still held after {:?}", started.elapsed()));
    // Control requests are not recorded, and the poll was never answered.
    let journal = next.send("GET", "/__mock/requests", &[], "").await.json();
    assert_eq!(journal["requests"].as_array().unwrap().len(), 0, "{journal}");
}
