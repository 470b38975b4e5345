//! The raw tool spec: exactly what a `tools.d/*.yaml` file says, decoded strictly and not yet
//! checked. `compile.rs` turns it into a [`crate::spec::CompiledTool`]; nothing here does I/O.
//!
//! The JSON Schema of this format (for editors) is generated from these types with schemars:
//! `kestra-mcp tools schema`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// One MCP tool, as written in a `tools.d/*.yaml` file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// Tool name shown to MCP clients: snake_case, unique, and equal to the file name's stem.
    pub name: String,
    /// Group the tool belongs to; `KESTRA_MCP_DISABLED_TOOLS` can disable a whole group.
    pub group: String,
    /// What the tool does, written for the model that picks tools.
    pub description: String,
    /// The description in read-only mode (`KESTRA_MCP_READ_ONLY`, or a session's header) of a
    /// tool that keeps some of its variants: what the reading ones do, naming none of the
    /// writing ones the schema no longer offers. Without it the description is left as written.
    #[serde(default)]
    pub read_only_description: Option<String>,
    /// Optional human-readable title.
    #[serde(default)]
    pub title: Option<String>,
    /// MCP behaviour hints; when omitted they are derived from the HTTP methods the tool uses.
    #[serde(default)]
    pub annotations: Option<AnnotationsSpec>,
    /// JSON Schema (an object schema) of the tool's arguments. `default` values are applied
    /// before rendering; declared properties that are absent render as `none`.
    #[serde(default = "empty_object_schema")]
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub input: Value,
    /// The single request of a one-request tool. Exactly one of `request`, `requests` and
    /// `variants`.
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// Version-specific alternatives of the request: each has a `kestra` requirement and at most
    /// one matches any Kestra version.
    #[serde(default)]
    pub requests: Option<Vec<RequestSpec>>,
    /// Several steps run in order (requests, computed values, checks), for tools that need more
    /// than one request. Exactly one of `request`, `requests`, `steps` and `variants`.
    #[serde(default)]
    pub steps: Option<Vec<StepSpec>>,
    /// The result of a `steps` tool: JSON whose strings are templates reading `steps.<name>` and
    /// the arguments. Without it the last step's value is the result.
    #[serde(default)]
    pub result: Option<Value>,
    /// How the answer becomes the tool result (shared by all variants unless one overrides it).
    #[serde(default)]
    pub response: Option<ResponseSpec>,
    /// Argument whose value picks the variant (default `action`). Its input schema must be a
    /// string enum listing exactly the variant names.
    #[serde(default)]
    pub dispatch: Option<String>,
    /// Request variants keyed by the value of the `dispatch` argument (the `manage_*` tools).
    #[serde(default)]
    pub variants: Option<BTreeMap<String, VariantSpec>>,
}

/// MCP tool annotations (hints for clients).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnnotationsSpec {
    /// The tool does not modify anything.
    #[serde(default)]
    pub read_only_hint: Option<bool>,
    /// The tool may delete or overwrite data.
    #[serde(default)]
    pub destructive_hint: Option<bool>,
    /// Calling it twice with the same arguments has no further effect.
    #[serde(default)]
    pub idempotent_hint: Option<bool>,
    /// The tool talks to an open world (Kestra is a closed one; default false).
    #[serde(default)]
    pub open_world_hint: Option<bool>,
}

/// One variant of a multi-action tool.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Arguments this variant needs although the schema marks them optional; a call without
    /// them gets a clear error before any request is sent.
    #[serde(default)]
    pub requires: Vec<String>,
    /// The request this variant sends (or `requests`, version-specific alternatives).
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// Version-specific alternatives of the request, as for a tool.
    #[serde(default)]
    pub requests: Option<Vec<RequestSpec>>,
    /// Steps, as for a tool.
    #[serde(default)]
    pub steps: Option<Vec<StepSpec>>,
    /// The result of a `steps` variant, as for a tool.
    #[serde(default)]
    pub result: Option<Value>,
    /// Replaces the tool-level `response` for this variant.
    #[serde(default)]
    pub response: Option<ResponseSpec>,
}

/// One step of a multi-step tool: a request (once, per item of a list, or page by page), a
/// computed value (`set`), or a stop with an error (`fail`). Its value is available to later
/// templates as `steps.<name>`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Name under which later templates read this step's value (`steps.<name>`).
    #[serde(default)]
    pub name: Option<String>,
    /// A lone `{{ expression }}`: the step runs only when it is truthy (else its value is `none`).
    #[serde(default)]
    pub when: Option<String>,
    /// The request of this step.
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// Version-specific alternatives of the request.
    #[serde(default)]
    pub requests: Option<Vec<RequestSpec>>,
    /// How the answer becomes the step's value (default: the decoded body).
    #[serde(default)]
    pub response: Option<ResponseSpec>,
    /// A lone `{{ expression }}` giving a list: the request runs once per element (`item` in
    /// templates) and the step's value is the list of results.
    #[serde(default)]
    pub for_each: Option<String>,
    /// Fetch page after page (`paging.page` from 1 in templates) until a short page.
    #[serde(default)]
    pub paginate: Option<PaginateSpec>,
    /// A value computed from the arguments and earlier steps (JSON; strings are templates).
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<Value>")]
    pub set: Option<Value>,
    /// Stop the call with this error message (template); use with `when`.
    #[serde(default)]
    pub fail: Option<String>,
    /// A lone `{{ expression }}` giving a list (each element is shaped by `to` or `pick`; the
    /// step's value is the list of results) or one object (the value is that object shaped).
    /// No request is sent.
    #[serde(default)]
    pub map: Option<String>,
    /// The name of the element inside `to` (default `item`).
    #[serde(default, rename = "as")]
    pub as_name: Option<String>,
    /// The shape of each element: JSON whose strings are templates reading the element (by its
    /// `as` name), the arguments and earlier steps. A key whose lone expression gives `omit` is
    /// left out (`"{{ e.inputs or omit }}"`), and so is a list element.
    #[serde(default)]
    pub to: Option<Value>,
    /// Keep only these keys of each element (keys it lacks are left out), instead of `to`.
    #[serde(default)]
    pub pick: Option<Vec<String>>,
    /// Follow something (an execution) until a condition holds: its event stream first, then
    /// polling with backoff, up to a time limit. The step's value is `{"value": the last value
    /// read, "reached": whether `until` held, "seconds": how long it waited}`.
    #[serde(default)]
    pub wait: Option<WaitSpec>,
    /// Ask the client's user (MCP elicitation, form mode). The step's value is `{"action":
    /// "accept" | "decline" | "cancel" | "unsupported" | "failed", "content": the values given
    /// (with accept), "reason": why (with failed)}`; `unsupported` when the client did not
    /// declare the `elicitation` capability.
    #[serde(default)]
    pub ask: Option<AskSpec>,
    /// Run a group of steps again and again until `until` holds (at most `max` rounds): what
    /// a cycle needs (ask at a Pause, resume, follow to the next Pause). The step's value is
    /// the last round's named values; inside a round, `steps.<this step's name>` is the round
    /// before's (`none` in the first) and the group's own steps are `steps.<name>` as usual.
    #[serde(default)]
    pub repeat: Option<RepeatSpec>,
}

/// A `repeat` step: a group of steps run in rounds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatSpec {
    /// The steps of one round, run in order (`when`, names and kinds as anywhere else).
    pub steps: Vec<StepSpec>,
    /// A lone `{{ expression }}` checked after each round, reading that round's steps: the
    /// rounds stop once it is truthy.
    pub until: String,
    /// The most rounds (default 10, at most 100).
    #[serde(default)]
    pub max: Option<u32>,
}

/// An `ask` step: a message and the form the user fills in.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AskSpec {
    /// What the user is asked (a text template).
    pub message: String,
    /// A lone `{{ expression }}` giving the requested schema: a JSON Schema object whose
    /// properties are flat primitives (string, number, integer, boolean; a string `enum`), as
    /// MCP elicitation allows; it may be built from data (a map step giving properties).
    pub schema: String,
}

/// A `wait` step: read a value again and again (or follow its event stream) until `until` holds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitSpec {
    /// The request that reads the current value (e.g. `getExecution`), sent at each poll.
    pub poll: RequestSpec,
    /// An event stream whose events carry the whole current value in their `data` (e.g.
    /// `followExecution`): read first, as long as it lasts; polling takes over when it fails or
    /// ends before `until` holds. Its `stream` bounds are optional (the wait's limit applies).
    #[serde(default)]
    pub follow: Option<RequestSpec>,
    /// A lone `{{ expression }}` reading `value` (the current value, an object): waiting ends
    /// when it is truthy. Events whose data is not an object (a stream's opening stub without
    /// the fields the expression reads is one) are skipped when it fails on them.
    pub until: String,
    /// Seconds between the first polls (default 1).
    #[serde(default = "default_wait_interval")]
    pub interval: f64,
    /// Factor the interval grows by after each poll (default 1.5; 1 keeps it constant).
    #[serde(default = "default_wait_backoff")]
    pub backoff: f64,
    /// The longest interval between polls, in seconds (default 10).
    #[serde(default = "default_wait_max_interval")]
    pub max_interval: f64,
    /// The longest wait in seconds (a template giving a number); default
    /// `KESTRA_MCP_WAIT_LIMIT` (one hour). When it passes, the step's `reached` is false.
    #[serde(default)]
    pub limit: Option<String>,
    /// Progress reported to a client that sent a `progressToken`, from `value`: at most 2
    /// notifications a second, and always the last value's.
    #[serde(default)]
    pub progress: Option<WaitProgressSpec>,
    /// Sent when the client cancels the call while it waits and `KESTRA_MCP_KILL_ON_CANCEL` is
    /// set (e.g. `killExecution`); otherwise what is followed is left as it is. Either way the
    /// log says which.
    #[serde(default)]
    pub on_cancel: Option<RequestSpec>,
}

/// What a `wait` step reports as progress: templates reading `value`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitProgressSpec {
    /// A lone `{{ expression }}` giving the number of units done (e.g. task runs ended).
    pub done: String,
    /// A lone `{{ expression }}` giving the total, when known (`none` when not).
    #[serde(default)]
    pub total: Option<String>,
    /// A text template: what is happening (the current task and its state).
    #[serde(default)]
    pub message: Option<String>,
}

fn default_wait_interval() -> f64 {
    1.0
}

fn default_wait_backoff() -> f64 {
    1.5
}

fn default_wait_max_interval() -> f64 {
    10.0
}

/// Page-by-page fetching of a list.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaginateSpec {
    /// JSONPath of the items in one page's answer (e.g. `$.results`; `$` for a bare list).
    pub items: String,
    /// The page size the request asks for (a template); a page with fewer items is the last.
    /// Without it, the request's `size` query parameter (a load error if it has none).
    #[serde(default)]
    pub size: Option<String>,
    /// Upper bound on the number of pages fetched (default 100).
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
}

fn default_max_pages() -> u32 {
    100
}

/// HTTP methods a spec may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The method's name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// Which root a request path is relative to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `{KESTRA_BASE_URL}/{tenant}`: flows, executions, logs, kv, namespaces, files...
    #[default]
    Tenant,
    /// `{KESTRA_BASE_URL}` itself: banners, configs, license-info, users, `/me`.
    Instance,
}

/// An HTTP request template.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Kestra versions this request is for, as a semver requirement (`<2.0`, `>=2.0`). Without
    /// it the request fits every version and no version probe is needed.
    #[serde(default)]
    pub kestra: Option<String>,
    /// The Kestra OpenAPI `operationId` this request calls (e.g. `pauseExecution`), or a list
    /// when versions name it differently (`[keyValue, getKeyValue]`). Without `method` and
    /// `path`, they come from the bundled Kestra descriptions for the version in use (a route
    /// that moved between versions gives one request per version). The contract tests check
    /// that the rendered request resolves to this operation on every Kestra version the request
    /// is for, which catches a path that lands on another route.
    #[serde(default)]
    pub operation: Option<OneOrMany>,
    /// HTTP method. Implied by `operation` when it is in the bundled Kestra descriptions;
    /// give it (with `path`) only for routes they lack.
    #[serde(default)]
    pub method: Option<Method>,
    /// Path template starting with `/`, relative to the scope's root. Every `{{ ... }}` in it is
    /// one path segment: its value is percent-encoded, and `/`, `.`, `..` or an empty value is
    /// refused, so arguments can never change the endpoint. Implied by `operation` (per Kestra
    /// version) when it is in the bundled descriptions.
    #[serde(default)]
    pub path: Option<String>,
    /// Templates for the path parameters of the route `operation` implies
    /// (`executionId: "{{ steps.target.id }}"`); a parameter not given here is bound to the
    /// argument named like it in snake_case (`executionId` -> `execution_id`).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Root the path is relative to (default `tenant`; implied by `operation` too).
    #[serde(default)]
    pub scope: Option<Scope>,
    /// Query parameters. Each value is a template; an entry that renders empty (or `none`) is
    /// dropped, and a value that is a single `{{ expression }}` giving a list repeats the parameter.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Extra headers (templates; empty ones are dropped). Authorization is set by the engine.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default)]
    pub body: Option<BodySpec>,
    /// Replaces the action's `response` for this request (when versions answer differently).
    #[serde(default)]
    pub response: Option<ResponseSpec>,
    /// Read the answer as a server-sent event stream, for a bounded time and number of events
    /// (Kestra's `follow` endpoints never end on their own). The body the response sees is
    /// `{"events": [{"id", "data"}...], "stopped": "..."}`.
    #[serde(default)]
    pub stream: Option<StreamSpec>,
}

/// Bounds on reading an event stream.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// Most events to read (a template giving a number).
    pub max_events: String,
    /// Most seconds to read for (a template giving a number).
    pub max_seconds: String,
    /// Event ids (`id:`) or names (`event:`) after which reading stops, e.g. `end`.
    #[serde(default)]
    pub stop_on: Vec<String>,
}

/// A request body: exactly one of `json`, `text` or `multipart`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodySpec {
    /// A JSON document; every string in it is a template, and a string that is a single
    /// `{{ expression }}` is replaced by the expression's typed value (list, object, number...).
    #[serde(default)]
    pub json: Option<Value>,
    /// A text template sent as is (YAML flows, KV values...), with `content_type`.
    #[serde(default)]
    pub text: Option<String>,
    /// Content type of a `text` body (default `text/plain`).
    #[serde(default)]
    pub content_type: Option<String>,
    /// multipart/form-data parts.
    #[serde(default)]
    pub multipart: Option<Vec<PartSpec>>,
}

/// One multipart part, or (`each`) one text part per entry of an object.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    /// Field name (template).
    #[serde(default)]
    pub name: Option<String>,
    /// Field value (template); a part whose value is `none` is left out.
    #[serde(default)]
    pub value: Option<String>,
    /// File name, which makes the part a file upload (template).
    #[serde(default)]
    pub filename: Option<String>,
    /// Content type of the part.
    #[serde(default)]
    pub content_type: Option<String>,
    /// A single `{{ expression }}` giving an object: one text part per key; non-string values
    /// are sent as JSON text. `none` gives no parts.
    #[serde(default)]
    pub each: Option<String>,
}

/// How Kestra's answer becomes the tool result.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    /// JSONPath (RFC 9535) applied to the JSON body. A singular path (names and indexes only)
    /// gives one value or `null`; any other path gives the list of matches.
    #[serde(default)]
    pub select: Option<String>,
    /// Keep only these keys of the selected object, or of each object in the selected list.
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// Text template rendered with `result` (the selected value) and the arguments; its output
    /// becomes the result.
    #[serde(default)]
    pub template: Option<String>,
    /// Key under which the result is wrapped: `results` gives `{"results": ...}`. A result that
    /// is not an object is always wrapped, under `result` unless this says otherwise.
    #[serde(default)]
    pub wrap: Option<String>,
    /// Fixed outcomes by HTTP status, checked before the body is read: `result` makes a normal
    /// result (its strings are templates), `error` an error result with that message. A key is
    /// a status (`404`), a class (`4xx`), or a comma-separated list of them (`"409,422"`); an
    /// exact status wins over a class.
    #[serde(default)]
    #[schemars(
        with = "BTreeMap<String, StatusOutcome>",
        extend("propertyNames" = {"pattern": STATUS_KEY_PATTERN})
    )]
    pub on_status: BTreeMap<StatusKey, StatusOutcome>,
    /// JSON Schema of the result, advertised as the tool's `outputSchema`. When the tool's
    /// `response` gives none (or `null`, the v1 way of saying so), no `outputSchema` is
    /// advertised.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub output_schema: Option<Value>,
}

/// The pattern of an `on_status` key, for editors: statuses and classes, comma-separated.
pub const STATUS_KEY_PATTERN: &str =
    "^ *([1-5][0-9][0-9]|[1-5][xX][xX]) *(, *([1-5][0-9][0-9]|[1-5][xX][xX]) *)*$";

/// An `on_status` key as written: YAML gives `404` as a number and `4xx` or `409,422` as text;
/// both are kept as text and parsed when the response is compiled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatusKey(pub String);

impl std::fmt::Display for StatusKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StatusKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = StatusKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an HTTP status (404), a class (4xx) or a list (\"409,422\")")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StatusKey, E> {
                Ok(StatusKey(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StatusKey, E> {
                Ok(StatusKey(v.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StatusKey, E> {
                Ok(StatusKey(v.to_owned()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// What a given HTTP status turns into: exactly one of `result` or `error`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusOutcome {
    /// A normal result (JSON; strings are templates with the arguments and `answer`
    /// (`answer.status`, `answer.body`: the decoded body)); `null` is a result too.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<Value>")]
    pub result: Option<Value>,
    /// An error result with this message (template, with `answer` too).
    #[serde(default)]
    pub error: Option<String>,
}

/// `Some` whenever the key is present, even with `null`.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// The JSON Schema of the spec format, for editors validating `tools.d/*.yaml`.
pub fn spec_json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(ToolSpec)).unwrap_or(Value::Null)
}
