//! The live source of flow tools: lists Kestra's flows for the selection files of the tools
//! directory, makes one tool per selected flow ([`crate::flows::tool::flow_tool_spec`]), and
//! serves them as one layer swapped whole ([`SourceHandle::replace_all`]), with one
//! `notifications/tools/list_changed` per change. It runs beside the server: the built-in tools
//! serve at once; the flow tools appear when Kestra answers, and follow it every `refresh`
//! seconds (and when `--watch` reloads the directory).
//!
//! The listing goes through the exchange point like any tool's request, so the namespace
//! guard (`KESTRA_MCP_NAMESPACES`) narrows it. Kestra's flow search carries what a flow tool
//! needs (inputs, outputs, labels, triggers, disabled: recorded pairs `search-*` of 1.3.0 and
//! 2.0.0-SNAPSHOT), so no flow is fetched on its own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::selection::{self, Choice, FlowFacts, NamespacePattern, Rule, Selection};
use super::tool::{flow_tool_face, shared_steps_spec};
use super::{FLOWS_GROUP, FlowToolSettings};
use crate::error::CallError;
use crate::exchange::{CallContext, Delivery};
use crate::reload::{Kick, SourceHandle};
use crate::request::RenderedRequest;
use crate::runtime::Runtime;
use crate::spec::raw::Scope;
use crate::spec::{CompiledTool, SpecData, SpecError};

/// The label of the flow tools' source (its layer in the tool set).
pub const LABEL: &str = "kestra:flows";
/// Flows asked per page of a search.
const PAGE_SIZE: usize = 200;
/// The most pages read per search (a runaway listing stops there).
const MAX_PAGES: usize = 50;
/// The first wait before asking a Kestra that did not answer again; it doubles up to the
/// refresh interval (at most [`MAX_BACKOFF`]).
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The groups the selections give their tools (the flows group always: so that
/// `KESTRA_MCP_DISABLED_TOOLS=flows` is a known name whenever flow tools may exist).
pub fn groups_of(selections: &[Selection]) -> Vec<String> {
    let mut groups: BTreeSet<String> = selections.iter().map(|s| s.group.clone()).collect();
    groups.insert(FLOWS_GROUP.to_owned());
    groups.into_iter().collect()
}

/// How often to re-list: the shortest `refresh` of the selections; `None`: never.
pub fn refresh_of(selections: &[Selection]) -> Option<Duration> {
    selections.iter().filter_map(|s| s.refresh).min()
}

/// The searches that cover every rule: `(query pairs)` for `GET /flows/search` (without
/// paging). Kestra narrows by namespace and labels; every flow is checked against the rules
/// again, so a filter Kestra ignores costs only a longer answer. A rule without a filter
/// (`mcp_trigger`) makes one search of everything.
pub fn searches(selections: &[Selection]) -> Vec<Vec<(String, String)>> {
    let mut queries: BTreeSet<Vec<(String, String)>> = BTreeSet::new();
    for rule in selections.iter().flat_map(|s| &s.rules) {
        let mut query = Vec::new();
        match rule {
            Rule::Match { namespace, labels } => {
                match namespace {
                    Some(NamespacePattern::Exact(n)) => {
                        query.push(("filters[namespace][EQUALS]".to_owned(), n.clone()))
                    }
                    Some(NamespacePattern::Tree(n)) => {
                        query.push(("filters[namespace][PREFIX]".to_owned(), n.clone()))
                    }
                    None => {}
                }
                for (key, value) in labels {
                    query.push((format!("filters[labels][EQUALS][{key}]"), value.clone()));
                }
            }
            Rule::Flow { namespace, .. } => {
                query.push(("filters[namespace][EQUALS]".to_owned(), namespace.clone()))
            }
            Rule::McpTrigger => return vec![Vec::new()],
        }
        queries.insert(query);
    }
    queries.into_iter().collect()
}

/// What the searches found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Each flow once (by namespace and id).
    pub flows: Vec<Value>,
    /// The searches the namespace guard refused (a rule outside `KESTRA_MCP_NAMESPACES`):
    /// why, for a warning; the other rules' flows are served.
    pub refused: Vec<String>,
}

/// Lists the flows the searches find, page by page. A search the namespace guard refuses
/// finds nothing; any other failure fails the listing (Kestra down: the caller retries).
pub async fn list_flows(runtime: &Runtime, selections: &[Selection]) -> Result<Listing, CallError> {
    let call = CallContext::for_tool("(flow tools)", None);
    let mut flows: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut refused = Vec::new();
    for query in searches(selections) {
        match search_all_pages(runtime, &call, &query, &mut flows).await {
            Ok(()) => {}
            Err(CallError::Refused(why)) => refused.push(why),
            Err(e) => return Err(e),
        }
    }
    Ok(Listing {
        flows: flows.into_values().collect(),
        refused,
    })
}

async fn search_all_pages(
    runtime: &Runtime,
    call: &CallContext,
    query: &[(String, String)],
    flows: &mut BTreeMap<(String, String), Value>,
) -> Result<(), CallError> {
    {
        for page in 1..=MAX_PAGES {
            let mut pairs: Vec<(String, String)> = query.to_vec();
            pairs.push(("page".to_owned(), page.to_string()));
            pairs.push(("size".to_owned(), PAGE_SIZE.to_string()));
            let request = RenderedRequest {
                query: pairs,
                ..RenderedRequest::get(Scope::Tenant, "/flows/search", &[])
            };
            let answer = runtime.exchange(call, &request, Delivery::Retried).await?;
            if !(200..300).contains(&answer.status) {
                return Err(runtime.explain(CallError::Kestra {
                    status: answer.status,
                    method: "GET",
                    path: "/flows/search".to_owned(),
                    message: String::from_utf8_lossy(&answer.body).chars().take(300).collect(),
                }));
            }
            let body = crate::answer::decode_body(&answer)?;
            let results = body
                .get("results")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let count = results.len();
            for flow in results {
                if let Some(key) = flow_key(&flow) {
                    flows.insert(key, flow);
                }
            }
            let total = body.get("total").and_then(Value::as_u64).unwrap_or(0);
            if count < PAGE_SIZE || (page * PAGE_SIZE) as u64 >= total {
                break;
            }
        }
    }
    Ok(())
}

fn flow_key(flow: &Value) -> Option<(String, String)> {
    Some((
        flow.get("namespace")?.as_str()?.to_owned(),
        flow.get("id")?.as_str()?.to_owned(),
    ))
}

/// A flow tool compiled before, kept while its flow's revision and settings stay the same.
#[derive(Clone)]
struct Compiled {
    revision: Option<i64>,
    settings: FlowToolSettings,
    tool: Arc<CompiledTool>,
}

/// What a listing turned into: the tools by name, and what to tell the operator.
#[derive(Default)]
pub struct Built {
    pub tools: BTreeMap<String, Arc<CompiledTool>>,
    /// Where each tool comes from: `namespace.flowId` by tool name.
    pub flows: BTreeMap<String, String>,
    pub warnings: Vec<String>,
    /// How many tools were compiled (the others were kept from before).
    pub compiled: usize,
}

/// Remembers the compiled flow tools between listings, and the problems already reported.
#[derive(Default)]
pub struct Builder {
    /// The compiled steps every flow tool shares (compiled with the first tools).
    shared: Option<Arc<CompiledTool>>,
    cache: BTreeMap<(String, String), Compiled>,
    /// Flows that could not become a tool: the reason, given once per revision and settings.
    failed: BTreeMap<(String, String), (Option<i64>, FlowToolSettings, String)>,
    warned: BTreeSet<String>,
}

impl Builder {
    /// The tools for `flows` under `selections`; `taken`: the other sources' tool names;
    /// `compile`: compiles specs (the source handle's). Unchanged flows (same revision and
    /// settings) keep their compiled tool.
    pub fn build(
        &mut self,
        selections: &[Selection],
        flows: &[Value],
        taken: &BTreeSet<String>,
        compile: impl FnOnce(&[SpecData]) -> Vec<Result<Arc<CompiledTool>, SpecError>>,
    ) -> Built {
        let mut built = Built::default();
        let by_key: BTreeMap<(String, String), &Value> =
            flows.iter().filter_map(|f| Some((flow_key(f)?, f))).collect();
        let mut choices: Vec<Choice> = Vec::new();
        for flow in by_key.values() {
            let Some(facts) = FlowFacts::of(flow) else {
                continue;
            };
            let (choice, warnings) = selection::choose(selections, &facts);
            built.warnings.extend(warnings);
            choices.extend(choice);
        }
        built
            .warnings
            .extend(selection::assign_names(&mut choices, taken));
        let mut fresh: Vec<(Choice, SpecData, Map<String, Value>)> = Vec::new();
        let mut cache = BTreeMap::new();
        for choice in choices {
            let key = (choice.namespace.clone(), choice.id.clone());
            let Some(flow) = by_key.get(&key) else { continue };
            let revision = flow.get("revision").and_then(Value::as_i64);
            let settings = &choice.settings;
            if let Some(kept) = self
                .cache
                .get(&key)
                .filter(|c| c.revision == revision && &c.settings == settings)
            {
                built.tools.insert(settings.name.clone(), kept.tool.clone());
                built
                    .flows
                    .insert(settings.name.clone(), format!("{}.{}", key.0, key.1));
                cache.insert(key, kept.clone());
                continue;
            }
            if self
                .failed
                .get(&key)
                .is_some_and(|(r, s, _)| *r == revision && s == settings)
            {
                continue;
            }
            match flow_tool_face(flow, settings) {
                Ok(face) => {
                    let origin = format!("{LABEL}/{}.{}", key.0, key.1);
                    let spec = SpecData {
                        origin,
                        spec: face.spec,
                    };
                    fresh.push((choice, spec, face.constants));
                }
                Err(e) => self.fail(&key, revision, settings, e.to_string(), &mut built),
            }
        }
        if !fresh.is_empty() {
            let mut specs: Vec<SpecData> = Vec::with_capacity(fresh.len() + 1);
            let shared_spec = match &self.shared {
                Some(_) => None,
                None => Some(shared_steps_spec(FLOWS_GROUP)),
            };
            if let Some(Ok(spec)) = &shared_spec {
                specs.push(SpecData {
                    origin: format!("{LABEL}/(the steps every flow tool shares)"),
                    spec: spec.clone(),
                });
            }
            specs.extend(fresh.iter().map(|(_, s, _)| s.clone()));
            let mut results = compile(&specs).into_iter();
            let shared: Result<Arc<CompiledTool>, String> = match (shared_spec, &self.shared) {
                (None, Some(shared)) => Ok(shared.clone()),
                (Some(Ok(_)), _) => match results.next() {
                    Some(Ok(tool)) => Ok(tool),
                    Some(Err(e)) => Err(e.to_string()),
                    None => Err("not compiled".into()),
                },
                (Some(Err(e)), _) => Err(e),
                (None, None) => Err("not compiled".into()),
            };
            self.shared = shared.as_ref().ok().cloned();
            for ((choice, _, constants), result) in fresh.into_iter().zip(results) {
                let result = match (&shared, result) {
                    (Ok(shared), Ok(face)) => {
                        Ok(Arc::new(CompiledTool::with_actions_of(&face, shared, constants)))
                    }
                    // A bug, not the flow's doing; said for each flow, as any other reason.
                    (Err(e), _) => Err(format!("the steps flow tools share do not compile: {e}")),
                    (_, Err(e)) => Err(e.to_string()),
                };
                let key = (choice.namespace.clone(), choice.id.clone());
                let revision = by_key
                    .get(&key)
                    .and_then(|f| f.get("revision"))
                    .and_then(Value::as_i64);
                match result {
                    Ok(tool) => {
                        built.compiled += 1;
                        built.tools.insert(choice.settings.name.clone(), tool.clone());
                        built
                            .flows
                            .insert(choice.settings.name.clone(), format!("{}.{}", key.0, key.1));
                        cache.insert(
                            key,
                            Compiled {
                                revision,
                                settings: choice.settings,
                                tool,
                            },
                        );
                    }
                    Err(e) => {
                        let reason = format!("its tool spec does not compile: {e}");
                        self.fail(&key, revision, &choice.settings, reason, &mut built);
                    }
                }
            }
        }
        self.cache = cache;
        // Warn once about the same thing: a refresh every minute must not repeat it.
        built.warnings.retain(|w| self.warned.insert(w.clone()));
        built
    }

    /// The warnings of `warnings` not given before.
    pub fn once(&mut self, warnings: impl IntoIterator<Item = String>) -> Vec<String> {
        warnings
            .into_iter()
            .filter(|w| self.warned.insert(w.clone()))
            .collect()
    }

    fn fail(
        &mut self,
        key: &(String, String),
        revision: Option<i64>,
        settings: &FlowToolSettings,
        reason: String,
        built: &mut Built,
    ) {
        built.warnings.push(format!(
            "flow {}.{} is not served as a tool: {reason}",
            key.0, key.1
        ));
        self.failed
            .insert(key.clone(), (revision, settings.clone(), reason));
    }
}

/// The live source: the selections the tools directory held at its last load (start-up or a
/// `--watch` reload), read again at each round.
pub struct FlowSource {
    pub handle: SourceHandle,
    pub runtime: Arc<Runtime>,
    pub kick: Kick,
}

impl FlowSource {
    /// Runs until the process ends.
    pub fn spawn(self) {
        tokio::spawn(self.run());
    }

    async fn run(self) {
        let mut builder = Builder::default();
        let mut backoff = FIRST_BACKOFF;
        let mut reported_down = false;
        loop {
            // As the last load parsed them: reading the directory again here would hold this
            // worker, and the calls queued on it, for as long as that takes (thousands of
            // specs), after every reload.
            let selections = self.handle.selections();
            if selections.is_empty() {
                // Nothing selected: no request to Kestra; the tools of a former selection go.
                self.handle.replace_all(BTreeMap::new(), groups_of(&[])).await;
                self.kick.notified().await;
                continue;
            }
            let refresh = refresh_of(&selections);
            let started = tokio::time::Instant::now();
            match list_flows(&self.runtime, &selections).await {
                Ok(listing) => {
                    if reported_down {
                        tracing::info!(target: "startup", "flow tools: Kestra answers again");
                    }
                    reported_down = false;
                    backoff = FIRST_BACKOFF;
                    self.serve(&mut builder, &selections, &listing, started).await;
                    self.wait(refresh).await;
                }
                Err(e) => {
                    // Info, not error: a Kestra that starts after the server is normal.
                    if !reported_down {
                        tracing::info!(target: "startup", "flow tools: cannot list Kestra's flows yet ({e}); retrying");
                    }
                    reported_down = true;
                    self.wait(Some(backoff)).await;
                    let cap = refresh.unwrap_or(MAX_BACKOFF).clamp(FIRST_BACKOFF, MAX_BACKOFF);
                    backoff = (backoff * 2).min(cap);
                }
            }
        }
    }

    async fn serve(
        &self,
        builder: &mut Builder,
        selections: &[Selection],
        listing: &Listing,
        started: tokio::time::Instant,
    ) {
        let taken = self.handle.names_of_others();
        let groups = groups_of(selections);
        let mut built = off_the_worker(|| {
            builder.build(selections, &listing.flows, &taken, |specs| {
                self.handle.compile_all(specs, &groups)
            })
        });
        let refused = listing
            .refused
            .iter()
            .map(|r| format!("a search was refused: {r}"));
        built.warnings.extend(builder.once(refused));
        for warning in &built.warnings {
            tracing::warn!(target: "startup", "flow tools: {warning}");
        }
        let count = built.tools.len();
        let told = self.handle.replace_all(built.tools, groups).await;
        if told > 0 || built.compiled > 0 {
            tracing::info!(
                target: "startup",
                "flow tools: {count} served ({} compiled) in {} ms after Kestra answered; {told} session(s) told",
                built.compiled,
                started.elapsed().as_millis()
            );
        }
    }

    /// Sleeps `period` (forever when `None`) or until kicked.
    async fn wait(&self, period: Option<Duration>) {
        match period {
            Some(period) => {
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = self.kick.notified() => {}
                }
            }
            None => self.kick.notified().await,
        }
    }
}

/// Runs CPU-heavy `work` (compiling hundreds of flow tools) without holding up the calls
/// queued on this worker: on a multi-threaded runtime they move to another thread meanwhile
/// (a stdio server has one worker).
fn off_the_worker<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{compile_data_lazily, known_groups};
    use serde_json::json;

    fn selection(text: &str) -> Selection {
        selection::parse(text, "tools/flows.yaml").unwrap()
    }

    fn flow(namespace: &str, id: &str, revision: i64) -> Value {
        json!({"namespace": namespace, "id": id, "revision": revision, "disabled": false,
               "inputs": [{"id": "name", "type": "STRING", "required": true}]})
    }

    fn compile(specs: &[SpecData]) -> Vec<Result<Arc<CompiledTool>, SpecError>> {
        let mut groups = known_groups(&[]);
        groups.insert(FLOWS_GROUP.to_owned());
        compile_data_lazily(specs, &groups)
    }

    #[test]
    fn searches_cover_the_rules_once_each() {
        let s = selection(
            "kind: flow_tools\nselect:\n  - namespace: a\n  - namespace: a\n  - namespace: 'b.*'\n    labels: {mcp: tool}\n  - flow: c.d.e\n",
        );
        let q = searches(&[s]);
        assert_eq!(q.len(), 3, "{q:?}");
        assert!(q.contains(&vec![("filters[namespace][EQUALS]".into(), "a".into())]));
        assert!(q.contains(&vec![
            ("filters[namespace][PREFIX]".into(), "b".into()),
            ("filters[labels][EQUALS][mcp]".into(), "tool".into())
        ]));
        assert!(q.contains(&vec![("filters[namespace][EQUALS]".into(), "c.d".into())]));
        let all = selection("kind: flow_tools\nselect: [{namespace: a}, {mcp_trigger: true}]\n");
        assert_eq!(searches(&[all]), vec![Vec::<(String, String)>::new()]);
    }

    #[test]
    fn unchanged_flows_are_not_recompiled_and_changes_follow() {
        let selections = vec![selection("kind: flow_tools\nselect: [{namespace: n}]\n")];
        let taken: BTreeSet<String> = ["search_flows".to_owned()].into();
        let mut builder = Builder::default();
        let flows = vec![flow("n", "a", 1), flow("n", "b", 1), flow("other", "c", 1)];
        let first = builder.build(&selections, &flows, &taken, compile);
        assert_eq!(first.tools.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(first.compiled, 2);
        assert_eq!(first.flows["a"], "n.a");

        // b has a new revision, c joins the namespace, a is unchanged.
        let flows = vec![flow("n", "a", 1), flow("n", "b", 2), flow("n", "search_flows", 1)];
        let second = builder.build(&selections, &flows, &taken, compile);
        assert_eq!(
            second.tools.keys().collect::<Vec<_>>(),
            ["a", "b", "n_search_flows"]
        );
        assert_eq!(second.compiled, 2);
        assert!(Arc::ptr_eq(&first.tools["a"], &second.tools["a"]));
        assert!(!Arc::ptr_eq(&first.tools["b"], &second.tools["b"]));
        assert!(
            second.warnings.iter().any(|w| w.contains("built-in")),
            "{:?}",
            second.warnings
        );

        // a disabled, b deleted: only the third is left; nothing compiled.
        let mut disabled = flow("n", "a", 1);
        disabled["disabled"] = json!(true);
        let third = builder.build(
            &selections,
            &[disabled, flow("n", "search_flows", 1)],
            &taken,
            compile,
        );
        assert_eq!(third.tools.keys().collect::<Vec<_>>(), ["n_search_flows"]);
        assert_eq!(third.compiled, 0);
        assert!(third.warnings.is_empty(), "warned once: {:?}", third.warnings);
    }

    #[test]
    fn a_flow_that_cannot_become_a_tool_is_reported_once_and_the_others_served() {
        let selections = vec![selection("kind: flow_tools\nselect: [{namespace: n}]\n")];
        let mut builder = Builder::default();
        let flows = vec![flow("n", "a", 1), flow("n", "b", 1)];
        let broken = |specs: &[SpecData]| -> Vec<Result<Arc<CompiledTool>, SpecError>> {
            specs
                .iter()
                .map(|s| match s.origin.ends_with("n.b") {
                    true => Err(SpecError::new(&s.origin, None, "broken")),
                    false => compile(std::slice::from_ref(s)).remove(0),
                })
                .collect()
        };
        let built = builder.build(&selections, &flows, &BTreeSet::new(), broken);
        assert_eq!(built.tools.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(built.warnings.len(), 1, "{:?}", built.warnings);
        assert!(built.warnings[0].contains("flow n.b is not served as a tool"));
        let again = builder.build(&selections, &flows, &BTreeSet::new(), broken);
        assert!(again.warnings.is_empty() && again.compiled == 0);
        assert_eq!(again.tools.keys().collect::<Vec<_>>(), ["a"]);
    }
}
