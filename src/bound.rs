//! Bounded answers: every tool result that reaches the model fits in
//! `KESTRA_MCP_MAX_RESULT_BYTES` (its compact JSON). A result that does not is cut so that it
//! stays valid JSON of the same shape, and a `truncated` note says what was left out and how to
//! get it (the arguments of the tool that narrow or page the answer).
//!
//! What is cut, largest first, until the result fits:
//! 1. the largest list: only its first items are kept (listings come sorted as the tool says,
//!    so the first ones are the ones the tool ranks first);
//! 2. then the longest text (a flow's source, a log message): its beginning is kept;
//! 3. then any remaining value too large to keep (a huge object): replaced by a short note.

use serde_json::{Map, Value, json};

/// The key of the note added to a cut result (`_truncated` if the result already has one).
const NOTE_KEY: &str = "truncated";

/// Room kept for the note itself, so the noted result still fits.
const NOTE_ROOM: usize = 600;

/// Arguments that narrow or page a listing, in the order a hint names them.
const NARROWING_ARGUMENTS: &[&str] = &[
    "count",
    "page",
    "page_size",
    "size",
    "limit",
    "time_range",
    "start_date",
    "end_date",
    "flow_id",
    "state",
    "level",
    "min_level",
    "q",
    "query",
    "prefix",
];

/// What one cut left out, where.
#[derive(Debug, Clone, PartialEq)]
enum Cut {
    /// `kept` of `total` items of the list at `path`.
    List { path: String, kept: usize, total: usize },
    /// The text at `path` kept its first `kept` of `total` bytes.
    Text { path: String, kept: usize, total: usize },
    /// The value at `path` (`bytes` long) was left out.
    Value { path: String, bytes: usize },
    /// Only the first `kept` of the result's `total` fields were kept.
    Fields { kept: usize, total: usize },
}

/// Bounds `result` to `limit` bytes of compact JSON (`0`: no bound). `arguments` are the names
/// the tool declares: the hint names those that narrow its answer. `unfetched` are the listings
/// whose later pages the call did not read (`exchange::Unfetched`): the note says so even when
/// what was read fits.
pub fn bound(
    mut result: Map<String, Value>,
    limit: usize,
    tool: &str,
    arguments: &[String],
    unfetched: &[Value],
) -> Map<String, Value> {
    let original = size_of_map(&result);
    if limit == 0 || (original <= limit && unfetched.is_empty()) {
        return result;
    }
    let target = limit.saturating_sub(NOTE_ROOM).max(limit / 2);
    let mut cuts = Vec::new();
    for _ in 0..64 {
        if size_of_map(&result) <= target {
            break;
        }
        match cut_once(&mut result, target) {
            Some(cut) => cuts.push(cut),
            None => break,
        }
    }
    if size_of_map(&result) > target {
        cuts.push(keep_first_fields(&mut result, target));
    }
    let mut note = note(&cuts, original, limit, tool, arguments);
    if !unfetched.is_empty() {
        note["pages_not_fetched"] = Value::Array(unfetched.to_vec());
    }
    let key = if result.contains_key(NOTE_KEY) {
        "_truncated"
    } else {
        NOTE_KEY
    };
    result.insert(key.to_owned(), note);
    result
}

/// One cut of the largest thing that can be cut; `None` when nothing can be.
fn cut_once(result: &mut Map<String, Value>, target: usize) -> Option<Cut> {
    let excess = size_of_map(result).saturating_sub(target);
    let mut root = Value::Object(std::mem::take(result));
    let cut = largest(&root, "$", Kind::List)
        .and_then(|(path, _)| cut_list(&mut root, &path, excess))
        .or_else(|| largest(&root, "$", Kind::Text).and_then(|(path, _)| cut_text(&mut root, &path, excess)))
        .or_else(|| largest(&root, "$", Kind::Any).and_then(|(path, _)| drop_value(&mut root, &path)));
    if let Value::Object(map) = root {
        *result = map;
    }
    cut
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A list with more than one item.
    List,
    /// A string long enough to be worth cutting.
    Text,
    /// Any value below the root but not already a cut note.
    Any,
}

/// The JSONPath and size of the largest value of `kind` in `value`.
fn largest(value: &Value, path: &str, kind: Kind) -> Option<(String, usize)> {
    let own = match (kind, value) {
        (Kind::List, Value::Array(items)) if items.len() > 1 => Some((path.to_owned(), size_of(value))),
        (Kind::Text, Value::String(text)) if text.len() > 200 => Some((path.to_owned(), text.len())),
        (Kind::Any, _) if path != "$" && size_of(value) > 200 => Some((path.to_owned(), size_of(value))),
        _ => None,
    };
    let children = children(value, path).filter_map(|(child_path, child)| largest(child, &child_path, kind));
    own.into_iter().chain(children).max_by_key(|(_, size)| *size)
}

fn children<'a>(value: &'a Value, path: &'a str) -> Box<dyn Iterator<Item = (String, &'a Value)> + 'a> {
    match value {
        Value::Array(items) => Box::new(
            items
                .iter()
                .enumerate()
                .map(move |(i, v)| (format!("{path}[{i}]"), v)),
        ),
        Value::Object(map) => Box::new(map.iter().map(move |(k, v)| (child_path(path, k), v))),
        _ => Box::new(std::iter::empty()),
    }
}

fn child_path(path: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{path}.{key}")
    } else {
        format!("{path}['{}']", key.replace('\'', "\\'"))
    }
}

/// Keeps the first items of the list at `path` so that about `excess` bytes go.
fn cut_list(root: &mut Value, path: &str, excess: usize) -> Option<Cut> {
    let Some(Value::Array(items)) = at_mut(root, path) else {
        return None;
    };
    let total = items.len();
    let mut kept = total;
    let mut freed = 0;
    while kept > 1 && freed < excess {
        kept -= 1;
        freed += size_of(&items[kept]) + 1;
    }
    if kept == total {
        return None;
    }
    items.truncate(kept);
    Some(Cut::List {
        path: path.to_owned(),
        kept,
        total,
    })
}

/// Keeps the beginning of the text at `path` so that about `excess` bytes go.
fn cut_text(root: &mut Value, path: &str, excess: usize) -> Option<Cut> {
    let Some(Value::String(text)) = at_mut(root, path) else {
        return None;
    };
    let total = text.len();
    let mut kept = total.saturating_sub(excess + 40).max(total / 8);
    while !text.is_char_boundary(kept) {
        kept -= 1;
    }
    if kept >= total {
        return None;
    }
    text.truncate(kept);
    text.push_str(&format!("… [{} bytes cut]", total - kept));
    Some(Cut::Text {
        path: path.to_owned(),
        kept,
        total,
    })
}

/// Replaces the value at `path` with a note of its size.
fn drop_value(root: &mut Value, path: &str) -> Option<Cut> {
    let slot = at_mut(root, path)?;
    let bytes = size_of(slot);
    *slot = Value::String(format!("[{bytes} bytes left out]"));
    Some(Cut::Value {
        path: path.to_owned(),
        bytes,
    })
}

/// The last resort, for a result of many small fields: keeps its first fields that fit.
fn keep_first_fields(result: &mut Map<String, Value>, target: usize) -> Cut {
    let total = result.len();
    let mut size = 2;
    let mut kept = Map::new();
    for (key, value) in std::mem::take(result) {
        size += size_of(&Value::String(key.clone())) + size_of(&value) + 2;
        if size > target {
            break;
        }
        kept.insert(key, value);
    }
    *result = kept;
    Cut::Fields {
        kept: result.len(),
        total,
    }
}

/// The value at a JSONPath this module wrote (`$.a[3]['b c']`).
fn at_mut<'a>(root: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut current = root;
    let mut rest = path.strip_prefix('$')?;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("['") {
            let end = find_quote_end(after)?;
            let key = after[..end].replace("\\'", "'");
            current = current.get_mut(key.as_str())?;
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let index: usize = after[..end].parse().ok()?;
            current = current.get_mut(index)?;
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            current = current.get_mut(&after[..end])?;
            rest = &after[end..];
        } else {
            return None;
        }
    }
    Some(current)
}

/// The end of a quoted key (`']` not escaped).
fn find_quote_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1))
        .find(|&i| bytes[i] == b'\'' && bytes[i + 1] == b']' && (i == 0 || bytes[i - 1] != b'\\'))
}

/// The note: sizes, each cut, and how to get what was left out.
fn note(cuts: &[Cut], original: usize, limit: usize, tool: &str, arguments: &[String]) -> Value {
    let left_out: Vec<Value> = cuts.iter().map(describe).collect();
    json!({
        "bytes": original,
        "limit": limit,
        "left_out": left_out,
        "how_to_get_more": hint(cuts, tool, arguments),
    })
}

fn describe(cut: &Cut) -> Value {
    match cut {
        Cut::List { path, kept, total } => json!({"path": path, "kept_items": kept, "total_items": total}),
        Cut::Text { path, kept, total } => json!({"path": path, "kept_bytes": kept, "total_bytes": total}),
        Cut::Value { path, bytes } => json!({"path": path, "bytes": bytes}),
        Cut::Fields { kept, total } => json!({"path": "$", "kept_fields": kept, "total_fields": total}),
    }
}

fn hint(cuts: &[Cut], tool: &str, arguments: &[String]) -> String {
    let narrowing: Vec<&str> = NARROWING_ARGUMENTS
        .iter()
        .copied()
        .filter(|name| arguments.iter().any(|a| a == name))
        .collect();
    // Pages left unfetched (no cut of what was read) count as a cut list.
    let listed = cuts.is_empty() || cuts.iter().any(|c| matches!(c, Cut::List { .. }));
    let mut hint = if listed && !narrowing.is_empty() {
        format!(
            "Call {tool} again with narrower arguments ({}) to get the items left out.",
            narrowing.join(", ")
        )
    } else if listed {
        format!("Call {tool} again with narrower arguments, or read single items with a detail tool.")
    } else {
        format!("{tool}'s answer is larger than the result bound; ask for a smaller part of it.")
    };
    hint.push_str(" The bound is KESTRA_MCP_MAX_RESULT_BYTES.");
    hint
}

fn size_of(value: &Value) -> usize {
    serde_json::to_vec(value).map(|v| v.len()).unwrap_or(0)
}

fn size_of_map(map: &Map<String, Value>) -> usize {
    // The same count as serialising the object, without cloning it.
    2 + map
        .iter()
        .map(|(k, v)| size_of(&Value::String(k.clone())) + 1 + size_of(v))
        .sum::<usize>()
        + map.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test values are objects"),
        }
    }

    fn rows(n: usize) -> Value {
        Value::Array(
            (0..n)
                .map(|i| json!({"id": format!("execution-{i:05}"), "state": {"current": "SUCCESS"}, "namespace": "company.team"}))
                .collect(),
        )
    }

    #[test]
    fn small_results_are_untouched() {
        let result = map(json!({"results": rows(3)}));
        assert_eq!(bound(result.clone(), 16_384, "list_executions", &[], &[]), result);
        let huge = map(json!({"results": rows(5_000)}));
        assert_eq!(
            bound(huge.clone(), 0, "list_executions", &[], &[]),
            huge,
            "0 means no bound"
        );
    }

    #[test]
    fn size_of_map_is_the_serialised_size() {
        let result = map(json!({"a": [1, 2], "b c": "d\"e", "": null}));
        assert_eq!(
            size_of_map(&result),
            serde_json::to_vec(&result).map(|v| v.len()).unwrap_or(0)
        );
    }

    #[test]
    fn a_long_listing_keeps_its_first_items_and_says_how_to_get_more() {
        let result = map(json!({"results": rows(1_000), "total": 1_000}));
        let args = vec![
            "namespace".to_owned(),
            "count".to_owned(),
            "time_range".to_owned(),
        ];
        let out = bound(result, 16_384, "list_executions", &args, &[]);
        let size = size_of_map(&out);
        assert!(size <= 16_384, "{size} bytes");
        let kept = out["results"].as_array().map(Vec::len).unwrap_or(0);
        assert!(kept > 100 && kept < 1_000, "kept {kept}");
        assert_eq!(
            out["results"][0]["id"], "execution-00000",
            "the first items are kept"
        );
        let note = &out["truncated"];
        assert_eq!(note["left_out"][0]["path"], "$.results");
        assert_eq!(note["left_out"][0]["kept_items"], kept);
        assert_eq!(note["left_out"][0]["total_items"], 1_000);
        assert_eq!(note["limit"], 16_384);
        let hint = note["how_to_get_more"].as_str().unwrap_or_default();
        assert!(
            hint.contains("list_executions") && hint.contains("count, time_range"),
            "{hint}"
        );
        assert_eq!(out["total"], 1_000, "other fields stay");
    }

    #[test]
    fn a_long_text_keeps_its_beginning() {
        let source = "id: big\n".repeat(10_000);
        let result = map(json!({"id": "big", "source": source}));
        let out = bound(result, 4_096, "manage_flow", &[], &[]);
        assert!(size_of_map(&out) <= 4_096);
        let text = out["source"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("id: big\nid: big\n") && text.ends_with("bytes cut]"),
            "{text}"
        );
        assert_eq!(out["truncated"]["left_out"][0]["path"], "$.source");
        assert_eq!(out["truncated"]["left_out"][0]["total_bytes"], 80_000);
    }

    #[test]
    fn multibyte_text_is_cut_on_a_character_boundary() {
        let result = map(json!({"message": "é".repeat(20_000)}));
        let out = bound(result, 2_048, "search_logs", &[], &[]);
        assert!(size_of_map(&out) <= 2_048);
        assert!(out["message"].as_str().unwrap_or_default().starts_with("éé"));
    }

    #[test]
    fn nested_lists_and_odd_keys_are_found() {
        let result = map(json!({"execution": {"task runs": rows(2_000)}}));
        let out = bound(result, 8_192, "manage_executions", &[], &[]);
        assert!(size_of_map(&out) <= 8_192);
        assert_eq!(
            out["truncated"]["left_out"][0]["path"],
            "$.execution['task runs']"
        );
        assert!(
            out["execution"]["task runs"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0)
                > 10
        );
    }

    #[test]
    fn a_huge_object_without_lists_or_long_texts_is_left_out_with_a_note() {
        let fields: Map<String, Value> = (0..5_000).map(|i| (format!("k{i}"), json!(i))).collect();
        let result = map(json!({"id": "x", "outputs": fields}));
        let out = bound(result, 2_048, "manage_executions", &[], &[]);
        assert!(size_of_map(&out) <= 2_048);
        assert_eq!(out["id"], "x");
        assert!(
            out["outputs"]
                .as_str()
                .unwrap_or_default()
                .contains("bytes left out")
        );
    }

    #[test]
    fn a_result_of_many_small_fields_keeps_its_first_ones() {
        let result: Map<String, Value> = (0..5_000).map(|i| (format!("k{i:04}"), json!(i))).collect();
        let out = bound(result, 2_048, "get_kv", &[], &[]);
        assert!(size_of_map(&out) <= 2_048);
        assert_eq!(out["k0000"], 0);
        assert_eq!(out["truncated"]["left_out"][0]["total_fields"], 5_000);
    }

    #[test]
    fn an_existing_truncated_key_is_kept() {
        let result = map(json!({"truncated": false, "results": rows(1_000)}));
        let out = bound(result, 4_096, "t", &[], &[]);
        assert_eq!(out["truncated"], false);
        assert!(out["_truncated"].is_object());
    }

    #[test]
    fn pages_left_unfetched_are_said_even_when_what_was_read_fits() {
        let result = map(json!({"results": rows(3)}));
        let unfetched = [json!({"pages_fetched": 2, "items_fetched": 200, "items_in_kestra": 5_000})];
        let out = bound(
            result,
            16_384,
            "list_executions",
            &["count".to_owned()],
            &unfetched,
        );
        assert_eq!(out["results"].as_array().map(Vec::len), Some(3));
        assert_eq!(out["truncated"]["pages_not_fetched"][0]["items_in_kestra"], 5_000);
        let hint = out["truncated"]["how_to_get_more"].as_str().unwrap_or_default();
        assert!(hint.contains("narrower arguments (count)"), "{hint}");
    }

    #[test]
    fn paths_round_trip() {
        let mut v = json!({"a": [{"b c": {"d'e": 1}}]});
        assert_eq!(at_mut(&mut v, "$.a[0]['b c']['d\\'e']").cloned(), Some(json!(1)));
        assert_eq!(child_path("$", "d'e"), "$['d\\'e']");
    }
}
