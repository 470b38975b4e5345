//! Reads Prism's log (tests/testbed/start.sh runs `prism proxy --errors`) after the scenarios.
//!
//! - A request Prism rejects (it answers 4xx itself, the simulator never sees it) is logged as
//!   `[HTTP SERVER] <method> <path> ✖ error Request terminated with error: …errors#KIND: …`.
//!   Everything sent through Prism during the suite comes from kestra-mcp (the scenarios read
//!   back from the simulator directly), and the overlay is already applied to the description
//!   Prism uses, so any such line is a violation by kestra-mcp that the overlay does not cover.
//! - A response that does not fit the description is logged by the validator as
//!   `[VALIDATOR] ⚠ warning Violation: response …` (or terminates with `errors#VIOLATIONS`): the
//!   simulator or the description is at fault, not kestra-mcp. The overlay (openapi/
//!   overlay.yaml) already covers what a real Kestra does beyond its description, each case with
//!   its evidence, so the runner fails on these too: fix the simulator or add a reviewed entry.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `request` or `response`.
    pub side: &'static str,
    pub method: String,
    pub path: String,
    pub detail: String,
}

/// The log's size now, to read only what the suite adds.
pub fn offset(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Violations in `path` after byte `from`.
pub fn scan(path: &Path, from: u64) -> Vec<Violation> {
    let Ok(bytes) = std::fs::read(path) else {
        return vec![];
    };
    let start = usize::try_from(from).unwrap_or(0).min(bytes.len());
    parse(&String::from_utf8_lossy(&bytes[start..]))
}

pub fn parse(log: &str) -> Vec<Violation> {
    let mut out = vec![];
    // Requests run concurrently, so Prism's lines interleave. The validator's verdict on a
    // response follows the `The upstream call to <path> has returned <status>` line of that
    // response; the method comes from the oldest pending `Forwarding "<method>" request to
    // <url>` line for the same path.
    let mut forwarded: Vec<(String, String)> = vec![];
    let mut last_upstream = (String::new(), String::new());
    for line in log.lines() {
        if let Some(rest) = line.split("[HTTP SERVER] ").nth(1) {
            let mut words = rest.split_whitespace();
            let method = words.next().unwrap_or_default().to_uppercase();
            let path = words.next().unwrap_or_default().to_owned();
            if let Some(err) = rest.split("Request terminated with error: ").nth(1) {
                let kind = err.split("errors#").nth(1).unwrap_or(err).to_owned();
                let side = if kind.starts_with("VIOLATIONS") {
                    "response"
                } else {
                    "request"
                };
                out.push(Violation {
                    side,
                    method,
                    path,
                    detail: kind,
                });
            }
        } else if let Some(rest) = line.split("Forwarding \"").nth(1) {
            let method = rest.split('"').next().unwrap_or_default().to_uppercase();
            let url = rest.split(" request to ").nth(1).unwrap_or_default();
            let url = url.trim_end().trim_end_matches("...");
            let path = url_path(url.split('?').next().unwrap_or_default());
            forwarded.push((path, method));
        } else if let Some(rest) = line.split("The upstream call to ").nth(1) {
            let path = rest.split_whitespace().next().unwrap_or_default();
            let method = forwarded
                .iter()
                .position(|(p, _)| p == path)
                .map(|i| forwarded.remove(i).1)
                .unwrap_or_else(|| "?".into());
            let status = rest.split("returned ").nth(1).unwrap_or("?").trim();
            last_upstream = (method, format!("{path} ({status})"));
        } else if line.contains("[VALIDATOR]") && line.contains("Violation:") {
            let detail = line.split("Violation: ").nth(1).unwrap_or_default().to_owned();
            let side = if detail.starts_with("request") {
                "request"
            } else {
                "response"
            };
            out.push(Violation {
                side,
                method: last_upstream.0.clone(),
                path: last_upstream.1.clone(),
                detail,
            });
        }
    }
    out
}

/// `/api/v1/…` of `http://host:port/api/v1/…`.
fn url_path(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_request_and_response_violations() {
        let log = "\
[3:57:54 PM] › [HTTP SERVER] get /api/v1/configs ℹ  info      Request received
[3:58:03 PM] › [HTTP SERVER] put /api/v1/main/namespaces/a/kv/x ✖  error     Request terminated with error: https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY: Invalid request
[3:58:12 PM] › [HTTP SERVER] post /api/v1/main/executions/X/pause ℹ  info      Request received
[3:58:12 PM] ›     [PROXY] ℹ  info      > Forwarding \"post\" request to http://127.0.0.1:1/api/v1/main/executions/X/pause...
[3:58:12 PM] › [HTTP SERVER] get /api/v1/main/flows/a/b ℹ  info      Request received
[3:58:12 PM] ›     [PROXY] ℹ  info      > Forwarding \"get\" request to http://127.0.0.1:1/api/v1/main/flows/a/b?x=1...
[3:58:12 PM] ›     [PROXY] ℹ  info      The upstream call to /api/v1/main/executions/X/pause has returned 404
[3:58:12 PM] ›     [VALIDATOR] ⚠  warning   Violation: response Unable to match the returned status code with those defined in the document: 200,409
";
        let v = parse(log);
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].side, "request");
        assert_eq!(v[0].method, "PUT");
        assert_eq!(v[0].path, "/api/v1/main/namespaces/a/kv/x");
        assert!(v[0].detail.starts_with("UNPROCESSABLE_ENTITY"));
        assert_eq!(v[1].side, "response");
        assert_eq!(v[1].method, "POST");
        assert!(v[1].path.contains("/executions/X/pause (404)"), "{:?}", v[1]);
    }
}
