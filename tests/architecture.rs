//! The crate's module graph has no cycle (DESIGN.md, "The floors"). Every
//! `crate::`, `super::` and `self::` path in src/ — in `use` trees and inline —
//! is resolved to the deepest module file it names; an edge from a module to
//! its own ancestor (a child using its folder's `mod.rs`) is left out, every
//! other edge counts. Unit tests (`#[cfg(test)]` onwards) are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// src/'s modules and their text: `model/net.rs` is [model, net], `run/mod.rs`
/// [run], lib.rs []. main.rs is a crate of its own and left out.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            if path.extension().is_none_or(|e| e != "rs") || rel == Path::new("main.rs") || rel.starts_with("bin") {
                continue;
            }
            let mut m: Module = rel.with_extension("").iter().map(|c| c.to_string_lossy().to_string()).collect();
            if matches!(m.last().map(String::as_str), Some("mod" | "lib")) {
                m.pop();
            }
            found.insert(m, std::fs::read_to_string(&path).unwrap());
        }
    }
    found
}

/// The text a module's graph is read from: comments dropped, unit tests cut.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n")
}

/// The paths of one `use` tree: `super::{a, b::{c, d}}` gives super::a,
/// super::b::c, super::b::d.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.split_whitespace().collect::<Vec<_>>().join(" ").replace(" as ", "@").replace(' ', "");
    let Some(open) = tree.find('{') else {
        return vec![tree.split('@').next().unwrap().to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len() - 1];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).flat_map(expand).map(|p| format!("{prefix}{p}")).collect()
}

/// Every crate-relative path a module's code names.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let starts_word = at == 0 || !rest[..at].ends_with(word);
        let tail = &rest[at + 4..];
        let end = tail.find(';').unwrap_or(tail.len());
        let tree = tail[..end].trim_start();
        if starts_word && ["crate::", "super::", "self::"].iter().any(|p| tree.starts_with(p)) {
            out.extend(expand(tree));
        }
        rest = &rest[at + 4..];
    }
    for root in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(root) {
            if at == 0 || !rest[..at].ends_with(|c: char| word(c) || c == ':') {
                let len = rest[at..].find(|c: char| !(word(c) || c == ':')).unwrap_or(rest.len() - at);
                out.push(rest[at..at + len].trim_end_matches(':').to_string());
            }
            rest = &rest[at + root.len()..];
        }
    }
    out
}

/// The module `path`, named in `from`, lies in: the longest prefix that is one.
fn resolve(from: &Module, path: &str, known: &BTreeSet<Module>) -> Option<Module> {
    let mut segs = path.split("::").peekable();
    let mut target: Module = if segs.peek() == Some(&"crate") {
        segs.next();
        Vec::new()
    } else {
        from.clone()
    };
    for s in segs {
        match s {
            "super" => {
                target.pop();
            }
            "self" => {}
            s => target.push(s.to_string()),
        }
    }
    (0..=target.len()).rev().map(|k| target[..k].to_vec()).find(|m| known.contains(m))
}

/// The module graph's edges, a child's own ancestors left out.
fn edges(mods: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let known: BTreeSet<Module> = mods.keys().cloned().collect();
    let mut g = BTreeMap::new();
    for (m, text) in mods {
        let to: &mut BTreeSet<Module> = g.entry(m.clone()).or_default();
        for p in paths(&code(text)) {
            if let Some(t) = resolve(m, &p, &known).filter(|t| !m.starts_with(t)) {
                to.insert(t);
            }
        }
    }
    g
}

/// One cycle of the graph, as the modules along it, if there is any.
fn cycle(g: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<String>> {
    fn visit(
        m: &Module,
        g: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == m) {
            let name = |m: &Module| if m.is_empty() { "crate".into() } else { m.join("::") };
            return Some(stack[at..].iter().chain([m]).map(name).collect());
        }
        if !done.insert(m.clone()) {
            return None;
        }
        stack.push(m.clone());
        let found = g.get(m).into_iter().flatten().find_map(|t| visit(t, g, done, stack));
        stack.pop();
        found
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|m| visit(m, g, &mut done, &mut Vec::new()))
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    assert!(mods.len() > 50 && mods.contains_key(&vec!["model".to_string(), "net".to_string()]), "{:?}", mods.keys());
    let g = edges(&mods);
    let count: usize = g.values().map(BTreeSet::len).sum();
    assert!(count > 100, "only {count} edges read: the reader lost its way");
    if let Some(c) = cycle(&g) {
        panic!("a cycle between modules: {}", c.join(" -> "));
    }
}

/// The reader itself: a cycle through a grouped `use`, an inline path and a
/// `super::` is found; a child's use of its folder's items is not one.
#[test]
fn the_reader_finds_a_planted_cycle() {
    let m = |path: &str, text: &str| (path.split('/').map(String::from).collect::<Module>(), text.to_string());
    let planted = BTreeMap::from([
        m("a", "pub mod x;\npub mod y;\npub struct Shared;"),
        m("a/x", "use super::{y::{Deep, Other}, Shared};"),
        m("a/y", "// use crate::a::x; (a comment)\nfn f() { crate::b::g(); }"),
        m("b", "use crate::a::x as ax;\n#[cfg(test)]\nmod tests { use crate::a::y; }"),
    ]);
    let fixed: BTreeMap<Module, String> =
        planted.clone().into_iter().filter(|(k, _)| k != &vec!["b".to_string()]).collect();
    assert_eq!(cycle(&edges(&planted)).unwrap(), ["a::x", "a::y", "b", "a::x"]);
    assert_eq!(cycle(&edges(&fixed)), None, "{:?}", edges(&fixed));
    assert_eq!(expand("super::{y::{Deep, Other}, Shared}"), ["super::y::Deep", "super::y::Other", "super::Shared"]);
}
