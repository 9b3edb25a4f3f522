//! A random process table and scene → the oracle, against its documented rules;
//! see `teardown_harness::fuzz::oracle`.
#![no_main]

use teardown_harness::fuzz::OracleCase;

libfuzzer_sys::fuzz_target!(|case: OracleCase| teardown_harness::fuzz::oracle(&case));
