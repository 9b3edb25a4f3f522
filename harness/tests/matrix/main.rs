//! Integration tests of the matrix, `teardown check` and the scenario expectations.
//! They run real trials (the `teardown` binary cargo builds beside this test is the
//! warden); tests that need a method or a peer this host lacks skip with a message.

mod check_api;
mod cli;
mod expectations;
mod peers;
mod readme;
mod shards;
mod support;
