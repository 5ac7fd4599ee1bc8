//! The compiled set of allowed origins of one rule: a hash map for exact
//! origins, label-aware patterns indexed by host, and one anchored matcher
//! for all regexes.

use std::collections::HashMap;

/// The origin maps' hasher: foldhash (hashbrown's own default); with it a
/// listed origin's decision is about 200 instructions cheaper than with
/// SipHash (docs/benchmarks.md). SipHash's flooding resistance buys nothing here:
/// the maps are filled once from the configuration, never from requests,
/// so a request can only look up, never lengthen a chain.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

use super::pattern::HostKey;
use super::{OriginPattern, RequestOrigin, parse_request_origin};
use crate::anchored::AnchoredRegex;
use crate::value::Shared;

/// How a request's origin was allowed, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OriginMatch {
    /// Listed exactly; carries where its prebuilt value is in
    /// [`OriginMatcher::listed`].
    Listed(usize),
    /// `null` is listed and the request's origin is `null`.
    NullListed,
    Pattern,
    Regex,
    /// `allow_all_origins`.
    All,
    /// A serialized origin that no entry allows.
    NotAllowed,
    /// Not a serialized origin (nor `null`): never echoed.
    Malformed,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct OriginMatcher {
    pub(crate) all: bool,
    pub(crate) null: bool,
    /// Exact serialized origins, keyed by their bytes; each one's place
    /// in `listed`.
    pub(crate) exact: Map<Box<[u8]>, usize>,
    /// The value each exact origin echoes, in actix's form too. A decision
    /// keeps its place, not a clone: no reference count to raise and drop
    /// per request, and the actix middleware finds its form without
    /// hashing the origin again.
    pub(crate) listed: Vec<Shared>,
    pub(crate) patterns: PatternSet,
    /// Every regex, anchored to match the whole origin.
    pub(crate) regexes: Option<AnchoredRegex>,
}

impl OriginMatcher {
    /// Matches a request's single `Origin` value. Allocates nothing.
    pub(crate) fn check(&self, origin: &[u8]) -> OriginMatch {
        if origin == b"null" {
            // `null` is allowed only when listed as such, or by allow-all;
            // patterns and regexes never match it (django lets `.*` match it).
            return if self.null {
                OriginMatch::NullListed
            } else if self.all {
                OriginMatch::All
            } else {
                OriginMatch::NotAllowed
            };
        }
        if let Some(&at) = self.exact.get(origin) {
            return OriginMatch::Listed(at);
        }
        let Some(parts) = parse_request_origin(origin) else {
            return OriginMatch::Malformed;
        };
        if self.all {
            return OriginMatch::All;
        }
        if self.patterns.matches(&parts) {
            return OriginMatch::Pattern;
        }
        if self
            .regexes
            .as_ref()
            .is_some_and(|set| set.is_match(origin))
        {
            return OriginMatch::Regex;
        }
        OriginMatch::NotAllowed
    }
}

/// Origin patterns, filed by host so a request's origin is compared with
/// the few that could match it, not with every one: 1,000 patterns cost
/// about what one does.
#[derive(Debug, Clone, Default)]
pub(crate) struct PatternSet {
    patterns: Vec<OriginPattern>,
    /// Subdomain patterns (`https://*.example.com`) by parent domain
    /// (`example.com`): indices into `patterns`.
    by_parent: Map<Box<str>, Vec<usize>>,
    /// The parent domains' label counts (`example.com`: 2), ascending: the
    /// only suffixes of a request's host worth looking up.
    depths: Vec<usize>,
    /// Any-port patterns (`http://localhost:*`) by host.
    by_host: Map<Box<str>, Vec<usize>>,
}

impl PatternSet {
    pub(crate) fn push(&mut self, pattern: OriginPattern) {
        let at = self.patterns.len();
        match pattern.host_key() {
            HostKey::Parent(parent) => {
                let depth = parent.split('.').count();
                if let Err(slot) = self.depths.binary_search(&depth) {
                    self.depths.insert(slot, depth);
                }
                self.by_parent.entry(parent.into()).or_default().push(at);
            }
            HostKey::Host(host) => self.by_host.entry(host.into()).or_default().push(at),
        }
        self.patterns.push(pattern);
    }

    /// Whether any pattern matches: exactly what comparing the origin with
    /// each pattern in turn would say. A subdomain pattern matches a host
    /// that is at least one label and a dot, then its parent domain; so the
    /// candidates are the host's suffixes after a dot, one per label count
    /// some parent domain has (a host of 1,000 labels costs a lookup per
    /// distinct depth, not per label).
    pub(crate) fn matches(&self, origin: &RequestOrigin<'_>) -> bool {
        let any = |found: Option<&Vec<usize>>| {
            found.is_some_and(|at| at.iter().any(|&i| self.patterns[i].matches_parts(origin)))
        };
        if any(self.by_host.get(origin.host)) {
            return true;
        }
        let host = origin.host.as_bytes();
        // `dots[k - 1]`: where the k-th dot from the right is.
        let mut dots = host
            .iter()
            .enumerate()
            .rev()
            .filter(|&(_, &b)| b == b'.')
            .map(|(at, _)| at);
        let mut seen = 0;
        for &depth in &self.depths {
            // The parent has `depth` labels: it starts after the
            // `depth`-th dot from the right. (A candidate is then compared
            // in full, so a host with nothing before that dot fails there.)
            let Some(dot) = dots.nth(depth - seen - 1) else {
                return false;
            };
            seen = depth;
            if any(self.by_parent.get(&origin.host[dot + 1..])) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::{OriginPattern, PatternSet, parse_request_origin};

    const PATTERNS: [&str; 6] = [
        "https://*.example.com",
        "https://*.a.b.example.org",
        "http://*.localhost",
        "http://localhost:*",
        "https://*.example.com:*",
        "http://127.0.0.1:*",
    ];

    fn set(patterns: &[&str]) -> PatternSet {
        let mut set = PatternSet::default();
        for p in patterns {
            set.push(OriginPattern::parse(p).unwrap());
        }
        set
    }

    /// Each origin, whether the full set allows it.
    const CASES: [(&str, bool); 16] = [
        ("https://api.example.com", true),
        ("https://x.y.example.com", true),
        ("https://api.example.com:8443", true),
        ("https://example.com", false),
        ("http://api.example.com", false),
        ("https://evil-example.com", false),
        ("https://api.example.com.evil.com", false),
        ("https://q.a.b.example.org", true),
        ("https://p.q.a.b.example.org", true),
        ("https://a.b.example.org", false),
        ("https://q.b.example.org", false),
        ("http://app.localhost", true),
        ("http://localhost:3000", true),
        ("http://localhost", true),
        ("http://127.0.0.1:8080", true),
        ("http://127.0.0.2:8080", false),
    ];

    #[test]
    fn the_index_finds_each_pattern_at_every_depth() {
        let all = set(&PATTERNS);
        for (origin, expected) in CASES {
            let parts = parse_request_origin(origin.as_bytes()).unwrap();
            assert_eq!(all.matches(&parts), expected, "{origin}");
        }
    }

    /// Every subset of the patterns (so every combination of depths and
    /// hosts): the index says what comparing with each pattern says.
    #[test]
    fn the_index_agrees_with_comparing_every_pattern() {
        for mask in 0u32..(1 << PATTERNS.len()) {
            let chosen: Vec<&str> = (0..PATTERNS.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| PATTERNS[i])
                .collect();
            let indexed = set(&chosen);
            for (origin, _) in CASES {
                let parts = parse_request_origin(origin.as_bytes()).unwrap();
                let scan = chosen
                    .iter()
                    .any(|p| OriginPattern::parse(p).unwrap().matches_parts(&parts));
                assert_eq!(indexed.matches(&parts), scan, "{origin} with {chosen:?}");
            }
        }
    }

    #[test]
    fn a_host_of_many_labels_is_matched_by_its_last_ones() {
        let indexed = set(&["https://*.example.com"]);
        let host = format!("https://{}example.com", "a.".repeat(900));
        let parts = parse_request_origin(host.as_bytes()).unwrap();
        assert!(indexed.matches(&parts));
        let other = format!("https://{}example.net", "a.".repeat(900));
        assert!(!indexed.matches(&parse_request_origin(other.as_bytes()).unwrap()));
    }
}
