//! Direct access to the Kestra API the scenarios check against: the simulator itself (not
//! Prism) on the test bed, or the live Kestra. Used to read back what a tool did, to set up
//! what a tool cannot (e.g. a trap flow named `pause`), and to clean up by id.

use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder};
use serde_json::Value;

use crate::bed::{Auth, Target};

/// A response: status and body (JSON when it parses, else a JSON string of the text).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// The JSON body of a 2xx answer; panics with the request and answer otherwise.
    pub fn json(self, what: &str) -> Value {
        assert!(self.ok(), "{what}: HTTP {} {}", self.status, self.text);
        self.body
    }
}

#[derive(Clone)]
pub struct Api {
    http: Client,
    /// `.../api/v1` of the server read directly.
    base: String,
    tenant: String,
    auth: Auth,
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Api {
    pub fn new(target: &Target) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        Api {
            http,
            base: target.api_base_url.trim_end_matches('/').to_owned(),
            tenant: target.tenant.clone(),
            auth: target.auth.clone(),
        }
    }

    /// Percent-encodes one path segment or query value.
    pub fn enc(s: &str) -> String {
        enc(s)
    }

    /// `path` relative to `/api/v1/{tenant}`; a path starting with `//` is root-level
    /// (`//configs` → `/api/v1/configs`).
    fn url(&self, path: &str) -> String {
        match path.strip_prefix("//") {
            Some(root) => format!("{}/{root}", self.base),
            None => format!("{}/{}{path}", self.base, enc(&self.tenant)),
        }
    }

    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let b = self.http.request(method, self.url(path));
        let b = match &self.auth {
            Auth::Basic(u, p) => b.basic_auth(u, Some(p)),
            Auth::Bearer(t) => b.bearer_auth(t),
        };
        b.header("X-Kestra-Tenant", &self.tenant)
    }

    async fn send(&self, what: String, b: RequestBuilder) -> Resp {
        let r = b.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
        Resp { status, body, text }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(format!("GET {path}"), self.req(Method::GET, path))
            .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(format!("DELETE {path}"), self.req(Method::DELETE, path))
            .await
    }

    pub async fn post_yaml(&self, path: &str, yaml: &str) -> Resp {
        self.send(
            format!("POST {path}"),
            self.req(Method::POST, path)
                .header("Content-Type", "application/x-yaml")
                .body(yaml.to_owned()),
        )
        .await
    }

    pub async fn post_empty(&self, path: &str) -> Resp {
        self.send(format!("POST {path}"), self.req(Method::POST, path))
            .await
    }

    // ---- read-back helpers ----

    pub async fn flow(&self, ns: &str, id: &str) -> Resp {
        self.get(&format!("/flows/{}/{}?source=true", enc(ns), enc(id)))
            .await
    }

    pub async fn execution(&self, id: &str) -> Resp {
        self.get(&format!("/executions/{}", enc(id))).await
    }

    /// Executions of a namespace (and flow), by the QueryFilter syntax both 1.3 and 2.0 take.
    pub async fn executions_of(&self, ns: &str, flow: Option<&str>) -> Vec<Value> {
        let mut path = format!(
            "/executions/search?page=1&size=100&filters[namespace][EQUALS]={}",
            enc(ns)
        );
        if let Some(f) = flow {
            path.push_str(&format!("&filters[flowId][EQUALS]={}", enc(f)));
        }
        let r = self.get(&path).await.json("search executions");
        r["results"].as_array().cloned().unwrap_or_default()
    }

    pub async fn kv(&self, ns: &str, key: &str) -> Resp {
        self.get(&format!("/namespaces/{}/kv/{}", enc(ns), enc(key)))
            .await
    }

    pub async fn file(&self, ns: &str, path: &str) -> Resp {
        self.get(&format!("/namespaces/{}/files?path={}", enc(ns), enc(path)))
            .await
    }

    pub async fn directory(&self, ns: &str, path: &str) -> Resp {
        self.get(&format!(
            "/namespaces/{}/files/directory?path={}",
            enc(ns),
            enc(path)
        ))
        .await
    }

    pub async fn logs(&self, execution_id: &str) -> Resp {
        self.get(&format!("/logs/{}", enc(execution_id))).await
    }
}

/// The current state of an execution (`state.current`).
pub fn state(execution: &Value) -> String {
    execution["state"]["current"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Labels as `key → value` pairs.
pub fn labels(execution: &Value) -> Vec<(String, String)> {
    execution["labels"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["key"].as_str().unwrap_or_default().to_owned(),
                        match &l["value"] {
                            Value::String(s) => s.clone(),
                            v => v.to_string(),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn has_label(execution: &Value, key: &str, value: &str) -> bool {
    labels(execution).iter().any(|(k, v)| k == key && v == value)
}
