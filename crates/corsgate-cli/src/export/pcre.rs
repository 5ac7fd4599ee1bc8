//! corsgate's regexes (Rust's `regex`) rewritten for PCRE, the regex engine
//! of nginx and HAProxy: an allowed-origin regex (the whole origin) and a
//! path rule's `urls_regex` (the start of the percent-decoded path).
//!
//! The two engines differ (Unicode classes, `\d` and `\w` are Unicode in
//! Rust, ASCII in PCRE without UTF mode), so the source is not copied: it
//! is parsed with the same parser corsgate uses and written back from the
//! syntax tree, each class spelled out.
//! - An `Origin` is compared with the regexes only once it is a valid
//!   serialized origin, which is ASCII, so an origin regex's classes keep
//!   only their ASCII members.
//! - A path is any bytes (percent-decoding can make any), matched by
//!   corsgate as bytes, a Unicode class matching the UTF-8 encoding of its
//!   members: a path regex's classes become those byte sequences, which
//!   PCRE (without UTF mode, as both servers run it) matches byte by byte.

use std::fmt::Write as _;

use regex_syntax::hir::{Class, Hir, HirKind, Look};
use regex_syntax::utf8::Utf8Sequences;

/// Why a regex cannot be written for PCRE exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Untranslatable(pub(crate) String);

/// What the regex is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    /// A valid serialized origin: ASCII.
    Origin,
    /// A percent-decoded path: any bytes.
    Path,
}

/// The regex `source`, anchored to match a whole origin, in PCRE syntax
/// (`\A…\z`).
pub(crate) fn whole_origin(source: &str) -> Result<String, Untranslatable> {
    let hir = parse(source, true)?;
    let mut out = String::from(r"\A(?:");
    write(&hir, Subject::Origin, &mut out)?;
    out.push_str(r")\z");
    Ok(out)
}

/// A `urls_regex`, anchored at the start of the path only (as django's
/// `re.match`), in PCRE syntax (`\A…`), over the percent-decoded bytes.
pub(crate) fn path_prefix(source: &str) -> Result<String, Untranslatable> {
    // As the library parses it: a path regex may match any bytes.
    let hir = parse(source, false)?;
    let mut out = String::from(r"\A(?:");
    write(&hir, Subject::Path, &mut out)?;
    out.push(')');
    Ok(out)
}

fn parse(source: &str, utf8: bool) -> Result<Hir, Untranslatable> {
    regex_syntax::ParserBuilder::new()
        .utf8(utf8)
        .build()
        .parse(source)
        .map_err(|e| Untranslatable(format!("it does not parse: {e}")))
}

fn write(hir: &Hir, subject: Subject, out: &mut String) -> Result<(), Untranslatable> {
    match hir.kind() {
        HirKind::Empty => out.push_str("(?:)"),
        HirKind::Literal(literal) => {
            for &byte in literal.0.iter() {
                byte_literal(byte, out);
            }
        }
        HirKind::Class(class) => match subject {
            Subject::Origin => write_class(class, out),
            Subject::Path => write_byte_class(class, out),
        },
        HirKind::Look(look) => out.push_str(match look {
            Look::Start => r"\A",
            Look::End => r"\z",
            Look::StartLF => "(?m:^)",
            Look::EndLF => "(?m:$)",
            // On ASCII text (an origin) Unicode and ASCII word boundaries
            // agree; on a path's bytes only the ASCII ones have a PCRE twin.
            Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode
                if subject == Subject::Path =>
            {
                return Err(Untranslatable(
                    "it uses a Unicode word boundary (`\\b`), which PCRE cannot match on a path's bytes; write `(?-u:\\b)` for an ASCII one".into(),
                ));
            }
            Look::WordAscii | Look::WordUnicode => r"\b",
            Look::WordAsciiNegate | Look::WordUnicodeNegate => r"\B",
            Look::WordStartAscii | Look::WordStartUnicode => r"\b(?=\w)",
            Look::WordEndAscii | Look::WordEndUnicode => r"\b(?<=\w)",
            Look::WordStartHalfAscii | Look::WordStartHalfUnicode => r"(?<!\w)",
            Look::WordEndHalfAscii | Look::WordEndHalfUnicode => r"(?!\w)",
            Look::StartCRLF | Look::EndCRLF => {
                return Err(Untranslatable(
                    "it uses CRLF-aware line anchors (`(?R)`), which PCRE has no equivalent of"
                        .into(),
                ));
            }
        }),
        HirKind::Repetition(rep) => {
            out.push_str("(?:");
            write(&rep.sub, subject, out)?;
            out.push(')');
            match (rep.min, rep.max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (min, None) => {
                    let _ = write!(out, "{{{min},}}");
                }
                (min, Some(max)) if min == max => {
                    let _ = write!(out, "{{{min}}}");
                }
                (min, Some(max)) => {
                    let _ = write!(out, "{{{min},{max}}}");
                }
            }
            if !rep.greedy {
                out.push('?');
            }
        }
        HirKind::Capture(capture) => {
            out.push_str("(?:");
            write(&capture.sub, subject, out)?;
            out.push(')');
        }
        HirKind::Concat(parts) => {
            for part in parts {
                write(part, subject, out)?;
            }
        }
        HirKind::Alternation(branches) => {
            out.push_str("(?:");
            for (i, branch) in branches.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                write(branch, subject, out)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

/// A byte, literally: letters and digits as themselves, the rest escaped.
fn byte_literal(byte: u8, out: &mut String) {
    if byte.is_ascii_alphanumeric() {
        out.push(char::from(byte));
    } else {
        let _ = write!(out, r"\x{byte:02x}");
    }
}

/// A class with only its ASCII members, every range spelled out; one that
/// has none can never match an origin.
fn write_class(class: &Class, out: &mut String) {
    let ranges: Vec<(u8, u8)> = match class {
        Class::Unicode(unicode) => unicode
            .iter()
            .filter(|r| u32::from(r.start()) < 0x80)
            .map(|r| {
                let end = u32::from(r.end()).min(0x7f);
                (r.start() as u8, end as u8)
            })
            .collect(),
        Class::Bytes(bytes) => bytes
            .iter()
            .filter(|r| r.start() < 0x80)
            .map(|r| (r.start(), r.end().min(0x7f)))
            .collect(),
    };
    if ranges.is_empty() {
        out.push_str("(?!)");
        return;
    }
    out.push('[');
    for (start, end) in ranges {
        let _ = write!(out, r"\x{start:02x}");
        if end != start {
            let _ = write!(out, r"-\x{end:02x}");
        }
    }
    out.push(']');
}

/// A class over bytes: a byte class as it is; a Unicode class as the UTF-8
/// encodings of its members, each a sequence of byte ranges.
fn write_byte_class(class: &Class, out: &mut String) {
    let byte_range = |out: &mut String, start: u8, end: u8| {
        out.push('[');
        let _ = write!(out, r"\x{start:02x}");
        if end != start {
            let _ = write!(out, r"-\x{end:02x}");
        }
        out.push(']');
    };
    match class {
        Class::Bytes(bytes) => {
            if bytes.ranges().is_empty() {
                out.push_str("(?!)");
                return;
            }
            out.push('[');
            for r in bytes.iter() {
                let _ = write!(out, r"\x{:02x}", r.start());
                if r.end() != r.start() {
                    let _ = write!(out, r"-\x{:02x}", r.end());
                }
            }
            out.push(']');
        }
        Class::Unicode(unicode) => {
            let mut branches = Vec::new();
            for range in unicode.iter() {
                for sequence in Utf8Sequences::new(range.start(), range.end()) {
                    let mut branch = String::new();
                    for r in sequence.as_slice() {
                        byte_range(&mut branch, r.start, r.end);
                    }
                    branches.push(branch);
                }
            }
            if branches.is_empty() {
                out.push_str("(?!)");
            } else {
                out.push_str("(?:");
                out.push_str(&branches.join("|"));
                out.push(')');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_keep_their_ascii_members_spelled_out() {
        assert_eq!(
            whole_origin(r"^https://\w+\.example\.com$").unwrap(),
            r"\A(?:\Ahttps\x3a\x2f\x2f(?:[\x30-\x39\x41-\x5a\x5f\x61-\x7a])+\x2eexample\x2ecom\z)\z"
        );
        // A class of only non-ASCII members never matches an origin.
        assert_eq!(whole_origin("é|a").unwrap(), r"\A(?:[\x61])\z");
        assert_eq!(whole_origin(r"\p{Greek}").unwrap(), r"\A(?:(?!))\z");
    }

    #[test]
    fn repetitions_alternations_and_laziness_are_kept() {
        assert_eq!(
            whole_origin("(a|b){2,3}c{4}d*?e{1,}").unwrap(),
            r"\A(?:(?:(?:[\x61-\x62])){2,3}(?:c){4}(?:d)*?(?:e)+)\z"
        );
        assert_eq!(
            whole_origin("(?i)ab").unwrap(),
            r"\A(?:[\x41\x61][\x42\x62])\z"
        );
    }

    #[test]
    fn a_path_regex_matches_bytes_from_the_start() {
        assert_eq!(path_prefix("^/api/").unwrap(), r"\A(?:\A\x2fapi\x2f)");
        // A Unicode class: the UTF-8 encodings of its members.
        assert_eq!(
            path_prefix("é|[à-á]").unwrap(),
            r"\A(?:(?:\xc3\xa9|(?:[\xc3][\xa0-\xa1])))"
        );
        // `.` is any scalar but `\n`, as UTF-8 byte sequences.
        assert!(
            path_prefix("^/a.b")
                .unwrap()
                .contains(r"[\xf4][\x80-\x8f][\x80-\xbf][\x80-\xbf]")
        );
        // Bytes (`(?-u)`) stay bytes; an ASCII word boundary is kept.
        assert_eq!(path_prefix(r"(?-u)\xff\b").unwrap(), r"\A(?:\xff\b)");
        let refused = path_prefix(r"^/a\b").unwrap_err();
        assert!(refused.0.contains("Unicode word boundary"), "{refused:?}");
    }

    #[test]
    fn what_pcre_cannot_say_is_refused_with_a_reason() {
        let refused = whole_origin("(?Rm)^a$").unwrap_err();
        assert!(refused.0.contains("CRLF"), "{refused:?}");
        assert!(whole_origin("(").unwrap_err().0.contains("does not parse"));
        // Plain multi-line anchors have one.
        assert_eq!(whole_origin("(?m)^a$").unwrap(), r"\A(?:(?m:^)a(?m:$))\z");
    }
}
