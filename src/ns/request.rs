//! What `ns run` and `ns enter` ask for, checked and completed before
//! anything touches the host: the kinds of namespace, the hostname, the
//! root, the id maps and clock offsets of `ns run` become a [`Spec`]; the
//! targets of `ns enter` become the namespace files to join and the
//! `nsenter` line that does the same. Every refusal names the problem and
//! what to do. Pure apart from looking at the paths given; read
//! `namespaces(7)`, `user_namespaces(7)`, `time_namespaces(7)`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::kind::{NsMode, NsType};
use super::spec::{DEFAULT_PATH, IdMap, Spec, TimeOffsets};
use crate::state::Root;

/// What `ns run` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRequest {
    /// The kinds of namespace to create.
    pub types: Vec<NsType>,
    pub hostname: Option<String>,
    pub rootfs: Option<PathBuf>,
    /// The id outside that root inside maps to; `None`: the caller's.
    pub map_root: Option<u32>,
    pub map_count: u32,
    pub boottime: i64,
    pub monotonic: i64,
    pub argv: Vec<String>,
}

/// Who runs glassbox: the defaults that depend on the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    /// `$TERM`, passed on to a container with a clean environment.
    pub term: Option<String>,
}

impl Caller {
    /// This process's ids and `$TERM`.
    pub fn current() -> Caller {
        Caller {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            term: std::env::var("TERM").ok(),
        }
    }
}

/// A checked request: the process to start and the notes to tell the
/// user (what was implied, what to expect).
#[derive(Debug)]
pub struct Prepared {
    pub spec: Spec,
    /// The kinds created, `--rootfs`'s implied mount namespace included.
    pub types: Vec<NsType>,
    pub notes: Vec<String>,
}

/// The HOST_NAME_MAX of `sethostname(2)`: longer names fail with EINVAL.
pub const HOST_NAME_MAX: usize = 64;

impl RunRequest {
    /// Check the request and fill in the defaults for `caller`.
    pub fn prepare(&self, caller: &Caller) -> Result<Prepared> {
        let mut types = self.types.clone();
        let mut notes = Vec::new();
        if self.hostname.is_some() && !types.contains(&NsType::Uts) {
            bail!("--hostname needs --uts: without a new UTS namespace it would rename the host");
        }
        if self.rootfs.is_some() && !types.contains(&NsType::Mnt) {
            notes.push(
                "--rootfs implies --mnt: pivot_root needs a mount namespace of its own".to_string(),
            );
            types.push(NsType::Mnt);
        }
        if (self.boottime != 0 || self.monotonic != 0) && !types.contains(&NsType::Time) {
            bail!("--boottime and --monotonic need --time");
        }
        if self.map_root.is_some() && !types.contains(&NsType::User) {
            bail!("--map-root needs --user");
        }
        if let Some(h) = &self.hostname
            && h.len() > HOST_NAME_MAX
        {
            bail!(
                "--hostname is {} bytes long: the kernel allows at most {HOST_NAME_MAX} (HOST_NAME_MAX); give a shorter name",
                h.len()
            );
        }
        let id_map = if types.contains(&NsType::User) {
            if self.map_count == 0 {
                bail!("--map-count 0 maps no ids: give at least 1");
            }
            let uid = self.map_root.unwrap_or(caller.uid);
            let gid = self.map_root.unwrap_or(caller.gid);
            if uid.checked_add(self.map_count).is_none() {
                bail!(
                    "--map-root {uid} with --map-count {} runs past the last uid (4294967295): give a smaller --map-root or --map-count",
                    self.map_count
                );
            }
            Some(IdMap {
                outside_uid: uid,
                outside_gid: gid,
                count: self.map_count,
            })
        } else {
            None
        };
        if types.contains(&NsType::Pid) && !types.contains(&NsType::Mnt) {
            notes.push(
                "note: without --mnt, /proc is still the host's, so ps inside lists the host's processes".to_string(),
            );
        }
        if let Some(r) = &self.rootfs {
            check_rootfs(r, &types)?;
        }
        let mut spec = Spec::new(self.argv.clone());
        for t in &types {
            spec.namespaces.set(*t, NsMode::New);
        }
        spec.hostname = self.hostname.clone();
        spec.rootfs = self.rootfs.clone();
        spec.id_map = id_map;
        spec.time_offsets = TimeOffsets {
            boottime: self.boottime,
            monotonic: self.monotonic,
        };
        if self.rootfs.is_some() {
            // A container gets a clean environment, like Docker's.
            let mut env = vec![
                ("PATH".to_string(), DEFAULT_PATH.to_string()),
                ("HOME".to_string(), "/root".to_string()),
            ];
            if let Some(term) = &caller.term {
                env.push(("TERM".into(), term.clone()));
            }
            if let Some(h) = &self.hostname {
                env.push(("HOSTNAME".into(), h.clone()));
            }
            spec.env = Some(env);
        }
        Ok(Prepared { spec, types, notes })
    }
}

/// A rootfs must be a directory other than the host's own root, and a
/// new user namespace can mount its `/proc` only with a pid namespace.
fn check_rootfs(r: &Path, types: &[NsType]) -> Result<()> {
    if !r.is_dir() {
        bail!(
            "rootfs {} does not exist or is not a directory: give a directory holding a root filesystem (bin/sh, ...)",
            r.display()
        );
    }
    if std::fs::canonicalize(r).is_ok_and(|c| c == Path::new("/")) {
        bail!(
            "--rootfs {} is the host's own root: give a directory holding a container's root filesystem (e.g. one made with `glassbox image import`)",
            r.display()
        );
    }
    if types.contains(&NsType::User) && !types.contains(&NsType::Pid) {
        bail!(
            "--rootfs with --user needs --pid too: a new user namespace may mount /proc only for a PID namespace it owns; add --pid"
        );
    }
    Ok(())
}

/// Whose namespaces `ns enter` joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnterTarget {
    /// A running process's (`--target PID`).
    Process(u32),
    /// A pin made by `ns run --pin NAME` (`--pinned NAME`).
    Pinned(String),
}

/// What `ns enter` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterRequest {
    /// `None` when neither `--target` nor `--pinned` was given.
    pub target: Option<EnterTarget>,
    /// The kinds to join; empty with `all`.
    pub types: Vec<NsType>,
    /// `--all`: every kind (of a pin: every kind it holds).
    pub all: bool,
    pub argv: Vec<String>,
}

/// The namespaces `ns enter` joins, and the `nsenter` line that joins them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entering {
    pub targets: Vec<(NsType, PathBuf)>,
    pub shell: String,
}

impl EnterRequest {
    /// Find the namespace files to join (a pin's are checked with the
    /// kernel, see [`super::pin::pinned`]).
    pub fn resolve(&self, root: &Root) -> Result<Entering> {
        let (targets, shell) = match &self.target {
            Some(EnterTarget::Process(pid)) => {
                let mut types = if self.all {
                    NsType::ALL.to_vec()
                } else {
                    self.types.clone()
                };
                types.sort();
                types.dedup();
                if types.is_empty() {
                    bail!(
                        "say which namespaces to join: --pid --net --mnt --uts --ipc --user --cgroup --time or --all"
                    );
                }
                let targets = super::targets_of(*pid, &types)?;
                let opts: Vec<&str> = targets.iter().map(|(t, _)| t.nsenter_opt()).collect();
                (targets, format!("nsenter -t {pid} {}", opts.join(" ")))
            }
            Some(EnterTarget::Pinned(name)) => {
                // --all: every kind the pin holds.
                let only: &[NsType] = if self.all { &[] } else { &self.types };
                let targets = super::pin::pinned(root, name, only)?;
                let opts: Vec<String> = targets
                    .iter()
                    .map(|(t, p)| format!("{}={}", t.nsenter_long(), p.display()))
                    .collect();
                (targets, format!("nsenter {}", opts.join(" ")))
            }
            None => bail!("say whose namespaces to join: --target PID or --pinned NAME"),
        };
        Ok(Entering { targets, shell })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            uid: 1000,
            gid: 1001,
            term: Some("xterm".into()),
        }
    }

    fn req(types: &[NsType]) -> RunRequest {
        RunRequest {
            types: types.to_vec(),
            map_count: 1,
            argv: vec!["true".into()],
            ..Default::default()
        }
    }

    fn refused(r: RunRequest) -> String {
        format!("{:#}", r.prepare(&caller()).expect_err("refused"))
    }

    #[test]
    fn flags_that_need_their_namespace_are_refused_without_it() {
        let mut r = req(&[]);
        r.hostname = Some("lab".into());
        assert!(refused(r).contains("--hostname needs --uts"));
        let mut r = req(&[]);
        r.boottime = 5;
        assert!(refused(r).contains("need --time"));
        let mut r = req(&[]);
        r.map_root = Some(100000);
        assert!(refused(r).contains("--map-root needs --user"));
    }

    #[test]
    fn a_hostname_past_host_name_max_is_refused() {
        let mut r = req(&[NsType::Uts]);
        r.hostname = Some("x".repeat(HOST_NAME_MAX));
        assert!(r.prepare(&caller()).is_ok());
        r.hostname = Some("x".repeat(HOST_NAME_MAX + 1));
        assert!(refused(r).contains("at most 64 (HOST_NAME_MAX)"));
    }

    #[test]
    fn the_id_map_defaults_to_the_caller_and_must_fit() {
        let p = req(&[NsType::User]).prepare(&caller()).unwrap();
        let map = p.spec.id_map.unwrap();
        assert_eq!(
            (map.outside_uid, map.outside_gid, map.count),
            (1000, 1001, 1)
        );
        let mut r = req(&[NsType::User]);
        r.map_root = Some(100000);
        r.map_count = 65536;
        let map = r.prepare(&caller()).unwrap().spec.id_map.unwrap();
        assert_eq!(map.uid_line(), "0 100000 65536");
        assert_eq!(map.gid_line(), "0 100000 65536");
        let mut r = req(&[NsType::User]);
        r.map_count = 0;
        assert!(refused(r).contains("maps no ids"));
        let mut r = req(&[NsType::User]);
        r.map_root = Some(u32::MAX);
        assert!(refused(r).contains("runs past the last uid"));
        assert!(req(&[]).prepare(&caller()).unwrap().spec.id_map.is_none());
    }

    #[test]
    fn a_rootfs_implies_mnt_and_gets_a_clean_environment() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = req(&[NsType::Uts]);
        r.rootfs = Some(dir.path().to_path_buf());
        r.hostname = Some("box".into());
        let p = r.prepare(&caller()).unwrap();
        assert_eq!(p.types, vec![NsType::Uts, NsType::Mnt]);
        assert!(p.spec.namespaces.is_new(NsType::Mnt));
        assert!(
            p.notes[0].contains("--rootfs implies --mnt"),
            "{:?}",
            p.notes
        );
        let env = p.spec.env.unwrap();
        assert!(env.contains(&("PATH".into(), DEFAULT_PATH.into())));
        assert!(env.contains(&("HOME".into(), "/root".into())));
        assert!(env.contains(&("TERM".into(), "xterm".into())));
        assert!(env.contains(&("HOSTNAME".into(), "box".into())));
        // Without a rootfs the environment is glassbox's own.
        assert!(
            req(&[NsType::Uts])
                .prepare(&caller())
                .unwrap()
                .spec
                .env
                .is_none()
        );
    }

    #[test]
    fn a_bad_rootfs_is_refused() {
        let mut r = req(&[NsType::Mnt]);
        r.rootfs = Some("/nonexistent/gb-rootfs".into());
        assert!(refused(r).contains("does not exist or is not a directory"));
        let mut r = req(&[NsType::Mnt]);
        r.rootfs = Some("/".into());
        assert!(refused(r).contains("the host's own root"));
        let dir = tempfile::tempdir().unwrap();
        let mut r = req(&[NsType::Mnt, NsType::User]);
        r.rootfs = Some(dir.path().to_path_buf());
        assert!(refused(r).contains("needs --pid too"));
    }

    #[test]
    fn pid_without_mnt_warns_about_proc() {
        let p = req(&[NsType::Pid]).prepare(&caller()).unwrap();
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("/proc is still the host's"))
        );
        assert!(
            req(&[NsType::Pid, NsType::Mnt])
                .prepare(&caller())
                .unwrap()
                .notes
                .is_empty()
        );
    }

    #[test]
    fn enter_needs_a_target_and_kinds() {
        let root = Root::new(Some(Path::new("/nonexistent/gb-enter"))).unwrap();
        let mut e = EnterRequest {
            target: None,
            types: vec![NsType::Uts],
            all: false,
            argv: vec!["true".into()],
        };
        let err = e.resolve(&root).unwrap_err().to_string();
        assert!(err.contains("--target PID or --pinned NAME"), "{err}");
        e.target = Some(EnterTarget::Process(std::process::id()));
        e.types.clear();
        let err = e.resolve(&root).unwrap_err().to_string();
        assert!(err.contains("say which namespaces to join"), "{err}");
        e.types = vec![NsType::Uts, NsType::Net];
        let ok = e.resolve(&root).unwrap();
        assert_eq!(ok.shell, format!("nsenter -t {} -n -u", std::process::id()));
        assert_eq!(ok.targets[0].0, NsType::Net, "in the order lsns lists them");
    }
}
