//! [`Settings`]: what the binding reads from voicemail.conf (for the mailbox of the call)
//! and knows of the dialplan ([`Dialplan`]), as plain data.

use crate::names::RecordFormat;

/// voicemail.conf's options for the mailbox the call is about (the box's own value where
/// it has one, else `[general]`'s), plus the dialplan facts the flow needs.
///
/// [`Settings::default`] gives Asterisk's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `maxsecs` (old name `maxmessage`): the longest message in seconds; 0 = no limit.
    pub maxsecs: u32,
    /// `minsecs` (old name `minmessage`): a shorter message is discarded.
    pub minsecs: u32,
    /// `maxsilence`: seconds of silence that end a recording; 0 = no silence detection.
    pub maxsilence: u32,
    /// `silencethreshold` (Asterisk's default: dsp.conf's 256).
    pub silencethreshold: u32,
    /// `review`: offer the review menu after recording.
    pub review: bool,
    /// `operator`: `0` reaches the operator (extension `o`).
    pub operator: bool,
    /// `leaveurgent`: the caller may mark the message urgent in review.
    pub leaveurgent: bool,
    /// `maxmsg`. The IVR only uses 0 ("greetings only": play the greeting, take no
    /// message); the capacity check is the store's ([`crate::StoreOp::Admit`]).
    pub maxmsg: u32,
    /// The first `format=` entry: the recording's format.
    pub format: RecordFormat,
    /// What the dialplan holds.
    pub dialplan: Dialplan,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            maxsecs: 0,
            minsecs: 0,
            maxsilence: 0,
            silencethreshold: 256,
            review: false,
            operator: false,
            leaveurgent: true,
            maxmsg: 100,
            format: RecordFormat::wav(),
            dialplan: Dialplan::default(),
        }
    }
}

/// Dialplan facts. AGI cannot ask Asterisk whether an extension exists, so the binding
/// supplies them (from its configuration).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dialplan {
    /// voicemail.conf's `exitcontext` for the mailbox; `None` = the caller's current
    /// context.
    pub exitcontext: Option<String>,
    /// Extension `a` exists in the exit context (or the current one): `*` leaves to it.
    pub extension_a: bool,
    /// Extension `o` exists there: with `operator=yes`, `0` leaves to it.
    pub extension_o: bool,
}
