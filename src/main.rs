//! The `kestra-mcp` command: with no subcommand, the MCP server on stdio (what AI clients
//! start); `serve --http ADDR` serves Streamable HTTP instead; `doctor` checks the configured
//! Kestra; `tools ...` helps tool authors. On stdio, stdout belongs to the protocol: everything
//! else goes to stderr. `anyhow` is used here only, at the edge.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kestra_mcp::config::Config;
#[cfg(feature = "contract")]
use kestra_mcp::contract::{self, Descriptions};
use kestra_mcp::engine::Engine;
use kestra_mcp::filter::{Toolsets, all_groups, apply_disabled, apply_disabled_with_groups};
use kestra_mcp::flows::FlowToolSettings;
use kestra_mcp::flows::selection::{self, Selection};
use kestra_mcp::flows::source::{self as flow_source, FlowSource};
use kestra_mcp::reload::{self, Kick, Subscribers};
use kestra_mcp::serve::KestraMcp;
use kestra_mcp::serve_http::{HttpOptions, serve_http};
use kestra_mcp::spec::{Catalog, LoadOptions, load_catalog, raw::spec_json_schema};
use kestra_mcp::spectest;
use rmcp::ServiceExt;
use tracing_subscriber::EnvFilter;

/// How often a watched tools directory is checked when no file event arrives.
const WATCH_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// How long the last answers may take to reach stdout once the session has ended.
const WRITER_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// How long, at end of input, the requests already read may take to be answered: a call's own
/// bound (KESTRA_MCP_TIMEOUT for each of a GET's three attempts), plus the edition probe.
fn drain_limit(config: &Config) -> std::time::Duration {
    config.timeout * 3 + config.connect_timeout
}

#[derive(Parser)]
#[command(
    name = "kestra-mcp",
    version,
    about = "MCP server for the Kestra workflow orchestrator"
)]
struct Cli {
    /// Directory of tool specs that add to or replace the built-in ones.
    #[arg(long, env = "KESTRA_MCP_TOOLS_DIR", global = true)]
    tools_dir: Option<PathBuf>,
    /// Skip broken spec files with a warning instead of refusing to start.
    #[arg(
        long,
        env = "KESTRA_MCP_SKIP_INVALID_SPECS",
        global = true,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    skip_invalid_specs: bool,
    /// Reload the tools directory when it changes and tell clients (`tools/list_changed`); a
    /// broken directory keeps the previous tools.
    #[arg(
        long,
        env = "KESTRA_MCP_WATCH",
        global = true,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    watch: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check the configured Kestra: reachable, credentials and tenant accepted, version,
    /// edition, and which tools will be served (secrets masked). Non-zero exit on a failure.
    Doctor,
    /// Serve MCP: on stdio (the default, also with no subcommand), or over HTTP with `--http`.
    Serve {
        /// Serve Streamable HTTP at this address (endpoint `/mcp`), e.g. 127.0.0.1:8000.
        /// Clients must send `Authorization: Bearer $KESTRA_MCP_HTTP_TOKEN` when it is set.
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// A `Host` header value to accept besides loopback names (behind a proxy); repeatable.
        #[arg(long = "allowed-host", value_name = "HOST")]
        allowed_hosts: Vec<String>,
        /// A browser `Origin` to accept besides http://localhost:* and http://127.0.0.1:*;
        /// repeatable. Requests from other origins get 403.
        #[arg(long = "allowed-origin", value_name = "ORIGIN")]
        allowed_origins: Vec<String>,
        /// Serve a non-loopback address without client authentication (only when something in
        /// front of kestra-mcp authenticates clients); refused otherwise.
        #[arg(
            long,
            env = "KESTRA_MCP_HTTP_ALLOW_UNAUTHENTICATED",
            action = clap::ArgAction::SetTrue,
            value_parser = clap::builder::FalseyValueParser::new()
        )]
        allow_unauthenticated: bool,
    },
    /// Inspect the tool specs.
    Tools {
        #[command(subcommand)]
        action: ToolsCommand,
    },
}

#[derive(Subcommand)]
enum ToolsCommand {
    /// List the tools: name, group, method and path of each request, enabled or why not.
    List,
    /// Load and check the specs (built-in plus --tools-dir): templates compile, schemas are
    /// valid, and every request each tool can send resolves to the operation it declares in
    /// the bundled Kestra OpenAPI description of each version it claims, with valid query
    /// parameters and body. Problems print as `file:line: reason`; non-zero exit on any.
    Validate {
        /// A tools directory to check (instead of --tools-dir), with the built-in specs.
        dir: Option<PathBuf>,
        /// Skip the OpenAPI check (for requests to endpoints the bundled descriptions lack).
        #[arg(long, conflicts_with = "openapi")]
        no_openapi: bool,
        /// Check against this OpenAPI description (YAML or JSON, e.g. your server's own)
        /// instead of the bundled ones; needs --kestra-version.
        #[arg(long, value_name = "FILE", requires = "kestra_version")]
        openapi: Option<PathBuf>,
        /// The Kestra version the --openapi description is of (e.g. 2.1.0); requests are
        /// rendered for it.
        #[arg(long, value_name = "VERSION", requires = "openapi", conflicts_with = "no_openapi", value_parser = kestra_mcp::config::parse_version)]
        kestra_version: Option<semver::Version>,
    },
    /// Run the spec tests: the cases of each `NAME.test.yaml` in DIR (or --tools-dir; the
    /// built-in ones when neither is given) call their tool with canned Kestra answers (no
    /// Kestra, no network) on each Kestra version they name. A failure prints a diff with the
    /// case's file:line; the last line is `N passed, M failed`; non-zero exit on any failure.
    Test {
        /// A tools directory whose specs (over the built-in ones) and cases to test.
        dir: Option<PathBuf>,
    },
    /// Print the tool spec of one Kestra flow (read with GET /flows/NAMESPACE/FLOW_ID), as a
    /// selection serves it: its inputs as arguments, a call starts an execution, follows it and
    /// answers its state, outputs and link. Saved as NAME.yaml in a tools directory, it loads
    /// and validates like any spec (docs/flow-tools.md).
    FromFlow {
        namespace: String,
        flow_id: String,
        /// The tool name (snake_case; default: the flow id made snake_case).
        #[arg(long)]
        name: Option<String>,
        /// The tool's group (default `execution`: a group every tools directory may use).
        #[arg(long, default_value = "execution")]
        group: String,
    },
    /// Print the JSON Schema of the spec format, for editors.
    Schema {
        /// The JSON Schema of the spec test cases (`NAME.test.yaml`) instead.
        #[arg(long)]
        cases: bool,
    },
}

fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is reported once logging is up.
    let dotenv = dotenvy::dotenv();
    let cli = Cli::parse();
    match run(cli, dotenv.err()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kestra-mcp: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli, dotenv_error: Option<dotenvy::Error>) -> anyhow::Result<ExitCode> {
    let options = LoadOptions {
        tools_dir: cli.tools_dir.clone(),
        skip_invalid: cli.skip_invalid_specs,
        no_builtin: false,
        lazy: false,
    };
    match cli.command {
        Some(Command::Tools {
            action: ToolsCommand::Schema { cases },
        }) => {
            let schema = match cases {
                true => spectest::case::case_json_schema(),
                false => spec_json_schema(),
            };
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Tools {
            action:
                ToolsCommand::FromFlow {
                    namespace,
                    flow_id,
                    name,
                    group,
                },
        }) => {
            init_logging("WARN");
            from_flow(&namespace, &flow_id, name, group)
        }
        Some(Command::Tools { action }) => {
            init_logging("WARN");
            tools_command(action, &options)
        }
        Some(Command::Doctor) => doctor(&options),
        None => serve(&options, cli.watch, dotenv_error, None),
        Some(Command::Serve { http: None, .. }) => serve(&options, cli.watch, dotenv_error, None),
        Some(Command::Serve {
            http: Some(addr),
            allowed_hosts,
            allowed_origins,
            allow_unauthenticated,
        }) => {
            let token = std::env::var("KESTRA_MCP_HTTP_TOKEN")
                .ok()
                .filter(|t| !t.is_empty());
            let oauth = oauth_verifier(token.is_some())?;
            let policy = policy_file(oauth.is_some())?;
            let http = HttpOptions {
                addr,
                token,
                oauth,
                policy,
                allow_unauthenticated,
                allowed_hosts,
                allowed_origins,
                subscribers: None,
                toolsets: Toolsets::default(),
            };
            serve(&options, cli.watch, dotenv_error, Some(http))
        }
    }
}

/// The OAuth verifier when `KESTRA_MCP_OAUTH_ISSUER` is set (not with a static token).
fn oauth_verifier(static_token: bool) -> anyhow::Result<Option<std::sync::Arc<kestra_mcp::oauth::Verifier>>> {
    let settings = kestra_mcp::oauth::OAuthSettings::from_lookup(|name| std::env::var(name).ok())
        .map_err(anyhow::Error::msg)
        .context("invalid OAuth configuration")?;
    let Some(settings) = settings else {
        return Ok(None);
    };
    if static_token {
        anyhow::bail!(
            "KESTRA_MCP_HTTP_TOKEN and KESTRA_MCP_OAUTH_ISSUER are both set: choose one way for clients to authenticate"
        );
    }
    let verifier = kestra_mcp::oauth::Verifier::new(settings).map_err(anyhow::Error::msg)?;
    Ok(Some(std::sync::Arc::new(verifier)))
}

/// The per-user policy of `KESTRA_MCP_POLICY_FILE` (only with OAuth: it maps token claims).
fn policy_file(oauth: bool) -> anyhow::Result<Option<std::sync::Arc<kestra_mcp::policy::Policy>>> {
    let Some(path) = std::env::var_os("KESTRA_MCP_POLICY_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if !oauth {
        anyhow::bail!(
            "KESTRA_MCP_POLICY_FILE needs OAuth (KESTRA_MCP_OAUTH_ISSUER): its rules match token claims"
        );
    }
    let policy = kestra_mcp::policy::Policy::load(std::path::Path::new(&path))
        .map_err(anyhow::Error::msg)
        .context("invalid policy file (KESTRA_MCP_POLICY_FILE)")?;
    Ok(Some(std::sync::Arc::new(policy)))
}

#[tokio::main]
async fn doctor(options: &LoadOptions) -> anyhow::Result<ExitCode> {
    let config = Config::from_env().context("invalid configuration")?;
    init_logging("WARN");
    let Some(catalog) = load_or_report(options) else {
        return Ok(ExitCode::from(1));
    };
    let filtered = apply_disabled(catalog.tools, &config.disabled);
    let engine = Engine::new(filtered, catalog.layers, &config).context("HTTP client")?;
    let checks = kestra_mcp::doctor::run(&config, &engine).await;
    print!("{}", kestra_mcp::doctor::render(&checks));
    Ok(if checks.iter().all(|c| c.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn serve(
    options: &LoadOptions,
    watch: bool,
    dotenv_error: Option<dotenvy::Error>,
    http: Option<HttpOptions>,
) -> anyhow::Result<ExitCode> {
    let config = Config::from_env().context("invalid configuration")?;
    init_logging(&config.log_level);
    if let Some(e) = dotenv_error.filter(|e| !e.not_found()) {
        tracing::error!(target: "startup", "cannot read .env: {e}");
    }
    if let Some(problem) = config.base_url_problem() {
        tracing::warn!(target: "startup", "{problem}");
    }
    if watch && options.tools_dir.is_none() {
        anyhow::bail!("--watch needs a tools directory (--tools-dir or KESTRA_MCP_TOOLS_DIR)");
    }
    // The watch starts from the directory as it was before loading, so nothing is missed.
    let watch = if watch {
        reload::Watch::new(options.clone())
    } else {
        None
    };
    // Only what `tools/list` shows is built at start-up; each tool compiles on its first call
    // (`tools validate` and a reload still compile every spec).
    let served = LoadOptions {
        lazy: true,
        ..options.clone()
    };
    let Some(catalog) = load_or_report(&served) else {
        return Ok(ExitCode::from(1));
    };
    let flows = flow_tools(options, &catalog, watch.is_some());
    serve_runtime(http.is_some())?.block_on(serve_mcp(catalog, &config, http, watch, flows))
}

/// The async runtime serving MCP. Over stdio one worker thread: a single client's calls gain
/// nothing from a second worker but the two waking each other on every call (at one call in
/// flight, p50 overhead over a bare HTTP call 0.25 → 0.12-0.15 ms and CPU per call 90 → 70 µs;
/// docs/benchmarks.md); a reload and the compiling of flow tools run off it. Over HTTP, one
/// worker per core for many sessions. `TOKIO_WORKER_THREADS` overrides either.
fn serve_runtime(http: bool) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if !http && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(1);
    }
    builder.build()
}

/// What the flow tools start from: the tools directory's selections. `None` when there is
/// nothing to select and no watch that could bring a selection.
struct FlowTools {
    selections: Vec<Selection>,
}

fn flow_tools(options: &LoadOptions, catalog: &Catalog, watch: bool) -> Option<FlowTools> {
    options.tools_dir.as_ref()?;
    // Loading the catalog has reported a broken selection (it refuses to start without
    // --skip-invalid-specs); here the files that parse, as it read them, are enough.
    let selections: Vec<Selection> = catalog.layers.iter().flat_map(|l| l.selections.clone()).collect();
    (watch || !selections.is_empty()).then_some(FlowTools { selections })
}

fn load_or_report(options: &LoadOptions) -> Option<Catalog> {
    match load_catalog(options) {
        Ok(catalog) => {
            for warning in &catalog.warnings {
                tracing::warn!(target: "startup", "{warning}");
            }
            Some(catalog)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("kestra-mcp: {e}");
            }
            eprintln!(
                "kestra-mcp: {} tool spec problem(s); fix them or start with --skip-invalid-specs",
                errors.len()
            );
            None
        }
    }
}

async fn serve_mcp(
    catalog: Catalog,
    config: &Config,
    http: Option<HttpOptions>,
    watch: Option<reload::Watch>,
    flows: Option<FlowTools>,
) -> anyhow::Result<ExitCode> {
    let flow_groups = flows
        .as_ref()
        .map(|f| flow_source::groups_of(&f.selections))
        .unwrap_or_default();
    let toolsets = toolsets_of(&catalog, config, &flow_groups);
    let filtered = apply_disabled_with_groups(catalog.tools, &config.disabled, &flow_groups);
    for warning in &filtered.warnings {
        tracing::warn!(target: "startup", "{warning}");
    }
    for (tool, reason) in &filtered.skipped {
        tracing::info!(target: "startup", "skipping tool '{tool}': {reason}");
    }
    tracing::info!(target: "startup", "serving {} tools from {} with tenant '{}'", filtered.kept.len(), config.base_url, config.tenant);
    if config.read_only {
        tracing::info!(target: "startup", "KESTRA_MCP_READ_ONLY: serving only the tools and actions that read");
    }
    let engine = kestra_mcp::engine::shared(Engine::new(filtered, catalog.layers, config)?);
    // Sessions subscribe to list changes whenever the list can change: a watch, or flow tools.
    let subscribers = (watch.is_some() || flows.is_some()).then(Subscribers::default);
    let kick =
        flows.map(|_| start_flow_tools(&flow_groups, &engine, subscribers.clone().unwrap_or_default()));
    if let (Some(watch), Some(subscribers)) = (watch, &subscribers) {
        watch
            .after_reload(kick)
            .spawn(config.clone(), engine.clone(), subscribers.clone(), WATCH_POLL);
    }
    if let Some(http) = http {
        let http = HttpOptions {
            subscribers,
            toolsets,
            ..http
        };
        serve_http(engine, http).await.context("HTTP transport failed")?;
        return Ok(ExitCode::SUCCESS);
    }
    let framed = kestra_mcp::stdio::framed(
        kestra_mcp::stdio::read_on_thread(std::io::stdin()),
        kestra_mcp::stdio::write_on_thread(std::io::stdout()),
        kestra_mcp::stdio::DEFAULT_MAX_LINE_BYTES,
        drain_limit(config),
    );
    let service = KestraMcp::new(engine, subscribers)
        .with_toolsets(toolsets)
        .serve((framed.service_in, framed.service_out))
        .await
        .context("MCP handshake failed")?;
    service.waiting().await.context("MCP session ended abnormally")?;
    // The last answers may still be on their way to stdout: the runtime stops with main.
    let _ = tokio::time::timeout(WRITER_FLUSH, framed.writer).await;
    Ok(ExitCode::SUCCESS)
}

/// Starts the live source of flow tools (it lists Kestra's flows in the background; the
/// built-in tools serve meanwhile); returns what wakes it up after a reload.
fn start_flow_tools(
    groups: &[String],
    engine: &kestra_mcp::engine::SharedEngine,
    subscribers: Subscribers,
) -> Kick {
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let handle = reload::SourceHandle::new(flow_source::LABEL, &groups, engine.clone(), subscribers);
    let kick = Kick::default();
    FlowSource {
        handle,
        runtime: engine.load().runtime().clone(),
        kick: kick.clone(),
    }
    .spawn();
    kick
}

/// The toolsets sessions start with (`KESTRA_MCP_TOOLSETS`), with a warning for each name that
/// is neither a toolset nor a tool (as for `KESTRA_MCP_DISABLED_TOOLS`).
fn toolsets_of(catalog: &Catalog, config: &Config, extra_groups: &[String]) -> Toolsets {
    let toolsets = Toolsets::from_names(&config.toolsets);
    let declared: Vec<String> = catalog
        .layers
        .iter()
        .flat_map(|l| l.groups.iter().cloned())
        .chain(extra_groups.iter().cloned())
        .collect();
    let groups = all_groups(&declared, catalog.tools.iter().map(|t| &**t));
    let names = catalog.tools.iter().map(|t| t.tool.name.as_ref());
    for warning in toolsets.unknown_names(&groups, names) {
        tracing::warn!(target: "startup", "{warning}");
    }
    toolsets
}

fn tools_command(action: ToolsCommand, options: &LoadOptions) -> anyhow::Result<ExitCode> {
    let mut options = options.clone();
    if let ToolsCommand::Validate { dir: Some(dir), .. } | ToolsCommand::Test { dir: Some(dir) } = &action {
        options.tools_dir = Some(dir.clone());
    }
    let options = &options;
    if let ToolsCommand::Test { .. } = action {
        return spec_tests(options);
    }
    let Some(catalog) = load_or_report(options) else {
        return Ok(ExitCode::from(1));
    };
    if let ToolsCommand::Validate { .. } = action {
        for note in kestra_mcp::spec::notes::catalog_notes(options) {
            eprintln!("note: {note}");
        }
    }
    match action {
        ToolsCommand::List => list_tools(catalog, options),
        ToolsCommand::Validate { no_openapi: true, .. } => {
            println!(
                "{} tool specs are valid (OpenAPI check skipped)",
                catalog.tools.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "contract")]
        ToolsCommand::Validate {
            openapi,
            kestra_version,
            ..
        } => {
            let descriptions = match openapi.zip(kestra_version) {
                Some((file, version)) => Descriptions::from_file(&file, &version)?,
                None => Descriptions::bundled()?,
            };
            check_contract(catalog, options, &descriptions)
        }
        #[cfg(not(feature = "contract"))]
        ToolsCommand::Validate { .. } => anyhow::bail!(
            "{} tool specs load, but this build has no OpenAPI contract check (built without the `contract` feature); use --no-openapi",
            catalog.tools.len()
        ),
        // Answered before loading the specs (a test run loads them once per version).
        ToolsCommand::Schema { .. } | ToolsCommand::Test { .. } | ToolsCommand::FromFlow { .. } => {
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `tools from-flow`: the flow read through the configured client, its spec on stdout.
#[tokio::main]
async fn from_flow(
    namespace: &str,
    flow_id: &str,
    name: Option<String>,
    group: String,
) -> anyhow::Result<ExitCode> {
    let config = Config::from_env().context("invalid configuration")?;
    let flow = kestra_mcp::flows::tool::fetch_flow(&config, namespace, flow_id)
        .await
        .map_err(anyhow::Error::msg)?;
    let settings = FlowToolSettings {
        group,
        ..FlowToolSettings::named(name.unwrap_or_else(|| kestra_mcp::flows::tool::tool_name_for("", flow_id)))
    };
    let spec = kestra_mcp::flows::tool::flow_tool_spec(&flow, &settings)?;
    print!("{spec}");
    Ok(ExitCode::SUCCESS)
}

/// Checks every request the loaded tools can send against the OpenAPI descriptions.
#[cfg(feature = "contract")]
fn check_contract(
    catalog: Catalog,
    options: &LoadOptions,
    descriptions: &Descriptions,
) -> anyhow::Result<ExitCode> {
    let engine = contract::offline_engine(catalog)?;
    let report = contract::check_engine(&engine, descriptions, &contract::spec_texts(options));
    for line in report.lines() {
        println!("{line}");
    }
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    match report.violations.is_empty() {
        true => {
            println!("tool specs are valid: {}", report.summary());
            Ok(ExitCode::SUCCESS)
        }
        false => {
            eprintln!("kestra-mcp: {}", report.summary());
            Ok(ExitCode::from(1))
        }
    }
}

/// `tools test`: runs the cases of the tools directory, or the built-in ones.
fn spec_tests(options: &LoadOptions) -> anyhow::Result<ExitCode> {
    let files = match &options.tools_dir {
        Some(dir) => spectest::dir_case_files(dir).map_err(anyhow::Error::msg)?,
        None => spectest::builtin_case_files(),
    };
    let load = || {
        load_catalog(options).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            lines.join("\n")
        })
    };
    let report = spectest::run(&files, load);
    for failure in &report.failures {
        println!("FAILED {failure}\n");
    }
    println!("{}", report.summary());
    Ok(match report.failed {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

fn list_tools(catalog: Catalog, options: &LoadOptions) -> anyhow::Result<ExitCode> {
    let config = Config::from_env().ok();
    let disabled = config.as_ref().map(|c| c.disabled.clone()).unwrap_or_default();
    let read_only = config.as_ref().is_some_and(|c| c.read_only);
    let toolsets = Toolsets::from_names(&config.as_ref().map(|c| c.toolsets.clone()).unwrap_or_default());
    let selections = options
        .tools_dir
        .as_deref()
        .and_then(|dir| selection::load_dir(dir).ok())
        .unwrap_or_default();
    let mut tools = catalog.tools;
    let mut sources = std::collections::BTreeMap::new();
    if !selections.is_empty() {
        match listed_flow_tools(&tools, &selections, config.as_ref()) {
            Ok(built) => {
                for warning in &built.warnings {
                    eprintln!("kestra-mcp: flow tools: {warning}");
                }
                sources = built.flows;
                tools.extend(built.tools.into_values());
            }
            Err(e) => println!("(flow tools)	-	-	-	not listed: {e}"),
        }
    }
    let filtered = apply_disabled_with_groups(tools, &disabled, &flow_source::groups_of(&selections));
    for tool in &filtered.kept {
        let actions = match tool.actions() {
            Ok(actions) => actions,
            Err(e) => {
                println!("{}\t-\t-\t-\tdoes not compile: {e}", tool.tool.name);
                continue;
            }
        };
        for (variant, action) in actions {
            let state = if read_only && kestra_mcp::readonly::action_writes(action) {
                "disabled: writes (KESTRA_MCP_READ_ONLY)"
            } else if toolsets.admits(tool) {
                "enabled"
            } else if toolsets.is_dynamic() {
                "after enable_toolset (KESTRA_MCP_TOOLSETS=dynamic)"
            } else {
                "not in KESTRA_MCP_TOOLSETS"
            };
            let variant = variant.map(|v| format!("[{v}]")).unwrap_or_default();
            let requests = action.requests();
            let methods: Vec<&str> = requests.iter().map(|(_, r)| r.template.method.as_str()).collect();
            let paths: Vec<String> = requests
                .iter()
                .map(|(_, r)| match &r.kestra {
                    Some(req) => format!("{} (Kestra {req})", r.template.path_source),
                    None => r.template.path_source.clone(),
                })
                .collect();
            // Flow tools say which flow they run (the other rows keep their five columns).
            let source = sources
                .get(tool.tool.name.as_ref())
                .map(|flow| format!("\t{} {flow}", flow_source::LABEL))
                .unwrap_or_default();
            println!(
                "{}{variant}\t{}\t{}\t{}\t{state}{source}",
                tool.tool.name,
                tool.group,
                methods.join(" | "),
                paths.join(" | ")
            );
        }
    }
    for (name, reason) in &filtered.skipped {
        println!("{name}\t-\t-\t-\tdisabled: {reason}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The flow tools the selections make of Kestra's flows now (`tools list`): one listing,
/// bounded by the configured timeouts; an error says why Kestra could not be asked.
fn listed_flow_tools(
    tools: &[std::sync::Arc<kestra_mcp::spec::CompiledTool>],
    selections: &[Selection],
    config: Option<&Config>,
) -> anyhow::Result<flow_source::Built> {
    let config = config.context("the configuration is invalid, so Kestra cannot be asked")?;
    let runtime = kestra_mcp::runtime::Runtime::new(config).context("HTTP client")?;
    let listing = tokio::runtime::Runtime::new()?
        .block_on(flow_source::list_flows(&runtime, selections))
        .map_err(|e| anyhow::anyhow!("cannot list Kestra's flows at {}: {e}", config.base_url))?;
    let taken = tools.iter().map(|t| t.tool.name.to_string()).collect();
    let mut groups = kestra_mcp::spec::known_groups(&[]);
    groups.extend(flow_source::groups_of(selections));
    let mut builder = flow_source::Builder::default();
    // Every template and validator compiled now (as `tools validate` would), not on a call.
    let mut built = builder.build(selections, &listing.flows, &taken, |specs| {
        kestra_mcp::spec::compile_data_lazily(specs, &groups)
            .into_iter()
            .map(|tool| tool.and_then(|t| t.ready().map(|()| t)))
            .collect()
    });
    built.warnings.extend(
        listing
            .refused
            .iter()
            .map(|r| format!("a search was refused: {r}")),
    );
    Ok(built)
}

/// Logs go to stderr only. Start-up warnings are always shown; the rest follows
/// `KESTRA_MCP_LOG_LEVEL`. Other crates stay at ERROR so that no HTTP internals are logged.
fn init_logging(level: &str) {
    let level = match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" | "WARNING" => "warn",
        _ => "error",
    };
    let startup = if matches!(level, "error") { "warn" } else { level };
    // Audit lines (authenticated users' requests, `exchange.rs`) are always written.
    let filter = EnvFilter::new(format!(
        "error,kestra_mcp={level},rmcp={level},startup={startup},audit=info"
    ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
}
