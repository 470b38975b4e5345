//! Running an action: its steps in order, each a request (once, per item, or page by page), a
//! computed value or a check. Each step's value is visible to later templates as
//! `steps.<name>`; the action's result is its `result` template or the last step's value.

use serde_json::{Map, Value, json};

use crate::answer::{decode_body, kestra_error};
use crate::engine::Engine;
use crate::error::CallError;
use crate::exchange::{CallContext, Delivery};
use crate::render::{Templates, ValueTemplate, truthy};
use crate::request::RenderedRequest;
use crate::spec::{
    Action, LoopStep, Outcome, Repeat, ResponseTemplate, Step, StepKind, VersionedRequest,
    action::request_for,
};

/// Upper bound on the elements a `for_each` step goes through.
pub const MAX_FOR_EACH: usize = 500;

/// What one request gave: a fixed outcome for its status, or the decoded body.
enum Fetched {
    Outcome(Value),
    Body(Value),
}

/// How many results' worth of items a listing reads before it stops paging (16 KiB results:
/// 256 KiB of Kestra's items, which the tool's rows are a fraction of).
const PAGES_READ_PER_RESULT: usize = 16;

/// A listing's paging: where the items are in each page, the page size, the most pages.
struct Paging<'a> {
    items: &'a crate::project::Selection,
    size: u64,
    max_pages: u32,
}

impl Engine {
    /// Runs `action` of the tool `call.tool` with `ctx` (arguments and `kestra`); returns the
    /// result object. Every request goes through the exchange point with `call`.
    pub(crate) async fn run(
        &self,
        call: &CallContext,
        templates: &Templates,
        action: &Action,
        mut ctx: Map<String, Value>,
    ) -> Result<Map<String, Value>, CallError> {
        let mut steps = Map::new();
        let mut last = Value::Null;
        for (index, step) in action.steps.iter().enumerate() {
            ctx.insert("steps".into(), Value::Object(steps.clone()));
            let value = match self.should_run(templates, step, &ctx)? {
                true => self.run_step(call, templates, step, &ctx).await.map_err(|e| {
                    let tool = call.tool.as_deref().unwrap_or_default();
                    locate_shape_error(e, tool, action.steps.len(), index, step)
                })?,
                false => Value::Null,
            };
            if let Some(name) = &step.name {
                steps.insert(name.clone(), value.clone());
            }
            last = value;
        }
        ctx.insert("steps".into(), Value::Object(steps));
        let result = match &action.result {
            Some(t) => templates
                .render_json(t, &crate::render::context(&ctx))
                .map_err(render_error)?,
            None => last,
        };
        Ok(crate::project::wrap(result, None))
    }

    /// Runs a `repeat` step's rounds: its steps in order, then its `until`; the value is the
    /// last round's named values. In a round, `steps.<name>` (the repeat step's own name) is
    /// the round before's values.
    async fn run_loop(
        &self,
        call: &CallContext,
        templates: &Templates,
        name: Option<&str>,
        group: &LoopStep,
        ctx: &Map<String, Value>,
    ) -> Result<Value, CallError> {
        let outer = match ctx.get("steps") {
            Some(Value::Object(steps)) => steps.clone(),
            _ => Map::new(),
        };
        let mut previous = Value::Null;
        for _ in 0..group.max {
            let mut steps = outer.clone();
            if let Some(name) = name {
                steps.insert(name.to_owned(), previous.clone());
            }
            let mut ctx = ctx.clone();
            let mut round = Map::new();
            for step in &group.steps {
                ctx.insert("steps".into(), Value::Object(steps.clone()));
                let value = match self.should_run(templates, step, &ctx)? {
                    true => self.run_step_boxed(call, templates, step, &ctx).await?,
                    false => Value::Null,
                };
                if let Some(inner) = &step.name {
                    steps.insert(inner.clone(), value.clone());
                    round.insert(inner.clone(), value);
                }
            }
            ctx.insert("steps".into(), Value::Object(steps));
            previous = Value::Object(round);
            if truthy(&self.eval(templates, &group.until, &ctx)?) {
                break;
            }
        }
        Ok(previous)
    }

    /// [`Self::run_step`] boxed: a `repeat` step's steps may be `repeat` steps.
    fn run_step_boxed<'a>(
        &'a self,
        call: &'a CallContext,
        templates: &'a Templates,
        step: &'a Step,
        ctx: &'a Map<String, Value>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Value, CallError>> + Send + 'a>> {
        Box::pin(self.run_step(call, templates, step, ctx))
    }

    fn should_run(
        &self,
        templates: &Templates,
        step: &Step,
        ctx: &Map<String, Value>,
    ) -> Result<bool, CallError> {
        match &step.when {
            None => Ok(true),
            Some(t) => Ok(truthy(&self.eval(templates, t, ctx)?)),
        }
    }

    async fn run_step(
        &self,
        call: &CallContext,
        templates: &Templates,
        step: &Step,
        ctx: &Map<String, Value>,
    ) -> Result<Value, CallError> {
        match &step.kind {
            StepKind::Loop(group) => {
                self.run_loop(call, templates, step.name.as_deref(), group, ctx)
                    .await
            }
            StepKind::Set(t) => templates
                .render_json(t, &crate::render::context(ctx))
                .map_err(render_error),
            StepKind::Map(map) => crate::map_step::run_map(templates, map, ctx).map_err(render_error),
            StepKind::Ask(ask) => {
                let jinja = crate::render::context(ctx);
                let message = templates.render(&ask.message, &jinja).map_err(render_error)?;
                let schema = templates
                    .render_value(&ask.schema, &jinja)
                    .map_err(render_error)?;
                Ok(ask_user(call, message.trim(), schema).await)
            }
            StepKind::Wait(step) => {
                let versioned = [&step.poll]
                    .into_iter()
                    .chain(step.follow.as_ref())
                    .chain(step.on_cancel.as_ref())
                    .flatten()
                    .any(|r| r.kestra.is_some());
                let version = match versioned {
                    true => Some(self.runtime.version_for(call).await?),
                    false => None,
                };
                let wait = crate::wait::Wait {
                    runtime: &self.runtime,
                    call,
                    templates,
                    step,
                    ctx,
                    version,
                };
                Ok(wait.run().await?.to_json())
            }
            StepKind::Fail(t) => Err(CallError::Declared(
                templates
                    .render(t, &crate::render::context(ctx))
                    .map_err(render_error)?,
            )),
            StepKind::Request {
                requests,
                response,
                repeat,
            } => {
                let version = match requests.iter().any(|r| r.kestra.is_some()) {
                    true => Some(self.runtime.version_for(call).await?),
                    false => None,
                };
                let chosen = choose(requests, version)?;
                let response = chosen.response(response);
                match repeat {
                    Repeat::Once => self.exchange_once(call, templates, chosen, response, ctx).await,
                    Repeat::ForEach(list) => {
                        self.exchange_each(call, templates, chosen, response, list, ctx)
                            .await
                    }
                    Repeat::Paginate {
                        items,
                        size,
                        max_pages,
                    } => {
                        let size = self.eval(templates, size, ctx)?;
                        let size = size
                            .as_u64()
                            .or_else(|| size.as_str().and_then(|s| s.parse().ok()))
                            .ok_or_else(|| {
                                CallError::Render(format!("`paginate.size` must give a number, got {size}"))
                            })?;
                        let pages = Paging {
                            items,
                            size,
                            max_pages: *max_pages,
                        };
                        let all = self
                            .fetch_pages(call, templates, chosen, response, ctx, pages)
                            .await?;
                        self.shape(templates, response, Value::Array(all), ctx)
                    }
                }
            }
        }
    }

    /// Every page of a listing, until a short page or `max_pages`; or, when the result is
    /// bounded, until what was read is many times what a result may hold: the items past that
    /// point could not reach the model anyway, so their pages are not fetched, and the call
    /// notes it (`CallContext::unfetched`) for the result's `truncated` note.
    async fn fetch_pages(
        &self,
        call: &CallContext,
        templates: &Templates,
        chosen: &VersionedRequest,
        response: &ResponseTemplate,
        ctx: &Map<String, Value>,
        paging: Paging<'_>,
    ) -> Result<Vec<Value>, CallError> {
        let stop_at = self.runtime.result_limit().saturating_mul(PAGES_READ_PER_RESULT);
        let mut all = Vec::new();
        let mut read = 0;
        let mut page_ctx = ctx.clone();
        for page in 1..=paging.max_pages {
            page_ctx.insert("paging".into(), json!({"page": page}));
            let answer = match self.fetch(call, templates, chosen, response, &page_ctx).await? {
                Fetched::Outcome(v) | Fetched::Body(v) => v,
            };
            let found = match paging.items.apply(&answer) {
                Value::Array(list) => list,
                Value::Null => vec![],
                other => vec![other],
            };
            let short = (found.len() as u64) < paging.size;
            read += found
                .iter()
                .map(|v| serde_json::to_vec(v).map_or(0, |b| b.len()))
                .sum::<usize>();
            all.extend(found);
            if short {
                break;
            }
            if stop_at > 0 && read > stop_at && page < paging.max_pages {
                let total = answer.get("total").and_then(Value::as_u64);
                if total.is_none_or(|t| t > all.len() as u64) {
                    call.unfetched.note(u64::from(page), all.len(), total);
                    break;
                }
            }
        }
        Ok(all)
    }

    async fn exchange_once(
        &self,
        call: &CallContext,
        templates: &Templates,
        chosen: &VersionedRequest,
        response: &ResponseTemplate,
        ctx: &Map<String, Value>,
    ) -> Result<Value, CallError> {
        match self.fetch(call, templates, chosen, response, ctx).await? {
            Fetched::Outcome(value) => Ok(value),
            Fetched::Body(body) => self.shape(templates, response, body, ctx),
        }
    }

    async fn exchange_each(
        &self,
        call: &CallContext,
        templates: &Templates,
        chosen: &VersionedRequest,
        response: &ResponseTemplate,
        list: &ValueTemplate,
        ctx: &Map<String, Value>,
    ) -> Result<Value, CallError> {
        let items = match self.eval(templates, list, ctx)? {
            Value::Array(items) => items,
            Value::Null => vec![],
            other => {
                return Err(CallError::Render(format!(
                    "`for_each` must give a list, got {other}"
                )));
            }
        };
        if items.len() > MAX_FOR_EACH {
            return Err(CallError::InvalidArguments(format!(
                "{} elements is more than the {MAX_FOR_EACH} one call may go through",
                items.len()
            )));
        }
        let mut values = Vec::with_capacity(items.len());
        let mut item_ctx = ctx.clone();
        for item in items {
            item_ctx.insert("item".into(), item);
            values.push(
                self.exchange_once(call, templates, chosen, response, &item_ctx)
                    .await?,
            );
        }
        Ok(Value::Array(values))
    }

    /// Renders, sends, and maps the status: a declared outcome, an error, or the decoded body.
    async fn fetch(
        &self,
        call: &CallContext,
        templates: &Templates,
        chosen: &VersionedRequest,
        response: &ResponseTemplate,
        ctx: &Map<String, Value>,
    ) -> Result<Fetched, CallError> {
        let request = render_request(templates, chosen, ctx)?;
        let answer = self.runtime.exchange(call, &request, Delivery::Retried).await?;
        if let Some(outcome) = response.on_status.get(answer.status) {
            let mut ctx = ctx.clone();
            let body = decode_body(&answer).unwrap_or(Value::Null);
            ctx.insert("answer".into(), json!({"status": answer.status, "body": body}));
            let jinja_ctx = crate::render::context(&ctx);
            return match outcome {
                Outcome::Result(t) => Ok(Fetched::Outcome(
                    templates.render_json(t, &jinja_ctx).map_err(render_error)?,
                )),
                Outcome::Error(t) => Err(CallError::Declared(
                    templates.render(t, &jinja_ctx).map_err(render_error)?,
                )),
            };
        }
        if answer.status >= 300 {
            return Err(kestra_error(&request, &answer));
        }
        Ok(Fetched::Body(decode_body(&answer)?))
    }

    /// Kestra's answer made into the step's value by the step's `response`. A failure says
    /// what was expected (the template's expression, the `select` path and what it gave) and
    /// what came (the answer's type and its beginning).
    fn shape(
        &self,
        templates: &Templates,
        response: &ResponseTemplate,
        body: Value,
        ctx: &Map<String, Value>,
    ) -> Result<Value, CallError> {
        let projection = &response.projection;
        projection.value(&body, templates, ctx).map_err(|e| {
            let mut message = format!("{SHAPE_ERROR}: the response `template` failed: {}", e.0);
            if let Some(select) = &projection.select {
                message.push_str(&format!(
                    "; `select: {}` gave {}",
                    select.source(),
                    describe(&select.apply(&body))
                ));
            }
            message.push_str(&format!("; Kestra's answer was {}", describe(&body)));
            CallError::Render(message)
        })
    }

    fn eval(
        &self,
        templates: &Templates,
        t: &ValueTemplate,
        ctx: &Map<String, Value>,
    ) -> Result<Value, CallError> {
        templates
            .render_value(t, &crate::render::context(ctx))
            .map_err(render_error)
    }
}

/// Asks the client's user through the call's elicitation handle: what they did, as a value
/// templates read (`{"action", "content"}`); `unsupported` when the client cannot be asked.
async fn ask_user(call: &CallContext, message: &str, schema: Value) -> Value {
    let Some(elicitation) = &call.elicitation else {
        return json!({"action": "unsupported", "content": null});
    };
    let asked = tokio::select! {
        asked = elicitation.ask(message, schema.clone()) => asked,
        _ = call.cancel.cancelled() => return json!({"action": "cancel", "content": null}),
    };
    match asked {
        Ok(elicited) => {
            let action = match elicited.answer {
                crate::elicit::Answer::Accept => "accept",
                crate::elicit::Answer::Decline => "decline",
                crate::elicit::Answer::Cancel => "cancel",
            };
            json!({"action": action, "content": elicited.content})
        }
        Err(e) => {
            tracing::warn!(error = %e, schema = %schema, "cannot ask the user");
            json!({"action": "failed", "content": null, "reason": e.to_string()})
        }
    }
}

/// The request among `requests` for `version`.
pub fn choose<'a>(
    requests: &'a [VersionedRequest],
    version: Option<&semver::Version>,
) -> Result<&'a VersionedRequest, CallError> {
    request_for(requests, version).ok_or_else(|| {
        CallError::Render(format!(
            "this tool has no request for Kestra {}",
            version
                .map(ToString::to_string)
                .unwrap_or_else(|| "of unknown version".into())
        ))
    })
}

/// Renders one request with a call's context.
pub fn render_request(
    templates: &Templates,
    chosen: &VersionedRequest,
    ctx: &Map<String, Value>,
) -> Result<RenderedRequest, CallError> {
    chosen
        .template
        .render(templates, &crate::render::context(ctx))
        .map_err(render_error)
}

/// How a shaping error starts (before [`locate_shape_error`] says where).
const SHAPE_ERROR: &str = "cannot shape Kestra's answer";
/// Characters of a value quoted in an error.
const EXCERPT_CHARS: usize = 200;

/// A shaping error of `step` (number `index` of `count`) says the tool and the step.
fn locate_shape_error(err: CallError, tool: &str, count: usize, index: usize, step: &Step) -> CallError {
    let CallError::Render(message) = err else {
        return err;
    };
    let Some(rest) = message.strip_prefix(SHAPE_ERROR) else {
        return CallError::Render(message);
    };
    let place = match (&step.name, count) {
        (Some(name), _) => format!("tool '{tool}', step '{name}'"),
        (None, 1) => format!("tool '{tool}'"),
        (None, _) => format!("tool '{tool}', steps[{index}]"),
    };
    CallError::Render(format!("{SHAPE_ERROR} ({place}){rest}"))
}

/// A value's type and the beginning of its JSON, for error messages.
fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Array(items) => format!("a list of {}", items.len()),
        Value::Object(map) => match map.len() {
            0 => "an empty object".to_owned(),
            _ => format!(
                "an object with keys {}",
                map.keys().take(10).cloned().collect::<Vec<_>>().join(", ")
            ),
        },
    };
    let json = value.to_string();
    let excerpt = match json.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &json[..cut]),
        None => json,
    };
    format!("{kind}: {excerpt}")
}

fn render_error(e: crate::render::TemplateError) -> CallError {
    CallError::Render(e.0)
}
