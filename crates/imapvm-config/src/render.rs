//! Writes a [`Config`] back as voicemail.conf text.

use std::fmt::Write as _;

use crate::Config;
use crate::model::MailboxOptions;
use crate::phone::{Phone, PhoneOptions};

/// `;` would start a comment: escape it.
fn plain(value: &str) -> String {
    value.replace(';', "\\;")
}

/// The inverse of `substitute_escapes` (CR LF is written `\n`).
fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                out.push_str("\\n");
            }
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    // A `;` right after a backslash would be read as `\;`: the escaped backslash pair keeps
    // its meaning because the comment scanner only looks at the character before `;`.
    out.replace(';', "\\;")
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn options_text(o: &MailboxOptions) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut push = |k: &str, v: String| parts.push(format!("{k}={v}"));
    if let Some(v) = &o.imapuser {
        push("imapuser", plain(v));
    }
    if let Some(v) = &o.imappassword {
        push("imappassword", plain(v.expose()));
    }
    if let Some(v) = &o.imapoauthcmd {
        push("imapoauthcmd", plain(v.as_str()));
    }
    if let Some(v) = &o.imapvmshareid {
        push("imapvmshareid", plain(v));
    }
    if let Some(v) = &o.imapfolder {
        push("imapfolder", plain(v));
    }
    if let Some(v) = &o.imapserver {
        push("imapserver", plain(v));
    }
    if let Some(v) = o.imapport {
        push("imapport", v.to_string());
    }
    if let Some(v) = o.imapflags {
        push("imapflags", v.to_string());
    }
    if let Some(v) = &o.tz {
        push("tz", plain(v));
    }
    if let Some(v) = &o.locale {
        push("locale", plain(v));
    }
    if let Some(v) = &o.language {
        push("language", plain(v));
    }
    if let Some(v) = o.attach {
        push("attach", yes(v).to_string());
    }
    if let Some(v) = &o.attachfmt {
        push("attachfmt", plain(v));
    }
    if let Some(v) = &o.serveremail {
        push("serveremail", plain(v));
    }
    if let Some(v) = &o.fromstring {
        push("fromstring", plain(v));
    }
    if let Some(v) = &o.emailsubject {
        push("emailsubject", escaped(v));
    }
    if let Some(v) = &o.emailbody {
        push("emailbody", escaped(v));
    }
    if let Some(v) = o.maxmsg {
        push("maxmsg", v.to_string());
    }
    if let Some(v) = o.maxsecs {
        push("maxsecs", v.to_string());
    }
    if let Some(v) = o.minsecs {
        push("minsecs", v.to_string());
    }
    if let Some(v) = o.delete {
        push("delete", yes(v).to_string());
    }
    phone_options(&o.phone, &mut push);
    for (k, v) in o.menu.iter().chain(o.unknown.iter()) {
        push(k, plain(v));
    }
    parts.join("|")
}

/// A mailbox line's telephone options, in a fixed order.
fn phone_options(o: &PhoneOptions, push: &mut impl FnMut(&str, String)) {
    let flags = [
        ("review", o.review),
        ("operator", o.operator),
        ("saycid", o.saycid),
        ("envelope", o.envelope),
        ("sayduration", o.sayduration),
        ("messagewrap", o.messagewrap),
        ("nextaftercmd", o.nextaftercmd),
        ("forcename", o.forcename),
        ("forcegreetings", o.forcegreetings),
        ("tempgreetwarn", o.tempgreetwarn),
        ("sendvoicemail", o.sendvoicemail),
        ("moveheard", o.moveheard),
        ("leaveurgent", o.leaveurgent),
        ("hidefromdir", o.hidefromdir),
    ];
    for (name, value) in flags {
        if let Some(v) = value {
            push(name, yes(v).to_string());
        }
    }
    if let Some(v) = o.saydurationm {
        push("saydurationm", v.to_string());
    }
    for (name, value) in [
        ("callback", &o.callback),
        ("dialout", &o.dialout),
        ("exitcontext", &o.exitcontext),
    ] {
        if let Some(v) = value {
            push(name, plain(v));
        }
    }
    if let Some(v) = o.passwordlocation {
        push("passwordlocation", v.to_string());
    }
    if let Some(v) = o.volgain {
        push("volgain", v.to_string());
    }
}

/// `[general]`'s telephone options that differ from Asterisk's defaults.
fn phone_general(p: &Phone, line: &mut impl FnMut(&str, &str)) {
    let d = Phone::default();
    let flags = [
        ("review", p.review, d.review),
        ("operator", p.operator, d.operator),
        ("saycid", p.saycid, d.saycid),
        ("envelope", p.envelope, d.envelope),
        ("sayduration", p.sayduration, d.sayduration),
        ("messagewrap", p.messagewrap, d.messagewrap),
        ("nextaftercmd", p.nextaftercmd, d.nextaftercmd),
        ("forcename", p.forcename, d.forcename),
        ("forcegreetings", p.forcegreetings, d.forcegreetings),
        ("tempgreetwarn", p.tempgreetwarn, d.tempgreetwarn),
        ("usedirectory", p.usedirectory, d.usedirectory),
        ("sendvoicemail", p.sendvoicemail, d.sendvoicemail),
    ];
    for (name, value, default) in flags {
        if value != default {
            line(name, yes(value));
        }
    }
    let numbers = [
        ("saydurationm", p.saydurationm, d.saydurationm),
        ("skipms", p.skipms, d.skipms),
        ("maxlogins", p.maxlogins, d.maxlogins),
        ("minpassword", p.minpassword, d.minpassword),
        ("silencethreshold", p.silencethreshold, d.silencethreshold),
    ];
    for (name, value, default) in numbers {
        if value != default {
            line(name, &value.to_string());
        }
    }
    let optional = [
        ("callback", &p.callback),
        ("dialout", &p.dialout),
        ("exitcontext", &p.exitcontext),
        ("externpass", &p.externpass),
        ("externpassnotify", &p.externpassnotify),
        ("externpasscheck", &p.externpasscheck),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            line(name, &plain(v));
        }
    }
    if !p.cidinternalcontexts.is_empty() {
        line(
            "cidinternalcontexts",
            &plain(&p.cidinternalcontexts.join(",")),
        );
    }
    if p.passwordlocation != d.passwordlocation {
        line("passwordlocation", &p.passwordlocation.to_string());
    }
    if p.volgain != d.volgain {
        line("volgain", &p.volgain.to_string());
    }
    let texts = [
        ("vm-login", &p.vm_login, &d.vm_login),
        ("vm-newuser", &p.vm_newuser, &d.vm_newuser),
        ("vm-password", &p.vm_password, &d.vm_password),
        ("vm-newpassword", &p.vm_newpassword, &d.vm_newpassword),
        ("vm-passchanged", &p.vm_passchanged, &d.vm_passchanged),
        (
            "vm-reenterpassword",
            &p.vm_reenterpassword,
            &d.vm_reenterpassword,
        ),
        ("vm-mismatch", &p.vm_mismatch, &d.vm_mismatch),
        (
            "vm-invalid-password",
            &p.vm_invalid_password,
            &d.vm_invalid_password,
        ),
        ("vm-pls-try-again", &p.vm_pls_try_again, &d.vm_pls_try_again),
        (
            "vm-prepend-timeout",
            &p.vm_prepend_timeout,
            &d.vm_prepend_timeout,
        ),
        (
            "listen-control-forward-key",
            &p.listen_control_forward_key,
            &d.listen_control_forward_key,
        ),
        (
            "listen-control-reverse-key",
            &p.listen_control_reverse_key,
            &d.listen_control_reverse_key,
        ),
        (
            "listen-control-pause-key",
            &p.listen_control_pause_key,
            &d.listen_control_pause_key,
        ),
        (
            "listen-control-restart-key",
            &p.listen_control_restart_key,
            &d.listen_control_restart_key,
        ),
        (
            "listen-control-stop-key",
            &p.listen_control_stop_key,
            &d.listen_control_stop_key,
        ),
    ];
    for (name, value, default) in texts {
        if value != default {
            line(name, &plain(value));
        }
    }
}

pub(crate) fn render(config: &Config) -> String {
    let g = &config.general;
    let mut out = String::from("; written by imapvm\n[general]\n");
    let mut line = |k: &str, v: &str| {
        let _ = writeln!(out, "{k}={v}");
    };
    line("imapserver", &plain(&g.imapserver));
    line("imapport", &g.imapport.to_string());
    line("imapflags", &g.imapflags.to_string());
    line("imapfolder", &plain(&g.imapfolder));
    if let Some(v) = &g.imapparentfolder {
        line("imapparentfolder", &plain(v));
    }
    line("imapgreetings", yes(g.imapgreetings));
    if let Some(v) = &g.greetingfolder {
        line("greetingfolder", &plain(v));
    }
    if let Some(v) = &g.authuser {
        line("authuser", &plain(v));
    }
    if let Some(v) = &g.authpassword {
        line("authpassword", &plain(v.expose()));
    }
    if let Some(v) = &g.imapoauthcmd {
        line("imapoauthcmd", &plain(v.as_str()));
    }
    line("expungeonhangup", yes(g.expungeonhangup));
    line("imapopentimeout", &g.imapopentimeout.as_secs().to_string());
    line("imapreadtimeout", &g.imapreadtimeout.as_secs().to_string());
    line(
        "imapwritetimeout",
        &g.imapwritetimeout.as_secs().to_string(),
    );
    line(
        "imapclosetimeout",
        &g.imapclosetimeout.as_secs().to_string(),
    );
    line("imap_poll_logout", yes(g.imap_poll_logout));
    line("pollmailboxes", yes(g.pollmailboxes));
    line("pollfreq", &g.pollfreq.as_secs().to_string());
    if let Some(v) = &g.imapcafile {
        line("imapcafile", &plain(v));
    }
    if let Some(v) = &g.imapvm_outbox {
        line("imapvm_outbox", &plain(v));
    }
    line("format", &plain(&g.format.join("|")));
    line("serveremail", &plain(&g.serveremail));
    if !g.fromstring.is_empty() {
        line("fromstring", &plain(&g.fromstring));
    }
    if let Some(v) = &g.emailsubject {
        line("emailsubject", &escaped(v));
    }
    if let Some(v) = &g.emailbody {
        line("emailbody", &escaped(v));
    }
    line("pbxskip", yes(g.pbxskip));
    line("charset", &plain(&g.charset));
    line("emaildateformat", &plain(&g.emaildateformat));
    if let Some(v) = &g.tz {
        line("tz", &plain(v));
    }
    if let Some(v) = &g.locale {
        line("locale", &plain(v));
    }
    line("attach", yes(g.attach));
    line("maxmsg", &g.maxmsg.to_string());
    line("maxsecs", &g.maxsecs.to_string());
    line("minsecs", &g.minsecs.to_string());
    line("maxgreet", &g.maxgreet.to_string());
    line("maxsilence", &g.maxsilence.to_string());
    if let Some(v) = &g.externnotify {
        line("externnotify", &plain(v));
    }
    line("leaveurgent", yes(g.leaveurgent));
    line("forward_urgent_auto", yes(g.forward_urgent_auto));
    line("moveheard", yes(g.moveheard));
    line("searchcontexts", yes(g.searchcontexts));
    if let Some(v) = &g.aliasescontext {
        line("aliasescontext", &plain(v));
    }
    phone_general(&g.phone, &mut line);
    if !config.zones.is_empty() {
        out.push_str("\n[zonemessages]\n");
        for z in &config.zones {
            let _ = writeln!(
                out,
                "{}={}|{}",
                plain(&z.name),
                plain(&z.timezone),
                plain(&z.format)
            );
        }
    }
    if let Some(section) = &g.aliasescontext {
        let _ = writeln!(out, "\n[{section}]");
        for a in &config.aliases {
            let _ = writeln!(out, "{} => {}", plain(&a.alias), a.target);
        }
    }
    let mut contexts: Vec<&str> = Vec::new();
    for m in &config.mailboxes {
        if !contexts.iter().any(|c| *c == m.id.context()) {
            contexts.push(m.id.context());
        }
    }
    for context in contexts {
        let _ = writeln!(out, "\n[{context}]");
        for m in config
            .mailboxes
            .iter()
            .filter(|m| m.id.context() == context)
        {
            let mut text = format!(
                "{},{},{},{}",
                plain(m.password.expose()),
                plain(&m.fullname),
                plain(&m.email.join("|")),
                plain(&m.pager)
            );
            let options = options_text(&m.options);
            if !options.is_empty() {
                text.push(',');
                text.push_str(&options);
            }
            let _ = writeln!(out, "{} => {}", plain(m.id.mailbox()), text);
        }
    }
    out
}
