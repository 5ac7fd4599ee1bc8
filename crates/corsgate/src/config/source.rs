//! Where a loaded configuration's keys and values are in their file, and
//! how a place in a configuration is named in messages.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Config, ConfigError, ConfigLocation, Field};

/// Where a loaded configuration's keys and values are in their file. Plain
/// data: two configs compare equal whatever their source.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceRef(pub(crate) Option<Arc<Source>>);

impl PartialEq for SourceRef {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Source {
    pub(crate) file: Option<std::path::PathBuf>,
    pub(crate) text: String,
    /// For each (rule, field): the key as written, the value's span, and
    /// each list element's span.
    pub(crate) keys: HashMap<(Option<usize>, Field), KeySource>,
    /// The span of each path rule's table.
    pub(crate) rules: Vec<std::ops::Range<usize>>,
    /// Things worth a warning that are not errors: (key, offset, message).
    pub(crate) notes: Vec<(String, usize, String)>,
    /// The settings an environment variable replaced: the variable's name.
    /// Messages name them `$CORS_…`, without a place in the file.
    pub(crate) environment: HashMap<(Option<usize>, Field), String>,
}

#[derive(Debug, Clone)]
pub(crate) struct KeySource {
    pub(crate) written: String,
    pub(crate) span: std::ops::Range<usize>,
    pub(crate) items: Vec<std::ops::Range<usize>>,
}

impl Source {
    pub(crate) fn location(&self, offset: usize) -> ConfigLocation {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ConfigLocation {
            file: self.file.clone(),
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// A place in a configuration: `(rule, field, list index)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyPath {
    pub(crate) rule: Option<usize>,
    pub(crate) field: Field,
    pub(crate) index: Option<usize>,
}

impl KeyPath {
    pub(crate) fn at(self, index: usize) -> Self {
        Self {
            index: Some(index),
            ..self
        }
    }
}

impl Config {
    /// Names the key as the file spelled it and adds its location.
    pub(crate) fn place(&self, path: KeyPath, mut error: ConfigError) -> ConfigError {
        let (key, location) = self.locate(path);
        error.key = key;
        error.location = location;
        error
    }

    /// The key of a place in the configuration as the file spelled it
    /// (`CORS_ALLOWED_ORIGINS[2]`, `path_rules[0].allow_methods`), and where
    /// it is in the file.
    pub(crate) fn locate(&self, path: KeyPath) -> (String, Option<ConfigLocation>) {
        let source = self.source.0.as_deref();
        if let Some(variable) = source.and_then(|s| s.environment.get(&(path.rule, path.field))) {
            let mut key = format!("${variable}");
            if let Some(index) = path.index {
                key.push_str(&format!("[{index}]"));
            }
            return (key, None);
        }
        let known = source.and_then(|s| s.keys.get(&(path.rule, path.field)));
        let name = known.map_or(path.field.snake(), |k| k.written.as_str());
        let mut key = match path.rule {
            Some(rule) => format!("{}[{rule}].{name}", Field::PathRules.snake()),
            None => name.to_owned(),
        };
        if let Some(index) = path.index {
            key.push_str(&format!("[{index}]"));
        }
        let location = source.and_then(|source| {
            let span = match (known, path.index) {
                (Some(k), Some(i)) => k.items.get(i).or(Some(&k.span)).map(|s| s.start),
                (Some(k), None) => Some(k.span.start),
                (None, _) => path.rule.and_then(|r| source.rules.get(r)).map(|s| s.start),
            };
            span.map(|offset| source.location(offset))
        });
        (key, location)
    }
}
