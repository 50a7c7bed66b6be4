//! What the documentation checks of [`super`] read out of text: the invariants
//! `docs/ARCHITECTURE.md` defines and the code cites, the `docs/…` files and
//! sections the code cites, the repository paths and the dependency table the
//! architecture document names. Pure functions over `&str`; the tests that walk
//! the tree are in [`super`].
//!
//! The invariant marker is assembled at run time ([`marker`]) so that this
//! file's own examples are not taken for citations.

/// `INV-`, the prefix of an invariant's name, built so that no literal in this
/// file reads as a citation.
pub(super) fn marker() -> String {
    format!("INV{}", '-')
}

/// The numbers of the invariants `doc` defines: list items whose text opens
/// with a bold `**[INV-n]`, in the order they appear.
pub(super) fn invariant_definitions(doc: &str) -> Vec<u32> {
    let opening = format!("**[{}", marker());
    doc.lines()
        .filter_map(|line| {
            let item = line.trim_start();
            let item = item.trim_start_matches(|c: char| c.is_ascii_digit());
            let item = item
                .strip_prefix(". ")
                .or_else(|| item.strip_prefix("* "))?;
            let rest = item.strip_prefix(opening.as_str())?;
            leading_number(rest)
        })
        .collect()
}

/// Every `INV-n` in `text`, as (n, 1-based line); an `INV-` not followed by a
/// digit is no mention.
pub(super) fn invariant_mentions(text: &str) -> Vec<(u32, usize)> {
    let marker = marker();
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for (at, _) in line.match_indices(marker.as_str()) {
            let before = line[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(n) = leading_number(&line[at + marker.len()..]) {
                found.push((n, i + 1));
            }
        }
    }
    found
}

/// The decimal number `s` starts with, if any.
fn leading_number(s: &str) -> Option<u32> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A citation of a file under `docs/` in source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DocCitation {
    /// The path as written, from the workspace root (`docs/cli.md`).
    pub path: String,
    /// The section cited right after it (`4.2` for `§4.2`), if any.
    pub section: Option<String>,
    /// The 1-based line of the path.
    pub line: usize,
}

/// Every `docs/….md` path in `text` that starts a path (not part of a longer
/// one such as `../../docs/x.md`), with the `§N.M` that follows it, if any. The
/// section may follow a closing backtick, spaces, or a line break inside a
/// comment (`//!`, `///`, `//`).
pub(super) fn doc_citations(text: &str) -> Vec<DocCitation> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("docs/") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '/' | '.' | '_' | '-')) {
            continue;
        }
        let len = text[at..]
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '/' | '.' | '_' | '-')))
            .unwrap_or(text.len() - at);
        let path = text[at..at + len].trim_end_matches('.');
        if !path.ends_with(".md") {
            continue;
        }
        let line = text[..at].matches('\n').count() + 1;
        let section = section_after(&text[at + path.len()..]);
        found.push(DocCitation {
            path: path.to_owned(),
            section,
            line,
        });
    }
    found
}

/// The section number of a `§` that directly follows a cited path in `rest`.
fn section_after(rest: &str) -> Option<String> {
    let rest = rest.strip_prefix('`').unwrap_or(rest);
    let mut rest = rest.trim_start_matches([' ', '\t']);
    if let Some(next) = rest.strip_prefix('\n') {
        let next = next.trim_start();
        let next = next
            .strip_prefix("//!")
            .or_else(|| next.strip_prefix("///"))
            .or_else(|| next.strip_prefix("//"))?;
        rest = next.trim_start_matches([' ', '\t']);
    }
    let number = rest.strip_prefix('§')?;
    let len = number
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(number.len());
    let section = number[..len].trim_end_matches('.');
    (!section.is_empty()).then(|| section.to_owned())
}

/// Whether markdown `doc` has a heading numbered `section` (`## 4. Operations`
/// for `4`, `### 4.2 Counting` for `4.2`).
pub(super) fn has_section(doc: &str, section: &str) -> bool {
    doc.lines().any(|line| {
        let Some(title) = line.strip_prefix('#') else {
            return false;
        };
        let title = title.trim_start_matches('#').trim_start();
        let Some(after) = title.strip_prefix(section) else {
            return false;
        };
        after.starts_with(". ") || after.starts_with(' ')
    })
}

/// The rows of the markdown table whose header row starts with `header` (cells
/// trimmed, the separator row left out); `None` when there is no such table.
pub(super) fn table_rows(doc: &str, header: &str) -> Option<Vec<Vec<String>>> {
    let mut lines = doc
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(header));
    lines.next()?;
    let rows = lines
        .take_while(|l| l.trim_start().starts_with('|'))
        .filter(|l| !l.trim_start().starts_with("|---"))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    Some(rows)
}

/// The backticked spans of `text`, in order.
pub(super) fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The repository paths `doc` names in backticks (those that start with a
/// top-level directory of the workspace), as (path, 1-based line); a
/// `::item` or `:line` suffix is cut off, and a pattern (`crates/*/src`) is
/// no path.
pub(super) fn repository_paths(doc: &str) -> Vec<(String, usize)> {
    const TOP: &[&str] = &["crates/", "xtask/", "benches/", "fuzz/", "docs/"];
    let mut found = Vec::new();
    for (i, line) in doc.lines().enumerate() {
        for span in backticked(line) {
            let pattern = span.contains(|c: char| c.is_whitespace() || matches!(c, '*' | '{'));
            if !TOP.iter().any(|t| span.starts_with(t)) || pattern {
                continue;
            }
            let path = span.split("::").next().unwrap_or(span);
            let path = path.split(':').next().unwrap_or(path);
            found.push((path.trim_end_matches('/').to_owned(), i + 1));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(n: u32) -> String {
        format!("{}{n}", marker())
    }

    #[test]
    fn definitions_are_bold_list_items() {
        let doc = format!(
            "Each is marked **[{}]**.\n\n1. **[{}] I/O only.** Text.\n2. **[{}] UIDs.** x\n* **[{}] Star.**\n   citing [{}] here\n",
            inv(0),
            inv(1),
            inv(2),
            inv(3),
            inv(7)
        );
        assert_eq!(invariant_definitions(&doc), [1, 2, 3]);
    }

    #[test]
    fn mentions_need_a_number_and_a_word_start() {
        let text = format!(
            "a [{}] b\n{}, {} and X{} and {}x\n",
            inv(3),
            inv(12),
            marker(),
            inv(4),
            inv(5)
        );
        assert_eq!(invariant_mentions(&text), [(3, 1), (12, 2), (5, 2)]);
    }

    #[test]
    fn doc_citations_take_the_section_that_follows() {
        // `D/` stands for the directory, so that the tree check skips this example.
        let text = "//! Reference: `D/reference/a.md` §4.2 (keys), §4.4;\n\
                    //! see D/cli.md. Also `D/reference/b.md`\n\
                    //! §6.2 and ../../D/phone.md and D/x.svg and D/y.md §3.\n"
            .replace("D/", "docs/");
        let found = doc_citations(&text);
        let got: Vec<(&str, Option<&str>, usize)> = found
            .iter()
            .map(|c| {
                let path = c.path.strip_prefix("docs/").unwrap_or("not under docs/");
                (path, c.section.as_deref(), c.line)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("reference/a.md", Some("4.2"), 1),
                ("cli.md", None, 2),
                ("reference/b.md", Some("6.2"), 2),
                ("y.md", Some("3"), 3),
            ]
        );
    }

    #[test]
    fn sections_are_numbered_headings() {
        let doc = "# T\n## 4. Operations\n### 4.2 Counting\ntext 4.3 here\n### 4.10 Quota\n";
        assert!(has_section(doc, "4"));
        assert!(has_section(doc, "4.2"));
        assert!(has_section(doc, "4.10"));
        assert!(!has_section(doc, "4.1"));
        assert!(!has_section(doc, "4.3"));
    }

    #[test]
    fn tables_and_paths_are_read() {
        let doc = "x\n| crate | may depend on |\n|---|---|\n| `a` | — |\n| `b` | `a`, `c` |\n\nafter\n\
                   See `crates/imapvm/src/store.rs::Store::open`, `xtask/src/tidy.rs:12`, \
                   `docs/`, `crates/*/src` and `cargo xtask ci`.\n";
        let rows = table_rows(doc, "| crate |").unwrap();
        assert_eq!(rows, [vec!["`a`", "—"], vec!["`b`", "`a`, `c`"]]);
        assert_eq!(backticked(&rows[1][1]), ["a", "c"]);
        assert!(table_rows(doc, "| nothing |").is_none());
        let paths: Vec<String> = repository_paths(doc).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            ["crates/imapvm/src/store.rs", "xtask/src/tidy.rs", "docs"]
        );
    }
}
