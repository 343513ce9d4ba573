//! The ceiling for `bench/serve.sh`: a bare hyper server that answers every
//! request with the same bytes, built like minimax-mock's server (hyper 1
//! http1, keep-alive, TCP_NODELAY, a multi-threaded tokio runtime), so the
//! difference measured is the mock's own work.
//!
//! Usage: bare --port PORT --body FILE

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .unwrap_or_else(|| panic!("usage: bare --port PORT --body FILE"))
            .clone()
    };
    let port: u16 = arg("--port").parse().expect("a port number");
    let body = Bytes::from(std::fs::read(arg("--body")).expect("readable body file"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        println!("bare listening on http://{}", listener.local_addr().unwrap());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            let service = hyper::service::service_fn(move |_req| {
                let mut reply = Response::new(Full::new(body.clone()));
                reply.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                );
                async move { Ok::<_, Infallible>(reply) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
