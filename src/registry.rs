//! The composition root: the one list of every kind of host resource
//! glassbox makes (mounts, cgroups, links, firewall tables and rules,
//! pins) and of every mechanism's recovery area, handed to the state layer
//! ([`crate::state::resources::install`]) when glassbox starts. A new
//! mechanism adds its kind or area here, and `doctor` and `system prune`
//! know it.

use crate::state::resources::{self, Registry};

/// Install the registry (call first thing; a second call changes nothing).
pub fn install() {
    resources::install(Registry {
        kinds: vec![
            &crate::host::MOUNT_KIND,
            &crate::cgroup::CGROUP_KIND,
            &crate::net::LINK_KIND,
            &crate::net::NFT_KIND,
            &crate::net::IPT_KIND,
            &crate::ns::pin_state::PIN_KIND,
        ],
        areas: vec![
            &crate::container::recover::CONTAINERS,
            &crate::ns::pin_state::PINS,
            &crate::unionfs::records::OVERLAYS,
            &crate::cgroup::recover::EMPTY_PARENTS,
            &crate::image::recover::IMAGE_STORE,
            &crate::net::recover::NET,
        ],
    });
}
