//! The call pipeline: validate arguments → pick the action → render → send → map the status →
//! project. Plain async functions with no MCP types, so tests can call them directly; `serve.rs`
//! adapts them to rmcp. An [`Engine`] is a long-lived [`Runtime`] plus the [`ToolSet`] a reload
//! replaces; [`SharedEngine`] is what the transports hold and a reload swaps.

use std::collections::BTreeSet;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rmcp::model::Tool;
use serde_json::{Map, Value};

use crate::bound;
use crate::config::Config;
use crate::error::CallError;
use crate::exchange::CallContext;
use crate::filter::{Filtered, Toolsets};
use crate::http::HttpError;
use crate::readonly;
use crate::render::{ARGUMENTS, Templates};
use crate::runtime::Runtime;
use crate::sanitize;
use crate::spec::{Action, CompiledTool, Dispatch, Layer};
use crate::toolset::ToolSet;

/// The result field that says what the namespace guard left out of the call's listings.
pub const GUARD_NOTE: &str = "namespace_guard";

/// The engine the server currently uses; a reload replaces it for the calls that follow, with
/// the same [`Runtime`].
pub type SharedEngine = Arc<ArcSwap<Engine>>;

/// Wraps an engine for sharing.
pub fn shared(engine: Engine) -> SharedEngine {
    Arc::new(ArcSwap::from_pointee(engine))
}

/// The tools being served and everything needed to call them.
pub struct Engine {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) tools: Arc<ToolSet>,
}

impl Engine {
    /// Builds the engine from the filtered tools, the sources' layers they were merged from
    /// (see [`ToolSet::new`]) and the configuration.
    pub fn new(filtered: Filtered, layers: Vec<Layer>, config: &Config) -> Result<Self, HttpError> {
        Ok(Engine {
            runtime: Arc::new(Runtime::new(config)?),
            tools: Arc::new(ToolSet::new(filtered, layers)),
        })
    }

    /// The same tools over a runtime built by the caller (say, with canned answers installed
    /// by [`Runtime::with_transport`]: property tests).
    pub fn with_runtime(&self, runtime: Runtime) -> Engine {
        Engine {
            runtime: Arc::new(runtime),
            tools: self.tools.clone(),
        }
    }

    /// The same runtime (client and pool, learned version and edition) serving other tools:
    /// what a reload swaps in.
    pub fn with_tools(&self, tools: ToolSet) -> Engine {
        Engine {
            runtime: self.runtime.clone(),
            tools: Arc::new(tools),
        }
    }

    /// The process-wide part.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The tool set.
    pub fn tool_set(&self) -> &Arc<ToolSet> {
        &self.tools
    }

    /// The loaded tools after `KESTRA_MCP_DISABLED_TOOLS`, sorted by name.
    pub fn tools(&self) -> impl Iterator<Item = &CompiledTool> {
        self.tools.tools()
    }

    /// The tools to list: [`Engine::tools`] minus the Enterprise tools when the server reports
    /// the OSS edition and no disabled list was given.
    pub async fn served_tools(&self) -> Vec<&CompiledTool> {
        let hidden = self.hidden_by_edition().await;
        self.tools
            .tools()
            .filter(|t| !hidden.contains(t.tool.name.as_ref()))
            .collect()
    }

    /// The served tools as clients see them, before any toolset choice: in read-only mode
    /// only those with a reading action, restricted to their reading actions
    /// ([`readonly::restrict`]).
    pub async fn available_tools(&self) -> Vec<(&CompiledTool, Tool)> {
        self.available_tools_for(false).await
    }

    /// [`Engine::available_tools`] for a session that asked to be read-only itself
    /// (`X-MCP-Readonly`): it can only add the restriction.
    pub async fn available_tools_for(&self, session_read_only: bool) -> Vec<(&CompiledTool, Tool)> {
        let read_only = self.runtime.read_only() || session_read_only;
        self.served_tools()
            .await
            .into_iter()
            .filter_map(|t| match read_only {
                true => readonly::restrict(t).map(|advertised| (t, advertised)),
                false => Some((t, t.tool.clone())),
            })
            .collect()
    }

    /// What `tools/list` shows a session that chose `toolsets`.
    pub async fn listed_tools(&self, toolsets: &Toolsets) -> Vec<Tool> {
        self.listed_tools_for(toolsets, false).await
    }

    /// [`Engine::listed_tools`] for a session that may have asked to be read-only.
    pub async fn listed_tools_for(&self, toolsets: &Toolsets, session_read_only: bool) -> Vec<Tool> {
        self.available_tools_for(session_read_only)
            .await
            .into_iter()
            .filter(|(t, _)| toolsets.admits(t))
            .map(|(_, advertised)| advertised)
            .collect()
    }

    /// The tools the edition hides: the `ee` group on OSS (see [`Runtime::edition`]).
    async fn hidden_by_edition(&self) -> Arc<BTreeSet<String>> {
        let edition = self.runtime.edition().await;
        if !edition.hides_enterprise {
            return Arc::default();
        }
        let hidden = self.tools.enterprise();
        if edition.just_learned {
            tracing::warn!(
                target: "startup",
                "Kestra reports the OSS edition: leaving out the {} Enterprise (ee) tools; set KESTRA_MCP_DISABLED_TOOLS to choose the tools yourself",
                hidden.len()
            );
        }
        hidden.clone()
    }

    /// One served tool.
    pub fn tool(&self, name: &str) -> Option<&CompiledTool> {
        self.tools.get(name)
    }

    /// Calls a tool with no client information and no limits (see [`Engine::call_with`]).
    pub async fn call(
        &self,
        name: &str,
        args: Option<Map<String, Value>>,
    ) -> Result<Map<String, Value>, CallError> {
        self.call_with(CallContext::for_tool(name, args)).await
    }

    /// Calls the tool `call.tool` with `call.arguments`; every request goes through the
    /// exchange point with `call`. Every failure the caller should read is a `CallError` that
    /// is not a protocol error; messages never contain the configured secrets.
    pub async fn call_with(&self, call: CallContext) -> Result<Map<String, Value>, CallError> {
        self.call_inner(&call).await.map_err(|e| self.runtime.explain(e))
    }

    async fn call_inner(&self, call: &CallContext) -> Result<Map<String, Value>, CallError> {
        let name = call.tool.as_deref().unwrap_or_default();
        if self.hidden_by_edition().await.contains(name) {
            return Err(CallError::UnknownTool(name.to_owned()));
        }
        let read_only = match (self.runtime.read_only(), call.session.read_only) {
            (true, _) => Some(readonly::SETTING),
            (false, true) => Some(call.session.read_only_setting()),
            (false, false) => None,
        };
        if let Some(setting) = read_only
            && self.tools.get(name).is_some_and(readonly::every_action_writes)
        {
            return Err(CallError::Refused(readonly::refusal_naming(name, None, setting)));
        }
        let (templates, action, ctx) = self.prepare(name, call.arguments.as_ref().clone())?;
        if let Some(setting) = read_only {
            self.refuse_a_write(name, action, &ctx, setting)?;
        }
        let mut result = self.run(call, templates, action, ctx).await?;
        let notes = call.guard.notes();
        if !notes.is_empty() {
            result.insert(GUARD_NOTE.into(), Value::from(notes.join("; ")));
        }
        sanitize::clean_map(&mut result);
        Ok(self.bounded(name, result, &call.unfetched.notes()))
    }

    /// Under `KESTRA_MCP_READ_ONLY` (or a read-only session), the chosen action must only read.
    fn refuse_a_write(
        &self,
        name: &str,
        action: &Action,
        ctx: &Map<String, Value>,
        setting: &str,
    ) -> Result<(), CallError> {
        if !readonly::action_writes(action) {
            return Ok(());
        }
        let variant = self
            .tools
            .get(name)
            .and_then(|t| t.outline.argument.as_deref())
            .and_then(|argument| ctx.get(argument))
            .and_then(Value::as_str);
        Err(CallError::Refused(readonly::refusal_naming(
            name, variant, setting,
        )))
    }

    /// `result` cut to the runtime's result bound, with a note naming the arguments of the
    /// tool that narrow its answer.
    fn bounded(&self, name: &str, result: Map<String, Value>, unfetched: &[Value]) -> Map<String, Value> {
        let limit = self.runtime.result_limit();
        if limit == 0 {
            return result;
        }
        let arguments: Vec<String> = self
            .tools
            .get(name)
            .map(|t| t.defaults.keys().cloned().collect())
            .unwrap_or_default();
        bound::bound(result, limit, name, &arguments, unfetched)
    }

    /// Validates the arguments, fills in defaults and picks the action; with the tool's
    /// templates, which the action renders through.
    pub(crate) fn prepare(
        &self,
        name: &str,
        args: Map<String, Value>,
    ) -> Result<(&Templates, &Action, Map<String, Value>), CallError> {
        let tool = self
            .tools
            .get(name)
            .ok_or_else(|| CallError::UnknownTool(name.to_owned()))?;
        // Compiles the tool on its first call (once; concurrent first calls wait for it).
        tool.ready().map_err(|e| CallError::BrokenSpec(e.to_string()))?;
        validate(tool, &args)?;
        let body = tool.body().map_err(|e| CallError::BrokenSpec(e.to_string()))?;
        let mut ctx = tool.defaults.clone();
        ctx.extend(args);
        let action = pick_action(&body.dispatch, &ctx)?;
        // All the arguments as one object, for names a template cannot write as a variable
        // (a flow tool's `form.child`, `my-input`).
        ctx.insert(ARGUMENTS.into(), Value::Object(ctx.clone()));
        ctx.insert("kestra".into(), self.runtime.kestra().clone());
        for (name, value) in tool.constants.iter().flat_map(|c| c.iter()) {
            ctx.insert(name.clone(), value.clone());
        }
        Ok((&body.templates, action, ctx))
    }
}

impl std::fmt::Debug for Engine {
    /// Written by hand: the credentials never appear (the client shows its auth redacted).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("tools", &self.tools.names())
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

fn validate(tool: &CompiledTool, args: &Map<String, Value>) -> Result<(), CallError> {
    let instance = Value::Object(args.clone());
    let validator = tool
        .validator()
        .map_err(|e| CallError::BrokenSpec(e.to_string()))?;
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| {
            let at = e.instance_path().to_string();
            let reason = describe_violation(&e);
            if at.is_empty() {
                reason
            } else {
                format!("'{}': {reason}", at.trim_start_matches('/'))
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CallError::InvalidArguments(problems.join("; ")))
    }
}

/// The reason of one schema violation. jsonschema's own text is kept except for enums, whose
/// message lists only a few allowed values ("or 4 other candidates"): the agent needs them all.
fn describe_violation(e: &jsonschema::ValidationError<'_>) -> String {
    match e.kind() {
        jsonschema::error::ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = match options.as_ref() {
                Value::Array(values) => values.iter().map(Value::to_string).collect(),
                other => vec![other.to_string()],
            };
            format!(
                "{} is not one of the allowed values: {}",
                e.instance(),
                allowed.join(", ")
            )
        }
        _ => e.to_string(),
    }
}

fn pick_action<'t>(dispatch: &'t Dispatch, ctx: &Map<String, Value>) -> Result<&'t Action, CallError> {
    let action = match dispatch {
        Dispatch::Single(action) => action,
        Dispatch::ByArgument { argument, actions } => {
            let chosen = ctx.get(argument).and_then(Value::as_str).unwrap_or_default();
            actions.get(chosen).ok_or_else(|| {
                CallError::InvalidArguments(format!(
                    "'{argument}' must be one of {}",
                    actions.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?
        }
    };
    let missing: Vec<&str> = action
        .requires
        .iter()
        .filter(|r| {
            matches!(ctx.get(*r), None | Some(Value::Null))
                || ctx.get(*r) == Some(&Value::String(String::new()))
        })
        .map(String::as_str)
        .collect();
    if let (false, Dispatch::ByArgument { argument, .. }) = (missing.is_empty(), dispatch) {
        let chosen = ctx.get(argument).and_then(Value::as_str).unwrap_or_default();
        return Err(CallError::InvalidArguments(format!(
            "{argument} '{chosen}' needs {}",
            missing
                .iter()
                .map(|m| format!("'{m}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::apply_disabled;
    use crate::spec::{LoadOptions, load_catalog};
    use serde_json::json;

    fn engine(vars: &[(&str, &str)]) -> Engine {
        let config = Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        let catalog = load_catalog(&LoadOptions::default()).unwrap();
        Engine::new(apply_disabled(catalog.tools, &[]), catalog.layers, &config).unwrap()
    }

    #[test]
    fn debug_output_carries_no_credential() {
        let basic = [
            ("KESTRA_USERNAME", "admin"),
            ("KESTRA_PASSWORD", "hunter2-secret"),
        ];
        let engine = engine(&basic);
        let config = Config::from_lookup(|name| {
            basic
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        for text in [
            format!("{engine:?}"),
            format!("{:?}", engine.runtime.client),
            format!("{config:?}"),
            format!("{:?}", config.auth),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        let bearer = self::engine(&[("KESTRA_API_TOKEN", "tok-very-secret")]);
        assert!(!format!("{bearer:?}").contains("tok-very-secret"));
    }

    #[test]
    fn scrubbing_keeps_the_error_kind_and_ordinary_words() {
        let engine = engine(&[("KESTRA_USERNAME", "admin"), ("KESTRA_PASSWORD", "p")]);
        let err = engine.runtime.scrub(CallError::Kestra {
            status: 404,
            method: "GET",
            path: "/flows/company.team/broken_by_mcp".into(),
            message: "Flow broken_by_mcp not found; you sent admin:p (YWRtaW46cA==)".into(),
        });
        assert_eq!(
            err,
            CallError::Kestra {
                status: 404,
                method: "GET",
                path: "/flows/company.team/broken_by_mcp".into(),
                message: "Flow broken_by_mcp not found; you sent *** (***)".into(),
            }
        );
        let err = engine
            .runtime
            .scrub(CallError::InvalidArguments("p is wrong".into()));
        assert_eq!(err, CallError::InvalidArguments("*** is wrong".into()));
        let engine = self::engine(&[("KESTRA_USERNAME", "admin"), ("KESTRA_PASSWORD", "e")]);
        let err = engine
            .runtime
            .scrub(CallError::Declared("Kestra answered: e".into()));
        assert_eq!(err, CallError::Declared("Kestra answered: ***".into()));
    }

    #[test]
    fn validation_messages_name_the_argument_and_the_reason() {
        let engine = engine(&[]);
        let refused = |args: Value| match engine
            .prepare("list_flows_in_namespace", args.as_object().unwrap().clone())
        {
            Err(CallError::InvalidArguments(message)) => message,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(refused(json!({})), "\"namespace\" is a required property");
        assert_eq!(
            refused(json!({"namespace": 5})),
            "'namespace': 5 is not of type \"string\""
        );
        let unexpected = refused(json!({"namespace": "n", "nmespace": "n"}));
        assert!(unexpected.contains("'nmespace' was unexpected"), "{unexpected}");
    }

    #[test]
    fn an_enum_violation_lists_every_allowed_value() {
        let engine = engine(&[]);
        let args = json!({"state": "NOPE", "execution_id": "e", "task_run_id": "t"});
        let Err(CallError::InvalidArguments(message)) =
            engine.prepare("change_taskrun_state", args.as_object().unwrap().clone())
        else {
            panic!("the arguments should be refused");
        };
        assert!(
            message.starts_with(
                "'state': \"NOPE\" is not one of the allowed values: \"CANCELLED\", \"CREATED\","
            ),
            "{message}"
        );
        assert!(message.ends_with("\"SUCCESS\", \"WARNING\""), "{message}");
        assert!(!message.contains("other candidates"), "{message}");
    }
}
