//! Which contract a document answers to. An exchange that says where it
//! came from (a HAR entry) is judged by its endpoint, method and status; a
//! saved body, by its shape: its top-level members. When no shape matches,
//! the contract sharing the most member names is the nearest, and the
//! document is judged against it so its violations say why it fits nothing.
//!
//! Names in, names out: the judge holds the compiled schemas.

use serde_json::Value;

use crate::contract::{
    CALLBACK_CHALLENGE, CALLBACK_UPDATE, ERROR, FILES_RETRIEVE_PATH, FILES_RETRIEVE_RESPONSE,
    GATEWAY_FILES_RETRIEVE_PATH, NATIVE_ERROR, NATIVE_QUERY_PATH, NATIVE_QUERY_RESPONSE, NATIVE_SUBMIT_PATH,
    OPENAI_ERROR, OPENAI_GENERATIONS_PATH, OPENAI_VIDEOS_PATH, OPENAI_VIDEO_REQUEST, OPENAI_VIDEO_RESPONSE, QUERY_PATH,
    QUERY_RESPONSE, SUBMIT_PATH, SUBMIT_REQUEST, SUBMIT_RESPONSE, V2_ERROR, V2_QUERY_PREFIX, V2_QUERY_RESPONSE,
    V2_SUBMIT_PATH, V2_SUBMIT_REQUEST, V2_SUBMIT_RESPONSE,
};
use crate::contract::{
    V2_DELETE_RESPONSE, V2_LIST_PATH, V2_LIST_RESPONSE, V2_REGENERATION_PATH, V2_REGENERATION_REQUEST, V2_TASK_PREFIX,
};

/// Every shipped contract a document can be judged against, in the order
/// that breaks a tie for the nearest (the gateway's error first: a body with
/// `code` and `message` but no `data` is more likely an error than a task).
pub(super) const CONTRACTS: [&str; 19] = [
    ERROR,
    QUERY_RESPONSE,
    SUBMIT_REQUEST,
    SUBMIT_RESPONSE,
    NATIVE_QUERY_RESPONSE,
    CALLBACK_UPDATE,
    FILES_RETRIEVE_RESPONSE,
    NATIVE_ERROR,
    V2_SUBMIT_REQUEST,
    V2_SUBMIT_RESPONSE,
    V2_QUERY_RESPONSE,
    V2_ERROR,
    CALLBACK_CHALLENGE,
    V2_LIST_RESPONSE,
    V2_DELETE_RESPONSE,
    V2_REGENERATION_REQUEST,
    OPENAI_VIDEO_REQUEST,
    OPENAI_VIDEO_RESPONSE,
    OPENAI_ERROR,
];

/// The nearest contract of a document that shares no member name with any:
/// the gateway's query response, the contract's main document.
const FALLBACK: &str = QUERY_RESPONSE;

/// An endpoint of the contract, for captures that say which one they are.
/// The gateway's are under `/minimax/v1/`, MiniMax's own under `/v1/` and
/// `/v2/`; any prefix before them is allowed (`/api/minimax/v1/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /minimax/v1/query/video_generation`: the gateway's envelope, or
    /// MiniMax's own body passed through, as some gateways do.
    GatewayQuery,
    /// `POST /minimax/v1/video_generation`: MiniMax's submit answer, relayed.
    GatewaySubmit,
    /// `GET /minimax/v1/files/retrieve`: MiniMax's file record, passed through.
    GatewayFiles,
    /// `GET /v1/query/video_generation`.
    NativeQuery,
    /// `POST /v1/video_generation`.
    NativeSubmit,
    /// `GET /v1/files/retrieve`.
    NativeFiles,
    /// `POST /v2/video_generation`.
    V2Submit,
    /// `GET /v2/query/video_generation/{task_id}`.
    V2Query,
    /// `GET /v2/query/video_generation` (the list).
    V2List,
    /// `DELETE /v2/video_generation/{task_id}`.
    V2Delete,
    /// `POST /v2/video_regeneration`.
    V2Regenerate,
    /// `POST /v1/videos` and `POST /v1/video/generations` (new-api's
    /// OpenAI-compatible video API): the video object.
    OpenAiSubmit,
    /// `GET /v1/videos/{id}`: the video object.
    OpenAiVideo,
    /// `GET /v1/videos/{id}/content`: the video, or an OpenAI-style error.
    OpenAiContent,
    /// `GET /v1/video/generations/{task_id}`: the gateway's envelope.
    OpenAiGeneration,
}

/// Path endings and their endpoints; the gateway's first, since its paths
/// end in MiniMax's.
const BY_SUFFIX: [(&str, Endpoint); 9] = [
    (QUERY_PATH, Endpoint::GatewayQuery),
    (SUBMIT_PATH, Endpoint::GatewaySubmit),
    (GATEWAY_FILES_RETRIEVE_PATH, Endpoint::GatewayFiles),
    (NATIVE_QUERY_PATH, Endpoint::NativeQuery),
    (NATIVE_SUBMIT_PATH, Endpoint::NativeSubmit),
    (FILES_RETRIEVE_PATH, Endpoint::NativeFiles),
    (V2_SUBMIT_PATH, Endpoint::V2Submit),
    (V2_LIST_PATH, Endpoint::V2List),
    (V2_REGENERATION_PATH, Endpoint::V2Regenerate),
];

impl Endpoint {
    /// The endpoint a URL (absolute, or only a path) points at: its path
    /// ends in one of the contract's, whatever comes before.
    pub fn of_url(url: &str) -> Option<Self> {
        let url = url.split(['?', '#']).next().unwrap_or_default();
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        for (prefix, endpoint) in [
            (V2_QUERY_PREFIX, Endpoint::V2Query),
            (V2_TASK_PREFIX, Endpoint::V2Delete),
        ] {
            if let Some(at) = path.rfind(prefix) {
                // The task id is the last segment (empty: the server says it is required).
                if !path[at + prefix.len()..].contains('/') {
                    return Some(endpoint);
                }
            }
        }
        if path.ends_with(OPENAI_VIDEOS_PATH) || path.ends_with(OPENAI_GENERATIONS_PATH) {
            return Some(Endpoint::OpenAiSubmit);
        }
        if let Some(at) = path.rfind("/v1/video/generations/") {
            if !path[at + "/v1/video/generations/".len()..].contains('/') {
                return Some(Endpoint::OpenAiGeneration);
            }
        }
        if let Some(at) = path.find("/v1/videos/") {
            let rest = &path[at + "/v1/videos/".len()..];
            match rest.split_once('/') {
                None => return Some(Endpoint::OpenAiVideo),
                Some((_, "content")) => return Some(Endpoint::OpenAiContent),
                Some(_) => {}
            }
        }
        BY_SUFFIX
            .iter()
            .find(|(suffix, _)| path.ends_with(suffix))
            .map(|(_, endpoint)| *endpoint)
    }

    /// Whether an answer of the endpoint with `status` is a JSON document
    /// to judge: the video download's success is the video itself.
    pub(super) fn answers_json(self, status: u16) -> bool {
        self != Endpoint::OpenAiContent || status >= 400
    }

    /// The HTTP method that reads a body from the endpoint.
    pub(super) fn method(self) -> &'static str {
        match self {
            Endpoint::GatewaySubmit
            | Endpoint::NativeSubmit
            | Endpoint::V2Submit
            | Endpoint::V2Regenerate
            | Endpoint::OpenAiSubmit => "POST",
            Endpoint::V2Delete => "DELETE",
            _ => "GET",
        }
    }

    /// The endpoint a response schema belongs to (for `curl -i` captures,
    /// which do not say): `None` for schemas of no single endpoint.
    pub(super) fn of_schema(name: &str) -> Option<Self> {
        match name {
            QUERY_RESPONSE => Some(Endpoint::GatewayQuery),
            SUBMIT_RESPONSE => Some(Endpoint::GatewaySubmit),
            NATIVE_QUERY_RESPONSE => Some(Endpoint::NativeQuery),
            FILES_RETRIEVE_RESPONSE => Some(Endpoint::NativeFiles),
            V2_SUBMIT_RESPONSE => Some(Endpoint::V2Submit),
            V2_QUERY_RESPONSE => Some(Endpoint::V2Query),
            V2_LIST_RESPONSE => Some(Endpoint::V2List),
            V2_DELETE_RESPONSE => Some(Endpoint::V2Delete),
            OPENAI_VIDEO_RESPONSE => Some(Endpoint::OpenAiVideo),
            _ => None,
        }
    }

    /// The schema a response of this endpoint answers to, by its HTTP
    /// status and, where the endpoint has more than one documented answer,
    /// by the body's members:
    /// - the gateway's query: the envelope, or MiniMax's native query or
    ///   native error passed through (`base_resp` without `code`); an error
    ///   status, the gateway's error envelope (or a native error);
    /// - submits: `{task_id, base_resp}` at any status (a refusal too), a
    ///   native error (`base_resp` alone), or at an error status the
    ///   gateway's envelope (native error from MiniMax itself);
    /// - files/retrieve: the file record, or a native error;
    /// - MiniMax's native query: the task, or a native error (HTTP 200 with a
    ///   non-zero `base_resp`, or any error status);
    /// - v2: the answer, or at an error status v2's error body;
    /// - new-api's OpenAI-compatible API: the video object (the envelope
    ///   for `/v1/video/generations/{id}`), or at an error status its task
    ///   error (the gateway's envelope), or OpenAI's `{"error": …}` where it
    ///   answers that (the download, a missing token).
    pub(super) fn schema(self, status: u16, doc: &Value) -> &'static str {
        use Endpoint::*;
        let failed = status >= 400;
        let has = |member: &str| doc.get(member).is_some();
        let openai_error = || {
            if has("error") && !has("code") {
                OPENAI_ERROR
            } else {
                ERROR
            }
        };
        // MiniMax's own body: base_resp, without the gateway's envelope.
        let native = has("base_resp") && !has("code");
        match self {
            GatewayQuery | NativeQuery if native => {
                if !failed && (has("status") || has("task_id")) {
                    NATIVE_QUERY_RESPONSE
                } else {
                    NATIVE_ERROR
                }
            }
            GatewayQuery if failed => ERROR,
            GatewayQuery => QUERY_RESPONSE,
            NativeQuery if failed => NATIVE_ERROR,
            NativeQuery => NATIVE_QUERY_RESPONSE,
            GatewaySubmit | NativeSubmit if has("task_id") && has("base_resp") => SUBMIT_RESPONSE,
            GatewaySubmit | NativeSubmit if native => NATIVE_ERROR,
            GatewaySubmit | NativeSubmit if !failed => SUBMIT_RESPONSE,
            GatewaySubmit => ERROR,
            NativeSubmit => NATIVE_ERROR,
            GatewayFiles | NativeFiles if !failed && (has("file") || !has("base_resp")) => FILES_RETRIEVE_RESPONSE,
            GatewayFiles | NativeFiles if native => NATIVE_ERROR,
            GatewayFiles => ERROR,
            NativeFiles => NATIVE_ERROR,
            V2Submit | V2Query | V2List | V2Delete | V2Regenerate if failed => V2_ERROR,
            V2Submit | V2Regenerate => V2_SUBMIT_RESPONSE,
            V2Query => V2_QUERY_RESPONSE,
            OpenAiSubmit | OpenAiVideo | OpenAiGeneration | OpenAiContent if failed => openai_error(),
            OpenAiSubmit | OpenAiVideo => OPENAI_VIDEO_RESPONSE,
            OpenAiGeneration => QUERY_RESPONSE,
            OpenAiContent => OPENAI_ERROR,
            V2List => V2_LIST_RESPONSE,
            V2Delete => V2_DELETE_RESPONSE,
        }
    }
}

/// Members that mark a shape: a document with any of them besides its own
/// is not, say, "`base_resp` alone".
const MARKERS: [&str; 20] = [
    "code",
    "object",
    "data",
    "task",
    "error",
    "challenge",
    "model",
    "content",
    "prompt",
    "file",
    "status",
    "task_id",
    "base_resp",
    "file_id",
    "video_width",
    "video_height",
    "items",
    "total",
    "action",
    "source_task_id",
];

/// The contract whose shape `doc` has, told from its top-level members (the
/// table in docs/validate.md); `None` when no shape matches. Members beyond
/// those named here do not change the shape (`--strict` reports them).
pub(super) fn shape(doc: &Value) -> Option<&'static str> {
    let members = doc.as_object()?;
    let has = |member: &str| members.contains_key(member);
    let alone = |own: &[&str]| MARKERS.iter().all(|m| own.contains(m) || !has(m));
    if has("code") && has("data") {
        // The envelope of a task, or the gateway's error (`data: null`).
        let task = members["data"].is_object() || members["code"] == "success";
        return Some(if task { QUERY_RESPONSE } else { ERROR });
    }
    if has("object") && has("id") {
        // new-api's OpenAI video object (a failed one has `error` too).
        return Some(OPENAI_VIDEO_RESPONSE);
    }
    if has("task") {
        return Some(V2_QUERY_RESPONSE);
    }
    if has("error") {
        // OpenAI's error says its `type`; v2's has a numeric code.
        let openai = members["error"].get("type").is_some_and(Value::is_string) && !has("type");
        return Some(if openai { OPENAI_ERROR } else { V2_ERROR });
    }
    if has("challenge") {
        return Some(CALLBACK_CHALLENGE);
    }
    if has("items") && has("total") {
        return Some(V2_LIST_RESPONSE);
    }
    if has("source_task_id") {
        return Some(V2_REGENERATION_REQUEST);
    }
    if has("model") && has("content") {
        // A regeneration names its base video; a generation cannot.
        let base_video = members["content"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["role"] == "base_video"));
        return Some(if base_video {
            V2_REGENERATION_REQUEST
        } else {
            V2_SUBMIT_REQUEST
        });
    }
    if has("task_id") && has("action") && !has("base_resp") {
        return Some(V2_DELETE_RESPONSE);
    }
    if has("prompt")
        && (!has("model")
            || ["seconds", "size", "input_reference", "metadata"]
                .iter()
                .any(|m| has(m)))
    {
        // What the openai SDKs send: OpenAI's names beside the prompt.
        return Some(OPENAI_VIDEO_REQUEST);
    }
    if has("model")
        && ["prompt", "first_frame_image", "last_frame_image", "subject_reference"]
            .iter()
            .any(|m| has(m))
    {
        return Some(SUBMIT_REQUEST);
    }
    if has("base_resp") {
        if has("file") {
            return Some(FILES_RETRIEVE_RESPONSE);
        }
        if has("task_id") && has("status") {
            // A callback always has file_id ("" until Success) and never the
            // frame size; the native query has file_id only with the size.
            let callback = has("file_id") && !has("video_width") && !has("video_height");
            return Some(if callback {
                CALLBACK_UPDATE
            } else {
                NATIVE_QUERY_RESPONSE
            });
        }
        if has("task_id") && alone(&["task_id", "base_resp"]) {
            return Some(SUBMIT_RESPONSE);
        }
        return alone(&["base_resp"]).then_some(NATIVE_ERROR);
    }
    (has("task_id") && alone(&["task_id"])).then_some(V2_SUBMIT_RESPONSE)
}

/// The contract nearest a document no shape matches: the one sharing the
/// most top-level member names with it, then the one with the fewest
/// members besides (the closest fit), then the first in [`CONTRACTS`]
/// order. `contracts` gives each contract's member names. Returns the name
/// and the finding's message.
pub(super) fn nearest<'a>(
    doc: &Value,
    contracts: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> (&'a str, String) {
    let found: Vec<&str> = doc
        .as_object()
        .map_or_else(Vec::new, |m| m.keys().map(String::as_str).collect());
    let mut best: Option<(&str, &[String], usize)> = None;
    for (name, members) in contracts {
        let shared = members.iter().filter(|m| found.contains(&m.as_str())).count();
        let better = match best {
            None => true,
            Some((_, best_members, best_shared)) => {
                shared > best_shared || (shared == best_shared && members.len() < best_members.len())
            }
        };
        if better {
            best = Some((name, members, shared));
        }
    }
    let quote = |names: &mut dyn Iterator<Item = &str>| {
        let names: Vec<String> = names.map(|n| format!("{n:?}")).collect();
        match names.len() {
            0 => "none".to_owned(),
            n if n > 8 => format!("{}, … ({n} in all)", names[..8].join(", ")),
            _ => names.join(", "),
        }
    };
    let found_text = match doc {
        Value::Object(m) if m.is_empty() => "found no members".to_owned(),
        Value::Object(_) => format!("found {}", quote(&mut found.iter().copied())),
        other => format!("found {}, not an object", super::excerpt(other)),
    };
    match best {
        Some((name, members, shared)) if shared > 0 => {
            let common = quote(&mut members.iter().map(String::as_str).filter(|m| found.contains(m)));
            let mut message = format!(
                "no contract matches this shape; nearest: {name}, sharing {shared} of its {} members ({common})",
                members.len(),
            );
            let mut others = found
                .iter()
                .copied()
                .filter(|f| !members.iter().any(|m| m == f))
                .peekable();
            if others.peek().is_some() {
                message.push_str(&format!("; other members: {}", quote(&mut others)));
            }
            (name, message)
        }
        // Nothing in common: the main document.
        _ => (
            FALLBACK,
            format!("no contract matches this shape; nearest: {FALLBACK}, though it shares no member; {found_text}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_from_urls_with_or_without_a_prefix() {
        use Endpoint::*;
        let cases = [
            (
                "https://gw.example/minimax/v1/query/video_generation?task_id=1",
                Some(GatewayQuery),
            ),
            ("http://h:8080/minimax/v1/video_generation", Some(GatewaySubmit)),
            ("/minimax/v1/video_generation#x", Some(GatewaySubmit)),
            (
                "https://gw.example.com/minimax/v1/files/retrieve?file_id=1",
                Some(GatewayFiles),
            ),
            (
                "https://gw.example/api/minimax/v1/query/video_generation",
                Some(GatewayQuery),
            ),
            (
                "https://api.minimax.io/v1/query/video_generation?task_id=1",
                Some(NativeQuery),
            ),
            ("/v1/video_generation", Some(NativeSubmit)),
            ("https://h/v1/files/retrieve?file_id=2", Some(NativeFiles)),
            ("https://h/proxy/v1/files/retrieve", Some(NativeFiles)),
            ("https://h/v2/video_generation", Some(V2Submit)),
            ("https://h/v2/query/video_generation/123", Some(V2Query)),
            ("https://h/minimax/v2/query/video_generation/123?x=/y", Some(V2Query)),
            ("/v2/query/video_generation/", Some(V2Query)),
            ("/v2/query/video_generation/1/2", None),
            ("/v2/query/video_generation", Some(V2List)),
            (
                "https://api.minimax.io/v2/query/video_generation?page_size=4",
                Some(V2List),
            ),
            ("https://h/v2/video_generation/123", Some(V2Delete)),
            ("/v2/video_generation/1/2", None),
            ("https://h/v2/video_regeneration", Some(V2Regenerate)),
            ("https://h/xv1/query/video_generation", None),
            ("https://h/v1/query/video_generation/", None),
            ("https://h/cb?next=https://x/v1/video_generation", None),
            ("https://gw.example/v1/videos", Some(OpenAiSubmit)),
            ("/v1/video/generations", Some(OpenAiSubmit)),
            ("/v1/videos/task_1", Some(OpenAiVideo)),
            ("/v1/videos/task_1/content", Some(OpenAiContent)),
            ("/v1/videos/task_1/remix", None),
            ("/v1/video/generations/task_1", Some(OpenAiGeneration)),
            ("https://h", None),
        ];
        for (url, endpoint) in cases {
            assert_eq!(Endpoint::of_url(url), endpoint, "{url}");
        }
        assert_eq!(GatewayQuery.method(), "GET");
        assert_eq!(V2Query.method(), "GET");
        assert_eq!(NativeSubmit.method(), "POST");
        assert_eq!(V2Submit.method(), "POST");
    }

    #[test]
    fn endpoint_status_and_body_pick_the_schema() {
        use Endpoint::*;
        let envelope = json!({"code": "success", "message": "", "data": {}});
        let gateway_error = json!({"code": "task_not_exist", "message": "task_not_exist", "data": null});
        let native_task = json!({"task_id": "1", "status": "Processing", "base_resp": {}});
        let native_error = json!({"base_resp": {"status_code": 2013, "status_msg": "x"}});
        let submit = json!({"task_id": "", "base_resp": {"status_code": 2013, "status_msg": "x"}});
        let file = json!({"file": {}, "base_resp": {}});
        let v2_error = json!({"error": {"code": 2013, "message": "x"}});
        let cases = [
            (GatewayQuery, 200, &envelope, QUERY_RESPONSE),
            (GatewayQuery, 400, &gateway_error, ERROR),
            (GatewayQuery, 200, &native_task, NATIVE_QUERY_RESPONSE),
            (GatewayQuery, 200, &native_error, NATIVE_ERROR),
            (GatewayQuery, 429, &native_error, NATIVE_ERROR),
            (GatewayQuery, 200, &gateway_error, QUERY_RESPONSE),
            (NativeQuery, 200, &native_task, NATIVE_QUERY_RESPONSE),
            (NativeQuery, 200, &native_error, NATIVE_ERROR),
            (NativeQuery, 401, &native_error, NATIVE_ERROR),
            (NativeQuery, 200, &envelope, NATIVE_QUERY_RESPONSE),
            (NativeQuery, 500, &gateway_error, NATIVE_ERROR),
            (GatewaySubmit, 200, &submit, SUBMIT_RESPONSE),
            (GatewaySubmit, 400, &submit, SUBMIT_RESPONSE),
            (GatewaySubmit, 413, &gateway_error, ERROR),
            (GatewaySubmit, 200, &native_error, NATIVE_ERROR),
            (NativeSubmit, 200, &submit, SUBMIT_RESPONSE),
            (NativeSubmit, 200, &native_error, NATIVE_ERROR),
            (NativeSubmit, 413, &native_error, NATIVE_ERROR),
            (NativeSubmit, 413, &gateway_error, NATIVE_ERROR),
            (GatewayFiles, 200, &file, FILES_RETRIEVE_RESPONSE),
            (GatewayFiles, 200, &native_error, NATIVE_ERROR),
            (GatewayFiles, 401, &gateway_error, ERROR),
            (NativeFiles, 200, &file, FILES_RETRIEVE_RESPONSE),
            (NativeFiles, 200, &native_error, NATIVE_ERROR),
            (NativeFiles, 404, &gateway_error, NATIVE_ERROR),
            (V2Submit, 200, &json!({"task_id": "1"}), V2_SUBMIT_RESPONSE),
            (V2Submit, 400, &v2_error, V2_ERROR),
            (V2Query, 200, &json!({"task": {}}), V2_QUERY_RESPONSE),
            (V2Query, 404, &v2_error, V2_ERROR),
            (V2Query, 200, &v2_error, V2_QUERY_RESPONSE),
            (V2List, 200, &json!({"items": [], "total": 0}), V2_LIST_RESPONSE),
            (V2List, 400, &v2_error, V2_ERROR),
            (
                V2Delete,
                200,
                &json!({"task_id": "1", "action": "deleted"}),
                V2_DELETE_RESPONSE,
            ),
            (V2Delete, 400, &v2_error, V2_ERROR),
            (V2Regenerate, 200, &json!({"task_id": "1"}), V2_SUBMIT_RESPONSE),
            (V2Regenerate, 422, &v2_error, V2_ERROR),
            (
                OpenAiSubmit,
                200,
                &json!({"id": "task_1", "object": "video"}),
                OPENAI_VIDEO_RESPONSE,
            ),
            (OpenAiSubmit, 400, &gateway_error, ERROR),
            (
                OpenAiVideo,
                401,
                &json!({"error": {"message": "x", "type": "new_api_error"}}),
                OPENAI_ERROR,
            ),
            (OpenAiVideo, 429, &gateway_error, ERROR),
            (OpenAiGeneration, 200, &envelope, QUERY_RESPONSE),
            (OpenAiGeneration, 400, &gateway_error, ERROR),
            (
                OpenAiContent,
                400,
                &json!({"error": {"message": "x", "type": "invalid_request_error"}}),
                OPENAI_ERROR,
            ),
        ];
        for (endpoint, status, body, schema) in cases {
            assert_eq!(endpoint.schema(status, body), schema, "{endpoint:?} {status} {body}");
        }
    }

    #[test]
    fn shapes_from_top_level_members() {
        let base = json!({"status_code": 0, "status_msg": "success"});
        let cases = [
            (
                json!({"code": "success", "message": "", "data": {}}),
                Some(QUERY_RESPONSE),
            ),
            (
                json!({"code": "success", "message": "", "data": null}),
                Some(QUERY_RESPONSE),
            ),
            (json!({"code": 0, "data": {"x": 1}}), Some(QUERY_RESPONSE)),
            (
                json!({"code": "task_not_exist", "message": "", "data": null}),
                Some(ERROR),
            ),
            (json!({"task": {}}), Some(V2_QUERY_RESPONSE)),
            (json!({"error": {}}), Some(V2_ERROR)),
            (json!({"challenge": "x"}), Some(CALLBACK_CHALLENGE)),
            (json!({"model": "MiniMax-H3", "content": []}), Some(V2_SUBMIT_REQUEST)),
            (
                json!({"model": "MiniMax-H3", "content": [{"type": "video_url", "role": "base_video"}]}),
                Some(V2_REGENERATION_REQUEST),
            ),
            (
                json!({"model": "MiniMax-H3", "source_task_id": "1"}),
                Some(V2_REGENERATION_REQUEST),
            ),
            (json!({"items": [], "total": 0}), Some(V2_LIST_RESPONSE)),
            (
                json!({"task_id": "1", "action": "cancelled", "status": "cancelled"}),
                Some(V2_DELETE_RESPONSE),
            ),
            (json!({"model": "T2V-01", "prompt": "x"}), Some(SUBMIT_REQUEST)),
            (
                json!({"model": "I2V-01", "first_frame_image": "x"}),
                Some(SUBMIT_REQUEST),
            ),
            (
                json!({"model": "MiniMax-Hailuo-02", "last_frame_image": "x"}),
                Some(SUBMIT_REQUEST),
            ),
            (json!({"file": {}, "base_resp": base}), Some(FILES_RETRIEVE_RESPONSE)),
            (
                json!({"task_id": "1", "status": "Processing", "base_resp": base}),
                Some(NATIVE_QUERY_RESPONSE),
            ),
            (
                json!({"task_id": "1", "status": "Success", "file_id": "2", "video_width": 1, "video_height": 1, "base_resp": base}),
                Some(NATIVE_QUERY_RESPONSE),
            ),
            (
                json!({"task_id": "1", "status": "Success", "file_id": "2", "base_resp": base}),
                Some(CALLBACK_UPDATE),
            ),
            (
                json!({"task_id": "1", "status": "Processing", "file_id": "", "base_resp": base}),
                Some(CALLBACK_UPDATE),
            ),
            (json!({"task_id": "", "base_resp": base}), Some(SUBMIT_RESPONSE)),
            (
                json!({"task_id": "", "base_resp": base, "trace_id": "x"}),
                Some(SUBMIT_RESPONSE),
            ),
            (json!({"base_resp": base}), Some(NATIVE_ERROR)),
            (json!({"base_resp": base, "trace_id": "x"}), Some(NATIVE_ERROR)),
            (json!({"task_id": "1"}), Some(V2_SUBMIT_RESPONSE)),
            (
                json!({"id": "task_1", "object": "video", "status": "failed", "error": {}}),
                Some(OPENAI_VIDEO_RESPONSE),
            ),
            (
                json!({"error": {"message": "x", "type": "invalid_request_error"}}),
                Some(OPENAI_ERROR),
            ),
            (
                json!({"prompt": "x", "model": "m", "seconds": "6"}),
                Some(OPENAI_VIDEO_REQUEST),
            ),
            (json!({"prompt": "x"}), Some(OPENAI_VIDEO_REQUEST)),
            // No shape: a member of one beside another's, or too few.
            (json!({"task_id": "", "base_resp": base, "file_id": ""}), None),
            (json!({"status": "Success", "base_resp": base}), None),
            (json!({"task_id": "1", "status": "queued"}), None),
            (json!({"code": "x", "message": "y"}), None),
            (json!({"model": "T2V-01"}), None),
            (json!({}), None),
            (json!([1]), None),
            (json!("x"), None),
        ];
        for (doc, expected) in cases {
            assert_eq!(shape(&doc), expected, "{doc}");
        }
    }

    fn members(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_nearest_shares_the_most_members_then_has_the_fewest() {
        let table = [
            (ERROR, members(&["code", "message", "data"])),
            (QUERY_RESPONSE, members(&["code", "message", "data"])),
            (
                NATIVE_QUERY_RESPONSE,
                members(&[
                    "task_id",
                    "status",
                    "file_id",
                    "video_width",
                    "video_height",
                    "base_resp",
                ]),
            ),
            (CALLBACK_UPDATE, members(&["task_id", "status", "file_id", "base_resp"])),
            (NATIVE_ERROR, members(&["base_resp"])),
        ];
        let near = |doc: Value| nearest(&doc, table.iter().map(|(n, m)| (*n, m.as_slice())));
        let (name, message) = near(json!({"status": "Success", "base_resp": {}, "extra": 1}));
        assert_eq!(name, CALLBACK_UPDATE);
        assert_eq!(
            message,
            "no contract matches this shape; nearest: callback.update, sharing 2 of its 4 members \
             (\"status\", \"base_resp\"); other members: \"extra\""
        );
        // A tie on members shared and on size: the first in order.
        assert_eq!(near(json!({"code": "x", "message": "y"})).0, ERROR);
        assert_eq!(near(json!({"video_width": 1})).0, NATIVE_QUERY_RESPONSE);
        let (name, message) = near(json!({"foo": 1}));
        assert_eq!(name, QUERY_RESPONSE);
        assert_eq!(
            message,
            "no contract matches this shape; nearest: query_video_generation.response, though it shares no member; found \"foo\""
        );
        assert!(near(json!([1, 2])).1.ends_with("; found [1,2], not an object"));
        assert!(near(json!({})).1.ends_with("; found no members"));
    }
}
