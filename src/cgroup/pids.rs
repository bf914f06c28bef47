//! The pids controller: a cap on the number of tasks (processes and
//! threads) in the group; fork and clone fail with EAGAIN past it, which
//! stops a fork bomb. Same file on v1 and v2: `pids.max`, `pids.current`,
//! `pids.events`. Read `Documentation/admin-guide/cgroup-v1/pids.rst`.

use std::path::Path;

use serde::Serialize;

use super::memory::keyed;
use super::spec::Limits;
use super::{Max, Version, Write, read_if_exists, read_u64};

const WHY: &str = "fork() and clone() in the group fail with EAGAIN once it holds this many tasks.";

pub fn writes(_v: Version, l: &Limits) -> Vec<Write> {
    let Some(p) = l.pids else {
        return Vec::new();
    };
    let m = Max::from(p);
    let note = match p {
        Some(n) => format!("--pids-limit {n}"),
        None => "--pids-limit 0/-1: unlimited".into(),
    };
    vec![Write::new("pids", "pids.max", m.to_string(), "pids.max", WHY).note(note)]
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PidsStat {
    pub current: u64,
    pub max: Max,
    /// Forks refused because of the limit (pids.events `max`).
    pub refused: u64,
}

impl PidsStat {
    /// The group's `pids.*` files in `dir` (the same on v1 and v2).
    pub fn read(dir: &Path) -> PidsStat {
        PidsStat {
            current: read_u64(&dir.join("pids.current")).unwrap_or(0),
            max: read_if_exists(&dir.join("pids.max"))
                .map(|t| Max::parse(&t))
                .unwrap_or_default(),
            refused: read_if_exists(&dir.join("pids.events"))
                .and_then(|t| keyed(&t, "max"))
                .unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_is_max() {
        let l = Limits {
            pids: Some(None),
            ..Limits::default()
        };
        assert_eq!(writes(Version::V2, &l)[0].value, "max");
        let l = Limits {
            pids: Some(Some(20)),
            ..Limits::default()
        };
        assert_eq!(writes(Version::V1, &l)[0].value, "20");
    }
}
