//! Bytes → the spec parser; see `teardown_harness::fuzz::spec_text`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| teardown_harness::fuzz::spec_text(data));
