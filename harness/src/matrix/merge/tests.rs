//! Merging fabricated shard outputs: equal to the whole run, and every refusal.

use serde_json::json;
use teardown::{Method, Verdict};

use super::*;
use crate::matrix::plan::Plan;
use crate::matrix::run::run_with;
use crate::matrix::run::tests::{fake_plan, outcome};
use crate::matrix::{json, markdown, table};
use crate::trial::{Supervisor, Trial, TrialOutcome};

/// leader leaks, killpg leaks on escapes, the rest is clean; cgroup is
/// unsupported in the fake probe.
fn plan() -> Plan {
    let mut plan = fake_plan(
        &[
            Method::Leader,
            Method::Killpg,
            Method::Cgroup,
            Method::Pidns,
        ],
        &[
            "setsid-escape",
            "double-fork",
            "stopped",
            "jmmv-grandchild",
            "sigterm-ignored",
        ],
    );
    plan.seed = Some(5);
    plan
}

fn runner(t: &Trial) -> TrialOutcome {
    let escapes = t.spec.to_string().contains("setsid");
    match t.supervisor {
        Supervisor::Method(Method::Leader) => outcome(Verdict::Leak, Some(400)),
        Supervisor::Method(Method::Killpg) if escapes => outcome(Verdict::Leak, Some(300)),
        _ => outcome(Verdict::Clean, Some(900)),
    }
}

fn whole() -> Report {
    run_with(plan(), &runner, &mut |_| {})
}

fn shard_inputs(plan: &Plan, n: u32) -> Vec<Input> {
    Shard::all(n)
        .map(|s| {
            let mut p = plan.clone();
            p.shard = Some(s);
            Input {
                file: format!("shard-{}.json", s.index()),
                doc: json::render(&run_with(p, &runner, &mut |_| {})),
            }
        })
        .collect()
}

fn without_summary(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[..lines.len() - 1].to_vec()
}

#[test]
fn merged_shards_equal_the_whole_run_cell_for_cell() {
    let whole = whole();
    let whole_doc = json::render(&whole);
    for n in 1..=5 {
        let merged = merge(shard_inputs(&plan(), n)).unwrap();
        let doc = json::render(&merged);
        assert_eq!(doc["trials"], whole_doc["trials"], "{n} shards");
        assert_eq!(doc["supervisors"], whole_doc["supervisors"], "{n} shards");
        assert_eq!(doc["plan"], whole_doc["plan"], "{n} shards");
        assert_eq!(merged.summary(), whole.summary());
        assert_eq!(merged.passed(), whole.passed());
        assert_eq!(merged.parts.len(), n as usize);
        let style = table::TableStyle::default();
        assert_eq!(
            without_summary(&table::render(&merged, style)),
            without_summary(&table::render(&whole, style))
        );
        assert_eq!(
            without_summary(&markdown::render(&merged)),
            without_summary(&markdown::render(&whole))
        );
        assert!(
            table::summary_line(&merged).contains(&format!(" in {n} shards of ")) || n == 1,
            "{}",
            table::summary_line(&merged)
        );
    }
}

#[test]
fn shards_merge_the_same_in_any_order_and_from_one_stream() {
    let mut inputs = shard_inputs(&plan(), 3);
    inputs.reverse();
    let reversed = json::render(&merge(inputs).unwrap());
    let text: String = shard_inputs(&plan(), 3)
        .iter()
        .map(|i| serde_json::to_string_pretty(&i.doc).unwrap() + "\n")
        .collect();
    let streamed = json::render(&merge(read("-", &text).unwrap()).unwrap());
    assert_eq!(reversed["trials"], streamed["trials"]);
    assert_eq!(reversed["trials"], json::render(&whole())["trials"]);
}

#[test]
fn one_whole_run_merges_to_itself() {
    let doc = json::render(&whole());
    let merged = merge(vec![Input {
        file: "all.json".into(),
        doc: doc.clone(),
    }])
    .unwrap();
    assert_eq!(json::render(&merged)["trials"], doc["trials"]);
    let line = table::summary_line(&merged);
    assert!(line.starts_with("20 trials in 0.0 s (jobs 2): "), "{line}");
    assert!(line.ends_with("; random trees from seed 5"), "{line}");
}

#[test]
fn an_unexpected_verdict_in_any_shard_fails_the_merge_as_it_fails_the_run() {
    let bad = |t: &Trial| match t.supervisor {
        Supervisor::Method(Method::Pidns) => outcome(Verdict::Leak, Some(1)),
        _ => runner(t),
    };
    let whole = run_with(plan(), &bad, &mut |_| {});
    assert!(!whole.passed());
    let inputs = Shard::all(2)
        .map(|s| {
            let mut p = plan();
            p.shard = Some(s);
            Input {
                file: s.to_string(),
                doc: json::render(&run_with(p, &bad, &mut |_| {})),
            }
        })
        .collect();
    let merged = merge(inputs).unwrap();
    assert!(!merged.passed());
    assert_eq!(merged.summary(), whole.summary());
}

fn refusal(inputs: Vec<Input>) -> String {
    merge(inputs).unwrap_err().to_string()
}

#[test]
fn shards_of_another_seed_or_options_are_refused_saying_what_differs() {
    let mut inputs = shard_inputs(&plan(), 2);
    let mut other = plan();
    other.seed = Some(6);
    inputs[1] = shard_inputs(&other, 2).remove(1);
    let err = refusal(inputs);
    assert!(
        err.contains("shard-2.json is not a shard of the same run as shard-1.json: the seed differs (5 and 6)"),
        "{err}"
    );
    let mut inputs = shard_inputs(&plan(), 2);
    let mut other = plan();
    other.timing.deadline = std::time::Duration::from_secs(9);
    inputs[0] = shard_inputs(&other, 2).remove(0);
    assert!(refusal(inputs).contains("--deadline (µs) differs"));
}

#[test]
fn a_missing_or_doubled_shard_is_refused() {
    let mut inputs = shard_inputs(&plan(), 3);
    inputs.remove(1);
    let err = refusal(inputs);
    assert!(
        err.contains("missing shard 2/3 (have 1/3, 3/3): run the same command with --shard 2/3"),
        "{err}"
    );
    let mut inputs = shard_inputs(&plan(), 3);
    inputs.push(inputs[2].clone());
    assert!(refusal(inputs).contains("shard 3/3 is given twice"));
    let mut inputs = shard_inputs(&plan(), 3);
    inputs[0] = shard_inputs(&plan(), 2).remove(0);
    let err = refusal(inputs);
    assert!(
        err.contains("is shard 2/3 and") && err.contains("is shard 1/2"),
        "{err}"
    );
    let mut inputs = shard_inputs(&plan(), 2);
    inputs.push(Input {
        file: "all.json".into(),
        doc: json::render(&whole()),
    });
    assert!(refusal(inputs).contains("all.json is a whole run"));
    assert!(matches!(merge(Vec::new()), Err(MergeError::Nothing)));
}

#[test]
fn a_cell_given_twice_or_never_is_refused() {
    let mut inputs = shard_inputs(&plan(), 2);
    let stolen = inputs[0].doc["trials"][0].clone();
    inputs[1].doc["trials"].as_array_mut().unwrap().push(stolen);
    let err = refusal(inputs);
    assert!(
        err.contains("is in both shard-1.json and shard-2.json"),
        "{err}"
    );
    let mut inputs = shard_inputs(&plan(), 2);
    inputs[1].doc["trials"].as_array_mut().unwrap().pop();
    let err = refusal(inputs);
    assert!(
        err.contains("1 cell(s) of the plan are in no output"),
        "{err}"
    );
}

#[test]
fn outputs_of_another_build_or_of_something_else_are_refused() {
    let mut inputs = shard_inputs(&plan(), 2);
    for i in &mut inputs {
        i.doc["plan"]["id"] = json!("0123456789abcdef");
    }
    let err = refusal(inputs);
    assert!(
        err.contains("another teardown build (plan 0123456789abcdef"),
        "{err}"
    );
    let err = refusal(vec![Input {
        file: "x.json".into(),
        doc: json!({"trials": []}),
    }]);
    assert!(
        err.starts_with("x.json: not the JSON of `teardown matrix` or `teardown check`"),
        "{err}"
    );
    assert!(
        read("y.json", "{\"a\": ")
            .unwrap_err()
            .to_string()
            .starts_with("y.json: not JSON")
    );
}

#[test]
fn a_row_one_host_could_not_run_keeps_each_cell_as_its_shard_judged_it() {
    let mut inputs = shard_inputs(&plan(), 2);
    // Shard 2's host could not run pidns: its pidns cells are unsupported, unjudged.
    let mut p = plan();
    p.shard = Some(Shard::new(2, 2).unwrap());
    p.rows[3].available = Err("no user namespaces here".into());
    inputs[1].doc = json::render(&run_with(p, &runner, &mut |_| {}));
    let merged = merge(inputs).unwrap();
    let reason = merged.plan.rows[3].available.clone().unwrap_err();
    assert_eq!(
        reason,
        "no user namespaces here (on shard 2/2; it ran on others)"
    );
    let pidns: Vec<Option<bool>> = merged
        .cells
        .iter()
        .filter(|c| c.row == 3)
        .map(|c| c.as_expected())
        .collect();
    assert!(
        pidns.contains(&Some(true)) && pidns.contains(&None),
        "{pidns:?}"
    );
    assert_eq!(merged.unexpected().count(), whole().unexpected().count());
}
