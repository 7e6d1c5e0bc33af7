//! The runtime's modules import in one direction only: each module may use the modules
//! listed before it in `ARCHITECTURE.md` (between the `runtime-layers` markers), never one
//! after it. The list is read from `ARCHITECTURE.md` itself, so the document and the code
//! cannot drift apart.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const START: &str = "<!-- runtime-layers -->";
const END: &str = "<!-- /runtime-layers -->";

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The modules in reading order: the first `code span` of each numbered line between the
/// markers.
fn layers() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ARCHITECTURE.md");
    let doc = std::fs::read_to_string(path).expect("ARCHITECTURE.md");
    let start = doc.find(START).expect("ARCHITECTURE.md has the runtime-layers marker");
    let end = doc.find(END).expect("ARCHITECTURE.md has the closing runtime-layers marker");
    doc[start..end]
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().split_once(". `")?.1;
            Some(rest.split('`').next()?.to_owned())
        })
        .collect()
}

fn ident(s: &str) -> String {
    s.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The top-level comma-separated items of a `{...}` group, given the text after the `{`.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// The modules a source text names as `crate::<module>` outside comments, including the
/// items of `use crate::{a, b::c}` groups.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let code: String =
        text.lines().filter(|l| !l.trim_start().starts_with("//")).flat_map(|l| [l, "\n"]).collect();
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `other_crate::` or `$crate::`
        }
        let rest = &code[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => found.extend(top_level_items(group).into_iter().map(ident)),
            None => {
                found.insert(ident(rest));
            }
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

/// The source files of module `name`: `src/name.rs` and everything under `src/name/`.
fn module_files(name: &str) -> Vec<PathBuf> {
    let mut files = vec![];
    let file = src().join(format!("{name}.rs"));
    if file.is_file() {
        files.push(file);
    }
    let mut dirs = vec![src().join(name)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn modules_import_only_earlier_layers() {
    let order = layers();
    assert!(order.len() >= 10, "ARCHITECTURE.md lists the runtime's modules in order: {order:?}");
    let mut violations = Vec::new();
    for (rank, module) in order.iter().enumerate() {
        let files = module_files(module);
        assert!(!files.is_empty(), "ARCHITECTURE.md lists `{module}`, which has no source file");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in crate_modules(&text) {
                match order.iter().position(|m| *m == used) {
                    Some(r) if r <= rank => {}
                    Some(_) => {
                        violations.push(format!("{}: `{module}` uses the later `{used}`", file.display()))
                    }
                    None => violations.push(format!(
                        "{}: `crate::{used}` is not a module of the reading order (import from the \
                         module that defines it, not from the crate root)",
                        file.display()
                    )),
                }
            }
        }
    }
    assert!(violations.is_empty(), "imports against the layer order:\n{}", violations.join("\n"));
}

/// A top-level module's `super::` is the crate root: it would import around the order.
#[test]
fn top_level_modules_do_not_reach_the_root_through_super() {
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(src()).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rs") && path.file_stem().is_some_and(|s| s != "lib") {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            // `use super::*;` in a module's own `mod tests` is the module, not the root.
            if code.filter(|l| l.contains("super::") && !l.contains("use super::*;")).count() > 0 {
                offenders.push(path.display().to_string());
            }
        }
    }
    assert!(offenders.is_empty(), "`super::` in top-level modules: {offenders:?}");
}

/// The crate docs' "Reading the code" list is the same order.
#[test]
fn the_crate_docs_list_the_same_order() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let docs: String = lib.lines().filter_map(|l| l.strip_prefix("//!")).collect::<Vec<_>>().join(" ");
    let (_, after) = docs.split_once("## Reading the code").expect("lib.rs has a Reading the code section");
    let listed: Vec<String> = after
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .filter(|m| m.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert_eq!(listed, layers(), "lib.rs and ARCHITECTURE.md list the modules in different orders");
}

#[test]
fn every_module_is_in_the_reading_order() {
    let order = layers();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(src()).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name != "lib" && !order.contains(&name) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "modules missing from ARCHITECTURE.md's reading order: {missing:?}");
}

#[test]
fn the_scanner_sees_grouped_and_nested_imports() {
    let text =
        "use crate::{a, b::{c, d}, e::F};\nuse crate::g::h;\n// use crate::comment;\n$crate::i; my_crate::j";
    let found: Vec<String> = crate_modules(text).into_iter().collect();
    assert_eq!(found, ["a", "b", "e", "g"]);
}
