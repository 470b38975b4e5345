//! Hot reload (`--watch`): a change in the tools directory reloads the specs, swaps the engine
//! and sends `notifications/tools/list_changed` to every session that completed the handshake
//! (the stdio client, or each Streamable HTTP session). A broken directory keeps the previous
//! tools (and logs why). File events trigger a check at once; a poll catches what events miss
//! (network filesystems, some container mounts).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rmcp::{Peer, RoleServer};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::engine::SharedEngine;
use crate::filter::apply_disabled;
use crate::spec::source::{Directory, Fingerprint, ToolSource};
use crate::spec::{LoadOptions, load_catalog};
use crate::toolset::ToolSet;

/// The sessions to tell when the tool list changes: one on stdio, any number over HTTP.
/// Sessions register once initialized; closed ones are dropped on the next change.
#[derive(Debug, Clone, Default)]
pub struct Subscribers(Arc<Mutex<Vec<Peer<RoleServer>>>>);

impl Subscribers {
    pub fn add(&self, peer: Peer<RoleServer>) {
        let mut peers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        peers.retain(|p| !p.is_transport_closed());
        peers.push(peer);
    }

    /// Sends `notifications/tools/list_changed` to every open session; returns how many got it.
    pub async fn notify_tool_list_changed(&self) -> usize {
        let peers: Vec<Peer<RoleServer>> = {
            let mut peers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            peers.retain(|p| !p.is_transport_closed());
            peers.clone()
        };
        let mut told = 0;
        for peer in peers {
            match peer.notify_tool_list_changed().await {
                Ok(()) => told += 1,
                Err(e) => tracing::info!("cannot send tools/list_changed to a session: {e}"),
            }
        }
        told
    }
}

/// Reloads the specs; on success swaps in a new tool set on the same runtime (client and pool,
/// learned version and edition) and returns the number of tools.
pub fn reload(options: &LoadOptions, config: &Config, engine: &SharedEngine) -> Result<usize, String> {
    let catalog = load_catalog(options).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        lines.join("\n")
    })?;
    let filtered = apply_disabled(catalog.tools, &config.disabled);
    let count = filtered.kept.len();
    let next = engine
        .load()
        .with_tools(ToolSet::new(filtered, catalog.templates));
    engine.store(Arc::new(next));
    Ok(count)
}

/// A tools directory to watch, with the state it had before the specs were loaded, so that
/// a change made while the server starts is not missed.
pub struct Watch {
    options: LoadOptions,
    source: Directory,
    initial: Option<Fingerprint>,
}

impl Watch {
    /// Takes the directory's fingerprint now; call it before loading the specs.
    pub fn new(options: LoadOptions) -> Option<Watch> {
        let source = Directory(options.tools_dir.clone()?);
        let initial = source.fingerprint();
        Some(Watch {
            options,
            source,
            initial,
        })
    }

    /// Watches until the process ends; `subscribers` are told when the tool list changed.
    pub fn spawn(self, config: Config, engine: SharedEngine, subscribers: Subscribers, poll: Duration) {
        let Watch {
            options,
            source,
            initial,
        } = self;
        let dir = source.0.clone();
        tokio::spawn(async move {
            let (events_tx, mut events) = mpsc::channel::<()>(16);
            // Kept alive for the life of the task; without events the poll still works.
            let _watcher = source.watch_path().and_then(|path| watch_events(path, events_tx));
            let mut last = initial;
            loop {
                if source.fingerprint() == last {
                    tokio::select! {
                        _ = events.recv() => {}
                        _ = tokio::time::sleep(poll) => {}
                    }
                    continue;
                }
                // Let a burst of writes (an editor saving, a copy) settle before reading.
                tokio::time::sleep(Duration::from_millis(150)).await;
                last = source.fingerprint();
                match reload(&options, &config, &engine) {
                    Ok(count) => {
                        let told = subscribers.notify_tool_list_changed().await;
                        tracing::warn!(target: "startup", "{}: reloaded, {count} tools; {told} session(s) told", dir.display());
                    }
                    Err(problems) => tracing::error!(
                        target: "startup",
                        "{}: not reloaded, keeping the previous tools:\n{problems}",
                        dir.display()
                    ),
                }
            }
        });
    }
}

fn watch_events(dir: &Path, events: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let handler = move |_: notify::Result<notify::Event>| {
        let _ = events.try_send(());
    };
    match notify::recommended_watcher(handler) {
        Ok(mut watcher) => match watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
            Ok(()) => Some(watcher),
            Err(e) => {
                tracing::warn!(target: "startup", "no file events for {} ({e}); polling", dir.display());
                None
            }
        },
        Err(e) => {
            tracing::warn!(target: "startup", "no file events ({e}); polling");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, shared};

    #[tokio::test]
    async fn a_reload_swaps_the_tools_and_keeps_the_runtime() {
        let kestra = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::path("/api/v1/configs"))
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({"version": "2.0.1"})),
            )
            .mount(&kestra)
            .await;
        let base = format!("{}/api/v1", kestra.uri());
        let config = Config::from_lookup(|name| (name == "KESTRA_BASE_URL").then(|| base.clone())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let options = LoadOptions {
            tools_dir: Some(dir.path().to_path_buf()),
            ..LoadOptions::default()
        };
        let catalog = load_catalog(&options).unwrap();
        let first = Engine::new(apply_disabled(catalog.tools, &[]), catalog.templates, &config).unwrap();
        let engine = shared(first);
        let before = engine.load_full();
        assert_eq!(before.runtime().version().await.unwrap().to_string(), "2.0.1");
        std::fs::write(
            dir.path().join("extra_tool.yaml"),
            "name: extra_tool\ngroup: flow\ndescription: Extra.\ninput:\n  type: object\n  properties: {}\nrequest:\n  method: GET\n  path: /flows/search\n",
        )
        .unwrap();
        let count = reload(&options, &config, &engine).unwrap();
        let after = engine.load_full();
        assert_eq!(count, before.tools().count() + 1);
        assert!(after.tool("extra_tool").is_some() && before.tool("extra_tool").is_none());
        // The same runtime: the same client and connection pool, the learned version kept.
        assert!(Arc::ptr_eq(before.runtime(), after.runtime()));
        assert_eq!(
            after
                .runtime()
                .known_version()
                .map(ToString::to_string)
                .as_deref(),
            Some("2.0.1")
        );
        assert_eq!(kestra.received_requests().await.unwrap().len(), 1);
    }
}
