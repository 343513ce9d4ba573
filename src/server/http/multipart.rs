//! `multipart/form-data` bodies, what the openai SDKs send to `POST /v1/videos`
//! (Python's and Node's alike, with or without a file), read with `multer`
//! from a body already read whole within `--max-body`.

use bytes::Bytes;
use hyper::header::{self, HeaderMap};

/// One part of a form: a text field, or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// Set for a file part (`filename=` in its `Content-Disposition`).
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

impl Part {
    /// The part as text, when it is a field that is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }
}

/// The boundary of a `multipart/form-data` request: `None` for any other
/// content type, `Some(Err)` for a multipart one without a usable boundary.
pub fn boundary(headers: &HeaderMap) -> Option<Result<String, String>> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    Some(multer::parse_boundary(content_type).map_err(|e| e.to_string()))
}

/// Every part of `body`, in order; the error says what is wrong with it.
pub async fn parts(body: Bytes, boundary: &str) -> Result<Vec<Part>, String> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let data = field.bytes().await.map_err(|e| e.to_string())?;
        parts.push(Part {
            name,
            file_name,
            content_type,
            data,
        });
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn form(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Bytes {
        let mut out = Vec::new();
        for (name, file, data) in parts {
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(file) => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: image/png\r\n\r\n")
                        .as_bytes(),
                ),
                None => out.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        Bytes::from(out)
    }

    #[tokio::test]
    async fn fields_and_files_are_read_in_order() {
        let body = form(
            "b0",
            &[
                ("prompt", None, b"A cat"),
                ("input_reference", Some("cat.png"), &[0x89, b'P', 0, 0xff]),
            ],
        );
        let parts = parts(body, "b0").await.unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].text()), ("prompt", Some("A cat")));
        assert_eq!(parts[1].file_name.as_deref(), Some("cat.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(&parts[1].data[..], &[0x89, b'P', 0, 0xff]);
    }

    #[tokio::test]
    async fn a_cut_body_is_an_error() {
        let body = form("b0", &[("prompt", None, b"A cat")]);
        let cut = body.slice(..body.len() - 10);
        assert!(parts(cut, "b0").await.is_err());
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        let mut h = HeaderMap::new();
        assert_eq!(boundary(&h), None);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(boundary(&h), None);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=\"abc\""),
        );
        assert_eq!(boundary(&h), Some(Ok("abc".to_owned())));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("Multipart/Form-Data"));
        assert!(matches!(boundary(&h), Some(Err(_))));
    }
}
