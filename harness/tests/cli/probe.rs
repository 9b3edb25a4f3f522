//! `teardown probe`.

use super::{teardown, texts};

#[test]
fn probe_lists_every_method_with_its_availability() {
    let out = teardown().arg("probe").output().unwrap();
    let (text, err) = texts(&out);
    assert!(out.status.success(), "{err}");
    let methods = text
        .split("\nmethods\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no methods section: {text}"));
    for m in teardown::Method::ALL {
        let line = methods
            .lines()
            .find(|l| l.split_whitespace().next() == Some(m.name()));
        let line = line.unwrap_or_else(|| panic!("{m} missing: {text}"));
        assert!(
            line.contains("available") || line.contains("unsupported:"),
            "{line}"
        );
    }
    assert!(text.contains("auto picks"), "{text}");
    assert!(text.contains("containment"), "{text}");
}

#[test]
fn probe_json_has_the_core_probe_and_the_wardens_containment() {
    let out = teardown()
        .args(["probe", "--format", "json"])
        .output()
        .unwrap();
    let (text, err) = texts(&out);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("probe --format json is JSON");
    assert_eq!(
        v["core"]["methods"].as_array().map(Vec::len),
        Some(teardown::Method::ALL.len()),
        "{v}"
    );
    let containment = v["warden"]["containment"].as_str().unwrap_or_default();
    assert!(
        ["pidns", "userns+pidns", "subreaper"].contains(&containment),
        "{v}"
    );
}
