//! The `oracle` fuzz case: hand-made tables get the verdicts they should, random
//! ones pass the check, and a broken oracle is caught.

use teardown::Verdict;

use super::*;
use crate::oracle::{Judgement, Observation, judge, map_records, observe};

/// `pid` as a case writes it (PIDs are 1 + the byte).
fn p(pid: u8) -> u8 {
    pid - 1
}

fn process(pid: u8, ppid: u8, state: FakeState) -> FakeProcess {
    FakeProcess {
        pid: p(pid),
        ppid,
        pgid: ppid,
        sid: ppid,
        tick: 0,
        state,
        nested: Vec::new(),
        hidden: false,
        helper: false,
    }
}

/// A warden (1) with a supervisor (2) and a bystander (3), and `tree` under them.
fn case(tree: &[FakeProcess]) -> OracleCase {
    let mut table = vec![
        process(1, 0, FakeState::Alive),
        process(2, 1, FakeState::Alive),
        process(3, 1, FakeState::Alive),
    ];
    table.extend_from_slice(tree);
    OracleCase {
        table,
        warden: p(1),
        supervisor: p(2),
        bystanders: vec![(p(3), 0)],
        ..OracleCase::default()
    }
}

fn judged(case: &OracleCase) -> Judgement {
    check(case);
    let before = case.before();
    let scene = case.scene(map_records(&before, &case.records()).records);
    judge(
        &observe(&before, &scene),
        &observe(&case.after(&before), &scene),
    )
}

#[test]
fn hand_made_tables_get_the_verdicts_the_oracle_documents() {
    let empty = case(&[]);
    assert_eq!(judged(&empty).verdict, Verdict::Clean);

    let leak = case(&[process(10, 2, FakeState::Alive)]);
    assert_eq!(judged(&leak).verdict, Verdict::Leak);

    let mut early = leak.clone();
    early.grace = vec![Change::Dies(p(10))];
    let j = judged(&early);
    assert_eq!((j.verdict, j.stragglers), (Verdict::Early, 1));

    let mut dying = case(&[process(10, 1, FakeState::Dying)]);
    dying.grace = vec![Change::Reaped(p(10))];
    let j = judged(&dying);
    assert_eq!((j.verdict, j.dying), (Verdict::Early, 1));

    let orphaned = case(&[process(10, 1, FakeState::Zombie)]);
    let j = judged(&orphaned);
    assert_eq!((j.verdict, j.orphaned_zombies), (Verdict::Clean, 1));

    let mut helper = case(&[process(10, 2, FakeState::Alive)]);
    helper.table.last_mut().expect("one").helper = true;
    assert_eq!(judged(&helper).verdict, Verdict::Leftover);

    let zombie = case(&[process(10, 2, FakeState::Zombie)]);
    assert_eq!(judged(&zombie).verdict, Verdict::Zombie);

    let mut killed = case(&[]);
    killed.table[2].state = FakeState::Zombie;
    assert_eq!(judged(&killed).verdict, Verdict::BystanderKilled);

    let mut storm = case(&[]);
    storm.grace = vec![Change::Forks {
        pid: p(12),
        ppid: 1,
    }];
    assert_eq!(
        judged(&storm).verdict,
        Verdict::Leak,
        "a fork during the grace"
    );
}

#[test]
fn a_hidden_child_is_found_and_a_ppid_cycle_does_not_hang() {
    let mut hidden = process(11, 10, FakeState::Alive);
    hidden.hidden = true;
    let j = judged(&case(&[process(10, 2, FakeState::Zombie), hidden]));
    assert_eq!((j.survivors, j.zombies), (1, 1));
    // 20 and 21 are each other's parent; the warden is its own bystander.
    let mut odd = case(&[
        process(20, 21, FakeState::Alive),
        process(21, 20, FakeState::Alive),
    ]);
    odd.bystanders.push((p(1), 0));
    assert_eq!(judged(&odd).verdict, Verdict::Clean);
}

#[test]
fn a_record_from_a_nested_namespace_names_its_node() {
    // The leader is 11 here and 1 in its own namespace; its record says 1.
    let mut leader = process(11, 2, FakeState::Alive);
    leader.nested = vec![p(1)];
    let mut c = case(&[leader]);
    c.records = vec![FakeRecord {
        node: 0,
        pid: p(1),
        pgid: 1,
        sid: 1,
        tick: 0,
        ns: RecordNs::Nested,
    }];
    c.own_pidns = true;
    let j = judged(&c);
    assert_eq!(j.findings[0].node, Some(0), "{j:?}");
    assert_eq!(j.findings[0].pid, 11);
}

fn caught(broken: &Oracle<'_>) -> String {
    let mut c = case(&[process(10, 2, FakeState::Alive)]);
    c.table[2].state = FakeState::Zombie; // the bystander died too
    c.grace = vec![Change::Dies(p(10))];
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_with(&c, broken)))
        .expect_err("the check must catch a broken oracle");
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn the_check_catches_an_oracle_that_overlooks_a_process_or_a_dead_bystander() {
    let drops_one = |src: &dyn ProcSource, scene: &Scene| {
        let mut o = observe(src, scene);
        o.alive.pop();
        o
    };
    let msg = caught(&Oracle {
        observe: &drops_one,
        judge: &judge,
    });
    assert!(msg.contains("(alive, dying, zombies) of the tree"), "{msg}");

    let forgives = |a: &Observation, b: &Observation| {
        let mut j = judge(a, b);
        if j.verdict == Verdict::BystanderKilled {
            j.verdict = Verdict::Early;
        }
        j
    };
    let msg = caught(&Oracle {
        observe: &|src, scene| observe(src, scene),
        judge: &forgives,
    });
    assert!(msg.contains("the worst finding"), "{msg}");

    let mislabels = |a: &Observation, b: &Observation| {
        let mut j = judge(a, b);
        for f in &mut j.findings {
            if f.kind == "early" {
                f.kind = "survivor".into();
            }
        }
        j
    };
    let msg = caught(&Oracle {
        observe: &|src, scene| observe(src, scene),
        judge: &mislabels,
    });
    assert!(msg.contains("findings of each kind"), "{msg}");

    let blames = |src: &dyn ProcSource, scene: &Scene| {
        let mut o = observe(src, scene);
        o.zombies.append(&mut o.orphaned_zombies);
        o
    };
    let mut c = case(&[process(10, 1, FakeState::Zombie)]);
    c.grace.clear();
    let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_with(
            &c,
            &Oracle {
                observe: &blames,
                judge: &judge,
            },
        )
    }))
    .expect_err("an orphaned zombie blamed on the supervisor must be caught");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("orphaned zombies"), "{msg}");
}

#[cfg(feature = "proptest")]
mod random {
    use arbitrary::{Arbitrary, Unstructured};
    use proptest::prelude::*;

    use super::super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn random_tables_pass_the_oracle_check(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
            if let Ok(case) = OracleCase::arbitrary(&mut Unstructured::new(&data)) {
                check(&case);
            }
        }
    }
}
