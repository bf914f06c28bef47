//! `ps` / `container ls`: which containers (`-a`, `-f KEY=VALUE` as Docker
//! filters them: one key's values are alternatives but `label=`'s, which
//! must all hold, and different keys must all hold), and the fields a `--format` template can name (`.ID`,
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

/// The keys glassbox filters by.
const KEYS: [&str; 7] = [
    "status", "name", "id", "exited", "ancestor", "network", "label",
];

/// Keys Docker has that glassbox does not (yet).
const DOCKER_ONLY: [&str; 8] = [
    "before",
    "since",
    "expose",
    "publish",
    "volume",
    "health",
    "isolation",
    "is-task",
];

/// Docker's container states, as `status=` takes them.
const STATES: [&str; 7] = [
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Docker's filters match `name=` and `id=` as (unanchored) regular
/// expressions; one that does not compile matches nothing.
fn regex_match(pattern: &str, text: &str) -> bool {
    pattern == text || regex::Regex::new(pattern).is_ok_and(|r| r.is_match(text))
}

impl Filters {
    /// Parse `-f KEY=VALUE` as Docker does: its messages for a filter
    /// without `=`, an unknown key, a status that is none, an exit code
    /// that is no number.
    pub fn parse(specs: &[String]) -> Result<Filters> {
        let mut f = Filters::default();
        for s in specs {
            let Some((k, v)) = s.split_once('=') else {
                bail!(
                    "invalid argument \"{s}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
                );
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if DOCKER_ONLY.contains(&k.as_str()) {
                bail!(
                    "Invalid filter '{k}': glassbox does not filter by {k} yet; it filters by {}",
                    KEYS.join(", ")
                );
            }
            if !KEYS.contains(&k.as_str()) {
                bail!("Invalid filter '{k}'");
            }
            if k == "status" && !STATES.contains(&v) {
                bail!(
                    "Invalid filter 'status={v}' (a status is one of {})",
                    STATES.join(", ")
                );
            }
            if k == "exited" && v.parse::<i32>().is_err() {
                bail!("strconv.Atoi: parsing {v:?}: invalid syntax (exited= takes an exit code)");
            }
            f.0.entry(k).or_default().push(v.to_string());
        }
        Ok(f)
    }

    /// Does the filter list stopped containers without `-a`? Docker's
    /// `status=` does (any status); `exited=` does not (`ps -a -f
    /// exited=0`, as Docker's documentation writes it).
    pub fn wants_all(&self) -> bool {
        self.0.contains_key("status")
    }

    /// Does `c` pass every key? `image_matches` says whether an image
    /// reference names the container's image (for `ancestor=`).
    pub fn matches(&self, c: &Container, image_matches: &dyn Fn(&str, &Container) -> bool) -> bool {
        self.0.iter().all(|(k, vals)| {
            // Docker's `label=` values must all hold (`MatchKVList`).
            if k == "label" {
                return vals.iter().all(|v| label_matches(v, c));
            }
            vals.iter().any(|v| match k.as_str() {
                "status" => c.state.status.as_str() == v,
                "name" => regex_match(v, &c.name) || regex_match(v, &format!("/{}", c.name)),
                "id" => regex_match(v, &c.id),
                "exited" => {
                    c.state.status == Status::Exited && v.parse::<i32>() == Ok(c.state.exit_code)
                }
                "ancestor" => image_matches(v, c),
                "network" => {
                    c.endpoints.iter().any(|e| &e.network == v) || &c.host_config.network_mode == v
                }
                _ => false,
            })
        })
    }
}

/// `label=KEY` (the container has the label) or `label=KEY=VALUE` (with
/// that value).
pub fn label_matches(v: &str, c: &Container) -> bool {
    match v.split_once('=') {
        Some((k, want)) => c.config.labels.get(k).is_some_and(|have| have == want),
        None => c.config.labels.contains_key(v),
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
        "Size": "0B",
        "LocalVolumes": super::mounts::points(c).iter().filter(|m| m.kind == super::state::MountType::Volume).count().to_string(),
        "Names": c.name,
        "Labels": labels.join(","),
        // Docker's: each mount's volume name, else its source, cut to 15.
        "Mounts": super::mounts::points(c)
            .iter()
            .map(|m| {
                let name = if m.name.is_empty() { m.source.display().to_string() } else { m.name.clone() };
                if no_trunc { name } else { human::ellipsis(&name, 15) }
            })
            .collect::<Vec<_>>()
            .join(","),
        "Networks": networks.join(","),
    })
}

/// The size of each image's layers, by image id, as the image store
/// recorded them (none if it cannot be read).
pub fn image_sizes(root: &crate::state::Root) -> BTreeMap<String, u64> {
    crate::image::store::Store::open(root)
        .and_then(|s| s.images())
        .map(|i| {
            i.images
                .iter()
                .map(|(id, r)| (id.clone(), r.size))
                .collect()
        })
        .unwrap_or_default()
}

/// The SIZE column of `c` (`ps -s`): its writable layer, and that with
/// its image's layers.
pub fn size(c: &Container, image_sizes: &BTreeMap<String, u64>) -> String {
    let image = image_sizes.get(&c.image).copied().unwrap_or(0);
    super::size::shown(super::size::of(c, image))
}

/// A container record for other modules' unit tests.
#[cfg(test)]
pub fn tests_sample(name: &str) -> Container {
    tests::c(name, Status::Running, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::state::{Config, HostConfig, State};

    pub(super) fn c(name: &str, status: Status, code: i32) -> Container {
        Container {
            id: format!("{name:0<64}"),
            name: name.into(),
            created: "2024-01-01T00:00:00Z".into(),
            path: "sh".into(),
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
            log_path: Default::default(),
            hostname_path: Default::default(),
            hosts_path: Default::default(),
            resolv_conf_path: Default::default(),
            ..Container::default()
        }
    }

    #[test]
    fn filters_as_docker_combines_them() {
        let img = |_: &str, _: &Container| true;
        let f = Filters::parse(&["status=exited".into()]).unwrap();
        assert!(f.matches(&c("a", Status::Exited, 0), &img));
        assert!(!f.matches(&c("b", Status::Running, 0), &img));
        assert!(f.wants_all());
        let f = Filters::parse(&[
            "status=exited".into(),
            "status=created".into(),
            "name=we".into(),
        ])
        .unwrap();
        assert!(f.matches(&c("web", Status::Created, 0), &img));
        assert!(!f.matches(&c("db", Status::Created, 0), &img));
        let f = Filters::parse(&["exited=137".into()]).unwrap();
        assert!(!f.wants_all(), "exited= lists stopped ones only with -a");
        assert!(f.matches(&c("x", Status::Exited, 137), &img));
        assert!(!f.matches(&c("x", Status::Exited, 0), &img));
        let err = |f: &str| Filters::parse(&[f.into()]).unwrap_err().to_string();
        assert_eq!(err("bogus=1"), "Invalid filter 'bogus'");
        assert!(err("status=up").starts_with("Invalid filter 'status=up'"));
        assert!(err("exited=x").starts_with("strconv.Atoi: parsing \"x\": invalid syntax"));
        assert!(err("noequals").contains("bad format of filter (expected name=value)"));
        assert!(err("since=web").contains("does not filter by since yet"));
        // name= and id= are regular expressions, as Docker reads them.
        let f = Filters::parse(&["name=^w.b$".into()]).unwrap();
        assert!(f.matches(&c("web", Status::Created, 0), &img));
        assert!(!f.matches(&c("webs", Status::Created, 0), &img));
        let f = Filters::parse(&["id=eb0".into()]).unwrap();
        assert!(f.matches(&c("web", Status::Created, 0), &img));
    }

    #[test]
    fn label_filters_must_all_hold() {
        let img = |_: &str, _: &Container| true;
        let mut web = c("web", Status::Running, 0);
        web.config.labels = [("tier", "web"), ("team", "a=b"), ("solo", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let db = c("db", Status::Running, 0);
        let f = |specs: &[&str]| {
            Filters::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        assert!(f(&["label=tier"]).matches(&web, &img));
        assert!(!f(&["label=tier"]).matches(&db, &img));
        assert!(f(&["label=tier=web"]).matches(&web, &img));
        assert!(!f(&["label=tier=db"]).matches(&web, &img));
        assert!(f(&["label=team=a=b"]).matches(&web, &img));
        assert!(f(&["label=solo="]).matches(&web, &img));
        assert!(f(&["label=tier", "label=solo"]).matches(&web, &img));
        assert!(!f(&["label=tier", "label=nope"]).matches(&web, &img));
        assert!(!f(&["label=tier=web", "label=tier=db"]).matches(&web, &img));
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
