//! corsgate: a CORS policy engine.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod config;
mod decision;
mod origin;
mod policy;
mod request;

#[cfg(feature = "tower")]
pub mod tower;

pub use config::{
    Config, ConfigBuilder, ConfigError, ConfigErrors, DEFAULT_HEADERS, DEFAULT_MAX_AGE, DEFAULT_METHODS,
    ErrorKind, Location, MAX_MAX_AGE, PathRule,
};
pub use decision::{
    ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK, ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK, Decision, DecisionKind, Reason,
};
pub use origin::{Origin, OriginError, OriginPattern, OriginProblem};
pub use policy::Policy;
pub use request::RequestView;

/// Logs a decision at debug level (feature `tracing`), for adapters.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn trace_decision(decision: &Decision, method: &http::Method, path: &str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "corsgate",
        %method,
        path,
        kind = ?decision.kind(),
        reason = decision.reason().name(),
        allowed = decision.is_allowed(),
        "cors decision: {}",
        decision.reason()
    );
}
