//! Configuration from the environment (after `.env` is loaded), read the way the Python server
//! reads it, plus kestra-mcp's own knobs (timeouts, response bound). Secrets are kept out of
//! `Debug` output.

use std::time::Duration;

use reqwest::Url;

/// Default `KESTRA_BASE_URL`, as in the Python server.
pub const DEFAULT_BASE_URL: &str = "http://localhost:8080/api/v1";
/// The `KESTRA_MCP_DISABLED_TOOLS` value that disables nothing and serves every tool, whatever
/// the edition.
pub const DISABLED_NONE: &str = "none";
/// The path every Kestra API URL starts with.
pub const API_PATH: &str = "/api/v1";
/// Default tenant (Kestra OSS has exactly this one).
pub const DEFAULT_TENANT: &str = "main";

/// How requests authenticate to Kestra.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic { username: String, password: String },
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => write!(f, "none"),
            // The user name is not a secret; the password never shows.
            Auth::Basic { username, .. } => write!(f, "basic({username}, password=***)"),
            Auth::Bearer(_) => write!(f, "bearer(***)"),
        }
    }
}

/// Everything the engine needs to reach Kestra. `Debug` shows the credentials redacted (see
/// [`Auth`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// `KESTRA_BASE_URL`, without a trailing slash.
    pub base_url: Url,
    /// `KESTRA_TENANT_ID` (default `main`).
    pub tenant: String,
    /// Whether the tenant was set explicitly (then `X-Kestra-Tenant` is sent, as the Python
    /// server does).
    pub tenant_explicit: bool,
    pub auth: Auth,
    /// `KESTRA_MCP_DISABLED_TOOLS`, split and trimmed.
    pub disabled: Vec<String>,
    /// Whether `KESTRA_MCP_DISABLED_TOOLS` is set to a non-empty value (a list, or `none`). When
    /// it is not, the Enterprise tools are left out on a Kestra that reports the OSS edition.
    pub disabled_explicit: bool,
    /// `KESTRA_MCP_LOG_LEVEL` (default `ERROR`).
    pub log_level: String,
    /// `KESTRA_MCP_TIMEOUT` seconds for a whole request (default 30).
    pub timeout: Duration,
    /// `KESTRA_MCP_CONNECT_TIMEOUT` seconds (default 5).
    pub connect_timeout: Duration,
    /// `KESTRA_MCP_MAX_RESPONSE_BYTES`: larger answers are cut off (default 8 MiB).
    pub max_response_bytes: usize,
    /// `KESTRA_MCP_MAX_RESULT_BYTES`: the most a tool result may weigh as compact JSON; larger
    /// ones are cut with a note (`bound.rs`). Default 16 KiB; `0` means no bound.
    pub max_result_bytes: usize,
    /// `KESTRA_VERSION`: the server's version, instead of asking `GET /configs` once.
    pub kestra_version: Option<semver::Version>,
    /// `KESTRA_MCP_PROBE_BACKOFF` seconds (default 5): after `GET /configs` failed, how long
    /// before the edition and version are asked again.
    pub probe_backoff: Duration,
    /// `KESTRA_MCP_TOOLSETS`, split, trimmed and lower-cased: groups, tool names, `all`,
    /// `default`, `dynamic`. Empty when unset (or set empty): every tool, as the Python server.
    pub toolsets: Vec<String>,
    /// `KESTRA_MCP_READ_ONLY`: serve only the tools and variants that read, and refuse any
    /// request that writes. Wins over every other setting.
    pub read_only: bool,
    /// `KESTRA_MCP_NAMESPACES`: the namespaces requests may touch (exact names and `prefix.*`
    /// trees); `None` when unset: every namespace.
    pub namespaces: Option<crate::guard::Namespaces>,
    /// `KESTRA_MCP_WAIT_LIMIT` seconds (default 3600): the longest a `wait` step follows
    /// something (an execution) before answering that it is still going. Independent of
    /// `KESTRA_MCP_TIMEOUT`, which bounds each request.
    pub wait_limit: Duration,
    /// `KESTRA_MCP_KILL_ON_CANCEL`: when the client cancels a call that waits, send the wait's
    /// `on_cancel` request (kill the execution). Default false: the execution keeps running.
    pub kill_on_cancel: bool,
    /// `KESTRA_MCP_TOOLS_PAGE_SIZE`: how many tools one `tools/list` page holds (MCP cursor
    /// pagination); `None` when unset: every tool in one page.
    pub tools_page_size: Option<usize>,
    /// The tasks extension's limits (`KESTRA_MCP_TASK_TTL`, `KESTRA_MCP_MAX_TASKS`).
    pub tasks: TaskSettings,
}

/// A configuration value that cannot be used.
/// The tasks extension's limits: `KESTRA_MCP_TASK_TTL` and `KESTRA_MCP_MAX_TASKS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSettings {
    /// How long a task lives from its creation (and a finished one is kept after that).
    pub ttl: Duration,
    /// The most tasks held at once; `0`: the extension is off.
    pub max: usize,
}

impl TaskSettings {
    pub fn enabled(&self) -> bool {
        self.max > 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl Config {
    /// Reads the configuration through `get` (the process environment in `main`, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let base_url =
            parse_base_url(&non_empty("KESTRA_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.into()))?;
        let tenant_explicit = non_empty("KESTRA_TENANT_ID").is_some();
        let tenant = non_empty("KESTRA_TENANT_ID").unwrap_or_else(|| DEFAULT_TENANT.into());
        if tenant.contains(['/', '\\', '?', '#', '%']) || tenant == "." || tenant == ".." {
            return Err(ConfigError {
                name: "KESTRA_TENANT_ID",
                message: format!("'{tenant}' is not a tenant id (letters, digits, '-' and '_')"),
            });
        }
        // Basic auth wins when both are configured, as in the Python server.
        let auth = match (
            non_empty("KESTRA_USERNAME"),
            get("KESTRA_PASSWORD").filter(|p| !p.is_empty()),
            non_empty("KESTRA_API_TOKEN"),
        ) {
            (Some(username), Some(password), _) => Auth::Basic { username, password },
            (_, _, Some(token)) => Auth::Bearer(token),
            _ => Auth::None,
        };
        // Empty counts as unset, as for every variable (a `.env` copied with an empty value, or
        // `${VAR}` in a compose file, means "not chosen"); `none` chooses "every tool".
        let disabled_raw = non_empty("KESTRA_MCP_DISABLED_TOOLS");
        let disabled = disabled_raw
            .as_deref()
            .filter(|list| !list.eq_ignore_ascii_case(DISABLED_NONE))
            .map(|list| split_list(list).collect())
            .unwrap_or_default();
        Ok(Config {
            base_url,
            tenant,
            tenant_explicit,
            auth,
            disabled,
            disabled_explicit: disabled_raw.is_some(),
            log_level: non_empty("KESTRA_MCP_LOG_LEVEL").unwrap_or_else(|| "ERROR".into()),
            timeout: seconds(&non_empty, "KESTRA_MCP_TIMEOUT", 30.0)?,
            connect_timeout: seconds(&non_empty, "KESTRA_MCP_CONNECT_TIMEOUT", 5.0)?,
            max_response_bytes: bytes(&non_empty, "KESTRA_MCP_MAX_RESPONSE_BYTES", 8 * 1024 * 1024)?,
            max_result_bytes: result_bytes(&non_empty, "KESTRA_MCP_MAX_RESULT_BYTES")?,
            probe_backoff: seconds(&non_empty, "KESTRA_MCP_PROBE_BACKOFF", 5.0)?,
            toolsets: non_empty("KESTRA_MCP_TOOLSETS")
                .map(|list| split_list(&list).map(|s| s.to_ascii_lowercase()).collect())
                .unwrap_or_default(),
            read_only: flag(&non_empty, "KESTRA_MCP_READ_ONLY")?,
            namespaces: match non_empty(crate::guard::SETTING) {
                Some(list) => {
                    crate::guard::Namespaces::parse(&list, crate::guard::SETTING).map_err(|message| {
                        ConfigError {
                            name: crate::guard::SETTING,
                            message,
                        }
                    })?
                }
                None => None,
            },
            wait_limit: seconds(&non_empty, "KESTRA_MCP_WAIT_LIMIT", 3600.0)?,
            kill_on_cancel: flag(&non_empty, "KESTRA_MCP_KILL_ON_CANCEL")?,
            tools_page_size: match non_empty("KESTRA_MCP_TOOLS_PAGE_SIZE") {
                Some(_) => Some(whole_number(
                    &non_empty,
                    "KESTRA_MCP_TOOLS_PAGE_SIZE",
                    0,
                    1,
                    "a positive number of tools",
                )?),
                None => None,
            },
            tasks: TaskSettings {
                ttl: seconds(&non_empty, "KESTRA_MCP_TASK_TTL", 7200.0)?,
                max: count(&non_empty, "KESTRA_MCP_MAX_TASKS", 100)?,
            },
            kestra_version: match non_empty("KESTRA_VERSION") {
                Some(v) => Some(parse_version(&v).map_err(|message| ConfigError {
                    name: "KESTRA_VERSION",
                    message,
                })?),
                None => None,
            },
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Why `KESTRA_BASE_URL` looks wrong, with the fix: its path does not end with `/api/v1`
    /// (e.g. `http://localhost:8080`, or a UI address such as `.../ui/main/flows`), so every
    /// request goes to a path Kestra answers 404 to.
    pub fn base_url_problem(&self) -> Option<String> {
        let path = self.base_url.path().trim_end_matches('/');
        if path.ends_with(API_PATH) {
            return None;
        }
        let ui = ui_prefix(path);
        let root = ui.unwrap_or(path);
        let fix = format!("{}{root}{API_PATH}", self.base_url.origin().ascii_serialization());
        let what = match ui {
            Some(_) => "looks like an address of Kestra's UI, not of its API",
            None => "does not end with /api/v1",
        };
        Some(format!(
            "KESTRA_BASE_URL '{}' {what}: requests go to {}/{}/... where Kestra answers 404; set KESTRA_BASE_URL={fix}",
            self.base_url,
            self.base_url.as_str().trim_end_matches('/'),
            self.tenant
        ))
    }
}

/// The part of `path` before a `/ui` segment, if it has one.
fn ui_prefix(path: &str) -> Option<&str> {
    let mut at = 0;
    while let Some(found) = path[at..].find("/ui") {
        let start = at + found;
        let end = start + 3;
        if path[end..].is_empty() || path[end..].starts_with('/') {
            return Some(&path[..start]);
        }
        at = end;
    }
    None
}

/// A Kestra version such as `1.3`, `1.3.2` or `2.0.0-SNAPSHOT`, without its pre-release tag
/// (a snapshot of 2.0 speaks the 2.0 API).
pub fn parse_version(text: &str) -> Result<semver::Version, String> {
    let core = text.trim().trim_start_matches('v');
    let core = core.split(['-', '+']).next().unwrap_or_default();
    let mut parts: Vec<&str> = core.split('.').collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    semver::Version::parse(&parts.join("."))
        .map_err(|e| format!("'{text}' is not a Kestra version such as 1.3 or 2.0.1 ({e})"))
}

fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let fail = |message: String| ConfigError {
        name: "KESTRA_BASE_URL",
        message,
    };
    let mut url = Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| fail(format!("'{raw}' is not a URL: {e} (e.g. {DEFAULT_BASE_URL})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(fail(format!(
            "'{raw}' must be an http:// or https:// URL with a host"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail(
            "must not contain credentials: use KESTRA_USERNAME/KESTRA_PASSWORD or KESTRA_API_TOKEN".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(fail(format!("'{raw}' must not have a query or fragment")));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// The non-empty, trimmed items of a comma-separated list.
fn split_list(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A yes/no setting (unset: no). A value that is neither is refused rather than read as "no":
/// `KESTRA_MCP_READ_ONLY=ture` must not silently serve the writing tools.
fn flag(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(false);
    };
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError {
            name,
            message: format!("'{raw}' is neither true nor false (true, false, 1, 0, yes, no, on, off)"),
        }),
    }
}

fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: f64,
) -> Result<Duration, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(Duration::from_secs_f64(default));
    };
    match raw.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(ConfigError {
            name,
            message: format!("'{raw}' is not a positive number of seconds"),
        }),
    }
}

/// A count of at least 0 (`name` unset: `default`).
fn count(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: usize,
) -> Result<usize, ConfigError> {
    whole_number(get, name, default, 0, "a count (0 or more)")
}

fn bytes(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: usize,
) -> Result<usize, ConfigError> {
    whole_number(get, name, default, 1024, "a byte count of at least 1024")
}

/// `name` as a whole number of at least `min` (`name` unset: `default`); else an error saying
/// the value is not `what`.
fn whole_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: usize,
    min: usize,
    what: &str,
) -> Result<usize, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(ConfigError {
                name,
                message: format!("'{raw}' is not {what}"),
            }),
        },
    }
}

/// The default bound of a tool result: 16 KiB, about 4,000 tokens of a model's context.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 16 * 1024;

/// `KESTRA_MCP_MAX_RESULT_BYTES`: `0` (no bound) or at least 1024 bytes.
fn result_bytes(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<usize, ConfigError> {
    match get(name).as_deref() {
        Some("0") => Ok(0),
        _ => bytes(get, name, DEFAULT_MAX_RESULT_BYTES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_python_server() {
        let c = config(&[]).unwrap();
        assert_eq!(c.base_url.as_str(), "http://localhost:8080/api/v1");
        assert_eq!(c.tenant, "main");
        assert!(!c.tenant_explicit);
        assert_eq!(c.auth, Auth::None);
        assert!(c.disabled.is_empty());
        assert_eq!(c.log_level, "ERROR");
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.wait_limit, Duration::from_secs(3600));
        assert!(!c.kill_on_cancel);
    }

    #[test]
    fn basic_auth_wins_over_a_token() {
        let c = config(&[
            ("KESTRA_USERNAME", "a@b.c"),
            ("KESTRA_PASSWORD", "pw"),
            ("KESTRA_API_TOKEN", "tok"),
        ])
        .unwrap();
        assert_eq!(
            c.auth,
            Auth::Basic {
                username: "a@b.c".into(),
                password: "pw".into()
            }
        );
        let c = config(&[("KESTRA_USERNAME", "a@b.c"), ("KESTRA_API_TOKEN", "tok")]).unwrap();
        assert_eq!(c.auth, Auth::Bearer("tok".into()));
        assert_eq!(format!("{:?}", c.auth), "bearer(***)");
    }

    #[test]
    fn disabled_list_is_split_and_trimmed() {
        let c = config(&[("KESTRA_MCP_DISABLED_TOOLS", " ee, logs ,,search_flows ")]).unwrap();
        assert_eq!(c.disabled, vec!["ee", "logs", "search_flows"]);
        assert!(c.disabled_explicit);
    }

    #[test]
    fn an_empty_disabled_list_counts_as_unset_and_none_serves_every_tool() {
        for empty in ["", "  "] {
            let c = config(&[("KESTRA_MCP_DISABLED_TOOLS", empty)]).unwrap();
            assert!(c.disabled.is_empty() && !c.disabled_explicit, "{empty:?}");
        }
        for none in ["none", " None "] {
            let c = config(&[("KESTRA_MCP_DISABLED_TOOLS", none)]).unwrap();
            assert!(c.disabled.is_empty() && c.disabled_explicit, "{none:?}");
        }
    }

    #[test]
    fn toolsets_are_split_lower_cased_and_empty_means_unset() {
        let c = config(&[("KESTRA_MCP_TOOLSETS", " Dynamic, flow ,,KV ")]).unwrap();
        assert_eq!(c.toolsets, vec!["dynamic", "flow", "kv"]);
        for empty in ["", "  ", " , "] {
            let c = config(&[("KESTRA_MCP_TOOLSETS", empty)]).unwrap();
            assert!(c.toolsets.is_empty(), "{empty:?}");
        }
    }

    #[test]
    fn read_only_is_a_flag_and_a_typo_is_refused() {
        assert!(!config(&[]).unwrap().read_only);
        assert!(!config(&[("KESTRA_MCP_READ_ONLY", " ")]).unwrap().read_only);
        for yes in ["true", "TRUE", "1", "yes", "on"] {
            assert!(
                config(&[("KESTRA_MCP_READ_ONLY", yes)]).unwrap().read_only,
                "{yes}"
            );
        }
        for no in ["false", "0", "No", "off"] {
            assert!(
                !config(&[("KESTRA_MCP_READ_ONLY", no)]).unwrap().read_only,
                "{no}"
            );
        }
        let err = config(&[("KESTRA_MCP_READ_ONLY", "ture")]).unwrap_err();
        assert_eq!(err.name, "KESTRA_MCP_READ_ONLY");
    }

    #[test]
    fn a_base_url_without_the_api_path_is_explained_with_the_fix() {
        let problem = |url: &str| config(&[("KESTRA_BASE_URL", url)]).unwrap().base_url_problem();
        assert_eq!(problem("http://localhost:8080/api/v1"), None);
        assert_eq!(problem("https://k.example/kestra/api/v1/"), None);
        assert_eq!(
            problem("http://localhost:8080").as_deref(),
            Some(
                "KESTRA_BASE_URL 'http://localhost:8080/' does not end with /api/v1: requests go to http://localhost:8080/main/... where Kestra answers 404; set KESTRA_BASE_URL=http://localhost:8080/api/v1"
            )
        );
        let ui = problem("http://localhost:8080/ui/main/flows").unwrap();
        assert!(ui.contains("looks like an address of Kestra's UI"), "{ui}");
        assert!(
            ui.ends_with("set KESTRA_BASE_URL=http://localhost:8080/api/v1"),
            "{ui}"
        );
        let sub = problem("https://k.example/kestra/ui").unwrap();
        assert!(
            sub.ends_with("set KESTRA_BASE_URL=https://k.example/kestra/api/v1"),
            "{sub}"
        );
        assert!(
            problem("http://k/uid")
                .unwrap()
                .ends_with("KESTRA_BASE_URL=http://k/uid/api/v1")
        );
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            (("KESTRA_BASE_URL", "localhost:8080"), "KESTRA_BASE_URL"),
            (("KESTRA_BASE_URL", "ftp://x/api/v1"), "KESTRA_BASE_URL"),
            (("KESTRA_BASE_URL", "http://u:p@x/api/v1"), "KESTRA_BASE_URL"),
            (("KESTRA_TENANT_ID", "../other"), "KESTRA_TENANT_ID"),
            (("KESTRA_TENANT_ID", ".."), "KESTRA_TENANT_ID"),
            (("KESTRA_TENANT_ID", "."), "KESTRA_TENANT_ID"),
            (("KESTRA_MCP_TIMEOUT", "soon"), "KESTRA_MCP_TIMEOUT"),
            (
                ("KESTRA_MCP_MAX_RESPONSE_BYTES", "-1"),
                "KESTRA_MCP_MAX_RESPONSE_BYTES",
            ),
            (("KESTRA_MCP_WAIT_LIMIT", "forever"), "KESTRA_MCP_WAIT_LIMIT"),
            (
                ("KESTRA_MCP_KILL_ON_CANCEL", "maybe"),
                "KESTRA_MCP_KILL_ON_CANCEL",
            ),
            (("KESTRA_MCP_TOOLS_PAGE_SIZE", "0"), "KESTRA_MCP_TOOLS_PAGE_SIZE"),
            (
                ("KESTRA_MCP_TOOLS_PAGE_SIZE", "ten"),
                "KESTRA_MCP_TOOLS_PAGE_SIZE",
            ),
        ];
        for ((name, value), want) in cases {
            assert_eq!(config(&[(name, value)]).unwrap_err().name, want, "{name}={value}");
        }
        let err = config(&[("KESTRA_BASE_URL", "http://u:secret@x/api/v1")]).unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn versions_are_read_leniently() {
        for (text, want) in [
            ("1.3", "1.3.0"),
            ("2.0.0-SNAPSHOT", "2.0.0"),
            ("v1.3.2", "1.3.2"),
            ("2", "2.0.0"),
        ] {
            assert_eq!(parse_version(text).unwrap().to_string(), want);
        }
        assert!(parse_version("latest").is_err());
        let c = config(&[("KESTRA_VERSION", "2.0")]).unwrap();
        assert_eq!(c.kestra_version.unwrap().to_string(), "2.0.0");
    }

    #[test]
    fn trailing_slashes_are_removed() {
        let c = config(&[("KESTRA_BASE_URL", "https://kestra.example.com/api/v1/")]).unwrap();
        assert_eq!(c.base_url.as_str(), "https://kestra.example.com/api/v1");
    }
}
