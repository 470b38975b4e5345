//! A test that keeps the module graph of `src/` free of import loops: every `crate::` and
//! `super::` path outside test modules is an edge from the file's module to the deepest module
//! it names; a cycle fails the test and is printed. (Parent-to-child `use child::...` and
//! `mod child;` are ownership, not dependencies, and are not counted.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn module_files(root: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut module: Module = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if path.extension().is_none_or(|e| e != "rs")
                || rel == Path::new("lib")
                || rel == Path::new("main")
            {
                continue;
            }
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            out.insert(module, path);
        }
    }
    out
}

/// The code a module runs outside its tests, without line comments.
fn production_code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(cut) => &text[..cut],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a `use` tree or an inline path starting at `text` names (`a::b::{c, d::e}`).
fn paths(text: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 {
            segments.push(rest[..end].to_owned());
        }
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => return vec![segments],
        }
        if let Some(group) = rest.strip_prefix('{') {
            return group_items(group)
                .into_iter()
                .flat_map(|item| paths(item.trim()))
                .map(|tail| segments.iter().cloned().chain(tail).collect())
                .collect();
        }
    }
}

/// The comma-separated items of a `{...}` group whose opening brace is already consumed.
fn group_items(text: &str) -> Vec<&str> {
    let (mut depth, mut start, mut items) = (1, 0, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => {
                items.push(&text[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 1 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn dependencies(modules: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in modules {
        let code = production_code(&std::fs::read_to_string(file).unwrap());
        let is_mod_rs = file.file_name().is_some_and(|n| n == "mod.rs");
        for (at, keyword) in code.match_indices("crate::").chain(code.match_indices("super::")) {
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let base: Module = match keyword {
                "crate::" => vec![],
                _ if is_mod_rs => module[..module.len().saturating_sub(1)].to_vec(),
                _ => module[..module.len() - 1].to_vec(),
            };
            for path in paths(&code[at + keyword.len()..]) {
                let full: Module = base.iter().cloned().chain(path).collect();
                let target = (1..=full.len())
                    .rev()
                    .map(|n| full[..n].to_vec())
                    .find(|m| modules.contains_key(m));
                if let Some(target) = target.filter(|t| t != module) {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    edges
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from(start: &Module, edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    let mut stack = vec![(start.clone(), vec![start.clone()])];
    let mut seen = BTreeSet::new();
    while let Some((node, trail)) = stack.pop() {
        for next in edges.get(&node).into_iter().flatten() {
            if next == start {
                return Some(trail.iter().cloned().chain([start.clone()]).collect());
            }
            if seen.insert(next.clone()) {
                stack.push((
                    next.clone(),
                    trail.iter().cloned().chain([next.clone()]).collect(),
                ));
            }
        }
    }
    None
}

#[test]
fn the_module_graph_has_no_import_loops() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = module_files(&root);
    assert!(modules.contains_key(&vec!["engine".to_owned()]), "{modules:?}");
    let edges = dependencies(&modules);
    assert!(
        edges[&vec!["run".to_owned()]].contains(&vec!["engine".to_owned()]),
        "the parser lost an edge: {edges:?}"
    );
    // The operations table is compiled in whatever the features: it may not lean on the
    // contract checker (behind `contract`), only on the raw spec and the request stage.
    let operations = vec!["spec".to_owned(), "operations".to_owned()];
    let allowed = [
        vec!["spec".to_owned(), "raw".to_owned()],
        vec!["request".to_owned()],
    ];
    let used = &edges[&operations];
    assert!(
        used.iter().all(|m| allowed.contains(m)),
        "spec::operations depends on {used:?}"
    );
    let loops: BTreeSet<String> = modules
        .keys()
        .filter_map(|m| cycle_from(m, &edges))
        .map(|cycle| {
            cycle
                .iter()
                .map(|m| m.join("::"))
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect();
    assert!(
        loops.is_empty(),
        "import loops in src/:\n{}",
        loops.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn use_trees_are_read_whole() {
    assert_eq!(
        paths("spec::{Action, action::request_for};"),
        vec![
            vec!["spec".to_owned(), "Action".to_owned()],
            vec!["spec".to_owned(), "action".to_owned(), "request_for".to_owned()],
        ]
    );
    let edges: BTreeMap<Module, BTreeSet<Module>> = [
        (vec!["a".to_owned()], [vec!["b".to_owned()]].into()),
        (vec!["b".to_owned()], [vec!["a".to_owned()]].into()),
    ]
    .into();
    assert!(cycle_from(&vec!["a".to_owned()], &edges).is_some());
}
