//! Errors of the catalog look-ups.

/// A scenario name that is not in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario \"{name}\" (expected one of: {})", valid.join(", "))]
pub struct UnknownScenario {
    /// The name that was given.
    pub name: String,
    /// Every valid name, in catalog order.
    pub valid: Vec<&'static str>,
}

/// A peer name that is not in [`crate::peers::all`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown peer \"{name}\" (expected one of: {})", valid.join(", "))]
pub struct UnknownPeer {
    /// The name that was given.
    pub name: String,
    /// Every valid name.
    pub valid: Vec<&'static str>,
}

/// A trigger word that is not one of [`crate::Trigger::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trigger \"{word}\" (expected one of: sigterm, sigint, timeout, leader-exit)")]
pub struct ParseTriggerError {
    /// The word that was given.
    pub word: String,
}
