//! The command line: nothing else lives here. Every sub-command is a thin call
//! into the library so tests exercise the same code.

use std::process::ExitCode;

use clap::Parser;
use sowat_admin::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli)
}
