//! Benchmark of `minimax-mock proxy`: latency through the proxy against
//! latency straight to the same upstream (`minimax-mock serve`), in the same
//! run, at a fixed request rate well below saturation; then the saturated
//! requests per second of both, for the record. Run it through
//! `bench/proxy.sh`, which builds it and the binary in release mode.
//!
//! The load generator is open-loop (wrk2-style): request `i` is due at
//! `start + i / RATE` whatever happened before, and its latency counts from
//! when it was due, so a stall shows in the percentiles instead of quietly
//! lowering the rate (coordinated omission). It runs on one thread over a
//! pooled keep-alive client; generator, proxy and upstream share the
//! machine's cores.
//!
//! Env: RATE (requests/s, default 1000), DURATION (seconds per phase,
//! default 10), ROUNDS (direct/proxy alternations, default 3), CONNECTIONS
//! (for the saturated runs, default 32), BIN (default
//! target/release/minimax-mock).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Starts `BIN ARGS --port 0`, returns it and its base URL from the ready line.
fn spawn(bin: &str, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(bin)
        .args(args)
        .args(["--port", "0", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("minimax-mock listening on ")
        .unwrap_or_else(|| panic!("ready line: {line:?}"))
        .to_owned();
    (child, url)
}

fn client() -> HttpClient {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(256)
        .build(http)
}

async fn get(client: &HttpClient, url: &hyper::Uri) -> bool {
    match client.get(url.clone()).await {
        Ok(response) => {
            let ok = response.status().is_success();
            response.into_body().collect().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
    achieved_rps: f64,
}

/// `rate` requests a second for `duration`, each timed from when it was due.
///
/// A pacing thread sleeps with the OS timer (tens of microseconds of slack)
/// and hands each due time to the runtime, whose own timer has a resolution
/// of 1 ms: too coarse for latencies near 1 ms.
async fn fixed_rate(client: &HttpClient, url: &hyper::Uri, rate: u64, duration: Duration) -> Latency {
    let total = (rate as f64 * duration.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let samples = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let errors = Arc::new(Mutex::new(0usize));
    let start = Instant::now() + Duration::from_millis(10);
    let (due_tx, mut due_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let pacer = std::thread::spawn(move || {
        for i in 0..total {
            let due = start + interval * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if due_tx.send(due).is_err() {
                return;
            }
        }
    });
    let mut tasks = Vec::with_capacity(total);
    while let Some(due) = due_rx.recv().await {
        let (client, url, samples, errors) = (client.clone(), url.clone(), samples.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let ok = get(&client, &url).await;
            let took = due.elapsed();
            if ok {
                samples.lock().unwrap().push(took);
            } else {
                *errors.lock().unwrap() += 1;
            }
        }));
    }
    pacer.join().unwrap();
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = start.elapsed();
    let mut samples = std::mem::take(&mut *samples.lock().unwrap());
    samples.sort();
    let pick = |q: f64| {
        samples
            .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let errors = *errors.lock().unwrap();
    Latency {
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        errors,
        achieved_rps: total as f64 / elapsed.as_secs_f64(),
    }
}

/// As many requests as `connections` closed loops get answered in `duration`.
async fn saturated(client: &HttpClient, url: &hyper::Uri, connections: u64, duration: Duration) -> f64 {
    let deadline = Instant::now() + duration;
    let loops: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    if get(&client, &url).await {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for l in loops {
        done += l.await.unwrap_or(0);
    }
    done as f64 / duration.as_secs_f64()
}

fn main() {
    let bin = std::env::var("BIN").unwrap_or_else(|_| "target/release/minimax-mock".to_owned());
    let rate = env("RATE", 1000);
    let duration = Duration::from_secs(env("DURATION", 10));
    let rounds = env("ROUNDS", 3);
    let connections = env("CONNECTIONS", 32);

    let (mut upstream, upstream_url) = spawn(&bin, &["serve", "--frozen", "--epoch", "1756453472"]);
    let (mut proxy, proxy_url) = spawn(&bin, &["proxy", "--upstream", &upstream_url]);
    // One generator thread: it should not take a core from the servers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = client();
        // A live task whose every poll is judged by the proxy.
        let script: hyper::Uri = format!("{upstream_url}/__mock/tasks/bench").parse().unwrap();
        let put = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(HttpConnector::new());
        let request = hyper::Request::put(script)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(br#"{"scenario":"success"}"#)))
            .unwrap();
        assert!(put.request(request).await.unwrap().status().is_success());
        let target = "/minimax/v1/query/video_generation?task_id=bench";
        let direct: hyper::Uri = format!("{upstream_url}{target}").parse().unwrap();
        let proxied: hyper::Uri = format!("{proxy_url}{target}").parse().unwrap();
        // Warm-up: connections, pools, caches.
        fixed_rate(&client, &direct, rate, Duration::from_secs(1)).await;
        fixed_rate(&client, &proxied, rate, Duration::from_secs(1)).await;

        println!(
            "fixed rate {rate} req/s, {}s per phase, {rounds} rounds (latency from when each request was due)",
            duration.as_secs()
        );
        let (mut direct_p50, mut proxy_p50, mut direct_p99, mut proxy_p99) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 1..=rounds {
            for (name, url) in [("direct", &direct), ("proxy ", &proxied)] {
                let l = fixed_rate(&client, url, rate, duration).await;
                println!(
                    "  round {round} {name}  p50 {:.3} ms  p99 {:.3} ms  ({:.0} req/s sent, {} errors)",
                    l.p50_ms, l.p99_ms, l.achieved_rps, l.errors
                );
                let (p50s, p99s) = if name == "direct" {
                    (&mut direct_p50, &mut direct_p99)
                } else {
                    (&mut proxy_p50, &mut proxy_p99)
                };
                p50s.push(l.p50_ms);
                p99s.push(l.p99_ms);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let (d50, p50) = (median(&mut direct_p50), median(&mut proxy_p50));
        let (d99, p99) = (median(&mut direct_p99), median(&mut proxy_p99));
        let added = p50 - d50;
        let allowed = (d50 * 0.10).max(0.3);
        println!("direct p50 {d50:.3} ms  p99 {d99:.3} ms");
        println!("proxy  p50 {p50:.3} ms  p99 {p99:.3} ms");
        println!(
            "the proxy adds {added:.3} ms to p50 (allowed: {allowed:.3} ms, the larger of 10% and 0.3 ms): {}",
            if added <= allowed { "PASS" } else { "FAIL" }
        );

        println!("saturated, {connections} connections, {}s each:", duration.as_secs());
        let direct_rps = saturated(&client, &direct, connections, duration).await;
        let proxy_rps = saturated(&client, &proxied, connections, duration).await;
        println!("  direct {direct_rps:.0} req/s");
        println!(
            "  proxy  {proxy_rps:.0} req/s ({:.0}% of direct)",
            proxy_rps / direct_rps * 100.0
        );
        let findings: hyper::Uri = format!("{proxy_url}/__mock/findings").parse().unwrap();
        let body = client
            .get(findings)
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        println!(
            "the proxy judged {} answers, {} findings",
            v["judged"],
            v["findings"].as_array().map_or(0, Vec::len)
        );
    });
    let _ = proxy.kill();
    let _ = upstream.kill();
    let _ = proxy.wait();
    let _ = upstream.wait();
}
