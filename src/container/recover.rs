//! What a crash, a killed shim or a reboot leaves of containers, and how it
//! is put right ([`crate::state::recover::Recover`]):
//!
//! - a container directory without a record: a `create` that died before
//!   it wrote the record, or an `rm` that died after it removed it. The
//!   directory goes (its root filesystem unmounted first);
//! - a record that needs settling ([`super::settle`]): running while its
//!   shim is gone (killed, or the machine rebooted), marked for removal by
//!   an `rm` or a `--rm` whose remover died, or a run whose shim died
//!   before releasing its mount, netns pin, cgroup or lease. It is settled:
//!   shown exited with its code, its resources released, removed if it
//!   was to be;
//! - a runtime directory (`run/containers/ID`) of a container that is gone:
//!   its pin is unmounted and the directory removed.
//!
//! Nothing a live command is at work on: a container whose lock is held
//! (being created, settled or removed) or whose shim lives is skipped. The
//! ledger's records of the same resources (owned by the dead shim) are
//! prune's next pass. Read `flock(2)`.

use anyhow::Result;

use super::{delete, settle, shim, state};
use crate::state::Root;
use crate::state::recover::Recover;
use crate::state::resources::Leftover;

pub struct Containers;
pub static CONTAINERS: Containers = Containers;

/// Leftover kinds.
const DIR: &str = "container-dir";
const RECORD: &str = "container";
const RUN_DIR: &str = "container-run-dir";
const TRASH: &str = "container-being-removed";

/// Is the lock file at `path` held by a live command? (A missing file is
/// not held.)
fn held(path: &std::path::Path) -> bool {
    match std::fs::File::open(path) {
        Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// The directories an `rm` that died left half removed (`.removing-ID`).
fn trash_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<std::path::PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".removing-"))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// The ids of the directories in `dir` (not the names lock, not dot files).
fn ids_in(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

impl Recover for Containers {
    fn area(&self) -> &'static str {
        "container"
    }

    fn find(&self, root: &Root) -> Result<Vec<Leftover>> {
        let mut out = Vec::new();
        for id in ids_in(&state::dir(root)) {
            if shim::alive(root, &id) {
                continue;
            }
            // A command at work on it (creating, settling, removing) holds
            // the lock: not a leftover.
            let Some(lock) = state::try_lock(root, &id)? else {
                continue;
            };
            match state::load(root, &id)? {
                None => out.push(Leftover {
                    kind: DIR.into(),
                    id: state::container_dir(root, &id).display().to_string(),
                    reason: "a container directory without a record: a create or rm died half way"
                        .into(),
                }),
                Some(c) => {
                    if let Some(why) = settle::why_unsettled(root, &c) {
                        out.push(Leftover {
                            kind: RECORD.into(),
                            id: format!("{} ({})", c.id, c.name),
                            reason: why,
                        });
                    }
                }
            }
            drop(lock);
        }
        for trash in trash_in(&state::dir(root)) {
            // An rm at work on it holds the lock inside: not a leftover.
            // (Opened without O_CREAT: a file made here would stop that
            // rm's rmdir.)
            if held(&trash.join("lock")) {
                continue;
            }
            out.push(Leftover {
                kind: TRASH.into(),
                id: trash.display().to_string(),
                reason: "the directory of a container an rm was removing when it died".into(),
            });
        }
        for id in ids_in(&root.run.join("containers")) {
            if state::container_dir(root, &id).exists() || shim::alive(root, &id) {
                continue;
            }
            out.push(Leftover {
                kind: RUN_DIR.into(),
                id: state::run_dir(root, &id).display().to_string(),
                reason:
                    "the runtime directory (socket, lock, netns pin) of a container that is gone"
                        .into(),
            });
        }
        Ok(out)
    }

    fn repair(&self, root: &Root, l: &Leftover) -> Result<()> {
        match l.kind.as_str() {
            DIR => {
                let id = id_of_path(&l.id)?;
                let Some(_lock) = state::try_lock(root, &id)? else {
                    return Ok(()); // gone, or a command is at work on it
                };
                if state::load(root, &id)?.is_some() {
                    return Ok(()); // a container after all
                }
                delete::remove_dirs(root, &id)
            }
            RECORD => {
                let id = l.id.split_whitespace().next().unwrap_or_default();
                match state::load(root, id)? {
                    Some(c) => settle::settle_opt(root, &c).map(drop),
                    None => Ok(()),
                }
            }
            TRASH => {
                let path = std::path::PathBuf::from(&l.id);
                let id = id_of_path(&l.id.replace(".removing-", ""))?;
                if path != delete::trash_dir(root, &id) {
                    anyhow::bail!("{} is not a container being removed", l.id);
                }
                let merged = path.join("merged");
                super::teardown::unmount_root(root, &merged)?;
                crate::host::remove_dir_all(
                    crate::trace::Mechanism::Run,
                    &path,
                    "What an rm that died left of a container's files.",
                )
            }
            RUN_DIR => {
                let id = id_of_path(&l.id)?;
                if state::container_dir(root, &id).exists() || shim::alive(root, &id) {
                    return Ok(());
                }
                delete::remove_dirs(root, &id)
            }
            other => anyhow::bail!("unknown container leftover kind {other}"),
        }
    }
}

/// The container id a leftover's path ends with (checked: 64 hex digits).
fn id_of_path(path: &str) -> Result<String> {
    let id = std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("{path} is not a container's directory");
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_containers_directory_is_repaired() {
        let id = "a".repeat(64);
        assert_eq!(id_of_path(&format!("/r/containers/{id}")).unwrap(), id);
        assert!(id_of_path("/r/containers/../../etc").is_err());
        assert!(id_of_path("/").is_err());
    }

    #[test]
    fn a_record_less_directory_is_found_and_removed_a_locked_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(Some(dir.path())).unwrap();
        root.ensure().unwrap();
        let (stale, busy) = ("b".repeat(64), "c".repeat(64));
        for id in [&stale, &busy] {
            std::fs::create_dir_all(state::container_dir(&root, id).join("upper")).unwrap();
        }
        let held = state::lock(&root, &busy).unwrap();
        let found = CONTAINERS.find(&root).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, DIR);
        CONTAINERS.repair(&root, &found[0]).unwrap();
        assert!(!state::container_dir(&root, &stale).exists());
        assert!(state::container_dir(&root, &busy).exists());
        drop(held);
        assert_eq!(CONTAINERS.find(&root).unwrap().len(), 1);
    }
}
