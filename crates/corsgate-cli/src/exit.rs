//! Exit codes: API for scripts, documented in `--help` and the README.

use std::process::ExitCode;

/// Success: `check` found nothing; `proxy` shut down cleanly.
pub(crate) const OK: u8 = 0;
/// Errors: `check` found configuration errors; `proxy` could not start
/// (invalid configuration, address in use).
pub(crate) const ERRORS: u8 = 1;
/// `check`: the policy is valid but the audit has findings. (clap also
/// exits 2 on a usage error, after printing the usage.)
pub(crate) const WARNINGS: u8 = 2;

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
/// `doctor`: invalid arguments or the server could not be reached.
pub(crate) const USAGE_OR_NETWORK: u8 = 2;

/// The table, for `--help`.
pub(crate) const HELP: &str = "\
Exit codes:
  0  success: `check` found nothing to report; `proxy` shut down cleanly
  1  errors: `check` found configuration errors; `proxy` could not start
  2  `check`: valid, but the security audit has findings (low or worse);
     any command: invalid arguments (after printing the usage)
`doctor`: 0 allowed, 1 blocked, 2 usage or network error
`doctor --scan`: 0 no finding, 1 findings, 2 usage or network error
`demo`: 0 stopped by Ctrl-C or SIGTERM, 1 could not start";
