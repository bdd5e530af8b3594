//! Small validated value types, so a bad number is rejected while parsing and
//! the parser's own line/column and field path end up in the message.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A strictly positive, finite number (learning rates, divisors).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Positive(f64);

impl Positive {
    /// The wrapped value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Positive {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v > 0.0 {
            Ok(Positive(v))
        } else {
            Err(format!("expected a number greater than 0, got {v}"))
        }
    }
}

impl From<Positive> for f64 {
    fn from(v: Positive) -> f64 {
        v.0
    }
}

impl JsonSchema for Positive {
    fn schema_name() -> Cow<'static, str> {
        "Positive".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number", "exclusiveMinimum": 0 })
    }
}

/// A number in `[0, 1)`: dropout rates and split fractions, where 1 would
/// leave nothing behind.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Fraction(f64);

impl Fraction {
    /// The wrapped value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Fraction {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if (0.0..1.0).contains(&v) {
            Ok(Fraction(v))
        } else {
            Err(format!("expected a fraction in [0, 1), got {v}"))
        }
    }
}

impl From<Fraction> for f64 {
    fn from(v: Fraction) -> f64 {
        v.0
    }
}

impl JsonSchema for Fraction {
    fn schema_name() -> Cow<'static, str> {
        "Fraction".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number", "minimum": 0, "exclusiveMaximum": 1 })
    }
}

/// A count that must be at least one (layer widths, epochs, batch sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Count(usize);

impl Count {
    /// The wrapped value.
    pub fn get(self) -> usize {
        self.0
    }
}

impl TryFrom<u64> for Count {
    type Error = String;
    fn try_from(v: u64) -> Result<Self, String> {
        match usize::try_from(v) {
            Ok(0) => Err("expected a whole number of at least 1, got 0".into()),
            Ok(n) => Ok(Count(n)),
            Err(_) => Err(format!("{v} is too large")),
        }
    }
}

impl From<Count> for u64 {
    fn from(v: Count) -> u64 {
        v.0 as u64
    }
}

impl JsonSchema for Count {
    fn schema_name() -> Cow<'static, str> {
        "Count".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": 1 })
    }
}

/// A name usable as a folder and a URL segment: lowercase letters, digits,
/// `-` and `_`, starting with a letter. Keeps run folders and API paths safe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// Validates a name typed by a user (CLI, HTTP) with the same rule as YAML.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_string())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Name {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut chars = s.chars();
        let ok_first = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let ok_rest =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok_first && ok_rest && s.len() <= 64 {
            Ok(Name(s))
        } else {
            Err(format!(
                "expected a name of lowercase letters, digits, `-` or `_` that starts with a letter (at most 64 characters), got `{s}`"
            ))
        }
    }
}

impl From<Name> for String {
    fn from(v: Name) -> String {
        v.0
    }
}

impl JsonSchema for Name {
    fn schema_name() -> Cow<'static, str> {
        "Name".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[a-z][a-z0-9_-]{0,63}$" })
    }
}

/// A SHA-256 digest written as 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// The digest as hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Sha256Hex(s.to_ascii_lowercase()))
        } else {
            Err(format!(
                "expected 64 hex characters (a SHA-256 digest), got `{s}`"
            ))
        }
    }
}

impl From<Sha256Hex> for String {
    fn from(v: Sha256Hex) -> String {
        v.0
    }
}

impl JsonSchema for Sha256Hex {
    fn schema_name() -> Cow<'static, str> {
        "Sha256Hex".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[0-9a-fA-F]{64}$" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range_values() {
        assert!(Positive::try_from(0.0).is_err());
        assert!(Positive::try_from(f64::NAN).is_err());
        assert!(Fraction::try_from(1.0).is_err());
        assert!(Count::try_from(0).is_err());
        assert!(Name::parse("Credit").is_err());
        assert!(Name::parse("../etc").is_err());
        assert!(Name::parse("credit-scoring_2").is_ok());
    }
}
