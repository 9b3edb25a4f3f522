//! Spec text form, limits and walks: the `spec` integration tests.

mod fuzz;
mod limits;
#[cfg(feature = "proptest")]
mod prop;
mod text;
mod walk;
