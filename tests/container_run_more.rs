//! More of `run` and the commands around its network, as a Docker user
//! checks them: `-P` publishing each exposed port (the image's and
//! `--expose`'s) to a free host port that answers, `port` printing them
//! as Docker does, image labels merged under `--label`, `--ip` refused on
//! the default bridge with nothing left and given inside on a user
//! network, `--network-alias` resolving from a peer, and `rename` of a
//! running container changing the name its peers reach it by. Each test
//! runs glassbox in a namespace of its own playing the host
//! (tests/netlab); traffic goes only to loopback and to the containers
//! and namespaces the test made.

mod common;
mod netlab;

use netlab::Lab;
use netlab::ctr::{IMAGE, http_wait, httpd, inspect, inspect_json, members, net, veths};

/// `IMAGE` again as `tag`, its config's `config` object given `extra`
/// (`ExposedPorts`, `Labels`): saved, its config rewritten, loaded back.
fn image_with(lab: &Lab, tag: &str, extra: serde_json::Value) {
    let saved = lab.root.path().join("saved.tar");
    lab.ok(&["image", "save", "-o", saved.to_str().unwrap(), IMAGE]);
    let bytes =
        common::archive::rewrite_saved(&std::fs::read(&saved).unwrap(), tag, None, |config| {
            for (k, v) in extra.as_object().unwrap() {
                config["config"][k] = v.clone();
            }
        });
    let path = lab.root.path().join("with.tar");
    std::fs::write(&path, bytes).unwrap();
    lab.ok(&["image", "load", "-i", path.to_str().unwrap()]);
}

/// The container directories of the root (a record or not).
fn container_dirs(lab: &Lab) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(lab.root.path().join("containers")) else {
        return vec![];
    };
    rd.flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

#[test]
fn publish_all_maps_each_exposed_port_to_a_free_host_port_that_answers_and_port_prints_them() {
    let mut lab = net();
    let (_out, host_ip, _) = lab.outside();
    image_with(
        &lab,
        "web:1",
        serde_json::json!({
            "ExposedPorts": {"80/tcp": {}},
            "Labels": {"tier": "base", "maintainer": "img"},
        }),
    );
    lab.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-P",
        "--expose",
        "81",
        "--label",
        "tier=web",
        "web:1",
        "sh",
        "-c",
        &format!(
            "{} && {} && sleep 1000",
            httpd(80, "hello 80"),
            httpd(81, "hello 81")
        ),
    ]);
    let v = inspect_json(&lab, "web");
    assert_eq!(v["HostConfig"]["PublishAllPorts"], true, "{v}");
    assert_eq!(v["HostConfig"]["PortBindings"], serde_json::json!({}));
    assert_eq!(
        v["Config"]["ExposedPorts"],
        serde_json::json!({"80/tcp": {}, "81/tcp": {}})
    );
    // The image's labels, the container's own winning (Docker's merge).
    assert_eq!(
        v["Config"]["Labels"],
        serde_json::json!({"maintainer": "img", "tier": "web"})
    );
    let range = lab.host_sh("cat /proc/sys/net/ipv4/ip_local_port_range");
    let lo: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    let mut host_ports = Vec::new();
    for key in ["80/tcp", "81/tcp"] {
        let b = &v["NetworkSettings"]["Ports"][key];
        assert_eq!(b.as_array().map(Vec::len), Some(1), "{key}: {v}");
        assert_eq!(b[0]["HostIp"], "0.0.0.0");
        let p: u16 = b[0]["HostPort"].as_str().unwrap().parse().unwrap();
        assert!(p >= lo, "{key} -> {p}, below the ephemeral range {range}");
        host_ports.push(p);
    }
    assert_ne!(host_ports[0], host_ports[1]);
    let (p80, p81) = (host_ports[0], host_ports[1]);
    // Each answers on the host's loopback and on its own address.
    for (addr, want) in [
        (format!("127.0.0.1:{p80}"), "hello 80"),
        (format!("127.0.0.1:{p81}"), "hello 81"),
        (format!("{host_ip}:{p80}"), "hello 80"),
        (format!("{host_ip}:{p81}"), "hello 81"),
    ] {
        assert_eq!(http_wait(&lab.host, &addr).as_deref(), Ok(want), "{addr}");
    }
    // `port`, in Docker's words.
    assert_eq!(
        lab.ok(&["port", "web"]),
        format!("80/tcp -> 0.0.0.0:{p80}\n81/tcp -> 0.0.0.0:{p81}\n")
    );
    assert_eq!(lab.ok(&["port", "web", "80"]), format!("0.0.0.0:{p80}\n"));
    assert_eq!(
        lab.ok(&["container", "port", "web", "81/tcp"]),
        format!("0.0.0.0:{p81}\n")
    );
    let out = lab.run(&["port", "web", "82"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        common::stderr(&out),
        "Error: No public port '82' published for web\n"
    );
    let out = lab.run(&["port", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        common::stderr(&out),
        "Error response from daemon: No such container: nosuch\n"
    );
    // PORTS groups consecutive ports as Docker does.
    let shown = if p81 == p80 + 1 {
        format!("0.0.0.0:{p80}-{p81}->80-81/tcp\n")
    } else {
        let mut each = [(p80, 80), (p81, 81)];
        each.sort();
        let each: Vec<String> = each
            .iter()
            .map(|(h, p)| format!("0.0.0.0:{h}->{p}/tcp"))
            .collect();
        format!("{}\n", each.join(", "))
    };
    assert_eq!(lab.ok(&["ps", "--format", "{{.Ports}}"]), shown);
    // -P where no port can be published: Docker's refusal, nothing made.
    for mode in ["none", "container:web"] {
        let out = lab.run(&["run", "--rm", "-P", "--network", mode, IMAGE, "true"]);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        assert!(
            common::stderr(&out).contains(
                "conflicting options: port publishing and the container type network mode"
            ),
            "{out:?}"
        );
    }
    assert_eq!(lab.ok(&["ps", "-aq"]).lines().count(), 1);
    // Stopped: nothing published, nothing printed.
    lab.ok(&["stop", "-t", "1", "web"]);
    assert_eq!(lab.ok(&["port", "web"]), "");
    // Started again: published again.
    lab.ok(&["start", "web"]);
    let again = lab.ok(&["port", "web"]);
    assert_eq!(again.lines().count(), 2, "{again}");
}

#[test]
fn ip_on_the_default_bridge_is_refused_and_leaves_nothing() {
    let lab = net();
    for args in [
        vec!["run", "-d", "--ip", "172.17.0.50", IMAGE, "sleep", "100"],
        vec!["create", "--ip", "172.17.0.50", IMAGE, "true"],
        vec![
            "run",
            "--network",
            "host",
            "--ip",
            "10.0.0.5",
            IMAGE,
            "true",
        ],
    ] {
        let out = lab.run(&args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {out:?}");
        assert_eq!(
            common::stderr(&out),
            "glassbox: error: user specified IP address is supported on user defined networks only\n",
            "{args:?}"
        );
    }
    let out = lab.run(&["run", "--ip", "nope", IMAGE, "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        common::stderr(&out)
            .contains("invalid argument \"nope\" for \"--ip\" flag: nope is not an ip address"),
        "{out:?}"
    );
    let out = lab.run(&["run", "--network-alias", "db", IMAGE, "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        common::stderr(&out).contains(
            "network-scoped alias is supported only for containers in user defined networks"
        ),
        "{out:?}"
    );
    // Nothing made: no record, no directory, no lease, no veth.
    assert_eq!(lab.ok(&["ps", "-aq"]), "");
    assert_eq!(container_dirs(&lab), Vec::<String>::new());
    assert_eq!(members(&lab, "bridge"), Vec::<String>::new());
    assert_eq!(veths(&lab), Vec::<String>::new());
}

#[test]
fn ip_on_a_user_network_is_the_address_inside_an_alias_resolves_and_a_taken_one_is_refused() {
    let lab = net();
    lab.ok(&["network", "create", "--subnet", "10.77.0.0/24", "appnet"]);
    lab.ok(&[
        "run",
        "-d",
        "--name",
        "d1",
        "--network",
        "appnet",
        "--ip",
        "10.77.0.50",
        "--network-alias",
        "db",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let inside = lab.ok(&[
        "exec", "d1", "ip", "-o", "-4", "addr", "show", "dev", "eth0",
    ]);
    assert!(inside.contains("inet 10.77.0.50/24"), "{inside}");
    let v = inspect_json(&lab, "d1");
    let e = &v["NetworkSettings"]["Networks"]["appnet"];
    assert_eq!(e["IPAddress"], "10.77.0.50", "{v}");
    assert_eq!(
        e["IPAMConfig"],
        serde_json::json!({"IPv4Address": "10.77.0.50"})
    );
    assert_eq!(e["Aliases"], serde_json::json!(["db"]));
    // A peer on the network reaches it by its alias.
    let out = lab.ok(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        IMAGE,
        "ping",
        "-c1",
        "-W2",
        "db",
    ]);
    assert!(out.contains("PING db (10.77.0.50)"), "{out}");
    assert!(out.contains("1 packets received"), "{out}");

    // Outside the subnet: refused before anything is made.
    let out = lab.run(&[
        "run",
        "-d",
        "--network",
        "appnet",
        "--ip",
        "10.99.0.5",
        IMAGE,
        "sleep",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        common::stderr(&out)
            .contains("no configured subnet or ip-range contain the IP address 10.99.0.5"),
        "{out:?}"
    );
    assert_eq!(lab.ok(&["ps", "-aq"]).lines().count(), 1);

    // Taken: refused at start as Docker refuses it, the container left
    // Created, no second lease, no second veth.
    let out = lab.run(&[
        "run",
        "-d",
        "--name",
        "d2",
        "--network",
        "appnet",
        "--ip",
        "10.77.0.50",
        IMAGE,
        "sleep",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        common::stderr(&out).contains("address 10.77.0.50 is already in use on network appnet"),
        "{out:?}"
    );
    assert_eq!(inspect(&lab, "d2", "{{.State.Status}}"), "created");
    assert_eq!(members(&lab, "appnet"), ["d1"]);
    assert_eq!(veths(&lab).len(), 1, "{:?}", veths(&lab));

    // Stopped and started again, d1 has its address again.
    lab.ok(&["stop", "-t", "1", "d1"]);
    assert_eq!(
        inspect(
            &lab,
            "d1",
            "{{(index .NetworkSettings.Networks \"appnet\").IPAMConfig.IPv4Address}}"
        ),
        "10.77.0.50"
    );
    lab.ok(&["start", "d1"]);
    let inside = lab.ok(&[
        "exec", "d1", "ip", "-o", "-4", "addr", "show", "dev", "eth0",
    ]);
    assert!(inside.contains("inet 10.77.0.50/24"), "{inside}");

    // `network connect --ip` of a stopped container: the address is
    // recorded and given at its start; refused on the default bridge.
    lab.ok(&["network", "create", "--subnet", "10.88.0.0/24", "n2"]);
    lab.ok(&[
        "create",
        "--name",
        "d3",
        "--network",
        "appnet",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let err = lab.fails(&["network", "connect", "--ip", "172.17.0.9", "bridge", "d3"]);
    assert!(
        err.contains("user specified IP address is supported on user defined networks only"),
        "{err}"
    );
    let err = lab.fails(&["network", "connect", "--ip", "10.77.0.9", "n2", "d3"]);
    assert!(
        err.contains("no configured subnet or ip-range contain the IP address 10.77.0.9"),
        "{err}"
    );
    lab.ok(&["network", "connect", "--ip", "10.88.0.9", "n2", "d3"]);
    lab.ok(&["start", "d3"]);
    let inside = lab.ok(&["exec", "d3", "ip", "-o", "-4", "addr"]);
    assert!(inside.contains("inet 10.88.0.9/24"), "{inside}");
    assert_eq!(
        inspect(
            &lab,
            "d3",
            "{{.NetworkSettings.Networks.n2.IPAMConfig.IPv4Address}}"
        ),
        "10.88.0.9"
    );
}

#[test]
fn rename_of_a_running_container_changes_the_name_peers_reach_it_by() {
    let lab = net();
    lab.ok(&["network", "create", "appnet"]);
    lab.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "appnet",
        IMAGE,
        "sleep",
        "1000",
    ]);
    lab.ok(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "appnet",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let ip = inspect(
        &lab,
        "web",
        "{{.NetworkSettings.Networks.appnet.IPAddress}}",
    );
    // The trace: the record, then the leases and the peers' hosts files.
    let trace = lab.ok_stderr(&["-v", "rename", "web", "api"]);
    let root = lab.root.path().display().to_string();
    let filters = vec![
        (root.as_str(), "[ROOT]"),
        (r"[0-9a-f]{64}", "[ID]"),
        (r"\b[0-9a-f]{12}\b", "[SHORT]"),
        (r"\b(\d+\.){3}\d+", "[IP]"),
        (r"(ok|planned) [0-9.]+(µs|ms|s)\b", "$1 [TIME]"),
        (r" {2,}(ok|planned) \[TIME\]", " $1 [TIME]"),
    ];
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("rename_trace_v", trace);
    });
    assert_eq!(inspect(&lab, "api", "{{.Name}}"), "/api");
    let names = lab.ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(names, "peer\napi\n");
    // The peer's hosts file (bound into it) has the new name, not the old.
    let hosts = lab.ok(&["exec", "peer", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{ip}\tapi")), "{hosts}");
    assert!(!hosts.contains("web"), "{hosts}");
    let out = lab.ok(&["exec", "peer", "ping", "-c1", "-W2", "api"]);
    assert!(out.contains(&format!("PING api ({ip})")), "{out}");
    assert!(
        !lab.run(&["exec", "peer", "ping", "-c1", "-W1", "web"])
            .status
            .success()
    );
    assert_eq!(
        inspect(
            &lab,
            "api",
            "{{json .NetworkSettings.Networks.appnet.DNSNames}}"
        ),
        format!("[\"api\",\"{}\"]", &inspect(&lab, "api", "{{.Id}}")[..12])
    );
    assert_eq!(members(&lab, "appnet").len(), 2);
    assert!(members(&lab, "appnet").contains(&"api".to_string()));

    // A name another container has: Docker's conflict, nothing changed.
    let peer_id = inspect(&lab, "peer", "{{.Id}}");
    let out = lab.run(&["rename", "api", "peer"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        common::stderr(&out),
        format!(
            "Error response from daemon: Conflict. The container name \"/peer\" is already in use by container \"{peer_id}\". You have to remove (or rename) that container to be able to reuse that name.\nError: failed to rename container named api\n"
        )
    );
    let out = lab.run(&["rename", "api", "api"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains(
            "Error response from daemon: Renaming a container with the same name as its current name"
        ),
        "{out:?}"
    );
    let out = lab.run(&["rename", "nosuch", "other"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).starts_with("Error response from daemon: No such container: nosuch"),
        "{out:?}"
    );
    let out = lab.run(&["rename", "api", "b@d"]);
    assert!(
        common::stderr(&out)
            .contains("Invalid container name (b@d), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
        "{out:?}"
    );
    assert_eq!(lab.ok(&["ps", "--format", "{{.Names}}"]), "peer\napi\n");

    // Removed under its new name, it takes its lease and veth along.
    lab.ok(&["rm", "-f", "api"]);
    assert_eq!(members(&lab, "appnet"), ["peer"]);
    assert_eq!(veths(&lab).len(), 1);
}
