//! `Config` → `Policy`: every rule compiled (`rule.rs`), every error
//! collected and placed, the policy built.

use std::sync::Arc;

use crate::config::{Config, ConfigError, ConfigErrors, KeyPath};
use crate::policy::Policy;
use crate::rule::Rule;

impl Config {
    /// Checks every setting and compiles the policy: origins parsed and
    /// normalised into a hash set, patterns prepared, regexes joined into
    /// one `RegexSet`, every header value built.
    ///
    /// # Errors
    /// Every mistake at once, each naming the key (as the file spelled it,
    /// when the config was loaded from one), the value, what is wrong and
    /// how to fix it.
    pub fn compile(&self) -> Result<Policy, ConfigErrors> {
        let mut errors = Vec::new();
        let policy = self.compile_collecting(&mut errors);
        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(ConfigErrors::from_vec(errors))
        }
    }

    /// Compiles what can be compiled, pushing every error.
    pub(crate) fn compile_collecting(&self, errors: &mut Vec<ConfigError>) -> Policy {
        let mut raw = Vec::new();
        let rules = self
            .rule_settings()
            .iter()
            .map(|settings| Arc::new(Rule::compile(settings, &mut raw)))
            .collect();
        // A setting inherited by several rules is reported once.
        let mut seen = std::collections::HashSet::new();
        raw.retain(|(path, error): &(KeyPath, ConfigError)| {
            seen.insert((*path, error.problem.clone()))
        });
        errors.extend(raw.into_iter().map(|(path, error)| self.place(path, error)));
        Policy::from_rules(rules, self.report_only)
    }
}

impl Default for Policy {
    /// django-cors-headers' defaults: every path in scope, no origin allowed.
    fn default() -> Self {
        Config::default().compile_collecting(&mut Vec::new())
    }
}
