//! `-u USER[:GROUP]` resolved as runc resolves it: in the container's own
//! `/etc/passwd` and `/etc/group` (never the host's), giving the uid, the
//! primary gid, the supplementary groups the user is listed in, and the
//! home directory. A numeric uid need not exist in the file (it then has
//! gid 0 and home `/`); a name must. Read `passwd(5)`, `group(5)`.

use anyhow::{Result, bail};

/// Who the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, without the primary one.
    pub groups: Vec<u32>,
    pub home: String,
}

impl Default for ExecUser {
    /// root, as a container runs without `-u` or an image `User`.
    fn default() -> Self {
        ExecUser {
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            home: "/root".into(),
        }
    }
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || l.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f[3].split(',').filter(|m| !m.is_empty()).collect(),
        })
    })
}

/// Resolve `spec` (`""` for root) against the container's `passwd` and
/// `group` files (empty text when a file is missing).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let found = match user.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|e| e.uid == uid),
        Err(_) => passwd_entries(passwd).find(|e| e.name == user),
    };
    let mut out = match (found, user.parse::<u32>()) {
        (Some(e), _) => ExecUser {
            uid: e.uid,
            gid: e.gid,
            groups: Vec::new(),
            home: if e.home.is_empty() {
                "/".into()
            } else {
                e.home.into()
            },
        },
        (None, Ok(uid)) => ExecUser {
            uid,
            gid: 0,
            groups: Vec::new(),
            home: if uid == 0 { "/root".into() } else { "/".into() },
        },
        (None, Err(_)) => {
            bail!("unable to find user {user}: no matching entries in passwd file")
        }
    };
    let name = passwd_entries(passwd)
        .find(|e| e.uid == out.uid)
        .map(|e| e.name.to_string());
    match grp {
        Some("") => bail!("invalid user spec {spec:?}: the group after ':' is empty"),
        Some(g) => {
            out.gid = match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => match group_entries(group).find(|e| e.name == g) {
                    Some(e) => e.gid,
                    None => bail!("unable to find group {g}: no matching entries in group file"),
                },
            };
        }
        None => {
            // Supplementary groups: every group that lists the user.
            if let Some(name) = &name {
                for e in group_entries(group) {
                    if e.members.contains(&name.as_str())
                        && e.gid != out.gid
                        && !out.groups.contains(&e.gid)
                    {
                        out.groups.push(e.gid);
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\n\
        wheel:x:10:app\n\
        app:x:1000:\n\
        audio:x:29:app,other\n\
        nogroup:x:65534:\n";

    #[test]
    fn names_and_numbers_resolve_in_the_containers_files() {
        let app = resolve("app", PASSWD, GROUP).unwrap();
        assert_eq!(
            app,
            ExecUser {
                uid: 1000,
                gid: 1000,
                groups: vec![10, 29],
                home: "/home/app".into()
            }
        );
        assert_eq!(resolve("1000", PASSWD, GROUP).unwrap(), app);
        let g = resolve("app:audio", PASSWD, GROUP).unwrap();
        assert_eq!((g.uid, g.gid, g.groups.len()), (1000, 29, 0));
        assert_eq!(resolve("1000:5", PASSWD, GROUP).unwrap().gid, 5);
        assert_eq!(resolve("", PASSWD, GROUP).unwrap().home, "/root");
    }

    #[test]
    fn a_number_need_not_exist_a_name_must() {
        let u = resolve("4242", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        let e = resolve("ghost", PASSWD, GROUP).unwrap_err().to_string();
        assert_eq!(
            e,
            "unable to find user ghost: no matching entries in passwd file"
        );
        let e = resolve("app:ghosts", PASSWD, GROUP)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unable to find group ghosts"), "{e}");
        assert!(resolve("app:", PASSWD, GROUP).is_err());
        assert_eq!(resolve("0", "", "").unwrap(), ExecUser::default());
    }
}
