//! Line framing between the process's stdin/stdout and the MCP service. rmcp drops a line it
//! cannot parse without a word; clients then wait for an answer that never comes. This layer
//! answers such lines itself, as JSON-RPC requires: a line that is not JSON gets a parse error
//! (-32700), JSON that is not a JSON-RPC message an invalid-request error (-32600), and a line
//! longer than the limit an invalid-request error, without ever holding more than the limit in
//! memory. Everything else passes through untouched. Only whole lines reach stdout, so rmcp's
//! messages and these errors never interleave.
//!
//! End of input: a last line without a newline still counts, and the service sees end of file
//! only once every request read before it has been answered (or `drain_limit` has passed):
//! rmcp stops its running handlers a few seconds after end of file, which would leave a slow
//! call unanswered. The caller awaits the returned writer task before exiting, so no answer is
//! lost in stdout's buffer when the runtime shuts down.
//!
//! The process's stdin and stdout are read and written on two dedicated threads
//! ([`read_on_thread`], [`write_on_thread`]) rather than with tokio's `Stdin`/`Stdout`, which
//! hand every read and write to the blocking pool and back (two thread wake-ups each): at one
//! call in flight those hand-offs were a large part of the round trip's overhead.

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream, ReadBuf};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::PollSender;

/// Default bound on one incoming JSON-RPC line.
pub const DEFAULT_MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

const PIPE_BYTES: usize = 256 * 1024;

/// The service's ends of the framing, plus the task writing stdout.
pub struct Framed {
    /// What the service reads (whole, checked lines).
    pub service_in: DuplexStream,
    /// What the service writes.
    pub service_out: DuplexStream,
    /// Ends once the service's output is closed and every line has been written and flushed;
    /// await it before the runtime shuts down.
    pub writer: JoinHandle<()>,
}

/// Wraps `input`/`output` (stdin/stdout) for rmcp. At end of input, the service sees end of
/// file once the requests already read are answered, or after `drain_limit`.
pub fn framed<R, W>(input: R, output: W, max_line: usize, drain_limit: Duration) -> Framed
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (service_in, feed) = tokio::io::duplex(PIPE_BYTES);
    let (service_out, drain) = tokio::io::duplex(PIPE_BYTES);
    let (errors_tx, errors_rx) = mpsc::unbounded_channel::<String>();
    let pending = Arc::new(Pending::default());
    let reader = LineReader {
        feed,
        errors: errors_tx,
        max_line,
        pending: pending.clone(),
        drain_limit,
    };
    tokio::spawn(reader.run(input));
    let writer = tokio::spawn(write_lines(drain, errors_rx, output, pending));
    Framed {
        service_in,
        service_out,
        writer,
    }
}

/// Requests forwarded to the service and not answered yet, by id (counted: ids may repeat).
#[derive(Default)]
struct Pending {
    ids: Mutex<HashMap<String, usize>>,
    changed: Notify,
}

impl Pending {
    fn with_ids<T>(&self, f: impl FnOnce(&mut HashMap<String, usize>) -> T) -> T {
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut ids)
    }

    fn add(&self, id: String) {
        self.with_ids(|ids| *ids.entry(id).or_default() += 1);
    }

    fn remove(&self, id: &str) {
        self.with_ids(|ids| {
            if let Some(n) = ids.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    ids.remove(id);
                }
            }
        });
        // A stored permit: the one waiter never misses a change made before it waits.
        self.changed.notify_one();
    }

    fn clear(&self) {
        self.with_ids(HashMap::clear);
        self.changed.notify_one();
    }

    fn is_empty(&self) -> bool {
        self.with_ids(|ids| ids.is_empty())
    }

    async fn until_empty(&self) {
        while !self.is_empty() {
            self.changed.notified().await;
        }
    }
}

/// What to do with one incoming line.
#[derive(Debug, PartialEq)]
enum Verdict {
    Forward(Track),
    Skip,
    Reply(String),
}

/// What a forwarded line means for the requests awaiting an answer.
#[derive(Debug, PartialEq)]
enum Track {
    Nothing,
    /// A request with this id (JSON text) awaits its answer.
    Request(String),
    /// The client gave up on the request with this id.
    Cancelled(String),
}

fn track(message: &serde_json::Map<String, Value>) -> Track {
    let method = message.get("method").and_then(Value::as_str);
    match (method, message.get("id")) {
        (Some("notifications/cancelled"), _) => {
            match message.get("params").and_then(|p| p.get("requestId")) {
                Some(id) => Track::Cancelled(id.to_string()),
                None => Track::Nothing,
            }
        }
        (Some(_), Some(id)) if !id.is_null() => Track::Request(id.to_string()),
        _ => Track::Nothing,
    }
}

/// The id of a response or error the service wrote, if the line is one. Reads only `id` and
/// whether there is a `method`: the rest (a `tools/list` of 10,000 tools is megabytes) is
/// skipped without being built.
fn answered_id(line: &str) -> Option<String> {
    /// The two members looked at; every other one is skipped.
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default, deserialize_with = "present")]
        id: Option<Value>,
        #[serde(default)]
        method: Option<serde::de::IgnoredAny>,
    }
    /// A member that is there, even `null` (which `Option` alone reads as absent).
    fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        serde::Deserialize::deserialize(d).map(Some)
    }
    // A derived struct also reads a JSON array; a message is an object.
    if !line.trim_start().starts_with('{') {
        return None;
    }
    let head: Head = serde_json::from_str(line).ok()?;
    match head.method {
        Some(_) => None,
        None => head.id.map(|id| id.to_string()),
    }
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
    Verdict::Forward(track(message))
}

fn error(id: Value, code: i64, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
}

/// Reads stdin line by line and forwards the checked lines to the service.
struct LineReader {
    feed: DuplexStream,
    errors: mpsc::UnboundedSender<String>,
    max_line: usize,
    pending: Arc<Pending>,
    drain_limit: Duration,
}

impl LineReader {
    async fn run<R: AsyncRead + Unpin>(mut self, input: R) {
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
            if line.len() > self.max_line {
                oversized = true;
                line = Vec::new();
            }
            if !complete {
                continue;
            }
            if !self.handle(&line, oversized).await {
                return self.finish().await;
            }
            line.clear();
            oversized = false;
        }
        // A last line without a newline is still a line.
        if oversized || !line.is_empty() {
            self.handle(&line, oversized).await;
        }
        self.finish().await;
    }

    /// Judges and forwards (or answers) one line; false once the service or stdout is gone.
    async fn handle(&mut self, line: &[u8], oversized: bool) -> bool {
        let verdict = match oversized {
            true => Verdict::Reply(error(
                Value::Null,
                -32600,
                &format!(
                    "invalid request: the message is longer than {} bytes",
                    self.max_line
                ),
            )),
            false => judge(line),
        };
        match verdict {
            Verdict::Forward(track) => {
                match track {
                    Track::Request(id) => self.pending.add(id),
                    Track::Cancelled(id) => self.pending.remove(&id),
                    Track::Nothing => {}
                }
                let mut framed = line.to_vec();
                framed.push(b'\n');
                self.feed.write_all(&framed).await.is_ok()
            }
            Verdict::Skip => true,
            Verdict::Reply(reply) => {
                tracing::warn!("refused an incoming line: {reply}");
                self.errors.send(reply).is_ok()
            }
        }
    }

    /// End of input: waits for the answers still due, then lets the service see end of file.
    async fn finish(mut self) {
        if tokio::time::timeout(self.drain_limit, self.pending.until_empty())
            .await
            .is_err()
        {
            tracing::warn!(
                "end of input: requests still unanswered after {:?}; stopping",
                self.drain_limit
            );
        }
        drop(self.errors);
        let _ = self.feed.shutdown().await;
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(
    drain: DuplexStream,
    mut errors: mpsc::UnboundedReceiver<String>,
    mut output: W,
    pending: Arc<Pending>,
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
        if write_line(&mut output, &line).await.is_err() {
            pending.clear();
            return;
        }
        if !pending.is_empty()
            && let Some(id) = answered_id(&line)
        {
            pending.remove(&id);
        }
    }
    // The service is done; errors queued before its end of file still go out.
    while let Ok(line) = errors.try_recv() {
        if write_line(&mut output, &line).await.is_err() {
            break;
        }
    }
    pending.clear();
    // Shutdown, not only flush: a writer thread has written everything once it returns.
    let _ = output.shutdown().await;
}

async fn write_line<W: AsyncWrite + Unpin>(output: &mut W, line: &str) -> std::io::Result<()> {
    output.write_all(line.as_bytes()).await?;
    output.write_all(b"\n").await?;
    output.flush().await
}

/// Bytes read from stdin at most at once on the reader thread.
const READ_CHUNK: usize = 64 * 1024;
/// Chunks read ahead of the service (backpressure: the thread waits once they are queued).
const READ_AHEAD: usize = 4;
/// Writes queued for the writer thread before the service waits (each is one flushed line or
/// a few: `write_lines` flushes after every line).
const WRITE_QUEUE: usize = 64;

/// An [`AsyncRead`] over `input` read with blocking reads on a dedicated thread (for stdin:
/// no blocking-pool hand-off per read). The thread ends at end of input, on a read error
/// (passed on once), or when the reader is dropped and its next chunk finds no one.
pub fn read_on_thread<R: Read + Send + 'static>(input: R) -> ThreadReader {
    let (chunks, receiver) = mpsc::channel(READ_AHEAD);
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_chunks(input, &chunks));
    if let Err(e) = spawned {
        // No thread, no input: the reader sees this error, then end of input.
        tracing::error!("could not start the stdin reader thread: {e}");
    }
    ThreadReader {
        chunks: receiver,
        chunk: Vec::new(),
        at: 0,
    }
}

fn read_chunks<R: Read>(mut input: R, chunks: &mpsc::Sender<std::io::Result<Vec<u8>>>) {
    let mut buf = vec![0; READ_CHUNK];
    loop {
        let chunk = match input.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => Ok(buf[..n].to_vec()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let failed = chunk.is_err();
        if chunks.blocking_send(chunk).is_err() || failed {
            return;
        }
    }
}

/// The service's end of [`read_on_thread`].
pub struct ThreadReader {
    chunks: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
}

impl AsyncRead for ThreadReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.at == self.chunk.len() {
            match ready!(self.chunks.poll_recv(cx)) {
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = buf.remaining().min(self.chunk.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.chunk[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

/// An [`AsyncWrite`] over `output` written with blocking writes on a dedicated thread (for
/// stdout: no blocking-pool hand-off per write, and no wake-up back: a flush hands the bytes
/// over and returns). Shutdown waits until the thread has written and flushed everything.
/// After a write error the thread stops and the next flush fails (broken pipe).
pub fn write_on_thread<W: Write + Send + 'static>(output: W) -> ThreadWriter {
    let (writes, receiver) = mpsc::channel(WRITE_QUEUE);
    let (done, written) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("stdout".into())
        .spawn(move || write_chunks(output, receiver, done));
    if let Err(e) = spawned {
        // The receiver is gone with the closure: every flush fails, as with a closed stdout.
        tracing::error!("could not start the stdout writer thread: {e}");
    }
    ThreadWriter {
        queued: Vec::new(),
        writes: PollSender::new(writes),
        written,
    }
}

fn write_chunks<W: Write>(mut output: W, mut writes: mpsc::Receiver<Vec<u8>>, done: oneshot::Sender<()>) {
    while let Some(bytes) = writes.blocking_recv() {
        if let Err(e) = output.write_all(&bytes).and_then(|()| output.flush()) {
            tracing::debug!("stdout: {e}");
            break;
        }
    }
    // Closed before `done` is sent: whoever waits on `written` then sees every later flush fail.
    drop(writes);
    let _ = done.send(());
}

/// The service's end of [`write_on_thread`].
pub struct ThreadWriter {
    /// Written since the last flush.
    queued: Vec<u8>,
    writes: PollSender<Vec<u8>>,
    written: oneshot::Receiver<()>,
}

fn closed() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the output is closed")
}

impl AsyncWrite for ThreadWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        // Bounded memory: past a chunk, hand over what is queued first; a long line (a
        // `tools/list` of thousands) goes over in chunks, not copied whole.
        if self.queued.len() >= READ_CHUNK {
            ready!(self.as_mut().poll_flush(cx))?;
        }
        let taken = buf.len().min(READ_CHUNK - self.queued.len());
        self.queued.extend_from_slice(&buf[..taken]);
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.queued.is_empty() {
            return Poll::Ready(Ok(()));
        }
        ready!(self.writes.poll_reserve(cx)).map_err(|_| closed())?;
        let bytes = std::mem::take(&mut self.queued);
        self.writes.send_item(bytes).map_err(|_| closed())?;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        self.writes.close();
        // Sent or dropped, the thread is done with the output.
        let _ = ready!(Pin::new(&mut self.written).poll(cx));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answered_id_is_read_without_the_rest() {
        let cases = [
            (
                r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"x"}]}}"#,
                Some("7"),
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a-1","error":{"code":1,"message":"m"}}"#,
                Some("\"a-1\""),
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}"#,
                Some("null"),
            ),
            (r#"{"jsonrpc":"2.0","id":3,"method":"roots/list"}"#, None),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#,
                None,
            ),
            (r#"{"jsonrpc":"2.0","result":{}}"#, None),
            (r#"[3, "x"]"#, None),
            ("not json", None),
        ];
        for (line, want) in cases {
            assert_eq!(answered_id(line).as_deref(), want, "{line}");
        }
    }

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
            Verdict::Forward(Track::Request("1".into()))
        );
        assert_eq!(
            judge(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            Verdict::Forward(Track::Nothing)
        );
        assert_eq!(
            judge(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a"}}"#),
            Verdict::Forward(Track::Cancelled("\"a\"".into()))
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
        let mut framed = framed(
            std::io::Cursor::new(input.into_bytes()),
            tokio::io::sink(),
            1000,
            Duration::from_secs(30),
        );
        let mut reader = BufReader::new(framed.service_in);
        let mut forwarded = String::new();
        for _ in 0..2 {
            reader.read_line(&mut forwarded).await.unwrap();
        }
        assert_eq!(
            forwarded,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n"
        );
        // Both requests are answered: only then does the service see end of file.
        for id in [1, 2] {
            let answer = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{}}}}\n");
            framed.service_out.write_all(answer.as_bytes()).await.unwrap();
        }
        let mut rest = String::new();
        assert_eq!(reader.read_line(&mut rest).await.unwrap(), 0);
        framed.service_out.shutdown().await.unwrap();
        drop(framed.service_out);
        framed.writer.await.unwrap();
    }

    #[tokio::test]
    async fn end_of_input_waits_for_answers_and_keeps_a_last_line_without_newline() {
        let input = "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}";
        let (output, mut stdout) = tokio::io::duplex(4096);
        let framed = framed(
            std::io::Cursor::new(input.as_bytes().to_vec()),
            output,
            1000,
            Duration::from_secs(30),
        );
        let mut lines = BufReader::new(framed.service_in).lines();
        assert!(lines.next_line().await.unwrap().unwrap().contains("\"a\""));
        assert!(lines.next_line().await.unwrap().unwrap().contains("7"));
        let mut service_out = framed.service_out;
        service_out
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}\n")
            .await
            .unwrap();
        // One answer still due: no end of file yet, while the last request is answered.
        let wait = tokio::time::timeout(Duration::from_millis(50), lines.next_line()).await;
        assert!(wait.is_err(), "end of file came before every answer: {wait:?}");
        service_out
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n")
            .await
            .unwrap();
        assert_eq!(lines.next_line().await.unwrap(), None);
        drop(service_out);
        framed.writer.await.unwrap();
        let mut written = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut written)
            .await
            .unwrap();
        assert_eq!(written.lines().count(), 2, "{written}");
    }

    /// A `Write` whose bytes a test reads afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_threads_carry_lines_both_ways_and_everything_is_written_at_the_end() {
        // Larger than one read chunk, so the reader hands over several.
        let filler = format!(
            "{{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":\"{}\"}}\n",
            "x".repeat(READ_CHUNK)
        );
        let input = format!("{filler}{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}}\n");
        let output = Shared::default();
        let framed = framed(
            read_on_thread(std::io::Cursor::new(input.into_bytes())),
            write_on_thread(output.clone()),
            4 * READ_CHUNK,
            Duration::from_secs(30),
        );
        let mut lines = BufReader::new(framed.service_in).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap().len(), filler.len() - 1);
        assert!(lines.next_line().await.unwrap().unwrap().contains("ping"));
        let mut service_out = framed.service_out;
        let answer = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n";
        service_out.write_all(answer.as_bytes()).await.unwrap();
        // Answered: end of file reaches the service, which closes its output.
        assert_eq!(lines.next_line().await.unwrap(), None);
        drop(service_out);
        framed.writer.await.unwrap();
        assert_eq!(
            String::from_utf8(output.0.lock().unwrap().clone()).unwrap(),
            answer
        );
    }

    /// A `Write` that records the size of each write.
    #[derive(Clone, Default)]
    struct Sizes(Arc<Mutex<Vec<usize>>>);

    impl std::io::Write for Sizes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_long_line_is_handed_over_in_chunks_and_arrives_whole() {
        let sizes = Sizes::default();
        let mut writer = write_on_thread(sizes.clone());
        let line = vec![b'x'; 5 * READ_CHUNK + 7];
        writer.write_all(&line).await.unwrap();
        writer.shutdown().await.unwrap();
        let sizes = sizes.0.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), line.len());
        assert!(sizes.iter().all(|&n| n <= READ_CHUNK), "{sizes:?}");
    }

    struct Broken;

    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failed_write_closes_the_writer() {
        let mut writer = write_on_thread(Broken);
        writer.write_all(b"a\n").await.unwrap();
        writer.flush().await.unwrap();
        // Once the thread has failed and stopped, writing fails.
        (&mut writer.written).await.unwrap();
        writer.write_all(b"b\n").await.unwrap();
        assert_eq!(
            writer.flush().await.unwrap_err().kind(),
            std::io::ErrorKind::BrokenPipe
        );
    }

    #[tokio::test]
    async fn a_read_error_reaches_the_reader_once() {
        struct Failing;
        impl std::io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("gone"))
            }
        }
        let mut reader = read_on_thread(Failing);
        let mut buf = Vec::new();
        let err = tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut buf)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "gone");
        assert_eq!(
            tokio::io::AsyncReadExt::read(&mut reader, &mut [0; 8])
                .await
                .unwrap(),
            0
        );
    }
}
