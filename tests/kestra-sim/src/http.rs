//! Request/response plumbing shared by the resource modules: the request as the router hands it
//! over, Micronaut-shaped error bodies, query parsing (repeated keys, `filters[f][OP]=v`),
//! multipart parsing and the climbing check.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::state::SharedCore;

/// One request after routing.
#[derive(Debug, Clone)]
pub struct Req {
    pub core: SharedCore,
    pub method: Method,
    /// Raw path as received (percent-encoded), for `_links.self.href`.
    pub raw_path: String,
    pub raw_query: Option<String>,
    pub tenant: String,
    /// Decoded path parameters from the route template.
    pub params: HashMap<&'static str, String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }
    /// First value of a query parameter.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// All values of a repeated query parameter.
    pub fn q_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// `filters[field][OP]=value` entries (Kestra's QueryFilter syntax), as (field, op, value).
    pub fn filters(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (k, v) in &self.query {
            if let Some(rest) = k.strip_prefix("filters[") {
                let parts: Vec<&str> = rest.split('[').map(|p| p.trim_end_matches(']')).collect();
                // filters[field][OP] or filters[labels][EQUALS][key]
                let field = parts.first().copied().unwrap_or("").to_string();
                let op = parts.get(1).copied().unwrap_or("EQUALS").to_string();
                let val = match parts.get(2) {
                    Some(sub) if !sub.is_empty() => format!("{sub}:{v}"),
                    _ => v.clone(),
                };
                out.push((field, op, val));
            }
        }
        out
    }
    /// A filter value: the plain query parameter `name`, or `filters[name][EQUALS|IN|...]`.
    pub fn filter_values(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self.q_all(name).into_iter().map(String::from).collect();
        for (f, _op, val) in self.filters() {
            if f == name {
                v.extend(val.split(',').map(String::from));
            }
        }
        v
    }
    pub fn content_type(&self) -> Option<String> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn href(&self) -> String {
        match &self.raw_query {
            Some(q) if !q.is_empty() => format!("{}?{}", self.raw_path, q),
            _ => self.raw_path.clone(),
        }
    }
    /// An integer query parameter; `Err` is Micronaut's conversion failure (422).
    pub fn q_int(&self, name: &str) -> Result<Option<i64>, Response> {
        match self.q(name) {
            None => Ok(None),
            Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
                self.error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!(
                        "Internal server error: Failed to convert argument [{name}] for value [{s}] due to: For input string: \"{s}\""
                    ),
                )
            }),
        }
    }
    /// A boolean query parameter (Micronaut accepts true/false, case-insensitive).
    pub fn q_bool(&self, name: &str) -> Option<bool> {
        self.q(name).map(|s| s.eq_ignore_ascii_case("true"))
    }
    /// `page`/`size` with Kestra's defaults (1/10) and its `@Min(1)` check on page
    /// (recorded pair errors/invalid-param-page-zero).
    pub fn paging(&self, op: &str) -> Result<(usize, usize), Response> {
        let page = self.q_int("page")?.unwrap_or(1);
        let size = self.q_int("size")?.unwrap_or(10);
        if page < 1 {
            return Err(self.validation_error(&format!("{op}.page"), "must be greater than or equal to 1"));
        }
        if size < 1 {
            return Err(self.validation_error(&format!("{op}.size"), "must be greater than or equal to 1"));
        }
        Ok((page as usize, size as usize))
    }
    pub fn required_q(&self, name: &str) -> Result<&str, Response> {
        self.q(name).ok_or_else(|| {
            self.error(
                StatusCode::BAD_REQUEST,
                &format!("Bad Request: Required QueryValue [{name}] not specified"),
            )
        })
    }

    /// Micronaut's JSON error body (`{message, logref, path, _links, _embedded}`).
    pub fn error(&self, status: StatusCode, message: &str) -> Response {
        json_response(status, &error_body(message, &self.href(), None))
    }
    /// A 422 with `_embedded.errors[]`, as bean validation produces.
    pub fn validation_error(&self, path: &str, message: &str) -> Response {
        let full = format!("Invalid entity: {path}: {message}");
        let errors =
            json!([{"message": message, "logref": null, "path": path, "_links": {}, "_embedded": {}}]);
        json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &error_body(&full, &self.href(), Some(errors)),
        )
    }
    pub fn not_found(&self) -> Response {
        self.error(StatusCode::NOT_FOUND, "Not Found")
    }

    /// Parses a multipart body into (name, filename, bytes) parts.
    pub async fn multipart(&self) -> Result<Vec<Part>, Response> {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = multer::parse_boundary(ct).map_err(|e| {
            self.error(
                StatusCode::BAD_REQUEST,
                &format!("Bad Request: invalid multipart body: {e}"),
            )
        })?;
        let body = self.body.clone();
        let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
        let mut mp = multer::Multipart::new(stream, boundary);
        let mut parts = Vec::new();
        loop {
            match mp.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_string();
                    let filename = field.file_name().map(String::from);
                    let data = field.bytes().await.map_err(|e| {
                        self.error(
                            StatusCode::BAD_REQUEST,
                            &format!("Bad Request: invalid multipart body: {e}"),
                        )
                    })?;
                    parts.push(Part { name, filename, data });
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(self.error(
                        StatusCode::BAD_REQUEST,
                        &format!("Bad Request: invalid multipart body: {e}"),
                    ));
                }
            }
        }
        Ok(parts)
    }

    /// Parses a JSON body; `Err` is Micronaut's answer to a missing (422 `Required Body`) or
    /// malformed body (422 `Invalid json mapping`, recorded pair errors/malformed-json-body).
    pub fn json_body(&self, arg: &str) -> Result<Value, Response> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(self.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Invalid route params: Required Body [{arg}] not specified"),
            ));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            let errors = json!([{"message": format!("Failed to convert argument [{arg}] for value [null] due to: {e}"), "logref": null, "path": null, "_links": {}, "_embedded": {}}]);
            json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &error_body("Invalid json mapping", &self.href(), Some(errors)),
            )
        })
    }
}

#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub data: Bytes,
}

pub fn error_body(message: &str, href: &str, errors: Option<Value>) -> Value {
    let mut embedded = serde_json::Map::new();
    if let Some(e) = errors {
        embedded.insert("errors".into(), e);
    }
    json!({
        "message": message,
        "logref": null,
        "path": null,
        "_links": {"self": {"href": href, "templated": false, "profile": null, "deprecation": null,
                             "title": null, "hreflang": null, "type": null, "name": null}},
        "_embedded": Value::Object(embedded),
    })
}

pub fn json_response(status: StatusCode, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub fn ok_json(v: &Value) -> Response {
    json_response(StatusCode::OK, v)
}

pub fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

pub fn text(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Parses a query string into decoded (key, value) pairs, keeping repeats and order.
pub fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = q else { return Vec::new() };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_form(k), decode_form(v))
        })
        .collect()
}

fn decode_form(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

pub fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The simulator's climbing guard: a decoded namespace, id or key that contains `/`, `\` or a
/// `..` sequence is refused with 400. STRICTER THAN REAL KESTRA, on purpose: a real 0.23 server
/// decoded `..%2Fcompany.team` and read another namespace's KV, and `..%2F..%2Fescape` created
/// a storage folder outside the tenant (recorded pairs errors/dotdot-encoded-namespace-kv,
/// errors/dotdot-encoded-namespace-files-2). kestra-mcp must never send such values; the test
/// bed makes any attempt visible instead of silently climbing.
pub fn climbing(value: &str) -> bool {
    value.contains('/') || value.contains('\\') || value.contains("..") || value == "."
}

/// Pagination helper: the 1-based `page` of `size` items.
pub fn paginate<T: Clone>(items: &[T], page: usize, size: usize) -> Vec<T> {
    items
        .iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .cloned()
        .collect()
}

pub fn paged(results: Vec<Value>, total: usize) -> Value {
    json!({"results": results, "total": total})
}

impl Req {
    /// A 422 whose message is `Invalid entity: {message}` and whose single embedded error has
    /// the given path (Jackson mapping errors on flow sources look like this).
    pub fn validation_error_raw(&self, message: &str, path: &str) -> Response {
        let errors =
            json!([{"message": message, "logref": null, "path": path, "_links": {}, "_embedded": {}}]);
        json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &error_body(&format!("Invalid entity: {message}"), &self.href(), Some(errors)),
        )
    }
}
