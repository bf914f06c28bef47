//! Parse `/proc/self/mountinfo` (see `proc(5)`): one line per mount with
//! its id, parent, source, target, options and propagation tags
//! (`shared:N`, `master:N`, none for private).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u32,
    pub parent: u32,
    pub major_minor: String,
    /// The path inside the filesystem that is mounted (for bind mounts).
    pub root: String,
    pub mount_point: PathBuf,
    pub options: String,
    /// Propagation tags: `shared:1`, `master:2`, `unbindable`.
    pub tags: Vec<String>,
    pub fs_type: String,
    pub source: String,
    pub super_options: String,
}

impl MountEntry {
    pub fn is_shared(&self) -> bool {
        self.tags.iter().any(|t| t.starts_with("shared:"))
    }
}

/// Undo the octal escapes the kernel uses for spaces and the like.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 <= bytes.len()
            && let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 4])
                .ok()
                .and_then(|oct| u8::from_str_radix(oct, 8).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse the text of a mountinfo file.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let id = l.next()?.parse().ok()?;
    let parent = l.next()?.parse().ok()?;
    let major_minor = l.next()?.to_string();
    let root = unescape(l.next()?);
    let mount_point = PathBuf::from(unescape(l.next()?));
    let options = l.next()?.to_string();
    let tags = l.map(str::to_string).collect();
    let mut r = right.split(' ');
    let fs_type = r.next()?.to_string();
    let source = unescape(r.next()?);
    let super_options = r.next().unwrap_or("").to_string();
    Some(MountEntry {
        id,
        parent,
        major_minor,
        root,
        mount_point,
        options,
        tags,
        fs_type,
        source,
        super_options,
    })
}

/// The mounts of a process (`/proc/PID/mountinfo`, or `self`).
pub fn read(pid: Option<u32>) -> Result<Vec<MountEntry>> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/mountinfo"),
        None => "/proc/self/mountinfo".to_string(),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    Ok(parse(&text))
}

/// Is something mounted exactly at `path`?
pub fn is_mount_point(path: &Path) -> Result<bool> {
    Ok(read(None)?.iter().any(|m| m.mount_point == path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
36 22 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
90 22 0:50 / /tmp/with\\040space rw master:3 - tmpfs none rw,size=64k
91 22 0:51 / /tmp/private rw - overlay overlay rw,lowerdir=/a:/b,upperdir=/u,workdir=/w
";

    #[test]
    fn parses_fields_and_tags() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].mount_point, Path::new("/"));
        assert!(m[0].is_shared());
        assert_eq!(m[1].super_options, "rw,memory");
        assert_eq!(m[2].mount_point, Path::new("/tmp/with space"));
        assert_eq!(m[2].tags, vec!["master:3"]);
        assert!(m[3].tags.is_empty());
        assert_eq!(m[3].fs_type, "overlay");
    }

    #[test]
    fn reads_this_process() {
        let m = read(None).unwrap();
        assert!(m.iter().any(|e| e.mount_point == Path::new("/")));
    }
}
