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

impl Mcp {
    /// Starts the binary with exactly `env` (plus PATH), in an empty directory (no `.env`), and
    /// initializes a session.
    pub async fn start(env: &[(String, String)]) -> Mcp {
        let mut server = Server::spawn_with(env, &[], Stdio::null()).with_timeout(TIMEOUT);
        server.handshake().await;
        Mcp { server }
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
        let result = &r["result"];
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

    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server.finish()).await;
    }
}
