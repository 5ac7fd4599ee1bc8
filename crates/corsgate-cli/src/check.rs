//! `corsgate check FILE`: every configuration error with file, line, key
//! and fix; for a valid policy, the security audit.

use std::process::ExitCode;

use corsgate::Config;
use corsgate::audit::{Finding, Severity, audit};
use serde_json::json;

use crate::cli::CheckArgs;
use crate::exit;

pub(crate) fn run(args: &CheckArgs) -> ExitCode {
    let name = args.file.display().to_string();
    let (errors, findings) = match Config::from_file(&args.file) {
        Ok(config) => (Vec::new(), audit(&config)),
        Err(errors) => (errors.into_vec(), Vec::new()),
    };
    if args.json {
        println!("{}", render_json(&name, &errors, &findings));
    } else {
        print!("{}", render_text(&name, &errors, &findings));
    }
    exit::code(if !errors.is_empty() {
        exit::ERRORS
    } else if findings.iter().any(|f| f.severity() >= Severity::Low) {
        exit::WARNINGS
    } else {
        exit::OK
    })
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn render_text(name: &str, errors: &[corsgate::ConfigError], findings: &[Finding]) -> String {
    let mut out = String::new();
    for error in errors {
        out.push_str(&format!("{error}\n\n"));
    }
    if !errors.is_empty() {
        out.push_str(&format!(
            "{name}: invalid, {}\n",
            plural(errors.len(), "error")
        ));
        return out;
    }
    for finding in findings {
        out.push_str(&format!("{finding}\n\n"));
    }
    if findings.is_empty() {
        out.push_str(&format!("{name}: valid, no findings\n"));
    } else {
        let count = |s| findings.iter().filter(|f| f.severity() == s).count();
        let summary: Vec<String> = [
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ]
        .into_iter()
        .filter(|s| count(*s) > 0)
        .map(|s| format!("{} {s}", count(s)))
        .collect();
        out.push_str(&format!(
            "{name}: valid, {} ({})\n",
            plural(findings.len(), "finding"),
            summary.join(", ")
        ));
    }
    out
}

fn render_json(name: &str, errors: &[corsgate::ConfigError], findings: &[Finding]) -> String {
    let errors: Vec<_> = errors
        .iter()
        .map(|e| {
            json!({
                "kind": e.kind().as_str(),
                "key": e.key(),
                "value": e.offending_value(),
                "problem": e.problem(),
                "help": e.fix(),
                "line": e.location().map(|l| l.line),
                "column": e.location().map(|l| l.column),
            })
        })
        .collect();
    let findings: Vec<_> = findings
        .iter()
        .map(|f| {
            json!({
                "severity": f.severity().as_str(),
                "code": f.code(),
                "key": f.key(),
                "message": f.message(),
                "why": f.why(),
                "fix": f.fix(),
                "line": f.location().map(|l| l.line),
                "column": f.location().map(|l| l.column),
            })
        })
        .collect();
    let report = json!({
        "file": name,
        "valid": errors.is_empty(),
        "errors": errors,
        "findings": findings,
    });
    serde_json::to_string_pretty(&report).unwrap_or_default()
}
