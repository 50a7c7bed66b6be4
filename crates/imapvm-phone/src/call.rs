//! One call: the AGI channel (`imapvm-agi`) driven by the runtime's generic driver, the
//! call flow (`imapvm-ivr`) deciding, and the store operations running beside them.
//!
//! The loop, in quinn's order: take every action the flow has; send its channel action as
//! AGI commands (one at a time: AGI is lock-step) and start its store operations as tasks
//! (they may overlap: the listing is fetched while a prompt plays); then wait for whichever
//! comes first, an AGI answer, a store reply or the flow's own timer, and hand it to the
//! flow with a fresh [`Tick`]. When the flow is finished (it waits for every store reply
//! first), `VMSTATUS` and the dialplan exit are set and the connection is closed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use imapvm::clock::SharedClock;
use imapvm_agi::{Channel, Command, CommandId, Event, Request, Word};
use imapvm_ivr::{Action, ActionId, Call, DepositOutcome, Exit, Input, StoreReply, Tick, VmStatus};
use imapvm_net::driver::{Driver, Progress};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::agi::{AgiDriver, exec, set_variable};
use crate::channel::{self, InFlight, Next};
use crate::error::{Error, Result};
use crate::flow;
use crate::store::{CallContext, Caller, PhoneStore};

/// What a finished call reports (`imapvm agi --json`: one line per call).
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    /// `voicemail` or `voicemailmain`.
    pub app: String,
    /// The mailbox (the first recipient), if the arguments named one.
    pub mailbox: Option<String>,
    /// `VMSTATUS` as set (`SUCCESS`, `USEREXIT`, `FAILED`); `None` when none was set.
    pub status: Option<String>,
    /// The UID of the stored message, when one was stored at once.
    pub uid: Option<u32>,
    /// Seconds from the connection to its end.
    pub secs: f64,
    /// Where the call came from.
    pub peer: SocketAddr,
    /// What went wrong, if anything (the caller may still have been served).
    pub error: Option<String>,
}

/// What every call shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub store: PhoneStore,
    pub clock: SharedClock,
    pub agi: imapvm_agi::Config,
    pub write_timeout: std::time::Duration,
}

fn tick(clock: &SharedClock) -> Tick {
    Tick {
        mono: clock.now(),
        wall: u64::try_from(clock.unix_secs()).unwrap_or(0),
    }
}

/// Serves one FastAGI connection to its end.
pub(crate) async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) -> CallReport {
    let started = shared.clock.now();
    let mut report = CallReport {
        app: String::new(),
        mailbox: None,
        status: None,
        uid: None,
        secs: 0.0,
        peer,
        error: None,
    };
    let channel = Channel::new(shared.agi, started);
    let mut driver = Driver::new(channel, stream, shared.clock.clone())
        .with_label(format!("agi {peer}"))
        .with_input_trace(false)
        .with_write_timeout(shared.write_timeout);
    if let Err(e) = run(&shared, &mut driver, &mut report).await {
        tracing::info!(%peer, error = %e, "call ended with an error");
        report.error = Some(e.to_string());
    }
    let _ = driver.core_mut().close();
    let _ = tokio::time::timeout(shared.write_timeout, driver.flush()).await;
    report.secs = (shared.clock.now() - started).as_secs_f64();
    report
}

/// The call's state on the AGI side.
struct Line {
    /// The flow's channel action in progress and the AGI command answering it.
    inflight: Option<(InFlight, CommandId)>,
    /// An AGI command whose answer nobody needs any more (sent before a hangup).
    orphan: Option<CommandId>,
    /// The caller hung up (or the connection is gone).
    hung_up: bool,
    /// The connection is gone: no command can be sent at all.
    dead: bool,
    /// Why the AGI conversation failed, when it was not a hangup.
    failure: Option<String>,
}

async fn run(shared: &Arc<Shared>, driver: &mut AgiDriver, report: &mut CallReport) -> Result<()> {
    let env = environment(driver).await?;
    let script = env
        .script
        .as_ref()
        .map(|s| s.path.clone())
        .unwrap_or_default();
    report.app = script.clone();
    let setup = match flow::setup(&shared.store, &script, &env) {
        Ok(setup) => setup,
        Err(e) => {
            // Asterisk's VoiceMail sets FAILED when it cannot serve the arguments.
            if script == "voicemail" {
                report.status = Some("FAILED".into());
                let _ = exec(driver, set_variable("VMSTATUS", "FAILED")?).await;
            }
            return Err(e);
        }
    };
    report.mailbox = setup.mailbox.clone();
    let context = Arc::new(CallContext {
        caller: Caller {
            num: env.callerid.clone().unwrap_or_default(),
            name: env.calleridname.clone().unwrap_or_default(),
        },
        format: setup.settings.format.as_str().to_owned(),
        files: std::sync::Mutex::new(setup.files),
        journal: std::sync::Mutex::new(None),
        skip_password: matches!(&setup.flow, imapvm_ivr::Flow::Main(m) if m.args.options().skip_password),
    });
    let result = converse(
        shared,
        driver,
        report,
        &env,
        setup.flow,
        setup.settings,
        setup.recipients,
        &context,
    )
    .await;
    // Every file of the call goes, but a recording whose journal is still there (its
    // deposit did not finish): that one waits for `journal::recover`.
    let keep: Vec<PathBuf> = context.pending_recording().into_iter().collect();
    if let Ok(files) = context.files.lock() {
        files.clean(&keep);
    }
    context.release_journal();
    result
}

#[allow(clippy::too_many_arguments, reason = "one call's parts, passed once")]
async fn converse(
    shared: &Arc<Shared>,
    driver: &mut AgiDriver,
    report: &mut CallReport,
    env: &imapvm_agi::Env,
    flow: imapvm_ivr::Flow,
    settings: imapvm_ivr::Settings,
    recipients: Vec<imapvm_types::MailboxId>,
    context: &Arc<CallContext>,
) -> Result<()> {
    let settings = flow::dialplan_facts(driver, settings, env).await?;
    let mut call = Call::new(flow, settings, tick(&shared.clock));
    let mut line = Line {
        inflight: None,
        orphan: None,
        hung_up: false,
        dead: false,
        failure: None,
    };
    let mut tasks: JoinSet<(ActionId, StoreReply)> = JoinSet::new();
    let (vmstatus, exit) = loop {
        let mut finished = None;
        while let Some(action) = call.poll_action() {
            match action {
                Action::Channel { id, action } => {
                    if line.hung_up {
                        return Err(Error::Flow(format!(
                            "a channel action after the hangup: {action}"
                        )));
                    }
                    if let imapvm_ivr::ChannelAction::Record(spec) = &action
                        && !recipients.is_empty()
                    {
                        context.start_journal(spec, &recipients, &shared.clock);
                    }
                    let (inflight, mut request) = channel::start(id, action)?;
                    if call.expects_secret() {
                        // A PIN digit answers it: redacted in every trace [INV-6].
                        request = request.sensitive();
                    }
                    let cid = driver.core_mut().send(request, shared.clock.now())?;
                    line.inflight = Some((inflight, cid));
                }
                Action::Store { id, op } => {
                    tracing::debug!(op = %op, "store");
                    let store = shared.store.clone();
                    let context = Arc::clone(context);
                    let now = shared.clock.now();
                    tasks.spawn(async move { (id, store.run(op, &context, now).await) });
                }
                Action::Finished { vmstatus, exit } => finished = Some((vmstatus, exit)),
            }
        }
        if let Some(done) = finished {
            break done;
        }
        let deadline = call.poll_timeout();
        let waiting_on_agi = line.inflight.is_some() || line.orphan.is_some();
        tokio::select! {
            progress = driver.turn(deadline), if !line.dead && (waiting_on_agi || deadline.is_some() || tasks.is_empty()) => {
                let progress = progress?;
                let now = tick(&shared.clock);
                if let Some(d) = call.poll_timeout()
                    && d <= now.mono
                {
                    call.handle_timeout(now);
                }
                if progress == Progress::Eof {
                    line.dead = true;
                }
                answers(driver, &mut call, &mut line, &shared.clock)?;
            }
            Some(joined) = tasks.join_next() => {
                let (id, reply) = joined.map_err(|e| Error::Flow(format!("a store task failed: {e}")))?;
                if let StoreReply::Deposit(DepositOutcome::Stored { uid }) = &reply {
                    report.uid = uid.map(|u| u.get());
                }
                call.handle(Input::StoreReply { id, reply }, tick(&shared.clock))?;
            }
            () = sleep_until(deadline), if line.dead => {
                call.handle_timeout(tick(&shared.clock));
            }
        }
        if line.dead && !line.hung_up {
            line.hung_up = true;
            line.inflight = None;
            call.handle(Input::Hangup, tick(&shared.clock))?;
        }
    };
    report.status = vmstatus.map(|s| s.as_str().to_owned());
    if let Some(failure) = line.failure.take() {
        report.error = Some(failure);
    }
    finish(driver, &mut line, vmstatus, exit).await
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// Takes the AGI events and hands what they mean to the flow.
fn answers(
    driver: &mut AgiDriver,
    call: &mut Call,
    line: &mut Line,
    clock: &SharedClock,
) -> Result<()> {
    while let Some(event) = driver.core_mut().poll_event() {
        match event {
            Event::Response { id, outcome } => {
                if line.orphan == Some(id) {
                    line.orphan = None;
                    continue;
                }
                let Some((inflight, cid)) = line.inflight.as_mut() else {
                    return Err(Error::Flow("an AGI answer to no command".into()));
                };
                if *cid != id {
                    return Err(Error::Flow("an AGI answer to another command".into()));
                }
                match inflight.answer(outcome)? {
                    Next::Send(request) => {
                        let request = if call.expects_secret() {
                            request.sensitive()
                        } else {
                            request
                        };
                        *cid = driver.core_mut().send(request, clock.now())?;
                    }
                    Next::Done(input) => {
                        line.inflight = None;
                        call.handle(input, tick(clock))?;
                    }
                    Next::HungUp => {
                        line.inflight = None;
                        hang_up(call, line, clock)?;
                    }
                }
            }
            Event::Hangup => {
                if let Some((_, cid)) = line.inflight.take() {
                    line.orphan = Some(cid);
                }
                hang_up(call, line, clock)?;
            }
            Event::Failed(e) => {
                // A closed connection is how a call ends; anything else is Asterisk saying
                // something imapvm cannot read: worth an operator's attention.
                if e.is_hangup() {
                    tracing::debug!(error = %e, "AGI connection closed");
                } else {
                    tracing::warn!(error = %e, "AGI conversation failed; the call ends as if hung up");
                    line.failure = Some(e.to_string());
                }
                line.dead = true;
                line.inflight = None;
                line.orphan = None;
                hang_up(call, line, clock)?;
            }
            Event::Environment(_) => return Err(Error::Flow("a second AGI environment".into())),
        }
    }
    Ok(())
}

fn hang_up(call: &mut Call, line: &mut Line, clock: &SharedClock) -> Result<()> {
    if !line.hung_up {
        line.hung_up = true;
        call.handle(Input::Hangup, tick(clock))?;
    }
    Ok(())
}

/// Waits for the environment block.
async fn environment(driver: &mut AgiDriver) -> Result<imapvm_agi::Env> {
    loop {
        let progress = driver.turn(None).await?;
        while let Some(event) = driver.core_mut().poll_event() {
            match event {
                Event::Environment(env) => return Ok(*env),
                Event::Failed(e) => return Err(e.into()),
                Event::Hangup | Event::Response { .. } => {}
            }
        }
        if progress == Progress::Eof {
            return Err(Error::PeerClosed);
        }
    }
}

/// Waits for the answer of a command the flow no longer needs.
async fn settle(driver: &mut AgiDriver, line: &mut Line) -> Result<()> {
    while let Some(id) = line.orphan.or(line.inflight.as_ref().map(|(_, c)| *c)) {
        let progress = driver.turn(None).await?;
        while let Some(event) = driver.core_mut().poll_event() {
            match event {
                Event::Response { id: got, .. } if got == id => {
                    line.orphan = None;
                    line.inflight = None;
                }
                Event::Failed(e) => return Err(e.into()),
                Event::Response { .. } | Event::Hangup | Event::Environment(_) => {}
            }
        }
        if progress == Progress::Eof {
            return Ok(());
        }
    }
    Ok(())
}

/// `VMSTATUS` and the dialplan exit (`SET CONTEXT`/`EXTENSION`/`PRIORITY`), which Asterisk
/// takes when the AGI ends.
async fn finish(
    driver: &mut AgiDriver,
    line: &mut Line,
    vmstatus: Option<VmStatus>,
    exit: Option<Exit>,
) -> Result<()> {
    if line.dead {
        return Ok(());
    }
    settle(driver, line).await?;
    if let Some(status) = vmstatus {
        // Works on a dead channel too: the `h` extension sees it.
        exec(driver, set_variable("VMSTATUS", status.as_str())?)
            .await?
            .map_err(Error::Agi)?;
    }
    if let Some(exit) = exit
        && !line.hung_up
    {
        if let Some(context) = &exit.context {
            exec(
                driver,
                Request::new(Command::SetContext {
                    context: Word::new(context)?,
                }),
            )
            .await?
            .map_err(Error::Agi)?;
        }
        exec(
            driver,
            Request::new(Command::SetExtension {
                extension: Word::new(exit.extension.as_str())?,
            }),
        )
        .await?
        .map_err(Error::Agi)?;
        exec(
            driver,
            Request::new(Command::SetPriority {
                priority: Word::new(&exit.priority().to_string())?,
            }),
        )
        .await?
        .map_err(Error::Agi)?;
    }
    Ok(())
}
