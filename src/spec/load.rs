//! Reading specs: the built-in `tools.d/` embedded in the binary, then an optional directory
//! whose files add tools or replace built-in ones of the same name. Parsing is strict (unknown
//! keys are errors) and every problem is collected before reporting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::SpecError;
use super::compile::{CompiledTool, KNOWN_GROUPS, Unbound};
use super::parallel::in_parallel;
use super::raw::ToolSpec;
use super::source::{Builtin, Contents, Directory, Fingerprint, ToolSource};
pub use super::source::{SpecSource, builtin_sources, dir_sources, parse_spec};
use crate::render::Templates;

/// Where to load specs from.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Directory whose specs add to or replace the built-in ones.
    pub tools_dir: Option<PathBuf>,
    /// Skip broken specs with a warning instead of refusing to start.
    pub skip_invalid: bool,
    /// Leave the built-in specs out (only `tools_dir` is loaded).
    pub no_builtin: bool,
    /// Check and build only what `tools/list` shows; compile each tool's templates and
    /// argument validator on its first call ([`CompiledTool::ready`]). What a server does at
    /// start-up; `tools validate`, `tools test`, the contract check and a reload compile every
    /// spec eagerly (the default), so that a broken spec is refused before it is served.
    pub lazy: bool,
}

/// The loaded, compiled tools: the merged set (a later source's tool replacing an earlier
/// one's of the same name) and each source's own tools, which a reload keeps for the sources
/// that did not change.
#[derive(Debug)]
pub struct Catalog {
    pub tools: Vec<Arc<CompiledTool>>,
    pub layers: Vec<Layer>,
    /// Problems that did not stop loading (skipped files, overrides).
    pub warnings: Vec<String>,
}

/// The compiled tools of one source, with the fingerprint it had before its specs were read.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The source's [`label`](ToolSource::label).
    pub label: String,
    pub fingerprint: Option<Fingerprint>,
    /// The groups the source declares ([`ToolSource::groups`]).
    pub groups: Vec<String>,
    pub tools: BTreeMap<String, Arc<CompiledTool>>,
    /// The selection files of flow tools it holds that parse (what the flows source starts
    /// from, without reading the directory again).
    pub selections: Vec<crate::flows::selection::Selection>,
}

impl Layer {
    /// An empty layer for a source that adds its tools one by one at run time.
    pub fn empty(label: impl Into<String>, groups: Vec<String>) -> Self {
        Layer {
            label: label.into(),
            fingerprint: None,
            groups,
            tools: BTreeMap::new(),
            selections: Vec::new(),
        }
    }
}

/// Compiles one parsed spec, refusing first a name or group its source does not allow and
/// the constructs that would do nothing.
fn compile_source(
    spec: ToolSpec,
    source: &SpecSource,
    groups: &BTreeSet<String>,
    templates: &mut Templates,
) -> Result<Unbound, SpecError> {
    check_identity(&spec, source, groups)?;
    super::inert::check(&spec, &source.text, &source.origin)?;
    Unbound::compile(spec, &source.origin, templates)
}

/// Parses and compiles one spec into a tool with its own template environment: what a source
/// that provides specs one at a time (at run time) calls. `groups` are the groups it may use
/// ([`known_groups`]).
pub fn compile_spec(source: &SpecSource, groups: &BTreeSet<String>) -> Result<CompiledTool, SpecError> {
    let mut templates = Templates::new();
    let unbound = compile_source(source.parse()?, source, groups, &mut templates)?;
    Ok(unbound.bind(Arc::new(templates)))
}

/// Compiles specs provided at run time into one template environment they share (cheaper
/// than one each, as for a directory): one result per spec, in order.
pub fn compile_specs(
    sources: &[SpecSource],
    groups: &BTreeSet<String>,
) -> Vec<Result<Arc<CompiledTool>, SpecError>> {
    let mut templates = Templates::new();
    let unbound: Vec<Result<Unbound, SpecError>> = sources
        .iter()
        .map(|source| {
            let spec = source.parse()?;
            compile_source(spec, source, groups, &mut templates)
        })
        .collect();
    let templates = Arc::new(templates);
    unbound
        .into_iter()
        .map(|u| u.map(|u| Arc::new(u.bind(templates.clone()))))
        .collect()
}

/// [`compile_specs`] for a serving source with many specs (flow tools): each spec parsed and
/// checked now, on two threads when there are many, its templates and argument validator
/// compiled on its first call ([`Compile::Lazy`]), each in its own environment.
pub fn compile_specs_lazily(
    sources: &[SpecSource],
    groups: &BTreeSet<String>,
) -> Vec<Result<Arc<CompiledTool>, SpecError>> {
    in_parallel(sources, |source| compile_lazily(source, groups))
        .into_iter()
        .map(|parsed| parsed.and_then(|(_, tool)| tool.map(Arc::new)))
        .collect()
}

/// A spec a source built as data rather than text (a flow tool): no YAML to write and parse
/// again for each one. It names itself; errors name `origin` (without a line: there is no file).
#[derive(Debug, Clone)]
pub struct SpecData {
    pub origin: String,
    pub spec: serde_json::Value,
}

/// [`compile_specs_lazily`] for specs built as data: each read into a [`ToolSpec`] and checked
/// now (on two threads when there are many), compiled on its first call.
pub fn compile_data_lazily(
    specs: &[SpecData],
    groups: &BTreeSet<String>,
) -> Vec<Result<Arc<CompiledTool>, SpecError>> {
    in_parallel(specs, |data| {
        let spec = ToolSpec::deserialize(&data.spec)
            .map_err(|e| SpecError::new(&data.origin, None, format!("not a tool spec: {e}")))?;
        let source = SpecSource::named_by_itself(data.origin.clone(), String::new());
        compile_parsed_lazily(spec, &source, groups).1.map(Arc::new)
    })
}

/// The sources' rules on a spec's identity: the name the source requires (a file's stem), and
/// a group among `groups`, so that a typo (`flows` for `flow`) is not a new group that
/// `KESTRA_MCP_DISABLED_TOOLS=flow` silently misses.
pub fn check_identity(
    spec: &ToolSpec,
    source: &SpecSource,
    groups: &BTreeSet<String>,
) -> Result<(), SpecError> {
    let err = |field: &str, message: String| SpecError::new(&source.origin, Some(field), message);
    if let Some(required) = source.name.as_deref().filter(|n| *n != spec.name) {
        return Err(err(
            "name",
            format!(
                "'{}' must match the file name '{required}' (rename one of them)",
                spec.name
            ),
        ));
    }
    if !groups.contains(&spec.group) {
        return Err(err(
            "group",
            format!(
                "unknown group '{}' (expected one of {})",
                spec.group,
                groups.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(())
}

/// The groups specs may use: [`KNOWN_GROUPS`] and those any of `sources` declares.
pub fn known_groups(sources: &[Box<dyn ToolSource>]) -> BTreeSet<String> {
    KNOWN_GROUPS
        .iter()
        .map(|g| (*g).to_owned())
        .chain(sources.iter().flat_map(|s| s.groups()))
        .collect()
}

/// The sources `options` name, in order: the built-in set (unless `no_builtin`), then the
/// tools directory.
pub fn sources_for(options: &LoadOptions) -> Vec<Box<dyn ToolSource>> {
    let mut sources: Vec<Box<dyn ToolSource>> = Vec::new();
    if !options.no_builtin {
        sources.push(Box::new(Builtin));
    }
    if let Some(dir) = &options.tools_dir {
        sources.push(Box::new(Directory(dir.clone())));
    }
    sources
}

/// Loads, merges and compiles the specs of the sources `options` names. On failure, returns
/// every problem found.
pub fn load_catalog(options: &LoadOptions) -> Result<Catalog, Vec<SpecError>> {
    let compile = match options.lazy {
        true => Compile::Lazy,
        false => Compile::Eager,
    };
    load_sources_with(&sources_for(options), options.skip_invalid, compile)
}

/// When a tool's templates and argument validator are compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compile {
    /// At load, into one template environment the source's tools share.
    Eager,
    /// On each tool's first call, into its own environment ([`LoadOptions::lazy`]).
    Lazy,
}

/// Loads the specs of `sources`, each source compiled on its own ([`load_layer`]), then merges
/// them by tool name (a later source replaces an earlier one's tool, with a warning). With
/// `skip_invalid`, broken specs are left out with a warning; otherwise every problem found is
/// returned.
pub fn load_sources(sources: &[Box<dyn ToolSource>], skip_invalid: bool) -> Result<Catalog, Vec<SpecError>> {
    load_sources_with(sources, skip_invalid, Compile::Eager)
}

/// [`load_sources`], compiling as `compile` says.
pub fn load_sources_with(
    sources: &[Box<dyn ToolSource>],
    skip_invalid: bool,
    compile: Compile,
) -> Result<Catalog, Vec<SpecError>> {
    let groups = known_groups(sources);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut layers = Vec::new();
    for source in sources {
        let (layer, layer_errors, layer_warnings) = load_layer_with(source.as_ref(), &groups, compile);
        layers.push(layer);
        errors.extend(layer_errors);
        warnings.extend(layer_warnings);
    }
    if !errors.is_empty() && !skip_invalid {
        return Err(errors);
    }
    warnings.extend(errors.iter().map(|e| format!("skipped: {e}")));
    let (merged, overrides) = merge(&layers);
    warnings.extend(overrides);
    Ok(Catalog {
        tools: merged.into_values().collect(),
        layers,
        warnings,
    })
}

/// Reads and compiles the specs of one source into one template environment that its tools
/// share (one environment per tool costs more: see docs/architecture.md). Returns the tools
/// that compiled, the problems, and the warnings (an empty source).
pub fn load_layer(
    source: &dyn ToolSource,
    groups: &BTreeSet<String>,
) -> (Layer, Vec<SpecError>, Vec<String>) {
    load_layer_with(source, groups, Compile::Eager)
}

/// [`load_layer`], compiling as `compile` says: lazily, each tool gets its own deferred
/// template environment (built on its first call), since sharing one would compile every
/// tool of the source at the first call of any.
pub fn load_layer_with(
    source: &dyn ToolSource,
    groups: &BTreeSet<String>,
    compile: Compile,
) -> (Layer, Vec<SpecError>, Vec<String>) {
    let mut layer = Layer::empty(source.label(), source.groups());
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let Contents {
        specs,
        selections,
        fingerprint,
    } = match source.contents() {
        Ok(contents) => contents,
        Err(e) => {
            layer.fingerprint = source.fingerprint();
            return (layer, vec![e], warnings);
        }
    };
    layer.fingerprint = fingerprint;
    if specs.is_empty() && selections.is_empty() {
        warnings.extend(source.empty_warning());
    }
    // Selection files are not specs: checked here (so that loading and `tools validate` report
    // them), served by the flow source.
    for selection in &selections {
        match crate::flows::selection::parse(&selection.text, &selection.origin) {
            Ok(parsed) => layer.selections.push(parsed),
            Err(problems) => errors.extend(problems),
        }
    }
    let mut builder = LayerBuilder::new(compile, groups);
    // In batches, so that the parsed specs and texts of only one batch are held at a time.
    let mut rest = specs.into_iter();
    loop {
        let batch: Vec<SpecSource> = rest.by_ref().take(PARSE_BATCH).collect();
        if batch.is_empty() {
            break;
        }
        builder.add_batch(&batch, &mut errors);
    }
    builder.finish(&mut layer);
    (layer, errors, warnings)
}

/// The tools of one layer as its specs are compiled: eagerly into one environment they share
/// (bound to it once all are compiled), or lazily, each into its own deferred one.
struct LayerBuilder<'a> {
    compile: Compile,
    groups: &'a BTreeSet<String>,
    /// Each tool name with the file that defined it first.
    seen: BTreeMap<String, String>,
    shared: Templates,
    unbound: Vec<Unbound>,
    tools: BTreeMap<String, Arc<CompiledTool>>,
}

impl<'a> LayerBuilder<'a> {
    fn new(compile: Compile, groups: &'a BTreeSet<String>) -> Self {
        LayerBuilder {
            compile,
            groups,
            seen: BTreeMap::new(),
            shared: Templates::new(),
            unbound: Vec::new(),
            tools: BTreeMap::new(),
        }
    }

    /// Parses and compiles `batch` in order, adding each problem to `errors`. Parsing runs on
    /// several threads; so does compiling when it is lazy (each tool then has its own template
    /// environment), an eager compilation filling the one environment the source shares.
    fn add_batch(&mut self, batch: &[SpecSource], errors: &mut Vec<SpecError>) {
        match self.compile {
            Compile::Eager => {
                for (source, parsed) in batch.iter().zip(in_parallel(batch, SpecSource::parse)) {
                    let added = parsed.and_then(|spec| {
                        self.check_unique(&spec.name, source)?;
                        let unbound = compile_source(spec, source, self.groups, &mut self.shared)?;
                        self.unbound.push(unbound);
                        Ok(())
                    });
                    errors.extend(added.err());
                }
            }
            Compile::Lazy => {
                let groups = self.groups;
                let compiled = in_parallel(batch, |source| compile_lazily(source, groups));
                for (source, parsed) in batch.iter().zip(compiled) {
                    // A name defined twice is reported as such, whether or not the spec compiles.
                    let added = parsed.and_then(|(name, tool)| {
                        self.check_unique(&name, source)?;
                        let tool = tool?;
                        self.tools.insert(name, Arc::new(tool));
                        Ok(())
                    });
                    errors.extend(added.err());
                }
            }
        }
    }

    /// Refuses a name another file of the source already defined.
    fn check_unique(&mut self, name: &str, source: &SpecSource) -> Result<(), SpecError> {
        match self.seen.insert(name.to_owned(), source.origin.clone()) {
            Some(first) => Err(SpecError::new(
                &source.origin,
                Some("name"),
                format!("tool '{name}' is also defined in {first} (each name once per directory)"),
            )),
            None => Ok(()),
        }
    }

    /// Puts the tools in `layer`, binding the eagerly compiled ones to their environment.
    fn finish(self, layer: &mut Layer) {
        let shared = Arc::new(self.shared);
        layer.tools.extend(self.tools);
        for unbound in self.unbound {
            let tool = unbound.bind(shared.clone());
            layer.tools.insert(tool.tool.name.to_string(), Arc::new(tool));
        }
    }
}

/// A parsed spec's name with the tool checked and outlined (what `tools/list` shows and what
/// read-only mode and tasks read of its actions), its actions compiled again from `source` on
/// its first call; or why it does not parse. Built and dropped here, a spec's actions cost
/// no memory until it is called (a few kilobytes each, for thousands of tools).
fn compile_lazily(
    source: &SpecSource,
    groups: &BTreeSet<String>,
) -> Result<(String, Result<CompiledTool, SpecError>), SpecError> {
    let (name, checked) = check_lazily(source.parse()?, source, groups);
    let tool = checked.map(|(unbound, _)| unbound.defer(Arc::new(source.clone())));
    Ok((name, tool))
}

/// A parsed spec's name with the tool compiled into its own deferred environment, kept: for
/// specs built as data, which have no text to compile again from.
fn compile_parsed_lazily(
    spec: ToolSpec,
    source: &SpecSource,
    groups: &BTreeSet<String>,
) -> (String, Result<CompiledTool, SpecError>) {
    let (name, checked) = check_lazily(spec, source, groups);
    let tool = checked.map(|(unbound, mut own)| {
        own.shrink_to_fit();
        unbound.bind(Arc::new(own))
    });
    (name, tool)
}

/// A parsed spec's name with its tool compiled into a deferred environment of its own: every
/// check that needs no template parsed.
fn check_lazily(
    spec: ToolSpec,
    source: &SpecSource,
    groups: &BTreeSet<String>,
) -> (String, Result<(Unbound, Templates), SpecError>) {
    let name = spec.name.clone();
    let mut own = Templates::deferred();
    let unbound = compile_source(spec, source, groups, &mut own);
    (name, unbound.map(|unbound| (unbound, own)))
}

/// Specs parsed (on several threads) before they are compiled.
const PARSE_BATCH: usize = 256;

/// The tools of `layers` by name, a later layer's tool replacing an earlier one's; with a
/// warning for each replacement.
pub fn merge(layers: &[Layer]) -> (BTreeMap<String, Arc<CompiledTool>>, Vec<String>) {
    let mut merged: BTreeMap<String, Arc<CompiledTool>> = BTreeMap::new();
    let mut warnings = Vec::new();
    for layer in layers {
        for (name, tool) in &layer.tools {
            if let Some(replaced) = merged.insert(name.clone(), tool.clone()) {
                warnings.push(format!(
                    "{}: replaces {} (same tool name '{name}')",
                    tool.origin, replaced.origin
                ));
            }
        }
    }
    (merged, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name: list_things
group: flow
description: Lists things.
input:
  type: object
  properties:
    namespace: {type: string}
  required: [namespace]
request:
  method: GET
  path: /flows/{{ namespace }}
";

    fn compile(text: &str, origin: &str) -> Result<CompiledTool, SpecError> {
        let spec = parse_spec(text, origin)?;
        let source = SpecSource::file(origin.to_owned(), text.to_owned());
        let mut templates = Templates::new();
        let unbound = compile_source(spec, &source, &known_groups(&[]), &mut templates)?;
        Ok(unbound.bind(Arc::new(templates)))
    }

    #[test]
    fn a_spec_without_output_schema_advertises_none() {
        // "Any object" would say nothing a client can use: every result is an object.
        let tool = compile(GOOD, "x/list_things.yaml").unwrap();
        assert_eq!(tool.tool.output_schema, None);
        let with = format!(
            "{GOOD}response:\n  output_schema: {{type: object, properties: {{n: {{type: integer}}}}}}\n"
        );
        let tool = compile(&with, "x/list_things.yaml").unwrap();
        assert!(tool.tool.output_schema.is_some());
    }

    #[test]
    fn a_good_spec_compiles_with_derived_annotations() {
        let tool = compile(GOOD, "x/list_things.yaml").unwrap();
        let a = tool.tool.annotations.clone().unwrap();
        assert_eq!(a.read_only_hint, Some(true));
        assert_eq!(a.idempotent_hint, Some(true));
        assert_eq!(
            tool.tool.input_schema.get("additionalProperties"),
            Some(&serde_json::json!(false))
        );
    }

    #[test]
    fn bad_specs_name_file_line_field_and_reason() {
        let cases: &[(&str, &str)] = &[
            (
                "name: list_things\ngroup: flow\ndescription: d\nrequest:\n  method: GET\n  path: /x\n  bogus: 1\n",
                "x/list_things.yaml:7: request: unknown field `bogus`, expected one of `kestra`, `operation`, `method`, `path`, `params`, `scope`, `query`, `headers`, `body`, `response`",
            ),
            (
                "name: list_things\ngroup: flow\ndescription: d\nrequest:\n  operation: killExecution\n",
                "x/list_things.yaml: request.params.executionId: path parameter `executionId` of killExecution (DELETE /executions/{executionId}/kill) is bound neither by `params.executionId` nor by an argument `execution_id`",
            ),
            (
                "name: list_things\ngroup: flow\ndescription: d\nsteps:\n  - request: {operation: searchFlow}\n",
                "x/list_things.yaml: steps[0].request.operation: unknown operation 'searchFlow': not in the Kestra 1.3.0 / 2.0.0 descriptions; nearest: searchFlows",
            ),
            (
                "name: list_things\ngroup: flow\ndescription: d\nrequest:\n  method: FETCH\n  path: /x\n",
                "x/list_things.yaml:5: request.method: unknown variant `FETCH`, expected one of `GET`, `POST`, `PUT`, `PATCH`, `DELETE`",
            ),
            (
                &GOOD.replace("group: flow", "group: flows"),
                "x/list_things.yaml: group: unknown group 'flows' (expected one of backfill, ee, execution, files, flow, kv, logs, namespace, replay, restart, resume)",
            ),
            (
                &GOOD.replace("{{ namespace }}", "{{ namspace }}"),
                "x/list_things.yaml: request.path: unknown variable 'namspace' (declare it in `input.properties`; known: arguments, kestra, namespace)",
            ),
            (
                &GOOD.replace("name: list_things", "name: other_name"),
                "x/list_things.yaml: name: 'other_name' must match the file name 'list_things' (rename one of them)",
            ),
            (
                &GOOD.replace("/flows/{{ namespace }}", "http://evil.example/{{ namespace }}"),
                "x/list_things.yaml: request.path: path 'http://evil.example/{{ namespace }}' must start with '/' (it is relative to the tenant or instance root)",
            ),
            (
                &GOOD.replace("required: [namespace]", "required: [ns]"),
                "x/list_things.yaml: input: required property 'ns' is not declared in `properties`",
            ),
            (
                &format!("{GOOD}response:\n  select: '$.['\n"),
                "x/list_things.yaml: response.select: invalid JSONPath '$.[': ",
            ),
        ];
        for (text, want) in cases {
            let got = compile(text, "x/list_things.yaml").unwrap_err().to_string();
            assert!(got.starts_with(want), "\n got: {got}\nwant: {want}");
        }
    }

    const STEPS: &str = "name: list_things
group: flow
description: d
input:
  type: object
  properties:
    namespace: {type: string}
steps:
  - name: flows
    request:
      method: GET
      path: /flows/{{ namespace }}
";

    const VARIANTS: &str = "name: manage_things
group: kv
description: d
input:
  type: object
  properties:
    action: {type: string, enum: [get, list]}
    key: {type: [string, 'null'], default: null}
  required: [action]
variants:
  get:
    requires: [key]
    request: {method: GET, path: '/kv/{{ key }}'}
  list:
    steps:
      - request: {method: GET, path: /kv}
";

    #[test]
    fn variant_requirements_are_advertised_but_the_engine_keeps_its_own_check() {
        let tool = compile(VARIANTS, "x/manage_things.yaml").unwrap();
        assert_eq!(
            tool.tool.input_schema.get("allOf"),
            Some(&serde_json::json!([{
                // `action` is always required: the condition needs no `required` of its own.
                "if": {"properties": {"action": {"const": "get"}}},
                "then": {"required": ["key"]},
            }]))
        );
        // The validator is built from the plain schema: a `get` without `key` reaches the
        // engine, whose message names the variant.
        assert!(
            tool.validator()
                .unwrap()
                .is_valid(&serde_json::json!({"action": "get"}))
        );
    }

    #[test]
    fn constructs_that_would_do_nothing_are_refused_with_their_line() {
        let cases: Vec<(String, &str, &str)> = vec![
            (
                format!("{STEPS}response:\n  select: $.results\n"),
                "list_things.yaml",
                "list_things.yaml:13: response: does nothing on a tool with `steps`: give each request step its own `response`, and build the result with `result`",
            ),
            (
                VARIANTS.replace("    steps:\n", "    response: {select: $.x}\n    steps:\n"),
                "manage_things.yaml",
                "manage_things.yaml:15: variants.list.response: does nothing on a variant with `steps`",
            ),
            (
                format!("{VARIANTS}result: {{a: 1}}\n"),
                "manage_things.yaml",
                "manage_things.yaml:17: result: does nothing on a tool with `variants`: give each variant with `steps` its own `result`",
            ),
            (
                format!(
                    "{}response:\n  select: $.x\n",
                    VARIANTS.replace(
                        "request: {method: GET, path: '/kv/{{ key }}'}",
                        "request: {method: GET, path: '/kv/{{ key }}'}\n    response: {select: $.value}"
                    )
                ),
                "manage_things.yaml",
                "manage_things.yaml:18: response: no variant uses it",
            ),
            (
                format!(
                    "{}response:\n  select: $.x\n",
                    GOOD.replace(
                        "  path: /flows/{{ namespace }}\n",
                        "  path: /flows/{{ namespace }}\n  response: {select: $.y}\n"
                    )
                ),
                "list_things.yaml",
                "list_things.yaml:13: response: every request here has its own `response`, so this one is never used",
            ),
            (
                format!("{STEPS}    response:\n      output_schema: {{type: object}}\n"),
                "list_things.yaml",
                "list_things.yaml:14: steps[0].response.output_schema: `output_schema` is read only from the tool's own top-level `response`",
            ),
            (
                VARIANTS.replace(
                    "    requires: [key]\n",
                    "    requires: [key]\n    response:\n      output_schema: {type: object}\n",
                ),
                "manage_things.yaml",
                "manage_things.yaml:14: variants.get.response.output_schema: `output_schema` is read only",
            ),
        ];
        for (text, origin, want) in cases {
            let got = compile(&text, origin).unwrap_err().to_string();
            assert!(got.starts_with(want), "\n got: {got}\nwant: {want}\n{text}");
        }
        // What they should be instead compiles.
        compile(STEPS, "list_things.yaml").unwrap();
        compile(VARIANTS, "manage_things.yaml").unwrap();
        compile(
            &format!("{STEPS}response:\n  output_schema: {{type: object}}\n"),
            "list_things.yaml",
        )
        .unwrap();
    }

    #[test]
    fn variants_must_match_the_dispatch_enum() {
        let text = "name: manage_things
group: kv
description: d
input:
  type: object
  properties:
    action: {type: string, enum: [get, set]}
    key: {type: [string, 'null'], default: null}
  required: [action]
variants:
  get:
    requires: [key]
    request: {method: GET, path: '/kv/{{ key }}'}
";
        let got = compile(text, "manage_things.yaml").unwrap_err().to_string();
        assert_eq!(
            got,
            "manage_things.yaml: dispatch: the enum of 'action' (get, set) must list exactly the variants (get)"
        );
        let fixed = text.replace("enum: [get, set]", "enum: [get]");
        let tool = compile(&fixed, "manage_things.yaml").unwrap();
        assert!(matches!(
            tool.body().unwrap().dispatch.as_ref(),
            super::super::Dispatch::ByArgument { .. }
        ));
        let bad_requires = fixed.replace("requires: [key]", "requires: [kee]");
        let got = compile(&bad_requires, "manage_things.yaml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            got,
            "manage_things.yaml: variants.get.requires: 'kee' is not a declared input property"
        );
    }

    #[test]
    fn versioned_requests_need_disjoint_requirements() {
        let base = "name: get_it\ngroup: flow\ndescription: d\nrequests:\n";
        let cases = [
            (
                "  - {method: GET, path: /a}\n",
                "get_it.yaml: requests[0].kestra: each of `requests` needs a `kestra` version requirement",
            ),
            (
                "  - {kestra: 'soon', method: GET, path: /a}\n",
                "get_it.yaml: requests[0].kestra: 'soon' is not a version requirement such as '>=2.0'",
            ),
            (
                "  - {kestra: '>=1.0', method: GET, path: /a}\n  - {kestra: '>=2.0', method: GET, path: /b}\n",
                "get_it.yaml: requests: more than one request fits Kestra 2.0.0; make the `kestra` requirements disjoint",
            ),
        ];
        for (requests, want) in cases {
            let got = compile(&format!("{base}{requests}"), "get_it.yaml")
                .unwrap_err()
                .to_string();
            assert!(got.starts_with(want), "\n got: {got}\nwant: {want}");
        }
        let ok = format!(
            "{base}  - {{kestra: '<2.0', method: GET, path: /a}}\n  - {{kestra: '>=2.0', method: GET, path: /b}}\n"
        );
        let tool = compile(&ok, "get_it.yaml").unwrap();
        let super::super::Dispatch::Single(action) = tool.body().unwrap().dispatch.as_ref() else {
            panic!("single")
        };
        let crate::spec::StepKind::Request { requests, .. } = &action.steps[0].kind else {
            panic!("request")
        };
        let v13 = semver::Version::new(1, 3, 0);
        let v20 = semver::Version::new(2, 0, 0);
        let pick = |v| crate::spec::action::request_for(requests, v).map(|r| r.template.path_source.as_str());
        assert_eq!(pick(Some(&v13)), Some("/a"));
        assert_eq!(pick(Some(&v20)), Some("/b"));
        assert_eq!(pick(None), None);
        assert!(action.needs_version());
    }

    #[test]
    fn every_builtin_spec_compiles() {
        let catalog = load_catalog(&LoadOptions::default()).unwrap();
        assert_eq!(catalog.tools.len(), builtin_sources().len());
        assert!(catalog.warnings.is_empty(), "{:?}", catalog.warnings);
    }

    /// The built-in specs are read from the JSON build.rs made of them: every one was
    /// converted, and each compiles to exactly the tool its YAML gives.
    #[test]
    fn the_builtin_json_is_the_builtin_yaml() {
        let groups = known_groups(&[]);
        let from_json = builtin_sources();
        assert!(
            from_json.iter().all(|s| s.json.is_some()),
            "a built-in spec was not converted"
        );
        let from_yaml: Vec<SpecSource> = from_json
            .iter()
            .map(|s| SpecSource {
                json: None,
                ..s.clone()
            })
            .collect();
        let compiled = |sources: &[SpecSource]| -> Vec<String> {
            compile_specs_lazily(sources, &groups)
                .into_iter()
                .map(|tool| {
                    let tool = tool.unwrap();
                    tool.ready().unwrap();
                    format!(
                        "{} {:?} {:?} {:?} {}",
                        serde_json::to_string(&tool.tool).unwrap(),
                        tool.body().unwrap().dispatch,
                        tool.defaults,
                        tool.read_only_description,
                        tool.input_schema()
                            .map(|s| serde_json::to_string(&s).unwrap())
                            .unwrap()
                    )
                })
                .collect()
        };
        let (json, yaml) = (compiled(&from_json), compiled(&from_yaml));
        for ((a, b), source) in json.iter().zip(&yaml).zip(&from_json) {
            assert_eq!(a, b, "{}", source.origin);
        }
    }

    #[test]
    fn specs_compiled_lazily_are_checked_now_and_compiled_on_first_use() {
        let groups = known_groups(&[]);
        let builtin = |name: &str| SpecSource {
            origin: format!("flow:{name}"),
            text: std::fs::read_to_string(format!("{}/tools.d/{name}.yaml", env!("CARGO_MANIFEST_DIR")))
                .unwrap(),
            name: None,
            json: None,
        };
        let good = builtin("search_flows");
        let mut broken_template = builtin("list_namespaces");
        broken_template.text = broken_template.text.replacen("{{", "{{ (", 1);
        let not_yaml = SpecSource {
            text: "name: [".into(),
            ..good.clone()
        };
        let results = compile_specs_lazily(&[good, broken_template, not_yaml], &groups);
        let tool = results[0].as_ref().unwrap();
        assert!(tool.compiled.get().is_none(), "compiled before its first call");
        tool.ready().unwrap();
        let deferred = results[1]
            .as_ref()
            .expect("a template error waits for the first call");
        let error = deferred.ready().unwrap_err().to_string();
        assert!(error.contains("flow:list_namespaces"), "{error}");
        assert!(
            results[2].is_err(),
            "a spec that does not parse is refused at once"
        );
    }

    #[test]
    fn a_lazy_load_lists_what_an_eager_one_does_and_compiles_on_first_use() {
        let eager = load_catalog(&LoadOptions::default()).unwrap();
        let lazy = load_catalog(&LoadOptions {
            lazy: true,
            ..Default::default()
        })
        .unwrap();
        let listed = |c: &Catalog| -> Vec<serde_json::Value> {
            c.tools
                .iter()
                .map(|t| serde_json::to_value(&t.tool).unwrap())
                .collect()
        };
        assert_eq!(listed(&lazy), listed(&eager));
        for (tool, eager) in lazy.tools.iter().zip(&eager.tools) {
            assert!(tool.compiled.get().is_none(), "{} compiled at load", tool.origin);
            // What the listing reads of the actions is known before they are compiled.
            assert_eq!(format!("{:?}", tool.outline), format!("{:?}", eager.outline));
            tool.ready().unwrap_or_else(|e| panic!("{e}"));
            // Compiled again on the first call: the same actions as an eager load's (whose
            // template names count through the whole source).
            let actions = |t: &CompiledTool| {
                let text = format!("{:?}", t.body().unwrap().dispatch);
                text.split("TemplateId(\"t")
                    .map(|part| part.trim_start_matches(|c: char| c.is_ascii_digit()))
                    .collect::<Vec<_>>()
                    .join("TemplateId(\"t")
            };
            assert_eq!(actions(tool), actions(eager), "{}", tool.origin);
        }
        // Eagerly, a source's tools share one environment, compiled at load.
        let first = &eager.tools[0];
        assert!(first.compiled.get().is_some());
        assert!(
            eager
                .tools
                .iter()
                .all(|t| Arc::ptr_eq(&t.body().unwrap().templates, &first.body().unwrap().templates))
        );
    }

    #[test]
    fn a_lazily_loaded_spec_that_does_not_compile_fails_on_first_use_naming_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let broken = GOOD
            .replace("list_things", "broken_one")
            .replace("{{ namespace }}", "{{ nmespace }}");
        std::fs::write(dir.path().join("broken_one.yaml"), &broken).unwrap();
        let schema = GOOD
            .replace("list_things", "bad_schema")
            .replace("{type: string}", "{type: 12}");
        std::fs::write(dir.path().join("bad_schema.yaml"), &schema).unwrap();
        let options = LoadOptions {
            tools_dir: Some(dir.path().into()),
            no_builtin: true,
            ..Default::default()
        };
        // Eagerly (tools validate, a reload): refused at load.
        let errors = load_catalog(&options).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        let lazy = load_catalog(&LoadOptions {
            lazy: true,
            ..options
        })
        .unwrap();
        let tool = |name: &str| lazy.tools.iter().find(|t| t.tool.name == name).unwrap().clone();
        let broken = tool("broken_one");
        // Concurrent first calls: one compilation, every caller the same outcome.
        let outcomes: Vec<Result<(), SpecError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| broken.ready())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let e = outcomes[0].clone().unwrap_err();
        assert!(outcomes.iter().all(|o| o.as_ref().err() == Some(&e)));
        assert!(e.origin.ends_with("broken_one.yaml"), "{e}");
        assert!(e.to_string().contains("unknown variable 'nmespace'"), "{e}");
        let path_line = GOOD.lines().position(|l| l.contains("{{ namespace }}")).unwrap() + 1;
        assert!(e.line.is_some_and(|line| line <= path_line), "{e}");
        let e = tool("bad_schema").validator().err().unwrap();
        assert_eq!(e.field.as_deref(), Some("input"), "{e}");
        // With the line of the field, as a load's errors.
        let line = GOOD.lines().position(|l| l.starts_with("input:")).unwrap() + 1;
        assert!(
            e.to_string()
                .contains(&format!("bad_schema.yaml:{line}: input: not a valid JSON Schema")),
            "{e}"
        );
    }

    #[test]
    fn many_specs_parse_on_several_threads_in_order() {
        let specs: Vec<SpecSource> = (0..super::super::parallel::PARALLEL_FROM + 3)
            .map(|n| {
                let name = format!("tool_{n}");
                let text = GOOD.replace("list_things", &name);
                let text = if n == 7 { "name: [".to_owned() } else { text };
                SpecSource::file(format!("d/{name}.yaml"), text)
            })
            .collect();
        let parsed = in_parallel(&specs, SpecSource::parse);
        assert_eq!(parsed.len(), specs.len());
        for (n, p) in parsed.iter().enumerate() {
            match p {
                Ok(spec) => assert_eq!(spec.name, format!("tool_{n}")),
                Err(e) => assert_eq!((n, e.origin.as_str()), (7, "d/tool_7.yaml")),
            }
        }
    }

    #[test]
    fn lazy_loading_compiles_on_several_threads_and_reports_as_eager_loading_does() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..super::super::parallel::PARALLEL_FROM + 2 {
            let name = format!("tool_{n:03}");
            let text = GOOD.replace("list_things", &name);
            // tool_009 names a group no source declares.
            let text = if n == 9 {
                text.replace("group: flow", "group: nosuch")
            } else {
                text
            };
            std::fs::write(dir.path().join(format!("{name}.yaml")), text).unwrap();
        }
        // A second file defining tool_004.
        let again = GOOD.replace("list_things", "tool_004");
        std::fs::write(dir.path().join("tool_004.yml"), again).unwrap();
        let source = Directory(dir.path().to_path_buf());
        let outcome = |compile| {
            let (layer, errors, _) = load_layer_with(&source, &known_groups(&[]), compile);
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            (layer.tools.keys().cloned().collect::<Vec<_>>(), errors)
        };
        let (lazy_tools, lazy_errors) = outcome(Compile::Lazy);
        assert_eq!((lazy_tools.clone(), lazy_errors.clone()), outcome(Compile::Eager));
        assert_eq!(
            lazy_tools.len(),
            super::super::parallel::PARALLEL_FROM + 1,
            "{lazy_errors:?}"
        );
        assert!(!lazy_tools.contains(&"tool_009".to_owned()));
        assert_eq!(lazy_errors.len(), 2, "{lazy_errors:?}");
        assert!(
            lazy_errors.iter().any(|e| e.contains("also defined in")),
            "{lazy_errors:?}"
        );
        assert!(
            lazy_errors.iter().any(|e| e.contains("unknown group 'nosuch'")),
            "{lazy_errors:?}"
        );
    }

    #[test]
    fn a_directory_adds_and_replaces_tools_and_bad_files_are_all_reported() {
        let dir = tempfile::tempdir().unwrap();
        let replaced = builtin_sources().into_iter().next().unwrap();
        let name = replaced.origin.rsplit('/').next().unwrap().to_owned();
        let new_text = replaced
            .text
            .replacen("description:", "description: REPLACED.", 1);
        std::fs::write(dir.path().join(&name), new_text).unwrap();
        std::fs::write(dir.path().join("list_things.yaml"), GOOD).unwrap();
        let catalog = load_catalog(&LoadOptions {
            tools_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(catalog.tools.len(), builtin_sources().len() + 1);
        let stem = name.trim_end_matches(".yaml");
        let tool = catalog.tools.iter().find(|t| t.tool.name == stem).unwrap();
        assert!(tool.tool.description.as_deref().unwrap().starts_with("REPLACED."));
        assert_eq!(catalog.warnings.len(), 1, "{:?}", catalog.warnings);

        std::fs::write(dir.path().join("broken.yaml"), "name: [").unwrap();
        std::fs::write(
            dir.path().join("bad_group.yaml"),
            GOOD.replace("list_things", "bad_group")
                .replace("flow\n", "nope\n"),
        )
        .unwrap();
        let errors = load_catalog(&LoadOptions {
            tools_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.origin.ends_with("broken.yaml") && e.line == Some(1))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.origin.ends_with("bad_group.yaml") && e.field.as_deref() == Some("group"))
        );

        let skipped = load_catalog(&LoadOptions {
            tools_dir: Some(dir.path().into()),
            skip_invalid: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(skipped.tools.len(), builtin_sources().len() + 1);
        assert_eq!(
            skipped
                .warnings
                .iter()
                .filter(|w| w.starts_with("skipped: "))
                .count(),
            2
        );
    }

    /// A source that declares the `flows` group and holds one spec that names itself.
    #[derive(Debug)]
    struct Flows;

    impl ToolSource for Flows {
        fn label(&self) -> String {
            "flows".into()
        }
        fn specs(&self) -> Result<Vec<SpecSource>, SpecError> {
            Ok(vec![SpecSource::named_by_itself(
                "kestra:flows/ns.hello",
                GOOD.replace("list_things", "flow_hello")
                    .replace("group: flow", "group: flows"),
            )])
        }
        fn groups(&self) -> Vec<String> {
            vec!["flows".into()]
        }
    }

    #[test]
    fn a_group_declared_by_a_source_is_usable_by_the_tools_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("list_things.yaml"),
            GOOD.replace("group: flow", "group: flows"),
        )
        .unwrap();
        let directory: Box<dyn ToolSource> = Box::new(Directory(dir.path().into()));
        let errors = load_sources(std::slice::from_ref(&directory), false).unwrap_err();
        assert!(
            errors[0].to_string().contains("unknown group 'flows'"),
            "{errors:?}"
        );
        let catalog = load_sources(&[Box::new(Flows), directory], false).unwrap();
        let names: Vec<&str> = catalog.tools.iter().map(|t| t.tool.name.as_ref()).collect();
        assert_eq!(names, ["flow_hello", "list_things"]);
        assert_eq!(catalog.layers.len(), 2);
        assert!(catalog.tools.iter().all(|t| t.group == "flows"));
    }
}
