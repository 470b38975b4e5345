//! Test support: the real `kestra-mcp` binary driven over stdio with raw JSON-RPC lines. Shared
//! by the integration tests, tests/load.rs and the end-to-end client (tests/e2e/client.rs).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A running server process with an initialized MCP session.
pub struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
    /// How long to wait for each message.
    timeout: Duration,
}

/// Environment for a server pointed at `base_url`, with nothing inherited from the developer's
/// shell or a `.env` file.
/// `KESTRA_MCP_DISABLED_TOOLS` is `none` (every tool, no edition probe) so that no probe adds a
/// request to the ones each test asserts; tests of the edition probe remove it.
pub fn env_for(base_url: &str) -> Vec<(String, String)> {
    vec![
        ("KESTRA_BASE_URL".into(), base_url.into()),
        ("KESTRA_MCP_DISABLED_TOOLS".into(), "none".into()),
    ]
}

impl Server {
    /// Starts the binary with exactly `env` (plus PATH) and initializes a session.
    pub async fn start(env: &[(String, String)]) -> Server {
        let mut server = Server::spawn(env, &[]);
        server.handshake().await;
        server
    }

    /// Starts the binary without initializing.
    pub fn spawn(env: &[(String, String)], args: &[&str]) -> Server {
        Server::spawn_with(env, args, Stdio::piped())
    }

    /// Starts the binary without initializing, with its stderr going to `stderr` (a long run
    /// nobody reads stderr from wants `Stdio::null()`, so the pipe never fills up).
    pub fn spawn_with(env: &[(String, String)], args: &[&str], stderr: Stdio) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kestra-mcp"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // No .env from the repository: run in an empty directory.
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn kestra-mcp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        // Keep the directory alive as long as the process might read it.
        std::mem::forget(dir);
        Server {
            child,
            stdin,
            stdout,
            next_id: 1,
            timeout: TIMEOUT,
        }
    }

    /// Waits up to `timeout` for each message instead of [`TIMEOUT`] (the end-to-end client,
    /// which shares this file).
    #[allow(dead_code)]
    pub fn with_timeout(mut self, timeout: Duration) -> Server {
        self.timeout = timeout;
        self
    }

    /// Initializes the session (`initialize`, then `notifications/initialized`).
    pub async fn handshake(&mut self) {
        let init = self.initialize().await;
        assert_eq!(init["result"]["serverInfo"]["name"], "kestra-mcp", "{init}");
        self.notify("notifications/initialized", json!({})).await;
    }

    /// The process id (for memory readings in tests/load.rs, which shares this file).
    #[allow(dead_code)]
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn initialize(&mut self) -> Value {
        self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}),
        )
        .await
    }

    /// Writes one raw line to the server's stdin.
    pub async fn send_line(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).await.expect("write");
        self.stdin.write_all(b"\n").await.expect("write");
        self.stdin.flush().await.expect("flush");
    }

    /// Writes `bytes` to stdin as they are (no newline added) and closes it; returns every
    /// line the server then writes to stdout until it closes it, and its exit status.
    pub async fn send_all_and_close(mut self, bytes: &[u8]) -> (Vec<Value>, std::process::ExitStatus) {
        self.stdin.write_all(bytes).await.expect("write");
        self.stdin.flush().await.expect("flush");
        drop(self.stdin);
        let mut messages = Vec::new();
        loop {
            let line = tokio::time::timeout(self.timeout, self.stdout.next_line())
                .await
                .unwrap_or_else(|_| panic!("stdout still open after {:?}", self.timeout))
                .expect("read stdout");
            match line {
                Some(line) => messages.push(
                    serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("non-JSON on stdout: {line:?}: {e}")),
                ),
                None => break,
            }
        }
        let status = tokio::time::timeout(self.timeout, self.child.wait())
            .await
            .expect("exit")
            .expect("wait");
        (messages, status)
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.send_line(&msg.to_string()).await;
    }

    /// Sends a request without waiting; returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_line(&msg.to_string()).await;
        id
    }

    /// Reads the next stdout line as JSON; every line must be JSON-RPC.
    pub async fn read_message(&mut self) -> Value {
        let line = tokio::time::timeout(self.timeout, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("no message from the server within {:?}", self.timeout))
            .expect("read stdout")
            .expect("server closed stdout");
        let msg: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("non-JSON on stdout: {line:?}: {e}"));
        assert_eq!(msg["jsonrpc"], "2.0", "not JSON-RPC: {line}");
        msg
    }

    /// Reads messages until the response to `id` arrives.
    pub async fn wait_for(&mut self, id: u64) -> Value {
        loop {
            let msg = self.read_message().await;
            if msg["id"] == json!(id) {
                return msg;
            }
        }
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params).await;
        self.wait_for(id).await
    }

    /// `tools/call`, returning the `result` (panics on a JSON-RPC error).
    pub async fn call(&mut self, name: &str, arguments: Value) -> Value {
        let reply = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        assert!(reply.get("error").is_none(), "JSON-RPC error for {name}: {reply}");
        reply["result"].clone()
    }

    /// A successful call's result, read from its JSON text (a tool without an outputSchema
    /// sends no `structuredContent`; one with it sends the same JSON twice).
    pub async fn call_ok(&mut self, name: &str, arguments: Value) -> Value {
        let result = self.call(name, arguments).await;
        assert_ne!(result["isError"], json!(true), "{name} failed: {result}");
        let text = result_json(&result);
        if let Some(structured) = result.get("structuredContent") {
            assert_eq!(&text, structured, "text and structuredContent differ");
        }
        text
    }

    /// A failed call's error text.
    pub async fn call_err(&mut self, name: &str, arguments: Value) -> String {
        let result = self.call(name, arguments).await;
        assert_eq!(result["isError"], json!(true), "{name} should fail: {result}");
        result["content"][0]["text"]
            .as_str()
            .expect("error text")
            .to_owned()
    }

    pub async fn tool_names(&mut self) -> Vec<String> {
        let reply = self.request("tools/list", json!({})).await;
        let mut names: Vec<String> = reply["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["name"].as_str().expect("name").to_owned())
            .collect();
        names.sort();
        names
    }

    /// Closes stdin and returns the exit status and everything written to stderr.
    pub async fn finish(mut self) -> (std::process::ExitStatus, String) {
        drop(self.stdin);
        let mut rest = String::new();
        while let Ok(Ok(Some(line))) = tokio::time::timeout(self.timeout, self.stdout.next_line()).await {
            rest.push_str(&line);
        }
        assert!(rest.is_empty(), "unexpected stdout after close: {rest}");
        let status = tokio::time::timeout(self.timeout, self.child.wait())
            .await
            .expect("exit")
            .expect("wait");
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            use tokio::io::AsyncReadExt;
            let _ = err.read_to_string(&mut stderr).await;
        }
        (status, stderr)
    }
}

/// Runs the binary to completion with `args` and `env`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str], env: &[(String, String)], cwd: Option<&std::path::Path>) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-mcp"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    let dir = tempfile::tempdir().expect("tempdir");
    cmd.current_dir(cwd.unwrap_or(dir.path()));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run kestra-mcp");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A tool result's data: its first text block parsed as JSON.
pub fn result_json(result: &Value) -> Value {
    let text = result["content"][0]["text"].as_str().expect("text content");
    serde_json::from_str(text).expect("text content is JSON")
}
