//! minijinja filters the engine adds for tool specs. Each is general Kestra knowledge (how a KV
//! value or a label is written), never the behaviour of one tool. Pure functions, no I/O.

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

/// Adds the engine's filters to `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("kv_literal", kv_literal);
    env.add_filter("key_value_strings", key_value_strings);
}

/// The body of a KV `PUT`: Kestra reads it as ION, so the text decides the stored type.
/// Strings that already are JSON or a date/time are sent as is (stored as that type); other
/// strings are JSON-quoted (stored as STRING); anything else is sent as JSON.
fn kv_literal(value: Value) -> Result<String, Error> {
    if let Some(text) = value.as_str() {
        let trimmed = text.trim();
        let is_json = serde_json::from_str::<serde_json::Value>(trimmed).is_ok();
        if is_json || looks_like_date_or_datetime(trimmed) {
            return Ok(text.to_owned());
        }
        return serde_json::to_string(text).map_err(json_error);
    }
    serde_json::to_string(&value).map_err(json_error)
}

fn json_error(err: serde_json::Error) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("cannot encode as JSON: {err}"),
    )
}

/// `YYYY-MM-DD`, optionally followed by `T` and a time.
fn looks_like_date_or_datetime(text: &str) -> bool {
    let bytes = text.as_bytes();
    let date_shape = bytes.len() >= 10
        && bytes[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    date_shape && (bytes.len() == 10 || bytes[10] == b'T')
}

/// Labels as Kestra's query parameters want them: `["k:v", ...]` from an object, a list of
/// `{key, value}` objects or a list of `"k:v"` strings. `none` gives an empty list.
fn key_value_strings(value: Value) -> Result<Value, Error> {
    let mut out: Vec<String> = Vec::new();
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => {}
        ValueKind::Map => {
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                out.push(format!("{}:{}", plain(&key), plain(&item)));
            }
        }
        ValueKind::Seq => {
            for item in value.try_iter()? {
                if let Some(s) = item.as_str() {
                    out.push(s.to_owned());
                } else {
                    let key = item.get_attr("key")?;
                    let val = item.get_attr("value")?;
                    if key.is_undefined() {
                        return Err(Error::new(
                            ErrorKind::InvalidOperation,
                            "a label in a list must be \"key:value\" or {key, value}",
                        ));
                    }
                    out.push(format!("{}:{}", plain(&key), plain(&val)));
                }
            }
        }
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("labels must be an object or a list, got {other}"),
            ));
        }
    }
    Ok(Value::from(out))
}

fn plain(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, ctx: serde_json::Value) -> String {
        let mut env = Environment::new();
        register(&mut env);
        env.render_str(src, crate::render::context(&ctx)).unwrap()
    }

    #[test]
    fn kv_literal_follows_kestra_typing() {
        let cases = [
            (serde_json::json!("hello"), "\"hello\""),
            (serde_json::json!("42"), "42"),
            (serde_json::json!("{\"a\":1}"), "{\"a\":1}"),
            (serde_json::json!("2024-05-01"), "2024-05-01"),
            (serde_json::json!("2024-05-01T10:00:00Z"), "2024-05-01T10:00:00Z"),
            (serde_json::json!(42), "42"),
            (serde_json::json!(true), "true"),
            (serde_json::json!({"a": [1, 2]}), "{\"a\":[1,2]}"),
        ];
        for (input, want) in cases {
            assert_eq!(
                render("{{ v | kv_literal }}", serde_json::json!({"v": input})),
                want
            );
        }
    }

    #[test]
    fn key_value_strings_accepts_the_three_label_shapes() {
        let shapes = [
            serde_json::json!({"env": "prod", "team": "data"}),
            serde_json::json!(["env:prod", "team:data"]),
            serde_json::json!([{"key": "env", "value": "prod"}, {"key": "team", "value": "data"}]),
        ];
        for labels in shapes {
            let out = render(
                "{{ l | key_value_strings | join(',') }}",
                serde_json::json!({"l": labels}),
            );
            assert_eq!(out, "env:prod,team:data");
        }
        assert_eq!(
            render(
                "{{ l | key_value_strings | length }}",
                serde_json::json!({"l": null})
            ),
            "0"
        );
    }
}
