//! Spec text ↔ [`TreeSpec`], in one place: the matrix keeps every spec's canonical
//! text beside it (for tables, JSON and replay lines).

use crate::spec::TreeSpec;

/// Parses spec text (default limits); the error is the parser's one-line message.
pub fn parse(text: &str) -> Result<TreeSpec, String> {
    text.parse::<TreeSpec>().map_err(|e| e.to_string())
}

/// The canonical text of a spec.
pub fn print(spec: &TreeSpec) -> String {
    spec.to_string()
}
