//! minijinja filters the engine adds for tool specs. Each is general Kestra knowledge (how a KV
//! value or a label is written), never the behaviour of one tool. Pure functions, no I/O.

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

/// Global functions the engine adds; templates may call them without declaring them.
pub const FUNCTIONS: &[&str] = &["now_utc", "uuid4"];

/// Adds the engine's filters and functions to `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("kv_literal", kv_literal);
    env.add_filter("key_value_strings", key_value_strings);
    env.add_filter("key_value_object", key_value_object);
    env.add_filter("key_value_list", key_value_list);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("merge", merge);
    env.add_filter("similarity", similarity);
    env.add_filter("mutable", mutable);
    env.add_filter("duration_seconds", duration_seconds);
    env.add_filter("elapsed_seconds", elapsed_seconds);
    env.add_filter("add_milliseconds", add_milliseconds);
    env.add_filter("from_pairs", from_pairs);
    env.add_filter("name_key", name_key);
    env.add_filter("prefixed", prefixed);
    env.add_function("now_utc", now_utc);
    env.add_function("uuid4", uuid4);
}

/// Parses YAML text (a flow, a test suite, an app) into a value; invalid YAML is an error.
fn from_yaml(text: &str) -> Result<Value, Error> {
    let parsed: serde_json::Value = yaml_serde::from_str(text)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("invalid YAML: {e}")))?;
    // The same conversion as `render::context`, written out so that filters need no render.
    Ok(Value::from(minijinja::value::Serde(&parsed)))
}

/// The keys of `base` with those of `other` laid over them.
fn merge(base: Value, other: Value) -> Result<Value, Error> {
    let mut out = std::collections::BTreeMap::new();
    for map in [&base, &other] {
        if map.is_none() || map.is_undefined() {
            continue;
        }
        if map.kind() != ValueKind::Map {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("merge needs objects, got {}", map.kind()),
            ));
        }
        for key in map.try_iter()? {
            out.insert(plain(&key), map.get_item(&key)?);
        }
    }
    Ok(Value::from(out))
}

/// `[[key, value], ...]` as an object (the inverse of `items`): keys are made text, a later
/// pair wins; `none` gives an empty object.
fn from_pairs(pairs: Value) -> Result<Value, Error> {
    let mut out = std::collections::BTreeMap::new();
    if pairs.is_none() || pairs.is_undefined() {
        return Ok(Value::from(out));
    }
    for pair in pairs.try_iter()? {
        let not_pair = || {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("from_pairs needs [key, value] pairs, got {pair}"),
            )
        };
        if pair.len() != Some(2) || !matches!(pair.kind(), ValueKind::Seq) {
            return Err(not_pair());
        }
        let key = pair.get_item_by_index(0)?;
        out.insert(plain(&key), pair.get_item_by_index(1)?);
    }
    Ok(Value::from(out))
}

/// A name reduced for comparison: lowercase and trimmed, each run of spaces, tabs, line breaks,
/// hyphens and dots one `_`, and any other character than `a-z`, `0-9` and `_` dropped
/// (`"My Flow-v2.1"` gives `my_flow_v2_1`).
fn name_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_separator = false;
    for c in text.to_lowercase().trim().chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r' | '-' | '.') {
            if !in_separator {
                out.push('_');
            }
            in_separator = true;
            continue;
        }
        in_separator = false;
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        }
    }
    out
}

/// A map as a mutable record: minijinja's `namespace()` object, whose attributes `{% set %}` can
/// change from inside loops and macros. For templates of tools with a `namespace` argument,
/// which hides the `namespace()` function: `{% set st = {"seen": []} | mutable %}`.
fn mutable(defaults: Value) -> Result<Value, Error> {
    minijinja::functions::namespace(Some(defaults.into()))
}

/// `[{key, value}]` (Kestra's label list) as an object; `none` gives an empty object.
fn key_value_object(value: Value) -> Result<Value, Error> {
    let strings = key_value_strings(value)?;
    let mut out = std::collections::BTreeMap::new();
    for s in strings.try_iter()? {
        let s = plain(&s);
        let (k, v) = s.split_once(':').unwrap_or((s.as_str(), ""));
        out.insert(k.to_owned(), Value::from(v));
    }
    Ok(Value::from(out))
}

/// An object (or any label shape) as Kestra's label list `[{key, value}]`.
fn key_value_list(value: Value) -> Result<Value, Error> {
    let strings = key_value_strings(value)?;
    let mut out = Vec::new();
    for s in strings.try_iter()? {
        let s = plain(&s);
        let (k, v) = s.split_once(':').unwrap_or((s.as_str(), ""));
        let entry: std::collections::BTreeMap<&str, Value> =
            [("key", Value::from(k)), ("value", Value::from(v))]
                .into_iter()
                .collect();
        out.push(Value::from(entry));
    }
    Ok(Value::from(out))
}

/// Similarity of two strings from 0 to 1: the ratio of Python's `difflib.SequenceMatcher(None,
/// a, b)` (matching blocks found by longest match first, "autojunk" for 200+ characters), so
/// fuzzy rankings agree with Python tools. An LCS ratio gives other numbers.
fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut b2j: std::collections::HashMap<char, Vec<usize>> = std::collections::HashMap::new();
    for (j, c) in b.iter().enumerate() {
        b2j.entry(*c).or_default().push(j);
    }
    if b.len() >= 200 {
        let limit = b.len() / 100 + 1;
        b2j.retain(|_, places| places.len() <= limit);
    }
    let mut matched = 0;
    let mut queue = vec![(0, a.len(), 0, b.len())];
    while let Some((alo, ahi, blo, bhi)) = queue.pop() {
        let (i, j, k) = longest_match(&a, &b, &b2j, (alo, ahi, blo, bhi));
        if k > 0 {
            matched += k;
            if alo < i && blo < j {
                queue.push((alo, i, blo, j));
            }
            if i + k < ahi && j + k < bhi {
                queue.push((i + k, ahi, j + k, bhi));
            }
        }
    }
    2.0 * matched as f64 / (a.len() + b.len()) as f64
}

/// difflib's `find_longest_match` without a junk function: the earliest longest block of
/// `a[alo..ahi]` equal to one of `b[blo..bhi]`, as (start in a, start in b, length).
fn longest_match(
    a: &[char],
    b: &[char],
    b2j: &std::collections::HashMap<char, Vec<usize>>,
    (alo, ahi, blo, bhi): (usize, usize, usize, usize),
) -> (usize, usize, usize) {
    let (mut besti, mut bestj, mut best) = (alo, blo, 0);
    let mut j2len: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (i, c) in a.iter().enumerate().take(ahi).skip(alo) {
        let mut next = std::collections::HashMap::new();
        for &j in b2j.get(c).map(Vec::as_slice).unwrap_or_default() {
            if j < blo {
                continue;
            }
            if j >= bhi {
                break;
            }
            let k = j.checked_sub(1).and_then(|p| j2len.get(&p)).copied().unwrap_or(0) + 1;
            next.insert(j, k);
            if k > best {
                (besti, bestj, best) = (i + 1 - k, j + 1 - k, k);
            }
        }
        j2len = next;
    }
    // Extend over equal neighbours left out of b2j (the "popular" ones of autojunk).
    while besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1] {
        (besti, bestj, best) = (besti - 1, bestj - 1, best + 1);
    }
    while besti + best < ahi && bestj + best < bhi && a[besti + best] == b[bestj + best] {
        best += 1;
    }
    (besti, bestj, best)
}

/// The current UTC time as ISO 8601 (`2026-11-25T10:00:00Z`), optionally shifted back by
/// `days`, `hours`, `minutes` and `seconds` keyword arguments.
fn now_utc(kwargs: minijinja::value::Kwargs) -> Result<String, Error> {
    let out_of_range = || Error::new(ErrorKind::InvalidOperation, "the time shift is out of range");
    let mut seconds: i64 = 0;
    for (unit, factor) in [
        ("days", 86_400),
        ("hours", 3_600),
        ("minutes", 60),
        ("seconds", 1),
    ] {
        let n: Option<i64> = kwargs.get(unit)?;
        let shift = n.unwrap_or(0).checked_mul(factor).ok_or_else(out_of_range)?;
        seconds = seconds.checked_add(shift).ok_or_else(out_of_range)?;
    }
    kwargs.assert_all_used()?;
    // Arguments come from users: every step is checked, never a panic.
    let delta = chrono::Duration::try_seconds(seconds).ok_or_else(out_of_range)?;
    let when = chrono::Utc::now()
        .checked_sub_signed(delta)
        .ok_or_else(out_of_range)?;
    Ok(when.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The length in seconds of an ISO 8601 duration with days, hours, minutes and seconds
/// (`P30D`, `PT1H`, `P1DT2H30M`, `PT45S`); anything else is an error.
fn duration_seconds(text: &str) -> Result<i64, Error> {
    let invalid = || {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("unsupported ISO 8601 duration {text:?}; use e.g. P30D, PT1H, PT5M, P1DT12H"),
        )
    };
    let rest = text.trim().strip_prefix('P').ok_or_else(invalid)?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, time),
        Some(_) => return Err(invalid()),
        None => (rest, ""),
    };
    let mut total: i64 = 0;
    let mut amounts = 0;
    for (part, units) in [
        (date, &[('D', 86_400)][..]),
        (time, &[('H', 3_600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut part = part;
        for (unit, factor) in units {
            if let Some((number, after)) = part.split_once(*unit) {
                if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                let n: i64 = number.parse().map_err(|_| invalid())?;
                total = n
                    .checked_mul(*factor)
                    .and_then(|s| total.checked_add(s))
                    .ok_or_else(invalid)?;
                amounts += 1;
                part = after;
            }
        }
        if !part.is_empty() {
            return Err(invalid());
        }
    }
    if amounts == 0 {
        return Err(invalid());
    }
    Ok(total)
}

/// An ISO 8601 date-time with an offset (`2026-12-06T16:00:00Z`, `...+02:00`) moved by `delta`
/// milliseconds, in UTC with milliseconds (`2026-12-06T15:59:59.999Z`); anything else is an error.
fn add_milliseconds(text: &str, delta: i64) -> Result<String, Error> {
    let when = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("{text:?} is not an ISO 8601 date-time with an offset, e.g. 2025-04-01T00:00:00Z: {e}"),
        )
    })?;
    let moved = chrono::Duration::try_milliseconds(delta)
        .and_then(|d| when.checked_add_signed(d))
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "the time shift is out of range"))?;
    Ok(moved
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The seconds of a duration as Kestra reports it (`state.duration`: Java's ISO 8601 form,
/// `PT3M16.593087S` → 196.593087; days `P1DT2H` → 93600; a sign on any amount, `PT-0.5S`), as a
/// number with its fraction; `none` when the value is missing or not such a duration, so that one
/// odd row never breaks a listing.
fn elapsed_seconds(value: Value) -> Value {
    value
        .as_str()
        .and_then(parse_elapsed)
        .map_or(Value::from(()), Value::from)
}

/// `[-]P[nD][T[nH][nM][n[.f]S]]` in seconds; weeks, months and years are refused (ambiguous).
fn parse_elapsed(text: &str) -> Option<f64> {
    let (sign, rest) = match text.trim().strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text.trim()),
    };
    let rest = rest.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return None,
        Some((date, time)) => (date, time),
        None => (rest, ""),
    };
    let mut total = 0.0;
    let mut amounts = 0;
    for (mut part, units) in [
        (date, &[('D', 86_400.0)][..]),
        (time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)][..]),
    ] {
        for (unit, factor) in units {
            if let Some((number, after)) = part.split_once(*unit) {
                total += elapsed_amount(number, *unit == 'S')? * factor;
                amounts += 1;
                part = after;
            }
        }
        if !part.is_empty() {
            return None;
        }
    }
    (amounts > 0 && total.is_finite()).then_some(sign * total)
}

/// One amount of a duration: digits with an optional sign, and a fraction for seconds only.
fn elapsed_amount(number: &str, fraction_allowed: bool) -> Option<f64> {
    let digits = number.strip_prefix('-').unwrap_or(number);
    let (whole, fraction) = match digits.split_once(['.', ',']) {
        Some((whole, fraction)) if fraction_allowed => (whole, fraction),
        Some(_) => return None,
        None => (digits, "0"),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let amount: f64 = format!("{whole}.{fraction}").parse().ok()?;
    Some(if digits.len() < number.len() {
        -amount
    } else {
        amount
    })
}

/// A random UUID (for Kestra's AI conversation ids).
fn uuid4() -> String {
    uuid::Uuid::new_v4().to_string()
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

/// Each item of a list as text with `prefix` before it (`["a", "b"] | prefixed("form.")` gives
/// `["form.a", "form.b"]`): Kestra names nested things by their parent's id and a dot.
fn prefixed(value: Value, prefix: &str) -> Result<Value, Error> {
    let items: Vec<String> = match value.kind() {
        ValueKind::Undefined | ValueKind::None => Vec::new(),
        _ => value
            .try_iter()?
            .map(|item| format!("{prefix}{}", plain(&item)))
            .collect(),
    };
    Ok(Value::from(items))
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
    fn yaml_merge_and_label_conversions() {
        let ctx = serde_json::json!({"y": "id: hello\nnamespace: company.team\n", "a": {"x": 1, "y": 2}, "b": {"y": 3}});
        assert_eq!(
            render("{{ (y | from_yaml).namespace }}", ctx.clone()),
            "company.team"
        );
        assert_eq!(render("{{ a | merge(b) | tojson }}", ctx), "{\"x\": 1, \"y\": 3}");
        let labels = serde_json::json!({"l": [{"key": "env", "value": "prod"}]});
        assert_eq!(
            render("{{ l | key_value_object | tojson }}", labels.clone()),
            "{\"env\": \"prod\"}"
        );
        let obj = serde_json::json!({"l": {"team": "data"}});
        assert_eq!(
            render("{{ l | key_value_list | tojson }}", obj),
            "[{\"key\": \"team\", \"value\": \"data\"}]"
        );
    }

    #[test]
    fn pairs_make_objects_and_names_reduce_to_keys() {
        let ctx = serde_json::json!({"p": [["a", 1], ["b", {"x": [2]}], [3, null], ["a", 4]]});
        assert_eq!(
            render("{{ p | from_pairs | tojson }}", ctx),
            "{\"3\": null, \"a\": 4, \"b\": {\"x\": [2]}}"
        );
        assert_eq!(
            render("{{ none | from_pairs | tojson }}", serde_json::json!({})),
            "{}"
        );
        let mut env = Environment::new();
        register(&mut env);
        assert!(env.render_str("{{ [[1]] | from_pairs }}", ()).is_err());
        let names = serde_json::json!({"n": "  My Flow - v2.1\tÉté!_x  "});
        assert_eq!(render("{{ n | name_key }}", names), "my_flow_v2_1_t_x");
    }

    #[test]
    fn similarity_matches_difflib() {
        // difflib.SequenceMatcher(None, "hello_world", "hello_word").ratio() == 0.9523809523809523
        let out = render(
            "{{ 'hello_world' | similarity('hello_word') | round(4) }}",
            serde_json::json!({}),
        );
        assert_eq!(out, "0.9524");
        assert_eq!(
            render("{{ 'abc' | similarity('abc') }}", serde_json::json!({})),
            "1.0"
        );
        // Values of Python's difflib where an LCS ratio differs.
        for (a, b, want) in [
            ("hello_world", "goodbye", 0.1111111111111111),
            ("abcd", "bcde", 0.75),
            (
                "private_data_pipeline",
                "data_pipeline_private",
                0.6190476190476191,
            ),
            ("", "", 1.0),
            ("abc", "", 0.0),
        ] {
            assert_eq!(similarity(a, b), want, "{a} / {b}");
        }
        // 200+ characters: popular characters are junk for the matching, as in difflib.
        let (a, b) = ("ab".repeat(150) + "xyz", "ba".repeat(150) + "xyz");
        assert_eq!(similarity(&a, &b), 0.009900990099009901);
    }

    #[test]
    fn mutable_records_change_inside_loops_and_hide_nothing() {
        let src = "{% set st = {'seen': []} | mutable %}{% for x in l %}{% set st.seen = st.seen + [x] %}{% endfor %}{{ st.seen | join(',') }} {{ namespace }}";
        let out = render(
            src,
            serde_json::json!({"l": ["a", "b"], "namespace": "company.team"}),
        );
        assert_eq!(out, "a,b company.team");
    }

    #[test]
    fn now_utc_shifts_back() {
        let now = render("{{ now_utc() }}", serde_json::json!({}));
        let earlier = render("{{ now_utc(days=1, hours=2) }}", serde_json::json!({}));
        assert_eq!(now.len(), 20);
        assert!(earlier < now, "{earlier} < {now}");
    }

    #[test]
    fn huge_time_shifts_are_errors_not_panics() {
        let mut env = Environment::new();
        register(&mut env);
        for src in [
            "{{ now_utc(days=9223372036854775807) }}",
            "{{ now_utc(days=100000000000) }}",
        ] {
            let err = env.render_str(src, ()).unwrap_err();
            assert!(err.to_string().contains("out of range"), "{err}");
        }
    }

    #[test]
    fn durations_in_seconds_and_times_before_now() {
        let cases = [
            ("P30D", 2_592_000),
            ("PT1H", 3_600),
            ("PT5M", 300),
            ("PT45S", 45),
            ("P1DT2H30M", 95_400),
            ("P0D", 0),
        ];
        for (text, seconds) in cases {
            assert_eq!(duration_seconds(text).unwrap(), seconds, "{text}");
        }
        for bad in [
            "", "P", "PT", "P1DT", "30D", "P1H", "PT1D", "PT1M1H", "P-1D", "P1.5D", "PT1HX",
        ] {
            assert!(duration_seconds(bad).is_err(), "{bad:?} must be refused");
        }
        let now = render("{{ now_utc() }}", serde_json::json!({}));
        let earlier = render(
            "{{ now_utc(seconds='P1D' | duration_seconds) }}",
            serde_json::json!({}),
        );
        assert_eq!(now.len(), 20);
        assert!(earlier < now, "{earlier} < {now}");
    }

    #[test]
    fn add_milliseconds_moves_a_date_time_and_refuses_other_text() {
        let cases = [
            ("2026-12-06T16:00:00Z", -1, "2026-12-06T15:59:59.999Z"),
            ("2026-12-06T16:00:00+02:00", -1, "2026-12-06T13:59:59.999Z"),
            ("2026-12-06T16:00:00.5Z", 0, "2026-12-06T16:00:00.500Z"),
            ("2026-12-31T23:59:59.999Z", 1, "2027-01-01T00:00:00.000Z"),
        ];
        for (text, delta, moved) in cases {
            assert_eq!(add_milliseconds(text, delta).unwrap(), moved, "{text}");
        }
        for bad in ["2026-12-06", "2026-12-06T16:00:00", "yesterday", ""] {
            assert!(add_milliseconds(bad, -1).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn elapsed_seconds_reads_kestra_durations() {
        let cases = [
            ("PT3M16.593087S", "196.593087"),
            ("P1DT2H", "93600.0"),
            ("PT0.5S", "0.5"),
            ("PT26H3M", "93780.0"),
            ("PT1,25S", "1.25"),
            ("P2D", "172800.0"),
            ("PT-0.5S", "-0.5"),
            ("-PT1M", "-60.0"),
            ("PT0S", "0.0"),
        ];
        for (text, seconds) in cases {
            let out = render("{{ d | elapsed_seconds }}", serde_json::json!({"d": text}));
            assert_eq!(out, seconds, "{text}");
        }
        for missing in [
            serde_json::json!({"d": null}),
            serde_json::json!({"d": 12}),
            serde_json::json!({"d": ""}),
            serde_json::json!({"d": "P"}),
            serde_json::json!({"d": "PT"}),
            serde_json::json!({"d": "P1.5D"}),
            serde_json::json!({"d": "P1W"}),
            serde_json::json!({"d": "PT1.S"}),
            serde_json::json!({"d": "PT1M1H"}),
            serde_json::json!({"d": "3 minutes"}),
        ] {
            let out = render("{{ (d | elapsed_seconds) is none }}", missing.clone());
            assert_eq!(out, "True", "{missing}");
        }
        let absent = render(
            "{{ (x.duration | default(none) | elapsed_seconds) | tojson }}",
            serde_json::json!({"x": {}}),
        );
        assert_eq!(absent, "null");
    }

    #[test]
    fn prefixed_names_each_item_under_its_parent() {
        let out = render(
            "{{ ['a', 'b', 1] | prefixed('form.') | tojson }} {{ none | prefixed('x') | tojson }}",
            serde_json::json!({}),
        );
        assert_eq!(out, r#"["form.a", "form.b", "form.1"] []"#);
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
