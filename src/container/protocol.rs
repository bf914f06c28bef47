//! What the CLI and a container's shim say to each other over the shim's
//! unix socket (`unix(7)`). A rebuilt glassbox meets shims started by the
//! old one, so every connection opens with a hello that carries the
//! protocol version; a shim that speaks another version is refused with a
//! clear message, never misread.
//!
//! After the hello the connection carries frames: one byte of kind, four
//! bytes of length (big-endian), then the payload. Requests and events are
//! JSON; output and input are raw bytes.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Bumped whenever a frame or a message changes meaning.
pub const VERSION: u32 = 1;

/// The largest frame either side accepts (a message, or a piece of output).
pub const MAX_FRAME: usize = 1 << 20;

/// A frame's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A JSON request from the CLI ([`Request`]).
    Request = b'Q',
    /// A JSON event from the shim ([`Event`]).
    Event = b'E',
    /// Bytes the container wrote to its stdout (or its terminal).
    Stdout = b'1',
    /// Bytes the container wrote to its stderr.
    Stderr = b'2',
    /// Bytes for the container's stdin.
    Stdin = b'0',
}

impl Kind {
    fn from_byte(b: u8) -> Result<Kind> {
        Ok(match b {
            b'Q' => Kind::Request,
            b'E' => Kind::Event,
            b'1' => Kind::Stdout,
            b'2' => Kind::Stderr,
            b'0' => Kind::Stdin,
            other => bail!("shim protocol: unknown frame kind {other:#04x}"),
        })
    }
}

/// What the CLI asks of a shim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Request {
    /// The first frame of every connection.
    Hello { version: u32 },
    /// Send this connection the container's output from now on (and take
    /// its input when `stdin`); with `logs`, what was written before too.
    Attach { stdin: bool },
    /// Start the init (the shim holds it until then, so an attached `run`
    /// misses nothing), its terminal this size (0: unknown).
    Start { rows: u16, cols: u16 },
    /// Deliver a signal to the init.
    Signal { signal: i32 },
    /// The terminal's new size.
    Resize { rows: u16, cols: u16 },
    /// The input ended: close the container's stdin.
    CloseStdin,
    /// Report the exit when it comes (or at once if it came).
    Wait,
}

/// What a shim tells the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// The answer to hello.
    Hello { version: u32, id: String },
    /// The init exec'd its program.
    Started { pid: u32 },
    /// The init could not exec: the message and Docker's exit code (126
    /// cannot run, 127 not found).
    StartFailed { code: i32, message: String },
    /// The container's process ended.
    Exited { code: i32, oom_killed: bool },
    /// A request was refused.
    Error { message: String },
}

/// Write one frame.
pub fn write_frame(w: &mut impl Write, kind: Kind, payload: &[u8]) -> Result<()> {
    if payload.len() > MAX_FRAME {
        bail!(
            "shim protocol: a frame of {} bytes is too large",
            payload.len()
        );
    }
    let mut head = [0u8; 5];
    head[0] = kind as u8;
    head[1..].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    w.write_all(&head).context("write to the shim socket")?;
    w.write_all(payload).context("write to the shim socket")?;
    Ok(())
}

/// Read one frame; `None` at a clean end of the connection.
pub fn read_frame(r: &mut impl Read) -> Result<Option<(Kind, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e).context("read from the shim socket"),
    }
    let kind = Kind::from_byte(head[0])?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        bail!("shim protocol: a frame of {len} bytes is too large");
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)
        .context("read from the shim socket (cut short)")?;
    Ok(Some((kind, payload)))
}

pub fn send_request(w: &mut impl Write, req: &Request) -> Result<()> {
    let bytes = serde_json::to_vec(req).context("encode a shim request")?;
    write_frame(w, Kind::Request, &bytes)
}

pub fn send_event(w: &mut impl Write, ev: &Event) -> Result<()> {
    let bytes = serde_json::to_vec(ev).context("encode a shim event")?;
    write_frame(w, Kind::Event, &bytes)
}

pub fn decode<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T> {
    serde_json::from_slice(payload).context("shim protocol: a message that is not understood")
}

/// The check both sides make of the other's hello.
pub fn check_version(theirs: u32) -> Result<()> {
    if theirs != VERSION {
        bail!(
            "this container's shim speaks protocol version {theirs}, this glassbox speaks {VERSION}: it was started by another glassbox build; stop it with that build, or `glassbox rm -f` it"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        send_request(&mut buf, &Request::Hello { version: VERSION }).unwrap();
        write_frame(&mut buf, Kind::Stdout, b"hi\n").unwrap();
        send_event(
            &mut buf,
            &Event::Exited {
                code: 3,
                oom_killed: false,
            },
        )
        .unwrap();
        let mut r = &buf[..];
        let (k, p) = read_frame(&mut r).unwrap().unwrap();
        assert_eq!(k, Kind::Request);
        assert_eq!(
            decode::<Request>(&p).unwrap(),
            Request::Hello { version: VERSION }
        );
        assert_eq!(
            read_frame(&mut r).unwrap().unwrap(),
            (Kind::Stdout, b"hi\n".to_vec())
        );
        let (_, p) = read_frame(&mut r).unwrap().unwrap();
        assert_eq!(
            decode::<Event>(&p).unwrap(),
            Event::Exited {
                code: 3,
                oom_killed: false
            }
        );
        assert!(read_frame(&mut r).unwrap().is_none());
    }

    #[test]
    fn bad_frames_and_versions_are_named() {
        let mut r: &[u8] = b"Z\0\0\0\0";
        assert!(
            read_frame(&mut r)
                .unwrap_err()
                .to_string()
                .contains("unknown frame kind")
        );
        let mut r: &[u8] = b"1\xff\xff\xff\xff";
        assert!(
            read_frame(&mut r)
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
        let mut r: &[u8] = b"1\0\0\0\x05hi";
        assert!(read_frame(&mut r).is_err());
        let e = check_version(VERSION + 1).unwrap_err().to_string();
        assert!(e.contains("another glassbox build"), "{e}");
        let wire = serde_json::to_string(&Request::Signal { signal: 15 }).unwrap();
        assert_eq!(wire, r#"{"type":"signal","signal":15}"#);
    }
}
