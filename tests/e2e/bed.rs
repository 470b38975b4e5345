//! Where the scenarios run: the test bed (kestra-sim behind Prism, one pair per Kestra version),
//! or a live Kestra given by `KESTRA_E2E_BASE_URL`.

use std::path::PathBuf;

use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Auth {
    Basic(String, String),
    Bearer(String),
}

#[derive(Debug, Clone)]
pub struct Target {
    /// "1.3", "2.0" (test bed) or "live <version>".
    pub label: String,
    /// Kestra 2.x routing (`/executions/{id}/actions/...`).
    pub v2: bool,
    /// `KESTRA_VERSION` for kestra-mcp; `None` lets it probe `GET /configs` itself.
    pub version: Option<String>,
    /// Where kestra-mcp points (Prism, or the live server).
    pub mcp_base_url: String,
    /// Where the scenarios read back directly (the simulator, or the live server).
    pub api_base_url: String,
    pub tenant: String,
    /// Whether kestra-mcp is given `KESTRA_TENANT_ID`.
    pub tenant_explicit: bool,
    pub auth: Auth,
    /// The test bed's simulator (not a real Kestra).
    pub sim: bool,
    /// Enterprise endpoints answer.
    pub ee: bool,
    /// Prism's log for this version (test bed only).
    pub prism_log: Option<PathBuf>,
}

pub enum Discovery {
    Targets(Vec<Target>),
    /// No test bed and none required: the message to print.
    Skip(String),
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

pub fn required() -> bool {
    matches!(var("KESTRA_E2E_REQUIRED").as_deref(), Some("1" | "true" | "yes"))
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The env file of the test bed: `$KESTRA_TESTBED_ENV`, else `<repo>/.tools/testbed/env`.
pub fn env_file() -> PathBuf {
    var("KESTRA_TESTBED_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/testbed/env"))
}

fn read_env_file(path: &PathBuf) -> Option<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect(),
    )
}

/// Whether `url` answers `GET /configs`. With the test bed's credentials: the descriptions
/// declare security on /configs, so Prism refuses an anonymous probe (UNAUTHORIZED) and would
/// log it as a request violation, as a real Kestra with authentication answers it 401.
async fn answers(url: &str) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
    else {
        return false;
    };
    client
        .get(format!("{url}/configs"))
        .basic_auth(SIM_USER, Some(SIM_PASSWORD))
        .send()
        .await
        .is_ok()
}

/// Credentials sent to the test bed (the simulator accepts any; Prism requires one).
const SIM_USER: &str = "admin@kestra.io";
const SIM_PASSWORD: &str = "kestra-sim";

pub async fn discover() -> Discovery {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Some(base) = var("KESTRA_E2E_BASE_URL") {
        return Discovery::Targets(vec![live(base).await]);
    }
    let path = env_file();
    let missing = |why: String| {
        let msg = format!(
            "\n\n!!!!!!!! e2e: NO TEST BED: {why}.\n!!!!!!!! e2e: the end-to-end scenarios did NOT run. \
             Run tests/testbed/run-e2e.sh (or start tests/testbed/start.sh and set KESTRA_TESTBED_ENV),\n\
             !!!!!!!! e2e: or set KESTRA_E2E_BASE_URL for a real Kestra. KESTRA_E2E_REQUIRED=1 turns this into a failure.\n"
        );
        assert!(!required(), "{msg}");
        Discovery::Skip(msg)
    };
    let Some(env) = read_env_file(&path) else {
        return missing(format!("no env file at {}", path.display()));
    };
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let dir = get("KESTRA_TESTBED_DIR").map(PathBuf::from);
    let only = var("KESTRA_E2E_VERSIONS");
    let mut targets = vec![];
    for (tag, label, v2) in [("13", "1.3", false), ("20", "2.0", true)] {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|x| x.trim() == label))
        {
            continue;
        }
        let (Some(sim), Some(prism)) = (
            get(&format!("KESTRA_SIM_{tag}_URL")),
            get(&format!("KESTRA_PRISM_{tag}_URL")),
        ) else {
            return missing(format!("{} lacks the {label} URLs", path.display()));
        };
        if !answers(&sim).await || !answers(&prism).await {
            return missing(format!(
                "{} names a test bed that does not answer ({sim}, {prism})",
                path.display()
            ));
        }
        targets.push(Target {
            label: label.into(),
            v2,
            version: Some(format!("{label}.0")),
            mcp_base_url: prism,
            api_base_url: sim,
            tenant: "main".into(),
            tenant_explicit: false,
            auth: Auth::Basic(SIM_USER.into(), SIM_PASSWORD.into()),
            sim: true,
            ee: true,
            prism_log: dir.as_ref().map(|d| d.join(format!("prism-{tag}.log"))),
        });
    }
    Discovery::Targets(targets)
}

/// The live Kestra of `KESTRA_E2E_BASE_URL`: version and edition from `GET /configs`.
async fn live(base: String) -> Target {
    let base = base.trim_end_matches('/').to_owned();
    let auth = match (
        var("KESTRA_E2E_USERNAME"),
        var("KESTRA_E2E_PASSWORD"),
        var("KESTRA_E2E_API_TOKEN"),
    ) {
        (Some(u), Some(p), _) => Auth::Basic(u, p),
        (_, _, Some(t)) => Auth::Bearer(t),
        _ => panic!(
            "KESTRA_E2E_BASE_URL is set but no credentials: set KESTRA_E2E_API_TOKEN or \
             KESTRA_E2E_USERNAME and KESTRA_E2E_PASSWORD"
        ),
    };
    let tenant = var("KESTRA_E2E_TENANT");
    let mut target = Target {
        label: "live".into(),
        v2: false,
        version: var("KESTRA_E2E_VERSION"),
        mcp_base_url: base.clone(),
        api_base_url: base.clone(),
        tenant: tenant.clone().unwrap_or_else(|| "main".into()),
        tenant_explicit: tenant.is_some(),
        auth,
        sim: false,
        ee: false,
        prism_log: None,
    };
    let api = crate::api::Api::new(&target);
    let configs = api.get("//configs").await;
    assert!(
        configs.ok(),
        "live Kestra at {base}: GET /configs answered {} {}",
        configs.status,
        configs.text
    );
    let version = target
        .version
        .clone()
        .or_else(|| configs.body["version"].as_str().map(str::to_owned))
        .unwrap_or_default();
    target.v2 = version
        .trim_start_matches('v')
        .starts_with(|c: char| c.is_ascii_digit() && c != '0' && c != '1');
    target.label = format!("live {version}");
    target.ee = is_ee(&configs.body, &api).await;
    target
}

/// EE when `/configs` says so, or when an EE endpoint answers (OSS answers 404 there).
async fn is_ee(configs: &Value, api: &crate::api::Api) -> bool {
    match configs["edition"].as_str() {
        Some(e) if e.eq_ignore_ascii_case("EE") => true,
        Some(e) if e.eq_ignore_ascii_case("OSS") => false,
        _ => api.get("/groups/search?page=1&size=1").await.ok(),
    }
}
