//! Finding the `teardown` binary, which the harness runs as the warden, the node
//! interpreter and (for `Supervisor::Method`) the supervisor.
//!
//! In order:
//!
//! 1. the environment variable `TEARDOWN_BIN` (an error if it names no file);
//! 2. this program, if it is named `teardown`;
//! 3. `teardown` beside this program, or one directory up: a test binary runs from
//!    `target/<profile>/deps/`, an example from `target/<profile>/examples/`, and
//!    cargo builds the `teardown` binary into `target/<profile>/` for integration
//!    tests and benches;
//! 4. `teardown` on `PATH`.

use std::path::{Path, PathBuf};

/// The environment variable that names the `teardown` binary explicitly.
pub const BIN_ENV: &str = "TEARDOWN_BIN";

/// The `teardown` binary could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot find the teardown binary (looked at: {looked}); build it with `cargo build -p teardown-harness` or set TEARDOWN_BIN=/path/to/teardown"
)]
pub struct LocateError {
    /// Every place looked at, comma-separated.
    pub looked: String,
}

/// Finds the `teardown` binary (see the module docs for the order).
pub fn teardown_bin() -> Result<PathBuf, LocateError> {
    let mut looked = Vec::new();
    if let Some(explicit) = std::env::var_os(BIN_ENV) {
        let p = PathBuf::from(explicit);
        if is_file(&p) {
            return Ok(p);
        }
        return Err(LocateError {
            looked: format!("{BIN_ENV}={} (no such file)", p.display()),
        });
    }
    if let Ok(me) = std::env::current_exe() {
        if me.file_name().is_some_and(|n| n == "teardown") {
            return Ok(me);
        }
        let dir = me.parent().map(Path::to_path_buf);
        for candidate in [
            dir.clone(),
            dir.as_deref().and_then(Path::parent).map(Path::to_path_buf),
        ]
        .into_iter()
        .flatten()
        .map(|d| d.join("teardown"))
        {
            if is_file(&candidate) {
                return Ok(candidate);
            }
            looked.push(candidate.display().to_string());
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("teardown");
            if is_file(&candidate) {
                return Ok(candidate);
            }
        }
        looked.push("PATH".into());
    }
    Err(LocateError {
        looked: looked.join(", "),
    })
}

fn is_file(p: &Path) -> bool {
    p.metadata().is_ok_and(|m| m.is_file())
}

/// An external supervisor's program cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    /// Not found (as a path, or on `PATH` for a bare name).
    #[error("supervisor {program:?} not found{where_}")]
    NotFound {
        /// The program as given.
        program: String,
        /// ` on PATH` for a bare name, empty for a path.
        where_: &'static str,
    },
    /// Found, but not an executable file.
    #[error("supervisor {program:?} ({path}) is not an executable file")]
    NotExecutable {
        /// The program as given.
        program: String,
        /// Where it was found.
        path: String,
    },
}

/// Resolves an external supervisor's program the way `execvp` would (a name with a
/// `/` is a path, otherwise it is searched on `PATH`) and checks it is an
/// executable regular file, so bad input is rejected before a warden starts.
pub fn executable(program: &str) -> Result<PathBuf, ProgramError> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            && rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok()
    };
    let not_exec = |p: &Path| ProgramError::NotExecutable {
        program: program.to_owned(),
        path: p.display().to_string(),
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return match p.exists() {
            true if runnable(&p) => Ok(p),
            true => Err(not_exec(&p)),
            false => Err(ProgramError::NotFound {
                program: program.to_owned(),
                where_: "",
            }),
        };
    }
    let mut found = None;
    if !program.is_empty()
        && let Some(path) = std::env::var_os("PATH")
    {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(program);
            if runnable(&candidate) {
                return Ok(candidate);
            }
            if found.is_none() && candidate.exists() {
                found = Some(candidate);
            }
        }
    }
    Err(match found {
        Some(p) => not_exec(&p),
        None => ProgramError::NotFound {
            program: program.to_owned(),
            where_: " on PATH",
        },
    })
}
