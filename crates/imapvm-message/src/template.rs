//! `${VM_*}` templates (`emailsubject`, `emailbody`, `fromstring`) and Asterisk's backslash escapes.

/// Longest expansion we produce; Asterisk's own buffers grow, but input from a config file is bounded here.
const MAX_EXPANSION: usize = 64 * 1024;
/// Deepest `${...${...}}` nesting followed.
const MAX_DEPTH: usize = 8;

/// The variables Asterisk sets for message templates (`prep_email_sub_vars`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateVars {
    /// `VM_NAME`: the mailbox's full name.
    pub name: String,
    /// `VM_DUR`: `M:SS`.
    pub dur: String,
    /// `VM_MSGNUM`: `N`.
    pub msgnum: String,
    /// `VM_CONTEXT`.
    pub context: String,
    /// `VM_MAILBOX`.
    pub mailbox: String,
    /// `VM_CALLERID`: `"Name" <num>`, name, num, or `an unknown caller`.
    pub callerid: String,
    /// `VM_CIDNAME`: name or `an unknown caller`.
    pub cidname: String,
    /// `VM_CIDNUM`: number or `an unknown caller`.
    pub cidnum: String,
    /// `VM_DATE`: the `emaildateformat` text.
    pub date: String,
    /// `VM_CATEGORY`: category or `no category`.
    pub category: String,
    /// `VM_FLAG`.
    pub flag: String,
}

const UNKNOWN_CALLER: &str = "an unknown caller";

impl TemplateVars {
    /// Fills the variables the way `prep_email_sub_vars` does; empty caller id parts count as absent.
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors Asterisk's variable set one to one"
    )]
    pub fn new(
        name: &str,
        duration_secs: u32,
        msgnum: u32,
        context: &str,
        mailbox: &str,
        cid_name: &str,
        cid_num: &str,
        date: &str,
        category: &str,
        flag: &str,
    ) -> TemplateVars {
        let callerid = match (cid_name.is_empty(), cid_num.is_empty()) {
            (false, false) => format!("\"{cid_name}\" <{cid_num}>"),
            (false, true) => cid_name.to_owned(),
            (true, false) => cid_num.to_owned(),
            (true, true) => UNKNOWN_CALLER.to_owned(),
        };
        TemplateVars {
            name: name.to_owned(),
            dur: format!("{}:{:02}", duration_secs / 60, duration_secs % 60),
            msgnum: msgnum.to_string(),
            context: context.to_owned(),
            mailbox: mailbox.to_owned(),
            callerid,
            cidname: if cid_name.is_empty() {
                UNKNOWN_CALLER.to_owned()
            } else {
                cid_name.to_owned()
            },
            cidnum: if cid_num.is_empty() {
                UNKNOWN_CALLER.to_owned()
            } else {
                cid_num.to_owned()
            },
            date: date.to_owned(),
            category: if category.is_empty() {
                "no category".to_owned()
            } else {
                category.to_owned()
            },
            flag: flag.to_owned(),
        }
    }

    /// The value of a variable, `None` if it is not one of ours (Asterisk expands those to nothing).
    pub fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "VM_NAME" => &self.name,
            "VM_DUR" => &self.dur,
            "VM_MSGNUM" => &self.msgnum,
            "VM_CONTEXT" => &self.context,
            "VM_MAILBOX" => &self.mailbox,
            "VM_CALLERID" => &self.callerid,
            "VM_CIDNAME" => &self.cidname,
            "VM_CIDNUM" => &self.cidnum,
            "VM_DATE" => &self.date,
            "VM_CATEGORY" => &self.category,
            "VM_FLAG" => &self.flag,
            _ => return None,
        })
    }
}

/// Expands `${VAR}` and `${VAR:offset:length}` like `ast_str_substitute_variables`.
///
/// Unknown variables and dialplan functions expand to the empty string, as in
/// Asterisk for unset variables; `$[...]` expressions are copied unchanged.
pub fn substitute(template: &str, vars: &TemplateVars) -> String {
    let mut out = String::with_capacity(template.len());
    substitute_into(template, vars, &mut out, 0);
    out
}

fn substitute_into(template: &str, vars: &TemplateVars, out: &mut String, depth: usize) {
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if out.len() > MAX_EXPANSION {
            return;
        }
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            // Find the matching brace.
            let mut level = 0usize;
            let mut end = None;
            for (j, &b) in bytes.iter().enumerate().skip(i + 1) {
                match b {
                    b'{' => level += 1,
                    b'}' => {
                        level = level.saturating_sub(1);
                        if level == 0 {
                            end = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                // Unterminated: Asterisk copies the rest as is.
                out.push_str(&template[i..]);
                return;
            };
            let inner = &template[i + 2..end];
            let mut name = String::new();
            if depth < MAX_DEPTH {
                substitute_into(inner, vars, &mut name, depth + 1);
            }
            out.push_str(&expand_variable(&name, vars));
            i = end + 1;
        } else {
            let next = template[i..]
                .find('$')
                .map_or(bytes.len(), |pos| if pos == 0 { i + 1 } else { i + pos });
            out.push_str(&template[i..next]);
            i = next;
        }
    }
}

fn expand_variable(spec: &str, vars: &TemplateVars) -> String {
    let mut parts = spec.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    let value = vars.get(name).unwrap_or_default();
    let offset = parts
        .next()
        .map(|text| text.trim().parse::<i64>().unwrap_or(0));
    let length = parts
        .next()
        .map(|text| text.trim().parse::<i64>().unwrap_or(0));
    let chars: Vec<char> = value.chars().collect();
    let Some(offset) = offset else {
        return value.to_owned();
    };
    let total = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let start = if offset < 0 {
        (total + offset).max(0)
    } else {
        offset.min(total)
    };
    let end = match length {
        None => total,
        Some(0) => total,
        Some(len) if len < 0 => (total + len).max(start),
        Some(len) => start.saturating_add(len).min(total),
    };
    let start = usize::try_from(start).unwrap_or(0);
    let end = usize::try_from(end).unwrap_or(0).max(start);
    chars
        .get(start..end)
        .map(|slice| slice.iter().collect())
        .unwrap_or_default()
}

/// Applies the backslash escapes Asterisk applies to `emailsubject`/`emailbody` at config load
/// (`substitute_escapes`): `\n`, `\r`, `\t`, `\\`. With `imap_line_ends` (IMAP builds),
/// `\n` becomes CR LF unless a CR precedes it. Other escapes are dropped, as in Asterisk.
pub fn substitute_escapes(raw: &str, imap_line_ends: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => {
                if imap_line_ends && !out.ends_with('\r') {
                    out.push('\r');
                }
                out.push('\n');
            }
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(_) => {}
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> TemplateVars {
        TemplateVars::new(
            "Alice", 125, 3, "default", "1234", "Bob", "555", "today", "", "Urgent",
        )
    }

    #[test]
    fn every_variable() {
        let text = "${VM_NAME}|${VM_DUR}|${VM_MSGNUM}|${VM_CONTEXT}|${VM_MAILBOX}|${VM_CALLERID}|${VM_CIDNAME}|${VM_CIDNUM}|${VM_DATE}|${VM_CATEGORY}|${VM_FLAG}";
        assert_eq!(
            substitute(text, &vars()),
            "Alice|2:05|3|default|1234|\"Bob\" <555>|Bob|555|today|no category|Urgent"
        );
    }

    #[test]
    fn unknown_caller_and_unknown_variables() {
        let v = TemplateVars::new("A", 0, 1, "c", "m", "", "", "d", "cat", "");
        assert_eq!(
            substitute("${VM_CALLERID}/${VM_CIDNUM}/${NOPE}/${VM_CATEGORY}", &v),
            "an unknown caller/an unknown caller//cat"
        );
    }

    #[test]
    fn substrings_nesting_and_broken_syntax() {
        assert_eq!(
            substitute("${VM_NAME:1:3}|${VM_NAME:-2}|${VM_NAME:0:-1}", &vars()),
            "lic|ce|Alic"
        );
        assert_eq!(substitute("$$ ${VM_NAME", &vars()), "$$ ${VM_NAME");
        assert_eq!(substitute("${${VM_FLAG}}", &vars()), "");
        assert_eq!(
            substitute("$[1+1] é ${VM_MAILBOX}", &vars()),
            "$[1+1] é 1234"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            substitute_escapes(r"a\nb\tc\\d\r\ne\x", true),
            "a\r\nb\tc\\d\r\ne"
        );
        assert_eq!(substitute_escapes(r"a\nb", false), "a\nb");
    }
}
