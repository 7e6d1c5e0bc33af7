//! What a comparison finds: [`Change`]s, each judged for the two mixes of versions that
//! meet on the wire while a change rolls out.

use serde::Serialize;

/// Whether one mix of versions keeps working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    /// It keeps working.
    Ok,
    /// It breaks.
    Breaks,
}

/// One classified change.
///
/// `receivers` and `senders` answer the two questions of a rollout:
///
/// - **receivers**: do receivers built from the *old* document still work with senders
///   built from the *new* one (senders upgraded first)? A break here *breaks receivers*
///   (forward incompatible).
/// - **senders**: do senders built from the old document still work with receivers built
///   from the new one (receivers upgraded first)? A break here *breaks senders* (backward
///   incompatible).
///
/// A reply travels the other way: its writer is the operation's receiver, so a change to a
/// reply message counts for the opposite side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The rule's identifier, e.g. `required-added`.
    pub rule: &'static str,
    /// A readable path: `Health.status`, `channels.health`, `MsgEnvelopeV1.priority`.
    pub location: String,
    /// A URI reference into the document: `#/components/schemas/Health/properties/status`,
    /// or `schemas/health.json#/properties/status` in a file beside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The operation (its key) the change reaches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The message (its key) the change is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What changed, and why it matters on the wire.
    pub detail: String,
    /// Old receivers with new senders.
    pub receivers: Compat,
    /// Old senders with new receivers.
    pub senders: Compat,
}

impl Change {
    /// It breaks one side or both.
    pub fn breaking(&self) -> bool {
        self.receivers == Compat::Breaks || self.senders == Compat::Breaks
    }
}

/// Collects changes, stamping each with where the comparison is.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    pub(crate) changes: Vec<Change>,
    /// The operation being compared.
    pub(crate) operation: Option<String>,
    /// The message being compared.
    pub(crate) message: Option<String>,
    /// Comparing a reply: the writer is the operation's receiver.
    pub(crate) reply: bool,
}

impl Diff {
    /// Records a change; `forward` is old readers of new writers' messages, `backward` new
    /// readers of old writers' messages (swapped into senders/receivers for a reply).
    pub(crate) fn push(
        &mut self,
        location: impl Into<String>,
        pointer: Option<String>,
        rule: &'static str,
        detail: impl Into<String>,
        forward: Compat,
        backward: Compat,
    ) {
        let (receivers, senders) = if self.reply { (backward, forward) } else { (forward, backward) };
        self.changes.push(Change {
            rule,
            location: location.into(),
            pointer,
            operation: self.operation.clone(),
            message: self.message.clone(),
            detail: detail.into(),
            receivers,
            senders,
        });
    }
}
