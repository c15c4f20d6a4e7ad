//! Responses holding many files (`{"items": [...], "nextCursor"?}`), written file by file.
//!
//! A page of 1000 files can hold up to 1000 × [`crate::domain::MAX_FILE_JSON_BYTES`] of JSON (about
//! 172 MB). Serialized into one buffer, it would sit in memory twice: as records and as text. Here each
//! file is written when the connection can take more, and its record dropped then, so a response costs its
//! records plus a chunk. A page whose JSON fits in one chunk (nearly all) goes out whole, with a
//! Content-Length.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::model::FileView;
use crate::domain::FileRecord;

/// Bytes of JSON gathered before a chunk is handed to the connection.
const CHUNK_BYTES: usize = 64 * 1024;

/// Files as `{"items": [...]}`, with `nextCursor` when given.
pub struct FilesJson {
    files: std::vec::IntoIter<FileRecord>,
    next_cursor: Option<String>,
    written: usize,
    done: bool,
}

impl FilesJson {
    /// The response for `files` (in order) and the cursor of the next page, if any.
    pub fn new(files: Vec<FileRecord>, next_cursor: Option<String>) -> Self {
        Self {
            files: files.into_iter(),
            next_cursor,
            written: 0,
            done: false,
        }
    }

    /// The next piece of the JSON, of about [`CHUNK_BYTES`]; `None` once everything is written.
    fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 1024);
        if self.written == 0 {
            buf.extend_from_slice(b"{\"items\":[");
        }
        while buf.len() < CHUNK_BYTES {
            let Some(file) = self.files.next() else {
                buf.push(b']');
                if let Some(cursor) = self.next_cursor.take() {
                    buf.extend_from_slice(b",\"nextCursor\":");
                    if let Err(e) = serde_json::to_writer(&mut buf, &cursor) {
                        return Some(Err(std::io::Error::other(e)));
                    }
                }
                buf.push(b'}');
                self.done = true;
                break;
            };
            if self.written > 0 {
                buf.push(b',');
            }
            if let Err(e) = serde_json::to_writer(&mut buf, &FileView::from(file)) {
                tracing::error!(error = %e, "a file could not be written as JSON");
                self.done = true;
                return Some(Err(std::io::Error::other(e)));
            }
            self.written += 1;
        }
        Some(Ok(Bytes::from(buf)))
    }
}

impl IntoResponse for FilesJson {
    fn into_response(mut self) -> Response {
        let body = match self.next_chunk() {
            Some(Ok(first)) if self.done => Body::from(first),
            first => {
                let rest = std::iter::from_fn(move || self.next_chunk());
                Body::from_stream(futures_util::stream::iter(first.into_iter().chain(rest)))
            }
        };
        let mut response = Response::new(body);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FileSpec, GeoLocation};
    use http_body_util::BodyExt;
    use serde_json::{json, Value};

    fn file(id: i64, padding: usize) -> FileRecord {
        let spec = FileSpec {
            name: format!("{id}-{}", "x".repeat(padding)),
            geo_location: Some(
                GeoLocation::parse(&json!({"type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [1.5, 2]}}))
                .unwrap(),
            ),
            ..Default::default()
        };
        FileRecord::from_spec(id, spec, 7)
    }

    async fn body_of(files: Vec<FileRecord>, cursor: Option<&str>) -> (Option<u64>, Value) {
        let expected: Vec<Value> = files
            .iter()
            .map(|f| serde_json::to_value(FileView::from(f.clone())).unwrap())
            .collect();
        let response = FilesJson::new(files, cursor.map(String::from)).into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let length = axum::body::HttpBody::size_hint(response.body()).exact();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["items"], Value::Array(expected));
        (length, body)
    }

    #[tokio::test]
    async fn a_small_page_goes_out_whole() {
        let (length, body) = body_of(vec![file(1, 0), file(2, 0)], Some("c1")).await;
        assert!(length.is_some());
        assert_eq!(body["nextCursor"], "c1");
        let (_, body) = body_of(vec![], None).await;
        assert_eq!(body, json!({"items": []}));
    }

    #[tokio::test]
    async fn a_large_page_streams_in_chunks_and_stays_valid_json() {
        let files: Vec<FileRecord> = (1..=300).map(|i| file(i, 200)).collect();
        let (length, body) = body_of(files, Some("next")).await;
        assert_eq!(length, None, "a page larger than a chunk streams");
        assert_eq!(body["items"].as_array().unwrap().len(), 300);
        assert_eq!(body["nextCursor"], "next");
    }
}
