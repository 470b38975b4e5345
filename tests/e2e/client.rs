//! The MCP client: the real `kestra-mcp` binary over stdio with raw JSON-RPC lines (the process
//! and JSON-RPC plumbing of tests/integration/util.rs), started with a clean environment pointed
//! at a target.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::bed::{Auth, Target};
use crate::util::Server;

/// Longer than the server's own request timeout, so its answer (or its timeout error) arrives.
const TIMEOUT: Duration = Duration::from_secs(90);

pub struct Mcp {
    server: Server,
}

/// A tool's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub is_error: bool,
    /// `structuredContent`, else the text parsed as JSON, else the text as a JSON string.
    pub value: Value,
    pub text: String,
}

/// The environment kestra-mcp gets for `target` (nothing else is inherited but PATH).
pub fn env_for(target: &Target, probe_version: bool) -> Vec<(String, String)> {
    let mut env = vec![
        ("KESTRA_BASE_URL".to_owned(), target.mcp_base_url.clone()),
        ("KESTRA_MCP_TIMEOUT".to_owned(), "60".to_owned()),
    ];
    match &target.auth {
        Auth::Basic(u, p) => {
            env.push(("KESTRA_USERNAME".into(), u.clone()));
            env.push(("KESTRA_PASSWORD".into(), p.clone()));
        }
        Auth::Bearer(t) => env.push(("KESTRA_API_TOKEN".into(), t.clone())),
    }
    if target.tenant_explicit {
        env.push(("KESTRA_TENANT_ID".into(), target.tenant.clone()));
    }
    if let (Some(v), false) = (&target.version, probe_version) {
        env.push(("KESTRA_VERSION".into(), v.clone()));
    }
    // Other specs over the built-in ones, e.g. an older tools.d for a before/after comparison.
    if let Some(dir) = std::env::var("KESTRA_E2E_TOOLS_DIR")
        .ok()
        .filter(|d| !d.is_empty())
    {
        env.push(("KESTRA_MCP_TOOLS_DIR".into(), dir));
    }
    env
}

/// A `tools/call` result as a [`Reply`].
fn reply_of(result: &Value) -> Reply {
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let value = match result.get("structuredContent") {
        Some(v) if !v.is_null() => v.clone(),
        _ => serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone())),
    };
    Reply {
        is_error: result["isError"] == json!(true),
        value,
        text,
    }
}

impl Mcp {
    /// Starts the binary with exactly `env` (plus PATH), in an empty directory (no `.env`), and
    /// initializes a session.
    pub async fn start(env: &[(String, String)]) -> Mcp {
        let mut server = Server::spawn_with(env, &[], Stdio::null()).with_timeout(TIMEOUT);
        server.handshake().await;
        Mcp { server }
    }

    /// Starts the binary as [`Mcp::start`] does, for a client that declares `elicitation`: the
    /// server may ask it questions during a call ([`Mcp::call_answering`]).
    pub async fn start_asking(env: &[(String, String)]) -> Mcp {
        let mut server = Server::spawn_with(env, &[], Stdio::null()).with_timeout(TIMEOUT);
        let init = server
            .request(
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {"elicitation": {}},
                       "clientInfo": {"name": "e2e-asking", "version": "1"}}),
            )
            .await;
        assert_eq!(init["result"]["serverInfo"]["name"], "kestra-mcp", "{init}");
        server.notify("notifications/initialized", json!({})).await;
        Mcp { server }
    }

    /// `tools/call`, answering each `elicitation/create` the server sends meanwhile with
    /// `answer(question number from 0, its params)`; the questions and the tool's answer.
    pub async fn call_answering(
        &mut self,
        name: &str,
        arguments: &Value,
        answer: impl Fn(usize, &Value) -> Value,
    ) -> (Vec<Value>, Reply) {
        let id = self
            .server
            .send_request("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        let mut asked = Vec::new();
        loop {
            let msg = self.server.read_message().await;
            if msg["method"] == "elicitation/create" {
                let result = answer(asked.len(), &msg["params"]);
                asked.push(msg["params"].clone());
                let reply = json!({"jsonrpc": "2.0", "id": msg["id"], "result": result});
                self.server.send_line(&reply.to_string()).await;
            } else if msg["id"] == json!(id) {
                assert!(
                    msg.get("error").is_none(),
                    "JSON-RPC error from {name}({arguments}): {msg}"
                );
                return (asked, reply_of(&msg["result"]));
            }
        }
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        self.server.request(method, params).await
    }

    /// `tools/list`: every tool with its input schema.
    pub async fn tools(&mut self) -> Vec<Value> {
        let r = self.request("tools/list", json!({})).await;
        r["result"]["tools"].as_array().cloned().unwrap_or_default()
    }

    /// `tools/call`; a JSON-RPC error is a panic (tools report failures as `isError`).
    pub async fn call(&mut self, name: &str, arguments: &Value) -> Reply {
        let r = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        assert!(
            r.get("error").is_none(),
            "JSON-RPC error from {name}({arguments}): {r}"
        );
        reply_of(&r["result"])
    }

    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server.finish()).await;
    }
}
