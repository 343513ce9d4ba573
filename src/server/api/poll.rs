//! What every query does, whichever API it speaks: find the task (a
//! scenarios-file rule brings a named id into being), count the poll,
//! render the surface's body, and deliver it as the step's fault says.

use std::time::Duration;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::StatusCode;

use crate::lifecycle::artifact::{rng_for, Resolution};
use crate::lifecycle::faults::{self, Fault};
use crate::server::api::render::{self, Key, Shape, TaskView};
use crate::server::app::App;
use crate::server::http::{json, reply, Outcome, EXPOSED};
use crate::server::metrics::{Api, FaultKind, Shown};
use crate::server::store::tasks::{Recorded, Request, Surface, Task};
use crate::server::store::Poll;

/// A rendered poll, before delivery. The rare parts are boxed: it is moved
/// from the store's lookup to the delivery on every poll, and without them
/// it is a quarter of the size.
pub struct Polled {
    pub body: Bytes,
    /// A replayed task's recorded answer, delivered as it is instead of `body`.
    pub recorded: Option<Box<Recorded>>,
    pub fault: Option<Box<Fault>>,
    /// Polls before this one.
    pub polls: u64,
    /// The shared store could not be reached (`--store`): delivered as
    /// 503 in the surface's error body, so every query answers it alike.
    pub unavailable: bool,
}

impl Polled {
    fn unavailable() -> Self {
        Self {
            body: Bytes::new(),
            recorded: None,
            fault: None,
            polls: 0,
            unavailable: true,
        }
    }
}

/// The answer when the shared store (`--store`) cannot be reached: 503 in
/// `surface`'s error body. Nothing falls back to memory.
pub fn unavailable(app: &App, surface: Surface) -> Outcome {
    json(StatusCode::SERVICE_UNAVAILABLE, status_error(app, surface, 503)).into()
}

/// Polls `task_id` through `surface`'s query, its body in `shape` as
/// `render` writes it: `None` if there is no such task for that surface.
pub async fn poll(
    app: &App,
    task_id: &str,
    surface: Surface,
    shape: Shape,
    render: impl Fn(&TaskView<'_>) -> Vec<u8>,
) -> Option<Polled> {
    poll_task(app, task_id, surface, shape, |_, view| render(view)).await
}

/// [`poll`] for a body that shows what the view does not (the OpenAI
/// surface's model): `render` sees the task too.
pub async fn poll_task(
    app: &App,
    task_id: &str,
    surface: Surface,
    shape: Shape,
    render: impl Fn(&Task, &TaskView<'_>) -> Vec<u8>,
) -> Option<Polled> {
    let show = |task: &Task, poll: Poll| {
        app.note_polled(task);
        if let Some(recorded) = task.replay.as_deref().and_then(|r| r.next(surface)) {
            app.metrics.counters.poll(Api::of(surface), Shown::Replayed);
            return Polled {
                body: Bytes::new(),
                recorded: Some(Box::new(recorded)),
                fault: None,
                polls: poll.before,
                unavailable: false,
            };
        }
        if task.callback.is_some() {
            app.callbacks.changed.notify_waiters();
        }
        let view = task.view(poll.now, poll.before, &app.base_url);
        app.metrics
            .counters
            .poll(Api::of(surface), Shown::Phase(view.moment.phase()));
        let body = task.last_body.get_or_render(Key::of(shape, &view), view.base_url, || {
            render::into_bytes(render(task, &view))
        });
        Polled {
            body,
            recorded: None,
            fault: view.moment.step.fault.clone().map(Box::new),
            polls: poll.before,
            unavailable: false,
        }
    };
    match app.store.poll(task_id, surface, show).await {
        Ok(Some(polled)) => return Some(polled),
        Ok(None) => {}
        Err(_) => return Some(Polled::unavailable()),
    }
    // A task id that a scenarios-file rule names exists from its first query on.
    let scenario = app.catalog.rule_for(task_id)?;
    let request = match surface {
        Surface::V2 => Request {
            resolution: Resolution::for_v2("768P", "16:9").expect("a known frame"),
            duration_s: 5,
            surface,
            ratio: Some("16:9"),
            v2: Default::default(),
            model: None,
        },
        _ => Request {
            surface,
            ..Request::default()
        },
    };
    let task = match app.store.create_named(task_id, scenario, request).await {
        Ok(task) => task?,
        Err(_) => return Some(Polled::unavailable()),
    };
    app.note_task(&task);
    match app.store.poll(task_id, surface, show).await {
        Ok(polled) => polled,
        Err(_) => Some(Polled::unavailable()),
    }
}

/// Delivers a poll as its step's fault says: late, as an error in the
/// surface's own error body, mangled, or not at all.
pub async fn deliver(app: &App, task_id: &str, surface: Surface, polled: Polled) -> Outcome {
    let Polled {
        body,
        recorded,
        fault,
        polls,
        unavailable: down,
    } = polled;
    if down {
        return unavailable(app, surface);
    }
    if let Some(recorded) = recorded {
        let Recorded {
            status,
            content_type,
            body,
        } = *recorded;
        return reply(status, content_type, body).into();
    }
    let Some(fault) = fault else {
        return json(StatusCode::OK, body).into();
    };
    let counters = &app.metrics.counters;
    if let Some(kind) = fault.effect.as_ref().map(fault_kind) {
        counters.fault(Api::of(surface), kind);
    }
    if let Some((min, max)) = fault.delay {
        counters.fault(Api::of(surface), FaultKind::Delay);
        // Random but reproducible: keyed by the seed, the task and the poll.
        // The generator is gone before the sleep, so this future (copied at
        // every `.await` of every poll) does not hold its 320 bytes.
        let ms: u64 = {
            let mut rng = rng_for(app.store.tasks().seed(), &format!("{task_id}/delay/{polls}"));
            fake::Fake::fake_with_rng(&(min.as_millis() as u64..=max.as_millis() as u64), &mut rng)
        };
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match fault.effect {
        None => json(StatusCode::OK, body).into(),
        Some(faults::Effect::Status { code, retry_after }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut reply = json(status, status_error(app, surface, code));
            if let Some(seconds) = retry_after {
                let headers = reply.headers_mut();
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                // Only answers that carry such headers expose them to scripts.
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
            }
            reply.into()
        }
        Some(faults::Effect::Reset) => Outcome {
            reset: true,
            ..json(StatusCode::OK, Bytes::new()).into()
        },
        Some(effect) => json(StatusCode::OK, faults::mangle(body.to_vec(), &effect)).into(),
    }
}

/// The metrics' name for an effect.
fn fault_kind(effect: &faults::Effect) -> FaultKind {
    match effect {
        faults::Effect::Status { .. } => FaultKind::Status,
        faults::Effect::Truncated => FaultKind::Truncated,
        faults::Effect::Malformed => FaultKind::Malformed,
        faults::Effect::Reset => FaultKind::Reset,
        faults::Effect::Break { .. } => FaultKind::Break,
    }
}

/// The error body of `surface` for an HTTP error status.
pub fn status_error(app: &App, surface: Surface, code: u16) -> Vec<u8> {
    match surface {
        Surface::Gateway => render::status_error(code),
        Surface::Native => render::native::status_error(code),
        Surface::V2 => render::v2::status_error(code, &app.store.request_id()),
        Surface::OpenAi => render::openai::status_error(code),
    }
}
