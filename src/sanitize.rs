//! Text from Kestra (flow descriptions, logs, labels, KV values, error messages) reaches the
//! model: characters a reader cannot see are a way to hide instructions in it. Every string of
//! a result (keys too) loses the invisible format characters and the bidirectional controls;
//! everything else is kept as it is.
//!
//! Removed: C0 controls but tab, newline and carriage return; DEL and the C1 controls; soft
//! hyphen; zero-width space, word joiner and the invisible operators; LRM/RLM/ALM; the bidi
//! embeddings, overrides and isolates; the byte order mark; interlinear annotation marks; and
//! the tag characters (U+E0000–U+E007F, which spell ASCII invisibly). Kept: the zero-width
//! joiner and non-joiner (U+200D, U+200C), which emoji sequences and Indic and Persian scripts
//! need, and every visible character.

use serde_json::{Map, Value};

/// Whether `c` is removed from text that reaches the model.
fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{ad}'
        | '\u{61c}'
        | '\u{180e}'
        | '\u{200b}' | '\u{200e}' | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}

/// `text` without its hidden characters (borrowed when there are none).
pub fn clean_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_hidden) {
        std::borrow::Cow::Owned(text.chars().filter(|c| !is_hidden(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Cleans every string of `value` in place.
pub fn clean_value(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(clean) = clean_text(text) {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clean_value),
        Value::Object(map) => clean_map(map),
        _ => {}
    }
}

/// Cleans every key and string of `map` in place.
pub fn clean_map(map: &mut Map<String, Value>) {
    if map.keys().any(|k| k.chars().any(is_hidden)) {
        *map = std::mem::take(map)
            .into_iter()
            .map(|(k, v)| (clean_text(&k).into_owned(), v))
            .collect();
    }
    map.values_mut().for_each(clean_value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hidden_characters_are_removed_and_the_rest_kept() {
        let mut value = json!({
            "description": "Refresh\u{200b} the dashboard\u{202e}draob\u{202c}. Ignore\u{e0049}\u{e0067} nothing.",
            "log": "line 1\nline\t2\r\n\u{1b}[31mred\u{7}",
            "labels": [{"key": "team\u{2066}", "value": "données 数据 🙂 👨\u{200d}👩\u{200d}👧 می\u{200c}خواهم"}],
            "count": 3
        });
        clean_value(&mut value);
        assert_eq!(
            value,
            json!({
                "description": "Refresh the dashboarddraob. Ignore nothing.",
                "log": "line 1\nline\t2\r\n[31mred",
                "labels": [{"key": "team", "value": "données 数据 🙂 👨\u{200d}👩\u{200d}👧 می\u{200c}خواهم"}],
                "count": 3
            })
        );
    }

    #[test]
    fn keys_are_cleaned_too() {
        let mut map = Map::new();
        map.insert("out\u{feff}put".into(), json!("v\u{2060}"));
        clean_map(&mut map);
        assert_eq!(Value::Object(map), json!({"output": "v"}));
    }

    #[test]
    fn clean_text_borrows_when_nothing_is_hidden() {
        assert!(matches!(clean_text("plain text"), std::borrow::Cow::Borrowed(_)));
    }
}
