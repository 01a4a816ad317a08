//! The command line: nothing else lives here. Every sub-command is a thin call
//! into the library so tests exercise the same code.

use std::process::ExitCode;

use clap::Parser;
use sowat_admin::cli::{Cli, run};

/// mimalloc instead of glibc's allocator: a list page allocates and frees
/// thousands of small values and one large buffer, and glibc spent a fifth
/// of the page's time in malloc, free and consolidation (measured with
/// perf, see README "Performance"); mimalloc's per-thread free lists cost a
/// fraction of that and return memory without a cap on arenas. Its
/// `override` feature makes it the C `malloc` too: the bundled SQLite
/// allocates through it, and glibc's malloc was still 14 % of a list page
/// on SQLite with only Rust's allocations moved.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli)
}
