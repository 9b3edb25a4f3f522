//! The JSON document (`--format json`); the schema is in the workspace README.md
//! (section "JSON").

use serde_json::{Map, Value, json};

use crate::matrix::run::{Cell, Report};
use crate::shell::trigger_name;

/// One object: `{"host": {...}, "plan": {...}, "supervisors": [...], "trials": [...],
/// "summary": {...}}`, and `"shards": [...]` for a merged report.
pub fn render(report: &Report) -> Value {
    let plan = &report.plan;
    let mut host = match serde_json::to_value(&plan.probe.host) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let methods: Map<String, Value> = plan
        .probe
        .methods
        .iter()
        .map(|(m, a)| {
            (
                m.name().to_owned(),
                serde_json::to_value(a).unwrap_or(Value::Null),
            )
        })
        .collect();
    host.insert("teardown_version".into(), json!(env!("CARGO_PKG_VERSION")));
    host.insert("methods".into(), Value::Object(methods));
    host.insert("auto".into(), json!(plan.probe.auto.map(|m| m.name())));
    host.insert("jobs".into(), json!(plan.jobs));
    host.insert("seed".into(), json!(plan.seed));
    host.insert(
        "grace_us".into(),
        json!(plan.timing.grace.as_micros() as u64),
    );
    host.insert(
        "straggler_grace_us".into(),
        json!(plan.timing.straggler_grace.as_micros() as u64),
    );
    host.insert(
        "deadline_us".into(),
        json!(plan.timing.deadline.as_micros() as u64),
    );
    host.insert("bystanders".into(), json!(plan.bystanders));

    let supervisors: Vec<Value> = plan
        .rows
        .iter()
        .map(|r| {
            json!({
                "supervisor": r.label,
                "header": r.header,
                "available": r.available.is_ok(),
                "reason": r.available.as_ref().err(),
                "judged_by": r.judge.name(),
                "argv": r.argv,
            })
        })
        .collect();

    let trials: Vec<Value> = report.cells.iter().map(|c| trial(report, c)).collect();
    let mut summary = match serde_json::to_value(report.summary()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    summary.insert(
        "elapsed_us".into(),
        json!(report.elapsed.as_micros() as u64),
    );

    let mut doc = json!({
        "host": host,
        "plan": plan_doc(report),
        "supervisors": supervisors,
        "trials": trials,
        "summary": summary,
    });
    if !report.parts.is_empty() {
        doc["shards"] = report
            .parts
            .iter()
            .map(|p| {
                json!({
                    "shard": p.shard,
                    "file": p.file,
                    "trials": p.trials,
                    "elapsed_us": p.elapsed.as_micros() as u64,
                    "jobs": p.jobs,
                    "kernel": p.kernel,
                })
            })
            .collect();
    }
    doc
}

/// What a merge needs to put shards back together: the plan's identity, its size,
/// which shard this is, and every tree (a shard's trials need not name them all).
fn plan_doc(report: &Report) -> Value {
    let plan = &report.plan;
    let trees: Vec<Value> = plan
        .columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "spec": c.spec_text,
                "trigger": trigger_name(c.trigger),
            })
        })
        .collect();
    json!({
        "id": plan.id(),
        "cells": plan.len(),
        "shard": plan.shard,
        "trigger": plan.trigger.map(trigger_name),
        "trees": trees,
    })
}

fn trial(report: &Report, c: &Cell) -> Value {
    let plan = &report.plan;
    let o = &c.outcome;
    json!({
        "supervisor": plan.rows[c.row].label,
        "scenario": plan.columns[c.col].name,
        "spec": plan.columns[c.col].spec_text,
        "trigger": trigger_name(plan.trigger_of(c.col)),
        "verdict": o.verdict.as_str(),
        "expected": c.expected.map(|e| e.verdicts().iter().map(|v| v.as_str()).collect::<Vec<_>>()),
        "as_expected": c.as_expected(),
        "note": c.expected.and_then(|e| e.note()),
        "survivors": o.survivors,
        "stragglers": o.stragglers,
        "dying": o.dying,
        "zombies": o.zombies,
        "orphaned_zombies": o.orphaned_zombies,
        "bystanders_killed": o.bystanders_killed,
        "findings": o.findings,
        "drain_us": o.drain.map(|d| d.as_micros() as u64),
        "elapsed_us": o.elapsed.as_micros() as u64,
        "detail": o.detail,
        "report": o.report,
        "replay": plan.replay(c.row, c.col),
    })
}

#[cfg(test)]
mod tests {
    use teardown::{Method, Verdict};

    use super::*;
    use crate::matrix::run::run_with;
    use crate::matrix::run::tests::{fake_plan, outcome};
    use crate::trial::{Supervisor, Trial};

    #[test]
    fn every_trial_carries_the_documented_fields() {
        let plan = fake_plan(
            &[Method::Killpg, Method::Cgroup],
            &["setsid-escape", "jmmv-grandchild"],
        );
        let runner = |t: &Trial| match t.supervisor {
            Supervisor::Method(Method::Killpg) => outcome(Verdict::Leak, Some(300)),
            _ => outcome(Verdict::Clean, None),
        };
        let doc = render(&run_with(plan, &runner, &mut |_| {}));
        for key in ["host", "supervisors", "trials", "summary"] {
            assert!(doc.get(key).is_some(), "{key}");
        }
        assert_eq!(doc["host"]["kernel"], "6.18.0-test");
        assert_eq!(doc["host"]["methods"]["cgroup"]["status"], "unsupported");
        let trials = doc["trials"].as_array().unwrap();
        assert_eq!(trials.len(), 4);
        let t = &trials[0];
        for key in [
            "supervisor",
            "scenario",
            "spec",
            "verdict",
            "expected",
            "as_expected",
            "survivors",
            "stragglers",
            "dying",
            "zombies",
            "orphaned_zombies",
            "bystanders_killed",
            "findings",
            "drain_us",
            "elapsed_us",
            "detail",
            "replay",
        ] {
            assert!(t.get(key).is_some(), "trial has no {key}: {t}");
        }
        assert_eq!(t["supervisor"], "method:killpg");
        assert_eq!(t["scenario"], "setsid-escape");
        assert_eq!(t["spec"], "pause [fork: setsid pause]");
        assert_eq!(t["verdict"], "leak");
        assert_eq!(t["expected"], json!(["leak"]));
        assert_eq!(t["as_expected"], true);
        assert_eq!(t["drain_us"], 300);
        assert_eq!(
            t["replay"],
            "teardown replay --method killpg --grace 250ms --deadline 3s --bystanders 1 'pause [fork: setsid pause]'"
        );
        // killpg × jmmv-grandchild came back leak, expected early; leader-exit trigger.
        assert_eq!(trials[1]["as_expected"], false);
        assert_eq!(trials[1]["trigger"], "leader-exit");
        assert!(
            trials[1]["replay"]
                .as_str()
                .unwrap()
                .contains("--trigger leader-exit")
        );
        // cgroup is unsupported: not judged, no drain.
        assert_eq!(trials[2]["verdict"], "unsupported");
        assert_eq!(trials[2]["as_expected"], Value::Null);
        assert_eq!(trials[2]["drain_us"], Value::Null);
        assert_eq!(doc["summary"]["unexpected"], 1);
        assert_eq!(doc["summary"]["by_verdict"]["unsupported"], 2);
    }
}
