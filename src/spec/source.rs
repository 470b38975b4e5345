//! Where specs come from. A [`ToolSource`] provides spec texts and says, through a cheap
//! [`Fingerprint`], when they may have changed: the built-in set embedded in the binary
//! ([`Builtin`]) and a tools directory ([`Directory`]) today; Kestra's flows could be another.
//! [`load_sources`](super::load::load_sources) merges sources by tool name, later ones replacing
//! earlier ones; the watch of `--watch` reloads when a source's fingerprint changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use include_dir::{Dir, include_dir};

use super::parallel::in_parallel;
use super::raw::ToolSpec;
use super::{SpecError, parse_spec_error};

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/tools.d");

/// The text of one spec and where it came from.
#[derive(Debug, Clone)]
pub struct SpecSource {
    pub origin: String,
    pub text: String,
    /// The name the source requires the spec to have: a file's stem for the file sources (it
    /// catches a copy-pasted spec whose name was not changed); `None` when the spec names
    /// itself (a source that is not made of files).
    pub name: Option<String>,
    /// The same spec as JSON, converted when the binary was built (the built-in specs, see
    /// build.rs): read instead of `text` at start-up, several times faster than YAML; `text`
    /// stays the source of messages.
    pub json: Option<&'static str>,
}

impl SpecSource {
    /// A spec read from a file: its name must be the file's stem.
    pub fn file(origin: String, text: String) -> Self {
        let name = Path::new(&origin)
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned);
        SpecSource {
            origin,
            text,
            name,
            json: None,
        }
    }

    /// A spec that names itself (no file behind it).
    pub fn named_by_itself(origin: impl Into<String>, text: impl Into<String>) -> Self {
        SpecSource {
            origin: origin.into(),
            text: text.into(),
            name: None,
            json: None,
        }
    }

    /// The spec: from its JSON when build.rs converted it (the built-in specs), else (or
    /// should the JSON not read as a spec) from its YAML, whose errors carry lines.
    pub fn parse(&self) -> Result<ToolSpec, SpecError> {
        self.json
            .and_then(|json| serde_json::from_str(json).ok())
            .map_or_else(|| parse_spec(&self.text, &self.origin), Ok)
    }
}

/// Parses one spec strictly; errors carry the line and column when the parser knows them.
pub fn parse_spec(text: &str, origin: &str) -> Result<ToolSpec, SpecError> {
    yaml_serde::from_str(text).map_err(|e| parse_spec_error(&e, origin))
}

/// What a YAML file's top level says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// No `kind`: a tool spec.
    Spec,
    /// A `kind`: a selection of flow tools when it is `flow_tools` (any other value is an
    /// error `flows::selection` reports).
    Selection,
}

/// Whether `text` is a selection file: its top level has a `kind`. Text that is not a YAML
/// mapping is a spec (the spec parser says what is wrong with it).
pub fn file_kind(text: &str) -> FileKind {
    // Cheap first: most files are specs and never say `kind`.
    if !text.contains("kind") {
        return FileKind::Spec;
    }
    match yaml_serde::from_str::<BTreeMap<String, yaml_serde::Value>>(text) {
        Ok(top) if top.contains_key("kind") => FileKind::Selection,
        _ => FileKind::Spec,
    }
}

/// The built-in specs.
pub fn builtin_sources() -> Vec<SpecSource> {
    let mut sources: Vec<SpecSource> = BUILTIN
        .files()
        .filter(|f| is_spec_file(f.path()))
        .filter_map(|f| {
            let name = f.path().to_str()?;
            Some(SpecSource {
                json: builtin_json(name),
                ..SpecSource::file(format!("builtin:tools.d/{name}"), f.contents_utf8()?.to_owned())
            })
        })
        .collect();
    sources.sort_by(|a, b| a.origin.cmp(&b.origin));
    sources
}

include!(concat!(env!("OUT_DIR"), "/builtin_json.rs"));

/// The built-in spec `name` (a file name of tools.d/) as JSON, when build.rs converted it.
fn builtin_json(name: &str) -> Option<&'static str> {
    BUILTIN_JSON
        .binary_search_by(|(file, _)| (*file).cmp(name))
        .ok()
        .map(|i| BUILTIN_JSON[i].1)
}

/// The specs in `dir` (`*.yaml` and `*.yml`, sorted by name; not recursive), without the
/// selection files of flow tools ([`dir_selection_sources`]).
pub fn dir_sources(dir: &Path) -> Result<Vec<SpecSource>, SpecError> {
    Ok(dir_yaml_files(dir)?
        .into_iter()
        .filter(|f| file_kind(&f.text) == FileKind::Spec)
        .collect())
}

/// The selection files of flow tools in `dir` (a `kind` at their top level), sorted by name.
pub fn dir_selection_sources(dir: &Path) -> Result<Vec<SpecSource>, SpecError> {
    Ok(dir_yaml_files(dir)?
        .into_iter()
        .filter(|f| file_kind(&f.text) == FileKind::Selection)
        .collect())
}

fn dir_yaml_files(dir: &Path) -> Result<Vec<SpecSource>, SpecError> {
    Ok(read_yaml_files(dir)?
        .into_iter()
        .map(|(source, _)| source)
        .collect())
}

/// A file's size and modification time, as the fingerprint holds them.
type FileStamp = (u64, Option<SystemTime>);

/// The YAML files of `dir` (sorted by name), each read once, with the size and modification
/// time of what was read (the fingerprint of a tools directory is made of them).
fn read_yaml_files(dir: &Path) -> Result<Vec<(SpecSource, FileStamp)>, SpecError> {
    let origin = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| SpecError::new(&origin, None, format!("cannot read tools directory: {e}")))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| is_spec_file(&e.path()) && is_file(e))
        .map(|e| e.path())
        .collect();
    // One directory: ordering the whole paths as bytes orders the file names, without
    // `Path`'s component-wise comparison (a visible cost with thousands of files).
    paths.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    // Read on a few threads: with thousands of files the system calls are a large share of
    // start-up.
    in_parallel(&paths, |path| read_spec_file(path))
        .into_iter()
        .collect()
}

/// Whether a directory entry is a file (or a link to one), from the directory listing when it
/// says (no `stat` per entry).
fn is_file(entry: &std::fs::DirEntry) -> bool {
    match entry.file_type() {
        Ok(t) if t.is_file() => true,
        Ok(t) if !t.is_symlink() => false,
        _ => entry.path().is_file(),
    }
}

fn read_spec_file(path: &Path) -> Result<(SpecSource, FileStamp), SpecError> {
    let origin = path.display().to_string();
    let unreadable = |e: std::io::Error| SpecError::new(&origin, None, format!("cannot read file: {e}"));
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    let mut text = String::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    std::io::Read::read_to_string(&mut file, &mut text).map_err(unreadable)?;
    let stamp = (meta.len(), meta.modified().ok());
    Ok((SpecSource::file(origin, text), stamp))
}

/// Whether a file is a tool spec (`*.yaml` or `*.yml`, but not the spec tests beside them,
/// `*.test.yaml`).
pub(crate) fn is_spec_file(path: &Path) -> bool {
    let is_test = path
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with(".test"));
    !is_test && matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// The embedded `tools.d/` files whose name `keep` accepts: `(file name, text)`, sorted (the
/// spec tests of `kestra-mcp tools test`).
pub fn builtin_files(keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = BUILTIN
        .files()
        .filter_map(|f| Some((f.path().to_str()?.to_owned(), f.contents_utf8()?.to_owned())))
        .filter(|(name, _)| keep(name))
        .collect();
    files.sort();
    files
}

/// What a source looks like now: entries with a size and a modification time. Two equal
/// fingerprints mean nothing changed.
pub type Fingerprint = Vec<(String, u64, Option<SystemTime>)>;

/// What a source holds, read at once ([`ToolSource::contents`]).
#[derive(Debug, Default)]
pub struct Contents {
    pub specs: Vec<SpecSource>,
    pub selections: Vec<SpecSource>,
    /// Taken before (or while) the files were read, so that a later change shows.
    pub fingerprint: Option<Fingerprint>,
}

/// A provider of tool specs.
pub trait ToolSource: Send + Sync + std::fmt::Debug {
    /// Where the specs come from, for messages.
    fn label(&self) -> String;

    /// The spec texts it holds now.
    fn specs(&self) -> Result<Vec<SpecSource>, SpecError>;

    /// The selection files of flow tools it holds (checked when it loads; not specs).
    fn selections(&self) -> Result<Vec<SpecSource>, SpecError> {
        Ok(Vec::new())
    }

    /// Its specs, selection files and fingerprint at once, for loading: a source made of files
    /// reads each file once (the default asks the three methods).
    fn contents(&self) -> Result<Contents, SpecError> {
        let fingerprint = self.fingerprint();
        Ok(Contents {
            specs: self.specs()?,
            selections: self.selections().unwrap_or_default(),
            fingerprint,
        })
    }

    /// Its current fingerprint; `None` for a source that never changes.
    fn fingerprint(&self) -> Option<Fingerprint> {
        None
    }

    /// A directory whose file events may signal a change (watched besides the fingerprint poll).
    fn watch_path(&self) -> Option<&Path> {
        None
    }

    /// The groups it brings besides [`KNOWN_GROUPS`](super::KNOWN_GROUPS) (say `flows` for a
    /// source of Kestra's flows): its specs, and those of the other sources, may use them, and
    /// `KESTRA_MCP_DISABLED_TOOLS` may name them.
    fn groups(&self) -> Vec<String> {
        Vec::new()
    }

    /// The warning to give when it holds no spec, if that is worth saying.
    fn empty_warning(&self) -> Option<String> {
        None
    }
}

/// The specs of `tools.d/`, embedded in the binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

impl ToolSource for Builtin {
    fn label(&self) -> String {
        "builtin:tools.d".to_owned()
    }

    fn specs(&self) -> Result<Vec<SpecSource>, SpecError> {
        Ok(builtin_sources())
    }
}

/// The `*.yaml` and `*.yml` files of a directory (not recursive).
#[derive(Debug, Clone)]
pub struct Directory(pub PathBuf);

impl ToolSource for Directory {
    fn label(&self) -> String {
        self.0.display().to_string()
    }

    fn specs(&self) -> Result<Vec<SpecSource>, SpecError> {
        dir_sources(&self.0)
    }

    fn selections(&self) -> Result<Vec<SpecSource>, SpecError> {
        dir_selection_sources(&self.0)
    }

    fn contents(&self) -> Result<Contents, SpecError> {
        let files = read_yaml_files(&self.0)?;
        let mut fingerprint: Fingerprint = files
            .iter()
            .map(|(source, (len, modified))| (source.origin.clone(), *len, *modified))
            .collect();
        fingerprint.sort();
        let (selections, specs) = files
            .into_iter()
            .map(|(source, _)| source)
            .partition(|f| file_kind(&f.text) == FileKind::Selection);
        Ok(Contents {
            specs,
            selections,
            fingerprint: Some(fingerprint),
        })
    }

    fn fingerprint(&self) -> Option<Fingerprint> {
        let mut files: Fingerprint = std::fs::read_dir(&self.0)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| is_spec_file(&e.path()))
                    .filter_map(|e| {
                        let meta = e.metadata().ok()?;
                        Some((e.path().display().to_string(), meta.len(), meta.modified().ok()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        Some(files)
    }

    fn watch_path(&self) -> Option<&Path> {
        Some(&self.0)
    }

    fn empty_warning(&self) -> Option<String> {
        Some(format!(
            "{}: no *.yaml or *.yml files in the tools directory",
            self.0.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_with_a_kind_are_selections() {
        assert_eq!(
            file_kind("kind: flow_tools\nselect: [{namespace: a}]\n"),
            FileKind::Selection
        );
        assert_eq!(file_kind("kind: other\n"), FileKind::Selection);
        assert_eq!(file_kind("name: a\ndescription: kind of\n"), FileKind::Spec);
        assert_eq!(
            file_kind("name: a\ninput: {properties: {kind: {}}}\n"),
            FileKind::Spec
        );
        assert_eq!(file_kind("not: [yaml"), FileKind::Spec);
    }

    #[test]
    fn fingerprints_change_with_spec_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let source = Directory(dir.path().to_path_buf());
        let empty = source.fingerprint();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(source.fingerprint(), empty);
        std::fs::write(dir.path().join("a.yaml"), "name: a").unwrap();
        let one = source.fingerprint();
        assert_ne!(one, empty);
        std::fs::write(dir.path().join("a.yaml"), "name: a, longer").unwrap();
        assert_ne!(source.fingerprint(), one);
        assert_eq!(Builtin.fingerprint(), None);
        assert!(!Builtin.specs().unwrap().is_empty());
    }
}
