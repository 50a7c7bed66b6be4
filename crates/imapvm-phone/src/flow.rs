//! From the AGI environment to a call flow: which application (`voicemail`,
//! `voicemailmain`), its arguments, the mailbox's voicemail.conf settings (typed by
//! `imapvm-config`) as the flow's [`Settings`], and the dialplan facts the flow needs.

use imapvm_agi::{Command, Env, Outcome, Request, Text};
use imapvm_config::MailboxSettings;
use imapvm_ivr::{
    Dialplan, Flow, Leave, LeaveArgs, Main, MainArgs, RecordFormat, Recordings, Settings,
    SpoolName, ZoneMessages,
};
use imapvm_types::MailboxId;

use crate::agi::{AgiDriver, exec};
use crate::error::{Error, Result};
use crate::spool::{CallSpool, with_extension};
use crate::store::PhoneStore;

/// A call ready to start.
#[derive(Debug)]
pub(crate) struct CallSetup {
    pub flow: Flow,
    pub settings: Settings,
    /// The mailbox the call is about, for the report.
    pub mailbox: Option<String>,
    /// Whom a message recorded by VoiceMail() is for (empty for VoiceMailMain).
    pub recipients: Vec<MailboxId>,
    /// The call's corner of the spool.
    pub files: CallSpool,
}

/// The flow's settings from a mailbox's effective voicemail.conf options. Dialplan facts
/// start unknown (see [`dialplan_facts`]).
pub(crate) fn settings(s: &MailboxSettings) -> Result<Settings> {
    let format = s.format.value.first().map_or("wav", String::as_str);
    let p = &s.phone;
    let prompt = |name: &str, default: &str| -> Result<Option<SpoolName>> {
        if name == default || name.is_empty() {
            Ok(None)
        } else {
            SpoolName::new(name)
                .map(Some)
                .map_err(|e| Error::Args(format!("prompt {name}: {e}")))
        }
    };
    Ok(Settings {
        maxsecs: s.maxsecs.value,
        minsecs: s.minsecs.value,
        maxsilence: p.maxsilence.value,
        silencethreshold: p.silencethreshold.value,
        review: p.review.value,
        operator: p.operator.value,
        leaveurgent: s.leaveurgent.value,
        maxmsg: s.maxmsg.value,
        format: RecordFormat::new(format)
            .map_err(|e| Error::Args(format!("format={format}: {e}")))?,
        dialplan: Dialplan {
            exitcontext: p.exitcontext.value.clone().filter(|c| !c.is_empty()),
            ..Dialplan::default()
        },
        maxlogins: p.maxlogins.value,
        minpassword: p.minpassword.value,
        password_locked: imapvm_config::is_locked(&s.password.value),
        envelope: p.envelope.value,
        saycid: p.saycid.value,
        sayduration: p.sayduration.value,
        saydurationm: p.saydurationm.value,
        skipms: p.skipms.value,
        messagewrap: p.messagewrap.value,
        nextaftercmd: p.nextaftercmd.value,
        forcename: p.forcename.value,
        forcegreetings: p.forcegreetings.value,
        tempgreetwarn: p.tempgreetwarn.value,
        usedirectory: p.usedirectory.value,
        callback: p.callback.value.clone().filter(|c| !c.is_empty()),
        dialout: p.dialout.value.clone().filter(|c| !c.is_empty()),
        sendvoicemail: p.sendvoicemail.value,
        cidinternalcontexts: p.cidinternalcontexts.value.clone(),
        forward_urgent_auto: p.forward_urgent_auto.value,
        maxgreet: s.maxgreet.value,
        zone: s.zone.as_ref().map(|z| ZoneMessages {
            timezone: z.value.timezone.clone(),
            format: z.value.format.clone(),
        }),
        login_prompt: prompt(&p.vm_login.value, "vm-login")?,
        password_prompt: prompt(&p.vm_password.value, "vm-password")?,
    })
}

/// Reads the application and its arguments from the environment.
pub(crate) fn setup(store: &PhoneStore, script: &str, env: &Env) -> Result<CallSetup> {
    let files = store.spool().call()?;
    match script {
        "voicemail" => {
            let args = LeaveArgs::parse(&env.args).map_err(|e| Error::Args(e.to_string()))?;
            let recipients = args.recipients().to_vec();
            let first = args.primary().clone();
            let settings = match store.store().mailbox_of(&first) {
                Ok(mailbox) => settings(mailbox.settings())?,
                // The flow asks the store first and ends the call with FAILED, playing nothing.
                Err(_) => Settings::default(),
            };
            Ok(CallSetup {
                mailbox: Some(first.to_string()),
                recipients,
                flow: Flow::Leave(Leave {
                    args,
                    recording: spool_name(&files.recording())?,
                }),
                settings,
                files,
            })
        }
        "voicemailmain" => {
            let args = MainArgs::parse(&env.args).map_err(|e| Error::Args(e.to_string()))?;
            let named = args.mailbox().map(|id| (id.to_string(), store.lookup(id)));
            let dir = files.recording();
            let recordings = Recordings {
                message: spool_name(&dir)?,
                comment: spool_name(&with_extension(&dir, "comment"))?,
                greeting: spool_name(&with_extension(&dir, "greeting"))?,
            };
            // Until the login, the general settings apply (maxlogins, prompts).
            let settings = store.general_settings()?;
            Ok(CallSetup {
                mailbox: named.as_ref().map(|(id, _)| id.clone()),
                recipients: Vec::new(),
                flow: Flow::Main(Main {
                    args,
                    named: named.map(|(_, lookup)| lookup),
                    caller_id: env.callerid.clone(),
                    recordings,
                }),
                settings,
                files,
            })
        }
        other => Err(Error::Args(format!(
            "unknown FastAGI script `{other}`: write agi://HOST:4573/voicemail,BOX@CONTEXT,OPTIONS or .../voicemailmain,BOX@CONTEXT,OPTIONS"
        ))),
    }
}

fn spool_name(path: &std::path::Path) -> Result<SpoolName> {
    SpoolName::new(&path.to_string_lossy()).map_err(|e| Error::Flow(e.to_string()))
}

/// Asks Asterisk whether extensions `a` and `o` exist in the exit context (voicemail.conf's
/// `exitcontext`, else the call's own context), and `a` in the call's own context, with
/// `DIALPLAN_EXISTS` (func_dialplan, in every standard Asterisk build). Without the
/// function the answer is empty, and `*` and `0` then do not leave the flow, as in Asterisk
/// when the extensions are missing.
pub(crate) async fn dialplan_facts(
    driver: &mut AgiDriver,
    mut settings: Settings,
    env: &Env,
) -> Result<Settings> {
    let exit = settings
        .dialplan
        .exitcontext
        .clone()
        .unwrap_or_else(|| env.context.clone());
    let a = ask(driver, &format!("${{DIALPLAN_EXISTS({exit},a,1)}}")).await?;
    let o = ask(driver, &format!("${{DIALPLAN_EXISTS({exit},o,1)}}")).await?;
    let a_current = if exit == env.context {
        a
    } else {
        ask(
            driver,
            &format!("${{DIALPLAN_EXISTS({},a,1)}}", env.context),
        )
        .await?
    };
    settings.dialplan = Dialplan {
        exitcontext: settings.dialplan.exitcontext,
        extension_a: a,
        extension_o: o,
        extension_a_current: a_current,
    };
    Ok(settings)
}

async fn ask(driver: &mut AgiDriver, expression: &str) -> Result<bool> {
    let answer = exec(
        driver,
        Request::new(Command::GetFullVariable {
            expression: Text::new(expression)?,
            channel: None,
        }),
    )
    .await?;
    Ok(matches!(answer, Ok(Outcome::Variable(v)) if v.value().as_deref() == Some("1")))
}
