//! The detach keys of an attached terminal (Docker's `--detach-keys`,
//! Ctrl-P Ctrl-Q by default): a sequence of bytes typed on this command's
//! terminal that ends the session, not the container. Nothing of the
//! kernel here: in raw mode (`termios(3)`) a control key arrives as one
//! byte (Ctrl-P is 0x10), so the sequence is matched in the input stream
//! on its way to the container's terminal, as Docker's `term` package
//! does. The keys typed so far of a sequence are held back; when the next
//! byte breaks the sequence they are passed on with it (Docker's
//! behaviour), so a lone Ctrl-P still reaches the container.
//!
//! The spec is Docker's: comma-separated keys, each one character (its
//! byte) or `ctrl-<x>` with `<x>` one of `@`, `a`-`z`, `[`, `\`, `]`, `^`,
//! `_` (bytes 0 to 31), or `DEL` (127). Read `ascii(7)`.

use anyhow::{Result, bail};

/// Docker's default: Ctrl-P Ctrl-Q.
pub const DEFAULT: [u8; 2] = [0x10, 0x11];

/// What Docker's `term.EscapeError` says, printed when a session detaches.
pub const DETACHED_MESSAGE: &str = "read escape sequence";

/// The `ctrl-<x>` names, in byte order (0 to 31), as Docker's `term.ASCII`.
const CTRL: &str = "@abcdefghijklmnopqrstuvwxyz[\\]^_";

/// Parse a `--detach-keys` spec into its bytes; Docker's error for a key it
/// does not know (`invalid detach keys (SPEC): unknown character: 'KEY'`).
pub fn parse(spec: &str) -> Result<Vec<u8>> {
    let mut keys = Vec::new();
    for key in spec.split(',') {
        if key.len() == 1 {
            keys.push(key.as_bytes()[0]);
            continue;
        }
        let ctrl = key
            .strip_prefix("ctrl-")
            .filter(|x| x.len() == 1)
            .and_then(|x| CTRL.find(x));
        match (ctrl, key) {
            (Some(n), _) => keys.push(n as u8),
            (None, "DEL") => keys.push(127),
            _ => bail!(
                "invalid detach keys ({spec}): unknown character: '{key}' (give comma-separated keys: one character, or ctrl-<x> with <x> one of a-z @ [ \\ ] ^ _, e.g. ctrl-p,ctrl-q)"
            ),
        }
    }
    Ok(keys)
}

/// The keys of a session: those of `--detach-keys`, or Docker's default
/// when none (or an empty spec) is given.
pub fn resolve(spec: Option<&str>) -> Result<Vec<u8>> {
    match spec {
        Some(s) if !s.is_empty() => parse(s),
        _ => Ok(DEFAULT.to_vec()),
    }
}

/// What one piece of input comes to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// The bytes for the container.
    pub pass: Vec<u8>,
    /// The whole sequence was typed: end the session (nothing after it in
    /// the piece is passed on).
    pub detach: bool,
}

/// Finds the detach sequence in a stream of input, piece by piece.
#[derive(Debug, Clone)]
pub struct Matcher {
    keys: Vec<u8>,
    /// How many keys of the sequence were typed so far (held back).
    pos: usize,
}

impl Matcher {
    pub fn new(keys: Vec<u8>) -> Matcher {
        Matcher { keys, pos: 0 }
    }

    /// The next piece of input.
    pub fn feed(&mut self, input: &[u8]) -> Fed {
        let mut fed = Fed::default();
        if self.keys.is_empty() {
            fed.pass.extend_from_slice(input);
            return fed;
        }
        for &b in input {
            if b == self.keys[self.pos] {
                self.pos += 1;
                if self.pos == self.keys.len() {
                    self.pos = 0;
                    fed.detach = true;
                    return fed;
                }
            } else {
                // The sequence broke: what was held goes on, then this byte
                // (which starts no new match, as in Docker's proxy).
                fed.pass.extend_from_slice(&self.keys[..self.pos]);
                self.pos = 0;
                fed.pass.push(b);
            }
        }
        fed
    }

    /// The input ended: the keys held back go on.
    pub fn flush(&mut self) -> Vec<u8> {
        let held = self.keys[..self.pos].to_vec();
        self.pos = 0;
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_as_docker_reads_them() {
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert_eq!(
            parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            vec![0, 27, 28, 29, 30, 31]
        );
        assert_eq!(parse("a,DEL,Z").unwrap(), vec![b'a', 127, b'Z']);
        assert_eq!(resolve(None).unwrap(), DEFAULT);
        assert_eq!(resolve(Some("")).unwrap(), DEFAULT);
        assert_eq!(resolve(Some("e")).unwrap(), vec![b'e']);
    }

    #[test]
    fn bad_specs_name_the_key() {
        for (spec, key) in [
            ("shift-a", "shift-a"),
            ("ctrl-p,ctrl-", "ctrl-"),
            ("ctrl-A", "ctrl-A"),
            ("ctrl-pq", "ctrl-pq"),
            ("ab", "ab"),
            ("ctrl-p,,ctrl-q", ""),
        ] {
            let e = parse(spec).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!(
                    "invalid detach keys ({spec}): unknown character: '{key}'"
                )),
                "{spec}: {e}"
            );
        }
    }

    #[test]
    fn the_sequence_detaches_across_pieces() {
        let mut m = Matcher::new(DEFAULT.to_vec());
        assert_eq!(
            m.feed(b"ls\r\x10"),
            Fed {
                pass: b"ls\r".to_vec(),
                detach: false
            }
        );
        assert_eq!(
            m.feed(b"\x11after"),
            Fed {
                pass: vec![],
                detach: true
            }
        );
        let mut m = Matcher::new(DEFAULT.to_vec());
        assert!(m.feed(b"\x10\x11").detach);
    }

    #[test]
    fn a_broken_sequence_passes_the_keys_on() {
        let mut m = Matcher::new(DEFAULT.to_vec());
        assert_eq!(m.feed(b"\x10").pass, b"");
        assert_eq!(m.feed(b"x").pass, b"\x10x");
        // The breaking byte starts no new match: Ctrl-P Ctrl-P Ctrl-Q goes
        // to the container whole.
        let mut m = Matcher::new(DEFAULT.to_vec());
        let a = m.feed(b"\x10\x10");
        assert_eq!(a.pass, b"\x10\x10");
        let b = m.feed(b"\x11");
        assert_eq!((b.pass, b.detach), (b"\x11".to_vec(), false));
        // Held keys go on when the input ends.
        let mut m = Matcher::new(vec![1, b'x']);
        assert_eq!(m.feed(b"ab\x01").pass, b"ab");
        assert_eq!(m.flush(), vec![1]);
        assert!(m.flush().is_empty());
        // A single-key sequence.
        let mut m = Matcher::new(vec![b'e']);
        let f = m.feed(b"abe");
        assert_eq!((f.pass, f.detach), (b"ab".to_vec(), true));
    }
}
