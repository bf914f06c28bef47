//! `run --network MODE` and `-p`, as `run` will use them: which network
//! namespace a container gets, and whether ports may be published there.
//! `bridge` (the default) and user-defined networks get their own
//! namespace plugged into a bridge; `host` shares the host's; `none` has
//! only loopback; `container:NAME` joins another container's. Read
//! `network_namespaces(7)`.

use anyhow::{Result, bail};

use super::ports::PortSpec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// A network by name (`bridge` is the default network).
    Network(String),
    Host,
    None,
    /// Share the network namespace of another container.
    Container(String),
}

pub fn parse_mode(s: &str) -> Result<Mode> {
    Ok(match s {
        "" | "default" | "bridge" => Mode::Network("bridge".into()),
        "host" => Mode::Host,
        "none" => Mode::None,
        _ => match s.strip_prefix("container:") {
            Some("") => bail!("invalid network mode {s:?}: give container:NAME or container:ID"),
            Some(c) => Mode::Container(c.into()),
            None => {
                super::store::validate_name(s)?;
                Mode::Network(s.into())
            }
        },
    })
}

/// Docker's rules for `-p` with a mode: an error for `none` and
/// `container:`, a warning (returned) for `host`, where ports are the
/// host's already.
pub fn check_ports(mode: &Mode, specs: &[PortSpec]) -> Result<Option<String>> {
    if specs.is_empty() {
        return Ok(None);
    }
    match mode {
        Mode::Network(_) => Ok(None),
        Mode::Host => Ok(Some(
            "Published ports are discarded when using host network mode".into(),
        )),
        Mode::None | Mode::Container(_) => {
            bail!("conflicting options: port publishing and the container type network mode")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ports::parse_port_spec;

    #[test]
    fn modes() {
        assert_eq!(
            parse_mode("bridge").unwrap(),
            Mode::Network("bridge".into())
        );
        assert_eq!(parse_mode("host").unwrap(), Mode::Host);
        assert_eq!(parse_mode("none").unwrap(), Mode::None);
        assert_eq!(
            parse_mode("container:web").unwrap(),
            Mode::Container("web".into())
        );
        assert_eq!(parse_mode("mynet").unwrap(), Mode::Network("mynet".into()));
        assert!(parse_mode("container:").is_err());
        assert!(parse_mode("bad name").is_err());
    }

    #[test]
    fn ports_and_modes() {
        let p = parse_port_spec("1314:80").unwrap();
        assert!(
            check_ports(&Mode::Network("bridge".into()), &p)
                .unwrap()
                .is_none()
        );
        assert!(check_ports(&Mode::Host, &p).unwrap().is_some());
        let e = check_ports(&Mode::None, &p).unwrap_err().to_string();
        assert!(e.contains("conflicting options"), "{e}");
        assert!(check_ports(&Mode::Container("x".into()), &p).is_err());
        assert!(check_ports(&Mode::None, &[]).unwrap().is_none());
    }
}
