//! The `corsgate` command: see `corsgate --help`.

mod check;
mod cli;
mod demo;
mod doctor;
mod engines;
mod exit;
mod export;
mod heard;
mod proxy;
mod rt;
mod tls;

fn main() -> std::process::ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match cli.command {
        cli::Command::Proxy(args) => proxy::run(*args),
        cli::Command::Check(args) => check::run(&args),
        cli::Command::Doctor(args) => doctor::run(&args),
        cli::Command::Demo(args) => demo::run(&args),
        cli::Command::Export(args) => export::run(&args),
    }
}
