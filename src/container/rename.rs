//! `rename OLD NEW`: a container's name changed in its record, under the
//! names lock (so a `run --name NEW` racing it cannot take the name too)
//! and the container's own lock. On a user-defined network the name is
//! one peers reach it by: its leases there take the new name, and every
//! member's `hosts` file is rewritten in place (what Docker's embedded DNS
//! answers for it changes at once; its hostname stays, as in Docker).
//! Read `hosts(5)`.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};

use super::{id, state};
use crate::net::{hosts, store};
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};

/// Rename the container `key` names to `new`; its record, renamed.
pub fn rename(root: &Root, key: &str, new: &str) -> Result<state::Container> {
    if key.is_empty() || new.is_empty() {
        bail!("Neither old nor new names may be empty");
    }
    let new = id::validate_name(new)?.to_string();
    let _names = state::names_lock(root)?;
    let found = state::find(root, key)?;
    if found.name == new {
        bail!("Renaming a container with the same name as its current name");
    }
    state::check_name_free(root, &new)?;
    let _lock = state::lock(root, &found.id)?;
    let mut c =
        state::load(root, &found.id)?.with_context(|| format!("No such container: {key}"))?;
    let old = std::mem::replace(&mut c.name, new.clone());
    // The record first: it is what names the container; a lease is found
    // by the container's id whatever its member name.
    Step::new(
        Mechanism::Run,
        Action::State,
        format!("rename container {old} to {new} in its record"),
    )
    .arg("id", id::short(&c.id))
    .arg("path", state::record_path(root, &c.id).display())
    .why("A name is only a handle for people: the kernel objects of a container (its cgroup, mounts, veth, processes) are named by its id, so nothing on the host changes but the names its peers resolve.")
    .run(|| state::save(root, &c))?;
    if let Err(e) = rename_members(root, &c.id, &old, &new) {
        c.name = old;
        let _ = rename_members(root, &c.id, &new, &c.name);
        state::save(root, &c)?;
        return Err(e).context("rename the container on its networks");
    }
    let renamed = crate::events::Event::container(&c, "rename").attr("oldName", format!("/{old}"));
    crate::events::record(root, renamed);
    Ok(c)
}

/// The leases of container `id` named `new` on every network, and the
/// hosts files of those networks' members rewritten.
fn rename_members(root: &Root, id: &str, old: &str, new: &str) -> Result<()> {
    let mut members: BTreeSet<String> = BTreeSet::new();
    for net in store::all(root)? {
        let on_it = store::leases(root, &net.name)?
            .iter()
            .any(|l| l.container.as_ref().is_some_and(|c| c.id == id));
        if !on_it {
            continue;
        }
        let renamed = Step::new(
            Mechanism::Net,
            Action::State,
            format!("rename member {old} to {new} on network {}", net.name),
        )
        .arg("leases", store::dir(root).join(format!("{}.leases.json", net.name)).display())
        .why("On a user-defined network a member's name is one its peers reach it by: every member's hosts file is rewritten in place from the leases, as Docker's embedded DNS starts answering for the new name.")
        .man("hosts(5)")
        .run(|| store::rename_container(root, &net.name, id, new))?;
        if renamed {
            members.extend(
                store::leases(root, &net.name)?
                    .into_iter()
                    .map(|l| l.endpoint),
            );
        }
    }
    if !members.is_empty() {
        hosts::refresh(root, &members, &[])?;
    }
    Ok(())
}
