//! Actions: what one call of a tool (or of one of its variants) does, compiled. Every action is
//! a list of steps; a plain `request` is a one-step action. Steps are requests (possibly
//! version-specific, repeated per item or per page), computed values, or checks that fail.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::operations;
use super::raw::{
    Method, PaginateSpec, RepeatSpec, RequestSpec, ResponseSpec, StatusOutcome, StepSpec, StreamSpec,
    WaitSpec,
};
use crate::project::{Projection, Selection};
use crate::render::{JsonTemplate, TemplateId, Templates, ValueTemplate};
use crate::request::{FieldError, RequestTemplate};

/// Kestra versions the project knows the API of (the OpenAPI descriptions in tests/fixtures);
/// version-specific requests must not overlap on any of them.
pub const KNOWN_KESTRA_VERSIONS: &[&str] = &["1.3.0", "2.0.0"];

/// Names a step template may read besides the arguments.
const STEP_NAMES: &[&str] = &["kestra", crate::render::ARGUMENTS, "steps", "item", "paging"];

/// What one call does.
#[derive(Debug)]
pub struct Action {
    /// Arguments this action needs although the schema marks them optional.
    pub requires: Vec<String>,
    pub steps: Vec<Step>,
    /// The result built from the steps' values; `None`: the last step's value.
    pub result: Option<JsonTemplate>,
}

/// One step.
#[derive(Debug)]
pub struct Step {
    pub name: Option<String>,
    pub when: Option<ValueTemplate>,
    pub kind: StepKind,
}

/// What a step does.
#[derive(Debug)]
pub enum StepKind {
    Request {
        requests: Vec<VersionedRequest>,
        response: ResponseTemplate,
        repeat: Repeat,
    },
    Set(JsonTemplate),
    Fail(TemplateId),
    Map(MapStep),
    Wait(Box<WaitStep>),
    Ask(AskStep),
    Loop(Box<LoopStep>),
}

/// A compiled `repeat` step (run by `crate::run`).
#[derive(Debug)]
pub struct LoopStep {
    pub steps: Vec<Step>,
    /// Lone expression: the rounds stop once it is truthy.
    pub until: ValueTemplate,
    pub max: usize,
}

/// The rounds a `repeat` step runs unless it says otherwise, and the most it may say.
pub const LOOP_ROUNDS: u32 = 10;
pub const MAX_LOOP_ROUNDS: u32 = 100;

/// A compiled `ask` step.
#[derive(Debug)]
pub struct AskStep {
    pub message: TemplateId,
    /// Lone expression giving the requested schema.
    pub schema: ValueTemplate,
}

/// A compiled `wait` step (run by `crate::wait`).
#[derive(Debug)]
pub struct WaitStep {
    pub poll: Vec<VersionedRequest>,
    /// The event stream to follow first (stream limits always set).
    pub follow: Option<Vec<VersionedRequest>>,
    pub on_cancel: Option<Vec<VersionedRequest>>,
    /// Lone expression on `value`.
    pub until: ValueTemplate,
    pub pacing: Pacing,
    /// Seconds (a lone expression); `None`: `KESTRA_MCP_WAIT_LIMIT`.
    pub limit: Option<ValueTemplate>,
    pub progress: Option<WaitProgress>,
}

/// How often a `wait` step polls: `interval` seconds at first, times `backoff` after each
/// poll, never more than `max_interval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    pub interval: f64,
    pub backoff: f64,
    pub max_interval: f64,
}

/// A `wait` step's progress templates (reading `value`).
#[derive(Debug)]
pub struct WaitProgress {
    pub done: ValueTemplate,
    pub total: Option<ValueTemplate>,
    pub message: Option<TemplateId>,
}

/// The name under which a `wait` step's templates read the current value.
pub const WAIT_VALUE: &str = "value";

/// A `map` step: each element of a list (or one object) shaped without any request.
#[derive(Debug)]
pub struct MapStep {
    /// The lone expression giving the list or the object.
    pub source: ValueTemplate,
    /// The element's name inside `to` (`as`, default `item`).
    pub name: String,
    pub shape: MapShape,
}

/// How a `map` step shapes one element.
#[derive(Debug)]
pub enum MapShape {
    /// A JSON document rendered with the element in the context.
    To(JsonTemplate),
    /// These keys of the element, in this order; keys it lacks are left out.
    Pick(Vec<String>),
}

/// How often a request step sends its request.
#[derive(Debug)]
pub enum Repeat {
    Once,
    ForEach(ValueTemplate),
    Paginate {
        items: Selection,
        size: ValueTemplate,
        max_pages: u32,
    },
}

/// A request and the Kestra versions it is for (`None`: every version).
#[derive(Debug)]
pub struct VersionedRequest {
    pub kestra: Option<semver::VersionReq>,
    pub template: RequestTemplate,
    /// Replaces the step's response for this request.
    pub response: Option<ResponseTemplate>,
}

/// A compiled `response`.
#[derive(Debug, Clone, Default)]
pub struct ResponseTemplate {
    pub projection: Projection,
    pub on_status: StatusOutcomes,
}

/// The `on_status` outcomes, in one table: a status (100-599) by itself, a class by its digit
/// (`4` for `4xx`), which no status can be; one table keeps the compiled step small.
#[derive(Debug, Clone, Default)]
pub struct StatusOutcomes {
    table: BTreeMap<u16, Outcome>,
}

impl StatusOutcomes {
    /// The outcome declared for `status`: its exact entry, else its class's.
    pub fn get(&self, status: u16) -> Option<&Outcome> {
        self.table
            .get(&status)
            .or_else(|| self.table.get(&(status / 100)))
    }

    /// Adds `outcome` for each status and class `key` names; a status or class named twice
    /// (in two keys) is refused, since which one applies would depend on key order.
    fn add(&mut self, key: &str, outcome: &Outcome) -> Result<(), String> {
        for part in key.split(',').map(str::trim) {
            let (code, shown) = match parse_status_part(part)? {
                StatusPart::Exact(code) => (code, code.to_string()),
                StatusPart::Class(class) => (class, format!("{class}xx")),
            };
            if self.table.insert(code, outcome.clone()).is_some() {
                return Err(format!("{shown} is named by more than one key"));
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

enum StatusPart {
    Exact(u16),
    Class(u16),
}

/// One element of an `on_status` key: `404` or `4xx`.
fn parse_status_part(part: &str) -> Result<StatusPart, String> {
    let not_status = || format!("`{part}` is not an HTTP status (100-599) or class (1xx-5xx)");
    let lower = part.to_ascii_lowercase();
    if let Some(class) = lower.strip_suffix("xx") {
        return match class.parse::<u16>() {
            Ok(digit) if class.len() == 1 && (1..=5).contains(&digit) => Ok(StatusPart::Class(digit)),
            _ => Err(not_status()),
        };
    }
    match part.parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) && part.len() == 3 => Ok(StatusPart::Exact(code)),
        _ => Err(not_status()),
    }
}

/// A fixed outcome for an HTTP status.
#[derive(Debug, Clone)]
pub enum Outcome {
    Result(JsonTemplate),
    Error(TemplateId),
}

impl VersionedRequest {
    /// Whether this request is meant for `version`.
    pub fn fits(&self, version: &semver::Version) -> bool {
        self.kestra.as_ref().is_none_or(|req| req.matches(version))
    }

    /// How the answer to this request becomes the step's value.
    pub fn response<'a>(&'a self, step_response: &'a ResponseTemplate) -> &'a ResponseTemplate {
        self.response.as_ref().unwrap_or(step_response)
    }
}

/// The request among `requests` for `version`; `None` when there is none for it.
pub fn request_for<'a>(
    requests: &'a [VersionedRequest],
    version: Option<&semver::Version>,
) -> Option<&'a VersionedRequest> {
    match (requests, version) {
        ([only], _) if only.kestra.is_none() => Some(only),
        (_, Some(v)) => requests.iter().find(|r| r.fits(v)),
        _ => None,
    }
}

impl Action {
    /// Every request this action may send, with a label (`steps[1].requests[0]`).
    pub fn requests(&self) -> Vec<(String, &VersionedRequest)> {
        let mut out = Vec::new();
        requests_of(&self.steps, "", &mut out);
        out
    }

    /// HTTP methods of every request, for annotations.
    pub fn methods(&self) -> Vec<Method> {
        self.requests()
            .into_iter()
            .map(|(_, r)| r.template.method)
            .collect()
    }

    /// Whether running this action needs the server's version.
    pub fn needs_version(&self) -> bool {
        self.requests().iter().any(|(_, r)| r.kestra.is_some())
    }
}

/// The requests of `steps` (and of the groups of its `repeat` steps), labelled after `prefix`.
fn requests_of<'a>(steps: &'a [Step], prefix: &str, out: &mut Vec<(String, &'a VersionedRequest)>) {
    for (i, step) in steps.iter().enumerate() {
        match &step.kind {
            StepKind::Request { requests, .. } => {
                for (j, r) in requests.iter().enumerate() {
                    out.push((format!("{prefix}steps[{i}].requests[{j}]"), r));
                }
            }
            StepKind::Wait(wait) => {
                let groups = [
                    ("poll", Some(&wait.poll)),
                    ("follow", wait.follow.as_ref()),
                    ("on_cancel", wait.on_cancel.as_ref()),
                ];
                for (field, requests) in groups {
                    for (j, r) in requests.into_iter().flatten().enumerate() {
                        out.push((format!("{prefix}steps[{i}].wait.{field}[{j}]"), r));
                    }
                }
            }
            StepKind::Loop(group) => requests_of(&group.steps, &format!("{prefix}steps[{i}].repeat."), out),
            _ => {}
        }
    }
}

/// The raw pieces of one action, borrowed from a tool or a variant.
pub struct ActionParts<'a> {
    pub requires: &'a [String],
    pub request: Option<&'a RequestSpec>,
    pub requests: Option<&'a [RequestSpec]>,
    pub steps: Option<&'a [StepSpec]>,
    pub result: Option<&'a Value>,
    pub response: &'a ResponseSpec,
}

fn fail(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

fn prefixed(prefix: &str) -> impl Fn(FieldError) -> FieldError + '_ {
    move |e| fail(format!("{prefix}.{}", e.field), e.message)
}

impl ActionParts<'_> {
    /// Compiles the action; `allowed` lists the argument names (plus `kestra`).
    pub fn compile(
        &self,
        templates: &mut Templates,
        allowed: &BTreeSet<String>,
    ) -> Result<Action, FieldError> {
        let mut step_allowed = allowed.clone();
        step_allowed.extend(STEP_NAMES.iter().map(|s| s.to_string()));
        let (steps, result) = match (self.request, self.requests, self.steps) {
            (Some(_), None, None) | (None, Some(_), None) => {
                let requests = compile_requests(self.request, self.requests, templates, allowed)?;
                let response =
                    compile_response(self.response, templates, allowed).map_err(prefixed("response"))?;
                let kind = StepKind::Request {
                    requests,
                    response,
                    repeat: Repeat::Once,
                };
                (
                    vec![Step {
                        name: None,
                        when: None,
                        kind,
                    }],
                    None,
                )
            }
            (None, None, Some(specs)) if !specs.is_empty() => {
                let steps = compile_steps(specs, templates, &step_allowed)?;
                let result = match self.result {
                    Some(doc) => Some(
                        templates
                            .json(doc, &step_allowed)
                            .map_err(|e| fail("result", e.0))?,
                    ),
                    None => None,
                };
                (steps, result)
            }
            _ => {
                return Err(fail(
                    "request",
                    "give exactly one of `request`, `requests` and `steps`",
                ));
            }
        };
        if self.result.is_some() && self.steps.is_none() {
            return Err(fail(
                "result",
                "`result` applies to `steps` only (use `response` for one request)",
            ));
        }
        Ok(Action {
            requires: self.requires.to_vec(),
            steps,
            result,
        })
    }
}

fn compile_steps(
    specs: &[StepSpec],
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<Vec<Step>, FieldError> {
    let mut names = BTreeSet::new();
    // Sized exactly: a step is a few hundred bytes, and a growing Vec would keep room for four.
    let mut steps = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let at = format!("steps[{i}]");
        if let Some(name) = &spec.name
            && !names.insert(name.clone())
        {
            return Err(fail(
                format!("{at}.name"),
                format!("step name '{name}' is used twice"),
            ));
        }
        let step = compile_step(spec, templates, allowed).map_err(prefixed(&at))?;
        steps.push(step);
    }
    Ok(steps)
}

fn compile_step(
    spec: &StepSpec,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<Step, FieldError> {
    let when = match &spec.when {
        Some(w) => Some(lone_expression(w, "when", templates, allowed)?),
        None => None,
    };
    let is_request = spec.request.is_some() || spec.requests.is_some();
    let kinds = [
        is_request,
        spec.set.is_some(),
        spec.fail.is_some(),
        spec.map.is_some(),
        spec.wait.is_some(),
        spec.ask.is_some(),
        spec.repeat.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(fail(
            "request",
            "a step has exactly one of `request`/`requests`, `set`, `fail`, `map`, `wait`, `ask` and `repeat`",
        ));
    }
    if spec.map.is_none() && (spec.as_name.is_some() || spec.to.is_some() || spec.pick.is_some()) {
        return Err(fail("map", "`as`, `to` and `pick` apply to `map` steps only"));
    }
    if !is_request && (spec.for_each.is_some() || spec.paginate.is_some() || spec.response.is_some()) {
        return Err(fail(
            "for_each",
            "`for_each`, `paginate` and `response` apply to request steps only",
        ));
    }
    let kind = if let Some(group) = &spec.repeat {
        StepKind::Loop(Box::new(
            compile_loop(group, templates, allowed).map_err(prefixed("repeat"))?,
        ))
    } else if let Some(ask) = &spec.ask {
        StepKind::Ask(AskStep {
            message: templates
                .text(&ask.message, allowed)
                .map_err(|e| fail("ask.message", e.0))?,
            schema: lone_expression(&ask.schema, "ask.schema", templates, allowed)?,
        })
    } else if let Some(wait) = &spec.wait {
        StepKind::Wait(Box::new(
            compile_wait(wait, templates, allowed).map_err(prefixed("wait"))?,
        ))
    } else if let Some(source) = &spec.map {
        StepKind::Map(compile_map(spec, source, templates, allowed)?)
    } else if let Some(doc) = &spec.set {
        StepKind::Set(templates.json(doc, allowed).map_err(|e| fail("set", e.0))?)
    } else if let Some(message) = &spec.fail {
        StepKind::Fail(templates.text(message, allowed).map_err(|e| fail("fail", e.0))?)
    } else {
        let requests = compile_requests(
            spec.request.as_ref(),
            spec.requests.as_deref(),
            templates,
            allowed,
        )?;
        let response = compile_response(&spec.response.clone().unwrap_or_default(), templates, allowed)
            .map_err(prefixed("response"))?;
        let repeat = match (&spec.for_each, &spec.paginate) {
            (None, None) => Repeat::Once,
            (Some(list), None) => Repeat::ForEach(lone_expression(list, "for_each", templates, allowed)?),
            (None, Some(p)) => {
                let size = page_size_source(p, spec.request.as_ref(), spec.requests.as_deref())?;
                compile_paginate(p, &size, templates, allowed)?
            }
            (Some(_), Some(_)) => {
                return Err(fail(
                    "paginate",
                    "a step cannot have both `for_each` and `paginate`",
                ));
            }
        };
        StepKind::Request {
            requests,
            response,
            repeat,
        }
    };
    Ok(Step {
        name: spec.name.clone(),
        when,
        kind,
    })
}

/// Compiles a `repeat` step: its group of steps, its `until` and its bound on rounds.
fn compile_loop(
    group: &RepeatSpec,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<LoopStep, FieldError> {
    if group.steps.is_empty() {
        return Err(fail("steps", "a `repeat` step needs at least one step"));
    }
    let max = group.max.unwrap_or(LOOP_ROUNDS);
    if !(1..=MAX_LOOP_ROUNDS).contains(&max) {
        return Err(fail("max", format!("rounds are between 1 and {MAX_LOOP_ROUNDS}")));
    }
    Ok(LoopStep {
        steps: compile_steps(&group.steps, templates, allowed)?,
        until: lone_expression(&group.until, "until", templates, allowed)?,
        max: max as usize,
    })
}

/// Compiles a `map` step: its source, and its `to` with the element's name added to the names
/// templates may read (a name that would hide another is refused).
fn compile_map(
    spec: &StepSpec,
    source: &str,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<MapStep, FieldError> {
    let source = lone_expression(source, "map", templates, allowed)?;
    let name = spec.as_name.clone().unwrap_or_else(|| "item".to_owned());
    if name != "item" {
        check_element_name(&name, allowed).map_err(|m| fail("as", m))?;
    }
    let shape = match (&spec.to, &spec.pick) {
        (Some(doc), None) => {
            let mut with_element = allowed.clone();
            with_element.insert(name.clone());
            MapShape::To(templates.json(doc, &with_element).map_err(|e| fail("to", e.0))?)
        }
        (None, Some(keys)) if spec.as_name.is_some() => {
            return Err(fail(
                "as",
                format!(
                    "`as` names the element inside `to`; with `pick` it is never read (keys: {})",
                    keys.join(", ")
                ),
            ));
        }
        (None, Some(keys)) if keys.is_empty() => {
            return Err(fail("pick", "list at least one key to keep"));
        }
        (None, Some(keys)) => MapShape::Pick(keys.clone()),
        _ => return Err(fail("map", "a `map` step needs exactly one of `to` and `pick`")),
    };
    Ok(MapStep { source, name, shape })
}

/// Compiles a `wait` step: its requests, and its condition and progress with `value` added to
/// the names templates may read.
fn compile_wait(
    spec: &WaitSpec,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<WaitStep, FieldError> {
    if allowed.contains(WAIT_VALUE) {
        return Err(fail(
            "until",
            format!(
                "the tool has an argument named `{WAIT_VALUE}`, the name a `wait` step's templates read the current value by"
            ),
        ));
    }
    let pacing = Pacing {
        interval: spec.interval,
        backoff: spec.backoff,
        max_interval: spec.max_interval,
    };
    check_pacing(&pacing)?;
    let poll = compile_requests(Some(&spec.poll), None, templates, allowed).map_err(prefixed("poll"))?;
    let follow = match &spec.follow {
        Some(follow) => {
            let mut follow = follow.clone();
            follow.stream.get_or_insert_with(unbounded_stream);
            Some(compile_requests(Some(&follow), None, templates, allowed).map_err(prefixed("follow"))?)
        }
        None => None,
    };
    let on_cancel = match &spec.on_cancel {
        Some(r) => Some(compile_requests(Some(r), None, templates, allowed).map_err(prefixed("on_cancel"))?),
        None => None,
    };
    let mut with_value = allowed.clone();
    with_value.insert(WAIT_VALUE.to_owned());
    let until = lone_expression(&spec.until, "until", templates, &with_value)?;
    let limit = match &spec.limit {
        Some(l) => Some(lone_expression(l, "limit", templates, allowed)?),
        None => None,
    };
    let progress = match &spec.progress {
        Some(p) => Some(WaitProgress {
            done: lone_expression(&p.done, "progress.done", templates, &with_value)?,
            total: match &p.total {
                Some(t) => Some(lone_expression(t, "progress.total", templates, &with_value)?),
                None => None,
            },
            message: match &p.message {
                Some(m) => Some(
                    templates
                        .text(m, &with_value)
                        .map_err(|e| fail("progress.message", e.0))?,
                ),
                None => None,
            },
        }),
        None => None,
    };
    Ok(WaitStep {
        poll,
        follow,
        on_cancel,
        until,
        pacing,
        limit,
        progress,
    })
}

fn check_pacing(p: &Pacing) -> Result<(), FieldError> {
    let positive = |x: f64| x.is_finite() && x > 0.0 && x < 1e6;
    if !positive(p.interval) {
        return Err(fail("interval", "must be a positive number of seconds"));
    }
    if !positive(p.max_interval) || p.max_interval < p.interval {
        return Err(fail(
            "max_interval",
            "must be a number of seconds at least `interval`",
        ));
    }
    if !(p.backoff.is_finite() && (1.0..=10.0).contains(&p.backoff)) {
        return Err(fail("backoff", "must be between 1 and 10"));
    }
    Ok(())
}

/// The stream bounds of a `follow` that gives none: the wait's limit is what ends it.
fn unbounded_stream() -> StreamSpec {
    StreamSpec {
        max_events: "1000000".to_owned(),
        max_seconds: "1000000".to_owned(),
        stop_on: vec![],
    }
}

/// An element name must be a plain identifier that hides no argument or engine name.
fn check_element_name(name: &str, allowed: &BTreeSet<String>) -> Result<(), String> {
    let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier {
        return Err(format!(
            "'{name}' is not a name templates can read (letters, digits, `_`)"
        ));
    }
    if allowed.contains(name) || crate::render::RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "'{name}' would hide the argument or engine value of that name; choose another"
        ));
    }
    Ok(())
}

fn lone_expression(
    source: &str,
    field: &str,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<ValueTemplate, FieldError> {
    match templates.value(source, allowed).map_err(|e| fail(field, e.0))? {
        t @ ValueTemplate::Typed(_) => Ok(t),
        _ => Err(fail(
            field,
            format!("'{source}' must be a single {{{{ expression }}}}"),
        )),
    }
}

/// The page size a paginated step asks for: `paginate.size`, else the `size` query parameter
/// its request sends (the same in each of its version-specific requests).
fn page_size_source(
    p: &PaginateSpec,
    one: Option<&RequestSpec>,
    many: Option<&[RequestSpec]>,
) -> Result<String, FieldError> {
    if let Some(size) = &p.size {
        return Ok(size.clone());
    }
    let sizes: BTreeSet<Option<&String>> = one
        .into_iter()
        .chain(many.into_iter().flatten())
        .map(|r| r.query.get(PAGE_SIZE_QUERY))
        .collect();
    match sizes.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(size)] => Ok((*size).clone()),
        [] | [None] => Err(fail(
            "paginate.size",
            format!("give `size`: the request has no `{PAGE_SIZE_QUERY}` query parameter to take it from"),
        )),
        _ => Err(fail(
            "paginate.size",
            format!("give `size`: the requests' `{PAGE_SIZE_QUERY}` query parameters differ"),
        )),
    }
}

/// The query parameter a paginated request's page size is read from when `paginate` gives none.
pub const PAGE_SIZE_QUERY: &str = "size";

fn compile_paginate(
    p: &PaginateSpec,
    size: &str,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<Repeat, FieldError> {
    let items = Selection::parse(&p.items).map_err(|m| fail("paginate.items", m))?;
    let size = templates
        .value(size, allowed)
        .map_err(|e| fail("paginate.size", e.0))?;
    if p.max_pages == 0 {
        return Err(fail("paginate.max_pages", "must be at least 1"));
    }
    Ok(Repeat::Paginate {
        items,
        size,
        max_pages: p.max_pages,
    })
}

fn compile_requests(
    one: Option<&RequestSpec>,
    many: Option<&[RequestSpec]>,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<Vec<VersionedRequest>, FieldError> {
    let specs: Vec<(String, &RequestSpec)> = match (one, many) {
        (Some(one), None) => vec![("request".into(), one)],
        (None, Some(many)) if !many.is_empty() => many
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("requests[{i}]"), r))
            .collect(),
        _ => return Err(fail("request", "give exactly one of `request` and `requests`")),
    };
    let mut requests = Vec::new();
    for (field, spec) in &specs {
        let kestra = match &spec.kestra {
            Some(req) => Some(semver::VersionReq::parse(req).map_err(|e| {
                fail(
                    format!("{field}.kestra"),
                    format!("'{req}' is not a version requirement such as '>=2.0': {e}"),
                )
            })?),
            None if many.is_some() => {
                return Err(fail(
                    format!("{field}.kestra"),
                    "each of `requests` needs a `kestra` version requirement",
                ));
            }
            None => None,
        };
        let arguments: BTreeSet<String> = allowed
            .iter()
            .filter(|name| *name != "kestra" && !STEP_NAMES.contains(&name.as_str()))
            .cloned()
            .collect();
        let targets = operations::resolve(spec, kestra.as_ref(), &arguments).map_err(prefixed(field))?;
        for (kestra, target) in targets {
            let template =
                RequestTemplate::compile(spec, &target, templates, allowed).map_err(prefixed(field))?;
            let response = match &spec.response {
                Some(r) => Some(
                    compile_response(r, templates, allowed)
                        .map_err(prefixed(&format!("{field}.response")))?,
                ),
                None => None,
            };
            requests.push(VersionedRequest {
                kestra,
                template,
                response,
            });
        }
    }
    check_no_overlap(&requests).map_err(|m| fail("requests", m))?;
    // Most steps send one request; a growing Vec would keep room for four (~1.8 KB a step).
    requests.shrink_to_fit();
    Ok(requests)
}

fn check_no_overlap(requests: &[VersionedRequest]) -> Result<(), String> {
    for known in KNOWN_KESTRA_VERSIONS {
        let Ok(version) = semver::Version::parse(known) else {
            continue;
        };
        if requests
            .iter()
            .filter(|r| r.kestra.is_some() && r.fits(&version))
            .count()
            > 1
        {
            return Err(format!(
                "more than one request fits Kestra {known}; make the `kestra` requirements disjoint"
            ));
        }
    }
    Ok(())
}

/// Compiles a `response` block.
pub fn compile_response(
    spec: &ResponseSpec,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<ResponseTemplate, FieldError> {
    let select = match &spec.select {
        Some(path) => Some(Selection::parse(path).map_err(|m| fail("select", m))?),
        None => None,
    };
    let mut with_result = allowed.clone();
    with_result.insert("result".into());
    let template = match &spec.template {
        Some(source) => Some(
            templates
                .text(source, &with_result)
                .map_err(|e| fail("template", e.0))?,
        ),
        None => None,
    };
    let mut with_status = allowed.clone();
    with_status.insert("answer".to_owned());
    let mut on_status = StatusOutcomes::default();
    for (key, outcome) in &spec.on_status {
        let field = format!("on_status.{key}");
        let compiled = compile_outcome(outcome, templates, &with_status).map_err(|m| fail(&field, m))?;
        on_status.add(&key.0, &compiled).map_err(|m| fail(&field, m))?;
    }
    Ok(ResponseTemplate {
        projection: Projection {
            select,
            fields: spec.fields.clone(),
            template,
            wrap: spec.wrap.clone(),
        },
        on_status,
    })
}

fn compile_outcome(
    outcome: &StatusOutcome,
    templates: &mut Templates,
    allowed: &BTreeSet<String>,
) -> Result<Outcome, String> {
    match (&outcome.result, &outcome.error) {
        (Some(result), None) => Ok(Outcome::Result(templates.json(result, allowed).map_err(|e| e.0)?)),
        (None, Some(error)) => Ok(Outcome::Error(templates.text(error, allowed).map_err(|e| e.0)?)),
        _ => Err("give exactly one of `result` and `error`".into()),
    }
}

#[cfg(test)]
mod status_key_tests {
    use super::*;

    fn outcomes(keys: &[&str]) -> Result<StatusOutcomes, String> {
        let mut table = StatusOutcomes::default();
        for (i, key) in keys.iter().enumerate() {
            table.add(key, &Outcome::Error(TemplateId::for_test(&i.to_string())))?;
        }
        Ok(table)
    }

    fn picked(table: &StatusOutcomes, status: u16) -> Option<usize> {
        match table.get(status)? {
            Outcome::Error(id) => id.name_for_test().parse().ok(),
            Outcome::Result(_) => None,
        }
    }

    #[test]
    fn an_exact_status_wins_over_its_class_whatever_the_key_order() {
        let table = outcomes(&["4xx", "404", "409, 422", "5XX"]).unwrap();
        assert_eq!(picked(&table, 404), Some(1));
        assert_eq!(picked(&table, 400), Some(0));
        assert_eq!(picked(&table, 409), Some(2));
        assert_eq!(picked(&table, 422), Some(2));
        assert_eq!(picked(&table, 503), Some(3));
        assert_eq!(picked(&table, 200), None);
    }

    #[test]
    fn a_status_named_twice_or_not_a_status_is_refused() {
        assert!(
            outcomes(&["409,422", "422"])
                .unwrap_err()
                .contains("422 is named by more than one key")
        );
        assert!(outcomes(&["4xx", "4xx,5xx"]).unwrap_err().contains("4xx"));
        for bad in ["600", "99", "6xx", "4x", "40x", "0404", "409;422", ""] {
            assert!(outcomes(&[bad]).is_err(), "{bad} was accepted");
        }
    }
}

#[cfg(test)]
mod paginate_tests {
    use crate::spec::{CompiledTool, Repeat, StepKind, parse_spec};

    fn compile(requests: &str, paginate: &str) -> Result<CompiledTool, String> {
        let text = format!(
            "name: t\ngroup: flow\ndescription: d\ninput: {{type: object, properties: {{n: {{default: 5}}}}}}\nsteps:\n  - paginate: {paginate}\n{requests}"
        );
        CompiledTool::from_spec(parse_spec(&text, "t.yaml").map_err(|e| e.to_string())?, "t.yaml")
            .map_err(|e| e.to_string())
    }

    const ONE: &str =
        "    request: {method: GET, path: /x, query: {size: '{{ n }}', page: '{{ paging.page }}'}}\n";

    #[test]
    fn the_page_size_is_the_requests_size_query_unless_given() {
        let tool = compile(ONE, "{items: $.results}").unwrap();
        let (_, action) = tool.actions().unwrap().into_iter().next().unwrap();
        let StepKind::Request {
            repeat: Repeat::Paginate { size, .. },
            ..
        } = &action.steps[0].kind
        else {
            panic!("not a paginated request");
        };
        let ctx = crate::render::context(&serde_json::json!({"n": 7}));
        assert_eq!(
            tool.body().unwrap().templates.render_value(size, &ctx).unwrap(),
            serde_json::json!(7)
        );
        assert!(compile(ONE, "{items: $.results, size: '10'}").is_ok());
    }

    #[test]
    fn a_page_size_that_cannot_be_inferred_is_a_load_error() {
        let no_size = "    request: {method: GET, path: /x, query: {page: '{{ paging.page }}'}}\n";
        let err = compile(no_size, "{items: $.results}").unwrap_err();
        assert!(
            err.contains("paginate.size") && err.contains("no `size` query"),
            "{err}"
        );
        let differ = "    requests:\n      - {kestra: '<2.0', method: GET, path: /x, query: {size: '{{ n }}'}}\n      - {kestra: '>=2.0', method: GET, path: /y, query: {size: '50'}}\n";
        let err = compile(differ, "{items: $.results}").unwrap_err();
        assert!(err.contains("differ"), "{err}");
        let one_lacks = "    requests:\n      - {kestra: '<2.0', method: GET, path: /x, query: {size: '{{ n }}'}}\n      - {kestra: '>=2.0', method: GET, path: /y}\n";
        assert!(
            compile(one_lacks, "{items: $.results}")
                .unwrap_err()
                .contains("differ")
        );
    }
}
