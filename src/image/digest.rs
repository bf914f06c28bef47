//! Content addresses: `sha256:<hex>` of the exact bytes, computed while the
//! bytes stream past (a download, a decompression), and chain ids, the
//! address of a layer *stack* (OCI image spec, config.md: `ChainID(L0|L1) =
//! sha256(ChainID(L0) + " " + DiffID(L1))`). Read `sha256sum(1)`.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

/// The digest of content a `--dry-run` plan did not make (the layer of
/// `image from-host`, packed from files the plan never staged): known only
/// once the real run has made the bytes. Anything addressed by it (a
/// chain id, the config and manifest that name it) is unknown too.
pub const UNKNOWN: &str = "sha256:<unknown>";

/// `sha256:` + 64 hex digits of `bytes`.
pub fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

/// The hex part of `sha256:<hex>`.
pub fn hex_part(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// The 12-digit short id Docker prints.
pub fn short(digest: &str) -> &str {
    let h = hex_part(digest);
    &h[..h.len().min(12)]
}

/// Chain ids of a stack of layers, bottom first, from their diff ids.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let id = match out.last() {
            None => d.clone(),
            Some(parent) if parent == UNKNOWN || d == UNKNOWN => UNKNOWN.to_string(),
            Some(parent) => sha256_of(format!("{parent} {d}").as_bytes()),
        };
        out.push(id);
    }
    out
}

/// A reader that hashes (and counts) what is read through it.
pub struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    pub count: u64,
}

impl<R: Read> HashReader<R> {
    pub fn new(inner: R) -> Self {
        HashReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Read the rest (e.g. tar padding after the end marker), then give
    /// the digest of everything read and the byte count.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex(&self.hasher.finalize())),
            self.count,
        ))
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes (and counts) what is written through it.
pub struct HashWriter<W> {
    pub inner: W,
    hasher: Sha256,
    pub count: u64,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    pub fn finish(self) -> (W, String, u64) {
        let d = format!("sha256:{}", hex(&self.hasher.finalize()));
        (self.inner, d, self.count)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_sha256sum() {
        assert_eq!(
            sha256_of(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut r = HashReader::new(&b"hello\n"[..]);
        let mut buf = [0u8; 2];
        r.read_exact(&mut buf).unwrap();
        let (d, n) = r.finish().unwrap();
        assert_eq!(n, 6);
        assert_eq!(
            d,
            "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        let mut w = HashWriter::new(Vec::new());
        w.write_all(b"hello\n").unwrap();
        let (v, d2, n2) = w.finish();
        assert_eq!((v.len(), d2, n2), (6, d, 6));
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = "sha256:aaaa".to_string();
        let b = "sha256:bbbb".to_string();
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], sha256_of(b"sha256:aaaa sha256:bbbb"));
        assert_eq!(short(&ids[1]).len(), 12);
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn what_stacks_on_an_unknown_layer_is_unknown() {
        let a = "sha256:aaaa".to_string();
        let ids = chain_ids(&[a.clone(), UNKNOWN.into(), a.clone()]);
        assert_eq!(ids, [a.as_str(), UNKNOWN, UNKNOWN]);
        assert_eq!(short(UNKNOWN), "<unknown>");
    }
}
