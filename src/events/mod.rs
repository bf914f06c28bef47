//! Events: what happened to containers and networks, as Docker's `docker
//! events` reports it. Docker's daemon keeps its events in memory; glassbox
//! has no daemon, so every command and every shim appends one JSON line
//! per event to a log in the state root (`events.log`, see [`log`]), and
//! `glassbox events` reads it back: replayed with `--since`/`--until`,
//! followed live like `tail -f` otherwise.
//!
//! A student should notice the kernel mechanism underneath: each line is
//! written with one `write(2)` on a descriptor opened with `O_APPEND`, so
//! the kernel puts it at the end of the file in one piece even when a
//! shim and a command write at the same moment (read `open(2)`, O_APPEND,
//! and `write(2)`). An event that cannot be written is a warning, never
//! the command's failure.
//!
//! Call [`record`] with an [`Event`] (for a container:
//! `events::record(root, Event::container(&c, "pause"))`).

pub mod filter;
pub mod log;
pub mod text;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::state::Container;
use crate::state::Root;

/// Who an event is about (Docker's `events.Actor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, in Docker's shape (`events.Message`): `Type`, `Action`,
/// `Actor`, `scope`, `time`, `timeNano`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Event {
    /// `container`, `network`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, `connect`, ...
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Always `local` (Docker's `swarm` is for a swarm's events).
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event of `kind` about `id`, stamped now.
    pub fn new(kind: &str, action: &str, id: &str) -> Event {
        let now = now_nanos();
        Event {
            kind: kind.to_string(),
            action: action.to_string(),
            actor: Actor {
                id: id.to_string(),
                attributes: BTreeMap::new(),
            },
            scope: "local".into(),
            time: (now / 1_000_000_000) as i64,
            time_nano: now as i64,
        }
    }

    /// One more attribute.
    pub fn attr(mut self, key: &str, value: impl ToString) -> Event {
        self.actor
            .attributes
            .insert(key.to_string(), value.to_string());
        self
    }

    /// A container event, with Docker's attributes: the container's labels,
    /// its `image` (as the user named it) and its `name`.
    pub fn container(c: &Container, action: &str) -> Event {
        let mut e = Event::new("container", action, &c.id);
        for (k, v) in &c.config.labels {
            e.actor.attributes.insert(k.clone(), v.clone());
        }
        e.attr("image", &c.config.image).attr("name", &c.name)
    }

    /// A network event about container `container_id` (`connect`,
    /// `disconnect`): Docker names the network as the actor.
    pub fn network(net: &crate::net::store::Network, action: &str, container_id: &str) -> Event {
        Event::new("network", action, &net.id)
            .attr("container", container_id)
            .attr("name", &net.name)
            .attr("type", &net.driver)
    }

    /// The event's time in nanoseconds since the epoch.
    pub fn nanos(&self) -> i128 {
        if self.time_nano != 0 {
            i128::from(self.time_nano)
        } else {
            i128::from(self.time) * 1_000_000_000
        }
    }
}

/// Now, in nanoseconds since the epoch.
pub fn now_nanos() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Append `event` to the root's events log. Never fails the caller: a
/// write that fails is a warning (`--dry-run` records nothing).
pub fn record(root: &Root, event: Event) {
    if crate::trace::dry_run() {
        return;
    }
    if let Err(e) = log::append(root, &event, log::ROTATE_AT) {
        crate::trace::warn(format!(
            "could not record the event \"{} {}\" in {}: {e:#} (the command itself went on)",
            event.kind,
            event.action,
            log::path(root).display()
        ));
    }
}

/// [`record`] of a container event.
pub fn container(root: &Root, c: &Container, action: &str) {
    record(root, Event::container(c, action));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_event_has_dockers_shape() {
        let mut c = Container {
            id: "a".repeat(64),
            name: "web".into(),
            ..Container::default()
        };
        c.config.image = "busybox".into();
        c.config.labels.insert("tier".into(), "front".into());
        let e = Event::container(&c, "die").attr("exitCode", 3);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Action"], "die");
        assert_eq!(v["Actor"]["ID"], c.id);
        assert_eq!(v["Actor"]["Attributes"]["exitCode"], "3");
        assert_eq!(v["Actor"]["Attributes"]["image"], "busybox");
        assert_eq!(v["Actor"]["Attributes"]["name"], "web");
        assert_eq!(v["Actor"]["Attributes"]["tier"], "front");
        assert_eq!(v["scope"], "local");
        assert_eq!(v["time"].as_i64().unwrap(), e.time);
        assert_eq!(v["timeNano"].as_i64().unwrap() / 1_000_000_000, e.time);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
