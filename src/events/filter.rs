//! `events --filter KEY=VALUE`, matched as Docker's daemon matches them
//! (`daemon/events/filter.go`): values of one key are alternatives, keys
//! are all required; `container=` and `network=` take an id or a name, or
//! the start of one; `image=` an image name with or without its tag;
//! `event=` and `type=` exactly; each `label=KEY` or `label=KEY=VALUE`
//! must hold. Pure.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};

use super::Event;

/// The keys Docker's daemon accepts for events.
pub const KEYS: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// Docker's wording for a `--filter` without `=` (a usage error).
pub const BAD_FORMAT: &str = "bad format of filter (expected name=value)";

/// The filters given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    by: BTreeMap<String, BTreeSet<String>>,
}

/// A filter Docker's CLI refuses before asking (`bad format`), as opposed
/// to one its daemon refuses (`invalid filter`).
#[derive(Debug)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

impl Filter {
    /// Read `KEY=VALUE` filters.
    pub fn parse(args: &[String]) -> Result<Filter> {
        let mut by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for a in args {
            let Some((k, v)) = a.split_once('=') else {
                return Err(FormatError(format!(
                    "invalid argument \"{a}\" for \"-f, --filter\" flag: {BAD_FORMAT}"
                ))
                .into());
            };
            let k = k.trim().to_ascii_lowercase();
            by.entry(k).or_default().insert(v.trim().to_string());
        }
        for k in by.keys() {
            if !KEYS.contains(&k.as_str()) {
                bail!("invalid filter '{k}'");
            }
        }
        Ok(Filter { by })
    }

    fn values(&self, key: &str) -> Option<&BTreeSet<String>> {
        self.by.get(key).filter(|v| !v.is_empty())
    }

    /// Docker's `ExactMatch`: no filter on `key`, or `source` is a value.
    fn exact(&self, key: &str, source: &str) -> bool {
        self.values(key).is_none_or(|v| v.contains(source))
    }

    /// Docker's `FuzzyMatch`: as [`Filter::exact`], or a value starts `source`.
    fn fuzzy(&self, key: &str, source: &str) -> bool {
        self.values(key)
            .is_none_or(|v| v.iter().any(|p| source.starts_with(p.as_str())))
    }

    /// The actor's id or name, whole or its start (`fuzzyMatchName`).
    fn name(&self, key: &str, e: &Event) -> bool {
        let name = e.actor.attributes.get("name").map_or("", String::as_str);
        self.fuzzy(key, &e.actor.id) || self.fuzzy(key, name)
    }

    fn image(&self, e: &Event) -> bool {
        let attr = if e.kind == "image" { "name" } else { "image" };
        let name = e.actor.attributes.get(attr).map_or("", String::as_str);
        self.exact("image", &e.actor.id)
            || self.exact("image", name)
            || self.exact("image", strip_tag(&e.actor.id))
            || self.exact("image", strip_tag(name))
    }

    /// Every `label=` holds (`MatchKVList`).
    fn labels(&self, e: &Event) -> bool {
        let Some(want) = self.values("label") else {
            return true;
        };
        want.iter().all(|l| match l.split_once('=') {
            Some((k, v)) => e.actor.attributes.get(k).is_some_and(|x| x == v),
            None => e.actor.attributes.contains_key(l.as_str()),
        })
    }

    /// Does `e` pass every filter?
    pub fn matches(&self, e: &Event) -> bool {
        let event = if ["health_status", "exec_create", "exec_start"]
            .iter()
            .any(|k| self.values("event").is_some_and(|v| v.contains(*k)))
        {
            self.fuzzy("event", &e.action)
        } else {
            self.exact("event", &e.action)
        };
        event
            && self.exact("type", &e.kind)
            && (self.values("scope").is_none() || self.exact("scope", &e.scope))
            && [
                "container",
                "network",
                "daemon",
                "plugin",
                "volume",
                "node",
                "service",
                "secret",
                "config",
            ]
            .iter()
            .all(|k| self.name(k, e))
            && self.image(e)
            && self.labels(e)
    }
}

/// An image reference without its tag or digest (`busybox:1.36` ->
/// `busybox`; a registry's port stays).
fn strip_tag(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(args: &[&str]) -> Filter {
        Filter::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn start() -> Event {
        Event::new("container", "start", "abcdef0123")
            .attr("name", "web")
            .attr("image", "busybox:1.36")
            .attr("tier", "front")
    }

    fn connect() -> Event {
        Event::new("network", "connect", "0123net")
            .attr("name", "lan")
            .attr("container", "abcdef0123")
            .attr("type", "bridge")
    }

    #[test]
    fn no_filter_passes_everything() {
        assert!(f(&[]).matches(&start()));
        assert!(f(&[]).matches(&connect()));
    }

    #[test]
    fn containers_by_id_name_or_their_start() {
        for v in [
            "container=web",
            "container=abcdef0123",
            "container=abc",
            "container=we",
        ] {
            assert!(f(&[v]).matches(&start()), "{v}");
        }
        assert!(!f(&["container=db"]).matches(&start()));
        // Docker's rule: a network event's actor is the network.
        assert!(!f(&["container=web"]).matches(&connect()));
        assert!(f(&["network=lan"]).matches(&connect()));
        assert!(!f(&["network=lan"]).matches(&start()));
    }

    #[test]
    fn one_keys_values_are_alternatives_keys_all_hold() {
        assert!(f(&["event=start", "event=die"]).matches(&start()));
        assert!(!f(&["event=die"]).matches(&start()));
        assert!(f(&["event=start", "type=container"]).matches(&start()));
        assert!(!f(&["event=start", "type=network"]).matches(&start()));
        assert!(f(&["type=network"]).matches(&connect()));
    }

    #[test]
    fn images_with_or_without_tag_and_labels() {
        assert!(f(&["image=busybox"]).matches(&start()));
        assert!(f(&["image=busybox:1.36"]).matches(&start()));
        assert!(!f(&["image=alpine"]).matches(&start()));
        assert!(f(&["label=tier"]).matches(&start()));
        assert!(f(&["label=tier=front"]).matches(&start()));
        assert!(!f(&["label=tier=back"]).matches(&start()));
        assert!(!f(&["label=tier", "label=other"]).matches(&start()));
        assert_eq!(strip_tag("localhost:5000/bb"), "localhost:5000/bb");
        assert_eq!(
            strip_tag("localhost:5000/bb:1@sha256:ab"),
            "localhost:5000/bb"
        );
    }

    #[test]
    fn bad_filters_are_refused_as_docker_refuses_them() {
        let one = |s: &str| Filter::parse(&[s.to_string()]).unwrap_err();
        let e = one("nonsense");
        assert!(e.downcast_ref::<FormatError>().is_some());
        assert!(e.to_string().ends_with(BAD_FORMAT), "{e}");
        let e = one("colour=red");
        assert!(e.downcast_ref::<FormatError>().is_none());
        assert_eq!(e.to_string(), "invalid filter 'colour'");
    }
}
