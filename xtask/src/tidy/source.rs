//! A light reading of Rust source for the tidy checks, without a parser
//! dependency.
//!
//! * [`code_only`]: the text with comments (doc comments too), string, byte
//!   string and char literals blanked to spaces, line breaks kept, so that
//!   what is left is code and line numbers still hold;
//! * [`without_test_items`]: that code with every item under `#[cfg(test)]`
//!   blanked the same way (a `mod tests { .. }`, a test-only `use`, `fn`);
//! * [`module_tree`]: the modules of one target, followed from its root file
//!   through its non-test `mod name;` declarations (so files that only tests
//!   compile are not part of it), each with that non-test code;
//! * [`named_modules`]: the modules of the same tree one module names through
//!   `crate::`, `super::`, `self::` paths (in `use` trees and in expressions)
//!   and through paths that start with one of its child modules. A name the
//!   crate root re-exports (`crate::Store` for `pub use store::Store`) counts
//!   as the module it comes from.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Push `c` blanked: a space, or the line break itself.
fn blank(out: &mut String, c: char) {
    out.push(if c == '\n' { '\n' } else { ' ' });
}

/// `text` with comments and literals blanked (see the module doc).
pub fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank_range = |out: &mut String, from: usize, to: usize| {
        for &c in &chars[from..to.min(len)] {
            blank(out, c);
        }
    };
    while i < len {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after_ident = i > 0 && is_ident(chars[i - 1]);
        // Line comments, doc comments included.
        if c == '/' && next == Some('/') {
            let end = chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(len, |p| i + p);
            blank_range(&mut out, i, end);
            i = end;
            continue;
        }
        // Block comments nest.
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            let mut j = i;
            while j < len {
                if chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank_range(&mut out, i, j);
            i = j;
            continue;
        }
        // Raw strings: r"..", r#".."#, br"..", cr"..".
        if !after_ident && (c == 'r' || (matches!(c, 'b' | 'c') && next == Some('r'))) {
            let mut j = i + if c == 'r' { 1 } else { 2 };
            let hashes = chars[j.min(len)..]
                .iter()
                .take_while(|&&c| c == '#')
                .count();
            j += hashes;
            if chars.get(j) == Some(&'"') {
                j += 1;
                while j < len {
                    if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                blank_range(&mut out, i, j);
                i = j;
                continue;
            }
        }
        // Strings: "..", b"..", c"..".
        if c == '"' || (!after_ident && matches!(c, 'b' | 'c') && next == Some('"')) {
            let mut j = if c == '"' { i + 1 } else { i + 2 };
            while j < len {
                match chars[j] {
                    '\\' => j += 2,
                    '"' => {
                        j += 1;
                        break;
                    }
                    _ => j += 1,
                }
            }
            blank_range(&mut out, i, j);
            i = j;
            continue;
        }
        // Char literals ('x', '\n', '\'', b'x'); a lifetime or label stays.
        if c == '\'' || (!after_ident && c == 'b' && next == Some('\'')) {
            let quote = if c == '\'' { i } else { i + 1 };
            let end = if chars.get(quote + 1) == Some(&'\\') {
                chars[(quote + 3).min(len)..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| quote + 3 + p + 1)
            } else if chars.get(quote + 2) == Some(&'\'') {
                Some(quote + 3)
            } else {
                None
            };
            if let Some(end) = end {
                blank_range(&mut out, i, end);
                i = end;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The index just past the bracket that closes the one at `open` (or the
/// end).
fn matching(chars: &[char], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    chars.len()
}

fn skip_whitespace(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

/// `code` (from [`code_only`]) with the items under `#[cfg(test)]` blanked;
/// a file with `#![cfg(test)]` is blanked whole.
pub fn without_test_items(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let attribute = |at: usize| -> Option<(String, usize)> {
        let inner = usize::from(chars.get(at + 1) == Some(&'!'));
        (chars.get(at) == Some(&'#') && chars.get(at + 1 + inner) == Some(&'[')).then(|| {
            let end = matching(&chars, at + 1 + inner);
            let body: String = chars[at + 2 + inner..end.saturating_sub(1)]
                .iter()
                .filter(|c| !c.is_whitespace())
                .collect();
            (body, end)
        })
    };
    let mut cut = vec![false; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        let Some((body, end)) = attribute(i) else {
            i += 1;
            continue;
        };
        if body != "cfg(test)" {
            i = end;
            continue;
        }
        if chars.get(i + 1) == Some(&'!') {
            return code
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' })
                .collect();
        }
        // The item: past further attributes, up to its `;` or its block.
        let mut j = skip_whitespace(&chars, end);
        while let Some((_, next)) = attribute(j) {
            j = skip_whitespace(&chars, next);
        }
        let mut item_end = chars.len();
        while j < chars.len() {
            match chars[j] {
                ';' => {
                    item_end = j + 1;
                    break;
                }
                '{' => {
                    item_end = matching(&chars, j);
                    break;
                }
                '(' | '[' => j = matching(&chars, j),
                _ => j += 1,
            }
        }
        cut[i..item_end].iter_mut().for_each(|c| *c = true);
        i = item_end;
    }
    chars
        .iter()
        .zip(cut)
        .map(|(&c, cut)| if cut && c != '\n' { ' ' } else { c })
        .collect()
}

/// The words (identifiers and single punctuation characters) of `code`,
/// each with its char index.
fn tokens(code: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            out.push((start, chars[start..i].iter().collect()));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push((i, "::".into()));
            i += 2;
        } else {
            out.push((i, c.to_string()));
            i += 1;
        }
    }
    out
}

/// One module of a target.
#[derive(Debug, Clone)]
pub struct Module {
    /// Its path from the crate root: empty for the root, then the module
    /// names (`["outbox", "spool"]`).
    pub path: Vec<String>,
    /// Its file.
    pub file: PathBuf,
    /// Its non-test code ([`code_only`], then [`without_test_items`]).
    pub code: String,
}

impl Module {
    /// `outbox/spool`; `crate` for the root.
    pub fn name(&self) -> String {
        module_name(&self.path)
    }
}

/// `a/b` for `["a", "b"]`, `crate` for the root.
pub fn module_name(path: &[String]) -> String {
    if path.is_empty() {
        "crate".into()
    } else {
        path.join("/")
    }
}

/// The names of the files' non-test `mod name;` declarations.
fn declared_modules(code: &str) -> Vec<String> {
    let tokens = tokens(code);
    tokens
        .windows(3)
        .filter(|w| w[0].1 == "mod" && is_ident_word(&w[1].1) && w[2].1 == ";")
        .map(|w| w[1].1.clone())
        .collect()
}

fn is_ident_word(word: &str) -> bool {
    word.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The modules of the target whose root file is `root` (see the module doc).
pub fn module_tree(root: &Path) -> Result<Vec<Module>, String> {
    let mut modules = Vec::new();
    // (path, file, whether its children sit beside it: a root or a mod.rs)
    let mut todo = vec![(Vec::<String>::new(), root.to_path_buf(), true)];
    while let Some((path, file, beside)) = todo.pop() {
        let text =
            fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let code = without_test_items(&code_only(&text));
        let dir = match (beside, file.parent()) {
            (true, Some(parent)) => parent.to_path_buf(),
            (false, Some(parent)) => parent.join(file.file_stem().unwrap_or_default()),
            (_, None) => PathBuf::from("."),
        };
        for child in declared_modules(&code) {
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(&child).join("mod.rs");
            let (child_file, child_beside) = if flat.is_file() {
                (flat, false)
            } else if nested.is_file() {
                (nested, true)
            } else {
                return Err(format!(
                    "{}: `mod {child};` but neither {} nor {} exists",
                    file.display(),
                    flat.display(),
                    nested.display()
                ));
            };
            let mut child_path = path.clone();
            child_path.push(child);
            todo.push((child_path, child_file, child_beside));
        }
        modules.push(Module { path, file, code });
    }
    modules.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(modules)
}

/// The paths of a `use` tree (or of an expression path) starting at token
/// `at`: `a::{b, c::d}` gives `[a, b]` and `[a, c, d]`. Returns them and the
/// index of the first token after the tree.
fn path_tree(tokens: &[(usize, String)], at: usize) -> (Vec<Vec<String>>, usize) {
    let word = |i: usize| tokens.get(i).map(|t| t.1.as_str());
    match word(at) {
        Some("{") => {
            let mut paths = Vec::new();
            let mut i = at + 1;
            while let Some(w) = word(i) {
                match w {
                    "}" => return (paths, i + 1),
                    "," => i += 1,
                    _ => {
                        let (more, next) = path_tree(tokens, i);
                        paths.extend(more);
                        // Skip what a tree element can end with (`as alias`).
                        i = next.max(i + 1);
                        while let Some(w) = word(i) {
                            if w == "," || w == "}" {
                                break;
                            }
                            i += 1;
                        }
                    }
                }
            }
            (paths, i)
        }
        Some(w) if is_ident_word(w) => {
            let head = w.to_string();
            if word(at + 1) == Some("::") {
                let (rest, next) = path_tree(tokens, at + 2);
                if rest.is_empty() {
                    return (vec![vec![head]], next);
                }
                let paths = rest
                    .into_iter()
                    .map(|mut p| {
                        p.insert(0, head.clone());
                        p
                    })
                    .collect();
                (paths, next)
            } else {
                (vec![vec![head]], at + 1)
            }
        }
        _ => (Vec::new(), at),
    }
}

/// The module tree as a set of paths, to resolve names against.
pub struct Tree {
    paths: BTreeSet<Vec<String>>,
    /// Names the root re-exports, and the module each comes from.
    reexports: BTreeMap<String, Vec<String>>,
}

impl Tree {
    /// The tree of `modules` (from [`module_tree`]).
    pub fn new(modules: &[Module]) -> Tree {
        let paths: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
        let mut tree = Tree {
            paths,
            reexports: BTreeMap::new(),
        };
        if let Some(root) = modules.iter().find(|m| m.path.is_empty()) {
            let toks = tokens(&root.code);
            let mut reexports = BTreeMap::new();
            for (i, t) in toks.iter().enumerate() {
                if t.1 != "use" {
                    continue;
                }
                for path in path_tree(&toks, i + 1).0 {
                    let Some((name, from)) = path.split_last() else {
                        continue;
                    };
                    let target = tree.resolve(&[], from);
                    if !target.is_empty() && name != "*" && name != "self" {
                        reexports.insert(name.clone(), target);
                    }
                }
            }
            tree.reexports = reexports;
        }
        tree
    }

    /// The deepest module `segments` (after `crate::`, `super::` .. at
    /// `base`) lead to.
    fn resolve(&self, base: &[String], segments: &[String]) -> Vec<String> {
        let mut at = base.to_vec();
        let mut rest = segments;
        while let Some((first, tail)) = rest.split_first() {
            match first.as_str() {
                "super" => {
                    at.pop();
                }
                "self" => {}
                _ => break,
            }
            rest = tail;
        }
        for segment in rest {
            let mut next = at.clone();
            next.push(segment.clone());
            if self.paths.contains(&next) {
                at = next;
            } else if at.is_empty()
                && let Some(from) = self.reexports.get(segment)
            {
                return from.clone();
            } else {
                break;
            }
        }
        at
    }
}

/// The modules `module` names (see the module doc), without itself.
pub fn named_modules(module: &Module, tree: &Tree) -> BTreeSet<Vec<String>> {
    let toks = tokens(&module.code);
    let mut named = BTreeSet::new();
    for (i, (_, word)) in toks.iter().enumerate() {
        if toks.get(i + 1).map(|t| t.1.as_str()) != Some("::") {
            continue;
        }
        // Not the tail of a longer path (`a::crate`), not `$crate`.
        if i > 0 && matches!(toks[i - 1].1.as_str(), "::" | "$") {
            continue;
        }
        let base: &[String] = match word.as_str() {
            "crate" => &[],
            "super" | "self" => &module.path,
            _ => {
                let mut child = module.path.clone();
                child.push(word.clone());
                if !tree.paths.contains(&child) {
                    continue;
                }
                &module.path
            }
        };
        let from = if word == "crate" { i + 2 } else { i };
        for path in path_tree(&toks, from).0 {
            named.insert(tree.resolve(base, &path));
        }
    }
    named.remove(&module.path);
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_literals_are_blanked_and_lines_kept() {
        let text = "let a = \"x // y\"; // comment crate::a\n/* crate::b /* nested */ */ let c = 'x';\n\
                    let r = r#\"crate::c\"#; let l: &'static str = b\"q\"; '\\'' ; 'a: loop {}\n";
        let code = code_only(text);
        assert_eq!(code.lines().count(), text.lines().count());
        assert_eq!(code.chars().count(), text.chars().count());
        assert!(!code.contains("crate::"), "{code}");
        assert!(
            code.contains("let a =") && code.contains("let c ="),
            "{code}"
        );
        assert!(
            code.contains("&'static str") && code.contains("'a: loop {}"),
            "{code}"
        );
        assert!(!code.contains('"'), "{code}");
    }

    #[test]
    fn test_items_are_blanked_and_the_rest_kept() {
        let code = code_only(
            "use crate::a;\n#[cfg(test)]\nuse crate::b;\nfn f() {}\n#[cfg(test)]\n#[allow(x)]\nmod tests {\n    use crate::c;\n    fn g() { if x { y } }\n}\nfn h(v: [u8; 2]) {}\n",
        );
        let kept = without_test_items(&code);
        assert_eq!(kept.lines().count(), code.lines().count());
        assert!(
            kept.contains("use crate::a;") && kept.contains("fn f() {}"),
            "{kept}"
        );
        assert!(kept.contains("fn h(v: [u8; 2]) {}"), "{kept}");
        assert!(
            !kept.contains("crate::b") && !kept.contains("crate::c"),
            "{kept}"
        );
        assert!(!kept.contains("fn g"), "{kept}");
        assert!(
            without_test_items("#![cfg(test)]\nuse crate::a;\n")
                .trim()
                .is_empty()
        );
    }

    fn module(path: &[&str], code: &str) -> Module {
        Module {
            path: path.iter().map(|s| s.to_string()).collect(),
            file: PathBuf::new(),
            code: code_only(code),
        }
    }

    #[test]
    fn paths_resolve_to_the_deepest_module_they_name() {
        let modules = [
            module(&[], "mod a; mod b; pub use b::Thing;"),
            module(
                &["a"],
                "mod inner; use crate::{b::{self, X}, c::Y}; use inner::Z;",
            ),
            module(
                &["a", "inner"],
                "use super::super::b::W; fn f() { crate::Thing::new(); }",
            ),
            module(
                &["b"],
                "fn f() { $crate::a::x(); other::a::y(); super::a::inner::q(); }",
            ),
            module(&["c"], ""),
        ];
        let tree = Tree::new(&modules);
        let names = |m: &Module| -> Vec<String> {
            named_modules(m, &tree)
                .iter()
                .map(|p| module_name(p))
                .collect()
        };
        // `mod a;` declares a child; only `b::Thing` names one.
        assert_eq!(names(&modules[0]), ["b"]);
        assert_eq!(names(&modules[1]), ["a/inner", "b", "c"]);
        assert_eq!(names(&modules[2]), ["b"]);
        assert_eq!(names(&modules[3]), ["a/inner"]);
        assert!(names(&modules[4]).is_empty());
    }
}
