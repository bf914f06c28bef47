//! A container's environment, composed as Docker composes it: `PATH` (the
//! image's, or Docker's default), `HOSTNAME`, `TERM=xterm` with `-t`, then
//! the image's `Env` with the user's `-e` and `--env-file` values replacing
//! those of the same name in place and the new ones appended. Read
//! `environ(7)`.

use anyhow::{Result, bail};

/// Docker's `PATH` when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The name of a `KEY=VALUE` entry.
fn key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// `KEY=VALUE` entries as (key, value) pairs, as a process's environment
/// is given (an entry without `=` has an empty value).
pub fn pairs(env: &[String]) -> Vec<(String, String)> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// `base` with each of `over` replacing the entry of the same name, or
/// appended (Docker's `ReplaceOrAppendEnvValues`).
pub fn merge(base: &[String], over: &[String]) -> Vec<String> {
    let mut out = base.to_vec();
    for e in over {
        match out.iter_mut().find(|b| key(b) == key(e)) {
            Some(slot) => *slot = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

/// One `-e` value: `KEY=VALUE` as given; a bare `KEY` takes the value this
/// shell has, and is left out when the shell has none (as `docker run -e`).
pub fn from_flag(spec: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Option<String>> {
    let name = key(spec);
    if name.is_empty() {
        bail!("invalid environment variable: {spec}");
    }
    if name.chars().any(char::is_whitespace) {
        bail!("invalid environment variable: variable '{name}' contains whitespaces");
    }
    if spec.contains('=') {
        return Ok(Some(spec.to_string()));
    }
    Ok(lookup(name).map(|v| format!("{name}={v}")))
}

/// The entries of an `--env-file`: one `KEY=VALUE` per line, taken as is
/// (no quotes are removed), leading whitespace ignored, blank lines and
/// `#` comments skipped, a bare `KEY` from this shell.
pub fn parse_env_file(
    text: &str,
    file: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match from_flag(line, &lookup) {
            Ok(Some(e)) => out.push(e),
            Ok(None) => {}
            Err(e) => bail!("{file}, line {}: {e}", n + 1),
        }
    }
    Ok(out)
}

/// The entries of `--env-file` FILES (read here, in order), then of the
/// `-e` FLAGS, as `run` and `exec` take them.
pub fn from_args(
    files: &[std::path::PathBuf],
    flags: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("open {}: {e}", f.display()))?;
        out.extend(parse_env_file(&text, &f.display().to_string(), &lookup)?);
    }
    for e in flags {
        if let Some(v) = from_flag(e, &lookup)? {
            out.push(v);
        }
    }
    Ok(out)
}

/// The whole environment of a container's process: Docker's own entries
/// first, each replaced in place by a value of the same name from the
/// image or the user (Docker's `CreateDaemonEnvironment`).
pub fn compose(
    image_env: &[String],
    user_env: &[String],
    hostname: &str,
    tty: bool,
) -> Vec<String> {
    let mut ours = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        ours.push("TERM=xterm".into());
    }
    merge(&ours, &merge(image_env, user_env))
}

/// Add `HOME` if the environment has none (Docker sets the user's home).
pub fn with_home(mut env: Vec<String>, home: &str) -> Vec<String> {
    if !env.iter().any(|e| key(e) == "HOME") {
        env.push(format!("HOME={home}"));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn dockers_order_and_overrides() {
        let image = s(&["PATH=/img/bin", "LANG=C", "A=1"]);
        let user = s(&["A=2", "B=3"]);
        assert_eq!(
            compose(&image, &user, "web", true),
            s(&[
                "PATH=/img/bin",
                "HOSTNAME=web",
                "TERM=xterm",
                "LANG=C",
                "A=2",
                "B=3"
            ])
        );
        assert_eq!(
            compose(&[], &[], "c1", false),
            s(&[&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=c1"])
        );
        assert_eq!(compose(&[], &s(&["TERM=dumb"]), "c1", true)[2], "TERM=dumb");
    }

    #[test]
    fn flags_and_files() {
        let host = |k: &str| (k == "FROM_HOST").then(|| "yes".to_string());
        assert_eq!(from_flag("X=1", host).unwrap().unwrap(), "X=1");
        assert_eq!(
            from_flag("FROM_HOST", host).unwrap().unwrap(),
            "FROM_HOST=yes"
        );
        assert_eq!(from_flag("UNSET", host).unwrap(), None);
        assert!(from_flag("A B=1", host).is_err());
        let text = "# comment\n\n  X=\"quoted\"\nFROM_HOST\nUNSET\nY=a=b\n";
        assert_eq!(
            parse_env_file(text, "f.env", host).unwrap(),
            s(&["X=\"quoted\"", "FROM_HOST=yes", "Y=a=b"])
        );
        let e = parse_env_file("OK=1\nBAD KEY=2\n", "f.env", host)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.env, line 2:"), "{e}");
    }

    #[test]
    fn env_files_come_before_flags() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.env");
        std::fs::write(&f, "A=file\nB=2\n").unwrap();
        let got = from_args(&[f], &s(&["A=flag", "UNSET"]), |_| None).unwrap();
        assert_eq!(got, s(&["A=file", "B=2", "A=flag"]));
        let e = from_args(&[d.path().join("none")], &[], |_| None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("open ") && e.contains("none"), "{e}");
    }

    #[test]
    fn home_is_added_once() {
        assert_eq!(with_home(s(&["A=1"]), "/root"), s(&["A=1", "HOME=/root"]));
        assert_eq!(with_home(s(&["HOME=/x"]), "/root"), s(&["HOME=/x"]));
    }
}
