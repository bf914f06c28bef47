//! The kernel version (`uname -r`, the `release` field of `uname(2)`).
//!
//! glassbox needs overlayfs (mainline since 3.18), and is written against
//! what kernels of the last years offer: cgroup v2 with the cpu controller
//! (4.15), `pidfd` and the new mount API are not required. Older kernels
//! may work in part; very old ones do not.

use super::Check;

const NAME: &str = "kernel";

/// Below this, overlayfs is not in the kernel at all.
pub const MINIMUM: (u32, u32) = (3, 18);
/// From this on, everything glassbox uses is there.
pub const RECOMMENDED: (u32, u32) = (4, 15);

/// `6.18.44-fc-v669` -> `(6, 18)`.
pub fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

pub fn verdict(release: &str) -> Check {
    match parse_release(release) {
        None => Check::warn(
            NAME,
            format!("cannot parse the release {release:?}"),
            "check `uname -r`: glassbox needs Linux 4.15 or newer",
        ),
        Some(v) if v < MINIMUM => Check::fail(
            NAME,
            format!("Linux {release}: no overlayfs before 3.18"),
            "boot a newer kernel (4.15 or later)",
        ),
        Some(v) if v < RECOMMENDED => Check::warn(
            NAME,
            format!("Linux {release}: older than 4.15, some features may be missing"),
            "boot a newer kernel (4.15 or later)",
        ),
        Some(_) => Check::ok(NAME, format!("Linux {release}")),
    }
}

pub fn check() -> Check {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    verdict(&release)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn parses_distribution_releases() {
        assert_eq!(parse_release("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(parse_release("6.1.0-28-amd64"), Some((6, 1)));
        assert_eq!(parse_release("4.15.0"), Some((4, 15)));
        assert_eq!(parse_release("garbage"), None);
    }

    #[test]
    fn versions_map_to_statuses() {
        assert_eq!(verdict("6.18.44-fc-v669").status, Status::Ok);
        assert_eq!(verdict("4.9.0").status, Status::Warn);
        assert_eq!(verdict("3.10.0-1160.el7").status, Status::Fail);
        assert_eq!(verdict("").status, Status::Warn);
    }
}
