//! `kestra-mcp doctor`: checks the configured Kestra the way the server will use it (reachable,
//! credentials accepted, tenant present, version and edition, which tools will be served) and
//! prints a report with every secret masked.

use std::time::Instant;

use serde_json::Value;

use crate::answer::decode_body;
use crate::config::{Auth, Config};
use crate::engine::version_probe;
use crate::filter::{ENTERPRISE_GROUP, edition_hides_enterprise};
use crate::http::KestraClient;
use crate::request::RenderedRequest;
use crate::spec::CompiledTool;
use crate::spec::raw::Scope;

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub label: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Runs the checks; `tools` are the tools left after `KESTRA_MCP_DISABLED_TOOLS`.
pub async fn run(config: &Config, tools: &[CompiledTool]) -> Vec<Check> {
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
    let client = match KestraClient::new(config) {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check {
                label: "HTTP client",
                ok: false,
                detail: e.to_string(),
            });
            return checks;
        }
    };
    let started = Instant::now();
    let configs = client.send_no_retry(&version_probe()).await;
    let elapsed = started.elapsed().as_millis();
    let (edition, version) = match &configs {
        Ok(answer) => {
            let body = decode_body(answer).unwrap_or(Value::Null);
            let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
            checks.push(Check {
                label: "reachable",
                ok: true,
                detail: format!("GET /configs answered {} in {elapsed} ms", answer.status),
            });
            (text("edition"), text("version"))
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
    let probe = RenderedRequest::get(Scope::Tenant, "/flows/search", &[("page", "1"), ("size", "1")]);
    let (auth_ok, auth_detail) = match client.send_no_retry(&probe).await {
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
    let ee = tools.iter().filter(|t| t.group == ENTERPRISE_GROUP).count();
    let oss_hides_ee = edition_hides_enterprise(config.disabled_explicit, edition.as_deref());
    let served = if oss_hides_ee {
        tools.len() - ee
    } else {
        tools.len()
    };
    let why = if oss_hides_ee {
        format!(" ({ee} Enterprise tools left out: OSS edition)")
    } else {
        String::new()
    };
    checks.push(Check {
        label: "tools",
        ok: served > 0,
        detail: format!("{served} served{why}"),
    });
    checks
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
