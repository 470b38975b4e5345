//! Simulator state: per-tenant stores, the clock, ids and time formatting.
//!
//! Everything lives in memory behind one `std::sync::Mutex` per simulator; handlers lock it,
//! advance the execution state machine to "now" (lazily, see `executions::tick`), do their work
//! and unlock. Nothing here is Kestra code: it is a model of what Kestra's repositories keep.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::KestraVersion;

/// The clock the state machine runs on.
#[derive(Debug)]
pub enum Clock {
    /// Wall-clock time.
    Real,
    /// A simulated clock that only moves when told (`Simulator::advance`) or when a request
    /// waits for an execution (`?wait=true` fast-forwards it to the execution's next event).
    Manual(Mutex<DateTime<Utc>>),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::Real => Utc::now(),
            Clock::Manual(t) => *lock(t),
        }
    }
    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }
    /// Moves a manual clock forward (never backward); no-op on the real clock.
    pub fn advance_to(&self, to: DateTime<Utc>) {
        if let Clock::Manual(t) = self {
            let mut g = lock(t);
            if to > *g {
                *g = to;
            }
        }
    }
}

/// Locks a mutex, recovering from poisoning (a panicking handler must not wedge the simulator).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Shared simulator core.
#[derive(Debug)]
pub struct Core {
    pub version: KestraVersion,
    pub clock: Clock,
    /// How long a task (other than Pause/Sleep) takes on the clock.
    pub task_delay: Duration,
    pub state: Mutex<World>,
    ids: AtomicU64,
}

pub type SharedCore = Arc<Core>;

impl Core {
    pub fn new(version: KestraVersion, clock: Clock, task_delay: Duration) -> Self {
        let seed = Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64 ^ 0x9E37_79B9_7F4A_7C15;
        Core {
            version,
            clock,
            task_delay,
            state: Mutex::new(World::default()),
            ids: AtomicU64::new(seed | 1),
        }
    }

    /// A random-looking base62 id shaped like Kestra's (22 characters, short UUID).
    pub fn new_id(&self) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut out = String::with_capacity(22);
        for _ in 0..2 {
            // xorshift64* step, shared atomically.
            let mut x = self.ids.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let mut v = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            for _ in 0..11 {
                out.push(ALPHABET[(v % 62) as usize] as char);
                v /= 62;
            }
        }
        out
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.state)
    }
}

/// All tenants plus instance-level (non-tenant) objects.
#[derive(Debug, Default)]
pub struct World {
    pub tenants: HashMap<String, Tenant>,
    pub banners: BTreeMap<String, Value>,
}

impl World {
    pub fn tenant(&mut self, name: &str) -> &mut Tenant {
        self.tenants.entry(name.to_string()).or_default()
    }
}

/// Per-tenant state.
#[derive(Debug, Default)]
pub struct Tenant {
    /// (namespace, id) -> flow with its revisions.
    pub flows: BTreeMap<(String, String), crate::flows::FlowEntry>,
    /// Executions in creation order (ids are unique).
    pub executions: Vec<crate::executions::Execution>,
    pub logs: Vec<Value>,
    /// (namespace, key) -> entry.
    pub kv: BTreeMap<(String, String), crate::kv::KvEntry>,
    /// namespace -> path -> node.
    pub files: BTreeMap<String, BTreeMap<String, crate::files::Node>>,
    /// 1.3 mode only: namespace -> path -> the namespace-file index (see files_v13).
    pub file_index_v13: BTreeMap<String, BTreeMap<String, crate::files_v13::Entry>>,
    /// (namespace, flowId, triggerId) -> trigger context.
    pub triggers: BTreeMap<(String, String, String), crate::triggers::TriggerCtx>,
    pub ee: crate::ee::EeState,
    /// What only the 2.0 mode keeps (v2.rs).
    pub v2: crate::v2::V2State,
}

impl Tenant {
    pub fn execution(&self, id: &str) -> Option<&crate::executions::Execution> {
        self.executions.iter().find(|e| e.id == id)
    }
    pub fn execution_mut(&mut self, id: &str) -> Option<&mut crate::executions::Execution> {
        self.executions.iter_mut().find(|e| e.id == id)
    }
}

/// Kestra's instant format: UTC, microseconds, `Z`.
pub fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Kestra's second-precision instant format (trigger dates).
pub fn fmt_time_secs(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// ISO-8601 duration as Java's `Duration.toString()` prints it (`PT0.039049S`, `PT26H`).
pub fn fmt_duration(d: chrono::TimeDelta) -> String {
    let total_us = d.num_microseconds().unwrap_or(0).max(0);
    if total_us == 0 {
        return "PT0S".into();
    }
    let hours = total_us / 3_600_000_000;
    let minutes = (total_us / 60_000_000) % 60;
    let secs = (total_us / 1_000_000) % 60;
    let micros = total_us % 1_000_000;
    let mut s = String::from("PT");
    if hours > 0 {
        s.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        s.push_str(&format!("{minutes}M"));
    }
    if secs > 0 || micros > 0 {
        if micros > 0 {
            let frac = format!("{micros:06}");
            s.push_str(&format!("{secs}.{}S", frac.trim_end_matches('0')));
        } else {
            s.push_str(&format!("{secs}S"));
        }
    }
    s
}

/// Parses a simple ISO-8601 duration (`PT5M`, `P1DT2H`, `PT0.5S`, `-PT1S` not supported).
pub fn parse_duration(s: &str) -> Option<chrono::TimeDelta> {
    let s = s.trim();
    let rest = s.strip_prefix('P').or_else(|| s.strip_prefix('p'))?;
    let (date_part, time_part) = match rest.find(['T', 't']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut total_ms: f64 = 0.0;
    let mut any = false;
    let mut eat = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
            } else {
                let mult = units.iter().find(|(u, _)| u.eq_ignore_ascii_case(&c))?.1;
                let n: f64 = num.parse().ok()?;
                total_ms += n * mult;
                num.clear();
                any = true;
            }
        }
        if num.is_empty() { Some(()) } else { None }
    };
    eat(date_part, &[('D', 86_400_000.0), ('W', 7.0 * 86_400_000.0)])?;
    if let Some(tp) = time_part {
        if tp.is_empty() {
            return None;
        }
        eat(tp, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1000.0)])?;
    }
    if !any {
        return None;
    }
    Some(chrono::TimeDelta::milliseconds(total_ms as i64))
}

/// Parses an RFC 3339 instant (with `Z` or an offset).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A Kestra `State` object built from its history.
#[derive(Debug, Clone)]
pub struct StateHist {
    pub histories: Vec<(String, DateTime<Utc>)>,
}

pub const TERMINAL: &[&str] = &[
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "SKIPPED",
    "RETRIED",
];

pub const ALL_STATES: &[&str] = &[
    "CREATED",
    "RUNNING",
    "PAUSED",
    "RESTARTED",
    "KILLING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "QUEUED",
    "RETRYING",
    "RETRIED",
    "SKIPPED",
    "BREAKPOINT",
    "SUBMITTED",
    "RESUBMITTED",
];

pub fn is_terminal(s: &str) -> bool {
    TERMINAL.contains(&s)
}

impl StateHist {
    pub fn new(state: &str, at: DateTime<Utc>) -> Self {
        StateHist {
            histories: vec![(state.to_string(), at)],
        }
    }
    pub fn current(&self) -> &str {
        self.histories.last().map(|h| h.0.as_str()).unwrap_or("CREATED")
    }
    pub fn push(&mut self, state: &str, at: DateTime<Utc>) {
        self.histories.push((state.to_string(), at));
    }
    pub fn start(&self) -> DateTime<Utc> {
        self.histories.first().map(|h| h.1).unwrap_or_else(Utc::now)
    }
    pub fn last_date(&self) -> DateTime<Utc> {
        self.histories.last().map(|h| h.1).unwrap_or_else(Utc::now)
    }
    pub fn is_terminal(&self) -> bool {
        is_terminal(self.current())
    }
    pub fn to_json(&self, now: DateTime<Utc>) -> Value {
        let start = self.start();
        let ended = self.is_terminal() || self.current() == "PAUSED";
        let end = if ended { self.last_date() } else { now };
        let mut m = Map::new();
        m.insert("current".into(), json!(self.current()));
        m.insert(
            "histories".into(),
            Value::Array(
                self.histories
                    .iter()
                    .map(|(s, d)| json!({"state": s, "date": fmt_time(d)}))
                    .collect(),
            ),
        );
        m.insert("duration".into(), json!(fmt_duration(end - start)));
        if ended {
            m.insert("endDate".into(), json!(fmt_time(&end)));
        }
        m.insert("startDate".into(), json!(fmt_time(&start)));
        Value::Object(m)
    }
}
