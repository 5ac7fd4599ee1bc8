//! The README's quick starts work as a newcomer follows them: each shell
//! block that starts a project (`cargo new myapi`) is run as written (the
//! checkout's path put in for `/path/to/corsgate`), the Rust block after it
//! is pasted into `src/main.rs` as written, and the project must build.
//!
//! It builds real projects against crates.io (in `target/readme-projects`,
//! shared between runs): the first run takes a few minutes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A quick start: the commands and the `src/main.rs` after them.
struct QuickStart {
    commands: String,
    main_rs: String,
}

fn quick_starts(readme: &str) -> Vec<QuickStart> {
    let mut found = Vec::new();
    let mut pending: Option<String> = None;
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else {
            continue;
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let body = body.join("\n") + "\n";
        if lang == "sh" && body.starts_with("cargo new myapi") {
            pending = Some(body);
        } else if lang.starts_with("rust")
            && let Some(commands) = pending.take()
        {
            found.push(QuickStart {
                commands,
                main_rs: body,
            });
        }
    }
    found
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn readme_quick_starts_build_in_new_projects() {
    let root = root().canonicalize().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let starts = quick_starts(&readme);
    // The axum and the actix-web quick starts.
    assert_eq!(starts.len(), 2, "the README's quick starts were not found");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = root.join("target/readme-projects");
    for (i, start) in starts.iter().enumerate() {
        assert!(
            !start.main_rs.lines().any(|l| l.starts_with("# ")),
            "a pasted block must not rely on rustdoc's hidden lines:\n{}",
            start.main_rs
        );
        let dir = std::env::temp_dir().join(format!("corsgate-readme-{}-{i}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let commands = start.commands.replace(
            "/path/to/corsgate",
            root.to_str().expect("a UTF-8 path to the checkout"),
        );
        // `cargo` in the commands is the toolchain running this test.
        let path = format!(
            "{}:{}",
            Path::new(&cargo)
                .parent()
                .map_or_else(String::new, |p| p.display().to_string()),
            std::env::var("PATH").unwrap_or_default()
        );
        let shell = Command::new("sh")
            .args(["-ec", &commands])
            .current_dir(&dir)
            .env("PATH", path)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap();
        assert!(
            shell.status.success(),
            "the README's commands failed:\n{commands}\n{}",
            String::from_utf8_lossy(&shell.stderr)
        );
        let project = dir.join("myapi");
        std::fs::write(project.join("src/main.rs"), &start.main_rs).unwrap();
        let build = Command::new(&cargo)
            .args(["build", "--quiet"])
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "the README's quick start does not build as pasted:\n{commands}\n{}\n{}",
            start.main_rs,
            String::from_utf8_lossy(&build.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
