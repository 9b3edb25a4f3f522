//! `--shard K/N` and `teardown merge` as a CI matrix runs them: real shards of a
//! small matrix, merged, against the unsharded run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{BROKEN_SUPERVISOR, json, teardown};

/// Three scenarios and two random trees of seed 1 (the trees of the README's
/// matrix, whose verdicts do not flip between runs) under two weak methods.
const SMALL: &[&str] = &[
    "matrix",
    "--methods",
    "leader,killpg",
    "--scenarios",
    "setsid-escape,escape-exits-late,slow-exit-member",
    "--random",
    "2",
    "--seed",
    "1",
    "--format",
    "json",
];

fn run(args: &[&str]) -> (Value, i32) {
    let out = teardown().args(args).output().unwrap();
    (json(&out), out.status.code().unwrap_or(-1))
}

/// (supervisor, tree) of every trial.
fn cells(doc: &Value) -> Vec<(String, String)> {
    doc["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["supervisor"].as_str().unwrap().to_owned(),
                t["scenario"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// What must be equal between the merged and the unsharded run, per trial.
fn verdicts(doc: &Value) -> Vec<Value> {
    doc["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            serde_json::json!([
                t["supervisor"],
                t["scenario"],
                t["spec"],
                t["trigger"],
                t["verdict"],
                t["expected"],
                t["as_expected"],
                t["replay"]
            ])
        })
        .collect()
}

fn write(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    path
}

fn without_elapsed(summary: &Value) -> Value {
    let mut s = summary.clone();
    s.as_object_mut().unwrap().remove("elapsed_us");
    s
}

#[test]
fn three_shards_are_disjoint_cover_the_matrix_and_merge_into_the_unsharded_run() {
    let (whole, whole_code) = run(SMALL);
    let all: BTreeSet<_> = cells(&whole).into_iter().collect();
    assert_eq!(all.len(), 10, "{whole:#}");

    let dir = tempfile::tempdir().unwrap();
    let mut seen = BTreeSet::new();
    let mut files = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let args: Vec<&str> = SMALL.iter().copied().chain(["--shard", &shard]).collect();
        let (doc, _) = run(&args);
        assert_eq!(doc["plan"]["shard"], shard.as_str());
        assert_eq!(doc["plan"]["id"], whole["plan"]["id"], "one plan");
        assert_eq!(doc["plan"]["cells"], 10);
        for cell in cells(&doc) {
            assert!(seen.insert(cell.clone()), "{cell:?} is in two shards");
        }
        files.push(write(dir.path(), &format!("shard-{k}.json"), &doc));
    }
    assert_eq!(seen, all, "the shards together are the whole matrix");

    // Merged in another order than they were run, and again from one stream.
    let out = teardown()
        .args(["merge", "--format", "json"])
        .args(files.iter().rev())
        .output()
        .unwrap();
    let merged = json(&out);
    assert_eq!(out.status.code(), Some(whole_code), "same exit status");
    assert_eq!(verdicts(&merged), verdicts(&whole), "verdict for verdict");
    assert_eq!(
        without_elapsed(&merged["summary"]),
        without_elapsed(&whole["summary"])
    );
    assert_eq!(merged["plan"], whole["plan"]);
    assert_eq!(merged["shards"].as_array().unwrap().len(), 3);

    let stream: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    let out = teardown()
        .args(["merge", "-"])
        .write_stdin(stream)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(whole_code), "{text}");
    assert!(
        text.contains("10 trials in 3 shards of ") && text.contains("random trees from seed 1"),
        "{text}"
    );
    assert!(text.contains("random-1-1 "), "{text}");
}

#[test]
fn check_shards_fail_the_merge_as_the_whole_check_fails() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (1..=2)
        .map(|k| {
            let shard = format!("{k}/2");
            let out = teardown()
                .args(["check", "--random", "0"])
                .args(["--scenarios", "double-fork,aurae-534-sh-wrapper"])
                .args(["--shard", &shard, "--format", "json", "--"])
                .args(BROKEN_SUPERVISOR)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "the shard leaks");
            write(dir.path(), &format!("check-{k}.json"), &json(&out))
        })
        .collect();
    let out = teardown()
        .args(["merge", "--format", "markdown"])
        .args(&files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("| `double-fork` | **leak"), "{text}");
    assert!(text.contains("| `aurae-534-sh-wrapper` | **leak"), "{text}");
}

#[test]
fn merge_refuses_shards_of_other_runs_and_missing_shards_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let shard = |seed: &str, k: &str| {
        let (doc, _) = run(&[
            "matrix",
            "--methods",
            "pidns",
            "--scenarios",
            "double-fork",
            "--random",
            "1",
            "--seed",
            seed,
            "--shard",
            k,
            "--format",
            "json",
        ]);
        write(dir.path(), &format!("s{seed}-{}.json", &k[..1]), &doc)
    };
    let a1 = shard("1", "1/2");
    let b2 = shard("2", "2/2");
    for (files, want) in [
        (
            vec![a1.clone(), b2],
            "s1-1.json: the seed differs (1 and 2)",
        ),
        (
            vec![a1.clone()],
            "missing shard 2/2 (have 1/2): run the same command with --shard 2/2",
        ),
        (vec![a1.clone(), a1], "shard 1/2 is given twice"),
    ] {
        let out = teardown().arg("merge").args(&files).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = teardown()
        .args(["merge", "-"])
        .write_stdin("{\"trials\": []}")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the JSON of `teardown matrix`"));
    let out = teardown()
        .args(["merge", "/no/such/shard.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /no/such/shard.json"));
}

#[test]
fn bad_shards_exit_2_with_a_message_that_teaches_and_run_nothing() {
    for (shard, want) in [
        ("0/3", "K counts from 1 to N"),
        ("4/3", "the shards of 3 are 1/3 to 3/3"),
        ("1/0", "N is the number of machines"),
        ("garbage", "expected K/N, two whole numbers such as 2/3"),
    ] {
        for command in ["matrix", "check"] {
            let mut cmd = teardown();
            cmd.args([command, "--random", "0", "--shard", shard]);
            if command == "check" {
                cmd.args(["--", "tini", "--"]);
            }
            let out = cmd.output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {shard}: {err}");
            assert!(err.contains(want), "{command} {shard}: {err}");
            assert!(out.stdout.is_empty());
        }
    }
    let out = teardown()
        .args(["matrix", "--random", "2", "--shard", "1/2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--shard with random trees needs a seed") && err.contains("--seed S"),
        "{err}"
    );
    let out = teardown()
        .args([
            "check", "--random", "1", "--shard", "1/2", "--", "tini", "--",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_help_of_matrix_check_and_merge_teaches_the_recipe() {
    for command in ["matrix", "check", "merge"] {
        let out = teardown().args([command, "--help"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("--shard"), "{command}: {text}");
        assert!(text.contains("teardown merge shard-"), "{command}: {text}");
    }
}
