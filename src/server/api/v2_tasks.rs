//! v2's endpoints beyond create and query, as MiniMax's reference documents
//! them: the list (`GET /v2/query/video_generation`), cancel-or-delete
//! (`DELETE /v2/video_generation/{task_id}`) and regeneration
//! (`POST /v2/video_regeneration`). Each sees only the v2 tasks of the last
//! 7 days on the mock's clock, and sees a task as its last query showed it
//! (a poll-driven step moves only on a query: listing is not polling).

use std::collections::HashSet;

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::StatusCode;

use crate::contract::V2_TASK_PREFIX;
use crate::lifecycle::artifact::{Resolution, TaskType, V2Model, V2Request};
use crate::lifecycle::clock::UnixMillis;
use crate::server::api::render::v2::{self as render, Removal};
use crate::server::api::submit::{Refusal, Submission};
use crate::server::api::v2::{self, error, invalid, INVALID_TASK_ID};
use crate::server::api::v2_rules;
use crate::server::app::App;
use crate::server::http::{json, percent_decode, Outcome};
use crate::server::store::tasks::{v2_ratio, Request, Surface, Task};
use crate::server::store::Deletion;

/// A list page's size when `page_size` is not given, and the largest.
pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// The statuses a task can have, and the task types, for the filters.
const STATUSES: [&str; 5] = ["queued", "running", "succeeded", "failed", "cancelled"];
const TASK_TYPES: [&str; 3] = ["generation", "h3_context_ir", "regeneration"];

/// v2's status of `task` at `now`, as its last query showed it (its first
/// step before any), `cancelled` once cancelled.
pub fn status_seen(task: &Task, now: UnixMillis) -> &'static str {
    if task.cancelled_at().is_some() {
        return "cancelled";
    }
    render::status(task.moment(now, task.polls().saturating_sub(1)).phase())
}

/// The list's query: the page and the filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// From 1.
    pub page_num: usize,
    pub page_size: usize,
    pub status: Option<&'static str>,
    /// `filter.task_ids`, comma-joined or repeated (or as `filter.task_ids[]`).
    pub task_ids: Option<HashSet<String>>,
    pub model: Option<String>,
    pub task_type: Option<&'static str>,
}

impl ListQuery {
    /// Reads a query string; the error names the parameter.
    pub fn parse(query: &str) -> Result<Self, String> {
        let mut list = ListQuery {
            page_num: 1,
            page_size: DEFAULT_PAGE_SIZE,
            status: None,
            task_ids: None,
            model: None,
            task_type: None,
        };
        let quoted = |names: &[&str]| names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (key, value) = (percent_decode(key), percent_decode(value));
            if value.is_empty() {
                continue;
            }
            match key.as_ref() {
                "page_num" => {
                    list.page_num = value
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("page_num: {value:?} is not a page number (pages start at 1)"))?;
                }
                "page_size" => {
                    list.page_size = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                        .ok_or_else(|| format!("page_size: {value:?} is not from 1 to {MAX_PAGE_SIZE}"))?;
                }
                "filter.status" => {
                    list.status = Some(
                        STATUSES
                            .into_iter()
                            .find(|s| *s == value)
                            .ok_or_else(|| format!("filter.status: {value:?} is not one of {}", quoted(&STATUSES)))?,
                    );
                }
                "filter.task_ids" | "filter.task_ids[]" => {
                    let ids = list.task_ids.get_or_insert_with(HashSet::new);
                    ids.extend(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                }
                "filter.model" => list.model = Some(value.into_owned()),
                "filter.task_type" => {
                    list.task_type =
                        Some(TASK_TYPES.into_iter().find(|t| *t == value).ok_or_else(|| {
                            format!("filter.task_type: {value:?} is not one of {}", quoted(&TASK_TYPES))
                        })?);
                }
                _ => {}
            }
        }
        Ok(list)
    }

    /// Whether `task` passes the filters at `now`.
    fn keeps(&self, task: &Task, now: UnixMillis) -> bool {
        let v2 = &task.request.v2;
        self.task_ids.as_ref().is_none_or(|ids| ids.contains(&*task.id))
            && self.model.as_deref().is_none_or(|m| m == v2.model.as_str())
            && self.task_type.is_none_or(|t| t == v2.task_type.as_str())
            && self.status.is_none_or(|s| s == status_seen(task, now))
    }
}

/// `GET /v2/query/video_generation`: `{"items": [...], "total": N}`, the
/// v2 tasks of the last 7 days that pass the filters, newest first.
pub async fn list(app: &App, parts: &Parts) -> Outcome {
    let query = match ListQuery::parse(parts.uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(message) => return invalid(app, &message),
    };
    let Ok((mut tasks, now)) = app.store.v2_tasks(|task, now| query.keeps(task, now)).await else {
        return crate::server::api::poll::unavailable(app, Surface::V2);
    };
    // Newest first; tasks submitted in the same millisecond, the later first.
    tasks.sort_by_key(|t| std::cmp::Reverse((t.submitted_at, t.created)));
    let start = (query.page_num - 1).saturating_mul(query.page_size);
    let page = tasks.iter().skip(start).take(query.page_size);
    let views = page.map(|t| t.view(now, t.polls().saturating_sub(1), &app.base_url));
    json(StatusCode::OK, render::list_response(views, tasks.len())).into()
}

/// `DELETE /v2/video_generation/{task_id}`: a queued task is cancelled, a
/// succeeded or failed one deleted; a running or cancelled one is refused.
pub async fn delete(app: &App, path: &str) -> Outcome {
    let raw = path.strip_prefix(V2_TASK_PREFIX).unwrap_or_default();
    let task_id = percent_decode(raw).into_owned();
    if task_id.is_empty() {
        return invalid(app, "task_id is required");
    }
    let decided = app
        .store
        .delete_v2(&task_id, |task, now| match status_seen(task, now) {
            "queued" => Deletion::Cancel,
            "succeeded" | "failed" => Deletion::Remove,
            _ => Deletion::Refuse,
        })
        .await;
    let Ok(decided) = decided else {
        return Outcome {
            task_id: Some(task_id),
            ..crate::server::api::poll::unavailable(app, Surface::V2)
        };
    };
    let outcome = match decided {
        None => error(app, StatusCode::BAD_REQUEST, INVALID_TASK_ID),
        Some((Deletion::Cancel, task)) => {
            app.note_task(&task);
            // Its watcher sends the `cancelled` update.
            app.callbacks.changed.notify_waiters();
            json(StatusCode::OK, render::delete_response(&task_id, Removal::Cancelled)).into()
        }
        Some((Deletion::Remove, _)) => {
            app.note_removed(&task_id);
            json(StatusCode::OK, render::delete_response(&task_id, Removal::Deleted)).into()
        }
        Some((Deletion::Refuse, task)) => {
            let why = match status_seen(&task, app.store.clock().now()) {
                "cancelled" => "is already cancelled".to_owned(),
                status => format!("is {status}: a task can be cancelled only while queued"),
            };
            invalid(app, &format!("task {task_id} {why}"))
        }
    };
    Outcome {
        task_id: Some(task_id),
        ..outcome
    }
}

/// A checked regeneration body: the task it makes. By `source_task_id`
/// the source must be a succeeded MiniMax-H3 768P generation of the last 7
/// days; the new task has its ratio and length at 2K. By `base_video` the
/// mock cannot see the video: 16:9, 5 s.
async fn regeneration(app: &App, body: &[u8]) -> Result<Submission, Refusal> {
    let doc = v2::json_body(body).map_err(Refusal)?;
    let asked = v2_rules::regeneration(&doc).map_err(Refusal)?;
    v2::schema_check(app.contract.v2_regeneration_request(), &doc).map_err(Refusal)?;
    let (ratio, duration_s) = match &asked.source {
        None => ("16:9", 5),
        Some(id) => {
            let refuse = |why: String| Err(Refusal(format!("source_task_id: task {id} {why}")));
            let found = app
                .store
                .v2_task(id)
                .await
                .map_err(|_| Refusal(crate::server::api::submit::UNAVAILABLE.to_owned()))?;
            let Some((source, now)) = found else {
                return refuse("is not a v2 task of the last 7 days (invalid task_id)".to_owned());
            };
            let asked = &source.request;
            if asked.v2.task_type != TaskType::Generation {
                return refuse("is a regeneration: only a /v2/video_generation task can be regenerated".to_owned());
            }
            if asked.v2.model != V2Model::H3 || asked.resolution.label != "768P" {
                return refuse(format!(
                    "is {} at {}: only a MiniMax-H3 768P output can be regenerated",
                    asked.v2.model.as_str(),
                    asked.resolution.label
                ));
            }
            let status = status_seen(&source, now);
            if status != "succeeded" {
                return refuse(format!("is {status}: only a succeeded task can be regenerated"));
            }
            (asked.ratio.unwrap_or("16:9"), asked.duration_s)
        }
    };
    let ratio = v2_ratio(ratio).unwrap_or("16:9");
    let request = Request {
        resolution: Resolution::for_v2("2K", ratio).expect("a v2 ratio has a 2K frame"),
        duration_s,
        surface: Surface::V2,
        ratio: Some(ratio),
        model: None,
        v2: V2Request {
            model: V2Model::H3,
            task_type: TaskType::Regeneration,
            ..V2Request::default()
        },
    };
    Ok(Submission {
        request,
        model: V2Model::H3.as_str().to_owned(),
        prompt: asked.prompt,
        callback: asked.callback,
    })
}

/// `POST /v2/video_regeneration` → `{"task_id": "..."}`: a task with
/// `task_type` `regeneration` and `ratio` `""`.
pub async fn regenerate(app: &App, parts: &Parts, body: Incoming) -> Outcome {
    let body = match v2::read(app, parts, body).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let parsed = regeneration(app, &body).await;
    v2::create(app, parts, body, parsed).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries() {
        let q = ListQuery::parse("").unwrap();
        assert_eq!((q.page_num, q.page_size, q.status), (1, DEFAULT_PAGE_SIZE, None));
        let q = ListQuery::parse(
            "page_num=2&page_size=4&filter.status=queued&filter.task_ids=1,%202&filter.task_ids=3&filter.task_ids%5B%5D=4&filter.model=MiniMax-H3&filter.task_type=regeneration&other=x",
        )
        .unwrap();
        assert_eq!((q.page_num, q.page_size, q.status), (2, 4, Some("queued")));
        let mut ids: Vec<_> = q.task_ids.unwrap().into_iter().collect();
        ids.sort();
        assert_eq!(ids, ["1", "2", "3", "4"]);
        assert_eq!(
            (q.model.as_deref(), q.task_type),
            (Some("MiniMax-H3"), Some("regeneration"))
        );
        // Empty values are no filter.
        assert_eq!(ListQuery::parse("filter.status=&page_num=").unwrap().status, None);
        for (query, error) in [
            ("page_num=0", "page_num: \"0\" is not a page number"),
            ("page_num=x", "page_num: \"x\""),
            ("page_size=101", "page_size: \"101\" is not from 1 to 100"),
            ("page_size=0", "page_size: \"0\""),
            ("filter.status=done", "filter.status: \"done\" is not one of \"queued\""),
            ("filter.task_type=video", "filter.task_type: \"video\" is not one of"),
        ] {
            let e = ListQuery::parse(query).unwrap_err();
            assert!(e.starts_with(error), "{query}: {e}");
        }
    }
}
