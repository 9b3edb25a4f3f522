//! The single-threaded tree builder. See [`teardown_benches::helper`].
fn main() -> std::process::ExitCode {
    teardown_benches::helper::main()
}
