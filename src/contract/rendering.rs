//! Rendering without sending: the requests a call would send to a Kestra of a given version,
//! with stand-ins for what only a running call knows. For the contract checks and the tests;
//! compiled only with the `contract` feature, so a server built without it does not carry them.

use serde_json::{Map, Value, json};

use crate::engine::Engine;
use crate::error::CallError;
use crate::request::RenderedRequest;

/// A stand-in for values known only while a call runs (earlier steps, loop items), used when
/// requests are rendered for contract checks: every attribute or item of it is itself, and it
/// prints as `sample`.
#[derive(Debug)]
pub struct Sample;

impl minijinja::value::Object for Sample {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Plain
    }

    fn get_value(self: &std::sync::Arc<Self>, _key: &minijinja::Value) -> Option<minijinja::Value> {
        Some(minijinja::Value::from_object(Sample))
    }

    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sample")
    }
}

impl Engine {
    /// The first request a call with `args` would send to a Kestra of `version`, without sending.
    pub fn render_only(
        &self,
        name: &str,
        args: Map<String, Value>,
        version: &semver::Version,
    ) -> Result<RenderedRequest, CallError> {
        let mut requests = self.sample_requests(name, args, version)?;
        match requests.is_empty() {
            true => Err(CallError::Render(format!(
                "'{name}' sends no request to Kestra {version}"
            ))),
            false => Ok(requests.swap_remove(0).1),
        }
    }

    /// Every request a call with `args` may send to a Kestra of `version`, rendered without
    /// sending anything; values from earlier steps and loop items are stand-ins (`sample`).
    /// For contract checks against Kestra's OpenAPI descriptions.
    pub fn sample_requests(
        &self,
        name: &str,
        args: Map<String, Value>,
        version: &semver::Version,
    ) -> Result<Vec<(String, RenderedRequest)>, CallError> {
        let (templates, action, mut ctx) = self.prepare(name, args)?;
        let sample = minijinja::Value::from_object(Sample);
        let mut out = Vec::new();
        for (label, request) in action.requests() {
            if !request.fits(version) {
                continue;
            }
            ctx.insert("paging".into(), json!({"page": 1}));
            let jinja = minijinja::context! { steps => sample.clone(), item => sample.clone(), ..crate::render::context(&ctx) };
            let rendered = request
                .template
                .render(templates, &jinja)
                .map_err(|e| CallError::Render(e.0))?;
            out.push((label, rendered));
        }
        Ok(out)
    }
}
