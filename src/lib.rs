//! kestra-mcp: an MCP server for Kestra whose tools are YAML specs.
//!
//! The pipeline, one module per stage: [`config`] (environment) → [`spec`] (load and compile
//! `tools.d/`) → [`filter`] (disabled tools) → [`engine`] (a call: validate arguments, [`run`]
//! the steps: [`request`] and [`render`] templates, [`http`], [`answer`], [`project`]) →
//! [`serve`] (rmcp over stdio). [`contract`] checks every request a spec can send against
//! Kestra's OpenAPI descriptions (`kestra-mcp tools validate`).

pub mod answer;
pub mod bound;
pub mod config;
#[cfg(feature = "contract")]
pub mod contract;
pub mod discovery;
pub mod doctor;
pub mod elicit;
pub mod elicit_wire;
pub mod engine;
pub mod error;
pub mod events;
pub mod exchange;
pub mod filter;
pub mod filters;
pub mod flows;
pub mod guard;
pub mod health;
pub mod http;
pub mod map_step;
pub mod oauth;
pub mod policy;
pub mod project;
pub mod readonly;
pub mod reload;
pub mod render;
pub mod request;
pub mod run;
pub mod runtime;
pub mod sanitize;
pub mod secrets;
pub mod serve;
pub mod serve_http;
pub mod spec;
pub mod spectest;
pub mod stdio;
pub mod tasks;
pub mod toolset;
pub mod wait;

#[cfg(test)]
mod layout;
#[cfg(test)]
mod stdio_client;
