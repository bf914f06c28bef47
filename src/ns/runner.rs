//! `ns run` and `ns enter` as library calls: start the checked process,
//! pin its namespaces when asked, report the namespace inodes outside and
//! inside once the child is ready, pass signals on, wait, and say how it
//! ended. What is shown goes to the caller as [`Event`]s; nothing is
//! printed here. Read `namespaces(7)`.

use std::path::PathBuf;

use anyhow::Result;
use nix::unistd::Pid;

use super::inode::{self, Compare};
use super::kind::NsType;
use super::pin::Pinning;
use super::process::Outcome;
use super::request::{Entering, Prepared};
use super::spawn::{self, Hooks, NoHooks};
use crate::state::Root;

/// Something `ns run` has to show while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Per kind, the namespace inode outside and (once the child is ready)
    /// inside; `inside` is `None` in a `--dry-run` plan.
    Inodes(Vec<Compare>),
    /// A namespace bind-mounted under the pin directory.
    Pinned(PathBuf),
}

/// Shows the inode table and pins the namespaces once the child is ready;
/// commits the pin once CMD has started.
struct RunHooks<'a> {
    outside: Vec<(NsType, Option<u64>)>,
    pin: Option<Pinning>,
    report: &'a mut dyn FnMut(Event),
}

impl Hooks for RunHooks<'_> {
    fn ready(&mut self, pid: Option<Pid>) -> Result<()> {
        if let Some(pid) = pid {
            let rows: Vec<Compare> = self
                .outside
                .iter()
                .map(|(t, o)| Compare {
                    ns: *t,
                    outside: *o,
                    inside: inode::inode(Some(pid.as_raw() as u32), *t).ok(),
                })
                .collect();
            (self.report)(Event::Inodes(rows));
        }
        if let Some(p) = &mut self.pin {
            for made in p.pin(pid)? {
                (self.report)(Event::Pinned(made));
            }
        }
        Ok(())
    }

    fn started(&mut self, _pid: Option<Pid>) -> Result<()> {
        // CMD started: the pin is complete and outlives this command.
        match self.pin.take() {
            Some(p) => p.commit(),
            None => Ok(()),
        }
    }
}

/// `ns run`: start the prepared process (pinning its namespaces as
/// `pin` when given) and wait for it. A failed start leaves no pin.
pub fn run(
    root: &Root,
    prepared: Prepared,
    pin: Option<&str>,
    report: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    let pinning = match pin {
        Some(name) => Some(Pinning::prepare(root, name, &prepared.types)?),
        None => None,
    };
    let mut hooks = RunHooks {
        outside: inode::all(None),
        pin: pinning,
        report,
    };
    spawn::run(prepared.spec, &mut hooks)
}

/// `ns enter`: run `argv` in the namespaces found by
/// [`super::request::EnterRequest::resolve`], and wait for it.
pub fn enter(entering: &Entering, argv: Vec<String>) -> Result<Outcome> {
    spawn::run(super::enter_spec(&entering.targets, argv), &mut NoHooks)
}
