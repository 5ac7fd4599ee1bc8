//! The compiled set of allowed origins of one rule: a hash map for exact
//! origins, label-aware patterns, and one anchored matcher for all regexes.

use std::collections::HashMap;

use super::{OriginPattern, parse_request_origin};
use crate::anchored::AnchoredRegex;
use http::HeaderValue;

/// How a request's origin was allowed, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OriginMatch {
    /// Listed exactly; carries the prebuilt header value to echo.
    Listed(HeaderValue),
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
    /// Exact serialized origins, keyed by their bytes.
    pub(crate) exact: HashMap<Box<[u8]>, HeaderValue>,
    pub(crate) patterns: Vec<OriginPattern>,
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
        if let Some(value) = self.exact.get(origin) {
            return OriginMatch::Listed(value.clone());
        }
        let Some(parts) = parse_request_origin(origin) else {
            return OriginMatch::Malformed;
        };
        if self.all {
            return OriginMatch::All;
        }
        if self.patterns.iter().any(|p| p.matches_parts(&parts)) {
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
