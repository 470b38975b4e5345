//! What a scenario works with: an MCP session with kestra-mcp, the direct API, a namespace of its
//! own, the tools the server offers, and a record of what it made (cleaned up by id afterwards,
//! even when the scenario fails).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{self, Api};
use crate::bed::Target;
use crate::client::{Mcp, Reply};

/// Tool name → the values of its `action` enum (empty when it has no `action`).
pub type Catalogue = BTreeMap<String, Vec<String>>;

pub fn catalogue(tools: &[Value]) -> Catalogue {
    tools
        .iter()
        .map(|t| {
            let actions = t["inputSchema"]["properties"]["action"]["enum"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            (t["name"].as_str().unwrap_or_default().to_owned(), actions)
        })
        .collect()
}

/// What a scenario made, to delete by id afterwards.
#[derive(Debug, Default)]
pub struct Made {
    pub flows: BTreeSet<(String, String)>,
    pub executions: BTreeSet<String>,
    /// Namespaces whose executions (e.g. from a backfill) are looked up and deleted one by one.
    pub namespaces: BTreeSet<String>,
    pub kv: BTreeSet<(String, String)>,
    pub files: BTreeSet<(String, String)>,
    pub groups: BTreeSet<String>,
    pub invitations: BTreeSet<String>,
    pub apps: BTreeSet<String>,
    pub tests: BTreeSet<(String, String)>,
    pub banners: BTreeSet<String>,
}

/// Shared between the scenario task and the runner, so it survives a failed scenario.
#[derive(Debug, Default)]
pub struct Record {
    pub made: Made,
    /// Steps not run because the tool (or variant) is not in tools.d yet.
    pub pending: Vec<String>,
    /// The scenario could not start: required tools missing.
    pub blocked: Option<String>,
    /// `tool` or `tool[action]` called.
    pub exercised: BTreeSet<String>,
    /// Skipped on purpose (e.g. a simulator-only check on a live server).
    pub skipped: Option<String>,
}

pub struct Ctx {
    pub target: Arc<Target>,
    pub api: Api,
    pub mcp: Mcp,
    /// This scenario's namespace: `<run prefix>.<scenario>`.
    pub ns: String,
    /// The run's unique prefix, e.g. `e2e.r1a2b3c`.
    pub prefix: String,
    pub tools: Arc<Catalogue>,
    pub record: Arc<Mutex<Record>>,
}

impl Ctx {
    pub fn v2(&self) -> bool {
        self.target.v2
    }

    pub fn sim(&self) -> bool {
        self.target.sim
    }

    fn rec(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn offers(&self, spec: &str) -> bool {
        match spec.split_once('[') {
            Some((tool, action)) => {
                let action = action.trim_end_matches(']');
                self.tools
                    .get(tool)
                    .is_some_and(|a| a.iter().any(|x| x == action))
            }
            None => self.tools.contains_key(spec),
        }
    }

    /// Whether the server offers `tool` or `tool[action]`; if not, the step is recorded as
    /// pending (the tool has not landed in tools.d yet).
    pub fn has(&self, spec: &str) -> bool {
        let ok = self.offers(spec);
        if !ok {
            self.rec().pending.push(spec.to_owned());
        }
        ok
    }

    /// All of `specs` are offered; otherwise the scenario is blocked (reported, not failed).
    pub fn require(&self, specs: &[&str]) -> bool {
        let missing: Vec<&str> = specs.iter().copied().filter(|s| !self.offers(s)).collect();
        if missing.is_empty() {
            return true;
        }
        self.rec().blocked = Some(format!("tools not in tools.d yet: {}", missing.join(", ")));
        false
    }

    pub fn skip(&self, why: &str) {
        self.rec().skipped = Some(why.to_owned());
    }

    pub fn made(&self) -> std::sync::MutexGuard<'_, Record> {
        self.rec()
    }

    /// Calls a tool and returns its reply, success or not.
    pub async fn call(&mut self, tool: &str, args: Value) -> Reply {
        let key = match args["action"].as_str() {
            Some(a) if self.tools.get(tool).is_some_and(|v| !v.is_empty()) => format!("{tool}[{a}]"),
            _ => tool.to_owned(),
        };
        self.rec().exercised.insert(key);
        self.mcp.call(tool, &args).await
    }

    /// Calls a tool that must succeed; returns its result.
    pub async fn ok(&mut self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args.clone()).await;
        assert!(
            !r.is_error,
            "[{}] {tool}({args}) failed: {}",
            self.target.label, r.text
        );
        // Like the Python server, some tools report a failure as a result `{"error": ...}`.
        assert!(
            r.value.get("error").is_none(),
            "[{}] {tool}({args}) answered an error: {}",
            self.target.label,
            r.text
        );
        r.value
    }

    /// Calls a tool that must fail; returns its error text.
    pub async fn err(&mut self, tool: &str, args: Value) -> String {
        let r = self.call(tool, args.clone()).await;
        assert!(
            r.is_error,
            "[{}] {tool}({args}) should have failed, got {}",
            self.target.label, r.text
        );
        r.text
    }

    /// Creates a flow with `create_flow_from_yaml` and checks the simulator holds it.
    pub async fn create_flow(&mut self, yaml: &str) -> Value {
        let parsed: Value = yaml_serde::from_str(yaml).expect("test flow YAML");
        let (ns, id) = (
            parsed["namespace"].as_str().expect("namespace").to_owned(),
            parsed["id"].as_str().expect("id").to_owned(),
        );
        self.made().made.flows.insert((ns.clone(), id.clone()));
        self.made().made.namespaces.insert(ns.clone());
        let out = self
            .ok("create_flow_from_yaml", json!({"yaml_definition": yaml}))
            .await;
        assert_eq!(out["id"], json!(id), "create_flow_from_yaml answer: {out}");
        let stored = self.api.flow(&ns, &id).await.json("read back the flow");
        assert_eq!(stored["namespace"], json!(ns));
        out
    }

    /// Starts an execution with `execute_flow` and records it.
    pub async fn execute(&mut self, ns: &str, flow: &str, extra: Value) -> String {
        let mut args = json!({"namespace": ns, "flow_id": flow});
        if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        let out = self.ok("execute_flow", args).await;
        let id = out["id"]
            .as_str()
            .unwrap_or_else(|| panic!("execute_flow answered no id: {out}"))
            .to_owned();
        self.made().made.executions.insert(id.clone());
        id
    }

    /// Polls the execution until its state is one of `states`: through
    /// `manage_executions(get)` when the server offers it (what an AI client does), else
    /// directly. Returns the execution as the API holds it.
    pub async fn wait_state(&mut self, id: &str, states: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(if self.sim() { 20 } else { 120 });
        let use_tool = self.offers("manage_executions[get]");
        loop {
            let seen = if use_tool {
                let e = self
                    .ok("manage_executions", json!({"action": "get", "execution_id": id}))
                    .await;
                api::state(&e)
            } else {
                api::state(&self.api.execution(id).await.json("get execution"))
            };
            if states.contains(&seen.as_str()) {
                let e = self.api.execution(id).await.json("read back the execution");
                assert_eq!(
                    api::state(&e),
                    seen,
                    "the tool and the API disagree on the state of {id}"
                );
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] execution {id} never reached {states:?} (last {seen})",
                self.target.label
            );
            tokio::time::sleep(Duration::from_millis(if self.sim() { 100 } else { 1000 })).await;
        }
    }
}
