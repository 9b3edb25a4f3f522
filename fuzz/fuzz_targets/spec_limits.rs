//! A structure-aware spec → the limit checker and the text form; see
//! `teardown_harness::fuzz::spec_limits`.
#![no_main]

use teardown_harness::spec::TreeSpec;

libfuzzer_sys::fuzz_target!(|spec: TreeSpec| teardown_harness::fuzz::spec_limits(&spec));
