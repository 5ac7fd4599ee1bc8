//! Exit codes: API for scripts, documented in `--help` and the README.

use std::process::ExitCode;

/// Success: `check` found nothing; `doctor`: the browser allows it;
/// `proxy` and `demo` shut down cleanly.
pub(crate) const OK: u8 = 0;
/// Errors: `check` found configuration errors; `proxy` or `demo` could not
/// start (invalid configuration, address in use).
pub(crate) const ERRORS: u8 = 1;
/// Invalid arguments: clap's own code for a usage error, used for the
/// arguments corsgate checks itself too (`doctor --origin example.com`).
pub(crate) const USAGE: u8 = 2;
/// `check`: the policy is valid but the audit has findings.
pub(crate) const FINDINGS: u8 = 3;
/// `doctor`: no answer from the server (cannot connect, timeout, too
/// many redirects), or a TLS failure the browser stops at, so no CORS
/// verdict.
pub(crate) const NETWORK: u8 = 4;

/// Writes to stdout. A reader that went away (`corsgate check … | head`)
/// is not an error: the rest is dropped quietly, as cargo and ripgrep do,
/// and the exit code stays the command's own.
pub(crate) fn print(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

pub(crate) fn code(value: u8) -> ExitCode {
    ExitCode::from(value)
}

/// `doctor`: the browser would block the request (`--scan`: findings).
pub(crate) const BLOCKED: u8 = 1;

/// The table, for `--help` (and the README, which a test keeps equal).
pub(crate) const HELP: &str = "\
Exit codes:
  0  success: `check` found nothing to report; `doctor`: the browser allows the
     request (`--scan`: no finding); `proxy`, `demo`: stopped cleanly;
     `export`: written
  1  `check`: configuration errors; `doctor`: the browser blocks the request
     (`--scan`: findings); `proxy`, `demo`: could not start; `export`: the
     policy has errors or the target cannot express it
  2  invalid arguments (after printing what is wrong)
  3  `check`: the policy is valid, but the security audit has findings
  4  `doctor`: no answer from the server (cannot connect, timeout, redirects),
     or a TLS failure (an untrusted, expired or wrong-host certificate)";
