//! The paths of new-api's OpenAI-compatible video API in the document:
//! `/v1/videos` (what the openai SDKs call) and `/v1/video/generations`.

use serde_json::{json, Map, Value};

use super::{Api, Dialect};
use crate::contract::{
    ERROR, OPENAI_ERROR, OPENAI_GENERATIONS_PATH, OPENAI_VIDEOS_PATH, OPENAI_VIDEO_REQUEST, OPENAI_VIDEO_RESPONSE,
    QUERY_RESPONSE,
};

fn id_parameter(description: &str) -> Value {
    json!({
        "name": "id",
        "in": "path",
        "required": true,
        "description": description,
        "schema": { "type": "string" }
    })
}

impl Api<'_> {
    /// The submit of either path: the same body (multipart, as the SDKs
    /// send it, or JSON) and the same video object.
    fn openai_submit(&self, id: &str, summary: &str) -> Value {
        let mut op = self.operation(
            Dialect::OpenAi,
            id,
            summary,
            "new-api's OpenAI-compatible video submit with a MiniMax model: `prompt` (required), `model` (default MiniMax-Hailuo-02), `seconds` (MiniMax's duration), `size` (WxH, mapped to a resolution by substring: 1080, 768, 720, 512, else the model's default), `metadata` (an object, or a JSON string of one) merged into MiniMax's body (`prompt_optimizer`, `first_frame_image`, `callback_url`, …). In a multipart body every other field becomes a metadata entry, as new-api reads it; `input_reference` (a file) is read and not used. The MiniMax body is then checked by MiniMax's model table. The scenario comes from `Prefer`, the control API's next-submits scenario, a scenarios-file rule on the model or prompt, or the default.",
            json!({
                "200": self.response("The task, `queued` at 0, with its `task_…` id as `id` and `task_id`.", &[OPENAI_VIDEO_RESPONSE]),
                "400": self.response(
                    "Refused, in new-api's task error: `invalid_request` (`prompt is required`, a field of the wrong type, an unknown scenario in `Prefer`), `invalid_multipart_form`, or MiniMax's refusal relayed as code `2013` (`hailuo api error: invalid params, …`: the model table, a callback_url that does not echo the challenge).",
                    &[ERROR],
                ),
                "413": self.too_large(Dialect::OpenAi),
            }),
        );
        let mut multipart = self.examples.content(&[OPENAI_VIDEO_REQUEST]);
        // A form's fields are text: the JSON body's schema, with every field a string.
        let text = |description: &str| json!({ "type": "string", "description": description });
        let schema = json!({
            "type": "object",
            "description": "The same fields as the JSON body, each a text field (what the openai SDKs send); any other field becomes a metadata entry.",
            "properties": {
                "prompt": { "type": "string", "pattern": "\\S" },
                "model": text("Default MiniMax-Hailuo-02."),
                "seconds": { "type": "string", "pattern": "^[0-9]+$", "description": "MiniMax's duration." },
                "duration": { "type": "string", "pattern": "^[0-9]+$", "description": "new-api's own name for seconds." },
                "size": text("WxH, mapped to a resolution by substring."),
                "metadata": text("A JSON object, merged into MiniMax's body."),
                "mode": text("Read, and not used."),
                "image": text("Read, and not used."),
                "images": text("May repeat; read, and not used."),
                "input_reference": { "type": "string", "contentMediaType": "application/octet-stream", "description": "An image file: read, and not used (new-api's MiniMax channel does not forward it)." }
            },
            "required": ["prompt"]
        });
        let form = json!({ "schema": schema, "encoding": { "input_reference": { "contentType": "image/*, application/octet-stream" } } });
        if let Value::Object(content) = &mut multipart {
            content.insert("multipart/form-data".to_owned(), form);
        }
        op["parameters"] = json!([Self::prefer()]);
        op["requestBody"] = json!({ "required": true, "content": multipart });
        json!({ "post": op })
    }

    pub(super) fn openai(&self, paths: &mut Map<String, Value>) {
        paths.insert(
            OPENAI_VIDEOS_PATH.to_owned(),
            self.openai_submit(
                "openai_videos_create",
                "Submit a video task (openai SDK: videos.create)",
            ),
        );
        paths.insert(
            OPENAI_GENERATIONS_PATH.to_owned(),
            self.openai_submit("openai_generations_create", "Submit a video task (new-api's own path)"),
        );

        let mut responses = json!({
            "200": self.response(
                "The video object: `status` queued (NOT_START, SUBMITTED, QUEUED), in_progress, completed (with `completed_at` and `metadata.url`) or failed (with `completed_at` and `error`, MiniMax's code as a string); `unknown` where a scenario says so (a task new-api's poller has not seen). `progress` is an integer.",
                &[OPENAI_VIDEO_RESPONSE],
            ),
            "400": self.response("No such task of this API: `task_not_exist`.", &[ERROR]),
        });
        self.faults(&mut responses, Dialect::OpenAi);
        let mut op = self.operation(
            Dialect::OpenAi,
            "openai_videos_retrieve",
            "Poll a task (openai SDK: videos.retrieve)",
            "Each call counts as a poll, as on every other API.",
            responses,
        );
        op["parameters"] = json!([id_parameter("The id `POST /v1/videos` answered (`task_…`).")]);
        paths.insert(format!("{OPENAI_VIDEOS_PATH}/{{id}}"), json!({ "get": op }));

        let mp4 = json!({ "video/mp4": { "schema": { "type": "string", "contentMediaType": "video/mp4" } } });
        let mut op = self.operation(
            Dialect::OpenAi,
            "openai_videos_download_content",
            "Download a task's video (openai SDK: videos.download_content)",
            "The clip of the task's frame size (an H.264 MP4), whole or by `Range`, once the task succeeded, as new-api relays MiniMax's download link. Not a poll: it moves no lifecycle.",
            json!({
                "200": {
                    "description": "The whole clip.",
                    "headers": { "Accept-Ranges": { "schema": { "type": "string", "const": "bytes" } } },
                    "content": mp4.clone()
                },
                "206": {
                    "description": "The range asked for.",
                    "headers": {
                        "Accept-Ranges": { "schema": { "type": "string", "const": "bytes" } },
                        "Content-Range": { "schema": { "type": "string" } }
                    },
                    "content": mp4
                },
                "400": self.response(
                    "The task has not succeeded: `Task is not completed yet, current status: …` (the gateway's status), `invalid_request_error`.",
                    &[OPENAI_ERROR],
                ),
                "404": self.response("No such task of this API: `Task not found`.", &[OPENAI_ERROR]),
                "416": {
                    "description": "A range past the end; `Content-Range: bytes */LENGTH`.",
                    "headers": { "Content-Range": { "schema": { "type": "string" } } }
                },
                "502": self.response(
                    "The link the task shows has expired on the mock's clock: new-api relays the bucket's 403 as `Upstream service returned status 403`.",
                    &[OPENAI_ERROR],
                ),
            }),
        );
        op["parameters"] = json!([
            id_parameter("The id `POST /v1/videos` answered (`task_…`)."),
            { "name": "Range", "in": "header", "required": false, "description": "`bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX`.", "schema": { "type": "string" } }
        ]);
        paths.insert(format!("{OPENAI_VIDEOS_PATH}/{{id}}/content"), json!({ "get": op }));

        let mut responses = json!({
            "200": self.response(
                "new-api's envelope, `{\"code\": \"success\", \"message\": \"\", \"data\": TaskDto}`: the gateway's query body, NOT_START … SUCCESS with progress `N%`.",
                &[QUERY_RESPONSE],
            ),
            "400": self.response("No such task of this API: `task_not_exist`.", &[ERROR]),
        });
        self.faults(&mut responses, Dialect::OpenAi);
        let mut op = self.operation(
            Dialect::OpenAi,
            "openai_generations_retrieve",
            "Poll a task (new-api's own envelope)",
            "The same tasks and poll count as `GET /v1/videos/{id}`.",
            responses,
        );
        op["parameters"] = json!([id_parameter("The id the submit answered (`task_…`).")]);
        paths.insert(format!("{OPENAI_GENERATIONS_PATH}/{{id}}"), json!({ "get": op }));
    }
}
