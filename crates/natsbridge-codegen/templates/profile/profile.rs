{{ preamble -}}
//! The runtime profile of wire v1 (`schema/runtime_profile_v1.json`): every constant and
//! rule a runtime applies beyond the wire shapes. The TypeScript, Python, MicroPython and
//! Julia runtimes get the same names from the same file; the hand-written runtime never
//! spells these values itself.

use crate::ErrorCode;

/// HTTP statuses: the listed ones and the inclusive ranges, less the exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRule {
    pub statuses: &'static [u16],
    pub ranges: &'static [(u16, u16)],
    pub except: &'static [u16],
}

impl StatusRule {
    /// Whether the rule takes `status`.
    pub fn matches(&self, status: u16) -> bool {
        !self.except.contains(&status)
            && (self.statuses.contains(&status) || self.ranges.iter().any(|&(a, b)| (a..=b).contains(&status)))
    }
}
{% for g in groups %}
// {{ g.name }}: {{ g.doc }}
{% for c in g.constants %}
{%- for line in c.doc %}
/// {{ line }}
{%- endfor %}
pub const {{ c.name }}: {{ c.rust_ty }} = {{ c.rust }};
{% endfor %}
{%- endfor %}
{%- for p in predicates %}
/// Whether [`{{ p.konst }}`] takes `status`.
pub fn {{ p.snake }}(status: u16) -> bool {
    {{ p.konst }}.matches(status)
}
{% endfor %}
