//! Keeping credentials out of every text that reaches a client or a log. The configured
//! password or token can come back inside Kestra's answers (an echoed header or body, a URL with
//! user info) or in our own messages, as itself or encoded: `user:password`, its base64 (the
//! basic `Authorization` value), the secret's own base64 and its percent-encoded forms.
//!
//! A form of 12 characters or more is replaced wherever it appears. A shorter one is replaced
//! as a whole token only, so that a short or common-word password (`p`,
//! `e`, `main`) never mangles the words it happens to be part of: `broken_by_mcp` stays intact
//! with the password `p`. A token ends where a character that cannot continue an identifier
//! begins (letters, digits, `_`, `-` and `/` continue one); `.` continues one only between two
//! letters or digits (`company.team`), so a sentence's last word is still a whole token.

use std::borrow::Cow;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::Auth;

/// What replaces a secret.
pub const MASK: &str = "***";
/// Forms at least this long are hidden wherever they appear, even inside a longer token (an API
/// token in a path): no ordinary word that long equals a secret by chance.
const LONG_FORM_CHARS: usize = 12;

/// The forms of the configured credentials to hide, longest first (so `user:pass` goes before
/// `pass`).
#[derive(Clone, Default)]
pub struct Secrets {
    forms: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} forms, redacted)", self.forms.len())
    }
}

impl Secrets {
    /// The secrets of `auth`: the password (with `user:password`) or the token.
    pub fn from_auth(auth: &Auth) -> Self {
        let mut forms = Vec::new();
        match auth {
            Auth::None => {}
            Auth::Basic { username, password } => {
                let pair = format!("{username}:{password}");
                forms.push(base64(pair.as_bytes()));
                add_encoded_forms(&mut forms, &pair);
                add_encoded_forms(&mut forms, password);
            }
            Auth::Bearer(token) => add_encoded_forms(&mut forms, token),
        }
        forms.retain(|f| !f.is_empty());
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Secrets { forms }
    }

    /// Whether there is nothing to hide.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every whole-token occurrence of a secret form replaced by [`MASK`].
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = Cow::Owned(replace_tokens(&out, form));
            }
        }
        out
    }
}

/// The secret itself, its base64 and its percent-encoded forms.
fn add_encoded_forms(forms: &mut Vec<String>, secret: &str) {
    forms.push(secret.to_owned());
    forms.push(base64(secret.as_bytes()));
    forms.push(utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string());
    let segment = utf8_percent_encode(secret, crate::render::SEGMENT).to_string();
    // As in a query string (application/x-www-form-urlencoded): a space is `+`.
    forms.push(segment.replace("%20", "+"));
    forms.push(segment);
}

/// Replaces the occurrences of `form` in `text` that are whole tokens.
fn replace_tokens(text: &str, form: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find(form) {
        let start = from + found;
        let end = start + form.len();
        if form.chars().count() >= LONG_FORM_CHARS || is_whole_token(text, start, end) {
            out.push_str(&text[rest..start]);
            out.push_str(MASK);
            rest = end;
            from = end;
        } else {
            // Next candidate: one character further.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&text[rest..]);
    out
}

fn is_whole_token(text: &str, start: usize, end: usize) -> bool {
    let mut before = text[..start].chars().rev();
    let mut after = text[end..].chars();
    !continues(before.next(), before.next()) && !continues(after.next(), after.next())
}

/// Whether `next` (followed by `beyond`, seen from the token outward) continues the token.
fn continues(next: Option<char>, beyond: Option<char>) -> bool {
    match next {
        // `/` too: a path segment that equals a short password is a name (`/main/flows`).
        Some(c) if c.is_alphanumeric() || matches!(c, '_' | '-' | '/') => true,
        Some('.') => beyond.is_some_and(char::is_alphanumeric),
        _ => false,
    }
}

/// Standard base64 with padding (the basic `Authorization` value).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(username: &str, password: &str) -> Secrets {
        Secrets::from_auth(&Auth::Basic {
            username: username.into(),
            password: password.into(),
        })
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b"admin:p"), "YWRtaW46cA==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn short_and_common_passwords_leave_ordinary_text_intact() {
        let ordinary = [
            "Kestra answered 404 to GET /flows/company.team/broken_by_mcp: Flow not found",
            "cannot connect to Kestra at http://localhost:8080: connection refused",
            "Kestra answered 401 to GET /main/flows: unauthorized: check KESTRA_API_TOKEN or KESTRA_USERNAME/KESTRA_PASSWORD",
            "namespace 'kestra_main.passwords' has no flow 'kestra-main-p'",
        ];
        for password in ["p", "e", "password", "main", "kestra"] {
            let secrets = basic("admin", password);
            for text in ordinary {
                assert_eq!(secrets.scrub(text), text, "password {password:?}");
            }
        }
    }

    #[test]
    fn short_and_common_passwords_are_hidden_where_they_appear() {
        for password in ["p", "e", "password", "main", "kestra"] {
            let secrets = basic("admin", password);
            let pair = base64(format!("admin:{password}").as_bytes());
            let texts = [
                format!("Authorization: Basic {pair}"),
                format!("{{\"username\":\"admin\",\"password\":\"{password}\"}}"),
                format!("redirected to http://admin:{password}@host.example/api/v1"),
                format!("login failed for admin:{password}."),
                format!("the password is {password}"),
                format!("?password={password}&x=1"),
            ];
            for text in &texts {
                let clean = secrets.scrub(text);
                assert!(clean.contains(MASK), "{password:?} not hidden in {clean}");
                assert!(!clean.contains(&pair), "{clean}");
                let without_mask = clean.replace(MASK, " ");
                let words: Vec<&str> = without_mask
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .collect();
                assert!(!words.contains(&password), "{password:?} left in {clean}");
            }
        }
    }

    #[test]
    fn encoded_forms_and_tokens_are_hidden() {
        let secrets = basic("admin@kestra.io", "p@ss w/rd");
        let text =
            "echo: p%40ss%20w%2Frd and p%40ss+w%2Frd, header Basic YWRtaW5Aa2VzdHJhLmlvOnBAc3Mgdy9yZA==";
        assert_eq!(secrets.scrub(text), "echo: *** and ***, header Basic ***");
        let token = Secrets::from_auth(&Auth::Bearer("tok-123".into()));
        assert_eq!(
            token.scrub("Authorization: Bearer tok-123; b64 dG9rLTEyMw== but tok-1234 stays"),
            "Authorization: Bearer ***; b64 *** but tok-1234 stays"
        );
        assert!(Secrets::from_auth(&Auth::None).is_empty());
        let long = Secrets::from_auth(&Auth::Bearer("eyJhbGciOiJIUzI1NiJ9".into()));
        assert_eq!(
            long.scrub("GET /x/eyJhbGciOiJIUzI1NiJ9/y and key_eyJhbGciOiJIUzI1NiJ9"),
            "GET /x/***/y and key_***"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let text = format!("{:?}", basic("admin", "hunter2"));
        assert!(!text.contains("hunter2"), "{text}");
    }
}
