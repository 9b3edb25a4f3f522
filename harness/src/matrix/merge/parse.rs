//! Reading a shard's JSON output back: the plan it describes and its trials.

use std::time::Duration;

use serde_json::Value;
use teardown::{Availability, Method, Probe, Verdict};

use super::{Input, MergeError, not_a_report};
use crate::matrix::plan::{Column, Plan, Timing};
use crate::matrix::rows::{Judge, Row, resolve_teardown};
use crate::matrix::spec_text;
use crate::shell::trigger_name;
use crate::trial::{Supervisor, TrialOutcome, Trigger};

/// The plan an output describes, with this build's catalog.
pub(super) fn rebuild(input: &Input) -> Result<Plan, MergeError> {
    let (doc, file) = (&input.doc, input.file.as_str());
    let host = &doc["host"];
    let micros = |k: &str| {
        host[k]
            .as_u64()
            .map(Duration::from_micros)
            .ok_or_else(|| not_a_report(file, format!("no host.{k}")))
    };
    let timing = Timing {
        grace: micros("grace_us")?,
        straggler_grace: micros("straggler_grace_us")?,
        deadline: micros("deadline_us")?,
    };
    let rows = array(doc, "supervisors", file)?
        .iter()
        .map(|s| row(s, file))
        .collect::<Result<Vec<_>, _>>()?;
    let columns = doc["plan"]["trees"]
        .as_array()
        .ok_or_else(|| not_a_report(file, "no plan.trees"))?
        .iter()
        .map(|t| column(t, file))
        .collect::<Result<Vec<_>, _>>()?;
    let trigger = match doc["plan"]["trigger"].as_str() {
        None => None,
        Some(w) => Some(trigger_named(w).ok_or_else(|| not_a_report(file, "bad plan.trigger"))?),
    };
    Ok(Plan {
        rows,
        columns,
        timing,
        jobs: host["jobs"].as_u64().unwrap_or(1).max(1) as usize,
        seed: host["seed"].as_u64(),
        bystanders: host["bystanders"].as_u64().unwrap_or(1) as u32,
        trigger,
        probe: probe(host, file)?,
        shard: None,
    })
}

fn row(s: &Value, file: &str) -> Result<Row, MergeError> {
    let label = text(s, "supervisor", file)?;
    let argv: Vec<String> = serde_json::from_value(s["argv"].clone())
        .map_err(|_| not_a_report(file, format!("{label}: no argv")))?;
    let judge = match text(s, "judged_by", file)? {
        "catalog" => Judge::Method(
            label
                .strip_prefix("method:")
                .and_then(|m| m.parse::<Method>().ok())
                .ok_or_else(|| not_a_report(file, format!("{label} is not a method here")))?,
        ),
        "peer" => Judge::Peer(
            teardown_scenarios::peers::by_argv(&argv)
                .ok_or_else(|| not_a_report(file, format!("{label} is not a peer here")))?,
        ),
        "clean" => Judge::Clean,
        _ => Judge::Unjudged,
    };
    let supervisor = match judge {
        Judge::Method(m) => Supervisor::Method(m),
        // What this machine would run, as a run here shows it in replay lines.
        _ => Supervisor::External(resolve_teardown(&argv)),
    };
    Ok(Row {
        label: label.to_owned(),
        header: text(s, "header", file)?.to_owned(),
        supervisor,
        argv,
        available: Ok(()),
        judge,
    })
}

fn column(t: &Value, file: &str) -> Result<Column, MergeError> {
    let name = text(t, "name", file)?;
    let spec_text = text(t, "spec", file)?;
    let spec =
        spec_text::parse(spec_text).map_err(|e| not_a_report(file, format!("tree {name}: {e}")))?;
    let trigger = trigger_named(text(t, "trigger", file)?)
        .ok_or_else(|| not_a_report(file, format!("tree {name}: bad trigger")))?;
    Ok(Column {
        name: name.to_owned(),
        spec_text: spec_text.to_owned(),
        spec,
        trigger,
        scenario: teardown_scenarios::by_name(name).ok(),
    })
}

fn probe(host: &Value, file: &str) -> Result<Probe, MergeError> {
    let facts = serde_json::from_value(host.clone())
        .map_err(|e| not_a_report(file, format!("host: {e}")))?;
    let methods = Method::ALL
        .into_iter()
        .map(|m| {
            let a = serde_json::from_value::<Availability>(host["methods"][m.name()].clone())
                .unwrap_or_else(|_| Availability::Unsupported {
                    reason: "not in the shard's host probe".to_owned(),
                });
            (m, a)
        })
        .collect();
    Ok(Probe {
        host: facts,
        methods,
        auto: host["auto"].as_str().and_then(|m| m.parse().ok()),
    })
}

pub(super) fn outcome(t: &Value, file: &str) -> Result<TrialOutcome, MergeError> {
    let count = |k: &str| t[k].as_u64().unwrap_or(0) as u32;
    let verdict: Verdict = text(t, "verdict", file)?
        .parse()
        .map_err(|_| not_a_report(file, format!("bad verdict {}", t["verdict"])))?;
    Ok(TrialOutcome {
        verdict,
        detail: t["detail"].as_str().map(str::to_owned),
        survivors: count("survivors"),
        stragglers: count("stragglers"),
        dying: count("dying"),
        zombies: count("zombies"),
        orphaned_zombies: count("orphaned_zombies"),
        bystanders_killed: count("bystanders_killed"),
        report: serde_json::from_value(t["report"].clone()).unwrap_or(None),
        drain: t["drain_us"].as_u64().map(Duration::from_micros),
        elapsed: Duration::from_micros(t["elapsed_us"].as_u64().unwrap_or(0)),
        cpu: Default::default(),
        nodes: Vec::new(),
        findings: serde_json::from_value(t["findings"].clone()).unwrap_or_default(),
    })
}

/// The trigger a word names (`trigger_name`'s inverse).
fn trigger_named(word: &str) -> Option<Trigger> {
    [
        Trigger::Sigterm,
        Trigger::Sigint,
        Trigger::Timeout,
        Trigger::LeaderExit,
    ]
    .into_iter()
    .find(|&t| trigger_name(t) == word)
}

pub(super) fn array<'a>(
    doc: &'a Value,
    key: &str,
    file: &str,
) -> Result<&'a Vec<Value>, MergeError> {
    doc[key]
        .as_array()
        .ok_or_else(|| not_a_report(file, format!("no \"{key}\" array")))
}

pub(super) fn text<'a>(v: &'a Value, key: &str, file: &str) -> Result<&'a str, MergeError> {
    v[key]
        .as_str()
        .ok_or_else(|| not_a_report(file, format!("no \"{key}\" string")))
}
