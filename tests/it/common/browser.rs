//! A real browser for the dashboard's tests: headless Chromium (Debian's
//! `chromium`), driven over the DevTools protocol.
//!
//! The protocol runs over one WebSocket, and the client for it is written
//! here (the upgrade, masked text frames out, frames in, ping and close: a
//! hundred lines) instead of taken from a crate: a WebSocket crate and its
//! TLS and HTTP dependencies would be built for every `cargo test`, on a
//! fresh machine without Chromium too, for the few tests that need it.
//!
//! Chromium is found as `$CHROMIUM`, else `chromium`, `chromium-browser`,
//! `google-chrome` or `google-chrome-stable` on the PATH; without one,
//! [`Browser::launch`] panics saying how to get it: a browser test fails, it
//! does not skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long a page may take to show what a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// One browser at a time: each test starts its own, and two cores do not
/// run several well.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A headless Chromium with one page, stopped when dropped.
pub struct Browser {
    child: Child,
    dir: PathBuf,
    socket: WebSocket,
    session: String,
    next_id: u64,
    /// Events received so far (`{"method", "params"}`), oldest first.
    pub events: Vec<Value>,
    _turn: MutexGuard<'static, ()>,
}

/// The Chromium binary, or a panic that says how to get one.
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no Chromium: the dashboard's browser tests need one. Install it (`apt-get install -y chromium` on Debian; \
         .ci/run does) or set CHROMIUM=/path/to/chrome, then run `cargo test --test dashboard -- --ignored`"
    );
}

impl Browser {
    /// Starts Chromium headless on a free DevTools port and opens a page.
    pub fn launch() -> Self {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let binary = chromium();
        static RUN: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "minimax-mock-chromium-{}-{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("chromium.log")).unwrap();
        let child = Command::new(&binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
                "--no-pings",
                "--metrics-recording-only",
                "--mute-audio",
                "--hide-scrollbars",
                "--window-size=1280,1000",
            ])
            .arg(format!("--user-data-dir={}", dir.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                panic!("cannot start {}: {e}", binary.display())
            });
        let mut browser_child = child;
        let (port, path) = devtools_address(&dir, &mut browser_child);
        let mut socket = WebSocket::connect(port, &path);
        let mut next_id = 1;
        let target = call(
            &mut socket,
            &mut next_id,
            None,
            "Target.createTarget",
            json!({"url": "about:blank"}),
            &mut Vec::new(),
        );
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = call(
            &mut socket,
            &mut next_id,
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
            &mut Vec::new(),
        );
        let session = attached["sessionId"].as_str().expect("a session id").to_owned();
        let mut browser = Self {
            child: browser_child,
            dir,
            socket,
            session,
            next_id,
            events: Vec::new(),
            _turn: turn,
        };
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser
    }

    /// A DevTools command on the page; its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        call(
            &mut self.socket,
            &mut self.next_id,
            Some(&self.session),
            method,
            params,
            &mut self.events,
        )
    }

    /// Opens `url` and waits until it has loaded.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_for(
            &format!("{url} to load"),
            "document.readyState === 'complete' && location.href !== 'about:blank'",
        );
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}\nthrew: {exception}");
        }
        result["result"].get("value").cloned().unwrap_or(Value::Null)
    }

    /// Waits until `expression` is truthy; its value. On timeout the panic
    /// shows what the page says, to see why.
    pub fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.eval(expression);
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if started.elapsed() > PATIENCE {
                let page = self.eval("document.body ? document.body.innerText.slice(0, 3000) : '(no body)'");
                panic!(
                    "waited {PATIENCE:?} for {what}: `{expression}` is {value}\nthe page says:\n{}",
                    page.as_str().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks the element `selector` matches, as a user would: a mouse press
    /// and release at its centre.
    pub fn click(&mut self, selector: &str) {
        let query = serde_json::to_string(selector).unwrap();
        let rect = self.wait_for(
            &format!("{selector} to be on the page"),
            &format!(
                "(() => {{ const e = document.querySelector({query}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return r.width > 0 ? [r.x + r.width / 2, r.y + r.height / 2] : null; }})()"
            ),
        );
        let (x, y) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Focuses the input `selector`, clears it and types `text`.
    pub fn type_into(&mut self, selector: &str, text: &str) {
        let query = serde_json::to_string(selector).unwrap();
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({query}); e.focus(); e.select && e.select(); }})()"
        ));
        self.call("Input.insertText", json!({ "text": text }));
    }

    /// A PNG of the top `height` pixels of the page, as shown.
    pub fn screenshot(&mut self, height: u32) -> Vec<u8> {
        let clip = json!({"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1});
        let shot = self.call("Page.captureScreenshot", json!({"format": "png", "clip": clip}));
        base64_decode(shot["data"].as_str().expect("screenshot data"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .socket
            .send(&json!({"id": 0, "method": "Browser.close"}).to_string());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The DevTools port and browser path, from the file Chromium writes once it listens.
fn devtools_address(dir: &Path, child: &mut Child) -> (u16, String) {
    let file = dir.join("DevToolsActivePort");
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                return (port.trim().parse().expect("a port"), path.trim().to_owned());
            }
        }
        let failed = match child.try_wait() {
            Ok(Some(status)) => Some(format!("Chromium exited ({status}) before listening")),
            _ if started.elapsed() > Duration::from_secs(30) => {
                let _ = child.kill();
                let _ = child.wait();
                Some("Chromium did not open its DevTools port in 30 s".to_owned())
            }
            _ => None,
        };
        if let Some(why) = failed {
            let log = std::fs::read_to_string(dir.join("chromium.log")).unwrap_or_default();
            let _ = std::fs::remove_dir_all(dir);
            panic!("{why}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends a command and reads until its answer, keeping the events between.
fn call(
    socket: &mut WebSocket,
    next_id: &mut u64,
    session: Option<&str>,
    method: &str,
    params: Value,
    events: &mut Vec<Value>,
) -> Value {
    let id = *next_id;
    *next_id += 1;
    let mut message = json!({"id": id, "method": method, "params": params});
    if let Some(session) = session {
        message["sessionId"] = json!(session);
    }
    socket.send(&message.to_string()).expect("send to Chromium");
    loop {
        let text = socket
            .receive()
            .unwrap_or_else(|e| panic!("{method}: Chromium went away: {e}"));
        let reply: Value = serde_json::from_str(&text).expect("DevTools sends JSON");
        if reply["id"] == json!(id) {
            if let Some(error) = reply.get("error") {
                panic!("{method} failed: {error}");
            }
            return reply["result"].clone();
        }
        if reply.get("method").is_some() {
            events.push(reply);
        }
    }
}

/// The client end of a WebSocket (RFC 6455), text messages only.
struct WebSocket {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    mask: u32,
}

impl WebSocket {
    fn connect(port: u16, path: &str) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to DevTools");
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut writer = stream.try_clone().unwrap();
        // The key is any 16 bytes in base64; the answer is not checked.
        write!(
            writer,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 101 "), "DevTools refused the WebSocket: {status}");
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        Self {
            stream: writer,
            reader,
            mask: 0x5eed_1234,
        }
    }

    fn send(&mut self, text: &str) -> std::io::Result<()> {
        self.frame(0x1, text.as_bytes())
    }

    /// One frame, masked as a client's must be.
    fn frame(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.mask = self.mask.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let mask = self.mask.to_be_bytes();
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame)
    }

    /// The next text message (fragments joined; pings answered).
    fn receive(&mut self) -> std::io::Result<String> {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head)?;
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0F;
            let masked = head[1] & 0x80 != 0;
            let len = match head[1] & 0x7F {
                126 => {
                    let mut n = [0u8; 2];
                    self.reader.read_exact(&mut n)?;
                    u64::from(u16::from_be_bytes(n))
                }
                127 => {
                    let mut n = [0u8; 8];
                    self.reader.read_exact(&mut n)?;
                    u64::from_be_bytes(n)
                }
                n => u64::from(n),
            };
            let mut mask = [0u8; 4];
            if masked {
                self.reader.read_exact(&mut mask)?;
            }
            let mut payload = vec![0u8; len as usize];
            self.reader.read_exact(&mut payload)?;
            if masked {
                payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= mask[i % 4]);
            }
            match opcode {
                0x0..=0x2 => {
                    message.extend_from_slice(&payload);
                    if fin {
                        return String::from_utf8(message)
                            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e));
                    }
                }
                0x8 => return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "closed")),
                0x9 => self.frame(0xA, &payload)?,
                _ => {}
            }
        }
    }
}

/// Standard base64 (the screenshot's encoding).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(value(*c)) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8hIQ=="), b"hello!!");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
