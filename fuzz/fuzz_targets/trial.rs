//! A structure-aware spec, cut small → one real trial under the warden with
//! `auto` and with `proc-walk`; see `teardown_harness::fuzz::trial`.
#![no_main]

use teardown_harness::spec::TreeSpec;

libfuzzer_sys::fuzz_target!(|spec: TreeSpec| teardown_harness::fuzz::trial(&spec));
