//! `corsgate check FILE`: every configuration error with file, line, key
//! and fix; for a valid policy, the security audit. `--env` adds the
//! `CORS_*` environment variables on top, as the proxy does.

use std::process::ExitCode;

use corsgate::audit::{Finding, Severity, audit};
use corsgate::{Config, ConfigError};
use serde::Serialize;

use crate::cli::CheckArgs;
use crate::exit;

pub(crate) fn run(args: &CheckArgs) -> ExitCode {
    let name = match (&args.file, args.env) {
        (Some(file), false) => file.display().to_string(),
        (Some(file), true) => format!("{} + environment", file.display()),
        (None, _) => "environment".to_owned(),
    };
    let loaded = match &args.file {
        Some(file) => Config::from_file(file),
        None => Ok(Config::default()),
    };
    let loaded = loaded.and_then(|mut config| {
        if args.env {
            config.apply_env_vars(Config::env_vars())?;
        }
        Ok(config)
    });
    let (errors, findings) = match loaded {
        Ok(config) => (Vec::new(), audit(&config)),
        Err(errors) => (errors.into_vec(), Vec::new()),
    };
    let report = Report::new(&name, &errors, &findings);
    if args.json {
        exit::print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ));
    } else {
        exit::print(&report.to_string());
    }
    exit::code(if !errors.is_empty() {
        exit::ERRORS
    } else if findings.iter().any(|f| f.severity() >= Severity::Low) {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// What `corsgate check` reports: the JSON of `--json` (a contract for
/// other tools, versioned by `schema`) and, rendered from the same value,
/// the text.
#[derive(Debug, Serialize)]
struct Report<'a> {
    /// The version of this JSON's shape; it changes only when a field is
    /// removed or changes meaning.
    schema: u32,
    file: &'a str,
    valid: bool,
    errors: Vec<ErrorEntry<'a>>,
    findings: Vec<FindingEntry<'a>>,
}

#[derive(Debug, Serialize)]
struct ErrorEntry<'a> {
    kind: &'static str,
    key: &'a str,
    value: Option<&'a str>,
    problem: &'a str,
    help: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    /// Where the line is: the file, or `environment` (with `--env`).
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

#[derive(Debug, Serialize)]
struct FindingEntry<'a> {
    #[serde(serialize_with = "severity_name")]
    severity: Severity,
    code: &'a str,
    key: &'a str,
    message: &'a str,
    why: &'a str,
    fix: &'a str,
    line: Option<usize>,
    column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

impl<'a> Report<'a> {
    const SCHEMA: u32 = 1;

    fn new(file: &'a str, errors: &'a [ConfigError], findings: &'a [Finding]) -> Self {
        Self {
            schema: Self::SCHEMA,
            file,
            valid: errors.is_empty(),
            errors: errors
                .iter()
                .map(|e| ErrorEntry {
                    kind: e.kind().as_str(),
                    key: e.key(),
                    value: e.offending_value(),
                    problem: e.problem(),
                    help: e.fix(),
                    line: e.location().map(|l| l.line),
                    column: e.location().map(|l| l.column),
                    source: e
                        .location()
                        .and_then(|l| l.file.as_ref())
                        .map(|f| f.display().to_string()),
                })
                .collect(),
            findings: findings
                .iter()
                .map(|f| FindingEntry {
                    severity: f.severity(),
                    code: f.code(),
                    key: f.key(),
                    message: f.message(),
                    why: f.why(),
                    fix: f.fix(),
                    line: f.location().map(|l| l.line),
                    column: f.location().map(|l| l.column),
                    source: f
                        .location()
                        .and_then(|l| l.file.as_ref())
                        .map(|f| f.display().to_string()),
                })
                .collect(),
        }
    }

    /// `file:line:column: ` when the entry has a place.
    fn place(&self, line: Option<usize>, column: Option<usize>, source: Option<&str>) -> String {
        match (line, column) {
            (Some(line), Some(column)) => {
                format!("{}:{line}:{column}: ", source.unwrap_or(self.file))
            }
            _ => String::new(),
        }
    }
}

fn severity_name<S: serde::Serializer>(severity: &Severity, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(severity.as_str())
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.errors {
            write!(
                f,
                "{}error: ",
                self.place(e.line, e.column, e.source.as_deref())
            )?;
            if !e.key.is_empty() {
                write!(f, "`{}`: ", e.key)?;
            }
            write!(f, "{}", e.problem)?;
            if let Some(help) = e.help {
                write!(f, "\n  help: {help}")?;
            }
            writeln!(f, "\n")?;
        }
        if !self.errors.is_empty() {
            return writeln!(
                f,
                "{}: invalid, {}",
                self.file,
                plural(self.errors.len(), "error")
            );
        }
        for x in &self.findings {
            writeln!(
                f,
                "{}{}: `{}`: {} [{}]\n  why: {}\n  fix: {}\n",
                self.place(x.line, x.column, x.source.as_deref()),
                x.severity,
                x.key,
                x.message,
                x.code,
                x.why,
                x.fix
            )?;
        }
        if self.findings.is_empty() {
            return writeln!(f, "{}: valid, no findings", self.file);
        }
        let count = |s| self.findings.iter().filter(|x| x.severity == s).count();
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
        writeln!(
            f,
            "{}: valid, {} ({})",
            self.file,
            plural(self.findings.len(), "finding"),
            summary.join(", ")
        )
    }
}
