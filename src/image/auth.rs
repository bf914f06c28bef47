//! Registry credentials: `glassbox login` and `logout`, and where a pull
//! finds a user name and password.
//!
//! They are kept as Docker keeps them: `{"auths": {"HOST": {"auth":
//! base64("user:password")}}}`, Docker Hub under
//! `https://index.docker.io/v1/`. glassbox's own file is `<root>/auth.json`
//! (root's alone, mode 0600, written atomically); Docker's
//! `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`) is read too,
//! never written. A login checks the password against the registry
//! (`GET /v2/`, answering its challenge) before it stores anything; under
//! `--dry-run` that request is made (it changes nothing) and the file is
//! not written. Read the distribution spec's "token authentication".

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::reference::{DEFAULT_DOMAIN, Reference};
use super::registry::{Registry, base64_decode, base64_encode};
use crate::state::Root;
use crate::state::atomic::apply_json;
use crate::trace::{Action, Done, Mechanism, Step};

/// The key Docker uses for Docker Hub in `config.json`.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// Docker's `config.json` (the part about credentials).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthFile {
    #[serde(default)]
    pub auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthEntry {
    /// base64("user:password")
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
}

/// Where glassbox keeps its own logins.
pub fn auth_file_path(root: &Root) -> PathBuf {
    root.data.join("auth.json")
}

/// The key a registry's credentials are stored under.
pub fn auth_key(domain: &str) -> String {
    if domain == DEFAULT_DOMAIN {
        DOCKER_HUB_AUTH_KEY.to_string()
    } else {
        domain.to_string()
    }
}

/// Docker's own credentials file: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json` (as the Docker CLI looks).
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        Some(PathBuf::from(dir).join("config.json"))
    } else {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
    }
}

/// glassbox's credentials file; `Done::Planned` when a `--dry-run` by a
/// user who may not read it goes on without it.
fn read_ours(root: &Root) -> Result<Done<AuthFile>> {
    let path = auth_file_path(root);
    Step::new(
        Mechanism::Image,
        Action::FileRead,
        format!("read {}", path.display()),
    )
    .arg("path", path.display())
    .detail()
    .observe_or_plan(|| Ok(crate::state::read_json::<AuthFile>(&path)?.unwrap_or_default()))
}

/// Find credentials for `domain`: glassbox's file first, then Docker's.
/// Docker's file is not glassbox state: one that cannot be read is
/// skipped with a warning (as the Docker CLI does), never rewritten.
pub fn credentials(root: &Root, domain: &str) -> Result<Option<(String, String)>> {
    let key = auth_key(domain);
    let mut files = vec![(auth_file_path(root), read_ours(root)?.value())];
    if let Some(p) = docker_config_path() {
        let theirs = match crate::state::read_json::<AuthFile>(&p) {
            Ok(af) => af,
            Err(e) => {
                let why = match e.downcast_ref::<crate::state::atomic::DamagedState>() {
                    Some(_) => "it is not valid JSON".to_string(),
                    None => format!("{e:#}"),
                };
                crate::trace::warn(format!(
                    "Docker's credentials file {} skipped: {why}",
                    p.display()
                ));
                None
            }
        };
        files.push((p, theirs));
    }
    for (f, af) in files {
        let Some(af) = af else { continue };
        let found = af.auths.iter().find(|(k, _)| {
            let k = k
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            k == key.trim_start_matches("https://") || k.split('/').next() == Some(domain)
        });
        if let Some((_, e)) = found
            && !e.auth.is_empty()
        {
            let raw = base64_decode(&e.auth)
                .with_context(|| format!("decode the auth of {domain} in {}", f.display()))?;
            let s = String::from_utf8(raw).context("credentials are not UTF-8")?;
            let (u, p) = s.split_once(':').with_context(|| {
                format!(
                    "the auth of {domain} in {} is not user:password",
                    f.display()
                )
            })?;
            return Ok(Some((u.to_string(), p.to_string())));
        }
    }
    Ok(None)
}

/// Store credentials for `domain` (Docker's `auths` format); the file's
/// path, or `Done::Planned` under `--dry-run`. Every write of the file,
/// here and in [`remove_credentials`], goes through
/// [`crate::state::write_json`], whose temporary file is created 0600
/// before a byte is written: the rename keeps that mode, so the file is
/// never readable by another user, even for a moment.
pub fn save_credentials(
    root: &Root,
    domain: &str,
    user: &str,
    pass: &str,
) -> Result<Done<PathBuf>> {
    let path = auth_file_path(root);
    let mut af = read_ours(root)?.value().unwrap_or_default();
    af.auths.insert(
        auth_key(domain),
        AuthEntry {
            auth: base64_encode(format!("{user}:{pass}").as_bytes()),
        },
    );
    Ok(match apply_json(&path, &af)? {
        Done::Ran(()) => Done::Ran(path),
        Done::Planned => Done::Planned,
    })
}

/// Forget the credentials for `domain`: whether there were any, or
/// `Done::Planned` when a plan may not read the file.
pub fn remove_credentials(root: &Root, domain: &str) -> Result<Done<bool>> {
    let path = auth_file_path(root);
    let Done::Ran(mut af) = read_ours(root)? else {
        return Ok(Done::Planned);
    };
    let had = af.auths.remove(&auth_key(domain)).is_some();
    if had {
        apply_json(&path, &af)?;
    }
    Ok(Done::Ran(had))
}

/// The registry a `login`/`logout` argument names (`HOST[:PORT]`, a URL,
/// or nothing for Docker Hub), as a reference with no repository.
pub fn server_reference(server: Option<&str>) -> Result<Reference> {
    let domain = server
        .unwrap_or(DEFAULT_DOMAIN)
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let domain = if domain == "index.docker.io/v1" || domain == "index.docker.io" {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    let probe = Reference::parse(&format!("{domain}/probe"))?;
    Ok(Reference {
        path: String::new(),
        ..probe
    })
}

/// The password of a login: given (`-p`), or the first line of `stdin`
/// (`--password-stdin`), never both.
pub fn password(given: Option<&str>, from_stdin: bool, stdin: impl BufRead) -> Result<String> {
    match (given, from_stdin) {
        (Some(p), false) => Ok(p.to_string()),
        (None, true) => {
            let mut s = String::new();
            let mut stdin = stdin;
            stdin
                .read_line(&mut s)
                .context("read the password from standard input")?;
            Ok(s.trim_end_matches(['\n', '\r']).to_string())
        }
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (None, false) => bail!("give a password with --password-stdin (or -p)"),
    }
}

/// A login to make.
#[derive(Debug, Clone)]
pub struct Login {
    /// `HOST[:PORT]`; Docker Hub if `None`.
    pub server: Option<String>,
    pub username: String,
    pub password: String,
}

/// What a login did.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The registry host.
    pub domain: String,
    /// The credentials file written, or `Done::Planned` (`--dry-run`).
    pub stored: Done<PathBuf>,
}

/// `glassbox login`: check the credentials against the registry (under
/// `--dry-run` too: the request changes nothing), then store them.
pub fn login(root: &Root, l: &Login) -> Result<LoggedIn> {
    let r = server_reference(l.server.as_deref())?;
    let reg = Registry::with_credentials(root, &r, Some((l.username.clone(), l.password.clone())))?;
    Step::new(
        Mechanism::Image,
        Action::Http,
        format!("check the password of {} on {}", l.username, r.domain),
    )
    .arg("url", format!("{}/v2/", reg.base))
    .arg("user", &l.username)
    .shell(format!("curl -sf -u {}:PASSWORD {}/v2/", l.username, reg.base))
    .why("a registry answers GET /v2/ with 401 and a challenge until the client brings credentials (or a token they buy) that it accepts")
    .observe(|| reg.ping())?;
    let stored = save_credentials(root, &r.domain, &l.username, &l.password)?;
    Ok(LoggedIn {
        domain: r.domain,
        stored,
    })
}

/// `glassbox logout`: the registry host, and whether credentials for it
/// were removed (`Done::Planned`: a plan that may not read the file).
pub fn logout(root: &Root, server: Option<&str>) -> Result<(String, Done<bool>)> {
    let r = server_reference(server)?;
    let had = remove_credentials(root, &r.domain)?;
    Ok((r.domain, had))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_named_as_docker_names_them() {
        assert_eq!(server_reference(None).unwrap().domain, DEFAULT_DOMAIN);
        for hub in ["https://index.docker.io/v1/", "index.docker.io"] {
            assert_eq!(server_reference(Some(hub)).unwrap().domain, DEFAULT_DOMAIN);
        }
        let r = server_reference(Some("http://127.0.0.1:5000/")).unwrap();
        assert_eq!((r.domain.as_str(), r.path.as_str()), ("127.0.0.1:5000", ""));
        assert_eq!(auth_key(DEFAULT_DOMAIN), DOCKER_HUB_AUTH_KEY);
        assert_eq!(auth_key("127.0.0.1:5000"), "127.0.0.1:5000");
    }

    #[test]
    fn the_password_comes_from_one_place() {
        assert_eq!(password(Some("p"), false, &b""[..]).unwrap(), "p");
        assert_eq!(
            password(None, true, &b"s3cret\r\nmore\n"[..]).unwrap(),
            "s3cret"
        );
        let e = password(Some("p"), true, &b""[..]).unwrap_err().to_string();
        assert!(e.contains("mutually exclusive"), "{e}");
        let e = password(None, false, &b""[..]).unwrap_err().to_string();
        assert!(e.contains("--password-stdin"), "{e}");
    }

    #[test]
    fn credentials_are_stored_found_and_forgotten() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(Some(d.path())).unwrap();
        // A registry name no Docker credentials file of this machine has.
        let host = "registry.invalid:5000";
        assert_eq!(
            save_credentials(&root, host, "u", "p:w").unwrap(),
            Done::Ran(auth_file_path(&root))
        );
        assert_eq!(
            credentials(&root, host).unwrap(),
            Some(("u".into(), "p:w".into()))
        );
        assert_eq!(remove_credentials(&root, host).unwrap(), Done::Ran(true));
        assert_eq!(remove_credentials(&root, host).unwrap(), Done::Ran(false));
        assert_eq!(credentials(&root, host).unwrap(), None);
    }
}
