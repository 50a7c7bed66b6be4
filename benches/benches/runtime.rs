//! The imapvm contender: not wired yet (the runtime's API is being written).

use imapvm_benches::Result;
use imapvm_benches::suite::{Owner, Plan, Runtime, RuntimeOp};
use imapvm_benches::wire::WireStats;

/// imapvm through its public library API.
pub struct ImapvmRuntime;

impl ImapvmRuntime {
    /// A runtime for the private server.
    pub fn new(_server: &xtask::server::ServerInfo, _plan: &Plan) -> Result<ImapvmRuntime> {
        Ok(ImapvmRuntime)
    }
}

impl Runtime for ImapvmRuntime {
    fn run(&mut self, _owner: Owner, _op: &RuntimeOp<'_>, _cold: bool) -> Result<WireStats> {
        Err(imapvm_benches::BenchError::Scenario(
            "not measured yet (runtime pending)".into(),
        ))
    }
}
