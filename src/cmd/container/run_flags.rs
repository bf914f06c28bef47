//! `run`/`create`'s flags checked and turned into the library's plain
//! [`Request`]: the conversion `run.rs` declares the flags for. Options
//! glassbox does not have are refused with the reason, never ignored.

use anyhow::{Result, bail};

use super::run::RunArgs;
use crate::container::config::{self, Request};
use crate::container::mount_spec::{self, MountRequest};

fn host_env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// The library's request, every value checked as Docker checks it.
pub fn request(a: &RunArgs) -> Result<Request> {
    if let Some(p) = &a.restart
        && p != "no"
    {
        bail!(
            "--restart {p} is not supported: glassbox has no daemon that outlives a container to restart it (run it again, or under systemd)"
        );
    }
    let security = security(a)?;
    if a.detach && a.rm && a.interactive && !a.tty {
        // Docker accepts it; nothing to refuse.
    }
    let mut env = Vec::new();
    for f in &a.env_file {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("open {}: {e}", f.display()))?;
        env.extend(crate::container::env::parse_env_file(
            &text,
            &f.display().to_string(),
            host_env,
        )?);
    }
    for e in &a.env {
        if let Some(v) = crate::container::env::from_flag(e, host_env)? {
            env.push(v);
        }
    }
    let flags = crate::cgroup::spec::Flags {
        memory: a.memory.clone(),
        memory_swap: a.memory_swap.clone(),
        cpu_shares: a.cpu_shares,
        cpus: a.cpus.clone(),
        cpuset_cpus: a.cpuset_cpus.clone(),
        pids_limit: a.pids_limit,
    };
    let ncpus = crate::cgroup::spec::cpu_count();
    let (limits, warnings) = crate::cgroup::spec::resolve(&flags, ncpus)?;
    for w in warnings {
        crate::trace::warn(w);
    }
    let mut publish = Vec::new();
    for p in &a.publish {
        publish.extend(crate::net::ports::parse_port_spec(p)?);
    }
    for h in &a.add_host {
        config::check_add_host(h)?;
    }
    Ok(Request {
        image: a.image.clone(),
        cmd: a.command.clone(),
        entrypoint: a.entrypoint.clone(),
        name: a.name.clone(),
        env,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        auto_remove: a.rm,
        binds: a
            .volume
            .iter()
            .filter_map(|v| config::parse_volume(v).transpose())
            .collect::<Result<_>>()?,
        mounts: mounts(a)?,
        readonly_rootfs: a.read_only,
        memory: limits.memory.map_or(0, |m| m as i64),
        memory_swap: match limits.swap {
            None | Some(crate::cgroup::spec::Swap::Default) => 0,
            Some(crate::cgroup::spec::Swap::Unlimited) => -1,
            Some(crate::cgroup::spec::Swap::Total(t)) => t as i64,
        },
        cpu_shares: limits.cpu_shares.map_or(0, |s| s as i64),
        nano_cpus: limits
            .cpu_quota
            .map_or(0, |(q, p)| (q * 1_000_000_000 / p) as i64),
        cpuset_cpus: limits.cpuset_cpus.unwrap_or_default(),
        pids_limit: a.pids_limit,
        network: a.network.clone(),
        publish,
        publish_all: a.publish_all,
        expose: config::exposes(&a.expose)?,
        ip: a.ip.as_deref().map(config::parse_ip).transpose()?,
        network_aliases: a.network_alias.clone(),
        add_hosts: a.add_host.clone(),
        dns: a.dns.clone(),
        labels: config::read_labels(&a.label_file, &a.label)?,
        log: crate::container::logfile::options(&a.log_opt)?,
        init: a.init,
        security,
    })
}

/// The walls asked for: `--cap-add`, `--cap-drop`, `--privileged`,
/// `--security-opt`, `--device`, `--userns`.
fn security(a: &RunArgs) -> Result<crate::container::state::Security> {
    if a.privileged {
        bail!(
            "--privileged is not supported yet: glassbox keeps Docker's default walls for every container"
        );
    }
    if !a.cap_add.is_empty() || !a.cap_drop.is_empty() {
        bail!(
            "--cap-add and --cap-drop are not supported yet: glassbox keeps Docker's 14 capabilities"
        );
    }
    if !a.security_opt.is_empty() {
        bail!("--security-opt is not supported yet");
    }
    if !a.device.is_empty() {
        bail!("--device is not supported yet: a container gets Docker's default devices");
    }
    if a.userns.is_some() {
        bail!("--userns is not supported yet: the container's root is the host's root");
    }
    Ok(Default::default())
}

/// Every `-v`, `--mount` and `--tmpfs`, checked (one destination once).
fn mounts(a: &RunArgs) -> Result<Vec<MountRequest>> {
    let mut out = Vec::new();
    for v in &a.volume {
        out.push(mount_spec::parse_volume_flag(v)?);
    }
    for m in &a.mount {
        out.push(mount_spec::parse_mount_flag(m)?);
    }
    for t in &a.tmpfs {
        out.push(mount_spec::parse_tmpfs_flag(t)?);
    }
    mount_spec::check_duplicates(&out)?;
    Ok(out)
}
