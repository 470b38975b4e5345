//! Server-sent event streams (`text/event-stream`): the incremental parser, the typed events,
//! why reading stopped, and the stream as the JSON value templates see
//! (`{"events": [{"id", "event", "data"}...], "stopped": why}`). No I/O: the HTTP stage feeds the
//! parser and stops by the limits of [`StreamLimits`](crate::request::StreamLimits).

use std::time::Duration;

use serde_json::{Value, json};

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl Event {
    /// `{"id", "event", "data"}`, with `data` parsed as JSON when it is JSON.
    pub fn to_json(self) -> Value {
        let data = serde_json::from_str(&self.data).unwrap_or(Value::String(self.data));
        json!({"id": self.id, "event": self.event, "data": data})
    }
}

/// How long and how much of an event stream to read.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamLimits {
    pub max_events: usize,
    pub max_duration: std::time::Duration,
    pub stop_on: Vec<String>,
    /// Shown each event as it arrives; may stop the stream (a `wait` step's follow).
    pub watch: Option<EventWatch>,
}

/// What sees each event of a stream as it arrives (a `wait` step following an execution) and
/// says whether reading may stop there: `true` stops the stream after that event.
#[derive(Clone)]
pub struct EventWatch(std::sync::Arc<dyn Fn(&Event) -> bool + Send + Sync>);

impl EventWatch {
    pub fn new(watch: impl Fn(&Event) -> bool + Send + Sync + 'static) -> Self {
        EventWatch(std::sync::Arc::new(watch))
    }

    fn sees(&self, event: &Event) -> bool {
        (self.0)(event)
    }
}

impl std::fmt::Debug for EventWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventWatch")
    }
}

impl PartialEq for EventWatch {
    /// The same watch, not an equal one: a closure has no other equality.
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// An incremental parser of `text/event-stream` (fields `id`, `event`, `data`; blank line ends
/// an event; comments and other fields ignored).
#[derive(Debug, Default)]
pub struct EventParser {
    pending: Vec<u8>,
    current: Event,
    has_field: bool,
    pub events: Vec<Event>,
    /// How many events the limits' watch has seen.
    watched: usize,
}

impl EventParser {
    /// Adds bytes from the stream; complete events are appended to `events`.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            self.line(line.trim_end_matches(['\n', '\r']));
        }
    }

    /// Why reading under `limits` stops before the next chunk, if it does: enough events, the
    /// last one is an event the spec stops on, or the limits' watch, shown each new event,
    /// says so (the events after that one are dropped). The HTTP stage and canned streams
    /// (`tools test`) stop alike.
    pub fn stop_reason(&mut self, limits: &StreamLimits) -> Option<Stopped> {
        if let Some(watch) = &limits.watch {
            while self.watched < self.events.len().min(limits.max_events) {
                self.watched += 1;
                if watch.sees(&self.events[self.watched - 1]) {
                    self.events.truncate(self.watched);
                    return Some(Stopped::Signalled);
                }
            }
        }
        if self.events.len() >= limits.max_events {
            return Some(Stopped::EventLimit(limits.max_events));
        }
        let last = self.events.last()?;
        let signalled = limits
            .stop_on
            .iter()
            .any(|s| Some(s.as_str()) == last.id.as_deref() || Some(s.as_str()) == last.event.as_deref());
        signalled.then_some(Stopped::Signalled)
    }

    /// The events read (at most `limits.max_events`), why reading stopped and how much was read.
    pub fn finish(self, stopped: Stopped, bytes: usize, limits: &StreamLimits) -> EventStream {
        let mut events = self.events;
        events.truncate(limits.max_events);
        EventStream {
            events,
            stopped,
            bytes,
        }
    }

    fn line(&mut self, line: &str) {
        if line.is_empty() {
            if self.has_field {
                self.events.push(std::mem::take(&mut self.current));
                self.has_field = false;
            }
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => self.current.id = Some(value.to_owned()),
            "event" => self.current.event = Some(value.to_owned()),
            "data" if self.current.data.is_empty() => self.current.data = value.to_owned(),
            "data" => {
                self.current.data.push('\n');
                self.current.data.push_str(value);
            }
            _ => return,
        }
        self.has_field = true;
    }
}

/// Why reading a stream stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// `max_events` events were read.
    EventLimit(usize),
    /// The last event's id or name is one of `stop_on`.
    Signalled,
    /// `max_seconds` passed.
    TimeLimit(Duration),
    /// Reading failed (connection lost).
    Failed(String),
    /// Kestra closed the stream.
    Ended,
    /// More than `KESTRA_MCP_MAX_RESPONSE_BYTES` arrived.
    ByteLimit(usize),
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::EventLimit(n) => write!(f, "stopped after {n} events (the limit)"),
            Stopped::Signalled => f.write_str("the stream signalled its end"),
            Stopped::TimeLimit(d) => write!(f, "stopped after {d:?} (the time limit)"),
            Stopped::Failed(why) => write!(f, "the stream failed: {why}"),
            Stopped::Ended => f.write_str("the stream ended"),
            Stopped::ByteLimit(n) => {
                write!(f, "stopped after {n} bytes (KESTRA_MCP_MAX_RESPONSE_BYTES)")
            }
        }
    }
}

/// A stream read to its end or a limit.
#[derive(Debug, Clone, PartialEq)]
pub struct EventStream {
    pub events: Vec<Event>,
    pub stopped: Stopped,
    /// Bytes read from the stream.
    pub bytes: usize,
}

impl EventStream {
    /// What templates see: `{"events": [{"id", "event", "data"}...], "stopped": why}`.
    pub fn to_json(&self) -> Value {
        let events: Vec<Value> = self.events.iter().cloned().map(Event::to_json).collect();
        json!({"events": events, "stopped": self.stopped.to_string()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_streams_are_parsed_across_chunks() {
        let mut p = EventParser::default();
        p.feed(b"id: start\ndata: {\"a\":");
        p.feed(b"1}\n\n: comment\nid: progress\r\ndata: line1\ndata: line2\n\nid: part");
        assert_eq!(p.events.len(), 2);
        assert_eq!(
            p.events[0].clone().to_json(),
            json!({"id": "start", "event": null, "data": {"a": 1}})
        );
        assert_eq!(p.events[1].data, "line1\nline2");
        p.feed(b"ial\n\n");
        assert_eq!(p.events[2].id.as_deref(), Some("partial"));
    }

    #[test]
    fn a_stream_reads_as_events_and_why_it_stopped() {
        let stream = EventStream {
            events: vec![Event {
                id: Some("progress".into()),
                event: None,
                data: "plain".into(),
            }],
            stopped: Stopped::TimeLimit(Duration::from_secs(6)),
            bytes: 23,
        };
        assert_eq!(
            stream.to_json(),
            json!({"events": [{"id": "progress", "event": null, "data": "plain"}], "stopped": "stopped after 6s (the time limit)"})
        );
        assert_eq!(
            Stopped::EventLimit(3).to_string(),
            "stopped after 3 events (the limit)"
        );
    }
}
