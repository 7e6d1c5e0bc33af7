{{ preamble -}}
//! Scalar wire types: open enums (unknown values are kept, not rejected) and
//! constrained strings (kept exactly as written).

use std::fmt;
{%- if has_scalars %}
use std::str::FromStr;
{%- endif %}
{%- if has_patterns %}
use std::sync::LazyLock;
{%- endif %}
{% for m in maps %}
/// A free-form JSON object; key order is preserved.
pub type {{ m }} = ::serde_json::Map<::std::string::String, ::serde_json::Value>;
{% endfor %}
/// A string that does not satisfy its schema type's constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstraintError {
    /// The schema type that was being built.
    pub type_name: &'static str,
    /// The rejected value.
    pub value: String,
    /// The rule that was broken.
    pub rule: &'static str,
}

impl fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a valid {}: {}", self.value, self.type_name, self.rule)
    }
}

impl std::error::Error for ConstraintError {}
{%- if has_scalars %}

fn schema_fragment(json: &str) -> ::schemars::Schema {
    let value: ::serde_json::Value = ::serde_json::from_str(json).expect("generated from valid JSON");
    ::schemars::Schema::try_from(value).expect("generated from a schema object")
}
{%- endif %}
{% for e in enums %}
/// {{ e.description }}
///
/// Known values are variants; any other string is kept in `Unknown` so an old reader
/// never fails on a value a newer writer added.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum {{ e.name }} {
{%- for v in e.variants %}
    /// `{{ v.value }}`
    {{ v.variant }},
{%- endfor %}
    /// A value this version of the schema does not know.
    Unknown(String),
}

impl {{ e.name }} {
    /// Every value the schema lists, in schema order.
    pub const KNOWN: &'static [&'static str] = &[{% for v in e.variants %}"{{ v.value }}", {% endfor %}];

    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
{%- for v in e.variants %}
            Self::{{ v.variant }} => "{{ v.value }}",
{%- endfor %}
            Self::Unknown(s) => s,
        }
    }

    /// False for `Unknown`.
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown(_))
    }
}

impl From<&str> for {{ e.name }} {
    fn from(s: &str) -> Self {
        match s {
{%- for v in e.variants %}
            "{{ v.value }}" => Self::{{ v.variant }},
{%- endfor %}
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl From<String> for {{ e.name }} {
    fn from(s: String) -> Self {
        match Self::from(s.as_str()) {
            Self::Unknown(_) => Self::Unknown(s),
            known => known,
        }
    }
}

impl FromStr for {{ e.name }} {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s))
    }
}

impl fmt::Display for {{ e.name }} {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ::serde::Serialize for {{ e.name }} {
    fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> ::serde::Deserialize<'de> for {{ e.name }} {
    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from)
    }
}

impl ::schemars::JsonSchema for {{ e.name }} {
    fn schema_name() -> ::std::borrow::Cow<'static, str> {
        "{{ e.schema_name }}".into()
    }
    fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
        schema_fragment(r##"{{ e.schema_json }}"##)
    }
}
{% endfor %}
{%- for s in strings %}
/// {{ s.description }}
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize)]
#[serde(transparent)]
pub struct {{ s.name }}(String);

impl {{ s.name }} {
    /// Checks `value` against the schema's constraints.
    pub fn new(value: impl Into<String>) -> Result<Self, ConstraintError> {
        let value = value.into();
{%- if let Some(min) = s.min_length %}
{%- if s.min_index == 0 %}
        if value.is_empty() {
{%- else %}
        // Counts at most {{ min }} characters, not the whole string.
        if value.chars().nth({{ s.min_index }}).is_none() {
{%- endif %}
            return Err(ConstraintError { type_name: "{{ s.schema_name }}", value, rule: "minLength {{ min }}" });
        }
{%- endif %}
{%- if let Some(pattern) = s.pattern %}
{%- if let Some(m) = s.matcher %}
        if !{{ m.fn_name }}(value.as_bytes()) {
            return Err(ConstraintError { type_name: "{{ s.schema_name }}", value, rule: r"pattern {{ pattern }}" });
        }
{%- else %}
        static PATTERN: LazyLock<::regress::Regex> =
            LazyLock::new(|| ::regress::Regex::new(r"{{ pattern }}").expect("the schema's pattern compiles"));
        if PATTERN.find(&value).is_none() {
            return Err(ConstraintError { type_name: "{{ s.schema_name }}", value, rule: r"pattern {{ pattern }}" });
        }
{%- endif %}
{%- endif %}
        Ok(Self(value))
    }

    /// The string exactly as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for {{ s.name }} {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for {{ s.name }} {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for {{ s.name }} {
    type Err = ConstraintError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for {{ s.name }} {
    type Error = ConstraintError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<&str> for {{ s.name }} {
    type Error = ConstraintError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<{{ s.name }}> for String {
    fn from(v: {{ s.name }}) -> String {
        v.0
    }
}

impl<'de> ::serde::Deserialize<'de> for {{ s.name }} {
    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(::serde::de::Error::custom)
    }
}

impl ::schemars::JsonSchema for {{ s.name }} {
    fn schema_name() -> ::std::borrow::Cow<'static, str> {
        "{{ s.schema_name }}".into()
    }
    fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
        schema_fragment(r##"{{ s.schema_json }}"##)
    }
}
{%- if let Some(m) = s.matcher %}

/// Whether `s` matches `{{ s.pattern.as_deref().unwrap_or_default() }}`: the pattern compiled by the generator
/// into one pass over the bytes (it is LL(1): one byte decides every repetition).
fn {{ m.fn_name }}(s: &[u8]) -> bool {
{{ m.body }}
}
{%- endif %}
{% endfor %}
{%- if has_matchers %}

#[cfg(test)]
mod tests {
    /// Each compiled pattern agrees with an ECMA-262 engine (regress) on strings the
    /// generator made to sit on both sides of it.
    #[test]
    fn compiled_patterns_agree_with_regress() {
        let cases: &[(&str, fn(&[u8]) -> bool, &[&str])] = &[
{%- for s in strings %}
{%- if let Some(m) = s.matcher %}
            (r"{{ s.pattern.as_deref().unwrap_or_default() }}", super::{{ m.fn_name }}, &[{{ m.samples }}]),
{%- endif %}
{%- endfor %}
        ];
        for (pattern, matches, samples) in cases {
            let regex = ::regress::Regex::new(pattern).expect("the schema's pattern compiles");
            for s in *samples {
                assert_eq!(matches(s.as_bytes()), regex.find(s).is_some(), "{pattern} on {s:?}");
            }
        }
    }
}
{%- endif %}
