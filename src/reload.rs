//! Hot reload (`--watch`): a change in the tools directory reloads the specs, swaps the engine
//! and sends `notifications/tools/list_changed` to every session that completed the handshake
//! (the stdio client, or each Streamable HTTP session). A broken directory keeps the previous
//! tools (and logs why). File events trigger a check at once; a poll catches what events miss
//! (network filesystems, some container mounts).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rmcp::{Peer, RoleServer};
use tokio::sync::{Notify, mpsc};

use crate::config::Config;
use crate::engine::{Engine, SharedEngine};
use crate::flows::selection::Selection;
use crate::spec::load::sources_for;
use crate::spec::source::{Directory, Fingerprint, ToolSource};
use crate::spec::{
    CompiledTool, Layer, LoadOptions, SpecData, SpecError, SpecSource, compile_data_lazily, compile_spec,
    known_groups, load_layer,
};
use crate::toolset::{ToolSet, UNSOURCED};

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

    /// The open sessions.
    pub fn peers(&self) -> Vec<Peer<RoleServer>> {
        let mut peers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        peers.retain(|p| !p.is_transport_closed());
        peers.clone()
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

/// Reloads the specs of the sources whose fingerprint changed (a source that never changes,
/// the built-in set, is never recompiled once loaded); the other sources keep their compiled
/// tools. On success swaps in a new tool set on the same runtime (client and pool, learned
/// version and edition) and returns the number of tools.
pub fn reload(options: &LoadOptions, config: &Config, engine: &SharedEngine) -> Result<usize, String> {
    let current = engine.load_full();
    let sources = sources_for(options);
    let groups = known_groups(&sources);
    let mut layers = Vec::new();
    let mut errors = Vec::new();
    for source in &sources {
        match current.tool_set().layer(&source.label()) {
            Some(layer) if layer.fingerprint == source.fingerprint() => layers.push(layer.clone()),
            _ => {
                let (layer, problems, warnings) = load_layer(source.as_ref(), &groups);
                for warning in warnings {
                    tracing::warn!(target: "startup", "{warning}");
                }
                layers.push(layer);
                errors.extend(problems);
            }
        }
    }
    // The tools of sources that add them at run time (a `SourceHandle`) stay as they are.
    let labels: Vec<String> = sources.iter().map(|s| s.label()).collect();
    layers.extend(
        current
            .tool_set()
            .layers()
            .iter()
            .filter(|l| !labels.contains(&l.label) && l.label != UNSOURCED)
            .cloned(),
    );
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        if !options.skip_invalid {
            return Err(lines.join("\n"));
        }
        tracing::warn!(target: "startup", "skipped:\n{}", lines.join("\n"));
    }
    let (tools, warnings) = ToolSet::from_layers(layers, &config.disabled);
    for warning in warnings {
        tracing::info!(target: "startup", "{warning}");
    }
    let count = tools.len();
    engine.store(Arc::new(current.with_tools(tools)));
    Ok(count)
}

/// What a source that changes while the server runs (Kestra's flows as tools) holds to add
/// and remove its tools: each change compiles only the tool concerned, swaps in a tool set
/// that shares every other tool, and tells the sessions that the list changed.
#[derive(Clone)]
pub struct SourceHandle {
    label: String,
    groups: BTreeSet<String>,
    engine: SharedEngine,
    subscribers: Subscribers,
}

impl SourceHandle {
    /// A handle for the source `label`, whose specs may use the known groups and `groups`
    /// (which `KESTRA_MCP_DISABLED_TOOLS` may then name).
    pub fn new(label: &str, groups: &[&str], engine: SharedEngine, subscribers: Subscribers) -> Self {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        let known = known_groups(&[])
            .into_iter()
            .chain(groups.iter().cloned())
            .collect();
        let layer = Layer::empty(label, groups);
        engine.rcu(|current| match current.tool_set().layer(label) {
            Some(_) => Arc::clone(current),
            None => Arc::new(current.with_tools(current.tool_set().with_layer(layer.clone()))),
        });
        SourceHandle {
            label: label.to_owned(),
            groups: known,
            engine,
            subscribers,
        }
    }

    /// Compiles `spec` (it names itself, or must match `spec.name` when set) and serves it,
    /// replacing this source's tool of the same name; returns the sessions told.
    pub async fn add(&self, spec: &SpecSource) -> Result<usize, SpecError> {
        let tool = Arc::new(compile_spec(spec, &self.groups)?);
        self.engine.rcu(|current| {
            let mut layer = current
                .tool_set()
                .layer(&self.label)
                .cloned()
                .unwrap_or_else(|| Layer::empty(&self.label, Vec::new()));
            layer.tools.insert(tool.tool.name.to_string(), tool.clone());
            current.with_tools(current.tool_set().with_layer(layer))
        });
        Ok(self.subscribers.notify_tool_list_changed().await)
    }

    /// Parses and checks `specs` without serving them (their groups may also be `groups`), one
    /// result per spec; each tool's templates and validator are compiled on its first call, as
    /// the server does for its tools directory (hundreds of flow tools list at once).
    pub fn compile_all(
        &self,
        specs: &[SpecData],
        groups: &[String],
    ) -> Vec<Result<Arc<CompiledTool>, SpecError>> {
        let mut known = self.groups.clone();
        known.extend(groups.iter().cloned());
        compile_data_lazily(specs, &known)
    }

    /// This source's tools being served now (before `KESTRA_MCP_DISABLED_TOOLS`).
    pub fn tools(&self) -> BTreeMap<String, Arc<CompiledTool>> {
        self.engine
            .load()
            .tool_set()
            .layer(&self.label)
            .map(|l| l.tools.clone())
            .unwrap_or_default()
    }

    /// The selection files of flow tools the other sources held at their last load (a
    /// reload that failed keeps the previous ones).
    pub fn selections(&self) -> Vec<Selection> {
        self.gather_from_other_layers(|l| l.selections.clone())
    }

    /// The names of the other sources' tools (a name this source must not take).
    pub fn names_of_others(&self) -> BTreeSet<String> {
        self.gather_from_other_layers(|l| l.tools.keys().cloned().collect::<Vec<_>>())
    }

    /// What `take` gives of each layer of the other sources, gathered.
    fn gather_from_other_layers<T, C: IntoIterator<Item = T>, Out: FromIterator<T>>(
        &self,
        take: impl Fn(&Layer) -> C,
    ) -> Out {
        self.engine
            .load()
            .tool_set()
            .layers()
            .iter()
            .filter(|l| l.label != self.label)
            .flat_map(take)
            .collect()
    }

    /// Replaces this source's whole set of tools with `tools` in one update (its groups become
    /// `groups`), and tells the sessions once; returns the sessions told. Nothing changes, and
    /// nobody is told, when the same tools are served already.
    pub async fn replace_all(
        &self,
        tools: BTreeMap<String, Arc<CompiledTool>>,
        groups: Vec<String>,
    ) -> usize {
        let mut changed = false;
        self.engine.rcu(|current| {
            let same = current.tool_set().layer(&self.label).is_some_and(|l| {
                l.groups == groups
                    && l.tools.len() == tools.len()
                    && l.tools
                        .iter()
                        .zip(&tools)
                        .all(|((a, x), (b, y))| a == b && Arc::ptr_eq(x, y))
            });
            changed = !same;
            if same {
                return Arc::clone(current);
            }
            let mut layer = Layer::empty(&self.label, groups.clone());
            layer.tools = tools.clone();
            Arc::new(current.with_tools(current.tool_set().with_layer(layer)))
        });
        match changed {
            true => self.subscribers.notify_tool_list_changed().await,
            false => 0,
        }
    }

    /// Stops serving this source's tool `name`; `false` when it has none of that name.
    pub async fn remove(&self, name: &str) -> bool {
        let mut removed = false;
        self.engine.rcu(
            |current| match current.tool_set().without_tool(&self.label, name) {
                Some(tools) => {
                    removed = true;
                    Arc::new(current.with_tools(tools))
                }
                None => {
                    removed = false;
                    Arc::clone(current)
                }
            },
        );
        if removed {
            self.subscribers.notify_tool_list_changed().await;
        }
        removed
    }
}

/// Wakes a source that changes at run time before its next refresh (the flow tools' source,
/// after a `--watch` reload of the directory that may have changed its selection files).
#[derive(Debug, Clone, Default)]
pub struct Kick(Arc<Notify>);

impl Kick {
    pub fn kick(&self) {
        self.0.notify_one();
    }

    /// Waits for the next kick (or the one given while nobody waited).
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

/// A tools directory to watch, with the state it had before the specs were loaded, so that
/// a change made while the server starts is not missed.
pub struct Watch {
    options: LoadOptions,
    source: Directory,
    initial: Option<Fingerprint>,
    /// Woken after each reload: the flow tools' source, which re-reads its selection files.
    after_reload: Option<Kick>,
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
            after_reload: None,
        })
    }

    /// The same watch, waking `kick` after each reload.
    pub fn after_reload(self, kick: Option<Kick>) -> Watch {
        Watch {
            after_reload: kick,
            ..self
        }
    }

    /// Watches until the process ends; `subscribers` are told when the tool list changed.
    pub fn spawn(self, config: Config, engine: SharedEngine, subscribers: Subscribers, poll: Duration) {
        let Watch {
            options,
            source,
            initial,
            after_reload,
        } = self;
        let dir = source.0.clone();
        tokio::spawn(async move {
            let (events_tx, mut events) = mpsc::channel::<()>(16);
            // Kept alive for the life of the task; without events the poll still works.
            let _watcher = source.watch_path().and_then(|path| watch_events(path, events_tx));
            let mut last = initial;
            loop {
                // A fingerprint that panicked counts as no change: the next event or poll retries.
                let now = fingerprint_off_workers(&source).await;
                if now.as_ref().is_none_or(|now| *now == last) {
                    tokio::select! {
                        _ = events.recv() => {}
                        _ = tokio::time::sleep(poll) => {}
                    }
                    continue;
                }
                // Let a burst of writes (an editor saving, a copy) settle before reading.
                tokio::time::sleep(Duration::from_millis(150)).await;
                if let Some(now) = fingerprint_off_workers(&source).await {
                    last = now;
                }
                let (reloaded, previous) = reload_off_workers(&options, &config, &engine).await;
                if let Some(kick) = &after_reload {
                    kick.kick();
                }
                match reloaded {
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
                // Only a reload that swapped the engine leaves one to free.
                if let Some(previous) = previous.filter(|p| !Arc::ptr_eq(p, &engine.load())) {
                    release_off_workers(previous);
                }
            }
        });
    }
}

/// The directory's fingerprint, read on a blocking thread (listing thousands of specs takes a
/// while); `None`, logged, when that panicked.
async fn fingerprint_off_workers(source: &Directory) -> Option<Option<Fingerprint>> {
    let dir = source.clone();
    match tokio::task::spawn_blocking(move || dir.fingerprint()).await {
        Ok(fingerprint) => Some(fingerprint),
        Err(e) => {
            tracing::error!(target: "startup", "{}: cannot list the specs: {e}", source.0.display());
            None
        }
    }
}

/// [`reload`] on a blocking thread: it parses and compiles every spec of a changed source
/// (seconds for 10,000 specs), which would otherwise hold an async worker, and the calls queued
/// on it, for as long. A panic there is an error like another: the previous tools are kept.
/// Also returns the engine the reload replaced, if it could be had, for
/// [`release_off_workers`].
async fn reload_off_workers(
    options: &LoadOptions,
    config: &Config,
    engine: &SharedEngine,
) -> (Result<usize, String>, Option<Arc<Engine>>) {
    let (options, config, engine) = (options.clone(), config.clone(), engine.clone());
    let work = move || {
        let previous = engine.load_full();
        (reload(&options, &config, &engine), previous)
    };
    match tokio::task::spawn_blocking(work).await {
        Ok((reloaded, previous)) => (reloaded, Some(previous)),
        Err(e) => (Err(format!("the reload stopped: {e}")), None),
    }
}

/// How long [`release_off_workers`] waits for the calls holding a replaced engine.
const RELEASE_WAIT: Duration = Duration::from_secs(60);

/// Frees `previous`, an engine a reload replaced, on a thread of its own once the calls in
/// flight that still hold it are done (at most [`RELEASE_WAIT`]). Its tools, thousands after a
/// reload of a large directory, take a while to free: otherwise the last call to let go of it
/// would do that on an async worker, pausing the calls queued there. A plain thread, not a
/// blocking task: the runtime waits for those when the server exits, the process not for this.
fn release_off_workers(previous: Arc<Engine>) {
    let release = move || {
        let deadline = Instant::now() + RELEASE_WAIT;
        while Arc::strong_count(&previous) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(previous);
    };
    if let Err(e) = std::thread::Builder::new()
        .name("engine-release".into())
        .spawn(release)
    {
        tracing::warn!(target: "startup", "cannot start a thread to free the replaced tools (freed here instead): {e}");
    }
}

/// Whether a file event may mean the specs changed. Opening or reading the directory or a file
/// is not: inotify reports every open, including the directory listing that each check of the
/// fingerprint does, so counting them made every check trigger the next (a busy loop, half a
/// core with two specs). Closing a file written to is (an editor saving).
fn is_a_change(event: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

fn watch_events(dir: &Path, events: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let handler = move |event: notify::Result<notify::Event>| {
        if event.as_ref().is_ok_and(is_a_change) || event.is_err() {
            let _ = events.try_send(());
        }
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
    use crate::engine::shared;
    use crate::filter::apply_disabled;
    use crate::spec::load_catalog;

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
        let first = Engine::new(apply_disabled(catalog.tools, &[]), catalog.layers, &config).unwrap();
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

    fn config_for(base: &str) -> Config {
        let base = base.to_owned();
        Config::from_lookup(|name| (name == "KESTRA_BASE_URL").then(|| base.clone())).unwrap()
    }

    /// An engine serving the built-in tools and those of `dir`, with the options that load it.
    fn engine_over(dir: &Path, config: &Config) -> (LoadOptions, SharedEngine) {
        let options = LoadOptions {
            tools_dir: Some(dir.to_path_buf()),
            ..LoadOptions::default()
        };
        let catalog = load_catalog(&options).unwrap();
        let engine = shared(Engine::new(apply_disabled(catalog.tools, &[]), catalog.layers, config).unwrap());
        (options, engine)
    }

    const EXTRA: &str = "name: extra_tool\ngroup: flow\ndescription: Extra.\ninput:\n  type: object\n  properties: {}\nrequest:\n  method: GET\n  path: /flows/search\n";

    #[tokio::test]
    async fn the_flow_source_reads_the_selections_of_the_last_load_not_the_directory() {
        let config = config_for("http://127.0.0.1:9/api/v1");
        let dir = tempfile::tempdir().unwrap();
        let selection = |namespace: &str| format!("kind: flow_tools\nselect:\n  - namespace: {namespace}\n");
        std::fs::write(dir.path().join("flows.yaml"), selection("a")).unwrap();
        let (options, engine) = engine_over(dir.path(), &config);
        let source = SourceHandle::new("kestra:flows", &["flows"], engine.clone(), Subscribers::default());
        let namespaces = |source: &SourceHandle| format!("{:?}", source.selections());
        let first = namespaces(&source);
        assert!(first.contains("\"a\""), "{first}");
        // Changed on disk: nothing changes until a reload reads it.
        std::fs::write(dir.path().join("flows.yaml"), selection("b")).unwrap();
        assert_eq!(namespaces(&source), first);
        reload(&options, &config, &engine).unwrap();
        let second = namespaces(&source);
        assert!(second.contains("\"b\"") && !second.contains("\"a\""), "{second}");
        // A broken selection fails the reload: the previous selections stay.
        std::fs::write(dir.path().join("flows.yaml"), "kind: flow_tools\nselect: 12\n").unwrap();
        assert!(reload(&options, &config, &engine).is_err());
        assert_eq!(namespaces(&source), second);
    }

    #[tokio::test]
    async fn a_change_in_the_directory_recompiles_only_the_directory() {
        let config = config_for("http://127.0.0.1:9/api/v1");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("extra_tool.yaml"), EXTRA).unwrap();
        let (options, engine) = engine_over(dir.path(), &config);
        let before = engine.load_full();
        std::fs::write(
            dir.path().join("other_tool.yaml"),
            EXTRA.replace("extra_tool", "other_tool"),
        )
        .unwrap();
        reload(&options, &config, &engine).unwrap();
        let after = engine.load_full();
        assert!(after.tool("other_tool").is_some() && before.tool("other_tool").is_none());

        // The built-in tools are the very same compiled tools (templates included).
        let builtin = |e: &Engine| e.tool_set().layer("builtin:tools.d").unwrap().tools.clone();
        let (old, new) = (builtin(&before), builtin(&after));
        assert!(old.len() > 30);
        assert_eq!(old.keys().collect::<Vec<_>>(), new.keys().collect::<Vec<_>>());
        assert!(old.iter().all(|(name, tool)| Arc::ptr_eq(tool, &new[name])));
        let served = |e: &Engine| e.tool_set().get_shared("search_flows").unwrap().clone();
        assert!(Arc::ptr_eq(&served(&before), &served(&after)));
        // The directory's were compiled again.
        let extra = |e: &Engine| e.tool_set().get_shared("extra_tool").unwrap().clone();
        assert!(!Arc::ptr_eq(&extra(&before), &extra(&after)));
        // One template environment per source: the built-ins share one, the directory has its own.
        let envs = |tools: &std::collections::BTreeMap<String, Arc<crate::spec::CompiledTool>>| {
            let mut envs: Vec<*const crate::render::Templates> = tools
                .values()
                .map(|t| Arc::as_ptr(&t.body().unwrap().templates))
                .collect();
            envs.dedup();
            envs
        };
        assert_eq!(envs(&new).len(), 1);
        assert!(!Arc::ptr_eq(
            &extra(&after).body().unwrap().templates,
            &new["search_flows"].body().unwrap().templates
        ));

        // Nothing changed: nothing is compiled.
        reload(&options, &config, &engine).unwrap();
        let again = engine.load_full();
        assert!(Arc::ptr_eq(&extra(&after), &extra(&again)));
    }

    /// Reading the directory (as each fingerprint check does) or a spec is no event; writing,
    /// creating or removing a spec is one.
    #[tokio::test]
    async fn only_changes_are_file_events_not_reads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("extra_tool.yaml"), EXTRA).unwrap();
        let (tx, mut events) = mpsc::channel(16);
        let Some(_watcher) = watch_events(dir.path(), tx) else {
            panic!("no inotify watcher on this machine");
        };
        let quiet = |events: &mut mpsc::Receiver<()>| {
            let mut seen = 0;
            while events.try_recv().is_ok() {
                seen += 1;
            }
            seen
        };
        let settle = || tokio::time::sleep(Duration::from_millis(300));
        for _ in 0..3 {
            Directory(dir.path().to_path_buf()).fingerprint();
            std::fs::read_to_string(dir.path().join("extra_tool.yaml")).unwrap();
        }
        settle().await;
        assert_eq!(quiet(&mut events), 0, "reading the directory counted as a change");
        std::fs::write(
            dir.path().join("other_tool.yaml"),
            EXTRA.replace("extra_tool", "other_tool"),
        )
        .unwrap();
        settle().await;
        assert!(quiet(&mut events) > 0, "a new spec was not an event");
        std::fs::write(
            dir.path().join("other_tool.yaml"),
            EXTRA.replace("extra_tool", "other_tool") + "\n",
        )
        .unwrap();
        settle().await;
        assert!(quiet(&mut events) > 0, "a rewritten spec was not an event");
        std::fs::remove_file(dir.path().join("other_tool.yaml")).unwrap();
        settle().await;
        assert!(quiet(&mut events) > 0, "a removed spec was not an event");
    }

    /// On a runtime of one thread (the worst case of a busy machine), the watch's reload of a
    /// directory of many specs must leave that thread free: calls keep being answered while it
    /// compiles, instead of waiting for its end.
    #[tokio::test(flavor = "current_thread")]
    async fn calls_are_answered_while_a_reload_compiles() {
        use crate::stdio_client::StdioClient;
        use serde_json::json;

        const SPECS: usize = 3000;
        let config = config_for("http://127.0.0.1:9/api/v1");
        let dir = tempfile::tempdir().unwrap();
        for i in 0..SPECS {
            let name = format!("tool_{i:05}");
            std::fs::write(
                dir.path().join(format!("{name}.yaml")),
                EXTRA.replace("extra_tool", &name),
            )
            .unwrap();
        }
        let options = LoadOptions {
            tools_dir: Some(dir.path().to_path_buf()),
            ..LoadOptions::default()
        };
        let served = LoadOptions {
            lazy: true,
            ..options.clone()
        };
        let catalog = load_catalog(&served).unwrap();
        let engine =
            shared(Engine::new(apply_disabled(catalog.tools, &[]), catalog.layers, &config).unwrap());
        // The yardstick: how long a reload of this directory blocks the thread that runs it.
        std::fs::write(dir.path().join("extra_tool.yaml"), EXTRA).unwrap();
        let started = Instant::now();
        reload(&options, &config, &engine).unwrap();
        let blocking = started.elapsed();
        assert!(
            blocking >= Duration::from_millis(100),
            "a reload of {SPECS} specs took {blocking:?}: too short to tell a stall from noise"
        );

        let watch = Watch::new(options.clone()).unwrap();
        let subscribers = Subscribers::default();
        let mut client = StdioClient::start(engine.clone(), subscribers.clone(), json!({})).await;
        client.request("ping", json!({})).await;
        watch.spawn(config, engine.clone(), subscribers, Duration::from_millis(50));
        std::fs::write(
            dir.path().join("other_tool.yaml"),
            EXTRA.replace("extra_tool", "other_tool"),
        )
        .unwrap();
        let mut last = Instant::now();
        let mut longest = Duration::ZERO;
        let mut answered = 0;
        while !client
            .seen
            .iter()
            .any(|m| m["method"] == "notifications/tools/list_changed")
        {
            let answer = client.request("ping", json!({})).await;
            assert!(answer.get("result").is_some(), "{answer}");
            longest = longest.max(last.elapsed());
            last = Instant::now();
            answered += 1;
        }
        assert!(engine.load().tool("other_tool").is_some());
        assert!(
            longest < blocking / 3,
            "a call waited {longest:?} during a reload that blocks for about {blocking:?} \
             ({answered} answered meanwhile)"
        );
    }

    #[tokio::test]
    async fn a_replaced_engine_is_freed_once_the_last_call_holding_it_ends() {
        let config = config_for("http://127.0.0.1:9/api/v1");
        let served = LoadOptions {
            lazy: true,
            ..LoadOptions::default()
        };
        let catalog = load_catalog(&served).unwrap();
        let previous =
            Arc::new(Engine::new(apply_disabled(catalog.tools, &[]), catalog.layers, &config).unwrap());
        let in_flight = Arc::clone(&previous);
        let freed = Arc::downgrade(&previous);
        release_off_workers(previous);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(freed.strong_count(), 2, "the releaser waits for the call");
        // The call ends: the releaser, on its blocking thread, frees the engine.
        drop(in_flight);
        let deadline = Instant::now() + Duration::from_secs(5);
        while freed.strong_count() > 0 {
            assert!(Instant::now() < deadline, "the replaced engine is never freed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    const FLOW_TOOL: &str = "name: flow_hello
group: flows
description: Runs the flow hello.
input:
  type: object
  properties: {}
request:
  method: GET
  path: /flows/ns1/hello
";

    #[tokio::test]
    async fn a_source_adds_and_removes_a_tool_at_run_time() {
        use crate::stdio_client::StdioClient;
        use serde_json::json;
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let kestra = MockServer::start().await;
        Mock::given(path("/api/v1/configs"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "2.0.1"})))
            .mount(&kestra)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/main/flows/ns1/hello"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "hello-from-stub"})))
            .mount(&kestra)
            .await;
        let config = config_for(&format!("{}/api/v1", kestra.uri()));
        let catalog = load_catalog(&LoadOptions::default()).unwrap();
        let engine =
            shared(Engine::new(apply_disabled(catalog.tools, &[]), catalog.layers, &config).unwrap());
        let subscribers = Subscribers::default();
        let mut client = StdioClient::start(engine.clone(), subscribers.clone(), json!({})).await;
        let listed = |answer: &serde_json::Value| -> Vec<String> {
            answer["result"]["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let first = listed(&client.request("tools/list", json!({})).await);
        assert!(
            !subscribers.peers().is_empty(),
            "the session subscribed once initialized"
        );
        let before = engine.load_full();

        let source = SourceHandle::new("kestra:flows", &["flows"], engine.clone(), subscribers.clone());
        let spec = SpecSource::named_by_itself("kestra:flows/ns1.hello", FLOW_TOOL);
        assert_eq!(source.add(&spec).await.unwrap(), 1);
        client.wait_for("notifications/tools/list_changed").await;
        let with = listed(&client.request("tools/list", json!({})).await);
        assert!(with.contains(&"flow_hello".to_owned()));
        assert_eq!(with.len(), first.len() + 1);
        let called = client
            .request("tools/call", json!({"name": "flow_hello", "arguments": {}}))
            .await;
        assert_eq!(called["result"]["isError"], json!(false), "{called}");
        let text = called["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        let answered: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(answered["id"], "hello-from-stub");
        let after = engine.load_full();
        let builtin = |e: &Engine, name: &str| e.tool_set().get_shared(name).unwrap().clone();
        for name in &first {
            assert!(
                Arc::ptr_eq(&builtin(&before, name), &builtin(&after, name)),
                "{name}"
            );
        }

        assert!(source.remove("flow_hello").await);
        client.wait_for("notifications/tools/list_changed").await;
        let without = listed(&client.request("tools/list", json!({})).await);
        assert_eq!(without, first);
        let gone = client
            .request("tools/call", json!({"name": "flow_hello", "arguments": {}}))
            .await;
        assert!(gone.get("error").is_some(), "{gone}");
        assert!(!source.remove("flow_hello").await);
        // A reload of the file sources keeps the run-time source's tools.
        source.add(&spec).await.unwrap();
        reload(&LoadOptions::default(), &config, &engine).unwrap();
        assert!(engine.load().tool("flow_hello").is_some());
        // A name the source requires (a file's) is still checked, and a group it did not declare
        // is refused.
        let misnamed = SpecSource::file("flows/other.yaml".into(), FLOW_TOOL.into());
        assert!(
            source
                .add(&misnamed)
                .await
                .unwrap_err()
                .to_string()
                .contains("must match the file name 'other'")
        );
        let undeclared = SpecSource::named_by_itself("x", FLOW_TOOL.replace("group: flows", "group: flowz"));
        assert!(
            source
                .add(&undeclared)
                .await
                .unwrap_err()
                .to_string()
                .contains("unknown group 'flowz'")
        );
    }
}
