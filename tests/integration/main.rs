//! Integration tests: the real `kestra-mcp` binary over stdio, against a loopback stub of
//! Kestra. One test binary; themed modules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod configuration;
mod faults;
mod flow_tool;
mod flows;
mod guard;
mod http_auth;
mod protocol;
mod reliability;
mod seams;
mod spectest;
mod stub;
mod surface;
mod tasks;
mod tools;
mod tools_catalog;
mod tools_ee;
mod tools_execution;
mod tools_stream;
mod util;
mod waits;
