//! What the serving commands (`proxy`, `demo`) share: their runtime and
//! their stop signals.

use std::process::ExitCode;

use crate::exit;

/// A multi-threaded Tokio runtime, or the exit code after saying why not.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            exit::code(exit::ERRORS)
        })
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
