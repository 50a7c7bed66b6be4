//! `imapvm version`: the version, also as JSON.

use std::process::ExitCode;

use crate::Global;
use crate::cmd::CliError;

pub(crate) fn run(global: &Global) -> Result<ExitCode, CliError> {
    let version = env!("CARGO_PKG_VERSION");
    if global.json {
        println!(
            "{}",
            serde_json::json!({ "name": "imapvm", "version": version })
        );
    } else {
        println!("imapvm {version}");
    }
    Ok(ExitCode::SUCCESS)
}
