//! Line framing between the process's stdin/stdout and the MCP service. rmcp drops a line it
//! cannot parse without a word; clients then wait for an answer that never comes. This layer
//! answers such lines itself, as JSON-RPC requires: a line that is not JSON gets a parse error
//! (-32700), JSON that is not a JSON-RPC message an invalid-request error (-32600), and a line
//! longer than the limit an invalid-request error, without ever holding more than the limit in
//! memory. Everything else passes through untouched. Only whole lines reach stdout, so rmcp's
//! messages and these errors never interleave.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;

/// Default bound on one incoming JSON-RPC line.
pub const DEFAULT_MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

const PIPE_BYTES: usize = 256 * 1024;

/// Wraps `input`/`output` (stdin/stdout) and returns the reader and writer to give rmcp.
pub fn framed<R, W>(input: R, output: W, max_line: usize) -> (DuplexStream, DuplexStream)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (service_in, feed) = tokio::io::duplex(PIPE_BYTES);
    let (service_out, drain) = tokio::io::duplex(PIPE_BYTES);
    let (errors_tx, errors_rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(read_lines(input, feed, errors_tx, max_line));
    tokio::spawn(write_lines(drain, errors_rx, output));
    (service_in, service_out)
}

/// What to do with one incoming line.
#[derive(Debug, PartialEq)]
enum Verdict {
    Forward,
    Skip,
    Reply(String),
}

fn judge(line: &[u8]) -> Verdict {
    let text = match std::str::from_utf8(line) {
        Ok(t) => t.trim(),
        Err(_) => return Verdict::Reply(error(Value::Null, -32700, "parse error: the line is not UTF-8")),
    };
    if text.is_empty() {
        return Verdict::Skip;
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Verdict::Reply(error(Value::Null, -32700, &format!("parse error: {e}"))),
    };
    let Value::Object(message) = &value else {
        return Verdict::Reply(error(
            Value::Null,
            -32600,
            "invalid request: a message must be a JSON object",
        ));
    };
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    if message.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Verdict::Reply(error(id, -32600, "invalid request: \"jsonrpc\" must be \"2.0\""));
    }
    let is_message = message.get("method").is_some_and(Value::is_string)
        || message.contains_key("result")
        || message.contains_key("error");
    if !is_message {
        return Verdict::Reply(error(
            id,
            -32600,
            "invalid request: no \"method\" (or \"result\"/\"error\")",
        ));
    }
    Verdict::Forward
}

fn error(id: Value, code: i64, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
}

async fn read_lines<R: AsyncRead + Unpin>(
    input: R,
    mut feed: DuplexStream,
    errors: mpsc::UnboundedSender<String>,
    max_line: usize,
) {
    let mut reader = BufReader::new(input);
    let mut line = Vec::new();
    let mut oversized = false;
    loop {
        let (consumed, complete) = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(buf) => match buf.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    if !oversized {
                        line.extend_from_slice(&buf[..i]);
                    }
                    (i + 1, true)
                }
                None => {
                    if !oversized {
                        line.extend_from_slice(buf);
                    }
                    (buf.len(), false)
                }
            },
        };
        reader.consume(consumed);
        if line.len() > max_line {
            oversized = true;
            line = Vec::new();
        }
        if !complete {
            continue;
        }
        let verdict = match oversized {
            true => Verdict::Reply(error(
                Value::Null,
                -32600,
                &format!("invalid request: the message is longer than {max_line} bytes"),
            )),
            false => judge(&line),
        };
        match verdict {
            Verdict::Forward => {
                line.push(b'\n');
                if feed.write_all(&line).await.is_err() {
                    break;
                }
            }
            Verdict::Skip => {}
            Verdict::Reply(reply) => {
                tracing::warn!("refused an incoming line: {reply}");
                if errors.send(reply).is_err() {
                    break;
                }
            }
        }
        line.clear();
        oversized = false;
    }
    // End of input: the service sees end of file and stops.
    let _ = feed.shutdown().await;
}

async fn write_lines<W: AsyncWrite + Unpin>(
    drain: DuplexStream,
    mut errors: mpsc::UnboundedReceiver<String>,
    mut output: W,
) {
    let mut lines = BufReader::new(drain).lines();
    let mut errors_open = true;
    loop {
        let line = tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => line,
                _ => break,
            },
            error = errors.recv(), if errors_open => match error {
                Some(line) => line,
                None => {
                    errors_open = false;
                    continue;
                }
            },
        };
        let written = async {
            output.write_all(line.as_bytes()).await?;
            output.write_all(b"\n").await?;
            output.flush().await
        };
        if written.await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_code(v: Verdict) -> i64 {
        match v {
            Verdict::Reply(r) => serde_json::from_str::<Value>(&r).unwrap()["error"]["code"]
                .as_i64()
                .unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn lines_are_judged() {
        assert_eq!(
            judge(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Verdict::Forward
        );
        assert_eq!(
            judge(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            Verdict::Forward
        );
        assert_eq!(judge(b"   "), Verdict::Skip);
        assert_eq!(reply_code(judge(b"not json")), -32700);
        assert_eq!(reply_code(judge(b"\xff\xfe")), -32700);
        assert_eq!(reply_code(judge(b"[1,2]")), -32600);
        assert_eq!(reply_code(judge(br#"{"id":1,"method":"ping"}"#)), -32600);
        assert_eq!(reply_code(judge(br#"{"jsonrpc":"2.0","id":7}"#)), -32600);
    }

    #[tokio::test]
    async fn oversized_and_broken_lines_get_errors_and_the_rest_passes() {
        let input = format!(
            "{}\nnot json\n{}\n{{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}}\n",
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            "x".repeat(5000)
        );
        let (service_in, mut service_out) =
            framed(std::io::Cursor::new(input.into_bytes()), tokio::io::sink(), 1000);
        let mut forwarded = String::new();
        let mut reader = BufReader::new(service_in);
        while reader.read_line(&mut forwarded).await.unwrap() > 0 {}
        assert_eq!(
            forwarded,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n"
        );
        service_out.shutdown().await.unwrap();
    }
}
