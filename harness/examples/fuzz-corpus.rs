//! Writes the fuzz corpora from the proptest strategies and the committed seeds:
//!
//! ```text
//! cargo run -p teardown-harness --features arbitrary --example fuzz-corpus [-- COUNT [SEED]]
//! ```
//!
//! * `fuzz/corpus/spec_text/`: the text of `COUNT` (default 300) random trees, half
//!   with the default `PropParams` and half with bigger ones (up to 300 nodes,
//!   depth 10), plus every file of `fuzz/corpus/seed/` and every scenario of
//!   `teardown-scenarios`;
//! * `fuzz/corpus/spec_limits/`: the same specs as the bytes `arbitrary` builds
//!   them from (`teardown_harness::spec::arb::encode`);
//! * `fuzz/corpus/trial/`: every scenario and the first [`TRIAL_RANDOM`] random
//!   trees, cut the way the target cuts its input (`fuzz::small_tree`), encoded
//!   the same way. Fewer than the others: every input is two real trials.
//!
//! Deterministic for a seed; file names are a hash of the contents, so running it
//! twice adds nothing. The corpus directories are git-ignored.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use teardown_harness::prop::{PropParams, tree_spec};
use teardown_harness::spec::{Limits, TreeSpec, arb};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(300), |a| a.parse())?;
    let seed: u8 = args.next().map_or(Ok(1), |a| a.parse())?;
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let text_dir = fuzz.join("corpus/spec_text");
    let limits_dir = fuzz.join("corpus/spec_limits");
    let trial_dir = fuzz.join("corpus/trial");
    fs::create_dir_all(&text_dir)?;
    fs::create_dir_all(&limits_dir)?;
    fs::create_dir_all(&trial_dir)?;

    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    let small = tree_spec(PropParams::default());
    let big = tree_spec(PropParams {
        max_nodes: 300,
        max_depth: 10,
        max_fanout: 5,
        max_count: 8,
        ..PropParams::default()
    });
    let mut specs = Vec::with_capacity(count);
    for i in 0..count {
        let strategy = if i % 2 == 0 { &small } else { &big };
        let tree = strategy.new_tree(&mut runner).map_err(|r| r.to_string())?;
        specs.push(tree.current());
    }
    let mut seeds = 0;
    for entry in fs::read_dir(fuzz.join("corpus/seed"))? {
        let bytes = fs::read(entry?.path())?;
        write(&text_dir, &bytes)?;
        seeds += 1;
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(spec) = TreeSpec::parse_with(&text, &Limits::unlimited()) {
            specs.push(spec);
        }
    }
    let scenarios = teardown_scenarios::all();
    let mut trial_specs: Vec<&TreeSpec> = specs.iter().step_by(2).take(TRIAL_RANDOM).collect();
    let scenario_specs = scenarios
        .iter()
        .map(|s| TreeSpec::parse(s.spec).map_err(|e| format!("scenario {}: {e}", s.name)))
        .collect::<Result<Vec<_>, _>>()?;
    trial_specs.extend(&scenario_specs);
    let mut trial_inputs = std::collections::BTreeSet::new();
    for spec in trial_specs {
        if let Some(bytes) = arb::encode(&teardown_harness::fuzz::small_tree(spec)) {
            trial_inputs.insert(write(&trial_dir, &bytes)?);
        }
    }
    specs.extend(scenario_specs);
    let mut encoded = 0;
    for spec in &specs {
        write(&text_dir, spec.to_string().as_bytes())?;
        if let Some(bytes) = arb::encode(spec) {
            write(&limits_dir, &bytes)?;
            encoded += 1;
        }
    }
    println!(
        "{} specs ({count} random, {seeds} seed files, {} scenarios) -> {}; {encoded} encoded -> {}; \
         {} small trees -> {}",
        specs.len(),
        scenarios.len(),
        text_dir.display(),
        limits_dir.display(),
        trial_inputs.len(),
        trial_dir.display()
    );
    Ok(())
}

/// Random trees (the small ones, default `PropParams`) seeded into the `trial`
/// corpus, besides every scenario.
const TRIAL_RANDOM: usize = 40;

/// Writes `bytes` to `dir/<fnv-1a hash>`.
fn write(dir: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{hash:016x}"));
    fs::write(&path, bytes)?;
    Ok(path)
}
