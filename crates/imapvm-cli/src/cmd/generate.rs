//! `imapvm generate man|completions DIR` (hidden): the man pages and the bash, zsh and fish
//! completions, written from the command line's own clap definition, so they never disagree
//! with `--help`. `cargo xtask dist` runs it to put them in the .deb.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use clap_complete::Shell;

use crate::Global;
use crate::cmd::CliError;

/// `imapvm generate ...`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// What to write.
    what: What,
    /// The directory to write into (created if missing).
    dir: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum What {
    /// `imapvm.1` and one page per subcommand (`imapvm-watch.1`, ...).
    Man,
    /// `imapvm.bash`, `_imapvm` (zsh) and `imapvm.fish`.
    Completions,
}

pub(crate) fn run(_global: &Global, args: &GenerateArgs) -> Result<ExitCode, CliError> {
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| CliError(format!("cannot create {}: {e}", args.dir.display())))?;
    let written = match args.what {
        What::Man => man(&args.dir),
        What::Completions => completions(&args.dir),
    }
    .map_err(|e| CliError(format!("writing into {}: {e}", args.dir.display())))?;
    for file in written {
        println!("{}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Section 1 pages for the command and each visible subcommand.
fn man(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    clap_mangen::generate_to(crate::command(), dir)?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    pages.retain(|p| p.extension().is_some_and(|e| e == "1"));
    pages.sort();
    Ok(pages)
}

fn completions(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut cmd = crate::command();
    [Shell::Bash, Shell::Zsh, Shell::Fish]
        .into_iter()
        .map(|shell| clap_complete::generate_to(shell, &mut cmd, "imapvm", dir))
        .collect()
}
