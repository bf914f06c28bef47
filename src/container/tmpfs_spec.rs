//! `--tmpfs DST[:OPTIONS]` and `--mount type=tmpfs`'s options, as Docker
//! merges them: its defaults `noexec,nosuid,nodev` first, the user's
//! after them, a later one winning; `size=` and `mode=` checked and given
//! to the kernel as filesystem data. Read `tmpfs(5)`, `mount(8)`. Pure.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::mount_spec::{MountRequest, Origin, check_target};
use super::state::{MountPoint, MountType};

/// Bytes as Docker writes a tmpfs size: the largest of g, m, k that
/// divides it.
pub fn size_text(n: u64) -> String {
    for (suffix, d) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if n > 0 && n.is_multiple_of(d) {
            return format!("{}{suffix}", n / d);
        }
    }
    n.to_string()
}

/// The options of a tmpfs, Docker's defaults (`noexec,nosuid,nodev`)
/// first and the user's after them, a later one winning; checked.
pub fn tmpfs_options(user: &str) -> Result<TmpfsOptions> {
    let mut o = TmpfsOptions {
        read_only: false,
        noexec: true,
        nosuid: true,
        nodev: true,
        data: Vec::new(),
    };
    for opt in user.split(',').filter(|s| !s.is_empty()) {
        match opt {
            "ro" => o.read_only = true,
            "rw" => o.read_only = false,
            "exec" => o.noexec = false,
            "noexec" => o.noexec = true,
            "suid" => o.nosuid = false,
            "nosuid" => o.nosuid = true,
            "dev" => o.nodev = false,
            "nodev" => o.nodev = true,
            _ => {
                let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
                let ok = match k {
                    "size" => {
                        crate::cgroup::spec::parse_size(v).is_ok()
                            || v.strip_suffix('%').is_some_and(|p| p.parse::<u8>().is_ok())
                    }
                    "mode" => u32::from_str_radix(v, 8).is_ok(),
                    "uid" | "gid" | "nr_inodes" | "nr_blocks" => v.parse::<u64>().is_ok(),
                    _ => bail!(
                        "invalid tmpfs option: {opt} (give rw, ro, exec, noexec, suid, nosuid, dev, nodev, size=, mode=, uid=, gid=, nr_inodes=)"
                    ),
                };
                if !ok {
                    bail!("invalid tmpfs option: {opt}: bad value");
                }
                // A later size/mode replaces an earlier one.
                o.data.retain(|d: &String| !d.starts_with(&format!("{k}=")));
                let v = if k == "size" {
                    // The kernel takes k, m, g; Docker's units are bytes.
                    crate::cgroup::spec::parse_size(v).map_or(v.to_string(), size_text)
                } else {
                    v.to_string()
                };
                o.data.push(format!("{k}={v}"));
            }
        }
    }
    Ok(o)
}

/// A tmpfs's options, merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsOptions {
    pub read_only: bool,
    pub noexec: bool,
    pub nosuid: bool,
    pub nodev: bool,
    /// `size=...`, `mode=...` (filesystem data).
    pub data: Vec<String>,
}

impl TmpfsOptions {
    /// All of it as `mount -o` takes it (`rw,noexec,nosuid,nodev,size=64m`),
    /// every flag said either way, so reading it back over Docker's
    /// defaults gives the same options.
    pub fn text(&self) -> String {
        let pick = |on: bool, yes: &'static str, no: &'static str| if on { yes } else { no };
        let v = [
            pick(self.read_only, "ro", "rw"),
            pick(self.noexec, "noexec", "exec"),
            pick(self.nosuid, "nosuid", "suid"),
            pick(self.nodev, "nodev", "dev"),
        ];
        let mut s = v.join(",");
        for d in &self.data {
            s.push(',');
            s.push_str(d);
        }
        s
    }
}

pub(super) fn tmpfs_point(dest: &str, user: &str) -> Result<MountPoint> {
    let o = tmpfs_options(user)?;
    Ok(MountPoint {
        kind: MountType::Tmpfs,
        destination: dest.to_string(),
        rw: !o.read_only,
        tmpfs_options: o.text(),
        ..MountPoint::default()
    })
}

/// `--tmpfs DST[:OPTIONS]`.
pub fn parse_tmpfs_flag(spec: &str) -> Result<MountRequest> {
    let (dst, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let dest = check_target(spec, dst)
        .map_err(|e| anyhow::anyhow!("invalid argument \"{spec}\" for \"--tmpfs\" flag: {e}"))?;
    Ok(MountRequest {
        point: tmpfs_point(&dest, opts)?,
        labels: BTreeMap::new(),
        origin: Origin::Tmpfs(opts.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::mount_spec::{check_duplicates, clean_path, parse_volume_flag};
    use super::*;

    #[test]
    fn tmpfs_flag_has_dockers_defaults_and_checks_options() {
        let t = parse_tmpfs_flag("/run").unwrap();
        assert_eq!(t.point.tmpfs_options, "rw,noexec,nosuid,nodev");
        assert_eq!(t.origin, Origin::Tmpfs(String::new()));
        let t = parse_tmpfs_flag("/run:exec,size=65536k,mode=1777,size=1g").unwrap();
        assert_eq!(
            t.point.tmpfs_options,
            "rw,exec,nosuid,nodev,mode=1777,size=1g"
        );
        // Read back (at start), the options are the same.
        let again = tmpfs_options(&t.point.tmpfs_options).unwrap();
        assert!(!again.noexec && again.nosuid);
        assert_eq!(again.text(), t.point.tmpfs_options);
        assert!(!parse_tmpfs_flag("/ro:ro").unwrap().point.rw);
        assert!(
            parse_tmpfs_flag("/x:bogus")
                .unwrap_err()
                .to_string()
                .contains("invalid tmpfs option: bogus")
        );
        assert!(parse_tmpfs_flag("/x:size=lots").is_err());
        assert!(parse_tmpfs_flag("rel").is_err());
        assert!(parse_tmpfs_flag("/").is_err());
        assert_eq!(size_text(3 << 20), "3m");
        assert_eq!(size_text(1000), "1000");
        assert_eq!(clean_path("/a//b/./c/../"), "/a/b");
        let dup = [
            parse_tmpfs_flag("/x").unwrap(),
            parse_volume_flag("v1:/x/").unwrap(),
        ];
        assert_eq!(
            check_duplicates(&dup).unwrap_err().to_string(),
            "Duplicate mount point: /x"
        );
    }
}
