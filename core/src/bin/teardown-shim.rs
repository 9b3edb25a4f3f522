//! The stand-alone shim binary. See [`teardown::shim`].
fn main() {
    teardown::shim::run(std::env::args_os().skip(1));
}
