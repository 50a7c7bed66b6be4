//! Asterisk's configuration file syntax (`main/config.c`), independent of what the options mean.
//!
//! Sections `[name]`, templates `[name](!)`, inheritance `[name](a,b)`, additions `[name](+)`;
//! `key = value`, `key => value` and `key += more` (Asterisk appends `more` to the last
//! variable of that name in the section, without a separator); `;` comments, `\;` for a
//! literal semicolon, nested `;-- ... --;` block comments; `#include`, `#tryinclude`;
//! `#exec` is refused. Line length, file size, include depth and total input are bounded.

use std::path::{Component, Path, PathBuf};

use crate::diagnostic::{Diagnostic, Location};
use crate::files::ConfigFiles;
use crate::{ConfigError, MAX_FILE_BYTES, MAX_INCLUDE_DEPTH, MAX_LINE_BYTES, MAX_TOTAL_BYTES};

/// Asterisk's limit on nested `;--` block comments.
const MAX_NESTED_COMMENTS: i32 = 128;
/// How many `#include` directives one load may follow in total.
const MAX_INCLUDES: usize = 1024;

/// One `name = value` (or `=>`) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEntry {
    pub key: String,
    pub value: String,
    /// Written with `=>`.
    pub object: bool,
    /// Copied from a template the section inherits (`[x](tpl)`): the line is the template's.
    pub inherited: bool,
    pub key_at: Location,
    pub value_at: Location,
}

/// One `[section]`, with inherited entries first (as Asterisk stores them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSection {
    pub name: String,
    pub at: Location,
    /// `[name](!)`: a template, not a real section.
    pub template: bool,
    pub entries: Vec<RawEntry>,
}

/// The whole file tree after includes, templates and comments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawConfig {
    pub sections: Vec<RawSection>,
}

/// A character of a line with its 1-based column in the original line. `'\0'` terminates a
/// string inside the buffer, exactly like the C code this mirrors.
type Cell = (char, u32);

struct Loader<'a> {
    files: &'a dyn ConfigFiles,
    /// Relative includes are resolved against this directory: Asterisk resolves them against its
    /// configuration directory, which is where the top-level voicemail.conf lives.
    base_dir: PathBuf,
    raw: RawConfig,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// Include chain: (file name, location of the `#include` that opened it).
    stack: Vec<(PathBuf, Option<Location>)>,
    total_bytes: usize,
    includes: usize,
}

/// Reads `path` and everything it includes.
///
/// Only the top-level file failing to read is an `Err`; everything else is a diagnostic.
pub(crate) fn load(
    files: &dyn ConfigFiles,
    path: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<RawConfig, ConfigError> {
    let bytes = files.read(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.display().to_string(),
            limit: MAX_FILE_BYTES,
        });
    }
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = Loader {
        files,
        base_dir,
        raw: RawConfig::default(),
        diagnostics,
        stack: Vec::new(),
        total_bytes: bytes.len(),
        includes: 0,
    };
    loader.stack.push((path.to_path_buf(), None));
    loader.parse_file(&bytes, &path.display().to_string(), None);
    Ok(loader.raw)
}

/// Parses one file's text (no includes possible): for tests and the fuzzer.
pub(crate) fn load_text(name: &str, bytes: &[u8], diagnostics: &mut Vec<Diagnostic>) -> RawConfig {
    struct NoFiles;
    impl ConfigFiles for NoFiles {
        fn read(&self, _: &Path) -> std::io::Result<Vec<u8>> {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no file reader was given",
            ))
        }
    }
    let mut loader = Loader {
        files: &NoFiles,
        base_dir: PathBuf::new(),
        raw: RawConfig::default(),
        diagnostics,
        stack: vec![(PathBuf::from(name), None)],
        total_bytes: bytes.len(),
        includes: 0,
    };
    if bytes.len() > MAX_FILE_BYTES {
        let at = Location::new(name, 0, 0);
        loader.diagnostics.push(Diagnostic::error(
            &at,
            format!("file is larger than {MAX_FILE_BYTES} bytes; imapvm refuses to read it"),
        ));
        return loader.raw;
    }
    loader.parse_file(bytes, name, None);
    loader.raw
}

fn is_blank(c: char) -> bool {
    (c as u32) < 33
}

fn strip(s: &[Cell]) -> &[Cell] {
    let start = s.iter().position(|c| !is_blank(c.0)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|c| !is_blank(c.0))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn text(s: &[Cell]) -> String {
    s.iter().map(|c| c.0).collect()
}

fn col(s: &[Cell], fallback: u32) -> u32 {
    s.first().map_or(fallback, |c| c.1)
}

/// `strchr(buf + from, ';')` on a `'\0'`-terminated buffer.
fn find_semicolon(buf: &[Cell], from: usize) -> Option<usize> {
    for (i, c) in buf.iter().enumerate().skip(from) {
        match c.0 {
            '\0' => return None,
            ';' => return Some(i),
            _ => {}
        }
    }
    None
}

fn c_strlen_end(buf: &[Cell], from: usize) -> usize {
    buf.iter()
        .skip(from)
        .position(|c| c.0 == '\0')
        .map_or(buf.len(), |p| from + p)
}

impl Loader<'_> {
    fn chain(&self) -> String {
        let mut parts = Vec::new();
        for (file, at) in &self.stack {
            match at {
                Some(at) => parts.push(format!("{} (included from {})", file.display(), at)),
                None => parts.push(file.display().to_string()),
            }
        }
        parts.join(" -> ")
    }

    fn parse_file(&mut self, bytes: &[u8], name: &str, mut current: Option<usize>) {
        // Asterisk's nesting counter for `;--` block comments (per file, may go negative).
        let mut depth: i32 = 0;
        let mut open_comment_line = 0u32;
        let mut warned_negative = false;
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let count = lines.len();
        for (index, raw_line) in lines.into_iter().enumerate() {
            let lineno = u32::try_from(index + 1).unwrap_or(u32::MAX);
            if index + 1 == count && raw_line.is_empty() {
                break;
            }
            if raw_line.len() + 1 > MAX_LINE_BYTES {
                let at = Location::new(name, lineno, 1);
                self.diagnostics.push(Diagnostic::error(
                    &at,
                    format!(
                        "line is {} bytes long; Asterisk skips lines over {} bytes, so this line is ignored: split it or shorten it",
                        raw_line.len(),
                        MAX_LINE_BYTES - 1
                    ),
                ));
                continue;
            }
            let line = match std::str::from_utf8(raw_line) {
                Ok(s) => std::borrow::Cow::Borrowed(s),
                Err(_) => {
                    let at = Location::new(name, lineno, 1);
                    self.diagnostics.push(Diagnostic::warning(
                        &at,
                        "line is not valid UTF-8; the invalid bytes were replaced by U+FFFD: save the file as UTF-8",
                    ));
                    String::from_utf8_lossy(raw_line)
                }
            };
            let mut buf: Vec<Cell> = line.chars().zip(1u32..).collect();
            buf.push(('\0', 0));
            let before = depth;
            let process = self.strip_comments(&mut buf, &mut depth, name, lineno);
            if before >= 0 && depth < 0 && !warned_negative {
                warned_negative = true;
                let at = Location::new(name, lineno, 0);
                self.diagnostics.push(Diagnostic::error(
                    &at,
                    "`--;` closes a block comment that was never opened; Asterisk then treats the rest of this file as a comment: remove the dashes or put a space before `;`",
                ));
            }
            if before == 0 && depth > 0 {
                open_comment_line = lineno;
            }
            if let Some(start) = process {
                let end = c_strlen_end(&buf, start);
                let body = strip(&buf[start..end]);
                if !body.is_empty() {
                    let body = body.to_vec();
                    self.process_line(&body, name, lineno, &mut current);
                }
            }
        }
        if depth > 0 {
            let at = Location::new(name, open_comment_line, 0);
            self.diagnostics.push(Diagnostic::warning(
                &at,
                "block comment `;--` is never closed with `--;`; everything after it in this file is ignored",
            ));
        }
    }

    /// Mirrors the comment loop of Asterisk's `config_text_file_load`. Returns where the text
    /// to process starts (it ends at the next `'\0'`), or `None` if the line is all comment.
    fn strip_comments(
        &mut self,
        buf: &mut Vec<Cell>,
        depth: &mut i32,
        name: &str,
        lineno: u32,
    ) -> Option<usize> {
        let mut process: Option<usize> = if *depth != 0 { None } else { Some(0) };
        let mut from = 0usize;
        let get = |buf: &Vec<Cell>, i: usize| buf.get(i).map_or('\0', |c| c.0);
        while let Some(p) = find_semicolon(buf, from) {
            if p > from && get(buf, p - 1) == '\\' {
                // `\;` is a literal semicolon: drop the backslash.
                buf.remove(p - 1);
                from = p;
            } else if get(buf, p + 1) == '-' && get(buf, p + 2) == '-' && get(buf, p + 3) != '-' {
                if *depth < MAX_NESTED_COMMENTS {
                    buf[p].0 = '\0';
                    from = p + 3;
                    *depth += 1;
                } else {
                    let at = Location::new(name, lineno, buf[p].1);
                    self.diagnostics.push(Diagnostic::error(
                        &at,
                        format!("more than {MAX_NESTED_COMMENTS} nested `;--` block comments; Asterisk hangs on this: remove some"),
                    ));
                    from = p + 1;
                }
            } else if p >= from + 2 && get(buf, p - 1) == '-' && get(buf, p - 2) == '-' {
                *depth -= 1;
                from = p + 1;
                if *depth == 0 {
                    match process {
                        Some(start) => {
                            let old_end = c_strlen_end(buf, start);
                            if old_end < from {
                                buf.drain(old_end..from);
                                from = old_end;
                            }
                        }
                        None => process = Some(from),
                    }
                }
            } else if *depth == 0 {
                buf[p].0 = '\0';
                from = p;
            } else {
                from = p + 1;
            }
        }
        process
    }

    fn process_line(
        &mut self,
        line: &[Cell],
        name: &str,
        lineno: u32,
        current: &mut Option<usize>,
    ) {
        let at = |column: u32| Location::new(name, lineno, column);
        let first_col = col(line, 1);
        match line[0].0 {
            '[' => self.section_header(line, name, lineno, current),
            '#' => self.directive(line, name, lineno, *current),
            _ => {
                let Some(section) = *current else {
                    self.diagnostics.push(Diagnostic::error(
                        &at(first_col),
                        "this line comes before any [section]; Asterisk refuses to load the file: put it under [general] or a context",
                    ));
                    return;
                };
                let mut cur = line;
                let escaped = cur[0].0 == '\\';
                if escaped {
                    cur = &cur[1..];
                    if cur.first().is_none_or(|c| (c.0 as u32) < 33) {
                        self.diagnostics.push(Diagnostic::error(
                            &at(first_col),
                            "invalid escape at the start of the line; Asterisk refuses to load the file: remove the backslash",
                        ));
                        return;
                    }
                }
                let skip = usize::from(escaped);
                let eq = cur
                    .iter()
                    .skip(skip)
                    .position(|c| c.0 == '=')
                    .map(|p| p + skip);
                match eq {
                    Some(eq) if eq > skip && cur[eq - 1].0 == '+' => {
                        let key_cells = strip(&cur[..eq - 1]);
                        let value_cells = &cur[eq + 1..];
                        let key = text(key_cells);
                        let entries = &mut self.raw.sections[section].entries;
                        if let Some(var) = entries.iter_mut().rev().find(|e| e.key == key) {
                            let joined = format!("{}{}", var.value, text(value_cells));
                            var.value = joined.trim_matches(|c: char| is_blank(c)).to_string();
                            return;
                        }
                        self.add_entry(
                            section,
                            key_cells,
                            strip(value_cells),
                            false,
                            name,
                            lineno,
                            first_col,
                        );
                    }
                    Some(eq) => {
                        let mut rest = &cur[eq + 1..];
                        let object = rest.first().is_some_and(|c| c.0 == '>');
                        if object {
                            rest = &rest[1..];
                        }
                        self.add_entry(
                            section,
                            strip(&cur[..eq]),
                            strip(rest),
                            object,
                            name,
                            lineno,
                            first_col,
                        );
                    }
                    None => {
                        self.diagnostics.push(Diagnostic::error(
                            &at(first_col),
                            format!(
                                "no '=' in this line; Asterisk ignores it: write `name = value` (or `mailbox => password,name,...` in a context): `{}`",
                                text(line)
                            ),
                        ));
                    }
                }
            }
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one private call site pair, all positional facts of a line"
    )]
    fn add_entry(
        &mut self,
        section: usize,
        key: &[Cell],
        value: &[Cell],
        object: bool,
        name: &str,
        lineno: u32,
        first_col: u32,
    ) {
        if key.is_empty() {
            self.diagnostics.push(Diagnostic::error(
                &Location::new(name, lineno, first_col),
                "no option name before '='; Asterisk ignores this line: add the name",
            ));
            return;
        }
        let key_col = col(key, first_col);
        let value_col = col(value, key.last().map_or(first_col, |c| c.1 + 1));
        self.raw.sections[section].entries.push(RawEntry {
            key: text(key),
            value: text(value),
            object,
            inherited: false,
            key_at: Location::new(name, lineno, key_col),
            value_at: Location::new(name, lineno, value_col),
        });
    }

    fn find_section(&self, name: &str) -> Option<usize> {
        self.raw
            .sections
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
    }

    fn section_header(
        &mut self,
        line: &[Cell],
        name: &str,
        lineno: u32,
        current: &mut Option<usize>,
    ) {
        let at = |column: u32| Location::new(name, lineno, column);
        let Some(close) = line.iter().position(|c| c.0 == ']') else {
            self.diagnostics.push(Diagnostic::error(
                &at(line[0].1),
                "section header has no closing ']'; Asterisk refuses to load the file: write `[name]`",
            ));
            return;
        };
        let section_name = text(&line[1..close]);
        if section_name.is_empty() {
            self.diagnostics.push(Diagnostic::warning(
                &at(line[0].1),
                "empty section name `[]`: give the section a name",
            ));
        }
        let mut section = RawSection {
            name: section_name.clone(),
            at: at(line[0].1),
            template: false,
            entries: Vec::new(),
        };
        let mut append_to: Option<usize> = None;
        if line.get(close + 1).is_some_and(|c| c.0 == '(') {
            let open = close + 1;
            let Some(end) = line
                .iter()
                .skip(open)
                .position(|c| c.0 == ')')
                .map(|p| p + open)
            else {
                self.diagnostics.push(Diagnostic::error(
                    &at(line[open].1),
                    "section options have no closing ')'; Asterisk refuses to load the file: write `[name](!)` or `[name](template)`",
                ));
                return;
            };
            let options = &line[open + 1..end];
            for option in options.split(|c| c.0 == ',') {
                let option_text = text(option);
                let option_col = col(option, line[open].1 + 1);
                if option_text == "!" {
                    section.template = true;
                } else if option_text.starts_with('+') {
                    match self.find_section(&section_name) {
                        Some(existing) => append_to = Some(existing),
                        None => {
                            self.diagnostics.push(Diagnostic::error(
                                &at(option_col),
                                format!(
                                    "`(+)` adds to section [{section_name}], but there is no such section before this line; Asterisk refuses to load the file: define [{section_name}] first or drop the `(+)`"
                                ),
                            ));
                            return;
                        }
                    }
                } else {
                    match self.find_section(&option_text) {
                        Some(base) => {
                            let mut inherited = self.raw.sections[base].entries.clone();
                            for entry in &mut inherited {
                                entry.inherited = true;
                            }
                            match append_to {
                                Some(existing) => {
                                    self.raw.sections[existing].entries.extend(inherited)
                                }
                                None => section.entries.extend(inherited),
                            }
                        }
                        None => {
                            self.diagnostics.push(Diagnostic::error(
                                &at(option_col),
                                format!(
                                    "section [{section_name}] inherits from [{option_text}], which is not defined before this line; Asterisk refuses to load the file: define the template first"
                                ),
                            ));
                            return;
                        }
                    }
                }
            }
        }
        match append_to {
            Some(existing) => {
                if section.template {
                    self.raw.sections[existing].template = true;
                }
                self.raw.sections[existing].entries.extend(section.entries);
                *current = Some(existing);
            }
            None => {
                self.raw.sections.push(section);
                *current = Some(self.raw.sections.len() - 1);
            }
        }
    }

    fn directive(&mut self, line: &[Cell], name: &str, lineno: u32, current: Option<usize>) {
        let at = |column: u32| Location::new(name, lineno, column);
        let word_end = line
            .iter()
            .skip(1)
            .position(|c| is_blank(c.0))
            .map_or(line.len(), |p| p + 1);
        let word = text(&line[1..word_end]).to_ascii_lowercase();
        let arg = strip(line.get(word_end..).unwrap_or(&[]));
        let try_include = match word.as_str() {
            "include" => false,
            "tryinclude" => true,
            "exec" => {
                self.diagnostics.push(Diagnostic::error(
                    &at(line[0].1),
                    "#exec is refused: imapvm never runs programs named in a configuration file; run the program yourself and #include its output instead",
                ));
                return;
            }
            _ => {
                self.diagnostics.push(Diagnostic::warning(
                    &at(line[0].1),
                    format!("unknown directive `#{word}`; Asterisk ignores it: use #include or #tryinclude"),
                ));
                return;
            }
        };
        if arg.is_empty() {
            self.diagnostics.push(Diagnostic::warning(
                &at(line[0].1),
                format!("#{word} needs a file name; Asterisk ignores this line: write `#{word} \"file.conf\"`"),
            ));
            return;
        }
        let arg_col = col(arg, 1);
        let mut file = text(arg);
        if let Some(q) = file.chars().next().filter(|c| *c == '"' || *c == '<') {
            let closing = if q == '<' { '>' } else { '"' };
            if file.len() >= 2 && file.ends_with(closing) {
                file = file[1..file.len() - 1].to_string();
            }
        }
        if file.contains(['*', '?', '[']) {
            self.diagnostics.push(Diagnostic::error(
                &at(arg_col),
                format!("#include with a wildcard (`{file}`) is not supported by imapvm: list the files one by one"),
            ));
            return;
        }
        let path = if Path::new(&file).is_absolute() {
            PathBuf::from(&file)
        } else {
            self.base_dir.join(&file)
        };
        let path = normalize(&path);
        let include_at = at(arg_col);
        if self.stack.iter().any(|(p, _)| *p == path) {
            self.diagnostics.push(Diagnostic::error(
                &include_at,
                format!(
                    "#include cycle: {} includes {} again; remove one of the includes",
                    self.chain(),
                    path.display()
                ),
            ));
            return;
        }
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            self.diagnostics.push(Diagnostic::error(
                &include_at,
                format!("includes are nested more than {MAX_INCLUDE_DEPTH} deep ({}); Asterisk stops there: flatten the includes", self.chain()),
            ));
            return;
        }
        self.includes += 1;
        if self.includes > MAX_INCLUDES {
            self.diagnostics.push(Diagnostic::error(
                &include_at,
                format!("more than {MAX_INCLUDES} #include directives in total; imapvm stops following them"),
            ));
            return;
        }
        match self.files.read(&path) {
            Ok(bytes) => {
                if bytes.len() > MAX_FILE_BYTES
                    || self.total_bytes.saturating_add(bytes.len()) > MAX_TOTAL_BYTES
                {
                    self.diagnostics.push(Diagnostic::error(
                        &include_at,
                        format!(
                            "{} is too large (files are limited to {MAX_FILE_BYTES} bytes, all files together to {MAX_TOTAL_BYTES}); it was not read",
                            path.display()
                        ),
                    ));
                    return;
                }
                self.total_bytes += bytes.len();
                self.stack.push((path.clone(), Some(include_at)));
                self.parse_file(&bytes, &path.display().to_string(), current);
                self.stack.pop();
            }
            Err(err) if try_include && err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                self.diagnostics.push(Diagnostic::error(
                    &include_at,
                    format!(
                        "cannot read included file {} ({err}); include chain: {}; Asterisk refuses to load the configuration: fix the path or use #tryinclude",
                        path.display(),
                        self.chain()
                    ),
                ));
            }
        }
    }
}

/// Removes `.` and resolves `..` lexically so that cycles are found whatever the spelling.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
