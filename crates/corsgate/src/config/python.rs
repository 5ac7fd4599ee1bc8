//! Reading a Django `settings.py`: its top-level `CORS_*` assignments,
//! whose values must be Python literals — strings (raw, implicitly
//! concatenated), numbers, `True`/`False`/`None`, lists, tuples, dicts,
//! `*default_headers` / `*default_methods` from `corsheaders.defaults`,
//! `+` between sequences and `list(…)`/`tuple(…)` of one. Everything else
//! in the file (imports, `DATABASES`, `os.environ`, functions) is skipped
//! unread; a `CORS_*` value computed at run time is reported at its line.
//!
//! No Python crate is used: the ecosystem's parsers are whole-language
//! front ends (hundreds of kB of generated code), and this needs only
//! Python's tokenizer rules (strings, comments, brackets, continuations)
//! and a literal evaluator.

use std::ops::Range;

use super::file::{Node, Value};
use super::{DEFAULT_HEADERS, DEFAULT_METHODS, MAX_CONFIG_DEPTH};

/// A `CORS_*` setting whose value corsgate cannot read: where, what, and
/// how to fix it.
#[derive(Debug)]
pub(super) struct Problem {
    pub(super) offset: usize,
    pub(super) key: String,
    pub(super) message: String,
    pub(super) help: &'static str,
}

const FIX_DYNAMIC: &str = "write the value out as a literal (a list of strings, `True`, a number), or give corsgate the settings in a TOML or JSON file, or in the environment";

/// The `CORS_*` settings of a settings.py as a table (the last assignment
/// of a name wins, as in Python), and the ones that could not be read.
///
/// # Errors
/// The file does not tokenize as Python (an unclosed string or bracket),
/// or nests brackets deeper than [`MAX_CONFIG_DEPTH`]: the offset and why.
pub(super) fn parse(text: &str) -> Result<(Node, Vec<Problem>), (usize, String)> {
    let statements = statements(text)?;
    let mut entries: Vec<(String, Node)> = Vec::new();
    let mut problems = Vec::new();
    for statement in statements {
        let Some(Token {
            kind: Kind::Name(name),
            span,
        }) = statement.tokens.first()
        else {
            continue;
        };
        if !name.starts_with("CORS_") {
            continue;
        }
        let problem = |offset: usize, message: String| Problem {
            offset,
            key: name.clone(),
            message,
            help: FIX_DYNAMIC,
        };
        if statement.indented {
            problems.push(Problem {
                help: "set it at the top level of settings.py (a value inside `if`, `for` or a function depends on run time), or give corsgate a TOML or JSON file",
                ..problem(span.start, "is set inside a block (`if`, `for`, `def`, …), so its value depends on run time".into())
            });
            continue;
        }
        let tokens = &statement.tokens[1..];
        // `NAME = value` or `NAME: type = value`.
        let value_at = match tokens.first().map(|t| &t.kind) {
            Some(Kind::Op("=")) => Some(1),
            Some(Kind::Op(":")) => tokens
                .iter()
                .position(|t| t.kind == Kind::Op("="))
                .map(|i| i + 1),
            _ => None,
        };
        let Some(value_at) = value_at else {
            let at = tokens.first().map_or(span.end, |t| t.span.start);
            problems.push(problem(
                at,
                "is changed after it is set (`+=`, `.append`, …): corsgate reads only a plain `NAME = value`".into(),
            ));
            continue;
        };
        let value = &tokens[value_at..];
        // An `=` outside brackets; one inside is a keyword argument
        // (`re.compile(p, flags=re.I)`).
        let mut depth = 0usize;
        let chained = value.iter().any(|t| {
            match t.kind {
                Kind::Op("(" | "[" | "{") => depth += 1,
                Kind::Op(")" | "]" | "}") => depth = depth.saturating_sub(1),
                _ => {}
            }
            depth == 0 && t.kind == Kind::Op("=")
        });
        if chained {
            problems.push(problem(
                span.start,
                "is set in a chained assignment: write `NAME = value` on its own line".into(),
            ));
            continue;
        }
        let mut parser = Parser {
            tokens: value,
            at: 0,
            after: tokens[value_at - 1].span.end,
        };
        match parser
            .expression()
            .and_then(|node| parser.end().map(|()| node))
        {
            Ok(node) => {
                entries.retain(|(key, _)| key != name);
                entries.push((name.clone(), node));
            }
            Err((offset, message)) => problems.push(problem(offset, message)),
        }
    }
    let root = Node {
        span: 0..text.len(),
        value: Value::Table(entries),
    };
    Ok((root, problems))
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Name(String),
    /// A string literal's value; for bytes and f-strings (not literal
    /// text), why not.
    Str(Result<String, &'static str>),
    Number(String),
    Op(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    span: Range<usize>,
}

/// One logical line: its tokens, and whether it starts indented.
#[derive(Debug)]
struct Statement {
    tokens: Vec<Token>,
    indented: bool,
}

/// The operators the evaluator knows, and the rest (only ever reported).
const OPS: [&str; 25] = [
    "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", ":=", "->", "(", ")", "[", "]",
    "{", "}", ",", ":", "=", "+", "-", "*", ".",
];

/// Splits the text into logical lines of tokens, as Python's tokenizer
/// does: a newline inside brackets or after `\` continues the line; `;`
/// ends a statement; comments are dropped.
fn statements(text: &str) -> Result<Vec<Statement>, (usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();
    let mut indented = false;
    let mut line_start = true;
    let mut depth = 0usize;
    let mut i = 0;
    let finish = |tokens: &mut Vec<Token>, out: &mut Vec<Statement>, indented: bool| {
        if !tokens.is_empty() {
            out.push(Statement {
                tokens: std::mem::take(tokens),
                indented,
            });
        }
    };
    while i < bytes.len() {
        let c = bytes[i];
        if line_start && depth == 0 {
            // The indentation of a new logical line.
            let start = i;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\x0c') {
                i += 1;
            }
            indented = i > start;
            line_start = false;
            continue;
        }
        match c {
            b'\n' => {
                if depth == 0 {
                    finish(&mut tokens, &mut out, indented);
                    line_start = true;
                }
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\\' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'\\' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            b';' if depth == 0 => {
                finish(&mut tokens, &mut out, indented);
                i += 1;
            }
            b'\'' | b'"' => {
                let (end, kind) = string(text, i, "")?;
                tokens.push(Token { kind, span: i..end });
                i = end;
            }
            b'0'..=b'9' => {
                let end = number_end(bytes, i);
                tokens.push(Token {
                    kind: Kind::Number(text[i..end].to_owned()),
                    span: i..end,
                });
                i = end;
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let end = number_end(bytes, i);
                tokens.push(Token {
                    kind: Kind::Number(text[i..end].to_owned()),
                    span: i..end,
                });
                i = end;
            }
            _ if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric() || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                let word = &text[start..i];
                let prefix = word.to_ascii_lowercase();
                if matches!(bytes.get(i), Some(b'\'' | b'"'))
                    && matches!(
                        prefix.as_str(),
                        "r" | "u" | "b" | "f" | "br" | "rb" | "fr" | "rf"
                    )
                {
                    let (end, kind) = string(text, i, &prefix)?;
                    tokens.push(Token {
                        kind,
                        span: start..end,
                    });
                    i = end;
                } else {
                    tokens.push(Token {
                        kind: Kind::Name(word.to_owned()),
                        span: start..i,
                    });
                }
            }
            _ => {
                let rest = &text[i..];
                let op = OPS.iter().find(|op| rest.starts_with(**op)).copied();
                let len =
                    op.map_or_else(|| rest.chars().next().map_or(1, char::len_utf8), str::len);
                match op {
                    Some("(" | "[" | "{") => {
                        depth += 1;
                        if depth > MAX_CONFIG_DEPTH {
                            return Err((
                                i,
                                format!(
                                    "brackets are nested more than {MAX_CONFIG_DEPTH} levels deep"
                                ),
                            ));
                        }
                    }
                    Some(")" | "]" | "}") => depth = depth.saturating_sub(1),
                    _ => {}
                }
                tokens.push(Token {
                    kind: Kind::Op(op.unwrap_or("?")),
                    span: i..i + len,
                });
                i += len;
            }
        }
    }
    if depth > 0 {
        return Err((
            text.len(),
            "invalid Python: a bracket is never closed".into(),
        ));
    }
    finish(&mut tokens, &mut out, indented);
    Ok(out)
}

fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        // A sign is never first (a number starts with a digit or `.`), so
        // `i - 1` is in the number.
        let exponent_sign = matches!(b, b'+' | b'-')
            && matches!(bytes[i - 1], b'e' | b'E')
            && !bytes[start..i].starts_with(b"0x")
            && !bytes[start..i].starts_with(b"0X");
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// The string literal whose quote is at `quote`: where it ends, and its
/// value (escapes decoded unless raw).
fn string(text: &str, quote: usize, prefix: &str) -> Result<(usize, Kind), (usize, String)> {
    let bytes = text.as_bytes();
    let q = bytes[quote];
    let triple = bytes[quote..].starts_with(&[q; 3]);
    let open = if triple { 3 } else { 1 };
    let raw = prefix.contains('r');
    let mut i = quote + open;
    loop {
        match bytes.get(i) {
            None => return Err((quote, "invalid Python: a string is never closed".into())),
            Some(b'\\') => i += 2,
            Some(b'\n') if !triple => {
                return Err((
                    quote,
                    "invalid Python: a string is never closed on its line".into(),
                ));
            }
            Some(&b) if b == q && (!triple || bytes[i..].starts_with(&[q; 3])) => break,
            Some(_) => i += 1,
        }
    }
    let body = &text[quote + open..i.min(text.len())];
    let end = i + open;
    let kind = if prefix.contains('b') {
        Kind::Str(Err("a bytes literal (`b\"…\"`), not text"))
    } else if prefix.contains('f') {
        Kind::Str(Err("an f-string, computed when Django starts"))
    } else if raw {
        Kind::Str(Ok(body.to_owned()))
    } else {
        Kind::Str(Ok(unescape(body)))
    };
    Ok((end.min(text.len()), kind))
}

/// Python's escapes in a non-raw string; an unknown escape (`\w`, which
/// Python keeps with a warning) is kept as written.
fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(next) = chars.next() else {
            out.push('\\');
            break;
        };
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
            let digits: String = (0..n)
                .filter_map(|_| chars.next_if(char::is_ascii_hexdigit))
                .collect();
            (digits.len() == n)
                .then(|| {
                    u32::from_str_radix(&digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                })
                .flatten()
                .ok_or(digits)
        };
        match next {
            '\n' => {}
            '\\' | '\'' | '"' => out.push(next),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let mut value = next.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.next_if(|c| c.is_digit(8)) {
                        Some(d) => value = value * 8 + d.to_digit(8).unwrap_or(0),
                        None => break,
                    }
                }
                out.extend(char::from_u32(value));
            }
            'x' | 'u' | 'U' => {
                let n = match next {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                match hex(&mut chars, n) {
                    Ok(c) => out.push(c),
                    Err(digits) => {
                        out.push('\\');
                        out.push(next);
                        out.push_str(&digits);
                    }
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// The literal evaluator over one value's tokens.
struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    /// Where the `=` before the value ends: the place to point at when
    /// the value is missing.
    after: usize,
}

type Parsed<T> = Result<T, (usize, String)>;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.at);
        self.at += 1;
        token
    }

    fn eat(&mut self, op: &str) -> bool {
        if self
            .peek()
            .is_some_and(|t| t.kind == Kind::Op(op_static(op)))
        {
            self.at += 1;
            return true;
        }
        false
    }

    fn end_offset(&self) -> usize {
        self.tokens.last().map_or(self.after, |t| t.span.end)
    }

    fn end(&self) -> Parsed<()> {
        match self.peek() {
            None => Ok(()),
            Some(token) => Err((token.span.start, not_literal(token))),
        }
    }

    /// `term ('+' term)*`: sequences concatenated, as Python does.
    fn expression(&mut self) -> Parsed<Node> {
        let mut node = self.term()?;
        while self.eat("+") {
            let right = self.term()?;
            let span = node.span.start..right.span.end;
            node = match (node.value, right.value) {
                (Value::Array(mut a), Value::Array(b)) => {
                    a.extend(b);
                    Node {
                        span,
                        value: Value::Array(a),
                    }
                }
                (Value::Str(a), Value::Str(b)) => Node {
                    span,
                    value: Value::Str(a + &b),
                },
                _ => {
                    return Err((
                        span.start,
                        "adds values of different kinds: only lists (or tuples) to lists, strings to strings".into(),
                    ));
                }
            };
        }
        Ok(node)
    }

    fn term(&mut self) -> Parsed<Node> {
        let Some(token) = self.next().cloned() else {
            return Err((self.end_offset(), "has no value after `=`".into()));
        };
        let start = token.span.start;
        let value = match &token.kind {
            Kind::Str(first) => {
                let mut text = first.clone().map_err(|why| (start, format!("is {why}")))?;
                let mut end = token.span.end;
                // Adjacent literals are one string.
                while let Some(Token {
                    kind: Kind::Str(more),
                    span,
                }) = self.peek().cloned()
                {
                    text.push_str(&more.map_err(|why| (span.start, format!("is {why}")))?);
                    end = span.end;
                    self.at += 1;
                }
                return Ok(Node {
                    span: start..end,
                    value: Value::Str(text),
                });
            }
            Kind::Number(digits) => number(digits),
            Kind::Op("-") => match self.next().cloned() {
                Some(Token {
                    kind: Kind::Number(digits),
                    span,
                }) => {
                    let value = match number(&digits) {
                        Value::Int(Some(n)) => Value::Int(n.checked_neg()),
                        other => other,
                    };
                    return Ok(Node {
                        span: start..span.end,
                        value,
                    });
                }
                _ => return Err((start, "has a `-` that is not before a number".into())),
            },
            Kind::Name(name) => match name.as_str() {
                "True" => Value::Bool(true),
                "False" => Value::Bool(false),
                "None" => Value::Null,
                "list" | "tuple" if self.eat("(") => {
                    let inner = self.expression()?;
                    if !self.eat(")") {
                        return Err((
                            self.end_offset(),
                            format!("calls `{name}` with more than one argument"),
                        ));
                    }
                    return match inner.value {
                        Value::Array(_) => Ok(inner),
                        _ => Err((
                            start,
                            format!("calls `{name}` on something other than a list or tuple"),
                        )),
                    };
                }
                _ => {
                    let (dotted, end) = self.dotted(name, token.span.end);
                    if dotted == "re.compile" && self.eat("(") {
                        return self.compiled_regex(start);
                    }
                    return match defaults(&dotted) {
                        Some(items) => Ok(Node {
                            span: start..end,
                            value: Value::Array(
                                items
                                    .iter()
                                    .map(|s| Node {
                                        span: start..end,
                                        value: Value::Str((*s).to_owned()),
                                    })
                                    .collect(),
                            ),
                        }),
                        None => Err((start, dynamic(&dotted, self.peek()))),
                    };
                }
            },
            Kind::Op("[") => Value::Array(self.items("]")?),
            Kind::Op("(") => {
                // A parenthesised value, or a tuple.
                if self.eat(")") {
                    Value::Array(Vec::new())
                } else {
                    match self.item()? {
                        Item::One(node) if self.eat(")") => return Ok(node),
                        first => {
                            let mut items = Vec::new();
                            first.into(&mut items);
                            if self.eat(",") {
                                items.extend(self.items(")")?);
                            } else if !self.eat(")") {
                                return Err(self.expected(")"));
                            }
                            Value::Array(items)
                        }
                    }
                }
            }
            Kind::Op("{") => self.dict()?,
            _ => return Err((start, not_literal(&token))),
        };
        Ok(Node {
            span: start..self.tokens[self.at - 1].span.end,
            value,
        })
    }

    /// After `re.compile(`: the pattern, with `(?i)` for `re.IGNORECASE`
    /// (or `re.I`, also as `flags=`). django-cors-headers accepts compiled
    /// patterns in its regex settings and matches them as it matches
    /// strings. Other flags are refused: their meaning differs between
    /// Python's `re` and corsgate's regexes, or they have none here.
    fn compiled_regex(&mut self, start: usize) -> Parsed<Node> {
        let pattern = self.expression()?;
        let Value::Str(mut text) = pattern.value else {
            return Err((
                pattern.span.start,
                "calls `re.compile` on something other than a string".into(),
            ));
        };
        if self.eat(",") && !self.peek().is_some_and(|t| t.kind == Kind::Op(")")) {
            let at = self.peek().map_or(self.end_offset(), |t| t.span.start);
            if self
                .peek()
                .is_some_and(|t| t.kind == Kind::Name("flags".into()))
                && self
                    .tokens
                    .get(self.at + 1)
                    .is_some_and(|t| t.kind == Kind::Op("="))
            {
                self.at += 2;
            }
            let flag = match self.next().cloned() {
                Some(Token {
                    kind: Kind::Name(name),
                    span,
                }) => self.dotted(&name, span.end).0,
                _ => String::new(),
            };
            if !matches!(flag.as_str(), "re.I" | "re.IGNORECASE") {
                return Err((
                    at,
                    format!(
                        "calls `re.compile` with the flags `{flag}`: corsgate applies only `re.IGNORECASE`; write the others inside the pattern (`(?s)`, `(?m)`)"
                    ),
                ));
            }
            text.insert_str(0, "(?i)");
            self.eat(",");
        }
        if !self.eat(")") {
            return Err((
                self.peek().map_or(self.end_offset(), |t| t.span.start),
                "calls `re.compile` with more than a pattern and `re.IGNORECASE`".into(),
            ));
        }
        let end = self.tokens[self.at - 1].span.end;
        Ok(Node {
            span: start..end,
            value: Value::Str(text),
        })
    }

    /// `a.b.c` after the name `first`.
    fn dotted(&mut self, first: &str, mut end: usize) -> (String, usize) {
        let mut name = first.to_owned();
        while self.peek().is_some_and(|t| t.kind == Kind::Op(".")) {
            match self.tokens.get(self.at + 1) {
                Some(Token {
                    kind: Kind::Name(part),
                    span,
                }) => {
                    name.push('.');
                    name.push_str(part);
                    end = span.end;
                    self.at += 2;
                }
                _ => break,
            }
        }
        (name, end)
    }

    fn item(&mut self) -> Parsed<Item> {
        if self.eat("*") {
            let node = self.term()?;
            return match node.value {
                Value::Array(items) => Ok(Item::Spread(items)),
                _ => Err((
                    node.span.start,
                    "unpacks (`*`) something other than a list or tuple".into(),
                )),
            };
        }
        self.expression().map(Item::One)
    }

    /// Items up to `close`, commas between, a trailing comma allowed.
    fn items(&mut self, close: &'static str) -> Parsed<Vec<Node>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            self.item()?.into(&mut items);
            if !self.eat(",") {
                return if self.eat(close) {
                    Ok(items)
                } else {
                    Err(self.expected(close))
                };
            }
        }
    }

    fn dict(&mut self) -> Parsed<Value> {
        let mut entries = Vec::new();
        loop {
            if self.eat("}") {
                return Ok(Value::Table(entries));
            }
            let key = self.expression()?;
            let Value::Str(name) = key.value else {
                return Err((key.span.start, "has a dict key that is not a string".into()));
            };
            if !self.eat(":") {
                return Err(self.expected(":"));
            }
            entries.push((name, self.expression()?));
            if !self.eat(",") {
                return if self.eat("}") {
                    Ok(Value::Table(entries))
                } else {
                    Err(self.expected("}"))
                };
            }
        }
    }

    fn expected(&self, what: &str) -> (usize, String) {
        match self.peek() {
            Some(token) => (
                token.span.start,
                format!("expected `{what}` here; {}", not_literal(token)),
            ),
            None => (self.end_offset(), format!("expected `{what}`")),
        }
    }
}

/// One element of a list or tuple: a value, or `*sequence`.
enum Item {
    One(Node),
    Spread(Vec<Node>),
}

impl Item {
    fn into(self, items: &mut Vec<Node>) {
        match self {
            Item::One(node) => items.push(node),
            Item::Spread(nodes) => items.extend(nodes),
        }
    }
}

fn op_static(op: &str) -> &'static str {
    OPS.iter().find(|o| **o == op).copied().unwrap_or("?")
}

fn number(digits: &str) -> Value {
    let clean = digits.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let (radix, body) = match lower.get(..2) {
        Some("0x") => (16, &lower[2..]),
        Some("0o") => (8, &lower[2..]),
        Some("0b") => (2, &lower[2..]),
        _ => (10, lower.as_str()),
    };
    if radix == 10 && body.bytes().any(|b| matches!(b, b'.' | b'e' | b'j')) {
        return Value::Float;
    }
    Value::Int(i64::from_str_radix(body, radix).ok())
}

/// `default_headers` and `default_methods` of `corsheaders.defaults`.
fn defaults(name: &str) -> Option<&'static [&'static str]> {
    match name.strip_prefix("corsheaders.defaults.").unwrap_or(name) {
        "default_headers" => Some(DEFAULT_HEADERS),
        "default_methods" => Some(DEFAULT_METHODS),
        _ => None,
    }
}

/// Why a name in a value is not a literal, naming the common cases.
fn dynamic(name: &str, next: Option<&Token>) -> String {
    let call = next.is_some_and(|t| t.kind == Kind::Op("(") || t.kind == Kind::Op("["));
    if name.starts_with("os.environ")
        || name == "os.getenv"
        || name == "env"
        || name.starts_with("env.")
    {
        format!(
            "reads the environment (`{name}…`) when Django starts: corsgate reads the environment itself (set `CORS_*` variables for it)"
        )
    } else if call {
        format!("calls `{name}(…)`, which runs when Django starts")
    } else {
        format!("uses the variable `{name}`, whose value is known only when Django runs")
    }
}

fn not_literal(token: &Token) -> String {
    match &token.kind {
        Kind::Op(op @ ("*" | "**" | "/" | "//" | "-" | "+")) => {
            format!("computes its value (`{op}`) when Django starts: write the result")
        }
        Kind::Op(".") => "uses an attribute or a method (`.`), evaluated when Django starts".into(),
        Kind::Op("(") => "calls something, which runs when Django starts".into(),
        Kind::Op(op) if *op != "?" => format!("`{op}` is not part of a literal value"),
        Kind::Name(word) if word == "if" => {
            "chooses its value with `if … else` when Django starts: write the value".into()
        }
        Kind::Name(word) => format!("has `{word}` here, which is not part of a literal value"),
        _ => "this is not part of a literal value".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(node: &Node) -> Vec<String> {
        match &node.value {
            Value::Array(items) => items
                .iter()
                .map(|i| match &i.value {
                    Value::Str(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .collect(),
            other => vec![format!("{other:?}")],
        }
    }

    fn settings(text: &str) -> (Vec<(String, Node)>, Vec<Problem>) {
        let (root, problems) = parse(text).unwrap();
        match root.value {
            Value::Table(entries) => (entries, problems),
            _ => unreachable!(),
        }
    }

    /// The one problem `text` has; the setting it is about is not read.
    fn only_problem(text: &str) -> Problem {
        let (entries, mut problems) = settings(text);
        assert!(entries.is_empty(), "{text}: {entries:#?}");
        assert_eq!(problems.len(), 1, "{text}: {problems:#?}");
        problems.remove(0)
    }

    #[test]
    fn literals_of_every_kind() {
        let (entries, problems) = settings(
            r#"
import os
from corsheaders.defaults import default_headers, default_methods

BASE_DIR = Path(__file__).resolve().parent.parent   # not a CORS setting: skipped
SECRET_KEY = os.environ["SECRET_KEY"]

CORS_ALLOWED_ORIGINS = [
    "https://app.example.com",  # the front-end
    'http://localhost:3000',
]
CORS_ALLOWED_ORIGIN_REGEXES = (r"^https://\w+\.example\.com$",)
CORS_ALLOW_HEADERS = (
    *default_headers,
    "x-debug",
)
CORS_ALLOW_METHODS = list(default_methods) + ["PURGE"]
CORS_ALLOW_CREDENTIALS = True
CORS_PREFLIGHT_MAX_AGE = 3_600
CORS_URLS_REGEX = r'^/api/.*$'
CORS_EXPOSE_HEADERS = ["x-" "total-count", "x-\x72equest-id"]
CORS_ALLOW_ALL_ORIGINS = False; CORS_ALLOW_PRIVATE_NETWORK = False
"#,
        );
        assert!(problems.is_empty(), "{problems:#?}");
        let get = |name: &str| &entries.iter().find(|(k, _)| k == name).unwrap().1;
        assert_eq!(
            strings(get("CORS_ALLOWED_ORIGINS")),
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(
            strings(get("CORS_ALLOWED_ORIGIN_REGEXES")),
            [r"^https://\w+\.example\.com$"]
        );
        let headers = strings(get("CORS_ALLOW_HEADERS"));
        assert_eq!(headers.len(), DEFAULT_HEADERS.len() + 1);
        assert_eq!(headers.last().map(String::as_str), Some("x-debug"));
        assert_eq!(
            strings(get("CORS_ALLOW_METHODS"))
                .last()
                .map(String::as_str),
            Some("PURGE")
        );
        assert!(matches!(
            get("CORS_ALLOW_CREDENTIALS").value,
            Value::Bool(true)
        ));
        assert!(matches!(
            get("CORS_PREFLIGHT_MAX_AGE").value,
            Value::Int(Some(3600))
        ));
        assert!(matches!(&get("CORS_URLS_REGEX").value, Value::Str(s) if s == "^/api/.*$"));
        assert_eq!(
            strings(get("CORS_EXPOSE_HEADERS")),
            ["x-total-count", "x-request-id"]
        );
        assert!(matches!(
            get("CORS_ALLOW_PRIVATE_NETWORK").value,
            Value::Bool(false)
        ));
        assert_eq!(entries.len(), 10);
    }

    #[test]
    fn the_last_assignment_wins_as_in_python() {
        let (entries, _) =
            settings("CORS_ALLOW_CREDENTIALS = False\nCORS_ALLOW_CREDENTIALS = True\n");
        assert_eq!(entries.len(), 1);
        assert!(matches!(entries[0].1.value, Value::Bool(true)));
    }

    #[test]
    fn run_time_values_are_reported_at_their_place() {
        let text = "\
CORS_ALLOWED_ORIGINS = os.environ['ORIGINS'].split(',')
CORS_ALLOW_HEADERS = get_headers()
CORS_URLS_REGEX = f'^/{API}/.*$'
if DEBUG:
    CORS_ALLOW_ALL_ORIGINS = True
CORS_EXPOSE_HEADERS = []
CORS_EXPOSE_HEADERS += ['x-total-count']
CORS_ALLOW_METHODS = SOME_LIST
CORS_PREFLIGHT_MAX_AGE = 60 * 60
";
        let (entries, problems) = settings(text);
        let said: Vec<(usize, &str, &str)> = problems
            .iter()
            .map(|p| {
                let line = text[..p.offset].matches('\n').count() + 1;
                (line, p.key.as_str(), p.message.as_str())
            })
            .collect();
        let expect = [
            (1, "CORS_ALLOWED_ORIGINS", "reads the environment"),
            (2, "CORS_ALLOW_HEADERS", "calls `get_headers(…)`"),
            (3, "CORS_URLS_REGEX", "is an f-string"),
            (5, "CORS_ALLOW_ALL_ORIGINS", "inside a block"),
            (7, "CORS_EXPOSE_HEADERS", "is changed after it is set"),
            (8, "CORS_ALLOW_METHODS", "uses the variable `SOME_LIST`"),
            (9, "CORS_PREFLIGHT_MAX_AGE", "computes its value (`*`)"),
        ];
        assert_eq!(said.len(), expect.len(), "{said:#?}");
        for ((line, key, message), (want_line, want_key, want)) in said.iter().zip(expect) {
            assert_eq!((*line, *key), (want_line, want_key), "{message}");
            assert!(message.contains(want), "{key}: {message}");
        }
        // The literal one is still read.
        assert_eq!(entries.len(), 1);
    }

    /// django-cors-headers accepts compiled patterns in its regex
    /// settings (its check E007 allows `str` or `re.Pattern`).
    #[test]
    fn compiled_regexes_are_their_patterns() {
        let (entries, problems) = settings(
            "import re\nCORS_ALLOWED_ORIGIN_REGEXES = [\n    re.compile(r\"^https://\\w+\\.example\\.com$\"),\n    re.compile(r'^https://a\\.example$', re.IGNORECASE,),\n    re.compile('^https://b\\\\.example$', flags=re.I),\n    r'^https://c\\.example$',\n]\nCORS_URLS_REGEX = re.compile(r'^/api/')\n",
        );
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(
            strings(&entries[0].1),
            [
                r"^https://\w+\.example\.com$",
                r"(?i)^https://a\.example$",
                r"(?i)^https://b\.example$",
                r"^https://c\.example$",
            ]
        );
        assert!(matches!(&entries[1].1.value, Value::Str(s) if s == "^/api/"));
        // A trailing comma, as Python allows.
        let (entries, problems) = settings("CORS_URLS_REGEX = re.compile(r'^/api/',)\n");
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(matches!(&entries[0].1.value, Value::Str(s) if s == "^/api/"));
        // What corsgate cannot apply is said, at its place.
        for (text, want) in [
            (
                "CORS_URLS_REGEX = re.compile(r'^/api/', re.VERBOSE)",
                "`re.VERBOSE`",
            ),
            ("CORS_URLS_REGEX = re.compile(PATTERN)", "`PATTERN`"),
            ("CORS_URLS_REGEX = re.compile(r'a', re.I, 3)", "re.compile"),
            // `re.compile` has no such keyword.
            ("CORS_URLS_REGEX = re.compile(r'a', mode=re.I)", "`mode`"),
            // A chained assignment is still one after brackets.
            (
                "CORS_URLS_REGEX = ROUTES['api'] = r'^/api/'",
                "chained assignment",
            ),
        ] {
            let problem = only_problem(text);
            assert!(problem.message.contains(want), "{text}: {problem:#?}");
        }
    }

    #[test]
    fn strings_and_brackets_follow_the_tokenizer() {
        let (entries, problems) = settings(
            "X = '''a ] \"\"\" [ # not a comment'''\nCORS_ALLOWED_ORIGINS = [  # ]\n  'https://a.example', \\\n]\nY = {'k': (1, [2])}\n",
        );
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(strings(&entries[0].1), ["https://a.example"]);
        assert!(parse("CORS_ALLOWED_ORIGINS = ['a'").is_err());
        assert!(parse("CORS_URLS_REGEX = 'open").is_err());
        let deep = format!("X = {}{}", "[".repeat(40), "]".repeat(40));
        assert!(parse(&deep).unwrap_err().1.contains("nested"));
    }

    /// The corners of Python's syntax a settings file meets: annotated
    /// assignments, a line continued over CRLF, a file that ends in
    /// indentation, a number that starts with its dot; and what Python
    /// refuses (a stray backslash, `;` inside brackets) is said, not
    /// skipped.
    #[test]
    fn python_syntax_corners() {
        let (entries, problems) = settings(
            "CORS_ALLOW_CREDENTIALS: bool = True\r\nCORS_ALLOWED_ORIGINS: list[str] = \\\r\n    ['https://a.example']\r\nCORS_PREFLIGHT_MAX_AGE = .5\r\n  ",
        );
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(entries.len(), 3, "{entries:#?}");
        assert!(matches!(entries[0].1.value, Value::Bool(true)));
        assert_eq!(strings(&entries[1].1), ["https://a.example"]);
        assert!(matches!(entries[2].1.value, Value::Float));

        // A name that ends the file.
        let (entries, _) = settings("CORS_ALLOW_CREDENTIALS = True");
        assert!(matches!(entries[0].1.value, Value::Bool(true)));
        // A comment that ends the file, with no newline after it.
        let (entries, problems) = settings("CORS_ALLOW_CREDENTIALS = True  # the end");
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(matches!(entries[0].1.value, Value::Bool(true)));

        let (_, problems) = settings("if DEBUG:\n    CORS_ALLOW_ALL_ORIGINS = True\n");
        assert!(
            problems[0]
                .help
                .starts_with("set it at the top level of settings.py"),
            "{problems:#?}"
        );
        for (text, at, want) in [
            (
                "CORS_PREFLIGHT_MAX_AGE = 6\\0\n",
                26,
                "this is not part of a literal value",
            ),
            (
                "CORS_ALLOWED_ORIGINS = ['a'; 'b']\n",
                27,
                "expected `]` here",
            ),
        ] {
            let problem = only_problem(text);
            assert_eq!(problem.offset, at, "{text}");
            assert!(problem.message.contains(want), "{text}: {problem:#?}");
        }
    }

    /// Each literal form a value can take, and each way one can go wrong,
    /// read or said at its place: numbers with exponents, signs, hex and
    /// dots; strings added and triple-quoted; a dict; a name that is also a
    /// string prefix; nothing after `=`.
    #[test]
    fn values_and_their_problems_at_their_place() {
        let value = |text: &str| {
            let (entries, problems) = settings(text);
            assert!(problems.is_empty(), "{text}: {problems:#?}");
            assert_eq!(entries.len(), 1, "{text}");
            format!("{:?}", entries[0].1.value)
        };
        for (text, want) in [
            ("CORS_URLS_REGEX = None", "Null"),
            ("CORS_URLS_REGEX = ('^/api/')", r#"Str("^/api/")"#),
            ("CORS_PREFLIGHT_MAX_AGE = -1", "Int(Some(-1))"),
            ("CORS_PREFLIGHT_MAX_AGE = 0x1e", "Int(Some(30))"),
            ("CORS_PREFLIGHT_MAX_AGE = 0o17", "Int(Some(15))"),
            ("CORS_PREFLIGHT_MAX_AGE = 0B11", "Int(Some(3))"),
            ("CORS_PREFLIGHT_MAX_AGE = 1_0", "Int(Some(10))"),
            ("CORS_PREFLIGHT_MAX_AGE = 1e-3", "Float"),
            ("CORS_PREFLIGHT_MAX_AGE = 1E+3", "Float"),
            ("CORS_PREFLIGHT_MAX_AGE = 1.5", "Float"),
            ("CORS_URLS_REGEX = '^/api' + r'/v1/'", r#"Str("^/api/v1/")"#),
            ("CORS_URLS_REGEX = '''^/a'b/'''", r#"Str("^/a'b/")"#),
            // A triple-quoted string may hold a newline.
            ("CORS_URLS_REGEX = '''^/a\nb/'''", r#"Str("^/a\nb/")"#),
            (
                "CORS_ALLOWED_ORIGINS = {'a': 1}",
                r#"Table([("a", Node { span: 29..30, value: Int(Some(1)) })])"#,
            ),
            (
                "CORS_ALLOWED_ORIGINS = {'a': 1, 'b': 2,}",
                r#"Table([("a", Node { span: 29..30, value: Int(Some(1)) }), ("b", Node { span: 37..38, value: Int(Some(2)) })])"#,
            ),
        ] {
            assert_eq!(value(text), want, "{text}");
        }
        for (text, want) in [
            ("CORS_ALLOWED_ORIGINS = ('a', 'b')", vec!["a", "b"]),
            ("CORS_ALLOWED_ORIGINS = ('a',)", vec!["a"]),
            ("CORS_ALLOWED_ORIGINS = ()", vec![]),
        ] {
            let (entries, problems) = settings(text);
            assert!(problems.is_empty(), "{text}: {problems:#?}");
            assert_eq!(strings(&entries[0].1), want, "{text}");
        }
        let problem = only_problem("CORS_ALLOWED_ORIGINS = ('a' x)\n");
        assert_eq!(problem.offset, 28);
        assert!(
            problem.message.starts_with("expected `)` here"),
            "{problem:#?}"
        );
        // A single-quoted one may not.
        let (at, why) = parse("CORS_URLS_REGEX = '^/a\nb/'\n").unwrap_err();
        assert_eq!(
            (at, why.as_str()),
            (18, "invalid Python: a string is never closed on its line")
        );
        let nested = |depth: usize| {
            format!(
                "CORS_ALLOWED_ORIGINS = {}{}",
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        assert!(parse(&nested(MAX_CONFIG_DEPTH)).is_ok());
        assert!(parse(&nested(MAX_CONFIG_DEPTH + 1)).is_err());
        for (text, at, want) in [
            ("CORS_ALLOW_CREDENTIALS =\n", 24, "has no value after `=`"),
            (
                "CORS_ALLOWED_ORIGINS = list(['a'], ['b'])\n",
                41,
                "calls `list` with more than one argument",
            ),
            // A hex number ends before a sign: `0x1E+1` is an addition.
            (
                "CORS_PREFLIGHT_MAX_AGE = 0x1E+1\n",
                25,
                "adds values of different kinds",
            ),
            ("CORS_ALLOW_CREDENTIALS = f\n", 25, "uses the variable `f`"),
        ] {
            let problem = only_problem(text);
            assert_eq!(problem.offset, at, "{text}");
            assert!(problem.message.contains(want), "{text}: {problem:#?}");
        }
    }

    /// What corsgate cannot read is explained by what stands there: the
    /// environment, a call, a variable, an operator, an attribute, a
    /// conditional, a word.
    #[test]
    fn unreadable_values_are_explained_by_what_stands_there() {
        for (text, want) in [
            (
                "CORS_ALLOWED_ORIGINS = os.getenv('ORIGINS')",
                "reads the environment (`os.getenv…`)",
            ),
            (
                "CORS_ALLOWED_ORIGINS = env('ORIGINS')",
                "reads the environment (`env…`)",
            ),
            (
                "CORS_ALLOWED_ORIGINS = env.list('ORIGINS')",
                "reads the environment (`env.list…`)",
            ),
            ("CORS_ALLOWED_ORIGINS = ORIGINS[1:]", "calls `ORIGINS(…)`"),
            (
                "CORS_URLS_REGEX = '^/api/'.strip()",
                "uses an attribute or a method (`.`)",
            ),
            ("CORS_URLS_REGEX = '^/api/'('x')", "calls something"),
            (
                "CORS_ALLOW_CREDENTIALS = True == DEBUG",
                "`==` is not part of a literal value",
            ),
            (
                "CORS_ALLOW_CREDENTIALS = True if DEBUG else False",
                "chooses its value with `if … else`",
            ),
            ("CORS_ALLOW_CREDENTIALS = True and DEBUG", "has `and` here"),
            ("CORS_ALLOWED_ORIGINS = {'a' 1}", "expected `:` here"),
            ("CORS_ALLOWED_ORIGINS = {'a': 1 2}", "expected `}` here"),
            (
                "CORS_ALLOWED_ORIGINS = {1: 2}",
                "has a dict key that is not a string",
            ),
        ] {
            let problem = only_problem(text);
            assert!(problem.message.starts_with(want), "{text}: {problem:#?}");
        }
    }

    #[test]
    fn escapes_are_decoded_as_python_does() {
        assert_eq!(
            unescape(r"a\tb\\c\'d\x41\u00e9\101\w\d"),
            "a\tb\\c'dAéA\\w\\d"
        );
        assert_eq!(unescape(r"\xZ"), r"\xZ");
    }
}
