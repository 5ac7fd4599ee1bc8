//! The documentation's examples are true: every JSON, TOML and Python
//! (settings.py) block in `docs/configuration.md` and `README.md` loads and
//! compiles.

use std::path::Path;

fn blocks(file: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let lang = line.trim_start().strip_prefix("```").map(str::trim);
        if let Some(lang @ ("json" | "toml" | "python")) = lang {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| l.trim_start() != "```")
                .collect();
            out.push((lang.to_owned(), body.join("\n")));
        }
    }
    out
}

fn check(file: &str) {
    let found = blocks(file);
    assert!(!found.is_empty(), "{file} has no json/toml examples");
    for (lang, body) in found {
        let result = match lang.as_str() {
            "json" => corsgate::Policy::from_json_str(&body),
            "python" => corsgate::Config::from_python_str(&body).and_then(|c| c.compile()),
            _ => corsgate::Policy::from_toml_str(&body),
        };
        if let Err(errors) = result {
            panic!("{file}: a {lang} example does not load:\n{body}\n---\n{errors}");
        }
    }
}

#[test]
fn configuration_guide_examples_load() {
    check("docs/configuration.md");
}

#[test]
fn readme_examples_load() {
    check("README.md");
}
