//! Prints the README's drain and trial tables from the last `cargo bench -p teardown-benches`.
fn main() -> std::process::ExitCode {
    teardown_benches::table::main()
}
