//! The core crate's shim, built with the benches so that `cargo bench -p
//! teardown-benches` has it (cargo builds a package's own binaries for its benches,
//! not its dependencies'). See `teardown::shim`.
fn main() {
    teardown::run_shim(std::env::args_os().skip(1));
}
