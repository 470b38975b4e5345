//! `kestra-mcp doctor`: checks the configured Kestra the way the server will use it (reachable,
//! credentials accepted, tenant present, version and edition, which tools will be served) and
//! prints a report with every secret masked. Built on the engine: its requests go through the
//! runtime's exchange point with the server's client, and `GET /configs` is the runtime's own.

use std::time::Instant;

use crate::config::{Auth, Config};
use crate::engine::Engine;
use crate::exchange::{CallContext, Delivery};
use crate::runtime::tenant_probe;

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub label: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Runs the checks against `engine`, whose tools are those left after
/// `KESTRA_MCP_DISABLED_TOOLS`.
pub async fn run(config: &Config, engine: &Engine) -> Vec<Check> {
    let mut checks = vec![
        Check {
            label: "Kestra URL",
            ok: true,
            detail: config.base_url.to_string(),
        },
        Check {
            label: "API path",
            ok: config.base_url_problem().is_none(),
            detail: config
                .base_url_problem()
                .unwrap_or_else(|| format!("ends with {}", crate::config::API_PATH)),
        },
        Check {
            label: "tenant",
            ok: true,
            detail: config.tenant.clone(),
        },
        Check {
            label: "credentials",
            ok: true,
            detail: format!("{:?}", config.auth),
        },
    ];
    let runtime = engine.runtime();
    let own = CallContext::default();
    let started = Instant::now();
    let configs = runtime.ask_configs(&own).await;
    let elapsed = started.elapsed().as_millis();
    let (edition, version) = match configs {
        Ok(configs) => {
            checks.push(Check {
                label: "reachable",
                ok: true,
                detail: format!("GET /configs answered {} in {elapsed} ms", configs.status),
            });
            (configs.edition, configs.version)
        }
        Err(e) => {
            checks.push(Check {
                label: "reachable",
                ok: false,
                detail: e.to_string(),
            });
            return checks;
        }
    };
    let version_detail = match (&config.kestra_version, &version) {
        (Some(v), _) => format!("{v} (from KESTRA_VERSION)"),
        (None, Some(v)) => v.clone(),
        (None, None) => "unknown: version-specific tools will fail; set KESTRA_VERSION".into(),
    };
    checks.push(Check {
        label: "version",
        ok: config.kestra_version.is_some() || version.is_some(),
        detail: version_detail,
    });
    checks.push(Check {
        label: "edition",
        ok: true,
        detail: edition
            .clone()
            .unwrap_or_else(|| "not reported (Kestra before 1.0)".into()),
    });
    let (auth_ok, auth_detail) = match runtime.exchange(&own, &tenant_probe(), Delivery::Once).await {
        Ok(a) if a.status < 300 => (
            true,
            format!("GET /{}/flows/search answered {}", config.tenant, a.status),
        ),
        Ok(a) if a.status == 401 || a.status == 403 => {
            let hint = match config.auth {
                Auth::None => "set KESTRA_API_TOKEN or KESTRA_USERNAME/KESTRA_PASSWORD",
                _ => "check the credentials and their permissions",
            };
            (false, format!("refused with {}: {hint}", a.status))
        }
        Ok(a) if a.status == 404 => (false, format!("404: does tenant '{}' exist?", config.tenant)),
        Ok(a) => (false, format!("answered {}", a.status)),
        Err(e) => (false, e.to_string()),
    };
    checks.push(Check {
        label: "credentials and tenant accepted",
        ok: auth_ok,
        detail: auth_detail,
    });
    let tools = engine.tool_set();
    let oss_hides_ee = crate::filter::edition_hides_enterprise(config.disabled_explicit, edition.as_deref());
    let served = match oss_hides_ee {
        true => tools.len() - tools.enterprise().len(),
        false => tools.len(),
    };
    let why = match oss_hides_ee {
        true => format!(
            " ({} Enterprise tools left out: OSS edition)",
            tools.enterprise().len()
        ),
        false => String::new(),
    };
    checks.push(Check {
        label: "tools",
        ok: served > 0,
        detail: format!(
            "{served} served{why}{}",
            surface_notes(config, engine, oss_hides_ee)
        ),
    });
    checks
}

/// What `KESTRA_MCP_READ_ONLY`, `KESTRA_MCP_NAMESPACES` and `KESTRA_MCP_TOOLSETS` change in what
/// sessions see.
fn surface_notes(config: &Config, engine: &Engine, oss_hides_ee: bool) -> String {
    let mut notes = String::new();
    if config.read_only {
        let enterprise = engine.tool_set().enterprise();
        let reading = engine
            .tools()
            .filter(|t| !(oss_hides_ee && enterprise.contains(t.tool.name.as_ref())))
            .filter(|t| !crate::readonly::every_action_writes(t))
            .count();
        notes.push_str(&format!(
            "; KESTRA_MCP_READ_ONLY: {reading} of them listed, reading actions only"
        ));
    }
    if let Some(namespaces) = &config.namespaces {
        notes.push_str(&format!(
            "; requests kept inside KESTRA_MCP_NAMESPACES={}",
            namespaces.shown()
        ));
    }
    if !config.toolsets.is_empty() {
        notes.push_str(&format!(
            "; sessions start with KESTRA_MCP_TOOLSETS={}",
            config.toolsets.join(",")
        ));
    }
    notes
}

/// The report as text lines.
pub fn render(checks: &[Check]) -> String {
    checks
        .iter()
        .map(|c| {
            format!(
                "{} {:<32} {}\n",
                if c.ok { "ok  " } else { "FAIL" },
                c.label,
                c.detail
            )
        })
        .collect()
}
