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

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (the Rust
/// bindings name no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Freed memory goes back to the system at once rather than after a
    // second: under load each blocking thread that ran a SQLite query kept
    // its freed pages, and a word-start search (FTS5 merges its doclists in
    // large buffers) took the server from 104 to 224 MB; at once it stays
    // at 79-88 MB for lists and 131 MB after that search, for no measurable
    // loss of speed.
    // SAFETY: called first thing, before any other thread exists; the
    // option is a plain integer setting.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    let cli = Cli::parse();
    run(cli)
}
