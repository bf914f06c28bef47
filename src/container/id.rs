//! Container ids and names as Docker has them: an id is 64 hex digits from
//! the kernel's random source (`getrandom(2)`), shown as its first 12; any
//! unique prefix of an id, or a name, finds a container. Names are
//! `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, chosen by the user or made up from an
//! adjective and a scientist's name ([`super::names`]).

use anyhow::{Context, Result, bail};

/// Docker prints the first 12 hex digits of an id.
pub const SHORT: usize = 12;

/// A new random id: 32 bytes from `getrandom(2)` as 64 hex digits. As
/// Docker does, an id that is all digits is drawn again (it would read as
/// a number to tools that parse the short form).
pub fn new_id() -> Result<String> {
    loop {
        let mut bytes = [0u8; 32];
        getrandom(&mut bytes)?;
        let id = hex(&bytes);
        if !id[..SHORT].bytes().all(|b| b.is_ascii_digit()) {
            return Ok(id);
        }
    }
}

/// Fill `buf` from the kernel's random source.
pub fn getrandom(buf: &mut [u8]) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: getrandom(2) writes at most `len` bytes into the buffer.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("getrandom(2)");
        }
        filled += n as usize;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The short form of an id.
pub fn short(id: &str) -> &str {
    &id[..SHORT.min(id.len())]
}

/// A name as Docker allows it (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`, a leading
/// `/` tolerated as Docker shows names).
pub fn validate_name(name: &str) -> Result<&str> {
    let n = name.strip_prefix('/').unwrap_or(name);
    let ok = n.len() >= 2
        && n.len() <= 128
        && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        bail!("Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    Ok(n)
}

/// Which of `known` (id, name) pairs `key` names: the exact name, the
/// whole id, or a unique id prefix. Docker's messages for none and for an
/// ambiguous prefix.
pub fn resolve<'a>(key: &str, known: &'a [(String, String)]) -> Result<&'a (String, String)> {
    let key = key.strip_prefix('/').unwrap_or(key);
    if key.is_empty() {
        bail!("No such container: {key}");
    }
    if let Some(c) = known.iter().find(|(id, _)| id == key) {
        return Ok(c);
    }
    if let Some(c) = known.iter().find(|(_, name)| name == key) {
        return Ok(c);
    }
    let by_prefix: Vec<_> = known.iter().filter(|(id, _)| id.starts_with(key)).collect();
    match by_prefix.as_slice() {
        [one] => Ok(one),
        [] => bail!("No such container: {key}"),
        _ => bail!("multiple containers found with provided prefix: {key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_and_differ() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert_eq!(short(&a).len(), 12);
    }

    #[test]
    fn names_follow_dockers_rule() {
        assert_eq!(validate_name("web-1").unwrap(), "web-1");
        assert_eq!(validate_name("/web").unwrap(), "web");
        for bad in ["", "a", "-x", "a b", "a/b", "é"] {
            let e = validate_name(bad).unwrap_err().to_string();
            assert!(e.contains("Invalid container name"), "{bad}: {e}");
        }
    }

    #[test]
    fn keys_resolve_by_name_id_or_unique_prefix() {
        let known = vec![
            ("abc123".repeat(10) + "abcd", "web".to_string()),
            ("abd456".repeat(10) + "abcd", "db".to_string()),
        ];
        assert_eq!(resolve("web", &known).unwrap().1, "web");
        assert_eq!(resolve("/db", &known).unwrap().1, "db");
        assert_eq!(resolve("abc", &known).unwrap().1, "web");
        assert_eq!(resolve(&known[1].0, &known).unwrap().1, "db");
        let e = resolve("ab", &known).unwrap_err().to_string();
        assert!(e.contains("multiple containers found"), "{e}");
        let e = resolve("zzz", &known).unwrap_err().to_string();
        assert_eq!(e, "No such container: zzz");
    }
}
