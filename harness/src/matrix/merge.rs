//! Merging shards: the JSON outputs of `teardown matrix --shard K/N --format json`
//! (or `teardown check`), K = 1 … N, back into the one report a single machine
//! would have made — the same cells in the same order, the same summary and exit
//! status, printable as a table, markdown or JSON (`teardown merge`).
//!
//! Each shard's JSON carries its plan (`"plan"`: identity, size, shard, every
//! tree) beside its supervisors and host settings, so the plan is rebuilt from
//! the outputs alone, with this build's catalog for the expectations. A merge
//! refuses, naming the file and what to do, outputs of different plans (another
//! seed, options or build), two outputs of one shard, a missing shard, and any
//! cell given twice or not at all. A row that one host could run and another
//! could not keeps each cell as its shard judged it.

mod parse;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::Value;

use crate::matrix::run::{Cell, Part, Report};
use crate::matrix::shard::Shard;
use parse::{array, outcome, rebuild, text};

/// One JSON document to merge, and the file it came from (`-`: standard input).
#[derive(Clone, Debug)]
pub struct Input {
    /// The file name, for messages.
    pub file: String,
    /// The document.
    pub doc: Value,
}

/// Shard outputs that do not make one report.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A file is not JSON.
    #[error("{file}: not JSON: {message}")]
    NotJson {
        /// The file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// No document at all.
    #[error(
        "no shard outputs given (give the files of `teardown matrix --shard K/N --format json`)"
    )]
    Nothing,
    /// A document that is not a matrix or check JSON output of this harness.
    #[error(
        "{file}: not the JSON of `teardown matrix` or `teardown check` with --format json ({what})"
    )]
    NotAReport {
        /// The file.
        file: String,
        /// What is missing or wrong.
        what: String,
    },
    /// Two outputs of different plans.
    #[error(
        "{b} is not a shard of the same run as {a}: {difference}; run every shard with the same options and --seed, changing only --shard K/N"
    )]
    OtherPlan {
        /// The first file.
        a: String,
        /// The other file.
        b: String,
        /// What differs.
        difference: String,
    },
    /// Outputs split into different numbers of shards, or a whole run with shards.
    #[error("{b} is {what_b} and {a} is {what_a}: merge the N shards of one run, or one whole run")]
    OtherSplit {
        /// The first file.
        a: String,
        /// What it is: `shard 1/3`, `a whole run`.
        what_a: String,
        /// The other file.
        b: String,
        /// What it is.
        what_b: String,
    },
    /// The same shard twice.
    #[error("shard {shard} is given twice: {a} and {b}")]
    SameShard {
        /// The shard.
        shard: Shard,
        /// The first file.
        a: String,
        /// The other.
        b: String,
    },
    /// Shards missing.
    #[error(
        "missing shard {missing} (have {have}): run the same command with --shard {first} and merge every part"
    )]
    Missing {
        /// The missing ones: `2/3, 3/3`.
        missing: String,
        /// The ones given.
        have: String,
        /// The first missing one.
        first: Shard,
    },
    /// This build makes another plan of the same outputs.
    #[error(
        "{file}: these shards were run by another teardown build (plan {theirs}; this build makes {ours} of it): merge with the teardown that ran them"
    )]
    OtherBuild {
        /// The file.
        file: String,
        /// The plan id in the file.
        theirs: String,
        /// The id this build computes.
        ours: String,
    },
    /// A cell in two outputs.
    #[error("the cell {supervisor} × {tree} is in both {a} and {b}")]
    CellTwice {
        /// Its row label.
        supervisor: String,
        /// Its tree.
        tree: String,
        /// The first file.
        a: String,
        /// The other.
        b: String,
    },
    /// Cells in no output.
    #[error("{count} cell(s) of the plan are in no output, e.g. {supervisor} × {tree}")]
    CellsMissing {
        /// How many.
        count: usize,
        /// One of them: its row label.
        supervisor: String,
        /// Its tree.
        tree: String,
    },
}

/// Every JSON document in `text`: one, or several one after another (as `cat
/// shard-*.json` gives them).
pub fn read(file: &str, text: &str) -> Result<Vec<Input>, MergeError> {
    let docs = serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| MergeError::NotJson {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
    Ok(docs
        .into_iter()
        .map(|doc| Input {
            file: file.to_owned(),
            doc,
        })
        .collect())
}

/// One shard's output, read.
struct ShardDoc<'a> {
    input: &'a Input,
    id: &'a str,
    shard: Option<Shard>,
}

/// Merges shard outputs (any order) into one report.
pub fn merge(inputs: Vec<Input>) -> Result<Report, MergeError> {
    let mut docs = inputs
        .iter()
        .map(shard_doc)
        .collect::<Result<Vec<_>, _>>()?;
    docs.sort_by_key(|d| d.shard);
    let first = docs.first().ok_or(MergeError::Nothing)?;
    for d in &docs[1..] {
        if d.id != first.id {
            return Err(MergeError::OtherPlan {
                a: first.input.file.clone(),
                b: d.input.file.clone(),
                difference: difference(&first.input.doc, &d.input.doc),
            });
        }
    }
    check_shards(&docs)?;

    let mut plan = rebuild(first.input)?;
    let ours = plan.id();
    if ours != first.id {
        return Err(MergeError::OtherBuild {
            file: first.input.file.clone(),
            theirs: first.id.to_owned(),
            ours,
        });
    }
    let rows: HashMap<&str, usize> = plan
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.label.as_str(), i))
        .collect();
    let cols: HashMap<&str, usize> = plan
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let mut cells: BTreeMap<(usize, usize), (Cell, &str)> = BTreeMap::new();
    // Per row: the first reason it could not run, and on which shards it did.
    let mut unavailable: BTreeMap<usize, (String, Option<Shard>)> = BTreeMap::new();
    let mut ran_somewhere = vec![false; plan.rows.len()];
    for d in &docs {
        let file = d.input.file.as_str();
        let doc = &d.input.doc;
        let supervisors = array(doc, "supervisors", file)?;
        let ran: Vec<bool> = supervisors
            .iter()
            .map(|s| s["available"].as_bool().unwrap_or(false))
            .collect();
        for (r, s) in supervisors.iter().enumerate().take(plan.rows.len()) {
            if ran[r] {
                ran_somewhere[r] = true;
            } else {
                let reason = s["reason"].as_str().unwrap_or("unsupported").to_owned();
                unavailable.entry(r).or_insert((reason, d.shard));
            }
        }
        for t in array(doc, "trials", file)? {
            let label = text(t, "supervisor", file)?;
            let tree = text(t, "scenario", file)?;
            let (Some(&r), Some(&c)) = (rows.get(label), cols.get(tree)) else {
                return Err(not_a_report(
                    file,
                    format!("its trial {label} × {tree} is not in its plan"),
                ));
            };
            let cell = Cell {
                row: r,
                col: c,
                outcome: outcome(t, file)?,
                expected: plan.expected(r, c),
                ran: ran.get(r).copied().unwrap_or(false),
            };
            if let Some((_, a)) = cells.insert((r, c), (cell, file)) {
                return Err(MergeError::CellTwice {
                    supervisor: label.to_owned(),
                    tree: tree.to_owned(),
                    a: a.to_owned(),
                    b: file.to_owned(),
                });
            }
        }
    }
    if cells.len() != plan.len() {
        let (r, c) = (0..plan.rows.len())
            .flat_map(|r| (0..plan.columns.len()).map(move |c| (r, c)))
            .find(|k| !cells.contains_key(k))
            .expect("fewer cells than the plan has");
        return Err(MergeError::CellsMissing {
            count: plan.len() - cells.len(),
            supervisor: plan.rows[r].label.clone(),
            tree: plan.columns[c].name.clone(),
        });
    }
    for (r, (reason, shard)) in unavailable {
        plan.rows[r].available = Err(match shard {
            // Some hosts could run it: its cells there ran and were judged.
            Some(s) if ran_somewhere[r] => format!("{reason} (on shard {s}; it ran on others)"),
            _ => reason,
        });
    }
    let parts = docs.iter().map(part).collect::<Vec<_>>();
    Ok(Report {
        plan,
        cells: cells.into_values().map(|(c, _)| c).collect(),
        elapsed: parts.iter().map(|p| p.elapsed).max().unwrap_or_default(),
        parts,
    })
}

fn shard_doc(input: &Input) -> Result<ShardDoc<'_>, MergeError> {
    let file = input.file.as_str();
    let plan = input
        .doc
        .get("plan")
        .ok_or_else(|| not_a_report(file, "no \"plan\": written by an older teardown?"))?;
    let id = text(plan, "id", file)?;
    let shard = match &plan["shard"] {
        Value::Null => None,
        Value::String(s) => Some(
            s.parse::<Shard>()
                .map_err(|e| not_a_report(file, e.to_string()))?,
        ),
        _ => return Err(not_a_report(file, "\"plan.shard\" is not K/N")),
    };
    Ok(ShardDoc { input, id, shard })
}

/// Every shard of one N exactly once, or one whole run.
fn check_shards(docs: &[ShardDoc<'_>]) -> Result<(), MergeError> {
    let what = |d: &ShardDoc<'_>| match d.shard {
        Some(s) => format!("shard {s}"),
        None => "a whole run".to_owned(),
    };
    let first = &docs[0];
    for pair in docs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.shard.map(Shard::count) != b.shard.map(Shard::count) || a.shard.is_none() {
            return Err(MergeError::OtherSplit {
                a: a.input.file.clone(),
                what_a: what(a),
                b: b.input.file.clone(),
                what_b: what(b),
            });
        }
        if let (Some(s), true) = (a.shard, a.shard == b.shard) {
            return Err(MergeError::SameShard {
                shard: s,
                a: a.input.file.clone(),
                b: b.input.file.clone(),
            });
        }
    }
    let Some(count) = first.shard.map(Shard::count) else {
        return Ok(());
    };
    let have: Vec<Shard> = docs.iter().filter_map(|d| d.shard).collect();
    let missing: Vec<Shard> = Shard::all(count).filter(|s| !have.contains(s)).collect();
    if let Some(&first) = missing.first() {
        let list = |s: &[Shard]| {
            s.iter()
                .map(Shard::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(MergeError::Missing {
            missing: list(&missing),
            have: list(&have),
            first,
        });
    }
    Ok(())
}

/// What differs between two outputs with different plan ids, in words.
fn difference(a: &Value, b: &Value) -> String {
    let host = |d: &Value, k: &str| d["host"][k].clone();
    for (key, what) in [
        ("teardown_version", "the teardown version"),
        ("seed", "the seed"),
        ("grace_us", "--grace (µs)"),
        ("straggler_grace_us", "--straggler-grace (µs)"),
        ("deadline_us", "--deadline (µs)"),
        ("bystanders", "the bystanders"),
    ] {
        if host(a, key) != host(b, key) {
            return format!("{what} differs ({} and {})", host(a, key), host(b, key));
        }
    }
    if a["plan"]["trigger"] != b["plan"]["trigger"] {
        return "the trigger differs".to_owned();
    }
    let labels = |d: &Value| {
        d["supervisors"].as_array().map(|s| {
            s.iter()
                .map(|r| r["supervisor"].clone())
                .collect::<Vec<_>>()
        })
    };
    if labels(a) != labels(b) {
        return "the supervisors differ (--methods, --peers, --supervisor)".to_owned();
    }
    let trees = |d: &Value| d["plan"]["trees"].as_array().cloned().unwrap_or_default();
    let (ta, tb) = (trees(a), trees(b));
    if ta.len() != tb.len() {
        return format!(
            "the trees differ ({} and {}: --scenarios, --random)",
            ta.len(),
            tb.len()
        );
    }
    if let Some((x, _)) = ta.iter().zip(&tb).find(|(x, y)| x != y) {
        return format!("the tree {} differs", x["name"]);
    }
    "the catalog's expectations differ (another teardown build)".to_owned()
}

fn part(d: &ShardDoc<'_>) -> Part {
    let doc = &d.input.doc;
    Part {
        shard: d.shard,
        file: d.input.file.clone(),
        trials: doc["trials"].as_array().map_or(0, Vec::len),
        elapsed: Duration::from_micros(doc["summary"]["elapsed_us"].as_u64().unwrap_or(0)),
        jobs: doc["host"]["jobs"].as_u64().unwrap_or(1) as usize,
        kernel: doc["host"]["kernel"].as_str().unwrap_or("").to_owned(),
    }
}

fn not_a_report(file: &str, what: impl Into<String>) -> MergeError {
    MergeError::NotAReport {
        file: file.to_owned(),
        what: what.into(),
    }
}

#[cfg(test)]
mod tests;
