//! Checking one rendered request against one description: the operation it lands on, its
//! query parameters and its body.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::SAMPLE_TENANT;
use super::openapi::{Description, PathItem, to_json_schema};
use super::overlay::METHODS;
use crate::request::{RenderedBody, RenderedRequest, RequestTemplate};
use crate::spec::raw::Scope;

struct Resolved<'d> {
    template: &'d str,
    operation: &'d Value,
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn content_type_of(body: &RenderedBody) -> Option<String> {
    match body {
        RenderedBody::None => None,
        RenderedBody::Json(_) => Some("application/json".into()),
        RenderedBody::Text { content_type, .. } => Some(
            content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase(),
        ),
        RenderedBody::Multipart(_) => Some("multipart/form-data".into()),
    }
}

fn full_path(req: &RenderedRequest) -> String {
    match req.scope {
        Scope::Tenant => format!("/api/v1/{SAMPLE_TENANT}{}", req.path),
        Scope::Instance => format!("/api/v1{}", req.path),
    }
}

/// Resolves the request like Micronaut: path templates that match and have the method (and
/// consume the body's content type, when one does), most specific first.
fn resolve<'d>(
    desc: &'d Description,
    method: &str,
    path: &str,
    content_type: Option<&str>,
) -> Result<Resolved<'d>, String> {
    let matching = desc.matching(&segments_of(path));
    if matching.is_empty() {
        return Err(format!("no path template of the description matches {path}"));
    }
    let with_method: Vec<(&PathItem, &Value)> = matching
        .iter()
        .filter_map(|p| Some((*p, desc.operation(&p.template, method)?)))
        .collect();
    let consumes = |op: &Value| content_type.is_some_and(|ct| op["requestBody"]["content"].get(ct).is_some());
    let chosen = with_method
        .iter()
        .find(|(_, op)| consumes(op))
        .or(with_method.first());
    match chosen {
        Some((item, operation)) => Ok(Resolved {
            template: &item.template,
            operation,
        }),
        None => Err(format!(
            "no {} operation for {path} ({})",
            method.to_uppercase(),
            allowed_methods(desc, &matching)
        )),
    }
}

fn segments_of(path: &str) -> Vec<String> {
    path.trim_start_matches('/').split('/').map(decode).collect()
}

/// `template allows GET/POST; ...` for the templates a path matched.
fn allowed_methods(desc: &Description, matching: &[&PathItem]) -> String {
    let allowed: Vec<String> = matching
        .iter()
        .map(|p| {
            let methods: Vec<&str> = METHODS
                .iter()
                .copied()
                .filter(|m| desc.spec["paths"][&p.template].get(*m).is_some())
                .collect();
            format!("{} allows {}", p.template, methods.join("/").to_uppercase())
        })
        .collect();
    allowed.join("; ")
}

/// Every way `req` (rendered from `template`) breaks the description; empty when it fits.
pub(crate) fn check_request(
    desc: &Description,
    template: &RequestTemplate,
    req: &RenderedRequest,
) -> Vec<String> {
    let method = req.method.as_str().to_ascii_lowercase();
    let path = full_path(req);
    let shown = format!("{} {path}", req.method.as_str());
    let content_type = content_type_of(&req.body);
    let resolved = match resolve(desc, &method, &path, content_type.as_deref()) {
        Ok(r) => r,
        Err(e) => return vec![format!("{shown}: {e}")],
    };
    let mut problems = Vec::new();
    let op = resolved.operation;
    let op_id = op["operationId"].as_str().unwrap_or("<no operationId>");
    let route = format!("{op_id} ({} {})", req.method.as_str(), resolved.template);
    if template.operations.is_empty() {
        problems.push(format!(
            "{shown} resolves to {route}, but the request declares no `operation` (every request must name the operationId it calls)"
        ));
    } else if !template.operations.iter().any(|o| o == op_id) {
        let most_specific = desc
            .matching(&segments_of(&path))
            .first()
            .map(|p| p.template.clone())
            .unwrap_or_default();
        let note = if most_specific != resolved.template {
            format!(
                "; the most specific template {most_specific} has no {}",
                req.method.as_str()
            )
        } else {
            String::new()
        };
        problems.push(format!(
            "{shown} resolves to {route}, not to the declared operation {}{note}",
            template.operations.join(" / ")
        ));
        // The rest would be checked against the wrong operation.
        return problems;
    }
    problems.extend(
        check_query(desc, &resolved, req)
            .into_iter()
            .map(|p| format!("{shown} → {op_id}: {p}")),
    );
    problems.extend(
        check_body(desc, &resolved, req)
            .into_iter()
            .map(|p| format!("{shown} → {op_id}: {p}")),
    );
    problems
}

fn parameters<'d>(desc: &'d Description, resolved: &Resolved<'d>) -> Vec<&'d Value> {
    let item_level = desc.spec["paths"][resolved.template]["parameters"]
        .as_array()
        .into_iter()
        .flatten();
    let op_level = resolved.operation["parameters"].as_array().into_iter().flatten();
    item_level.chain(op_level).map(|p| desc.deref(p)).collect()
}

fn check_query(desc: &Description, resolved: &Resolved<'_>, req: &RenderedRequest) -> Vec<String> {
    let mut problems = Vec::new();
    let params: Vec<&Value> = parameters(desc, resolved)
        .into_iter()
        .filter(|p| p["in"] == "query")
        .collect();
    let by_name: BTreeMap<&str, &Value> = params
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, *p)))
        .collect();
    let mut sent: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in &req.query {
        sent.entry(name.as_str()).or_default().push(value.as_str());
    }
    for (name, param) in &by_name {
        if param["required"] == true && !sent.contains_key(name) {
            problems.push(format!("required query parameter '{name}' is missing"));
        }
    }
    for (name, values) in &sent {
        if let Some(param) = by_name.get(name) {
            problems.extend(check_query_value(desc, resolved, name, param, values));
            continue;
        }
        // PHP-style nested keys (`filters[namespace][EQUALS]=x`, `sort[...]`) belong to the
        // parameter named by their stem when the operation has one.
        let stem = name.split('[').next().unwrap_or_default();
        let nested = name.contains('[') && name.ends_with(']') && by_name.contains_key(stem);
        if !nested {
            let known: Vec<&str> = by_name.keys().copied().collect();
            problems.push(format!(
                "unknown query parameter '{name}' (the operation takes: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    problems
}

/// A query value as the JSON value of the parameter's type (so a validator can check it).
fn typed(desc: &Description, schema: &Value, text: &str) -> Value {
    match desc.type_of(schema, 0).as_deref() {
        Some("integer") => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(text)),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| json!(text)),
        Some("boolean") => match text {
            "true" => json!(true),
            "false" => json!(false),
            _ => json!(text),
        },
        _ => json!(text),
    }
}

fn check_query_value(
    desc: &Description,
    resolved: &Resolved<'_>,
    name: &str,
    param: &Value,
    values: &[&str],
) -> Vec<String> {
    let schema = to_json_schema(param["schema"].clone());
    let key = format!(
        "query {} {} {name}",
        resolved.template, resolved.operation["operationId"]
    );
    let instance = match desc.type_of(&schema, 0).as_deref() {
        Some("array") => {
            let items = desc
                .deref(&param["schema"])
                .get("items")
                .cloned()
                .unwrap_or(json!({}));
            let items = to_json_schema(items);
            // `explode: false` arrays may also come as one comma-separated value.
            let explode = param.get("explode").and_then(Value::as_bool).unwrap_or(true);
            let parts: Vec<&str> = if explode || values.len() > 1 {
                values.to_vec()
            } else {
                values.iter().flat_map(|v| v.split(',')).collect()
            };
            Value::Array(parts.iter().map(|v| typed(desc, &items, v)).collect())
        }
        _ => {
            if values.len() > 1 {
                return vec![format!(
                    "query parameter '{name}' is repeated but takes one value"
                )];
            }
            typed(desc, &schema, values.first().copied().unwrap_or_default())
        }
    };
    desc.validate(&key, &param["schema"], &instance)
        .into_iter()
        .map(|e| format!("query parameter '{name}'={}: {e}", values.join(",")))
        .collect()
}

fn check_body(desc: &Description, resolved: &Resolved<'_>, req: &RenderedRequest) -> Vec<String> {
    let body = desc.deref(&resolved.operation["requestBody"]);
    let declared: Vec<&str> = body["content"]
        .as_object()
        .map(|c| c.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let Some(content_type) = content_type_of(&req.body) else {
        return match body["required"] == true {
            true => vec![format!(
                "the operation requires a request body ({}) but none is sent",
                declared.join(", ")
            )],
            false => vec![],
        };
    };
    if declared.is_empty() {
        return vec![format!(
            "sends a {content_type} body but the operation declares no request body"
        )];
    }
    if !declared.contains(&content_type.as_str()) {
        return vec![format!(
            "body content type {content_type} is not declared (the operation takes {})",
            declared.join(", ")
        )];
    }
    let Some(schema) = body["content"][&content_type].get("schema") else {
        return vec![];
    };
    let instance = match &req.body {
        RenderedBody::None => return vec![],
        RenderedBody::Json(value) => value.clone(),
        RenderedBody::Text { text, .. } if content_type.ends_with("json") => match serde_json::from_str(text)
        {
            Ok(v) => v,
            Err(e) => return vec![format!("the {content_type} body is not JSON: {e}")],
        },
        RenderedBody::Text { text, .. } => Value::String(text.clone()),
        RenderedBody::Multipart(parts) => {
            let mut fields = Map::new();
            for part in parts {
                let value = Value::String(part.value.clone());
                match fields.get_mut(&part.name) {
                    Some(Value::Array(list)) => list.push(value),
                    Some(first) => *first = json!([first.clone(), value]),
                    None => {
                        fields.insert(part.name.clone(), value);
                    }
                }
            }
            Value::Object(fields)
        }
    };
    let key = format!(
        "body {} {} {content_type}",
        resolved.template, resolved.operation["operationId"]
    );
    desc.validate(&key, schema, &instance)
        .into_iter()
        .map(|e| format!("{content_type} body does not fit the schema: {e}"))
        .collect()
}
