//! A loopback HTTP stub of Kestra (wiremock) and helpers to assert exactly what was sent.

use serde_json::Value;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::util::{Server, env_for};

/// A stub Kestra plus a server pointed at it.
pub struct Bed {
    pub kestra: MockServer,
    pub server: Server,
    /// Requests already returned by `only_request` / `requests`.
    seen: usize,
}

impl Bed {
    pub async fn start() -> Bed {
        Bed::with_env(&[]).await
    }

    /// Starts the stub and the server with extra environment variables.
    pub async fn with_env(extra: &[(&str, &str)]) -> Bed {
        let kestra = MockServer::start().await;
        let mut env = env_for(&format!("{}/api/v1", kestra.uri()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let server = Server::start(&env).await;
        Bed {
            kestra,
            server,
            seen: 0,
        }
    }

    /// A bed around a stub and a server already started (with a handshake of its own).
    pub fn around(kestra: MockServer, server: Server) -> Bed {
        Bed {
            kestra,
            server,
            seen: 0,
        }
    }

    /// Answers `verb path` with `response` (a fixed answer, or one that changes).
    pub async fn answer(&self, verb: &str, at: &str, response: impl wiremock::Respond + 'static) {
        Mock::given(method(verb))
            .and(path(at))
            .respond_with(response)
            .mount(&self.kestra)
            .await;
    }

    /// Answers `verb at` with `response` only when every `(name, value)` query parameter matches.
    pub async fn answer_query(
        &self,
        verb: &str,
        at: &str,
        query: &[(&str, &str)],
        response: ResponseTemplate,
    ) {
        let mut mock = Mock::given(method(verb)).and(path(at));
        for (name, value) in query {
            mock = mock.and(query_param(*name, *value));
        }
        mock.respond_with(response).mount(&self.kestra).await;
    }

    /// The one request Kestra received since the last call; fails if there were others.
    pub async fn only_request(&mut self) -> Request {
        let mut received = self.requests().await;
        assert_eq!(
            received.len(),
            1,
            "expected one request, got {:#?}",
            summary(&received)
        );
        received.remove(0)
    }

    /// Every request received since the last call.
    pub async fn requests(&mut self) -> Vec<Request> {
        let received = self.kestra.received_requests().await.unwrap_or_default();
        let new = received.into_iter().skip(self.seen).collect::<Vec<_>>();
        self.seen += new.len();
        new
    }

    /// Forgets every answer and request.
    pub async fn reset(&mut self) {
        self.kestra.reset().await;
        self.seen = 0;
    }
}

fn summary(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url))
        .collect()
}

pub fn json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// `METHOD /path?query` of each request, in the order received.
pub fn lines(requests: &[Request]) -> Vec<String> {
    requests.iter().map(line).collect()
}

/// `METHOD /path?query` of a request, query as sent.
pub fn line(req: &Request) -> String {
    match req.url.query() {
        Some(q) => format!("{} {}?{q}", req.method, req.url.path()),
        None => format!("{} {}", req.method, req.url.path()),
    }
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub fn body_json(req: &Request) -> Value {
    serde_json::from_slice(&req.body).expect("JSON body")
}

pub fn body_text(req: &Request) -> String {
    String::from_utf8(req.body.clone()).expect("UTF-8 body")
}

/// `(name, filename, value)` of each part of a multipart/form-data body.
pub fn multipart_parts(req: &Request) -> Vec<(String, Option<String>, String)> {
    let ct = header(req, "content-type").expect("content type");
    assert!(ct.starts_with("multipart/form-data"), "not multipart: {ct}");
    let boundary = ct
        .split("boundary=")
        .nth(1)
        .expect("boundary")
        .trim_matches('"')
        .to_owned();
    let body = body_text(req);
    body.split(&format!("--{boundary}"))
        .filter(|chunk| chunk.contains("Content-Disposition"))
        .map(|chunk| {
            let (head, value) = chunk.split_once("\r\n\r\n").expect("part head");
            let attr = |key: &str| {
                head.split(&format!("{key}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(str::to_owned)
            };
            let value = value.strip_suffix("\r\n").unwrap_or(value).to_owned();
            (attr("name").expect("part name"), attr("filename"), value)
        })
        .collect()
}
