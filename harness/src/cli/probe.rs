//! `teardown probe`: what this host supports.

use std::process::{Command, ExitCode};

use teardown::{Availability, Probe, SpawnOptions};
use teardown_harness::warden::WardenFacts;

use super::Fail;

const EXAMPLES: &str = "\
Examples:
  teardown probe                 a table: host facts, each method available or why not
  teardown probe --format json   the same as one JSON object: {\"core\": ..., \"warden\": ...}";

/// Output format.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Format {
    /// For people.
    Table,
    /// One JSON object.
    Json,
}

/// Show the host's facts, each method's availability (and why not), what `auto`
/// picks, and what containment the harness's warden gets here.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct ProbeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// What a warden gets, asked of a fresh `teardown __warden --probe` process (it
/// unshares namespaces: not something to do in this one).
fn warden_facts() -> Result<WardenFacts, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let out = Command::new(exe)
        .args(["__warden", "--probe"])
        .output()
        .map_err(|e| format!("cannot run the warden probe: {e}"))?;
    serde_json::from_slice(&out.stdout).map_err(|e| format!("warden probe gave no answer: {e}"))
}

/// The core's probe with the shim `teardown run` uses: this binary, `__shim` (it
/// hosts the shim itself and needs no stand-alone `teardown-shim`). Probing with
/// exactly the options `run` spawns with makes the table say what `run` does: the
/// shim methods, the user-namespace fact (judged by running the shim's
/// `probe-pidns` when not root), and what `auto` picks.
fn as_run_sees_it() -> Probe {
    let Ok(me) = std::env::current_exe() else {
        return teardown::probe();
    };
    let opts = SpawnOptions::default().with_shim(&me, vec!["__shim".to_owned()]);
    let mut p = teardown::probe_with(&opts);
    p.host.shim = Some(format!("{} __shim (built in)", me.display()));
    p
}

pub fn main(args: ProbeArgs) -> Result<ExitCode, Fail> {
    let core = as_run_sees_it();
    let warden = warden_facts().map_err(Fail::usage)?;
    match args.format {
        Format::Json => {
            let v = serde_json::json!({ "core": core, "warden": warden });
            println!(
                "{}",
                serde_json::to_string_pretty(&v).expect("probe serializes")
            );
        }
        Format::Table => {
            let h = &core.host;
            println!("host");
            println!("  kernel           {}", h.kernel);
            println!("  euid             {}", h.euid);
            println!(
                "  cgroup2 mount    {}",
                h.cgroup2_mount.as_deref().unwrap_or("none")
            );
            println!(
                "  own cgroup       {}",
                h.own_cgroup.as_deref().unwrap_or("none")
            );
            println!("  pidfd            {}", yes(h.pidfd));
            println!("  subreaper        {}", yes(h.subreaper));
            println!("  user namespaces  {}", yes(h.user_namespaces));
            println!("  shim             {}", h.shim.as_deref().unwrap_or("none"));
            println!("methods");
            for (m, a) in &core.methods {
                match a {
                    Availability::Available => println!("  {:<16} available", m.name()),
                    Availability::Unsupported { reason } => {
                        println!("  {:<16} unsupported: {reason}", m.name())
                    }
                }
            }
            println!(
                "  auto picks       {}",
                core.auto.map_or("nothing".into(), |m| m.to_string())
            );
            println!("harness warden");
            println!(
                "  containment      {}{}",
                warden.containment,
                warden
                    .pid_namespace_missing
                    .as_deref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default()
            );
            match (&warden.cgroup, &warden.cgroup_missing) {
                (Some(dir), _) => println!("  cgroup           yes (under {})", parent(dir)),
                (None, why) => println!(
                    "  cgroup           no ({})",
                    why.as_deref().unwrap_or("unknown")
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn parent(dir: &str) -> String {
    std::path::Path::new(dir)
        .parent()
        .map_or(dir.to_owned(), |p| p.display().to_string())
}
