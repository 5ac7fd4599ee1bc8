//! What the serving commands (`proxy`, `demo`) share: their runtime and
//! their stop signals.

use std::process::ExitCode;

use crate::exit;

/// The Tokio runtime of the main thread, or the exit code after saying why
/// not: single-threaded if `one_thread` or the process may use one CPU, else
/// Tokio's multi-threaded default (`TOKIO_WORKER_THREADS`, else one worker
/// per CPU). The proxy asks for one thread (it serves on threads of its own:
/// `proxy/workers.rs`); `demo` takes the default.
///
/// One thread gets Tokio's single-threaded scheduler, not the
/// multi-threaded one with one worker: on one core the proxy then spends
/// about a fifth less CPU per proxied GET (fewer wake-ups across threads,
/// less kernel time; docs/benchmarks.md, session 18).
pub(crate) fn runtime(one_thread: bool) -> Result<tokio::runtime::Runtime, ExitCode> {
    let one_cpu = || std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_thread || one_cpu() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the runtime: {e}");
        exit::code(exit::ERRORS)
    })
}

/// How many threads serve: `workers`, else `TOKIO_WORKER_THREADS` (as
/// before the proxy had threads of its own), else one per CPU the process
/// may use (its affinity and a container's quota count).
pub(crate) fn workers(workers: Option<u32>) -> usize {
    if let Some(n) = workers {
        return usize::try_from(n).unwrap_or(usize::MAX);
    }
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, naming which. (Elsewhere than
/// Unix, on Ctrl-C only.)
pub(crate) async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            Some(()) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
