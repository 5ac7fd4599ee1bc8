//! User regexes (`allowed_origin_regexes`, `urls_regex`), validated on their
//! own and anchored structurally.
//!
//! A pattern is parsed alone into a syntax tree; the anchors are then added
//! as nodes of that tree, never by pasting the pattern into `^(?:…)$` as
//! text. Pasted text can change meaning: a user's `)` closes the wrapper
//! (`good\.example)|(.*` matched every origin), and a verbose-mode `#`
//! comments the wrapper's end away. A tree cannot: whatever the pattern
//! says, it is matched from the start (and, for origins, to the end).

use regex_automata::meta;
use regex_syntax::hir::{Hir, Look};

/// The longest pattern accepted, in bytes. A legitimate origin or path
/// regex is a few hundred bytes; a 30 MB one took 19 s to reject.
pub const MAX_REGEX_BYTES: usize = 16 * 1024;

/// Parenthesis nesting accepted in one pattern (the `regex` crate's default).
const NEST_LIMIT: u32 = 250;

/// The most memory one compiled set of patterns may take (the `regex`
/// crate's default size limit): a short pattern like `(\w{100}){100}`
/// expands past it and is refused with a normal error.
const SIZE_LIMIT: usize = 10 * (1 << 20);

/// What the compiled regex must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// From the start of the text, like Python's `re.match` (`urls_regex`).
    Start,
    /// The whole text (`allowed_origin_regexes`; django anchors only the
    /// start, a documented deviation).
    Whole,
}

/// One or more patterns, anchored, compiled into one matcher: it matches
/// when any of them does.
#[derive(Debug, Clone)]
pub(crate) struct AnchoredRegex(meta::Regex);

impl AnchoredRegex {
    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        self.0.is_match(text)
    }
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegexProblem {
    /// Longer than [`MAX_REGEX_BYTES`].
    TooLong(usize),
    /// Not a valid regex on its own (the parser's message).
    Syntax(String),
    /// Valid, but compiles larger than the size limit.
    TooLarge,
}

/// Parses one pattern on its own. `Anchor::Start` patterns match bytes (a
/// path may hold any byte once percent-decoded), like `regex::bytes`.
pub(crate) fn parse(pattern: &str, anchor: Anchor) -> Result<Hir, RegexProblem> {
    if pattern.len() > MAX_REGEX_BYTES {
        return Err(RegexProblem::TooLong(pattern.len()));
    }
    regex_syntax::ParserBuilder::new()
        .nest_limit(NEST_LIMIT)
        .utf8(anchor == Anchor::Whole)
        .build()
        .parse(pattern)
        .map_err(|err| RegexProblem::Syntax(syntax_detail(&err.to_string())))
}

/// Anchors each parsed pattern and compiles them together.
pub(crate) fn compile(patterns: Vec<Hir>, anchor: Anchor) -> Result<AnchoredRegex, RegexProblem> {
    let anchored: Vec<Hir> = patterns
        .into_iter()
        .map(|hir| {
            let mut parts = vec![Hir::look(Look::Start), hir];
            if anchor == Anchor::Whole {
                parts.push(Hir::look(Look::End));
            }
            Hir::concat(parts)
        })
        .collect();
    // (`utf8_empty` is left at its default: every match starts at the
    // anchored start, so an empty match is at offset 0, never inside a
    // UTF-8 sequence, and the setting cannot change a result.)
    let config = meta::Config::new().nfa_size_limit(Some(SIZE_LIMIT));
    meta::Builder::new()
        .configure(config)
        .build_many_from_hir(&anchored)
        .map(AnchoredRegex)
        .map_err(|err| {
            if err.size_limit().is_some() {
                RegexProblem::TooLarge
            } else {
                RegexProblem::Syntax(err.to_string())
            }
        })
}

/// The parser's message without its drawing of the pattern: the lines that
/// start with `error:`.
fn syntax_detail(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim())
        .collect();
    if lines.is_empty() {
        text.trim().to_owned()
    } else {
        lines.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(patterns: &[&str]) -> AnchoredRegex {
        let hirs = patterns
            .iter()
            .map(|p| parse(p, Anchor::Whole).unwrap())
            .collect();
        compile(hirs, Anchor::Whole).unwrap()
    }

    #[test]
    fn every_pattern_of_a_set_matches_the_whole_text_only() {
        let set = whole(&[
            r"https://a\.example|https://b\.example",
            r"http://c\.example",
        ]);
        for yes in ["https://a.example", "https://b.example", "http://c.example"] {
            assert!(set.is_match(yes.as_bytes()), "{yes}");
        }
        for no in [
            "https://a.example.evil",
            "xhttps://b.example",
            "http://c.example\n",
            "",
        ] {
            assert!(!set.is_match(no.as_bytes()), "{no:?}");
        }
    }

    #[test]
    fn a_start_anchor_allows_any_rest_but_no_prefix() {
        let hir = parse("/api/", Anchor::Start).unwrap();
        let scope = compile(vec![hir], Anchor::Start).unwrap();
        assert!(scope.is_match(b"/api/users"));
        assert!(!scope.is_match(b"/v1/api/"));
    }

    #[test]
    fn a_bytes_pattern_may_match_invalid_utf8_in_a_path() {
        let hir = parse(r"(?-u:\xFF)", Anchor::Start).unwrap();
        let scope = compile(vec![hir], Anchor::Start).unwrap();
        assert!(scope.is_match(b"\xFF/x"));
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            parse(&"a".repeat(MAX_REGEX_BYTES + 1), Anchor::Whole),
            Err(RegexProblem::TooLong(MAX_REGEX_BYTES + 1))
        );
        // The limits as documented, written out (not the constants), so a
        // changed limit fails here.
        assert!(parse(&"a".repeat(16_384), Anchor::Whole).is_ok());
        assert!(parse(&"a".repeat(16_385), Anchor::Whole).is_err());
        assert_eq!(
            parse("a)|(b", Anchor::Whole),
            Err(RegexProblem::Syntax("unopened group".into()))
        );
        // `\w{100}` takes a few MiB (Unicode classes are large): inside the
        // 10 MiB limit, which the short `(\w{100}){100}` is not.
        let some_mib = parse(r"\w{100}", Anchor::Whole).unwrap();
        assert!(compile(vec![some_mib], Anchor::Whole).is_ok());
        let big = parse(r"(\w{100}){100}", Anchor::Whole).unwrap();
        assert_eq!(
            compile(vec![big], Anchor::Whole).map(|_| ()),
            Err(RegexProblem::TooLarge)
        );
    }
}
