//! How `events` prints an event: Docker's default line (`TIME TYPE ACTION
//! ID (KEY=VALUE, ...)`, the time with nine fixed digits of fraction, the
//! attributes sorted by key), or the `--format` template (`json`, or
//! `{{json .}}`: the event's JSON line as the log holds it). Pure.

use anyhow::Result;

use super::Event;

/// Docker's default line for `e` (`prettyPrintEvent`), the time in UTC.
pub fn line(e: &Event) -> String {
    let n = e.nanos();
    let secs = n.div_euclid(1_000_000_000) as i64;
    let nanos = n.rem_euclid(1_000_000_000) as u32;
    let mut out = format!(
        "{} {} {} {}",
        crate::clock::rfc3339_nanos(secs, nanos),
        e.kind,
        e.action,
        e.actor.id
    );
    if !e.actor.attributes.is_empty() {
        let attrs: Vec<String> = e
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!(" ({})", attrs.join(", ")));
    }
    out
}

/// A `--format`, parsed once.
pub enum Format {
    Default,
    /// `json` or `{{json .}}`: the event as its JSON line.
    Json,
    Template(gotmpl::Template),
}

impl Format {
    /// Docker's `json` key, `{{json .}}`, or a Go template (checked now,
    /// as Docker checks it on an empty event).
    pub fn parse(format: &str) -> Result<Format> {
        let f = format.trim();
        if f.is_empty() {
            return Ok(Format::Default);
        }
        if f == "json" || f.replace(' ', "") == "{{json.}}" {
            return Ok(Format::Json);
        }
        let t = crate::template::parse(&format.replace("\\t", "\t").replace("\\n", "\n"))?;
        crate::template::execute(&t, &template_data(&Event::default()))?;
        Ok(Format::Template(t))
    }

    /// `e` printed (without the newline).
    pub fn render(&self, e: &Event) -> Result<String> {
        match self {
            Format::Default => Ok(line(e)),
            Format::Json => Ok(serde_json::to_string(e)?),
            Format::Template(t) => crate::template::execute(t, &template_data(e)),
        }
    }
}

/// What a template sees: Docker's Go field names (`.Type`, `.Action`,
/// `.Actor.ID`, `.Actor.Attributes`, `.Scope`, `.Time`, `.TimeNano`).
pub fn template_data(e: &Event) -> serde_json::Value {
    serde_json::json!({
        "Type": e.kind,
        "Action": e.action,
        "Actor": {"ID": e.actor.id, "Attributes": e.actor.attributes},
        "Scope": e.scope,
        "Time": e.time,
        "TimeNano": e.time_nano,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        let mut e = Event::new("container", "die", "abc")
            .attr("name", "web")
            .attr("image", "bb:1")
            .attr("exitCode", "3");
        e.time = 1_764_669_600;
        e.time_nano = 1_764_669_600_000_000_005;
        e
    }

    #[test]
    fn dockers_default_line() {
        assert_eq!(
            line(&sample()),
            "2025-12-02T10:00:00.000000005Z container die abc (exitCode=3, image=bb:1, name=web)"
        );
        let bare = Event {
            time: 1,
            ..Event::new("network", "connect", "n")
        };
        let mut bare = bare;
        bare.time_nano = 0;
        assert_eq!(
            line(&bare),
            "1970-01-01T00:00:01.000000000Z network connect n"
        );
    }

    #[test]
    fn formats_json_and_templates() {
        let e = sample();
        let json = Format::parse("{{json .}}").unwrap().render(&e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
        let also = Format::parse("json").unwrap().render(&e).unwrap();
        assert_eq!(also, json);
        let t = Format::parse("{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}} {{.Time}}")
            .unwrap()
            .render(&e)
            .unwrap();
        assert_eq!(t, "container die web 3 1764669600");
        assert!(Format::parse("{{.Type").is_err());
    }
}
