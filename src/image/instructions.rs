//! The Dockerfile instructions `commit -c` applies to an image config
//! (Docker's `BuildFromConfig`): `CMD`, `ENTRYPOINT`, `ENV`, `EXPOSE`,
//! `LABEL`, `ONBUILD`, `STOPSIGNAL`, `USER`, `VOLUME`, `WORKDIR`, each in
//! its JSON (`CMD ["sh", "-c", "x"]`) or shell (`CMD echo hi`, run by
//! `/bin/sh -c`) form where it has both. Pure: a config object in, the
//! changed object out; nothing is read or written. Read the Dockerfile
//! reference (docs.docker.com/reference/dockerfile) and the OCI image
//! spec's config.md for the fields.

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

/// The instructions a commit accepts (Docker's `validCommitCommands`).
pub const VALID: [&str; 11] = [
    "cmd",
    "entrypoint",
    "healthcheck",
    "env",
    "expose",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// One instruction: its keyword (upper case) and the rest of its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

/// Split the changes (each may hold several lines, as Docker joins them
/// with newlines) into instructions; comments and blank lines are skipped,
/// a line ending in `\` continues on the next. An instruction commit does
/// not take is Docker's error (`run is not a valid change command`).
pub fn parse(changes: &[String]) -> Result<Vec<Instruction>> {
    let text = changes.join("\n");
    let mut lines: Vec<String> = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(line);
        lines.push(std::mem::take(&mut pending));
    }
    if !pending.trim().is_empty() {
        lines.push(pending);
    }
    let mut out = Vec::new();
    for line in lines {
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (line.as_str(), ""),
        };
        let lower = word.to_ascii_lowercase();
        if !VALID.contains(&lower.as_str()) {
            bail!("{lower} is not a valid change command");
        }
        if lower == "healthcheck" {
            bail!(
                "HEALTHCHECK is not supported by glassbox's commit (glassbox runs no health checks)"
            );
        }
        if rest.is_empty() {
            bail!(
                "{} requires at least one argument",
                word.to_ascii_uppercase()
            );
        }
        out.push(Instruction {
            keyword: word.to_ascii_uppercase(),
            args: rest.to_string(),
        });
    }
    Ok(out)
}

/// `config` (an image config's `config` object) with `changes` applied,
/// in order. With no changes it comes back as it is.
pub fn apply(config: &Value, changes: &[String]) -> Result<Value> {
    let mut cfg: Map<String, Value> = match config {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => bail!("the image config's \"config\" is not a JSON object"),
    };
    // Docker's rule: an ENTRYPOINT resets CMD unless a CMD came before it.
    let mut cmd_set = false;
    for i in parse(changes)? {
        let a = i.args.as_str();
        // What `$NAME` means in this instruction: the environment so far.
        let env = strings(cfg.get("Env"));
        let env = env.as_slice();
        match i.keyword.as_str() {
            "CMD" => {
                cfg.insert("Cmd".into(), json!(command(a)?));
                cmd_set = true;
            }
            "ENTRYPOINT" => {
                cfg.insert("Entrypoint".into(), json!(command(a)?));
                if !cmd_set {
                    cfg.insert("Cmd".into(), Value::Null);
                }
            }
            "ENV" => {
                let mut list = env.to_vec();
                for (k, v) in pairs("ENV", a, env)? {
                    let entry = format!("{k}={v}");
                    match list.iter_mut().find(|e| e.split('=').next() == Some(&k)) {
                        Some(e) => *e = entry,
                        None => list.push(entry),
                    }
                }
                cfg.insert("Env".into(), json!(list));
            }
            "LABEL" => {
                let new = pairs("LABEL", a, env)?;
                with_object(&mut cfg, "Labels", |labels| {
                    for (k, v) in new {
                        labels.insert(k, Value::String(v));
                    }
                });
            }
            "EXPOSE" => {
                let mut ports = Vec::new();
                for p in words(a, env)? {
                    ports.extend(port(&p)?);
                }
                with_object(&mut cfg, "ExposedPorts", |exposed| {
                    for p in ports {
                        exposed.insert(p, json!({}));
                    }
                });
            }
            "VOLUME" => {
                let list = match json_array(a) {
                    Some(v) => v,
                    None => words(a, env)?,
                };
                if list.iter().any(|v| v.trim().is_empty()) {
                    bail!("VOLUME specified can not be an empty string");
                }
                with_object(&mut cfg, "Volumes", |volumes| {
                    for v in list {
                        volumes.insert(v, json!({}));
                    }
                });
            }
            "USER" => {
                cfg.insert("User".into(), json!(one("USER", a, env)?));
            }
            "WORKDIR" => {
                let dir = one("WORKDIR", a, env)?;
                let current = cfg.get("WorkingDir").and_then(Value::as_str).unwrap_or("");
                cfg.insert("WorkingDir".into(), json!(workdir(current, &dir)));
            }
            "STOPSIGNAL" => {
                let sig = one("STOPSIGNAL", a, env)?;
                check_signal(&sig)?;
                cfg.insert("StopSignal".into(), json!(sig));
            }
            "ONBUILD" => {
                let mut on = strings(cfg.get("OnBuild"));
                on.push(a.to_string());
                cfg.insert("OnBuild".into(), json!(on));
            }
            other => bail!(
                "{} is not a valid change command",
                other.to_ascii_lowercase()
            ),
        }
    }
    Ok(Value::Object(cfg))
}

/// `["a", "b"]` (JSON form) as it is; anything else (shell form) run by
/// `/bin/sh -c`.
fn command(a: &str) -> Result<Vec<String>> {
    Ok(json_array(a).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), a.to_string()]))
}

/// A JSON array of strings, if `a` is one (Docker falls back to the
/// shell form when it is not).
fn json_array(a: &str) -> Option<Vec<String>> {
    if !a.trim_start().starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(a).ok()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Change the object at `key` (made, or replacing a `null`, when missing).
fn with_object(cfg: &mut Map<String, Value>, key: &str, f: impl FnOnce(&mut Map<String, Value>)) {
    let mut m = match cfg.remove(key) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    f(&mut m);
    cfg.insert(key.to_string(), Value::Object(m));
}

/// Shell-like words: whitespace separates, `"..."` and `'...'` quote,
/// `\` escapes the next character (outside single quotes), and `$NAME`
/// or `${NAME}` is the value of NAME in `env` (outside single quotes; an
/// unset name is empty), as Dockerfile instructions read their arguments.
fn words(a: &str, env: &[String]) -> Result<Vec<String>> {
    let chars: Vec<char> = a.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => {
                in_word = true;
                quote = Some(c);
            }
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                in_word = true;
                if let Some(&e) = chars.get(i) {
                    cur.push(e);
                    i += 1;
                }
            }
            (_, '$') => {
                in_word = true;
                i = expand(&chars, i, env, &mut cur);
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (_, c) => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if let Some(q) = quote {
        bail!("unmatched {q} quote in {a:?}");
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// After a `$` at `i`: the variable's value pushed to `out`; where the
/// reading goes on. A `$` before anything but a name stays a `$`.
fn expand(chars: &[char], mut i: usize, env: &[String], out: &mut String) -> usize {
    let braced = chars.get(i) == Some(&'{');
    if braced {
        i += 1;
    }
    let start = i;
    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    let name: String = chars[start..i].iter().collect();
    if braced {
        if chars.get(i) != Some(&'}') || name.is_empty() {
            out.push('$');
            return start - 1;
        }
        i += 1;
    } else if name.is_empty() {
        out.push('$');
        return i;
    }
    let value = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix(&format!("{name}=")))
        .unwrap_or("");
    out.push_str(value);
    i
}

/// `ENV`/`LABEL` arguments: `K=V K2="V 2"`, or the old form `K the value`
/// (one pair, the rest of the line its value).
fn pairs(what: &str, a: &str, env: &[String]) -> Result<Vec<(String, String)>> {
    let first = a.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (k, v) = a.split_once(char::is_whitespace).unwrap_or((a, ""));
        let v = v.trim();
        if v.is_empty() {
            bail!("{what} must have two arguments");
        }
        return Ok(vec![(k.to_string(), words(v, env)?.join(" "))]);
    }
    let mut out = Vec::new();
    for w in words(a, env)? {
        let Some((k, v)) = w.split_once('=') else {
            bail!("Syntax error - can't find = in {w:?}. Must be of the form: name=value");
        };
        if k.is_empty() {
            bail!("{what} names can not be blank");
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// The single argument of `USER`, `WORKDIR`, `STOPSIGNAL`.
fn one(what: &str, a: &str, env: &[String]) -> Result<String> {
    let w = words(a, env)?;
    match w.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!("{what} requires exactly one argument"),
    }
}

/// `EXPOSE 80`, `80/udp`, `8000-8002/tcp`: the `PORT/PROTO` keys.
fn port(p: &str) -> Result<Vec<String>> {
    let (range, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        bail!("invalid proto: {proto}");
    }
    let num = |s: &str| -> Result<u16> {
        match s.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("invalid containerPort: {s}"),
        }
    };
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(range)?, num(range)?),
    };
    if hi < lo {
        bail!("invalid range specified for container port: {range}");
    }
    Ok((lo..=hi).map(|n| format!("{n}/{proto}")).collect())
}

/// A relative `WORKDIR` is taken from the current one.
fn workdir(current: &str, dir: &str) -> String {
    let joined = if dir.starts_with('/') {
        dir.to_string()
    } else {
        format!("{}/{dir}", if current.is_empty() { "/" } else { current })
    };
    crate::container::mount_spec::clean_path(&joined)
}

/// A signal name (`SIGTERM`, `TERM`) or number, as Docker checks it.
fn check_signal(s: &str) -> Result<()> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(());
        }
    } else {
        let name = s.to_ascii_uppercase();
        let name = name.strip_prefix("SIG").unwrap_or(&name);
        if name.starts_with("RTMIN") || name.starts_with("RTMAX") {
            return Ok(());
        }
        let full = format!("SIG{name}");
        if full.parse::<nix::sys::signal::Signal>().is_ok() {
            return Ok(());
        }
    }
    bail!("Invalid signal: {s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(config: Value, changes: &[&str]) -> Value {
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply(&config, &changes).unwrap()
    }

    fn error(changes: &[&str]) -> String {
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        format!("{:#}", apply(&json!({}), &changes).unwrap_err())
    }

    #[test]
    fn cmd_and_entrypoint_in_both_forms() {
        let c = applied(json!({"Cmd": ["sh"]}), &[r#"CMD ["cat", "/hi"]"#]);
        assert_eq!(c["Cmd"], json!(["cat", "/hi"]));
        let c = applied(json!({}), &["cmd echo $HOME"]);
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "echo $HOME"]));
        // ENTRYPOINT resets CMD unless a CMD came first, as Docker does.
        let c = applied(json!({"Cmd": ["sh"]}), &[r#"ENTRYPOINT ["top"]"#]);
        assert_eq!(c["Entrypoint"], json!(["top"]));
        assert_eq!(c["Cmd"], Value::Null);
        let c = applied(json!({}), &[r#"CMD ["-b"]"#, r#"ENTRYPOINT ["top"]"#]);
        assert_eq!(c["Cmd"], json!(["-b"]));
        // Not a JSON array of strings: the shell form.
        let c = applied(json!({}), &["CMD [not json"]);
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "[not json"]));
    }

    #[test]
    fn env_replaces_in_place_or_appends() {
        let c = applied(
            json!({"Env": ["PATH=/bin", "A=old"]}),
            &["ENV A=b C=\"d e\"", "ENV F g h"],
        );
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=b", "C=d e", "F=g h"]));
    }

    #[test]
    fn labels_ports_volumes_user_workdir_stopsignal() {
        let c = applied(
            json!({"WorkingDir": "/srv", "Labels": null}),
            &[
                "LABEL a=1 'b c'=2",
                "EXPOSE 80 53/udp 8000-8001",
                r#"VOLUME ["/data", "/logs"]"#,
                "VOLUME /cache",
                "USER nobody:nogroup",
                "WORKDIR app/../www",
                "STOPSIGNAL SIGQUIT",
            ],
        );
        assert_eq!(c["Labels"], json!({"a": "1", "b c": "2"}));
        assert_eq!(
            c["ExposedPorts"],
            json!({"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}})
        );
        assert_eq!(
            c["Volumes"],
            json!({"/data": {}, "/logs": {}, "/cache": {}})
        );
        assert_eq!(c["User"], "nobody:nogroup");
        assert_eq!(c["WorkingDir"], "/srv/www");
        assert_eq!(c["StopSignal"], "SIGQUIT");
    }

    #[test]
    fn names_are_expanded_from_the_environment_so_far() {
        let c = applied(
            json!({"Env": ["PATH=/bin", "HOME=/root"]}),
            &[
                "ENV PATH=$PATH:/opt/bin DATA=${HOME}/data",
                "WORKDIR $DATA",
                "LABEL where='$HOME' cost=\\$5 gone=$NOPE.",
                "ENV OLD form $HOME",
            ],
        );
        assert_eq!(
            c["Env"],
            json!([
                "PATH=/bin:/opt/bin",
                "HOME=/root",
                "DATA=/root/data",
                "OLD=form /root"
            ])
        );
        assert_eq!(c["WorkingDir"], "/root/data");
        assert_eq!(
            c["Labels"],
            json!({"where": "$HOME", "cost": "$5", "gone": "."})
        );
    }

    #[test]
    fn several_lines_in_one_change_and_continuations() {
        let c = applied(json!({}), &["ENV A=1\n# a comment\n\nUSER \\\n  web"]);
        assert_eq!(c["Env"], json!(["A=1"]));
        assert_eq!(c["User"], "web");
    }

    #[test]
    fn dockers_refusals() {
        assert_eq!(error(&["FOO bar"]), "foo is not a valid change command");
        assert_eq!(error(&["RUN echo"]), "run is not a valid change command");
        assert_eq!(error(&["CMD"]), "CMD requires at least one argument");
        assert_eq!(error(&["EXPOSE 99999"]), "invalid containerPort: 99999");
        assert_eq!(error(&["EXPOSE 80/xyz"]), "invalid proto: xyz");
        assert_eq!(error(&["STOPSIGNAL SIGNOPE"]), "Invalid signal: SIGNOPE");
        assert_eq!(error(&["USER a b"]), "USER requires exactly one argument");
        assert!(error(&["ENV A=\"open"]).contains("unmatched"));
        assert!(error(&["ENV =x"]).contains("can not be blank"));
    }

    #[test]
    fn no_changes_leave_the_config_as_it_is() {
        let cfg = json!({"Cmd": ["sh"], "Env": ["A=1"]});
        assert_eq!(apply(&cfg, &[]).unwrap(), cfg);
    }
}
