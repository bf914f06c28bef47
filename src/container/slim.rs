//! An idle shim's memory. The shim starts its container with the whole of
//! glassbox's code (images, overlays, cgroups, namespaces, links), and
//! the kernel leaves every page of it that was read mapped in the shim.
//! Once the container has run quietly for a moment the shim gives those
//! pages back: `madvise(MADV_DONTNEED)` on its executable's clean,
//! read-only mappings (code and constants, which the kernel maps again
//! from the page cache if they are ever needed: at the exit, say) and
//! `malloc_trim` for the heap. What stays is what waiting takes. Pages a
//! mapping holds privately (written to, like the relocated
//! `.data.rel.ro`) are never touched: dropping them would lose the
//! writes. Read `madvise(2)`, `proc(5)` (`/proc/PID/smaps`),
//! `malloc_trim(3)`.

use anyhow::{Context, Result};

use crate::trace::{Action, Mechanism, Step};

/// One mapping of `/proc/self/smaps`: its range, permissions, file and
/// the anonymous (private, written) memory in it.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    perms: String,
    path: String,
    anonymous_kb: u64,
}

fn mappings(smaps: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        {
            let perms = words.next().unwrap_or_default().to_string();
            let path = words.nth(3).unwrap_or_default().to_string();
            out.push(Mapping {
                start,
                end,
                perms,
                path,
                anonymous_kb: 0,
            });
        } else if first == "Anonymous:"
            && let Some(m) = out.last_mut()
        {
            m.anonymous_kb = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    out
}

/// The ranges of `exe`'s mappings in `smaps` that hold only clean pages
/// of the file: not writable and without anonymous pages.
pub fn clean_ranges(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    mappings(smaps)
        .into_iter()
        .filter(|m| m.path == exe && !m.perms.contains('w') && m.anonymous_kb == 0)
        .map(|m| (m.start, m.end))
        .collect()
}

/// Give back the pages only the start needed; the bytes of mappings
/// dropped.
pub fn shed() -> Result<usize> {
    Step::new(
        Mechanism::Run,
        Action::Syscall,
        "give back the pages of code only the start needed",
    )
    .shell("madvise(MADV_DONTNEED) on the shim's clean code pages; malloc_trim(0)")
    .man("madvise(2)")
    .why("An idle shim needs little of glassbox's code: the kernel maps a page again from the page cache if it is needed.")
    .detail()
    .run(|| {
        let exe = std::fs::read_link("/proc/self/exe").context("readlink /proc/self/exe")?;
        let smaps =
            std::fs::read_to_string("/proc/self/smaps").context("read /proc/self/smaps")?;
        let mut dropped = 0;
        for (start, end) in clean_ranges(&smaps, &exe.to_string_lossy()) {
            // SAFETY: the range is a whole mapping of this process's
            // executable holding only clean file pages (read-only, none
            // private): dropping them loses nothing, a later access maps
            // the same bytes from the file again.
            let r = unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
            };
            if r == 0 {
                dropped += end - start;
            }
        }
        // SAFETY: malloc_trim only returns free heap memory to the kernel.
        unsafe { libc::malloc_trim(0) };
        Ok(dropped)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0a0000000-55d0a0100000 r--p 00000000 fd:01 123 /usr/bin/glassbox
Size:               1024 kB
Anonymous:             0 kB
55d0a0100000-55d0a0900000 r-xp 00100000 fd:01 123 /usr/bin/glassbox
Size:               8192 kB
Anonymous:             0 kB
55d0a0900000-55d0a0960000 r--p 00900000 fd:01 123 /usr/bin/glassbox
Size:                384 kB
Anonymous:           384 kB
55d0a0960000-55d0a0961000 rw-p 00960000 fd:01 123 /usr/bin/glassbox
Size:                  4 kB
Anonymous:             0 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1024 kB
Anonymous:             0 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Size:                132 kB
Anonymous:            12 kB
";

    #[test]
    fn only_the_executables_clean_read_only_mappings_are_dropped() {
        assert_eq!(
            clean_ranges(SMAPS, "/usr/bin/glassbox"),
            vec![
                (0x55d0a0000000, 0x55d0a0100000),
                (0x55d0a0100000, 0x55d0a0900000),
            ],
            "the relocated .data.rel.ro (anonymous pages), the writable data and other files stay"
        );
    }
}
