//! `corsgate check`: snapshots of its output for good, invalid and risky
//! files, and its exit codes.

use crate::support::{TempDir, run};

/// Runs `check` on a file named `name` with `text`; the file's folder is
/// replaced by `DIR` so snapshots do not depend on the machine.
fn check(name: &str, text: &str, json: bool) -> (i32, String) {
    let dir = TempDir::new("check");
    let path = dir.write(name, text);
    let path = path.to_str().unwrap();
    let mut args = vec!["check", path];
    if json {
        args.insert(1, "--json");
    }
    let (code, stdout, stderr) = run(&args);
    assert_eq!(stderr, "", "check prints its report on stdout");
    (code, stdout.replace(dir.path().to_str().unwrap(), "DIR"))
}

#[test]
fn a_good_file_is_clean() {
    let (code, out) = check(
        "good.toml",
        r#"allowed_origins = ["https://app.example.com", "http://127.0.0.1:5000"]
allow_credentials = true
expose_headers = ["x-total-count"]
"#,
        false,
    );
    assert_eq!(code, 0);
    insta::assert_snapshot!(out);
}

/// A Django settings.py as it is: the example is clean, and a run-time
/// value is an error at its line, the literal settings still checked.
#[test]
fn a_settings_py_is_checked_as_written() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/settings.py");
    let (code, stdout, stderr) = run(&["check", example]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.ends_with("settings.py: valid, no findings\n"),
        "{stdout}"
    );

    let (code, out) = check(
        "settings.py",
        "import os\nDEBUG = os.environ.get('DEBUG') == '1'\nCORS_ALLOWED_ORIGINS = env.list('ORIGINS')\nif DEBUG:\n    CORS_ALLOW_ALL_ORIGINS = True\nCORS_ALLOW_METHODS = ['GET', 'PUT ']\n",
        false,
    );
    assert_eq!(code, 1, "{out}");
    for expected in [
        "settings.py:3:24: error: `CORS_ALLOWED_ORIGINS`: reads the environment",
        "settings.py:5:5: error: `CORS_ALLOW_ALL_ORIGINS`: is set inside a block",
        "settings.py:6:30: error: `CORS_ALLOW_METHODS[1]`: `PUT ` is not a valid HTTP method",
    ] {
        assert!(out.contains(expected), "{expected}\n---\n{out}");
    }
}

/// `check --env` reads the CORS_* variables as the proxy does, alone or
/// on top of a file; its places say `environment`.
#[test]
fn check_env_reads_the_environment_as_the_proxy_does() {
    let run_env = |env: &[(&str, &str)], args: &[&str]| {
        let output = std::process::Command::new(crate::support::BIN)
            .arg("check")
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, out) = run_env(&[("CORS_ALLOWED_ORIGINS", "https://a.example")], &["--env"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "environment: valid, no findings\n")
    );
    let (code, out) = run_env(
        &[("CORS_ALLOWED_ORIGINS", "https://a.example,null")],
        &["--env", "--json"],
    );
    assert_eq!(code, Some(3), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["file"], "environment");
    assert_eq!(json["findings"][0]["key"], "$CORS_ALLOWED_ORIGINS[1]");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/settings.py");
    let (code, out) = run_env(&[("CORS_PREFLIGHT_MAX_AGE", "1h")], &[example, "--env"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("environment:1:24: error: `CORS_PREFLIGHT_MAX_AGE`"),
        "{out}"
    );
    assert!(
        out.contains("settings.py + environment: invalid, 1 error"),
        "{out}"
    );
    // The configuration guide's example, as written.
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    let section = &guide[guide.find("## Environment variables").unwrap()..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    let vars: Vec<(&str, String)> = block
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| {
            // Single quotes as the shell reads them.
            (name, value.trim_matches('\'').to_owned())
        })
        .collect();
    assert_eq!(vars.len(), 5, "{block}");
    let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (code, out) = run_env(&vars, &["--env"]);
    assert_eq!(code, Some(0), "{out}");
    // Without --env the environment is not read.
    let (code, _) = run_env(&[("CORS_PREFLIGHT_MAX_AGE", "1h")], &[example]);
    assert_eq!(code, Some(0));
}

#[test]
fn an_invalid_django_file_lists_every_error() {
    let (code, out) = check(
        "settings.json",
        r#"{
  "CORS_ALLOWED_ORIGINS": ["127.0.0.1:5000", "https://app.example.com/"],
  "CORS_ALLOW_CREDENTIALS": "True",
  "CORS_ALLOWED_ORIGIN_REGEXES": ["^https://(?!evil)\\w+\\.example\\.com$"],
  "CORS_PREFLIGHT_MAX_AGE": -5,
  "CORS_ALLOW_HEADER": ["x-api-key"],
  "CORS_MODEL": "app.Origin"
}
"#,
        false,
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn a_risky_file_gets_findings_with_severity() {
    // The README's example file, as a user runs it.
    let (code, out) = check(
        "risky.toml",
        include_str!("../../../../examples/risky.toml"),
        false,
    );
    assert_eq!(code, 3);
    insta::assert_snapshot!(out);
}

#[test]
fn json_output_for_machines() {
    let (code, out) = check(
        "risky.json",
        r#"{"CORS_ALLOW_ALL_ORIGINS": true, "CORS_ALLOW_CREDENTIALS": true}"#,
        true,
    );
    assert_eq!(code, 3);
    insta::assert_snapshot!(out);
    let (code, out) = check(
        "bad.json",
        r#"{"CORS_ALLOWED_ORIGINS": "https://a.example"}"#,
        true,
    );
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"][0]["kind"], "wrong-type");
    assert_eq!(report["errors"][0]["line"], 1);
}

#[test]
fn info_findings_alone_exit_0() {
    let (code, out) = check(
        "info.toml",
        "allowed_origins = [\"https://*.example.com\"]\n",
        false,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("info: `allowed_origins[0]`"), "{out}");
}

#[test]
fn a_missing_file_is_an_error() {
    let (code, stdout, _) = run(&["check", "/nonexistent/cors.toml"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("error: cannot read `/nonexistent/cors.toml`"),
        "{stdout}"
    );
}

#[test]
fn proxy_help_names_the_flags() {
    let (code, stdout, _) = run(&["proxy", "--help"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(stdout);
}

/// On a narrow terminal clap wraps its own text, never the examples: each
/// stays one pasteable command (issue #14).
#[test]
fn help_examples_never_wrap() {
    for (command, example) in [
        (
            "proxy",
            "  corsgate proxy --upstream http://127.0.0.1:8000 --listen 127.0.0.1:8080 \\\n                 --allow-origin http://127.0.0.1:5000\n",
        ),
        (
            "doctor",
            "  corsgate doctor http://127.0.0.1:8000/items/1 --origin http://127.0.0.1:5000 --method PUT \\\n",
        ),
        (
            "demo",
            "  corsgate demo                      # then open http://127.0.0.1:5000/\n",
        ),
        ("check", "  corsgate check --json cors.toml\n"),
    ] {
        for help in [
            vec![command, "--help"],
            vec!["help", command],
            vec![command, "-h"],
        ] {
            let output = std::process::Command::new(crate::support::BIN)
                .args(&help)
                .env("COLUMNS", "40")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(output.status.code(), Some(0));
            assert!(stdout.contains(example), "{help:?}:\n{stdout}");
        }
    }
}

#[test]
fn help_mentions_the_exit_codes() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(stdout);
    // The README shows the same table, word for word.
    let table = &stdout[stdout.find("Exit codes:").expect("a table")..];
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    assert!(
        readme.contains(table.trim_end()),
        "README.md must show:\n{table}"
    );
}

#[test]
fn each_exit_code_has_one_meaning() {
    // 2: invalid arguments, whichever command.
    assert_eq!(run(&["check"]).0, 2);
    assert_eq!(run(&["check", "--no-such-flag", "x"]).0, 2);
    // 1: errors; 3: valid with findings (tested above); 0: clean.
    assert_eq!(check("bad.toml", "allowed_origins = \"x\"\n", false).0, 1);
}

#[test]
fn report_only_is_reported_as_info_and_does_not_fail() {
    let dir = TempDir::new("check-report-only");
    let file = dir.write(
        "cors.toml",
        "allowed_origins = [\"https://a.example\"]\nreport_only = true\n",
    );
    let (code, out, err) = run(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(":2:15: info: `report_only`: report-only mode"),
        "{out}"
    );
}

// Issue #11: the anchoring escape was accepted with a "low" finding.
#[test]
fn issue_11_a_regex_that_closes_its_anchor_is_an_error() {
    let (code, out) = check(
        "escape.toml",
        "allowed_origin_regexes = ['https://good\\.example)|(.*']\nallow_credentials = true\n",
        false,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unopened group"), "{out}");
    let (code, out) = check("scope.toml", "urls_regex = '/api/)|(.*'\n", false);
    assert_eq!(code, 1, "{out}");
}

// Issue #11: 10,000 levels of JSON made `check` die with a stack overflow (exit 134).
#[test]
fn issue_11_deep_nesting_is_reported_not_a_crash() {
    let text = format!(
        "{{\"allowed_origins\": {}1{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (code, out) = check("deep.json", &text, false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nested more than 32 levels deep"), "{out}");
}

// Issue #11: values from an untrusted file reached the terminal raw.
#[test]
fn issue_11_control_bytes_in_findings_are_escaped() {
    let (code, out) = check(
        "findings.json",
        r#"{"allowed_origin_regexes": ["https?://\u001b\u0007app\\.example\\.com$"]}"#,
        false,
    );
    assert_eq!(code, 3, "{out}");
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    assert!(out.contains("\\u{1b}"), "{out}");
}

// Issue #14: `corsgate check --json f | head` panicked on the broken pipe.
#[test]
fn issue_14_a_closed_stdout_is_not_a_panic() {
    let dir = TempDir::new("pipe");
    let path = dir.write(
        "risky.json",
        r#"{"CORS_ALLOW_ALL_ORIGINS": true, "CORS_ALLOW_CREDENTIALS": true}"#,
    );
    for args in ["check --json", "check"] {
        // `true` reads nothing and exits: the report meets a closed pipe.
        let script = format!("\"$0\" {args} \"$1\" | true; echo \"${{PIPESTATUS[0]}}\"");
        for _ in 0..3 {
            let output = std::process::Command::new("bash")
                .args(["-c", &script, crate::support::BIN, path.to_str().unwrap()])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!stderr.contains("panicked"), "{args}: {stderr}");
            let code = String::from_utf8_lossy(&output.stdout);
            assert_eq!(code.trim(), "3", "{args}: the exit code is the report's");
        }
    }
}

// Issue #14: `corsgate proxy --version` was an error.
#[test]
fn issue_14_every_subcommand_has_version() {
    for sub in ["proxy", "check", "doctor", "demo"] {
        let (code, out, err) = run(&[sub, "--version"]);
        assert_eq!(code, 0, "{sub}: {err}");
        assert!(out.contains(env!("CARGO_PKG_VERSION")), "{sub}: {out}");
    }
}
