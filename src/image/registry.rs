//! The registry HTTP API (OCI distribution spec, Docker registry v2).
//!
//! `GET /v2/<repo>/manifests/<tag|digest>` with an `Accept` header listing
//! the manifest types we read, `GET /v2/<repo>/blobs/<digest>` for configs
//! and layers. A `401` carries a `WWW-Authenticate` challenge: `Bearer
//! realm=...,service=...,scope=...` means "get a token from realm" (Docker
//! Hub's way; we send basic credentials there if we have some), `Basic`
//! means "send basic credentials". Registries on loopback, or listed in
//! `insecure-registries` of `<root>/daemon.json`, are spoken to in plain
//! HTTP; others over HTTPS with the system's CA roots plus
//! `<root>/certs.d/<host>/ca.crt` (Docker's layout). Credentials come from
//! [`super::auth`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::auth::credentials;
use super::reference::{DEFAULT_DOMAIN, Reference};
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};

/// What Docker Hub's API host is called.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// `daemon.json`: the registry settings Docker keeps there.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DaemonConfig {
    #[serde(default, rename = "insecure-registries")]
    pub insecure_registries: Vec<String>,
}

/// Is this registry host on loopback (`localhost`, `127.0.0.0/8`, `::1`)?
pub fn is_loopback(domain: &str) -> bool {
    let host = if let Some(rest) = domain.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        domain.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// A client for one repository on one registry.
pub struct Registry {
    agent: ureq::Agent,
    /// `http://127.0.0.1:5000` or `https://registry-1.docker.io`.
    pub base: String,
    pub repo: String,
    pub domain: String,
    creds: Option<(String, String)>,
    /// The `Authorization` header that worked last.
    auth: Mutex<Option<String>>,
}

/// A fetched response we stream from.
pub struct Fetched {
    pub content_type: Option<String>,
    pub digest_header: Option<String>,
    pub length: Option<u64>,
    pub body: Box<dyn Read + Send>,
}

impl Registry {
    pub fn new(root: &Root, r: &Reference) -> Result<Registry> {
        Self::with_credentials(root, r, None)
    }

    /// A client for the registry of `r`, with these credentials instead
    /// of the stored ones (for `login`).
    pub fn with_credentials(
        root: &Root,
        r: &Reference,
        creds: Option<(String, String)>,
    ) -> Result<Registry> {
        let daemon_json = root.data.join("daemon.json");
        let daemon: DaemonConfig = Step::new(
            Mechanism::Image,
            Action::FileRead,
            format!("read {}", daemon_json.display()),
        )
        .arg("path", daemon_json.display())
        .detail()
        .observe_or_plan(|| crate::state::read_json(&daemon_json))?
        .value()
        .flatten()
        .unwrap_or_default();
        // A CA given for the host means it speaks TLS, even on loopback.
        let has_ca = ca_paths(root, &r.domain).iter().any(|p| p.is_file());
        let insecure =
            !has_ca && (is_loopback(&r.domain) || daemon.insecure_registries.contains(&r.domain));
        let host = if r.domain == DEFAULT_DOMAIN {
            DOCKER_HUB_API.to_string()
        } else {
            r.domain.clone()
        };
        let base = format!("{}://{host}", if insecure { "http" } else { "https" });
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .user_agent(concat!("glassbox/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&r.domain) {
            // Loopback is reached directly, never through an HTTP proxy.
            cfg = cfg.proxy(None);
        }
        if !insecure {
            cfg = cfg.tls_config(tls_config(root, &r.domain)?);
        }
        Ok(Registry {
            agent: cfg.build().into(),
            base,
            repo: r.path.clone(),
            domain: r.domain.clone(),
            creds: match creds {
                Some(c) => Some(c),
                None => credentials(root, &r.domain)?,
            },
            auth: Mutex::new(None),
        })
    }

    /// The shell command a student could type for the same request.
    pub fn curl(&self, path: &str) -> String {
        format!("curl -sL {}/v2/{}/{path}", self.base, self.repo)
    }

    fn send(
        &self,
        url: &str,
        accept: Option<&str>,
        auth: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let mut req = self.agent.get(url);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.call().map_err(|e| {
            anyhow!(
                "cannot reach registry {} ({e}): is it running, and is the address right?",
                self.domain
            )
        })
    }

    /// GET `/v2/<repo>/<path>`, answering an auth challenge once.
    pub fn get(&self, path: &str, accept: Option<&str>) -> Result<Fetched> {
        let url = format!("{}/v2/{}/{path}", self.base, self.repo);
        self.get_url(&url, path, accept)
    }

    /// GET `/v2/`: does the registry answer, and accept our credentials?
    pub fn ping(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        self.get_url(&url, "/v2/", None).map(|_| ())
    }

    fn get_url(&self, url: &str, path: &str, accept: Option<&str>) -> Result<Fetched> {
        let url = url.to_string();
        let auth = self.auth.lock().map(|a| a.clone()).unwrap_or(None);
        let mut resp = self.send(&url, accept, auth.as_deref())?;
        if resp.status().as_u16() == 401 {
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let header = self.authorize(&challenge)?;
            resp = self.send(&url, accept, Some(&header))?;
            if resp.status().as_u16() != 401
                && let Ok(mut a) = self.auth.lock()
            {
                *a = Some(header);
            }
        }
        let status = resp.status().as_u16();
        let h = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = h("content-type");
        let digest_header = h("docker-content-digest");
        let length = h("content-length").and_then(|l| l.parse().ok());
        match status {
            200 => Ok(Fetched {
                content_type,
                digest_header,
                length,
                body: Box::new(resp.into_body().into_reader()),
            }),
            401 => bail!(
                "unauthorized: authentication required for {}/{} (log in with `glassbox login {}`, or check the repository name)",
                self.domain,
                self.repo,
                self.domain
            ),
            403 => bail!(
                "denied: access to {}/{} is forbidden for these credentials",
                self.domain,
                self.repo
            ),
            404 => {
                let body = error_body(resp);
                let code = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "NOT_FOUND".into());
                bail!("{path}: not found on {} ({code})", self.domain)
            }
            400 if self.base.starts_with("http://") => {
                let body = error_body(resp);
                if body.contains("HTTPS") {
                    bail!(
                        "registry {} speaks HTTPS: put its CA certificate in certs.d/{}/ca.crt under the state root",
                        self.domain,
                        self.domain
                    );
                }
                bail!(
                    "registry {} answered HTTP 400 for {url}: {body}",
                    self.domain
                )
            }
            s => bail!("registry {} answered HTTP {s} for {url}", self.domain),
        }
    }

    /// Answer a `WWW-Authenticate` challenge with an `Authorization` value.
    fn authorize(&self, challenge: &str) -> Result<String> {
        let (scheme, params) = parse_challenge(challenge);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => match &self.creds {
                Some((u, p)) => Ok(format!(
                    "Basic {}",
                    base64_encode(format!("{u}:{p}").as_bytes())
                )),
                None => bail!(
                    "unauthorized: {} wants a user name and password: run `glassbox login {}`",
                    self.domain,
                    self.domain
                ),
            },
            "bearer" => {
                let realm = params
                    .iter()
                    .find(|(k, _)| k == "realm")
                    .map(|(_, v)| v.clone())
                    .context("the Bearer challenge has no realm")?;
                let mut q = Vec::new();
                if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
                    q.push(format!("service={}", url_encode(s)));
                }
                let scope = params
                    .iter()
                    .find(|(k, _)| k == "scope")
                    .map(|(_, v)| v.clone())
                    .or_else(|| {
                        (!self.ping_only()).then(|| format!("repository:{}:pull", self.repo))
                    });
                if let Some(scope) = scope {
                    q.push(format!("scope={}", url_encode(&scope)));
                }
                let url = format!("{realm}?{}", q.join("&"));
                let basic = self.creds.as_ref().map(|(u, p)| {
                    format!("Basic {}", base64_encode(format!("{u}:{p}").as_bytes()))
                });
                let mut resp = self.agent.get(&url).header("Accept", "application/json");
                if let Some(b) = &basic {
                    resp = resp.header("Authorization", b);
                }
                let mut resp = resp
                    .call()
                    .map_err(|e| anyhow!("cannot reach the token service {realm} ({e})"))?;
                let status = resp.status().as_u16();
                if status != 200 {
                    bail!(
                        "unauthorized: the token service {realm} answered HTTP {status}{}",
                        if self.creds.is_none() {
                            format!(": log in with `glassbox login {}`", self.domain)
                        } else {
                            ": check the user name and password".to_string()
                        }
                    );
                }
                let v: serde_json::Value = serde_json::from_str(
                    &resp
                        .body_mut()
                        .read_to_string()
                        .context("read the token service's answer")?,
                )
                .context("the token service's answer is not JSON")?;
                let token = v["token"]
                    .as_str()
                    .or(v["access_token"].as_str())
                    .context("the token service's answer has no token")?;
                Ok(format!("Bearer {token}"))
            }
            _ => bail!(
                "unauthorized: {} answered 401 with no challenge we understand ({challenge:?})",
                self.domain
            ),
        }
    }
}

impl Registry {
    fn ping_only(&self) -> bool {
        self.repo.is_empty()
    }
}

/// `Bearer realm="https://auth",service="reg",scope="repository:x:pull"`.
pub fn parse_challenge(h: &str) -> (String, Vec<(String, String)>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some((key, after)) = s.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_string(), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((key, value));
        s = next.trim_start_matches([',', ' ']);
    }
    (scheme.to_string(), params)
}

/// The start of an error answer's body (at most 64 KiB, empty if unreadable).
fn error_body(resp: ureq::http::Response<ureq::Body>) -> String {
    resp.into_body()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default()
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = B64
            .iter()
            .position(|&x| x == c)
            .with_context(|| format!("invalid base64 character {:?}", char::from(c)))?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// Per-registry CA files, Docker's `certs.d/<host>/ca.crt` layout.
pub fn ca_paths(root: &Root, domain: &str) -> Vec<PathBuf> {
    vec![
        root.data.join("certs.d").join(domain).join("ca.crt"),
        Path::new("/etc/docker/certs.d").join(domain).join("ca.crt"),
    ]
}

/// TLS roots: the system bundle plus `certs.d/<host>/ca.crt`.
fn tls_config(root: &Root, domain: &str) -> Result<ureq::tls::TlsConfig> {
    let mut certs = Vec::new();
    let mut add = |p: &Path| -> Result<()> {
        if let Ok(bytes) = std::fs::read(p) {
            for item in ureq::tls::parse_pem(&bytes) {
                if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
                    certs.push(c.to_owned());
                }
            }
        }
        Ok(())
    };
    add(Path::new("/etc/ssl/certs/ca-certificates.crt"))?;
    add(Path::new("/etc/pki/tls/certs/ca-bundle.crt"))?;
    for p in ca_paths(root, domain) {
        add(&p)?;
    }
    let b = ureq::tls::TlsConfig::builder();
    Ok(if certs.is_empty() {
        b.build()
    } else {
        b.root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
            .build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(
            p[0],
            ("realm".into(), "https://auth.docker.io/token".into())
        );
        assert_eq!(p[1], ("service".into(), "registry.docker.io".into()));
        assert_eq!(p[2].1, "repository:library/busybox:pull");
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((s.as_str(), p[0].1.as_str()), ("Basic", "Registry Realm"));
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "user:pa55 word!"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn insecure_registries_and_certs_d_choose_the_scheme() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(Some(d.path())).unwrap();
        let base = |r: &str| {
            Registry::new(&root, &Reference::parse(r).unwrap())
                .unwrap()
                .base
        };
        assert_eq!(base("busybox"), "https://registry-1.docker.io");
        assert_eq!(base("example.com:5000/app"), "https://example.com:5000");
        assert_eq!(base("127.0.0.1:5000/app"), "http://127.0.0.1:5000");
        std::fs::write(
            d.path().join("daemon.json"),
            r#"{"insecure-registries": ["example.com:5000"]}"#,
        )
        .unwrap();
        assert_eq!(base("example.com:5000/app"), "http://example.com:5000");
        let ca = d.path().join("certs.d/127.0.0.1:5000");
        std::fs::create_dir_all(&ca).unwrap();
        std::fs::write(ca.join("ca.crt"), "").unwrap();
        assert_eq!(base("127.0.0.1:5000/app"), "https://127.0.0.1:5000");
    }

    #[test]
    fn loopback_registries_are_plain_http() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("docker.io"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert_eq!(
            url_encode("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
