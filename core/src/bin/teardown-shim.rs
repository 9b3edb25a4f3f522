//! The stand-alone shim binary. See [`teardown::shim`].
fn main() {
    teardown::run_shim(std::env::args_os().skip(1));
}
