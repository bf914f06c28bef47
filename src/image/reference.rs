//! Image references, normalized the way Docker does it.
//!
//! `busybox` means `docker.io/library/busybox:latest`; `user/app` means
//! `docker.io/user/app:latest`; `host:5000/app:v1` names another registry
//! (the first component is a registry when it has a `.` or a `:`, is
//! `localhost`, or has upper-case letters); `app@sha256:HEX` pins a digest.
//! The grammar is the one of `github.com/distribution/reference`
//! (`reference.go`, `normalize.go`), so the same strings are accepted and
//! rejected, with errors in Docker's words.

use std::fmt;

use anyhow::{Result, bail};

/// The registry `docker.io` short names live on.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker's name for Docker Hub's official images.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag used when none is given.
pub const DEFAULT_TAG: &str = "latest";
/// Longest repository name Docker accepts (domain + path).
pub const NAME_TOTAL_MAX: usize = 255;

/// A fully normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// `docker.io`, `127.0.0.1:5000`, `ghcr.io`, ...
    pub domain: String,
    /// `library/busybox`, `user/app`.
    pub path: String,
    /// `latest` unless a digest alone was given.
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parse a reference the way `docker pull` does, adding Docker Hub's
    /// defaults (`docker.io`, `library/`, `:latest`).
    pub fn parse(s: &str) -> Result<Reference> {
        let mut r = Self::parse_normalized_named(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parse without adding a default tag (`docker image ls busybox` keeps
    /// all tags; `docker rmi busybox` still means `:latest`).
    pub fn parse_normalized_named(s: &str) -> Result<Reference> {
        if s.is_empty() {
            bail!("invalid reference format: the reference is empty");
        }
        if is_full_hex_id(s) {
            bail!("invalid repository name ({s}), cannot specify 64-byte hexadecimal strings");
        }
        // Split off `@digest`, then `:tag` (a `:` after the last `/`).
        let (rest, digest) = match s.split_once('@') {
            Some((name, d)) => (name, Some(d)),
            None => (s, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if name.is_empty() {
            bail!("invalid reference format: {s:?} has no repository name");
        }
        if let Some(t) = tag {
            validate_tag(t).map_err(|e| anyhow::anyhow!("invalid reference format: {s:?}: {e}"))?;
        }
        if let Some(d) = digest {
            validate_digest(d)
                .map_err(|e| anyhow::anyhow!("invalid reference format: {s:?}: {e}"))?;
        }
        let (domain, path) = split_domain(name);
        validate_domain(&domain)
            .map_err(|e| anyhow::anyhow!("invalid reference format: {s:?}: {e}"))?;
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            bail!("invalid reference format: repository name ({path}) must be lowercase");
        }
        validate_path(&path)
            .map_err(|e| anyhow::anyhow!("invalid reference format: {s:?}: {e}"))?;
        if domain.len() + 1 + path.len() > NAME_TOTAL_MAX {
            bail!(
                "invalid reference format: repository name must not be more than {NAME_TOTAL_MAX} characters"
            );
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// `docker.io/library/busybox` (no tag, no digest).
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The name Docker shows: `busybox`, `user/app`, `127.0.0.1:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// `busybox:latest`, `busybox@sha256:...`, as Docker prints them.
    pub fn familiar(&self) -> String {
        self.format(&self.familiar_name())
    }

    /// The repository with its tag only (`docker.io/library/busybox:latest`).
    pub fn tagged(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{t}", self.name()))
    }

    /// What the registry is asked for: the digest if pinned, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    fn format(&self, name: &str) -> String {
        let mut s = name.to_string();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(&self.name()))
    }
}

/// Is `s` a full 64-hex image id (which Docker refuses as a name)?
pub fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Docker's `splitDockerDomain`.
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{path}")
    } else {
        path
    };
    (domain, path)
}

/// `[\w][\w.-]{0,127}`.
fn validate_tag(tag: &str) -> std::result::Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    match chars.next() {
        None => return Err("the tag is empty".into()),
        Some(c) if !word(c) => {
            return Err(format!("tag {tag:?} must start with a letter, digit or _"));
        }
        _ => {}
    }
    if tag.len() > 128 {
        return Err(format!("tag {tag:?} is longer than 128 characters"));
    }
    if let Some(c) = chars.find(|&c| !(word(c) || c == '.' || c == '-')) {
        return Err(format!("tag {tag:?} has an invalid character {c:?}"));
    }
    Ok(())
}

/// `algorithm:encoded`; sha256 must be 64 lower-case hex digits.
pub fn validate_digest(d: &str) -> std::result::Result<(), String> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Err(format!("digest {d:?} must be ALGORITHM:HEX"));
    };
    match alg {
        "sha256" => {
            if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(format!(
                    "digest {d:?}: sha256 needs 64 lower-case hexadecimal digits"
                ));
            }
            Ok(())
        }
        "sha384" | "sha512" => Err(format!("digest algorithm {alg} is not supported")),
        _ => Err(format!("unsupported digest algorithm {alg:?}")),
    }
}

/// A domain: `component(.component)*(:port)?`, or `[ipv6](:port)?`.
fn validate_domain(domain: &str) -> std::result::Result<(), String> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(format!("registry {domain:?} has an unclosed ["));
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("registry {domain:?} is not a valid IPv6 address"));
        }
        match after {
            "" => return Ok(()),
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return Err(format!("registry {domain:?} is malformed")),
            },
        }
    } else {
        match domain.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("registry {domain:?} has an invalid port {p:?}"));
    }
    if !host.is_empty() || !domain.starts_with('[') {
        for comp in host.split('.') {
            let ok = !comp.is_empty()
                && comp.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !comp.starts_with('-')
                && !comp.ends_with('-');
            if !ok {
                return Err(format!(
                    "registry {domain:?} has an invalid host name component {comp:?}"
                ));
            }
        }
    }
    Ok(())
}

/// Path components: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, joined by `/`.
fn validate_path(path: &str) -> std::result::Result<(), String> {
    for comp in path.split('/') {
        if !valid_path_component(comp) {
            return Err(format!(
                "repository name component {comp:?} must match [a-z0-9]+((.|_|__|-+)[a-z0-9]+)*"
            ));
        }
    }
    Ok(())
}

fn valid_path_component(comp: &str) -> bool {
    let b = comp.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &comp[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn short_names_get_docker_hub_defaults() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            full("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("a/b/c/d"), "docker.io/a/b/c/d:latest");
    }

    #[test]
    fn other_registries_keep_their_path() {
        assert_eq!(full("localhost/app"), "localhost/app:latest");
        assert_eq!(full("localhost:5000/app:v1"), "localhost:5000/app:v1");
        assert_eq!(
            full("127.0.0.1:5000/team/app:v1"),
            "127.0.0.1:5000/team/app:v1"
        );
        assert_eq!(full("ghcr.io/owner/repo"), "ghcr.io/owner/repo:latest");
        assert_eq!(full("[::1]:5000/app"), "[::1]:5000/app:latest");
        // An upper-case first component is a host name.
        assert_eq!(full("Registry/app"), "Registry/app:latest");
        // A single component never is a registry.
        assert_eq!(full("localhost"), "docker.io/library/localhost:latest");
    }

    #[test]
    fn digests_pin_and_drop_the_default_tag() {
        let r = Reference::parse(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.familiar(), format!("busybox@{D}"));
        let both = Reference::parse(&format!("busybox:1.36@{D}")).unwrap();
        assert_eq!(both.tag.as_deref(), Some("1.36"));
        assert_eq!(both.manifest_ref(), D);
        assert_eq!(
            both.to_string(),
            format!("docker.io/library/busybox:1.36@{D}")
        );
    }

    #[test]
    fn familiar_names_are_what_docker_prints() {
        let f = |s: &str| Reference::parse(s).unwrap().familiar();
        assert_eq!(f("docker.io/library/busybox"), "busybox:latest");
        assert_eq!(f("user/app:v2"), "user/app:v2");
        assert_eq!(f("docker.io/library/a/b"), "library/a/b:latest");
        assert_eq!(f("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
    }

    #[test]
    fn invalid_references_are_refused_in_dockers_words() {
        let err = |s: &str| format!("{:#}", Reference::parse(s).unwrap_err());
        assert!(err("").contains("empty"));
        assert!(
            err("Busybox").contains("must be lowercase"),
            "{}",
            err("Busybox")
        );
        assert!(err("library/Busybox").contains("must be lowercase"));
        assert!(err("busybox:").contains("tag is empty"));
        assert!(err("busybox:-x").contains("must start"));
        assert!(err("busybox:a b").contains("invalid character"));
        assert!(err(&format!("busybox:{}", "a".repeat(129))).contains("longer than 128"));
        assert!(err("busybox@sha256:abc").contains("64 lower-case"));
        assert!(err("busybox@md5:abc").contains("unsupported digest"));
        assert!(err("busy..box").contains("component"));
        assert_eq!(full("busy--box"), "docker.io/library/busy--box:latest");
        assert!(err("-busybox").contains("component"));
        assert!(err("busybox-").contains("component"));
        assert!(err("a//b").contains("component"));
        assert!(err("a/b/").contains("component"));
        assert!(err("busy___box").contains("component"));
        assert!(err(":tag").contains("no repository"));
        assert!(err("localhost:port/app").contains("invalid port"));
        assert!(err("-bad.example.com/app").contains("host name component"));
        assert!(err("[zz]:5000/app").contains("IPv6"));
        assert!(
            err(&"a".repeat(64).replace('a', "f")).contains("64-byte hexadecimal"),
            "a full id is not a name"
        );
        let long = format!("example.com/{}", "a".repeat(250));
        assert!(err(&long).contains("more than 255"));
    }

    #[test]
    fn separators_follow_the_grammar() {
        for ok in ["a.b", "a_b", "a__b", "a-b", "a---b", "a1.b2_c3__d4-e5", "0"] {
            assert!(valid_path_component(ok), "{ok} should be valid");
        }
        for bad in ["a..b", "a___b", "a._b", "a-.b", ".a", "a_", "", "A"] {
            assert!(!valid_path_component(bad), "{bad} should be invalid");
        }
    }

    #[test]
    fn tags_with_ports_are_not_confused() {
        let r = Reference::parse("localhost:5000/app").unwrap();
        assert_eq!(r.domain, "localhost:5000");
        assert_eq!(r.path, "app");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = Reference::parse_normalized_named("localhost:5000/app").unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.with_tag("v3").to_string(), "localhost:5000/app:v3");
    }
}
