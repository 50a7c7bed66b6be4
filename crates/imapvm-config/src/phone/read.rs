//! Reading the telephone options: `[general]` as `actual_load_config` does, a mailbox line's
//! as `apply_option` does, each problem a diagnostic at the value.

use std::collections::BTreeMap;

use crate::builder::{Builder, ast_false, ast_true, general_entry};
use crate::diagnostic::Location;
use crate::phone::{
    LISTEN_CONTROL_DTMF, MAX_CID_INTERNAL_CONTEXTS, PasswordLocation, Phone, PhoneOptions, VolGain,
};
use crate::syntax::RawEntry;

/// C's `sscanf("%d")`/`atoi` start: blanks, an optional sign, digits. The number (saturated)
/// and the rest, or `None` without a digit.
fn leading_int(value: &str) -> Option<(i64, &str)> {
    let s = value.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = digits
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let magnitude = digits[..end].bytes().fold(0i64, |n, d| {
        n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some((
        if negative { -magnitude } else { magnitude },
        &digits[end..],
    ))
}

/// C's `sscanf("%lf")` start, for decimal numbers: the number and the rest, or `None`.
fn leading_float(value: &str) -> Option<(f64, &str)> {
    let s = value.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let bytes = s.as_bytes();
    let mut end = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    let digits_from = end;
    while bytes.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let mut mantissa_digits = end - digits_from;
    if bytes.get(end) == Some(&b'.') {
        let after = end + 1;
        let mut e = after;
        while bytes.get(e).is_some_and(u8::is_ascii_digit) {
            e += 1;
        }
        mantissa_digits += e - after;
        end = e;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(bytes.get(e), Some(b'-' | b'+')) {
            e += 1;
        }
        let from = e;
        while bytes.get(e).is_some_and(u8::is_ascii_digit) {
            e += 1;
        }
        if e > from {
            end = e;
        }
    }
    let number = s[..end].parse::<f64>().ok().filter(|f| f.is_finite())?;
    Some((number, &s[end..]))
}

/// What a number option does when the value has no number at all.
#[derive(Clone, Copy)]
enum NoNumber {
    /// `sscanf` failed: Asterisk keeps the value it had.
    Keeps(u32),
    /// `atoi`: Asterisk reads 0.
    Zero,
}

impl Builder<'_> {
    /// A whole number of 0 or more as Asterisk reads it (`sscanf("%30d")` or `atoi`).
    /// `None` when Asterisk would keep its previous value.
    fn c_count(&mut self, name: &str, value: &str, at: &Location, none: NoNumber) -> Option<u32> {
        let Some((n, rest)) = leading_int(value) else {
            return match none {
                NoNumber::Keeps(kept) => {
                    self.error(at, format!("{name}: `{value}` is not a number; Asterisk keeps {kept}: write digits only"));
                    None
                }
                NoNumber::Zero => {
                    self.error(at, format!("{name}: `{value}` is not a number; Asterisk reads it as 0: write digits only"));
                    Some(0)
                }
            };
        };
        let Ok(n) = u32::try_from(n) else {
            let fallback = match none {
                NoNumber::Keeps(kept) => kept.to_string(),
                NoNumber::Zero => "0".to_string(),
            };
            self.error(at, format!("{name}={value} is not a number from 0 to {}; imapvm uses {fallback}: write a number of 0 or more", u32::MAX));
            return match none {
                NoNumber::Keeps(_) => None,
                NoNumber::Zero => Some(0),
            };
        };
        if !rest.trim().is_empty() {
            self.warn(
                at,
                format!("{name}: Asterisk reads `{value}` as {n} and ignores the rest: write {n}"),
            );
        }
        Some(n)
    }

    /// `volgain` (`sscanf("%30lf")`); `None` when Asterisk keeps the previous value.
    fn volgain(&mut self, value: &str, at: &Location, kept: &str) -> Option<VolGain> {
        match leading_float(value) {
            Some((gain, rest)) => {
                if !rest.trim().is_empty() {
                    self.warn(at, format!("volgain: Asterisk reads `{value}` as {gain} and ignores the rest: write {gain}"));
                }
                Some(VolGain(gain))
            }
            None => {
                self.error(at, format!("volgain: `{value}` is not a number; Asterisk keeps {kept}: write a decimal number such as 0.0 or 1.5"));
                None
            }
        }
    }

    fn context_option(&mut self, name: &str, value: &str, at: &Location) {
        if value.contains(char::is_whitespace) {
            self.warn(at, format!("{name}={value}: a dialplan context name with white space cannot be reached: remove the spaces"));
        }
    }
}

/// `[general]`'s telephone options, recording where each was written in `origins`.
pub(crate) fn general(
    b: &mut Builder<'_>,
    first: &BTreeMap<String, &RawEntry>,
    origins: &mut BTreeMap<String, Location>,
) -> Phone {
    let mut p = Phone::default();
    let mut get = |b: &mut Builder<'_>, name: &str| general_entry(b, first, origins, name, &[name]);
    macro_rules! boolean {
        ($($name:literal => $field:ident),+ $(,)?) => {$(
            if let Some((v, at)) = get(b, $name) {
                p.$field = b.boolean($name, v, &at);
            }
        )+};
    }
    boolean!(
        "review" => review,
        "operator" => operator,
        "saycid" => saycid,
        "envelope" => envelope,
        "sayduration" => sayduration,
        "messagewrap" => messagewrap,
        "nextaftercmd" => nextaftercmd,
        "forcename" => forcename,
        "forcegreetings" => forcegreetings,
        "tempgreetwarn" => tempgreetwarn,
        "usedirectory" => usedirectory,
        "sendvoicemail" => sendvoicemail,
    );
    macro_rules! count {
        ($($name:literal => $field:ident),+ $(,)?) => {$(
            if let Some((v, at)) = get(b, $name)
                && let Some(n) = b.c_count($name, v, &at, NoNumber::Keeps(p.$field))
            {
                p.$field = n;
            }
        )+};
    }
    count!(
        "saydurationm" => saydurationm,
        "skipms" => skipms,
        "minpassword" => minpassword,
    );
    if let Some((v, at)) = get(b, "maxlogins")
        && let Some(n) = b.c_count("maxlogins", v, &at, NoNumber::Keeps(p.maxlogins))
    {
        if n == 0 {
            b.warn(&at, "maxlogins=0: Asterisk then asks for no mailbox at all and every login fails: write 1 or more".to_string());
        }
        p.maxlogins = n;
    }
    if let Some((v, at)) = get(b, "silencethreshold")
        && let Some(n) = b.c_count("silencethreshold", v, &at, NoNumber::Zero)
    {
        p.silencethreshold = n;
    }
    macro_rules! context {
        ($($name:literal => $field:ident),+ $(,)?) => {$(
            if let Some((v, at)) = get(b, $name) {
                b.context_option($name, v, &at);
                p.$field = Some(v.to_string()).filter(|v| !v.is_empty());
            }
        )+};
    }
    context!("callback" => callback, "dialout" => dialout, "exitcontext" => exitcontext);
    if let Some((v, at)) = get(b, "cidinternalcontexts") {
        p.cidinternalcontexts = cid_internal_contexts(b, v, &at);
    }
    if let Some((v, at)) = get(b, "passwordlocation") {
        // [general] compares case-sensitively (strcmp), a mailbox line does not.
        p.passwordlocation = if v == "spooldir" {
            PasswordLocation::Spooldir
        } else {
            if v.eq_ignore_ascii_case("spooldir") {
                b.warn(&at, format!("passwordlocation={v}: in [general] Asterisk only knows lower-case `spooldir` and reads this as voicemail.conf: write spooldir"));
            } else if v != "voicemail.conf" {
                b.warn(&at, format!("passwordlocation: `{v}` is not voicemail.conf or spooldir; Asterisk uses voicemail.conf"));
            }
            PasswordLocation::VoicemailConf
        };
    }
    if let Some((v, at)) = get(b, "volgain")
        && let Some(gain) = b.volgain(v, &at, "0")
    {
        p.volgain = gain;
    }
    // externpass wins over externpassnotify; both keep an empty value (Asterisk does too).
    let externpass = get(b, "externpass");
    let externpassnotify = get(b, "externpassnotify");
    for (name, found) in [
        ("externpass", &externpass),
        ("externpassnotify", &externpassnotify),
    ] {
        if let Some((v, at)) = found
            && v.is_empty()
        {
            b.warn(at, format!("{name} is empty: Asterisk then saves no new PIN at all, though the caller hears that it was changed: remove the line or name a program"));
        }
    }
    if let (Some(_), Some((_, at))) = (&externpass, &externpassnotify) {
        b.warn(at, "externpassnotify is ignored because externpass is set (Asterisk reads only externpass): remove one of them".to_string());
    }
    p.externpass = externpass.map(|(v, _)| v.to_string());
    p.externpassnotify = externpassnotify.map(|(v, _)| v.to_string());
    if let Some((v, _)) = get(b, "externpasscheck") {
        p.externpasscheck = Some(v.to_string()).filter(|v| !v.is_empty());
    }
    macro_rules! prompt {
        ($($name:literal => $field:ident),+ $(,)?) => {$(
            if let Some((v, at)) = get(b, $name) {
                if v.is_empty() {
                    b.warn(&at, format!("{} is empty: Asterisk then fails where it plays this prompt (a login hangs up): remove the line or name a sound file", $name));
                }
                p.$field = v.to_string();
            }
        )+};
    }
    prompt!(
        "vm-login" => vm_login,
        "vm-newuser" => vm_newuser,
        "vm-password" => vm_password,
        "vm-newpassword" => vm_newpassword,
        "vm-passchanged" => vm_passchanged,
        "vm-reenterpassword" => vm_reenterpassword,
        "vm-mismatch" => vm_mismatch,
        "vm-invalid-password" => vm_invalid_password,
        "vm-pls-try-again" => vm_pls_try_again,
        "vm-prepend-timeout" => vm_prepend_timeout,
    );
    macro_rules! key {
        ($($name:literal => $field:ident),+ $(,)?) => {$(
            if let Some((v, at)) = get(b, $name) {
                if let Some(bad) = v.chars().find(|c| !LISTEN_CONTROL_DTMF.contains(*c)) {
                    b.warn(&at, format!("{}: {bad:?} is not a DTMF key; Asterisk keeps `{}`: use only 0-9, * and #", $name, p.$field));
                } else {
                    if v.is_empty() {
                        b.warn(&at, format!("{} is empty: Asterisk then has no key for it during playback: remove the line to keep the default", $name));
                    }
                    p.$field = v.to_string();
                }
            }
        )+};
    }
    key!(
        "listen-control-forward-key" => listen_control_forward_key,
        "listen-control-reverse-key" => listen_control_reverse_key,
        "listen-control-pause-key" => listen_control_pause_key,
        "listen-control-restart-key" => listen_control_restart_key,
        "listen-control-stop-key" => listen_control_stop_key,
    );
    p
}

/// `cidinternalcontexts=a, b`: split on `,`, leading blanks removed, trailing ones kept (as
/// Asterisk stores them), at most [`MAX_CID_INTERNAL_CONTEXTS`].
fn cid_internal_contexts(b: &mut Builder<'_>, value: &str, at: &Location) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = Some(value);
    while let Some(text) = rest.filter(|r| !r.is_empty()) {
        if out.len() == MAX_CID_INTERNAL_CONTEXTS {
            b.warn(at, format!("cidinternalcontexts has more than {MAX_CID_INTERNAL_CONTEXTS} contexts; Asterisk ignores `{text}`: keep at most {MAX_CID_INTERNAL_CONTEXTS}"));
            break;
        }
        let (entry, next) = match text.split_once(',') {
            Some((e, n)) => (e, Some(n)),
            None => (text, None),
        };
        rest = next;
        let entry = entry.trim_start_matches([' ', '\t']);
        if entry.trim_end() != entry {
            b.warn(at, format!("cidinternalcontexts: Asterisk keeps the blanks after `{}`, so that context never matches: remove them", entry.trim_end()));
        }
        let kept: String = entry.chars().take(63).collect();
        if kept.len() < entry.len() {
            b.warn(at, format!("cidinternalcontexts: `{entry}` is longer than 63 characters; Asterisk keeps only `{kept}`: shorten it"));
        }
        out.push(kept);
    }
    out
}

/// A mailbox line's telephone option `name=value` (`name` lower case). `None`: not one of
/// them; `Some(typed)`: it was (typed false when the value was refused and Asterisk keeps the
/// `[general]` value).
pub(crate) fn mailbox_option(
    b: &mut Builder<'_>,
    name: &str,
    v: &str,
    at: &Location,
    o: &mut PhoneOptions,
) -> Option<bool> {
    let flag = |b: &mut Builder<'_>| Some(b.boolean(name, v, at));
    match name {
        "review" => o.review = flag(b),
        "operator" => o.operator = flag(b),
        "saycid" => o.saycid = flag(b),
        "envelope" => o.envelope = flag(b),
        "sayduration" => o.sayduration = flag(b),
        "messagewrap" => o.messagewrap = flag(b),
        "nextaftercmd" => o.nextaftercmd = flag(b),
        "forcename" => o.forcename = flag(b),
        "forcegreetings" => o.forcegreetings = flag(b),
        "tempgreetwarn" => o.tempgreetwarn = flag(b),
        "sendvoicemail" => o.sendvoicemail = flag(b),
        "moveheard" => o.moveheard = flag(b),
        "leaveurgent" => o.leaveurgent = flag(b),
        "saydurationm" => {
            match leading_int(v).and_then(|(n, rest)| Some((u32::try_from(n).ok()?, rest))) {
                Some((n, rest)) => {
                    if !rest.trim().is_empty() {
                        b.warn(at, format!("saydurationm: Asterisk reads `{v}` as {n} and ignores the rest: write {n}"));
                    }
                    o.saydurationm = Some(n);
                }
                None => {
                    b.error(at, format!("saydurationm: `{v}` is not a number of 0 or more; Asterisk uses the [general] value: write a number of minutes"));
                    return Some(false);
                }
            }
        }
        "callback" | "dialout" | "exitcontext" => {
            b.context_option(name, v, at);
            let slot = match name {
                "callback" => &mut o.callback,
                "dialout" => &mut o.dialout,
                _ => &mut o.exitcontext,
            };
            *slot = Some(v.to_string());
        }
        "passwordlocation" => {
            o.passwordlocation = Some(if v.eq_ignore_ascii_case("spooldir") {
                PasswordLocation::Spooldir
            } else {
                if !v.eq_ignore_ascii_case("voicemail.conf") {
                    b.warn(at, format!("passwordlocation: `{v}` is not voicemail.conf or spooldir; Asterisk uses voicemail.conf"));
                }
                PasswordLocation::VoicemailConf
            });
        }
        "volgain" => match b.volgain(v, at, "the [general] value") {
            Some(gain) => o.volgain = Some(gain),
            None => return Some(false),
        },
        "hidefromdir" => {
            // Directory() looks for the text `hidefromdir=yes` (any case) in the options.
            let hidden =
                v.len() >= 3 && v.is_char_boundary(3) && v[..3].eq_ignore_ascii_case("yes");
            if !hidden {
                if ast_true(v) {
                    b.warn(at, format!("hidefromdir={v}: Asterisk's Directory() hides a mailbox only for `hidefromdir=yes`, so this one stays listed: write yes"));
                } else if !ast_false(v) {
                    b.error(at, format!("hidefromdir: `{v}` is not a yes/no value; Directory() lists the mailbox: write yes or no"));
                }
            }
            o.hidefromdir = Some(hidden);
        }
        _ => return None,
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_numbers_read_as_asterisk_reads_them() {
        assert_eq!(leading_int(" 12abc"), Some((12, "abc")));
        assert_eq!(leading_int("-3"), Some((-3, "")));
        assert_eq!(leading_int("+7 "), Some((7, " ")));
        assert_eq!(leading_int("abc"), None);
        assert_eq!(leading_int("-"), None);
        assert_eq!(
            leading_int("99999999999999999999999").map(|x| x.0),
            Some(i64::MAX)
        );
        assert_eq!(leading_float("1.3"), Some((1.3, "")));
        assert_eq!(leading_float("-.5dB"), Some((-0.5, "dB")));
        assert_eq!(leading_float("2e3x"), Some((2000.0, "x")));
        assert_eq!(leading_float("2e"), Some((2.0, "e")));
        assert_eq!(leading_float("."), None);
        assert_eq!(leading_float("nan"), None);
        assert_eq!(leading_float("1e999"), None, "not finite");
    }
}
