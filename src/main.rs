//! The command line: nothing else lives here. Every sub-command is a thin call
//! into the library so tests exercise the same code.

use std::process::ExitCode;

use clap::Parser;
use sowat_admin::cli::{Cli, run};

fn main() -> ExitCode {
    cap_allocator_arenas();
    let cli = Cli::parse();
    run(cli)
}

/// glibc gives each thread that allocates under contention an arena of its
/// own (up to 8 per core) and rarely returns their memory: with SQLite
/// working on the blocking threads, that alone took the server from 40 to
/// 150 MB under load. Two arenas serve two cores' worth of threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn cap_allocator_arenas() {
    // SAFETY: called first in main, before any other thread exists;
    // mallopt only changes allocator tuning.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn cap_allocator_arenas() {}
