//! The AGI side of a call that is not the flow's: the driver type, and one command sent and
//! its answer awaited (the dialplan facts before the flow starts, `VMSTATUS` after it).

use imapvm_agi::{Channel, Command, Event, Request, Text, VarName};
use imapvm_net::driver::{Driver, Progress};
use tokio::net::TcpStream;

use crate::error::{Error, Result};

/// One call's AGI channel on its socket.
pub(crate) type AgiDriver = Driver<Channel, TcpStream>;

/// Sends one command and waits for its answer (other events are dropped: the flow is over
/// or has not started).
pub(crate) async fn exec(
    driver: &mut AgiDriver,
    request: Request,
) -> Result<std::result::Result<imapvm_agi::Outcome, imapvm_agi::Error>> {
    let now = driver.now();
    let id = driver.core_mut().send(request, now)?;
    loop {
        let progress = driver.turn(None).await?;
        while let Some(event) = driver.core_mut().poll_event() {
            match event {
                Event::Response { id: got, outcome } if got == id => return Ok(outcome),
                Event::Failed(e) => return Err(e.into()),
                Event::Response { .. } | Event::Hangup | Event::Environment(_) => {}
            }
        }
        if progress == Progress::Eof {
            return Err(Error::PeerClosed);
        }
    }
}

/// `SET VARIABLE name value`.
pub(crate) fn set_variable(name: &str, value: &str) -> Result<Request> {
    Ok(Request::new(Command::SetVariable {
        name: VarName::new(name)?,
        value: Text::new(value)?,
    }))
}
