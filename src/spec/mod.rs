//! Tool specs: the raw format ([`raw`]), where they come from ([`source`]: the built-in set, a
//! tools directory), loading and merging them ([`load`]), and compilation into servable tools
//! ([`compile`]), with the operations table of Kestra's API ([`operations`]) that implies a
//! request's method and path from its `operation`.
//!
//! Load errors name the file, the line when the YAML parser knows it, the field and the reason:
//! `tools.d/search_flows.yaml:12: request.path: ...`. All problems are collected and reported
//! together.

pub mod action;
pub mod advertise;
pub mod compile;
pub mod inert;
pub mod load;
pub mod notes;
pub mod operations;
pub mod parallel;
pub mod raw;
pub mod source;

pub use action::{
    Action, KNOWN_KESTRA_VERSIONS, LoopStep, Outcome, Repeat, ResponseTemplate, Step, StepKind,
    VersionedRequest,
};
pub use compile::{CompiledTool, Dispatch, KNOWN_GROUPS};
pub use load::{
    Catalog, Layer, LoadOptions, SpecData, SpecSource, check_identity, compile_data_lazily, compile_spec,
    compile_specs, compile_specs_lazily, known_groups, load_catalog, load_layer, load_sources, merge,
    parse_spec,
};
pub use source::{Builtin, Directory, ToolSource};

/// A problem with one spec file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    pub origin: String,
    pub line: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl SpecError {
    pub fn new(origin: &str, field: Option<&str>, message: impl Into<String>) -> Self {
        SpecError {
            origin: origin.to_owned(),
            line: None,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A YAML parser's error as a spec error of `origin`, with the line when the parser knows it.
pub fn parse_spec_error(e: &yaml_serde::Error, origin: &str) -> SpecError {
    let line = e.location().map(|l| l.line());
    let message = e.to_string();
    // yaml_serde appends " at line L column C"; the line is already in the prefix.
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message,
    };
    SpecError {
        origin: origin.to_owned(),
        line,
        field: None,
        message,
    }
}
