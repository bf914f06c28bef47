//! `ps` / `container ls`: which containers (`-a`, `-f KEY=VALUE` as Docker
//! filters them: one key's values are alternatives, different keys must
//! all hold), and the fields a `--format` template can name (`.ID`,
//! `.Image`, `.Command`, `.RunningFor`, `.Status`, `.Ports`, `.Names`,
//! ...), the default table being Docker's. Pure.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::human;
use super::state::{Container, Status};

/// Docker's default `ps` table.
pub const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// Column titles for `--format 'table ...'`.
pub fn headers() -> BTreeMap<&'static str, &'static str> {
    [
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
    ]
    .into()
}

/// Parsed `-f` filters.
#[derive(Debug, Default, Clone)]
pub struct Filters(BTreeMap<String, Vec<String>>);

const KEYS: [&str; 7] = [
    "status", "name", "id", "exited", "ancestor", "network", "label",
];

impl Filters {
    pub fn parse(specs: &[String]) -> Result<Filters> {
        let mut f = Filters::default();
        for s in specs {
            let Some((k, v)) = s.split_once('=') else {
                bail!("bad format of filter (expected name=value): {s}");
            };
            if !KEYS.contains(&k) {
                bail!(
                    "invalid filter '{k}': glassbox filters by {}",
                    KEYS.join(", ")
                );
            }
            if k == "status"
                && ![
                    "created",
                    "restarting",
                    "running",
                    "removing",
                    "paused",
                    "exited",
                    "dead",
                ]
                .contains(&v)
            {
                bail!(
                    "invalid filter 'status={v}': created, restarting, running, removing, paused, exited or dead"
                );
            }
            if k == "exited" && v.parse::<i32>().is_err() {
                bail!("invalid filter 'exited={v}': give an exit code");
            }
            f.0.entry(k.to_string()).or_default().push(v.to_string());
        }
        Ok(f)
    }

    /// Does `status=` ask for containers that are not running? (Docker
    /// then lists them without `-a`.)
    pub fn wants_stopped(&self) -> bool {
        self.0
            .get("status")
            .is_some_and(|v| v.iter().any(|s| s != "running"))
            || self.0.contains_key("exited")
    }

    /// Does `c` pass every key? `image_of` says whether an image reference
    /// names the container's image (for `ancestor=`).
    pub fn matches(&self, c: &Container, image_matches: &dyn Fn(&str, &Container) -> bool) -> bool {
        self.0.iter().all(|(k, vals)| {
            vals.iter().any(|v| match k.as_str() {
                "status" => c.state.status.as_str() == v,
                "name" => c.name.contains(v.trim_start_matches('/')),
                "id" => c.id.starts_with(v),
                "exited" => {
                    c.state.status == Status::Exited && v.parse::<i32>() == Ok(c.state.exit_code)
                }
                "ancestor" => image_matches(v, c),
                "network" => {
                    c.endpoints.iter().any(|e| &e.network == v) || &c.host_config.network_mode == v
                }
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => c.config.labels.get(lk) == Some(&lv.to_string()),
                    None => c.config.labels.contains_key(v),
                },
                _ => false,
            })
        })
    }
}

/// The fields of one `ps` row, for the template.
pub fn row(c: &Container, now: u64, no_trunc: bool) -> Value {
    let networks: Vec<String> = if c.endpoints.is_empty() {
        vec![c.host_config.network_mode.clone()]
    } else {
        c.endpoints.iter().map(|e| e.network.clone()).collect()
    };
    let labels: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    json!({
        "ID": if no_trunc { c.id.clone() } else { super::id::short(&c.id).to_string() },
        "Image": c.config.image,
        "Command": human::command(c, no_trunc),
        "CreatedAt": crate::image::human::created_at(Some(&c.created)),
        "RunningFor": human::created(c, now),
        "Ports": human::ports(c),
        "State": c.state.status.as_str(),
        "Status": human::status(c, now),
        "Size": "",
        "Names": c.name,
        "Labels": labels.join(","),
        "Mounts": c.host_config.binds.iter().map(|b| b.destination.clone()).collect::<Vec<_>>().join(","),
        "Networks": networks.join(","),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::state::{Config, HostConfig, Rootfs, State};

    fn c(name: &str, status: Status, code: i32) -> Container {
        Container {
            id: format!("{name:0<64}"),
            name: name.into(),
            created: "2024-01-01T00:00:00Z".into(),
            path: "sh".into(),
            args: vec![],
            state: State {
                status,
                exit_code: code,
                ..State::default()
            },
            image: "sha256:1".into(),
            config: Config {
                image: "busybox".into(),
                ..Config::default()
            },
            host_config: HostConfig {
                network_mode: "bridge".into(),
                ..HostConfig::default()
            },
            endpoints: vec![],
            rootfs: Rootfs::default(),
            cgroup: String::new(),
            log_path: Default::default(),
            hostname_path: Default::default(),
            hosts_path: Default::default(),
            resolv_conf_path: Default::default(),
            start_count: 0,
        }
    }

    #[test]
    fn filters_as_docker_combines_them() {
        let img = |_: &str, _: &Container| true;
        let f = Filters::parse(&["status=exited".into()]).unwrap();
        assert!(f.matches(&c("a", Status::Exited, 0), &img));
        assert!(!f.matches(&c("b", Status::Running, 0), &img));
        assert!(f.wants_stopped());
        let f = Filters::parse(&[
            "status=exited".into(),
            "status=created".into(),
            "name=we".into(),
        ])
        .unwrap();
        assert!(f.matches(&c("web", Status::Created, 0), &img));
        assert!(!f.matches(&c("db", Status::Created, 0), &img));
        let f = Filters::parse(&["exited=137".into()]).unwrap();
        assert!(f.matches(&c("x", Status::Exited, 137), &img));
        assert!(!f.matches(&c("x", Status::Exited, 0), &img));
        assert!(Filters::parse(&["bogus=1".into()]).is_err());
        assert!(Filters::parse(&["status=up".into()]).is_err());
        assert!(Filters::parse(&["noequals".into()]).is_err());
    }

    #[test]
    fn rows_carry_the_template_fields() {
        let r = row(&c("web", Status::Created, 0), 1_704_067_260, false);
        assert_eq!(r["ID"].as_str().unwrap().len(), 12);
        assert_eq!(r["Status"], "Created");
        assert_eq!(r["RunningFor"], "About a minute ago");
        assert_eq!(r["Command"], "\"sh\"");
        let table = crate::template::listing(DEFAULT_FORMAT, &[r], &headers()).unwrap();
        assert!(table.starts_with("CONTAINER ID   IMAGE     COMMAND   CREATED              STATUS    PORTS     NAMES\n"), "{table}");
    }
}
