//! Every subcommand, argument and option of `glassbox net` (also
//! `network`) says what it is for in `--help`, and the network sources
//! keep the rules the library lives by (no dry-run checks, resource kinds
//! named by their types). No root needed.

use clap::CommandFactory;

/// Each subcommand of `cmd` (itself included), with its path.
fn walk(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
    out.push((path.clone(), cmd.clone()));
    for sub in cmd.get_subcommands() {
        walk(sub, format!("{path} {}", sub.get_name()), out);
    }
}

fn help_of(arg: &clap::Arg) -> String {
    arg.get_help()
        .or(arg.get_long_help())
        .map(|h| h.to_string())
        .unwrap_or_default()
}

#[test]
fn every_argument_and_option_of_net_has_a_help_line() {
    let mut cli = glassbox::cli::Cli::command();
    cli.build();
    let net = cli
        .find_subcommand("net")
        .expect("glassbox has a net subcommand")
        .clone();
    let mut all = Vec::new();
    walk(&net, "net".into(), &mut all);
    let mut missing = Vec::new();
    for (path, cmd) in &all {
        if cmd
            .get_about()
            .is_none_or(|a| a.to_string().trim().is_empty())
        {
            missing.push(format!("{path}: the subcommand has no help"));
        }
        for arg in cmd.get_arguments() {
            if help_of(arg).trim().is_empty() {
                let name = match arg.get_long() {
                    Some(l) => format!("--{l}"),
                    None => format!("<{}>", arg.get_id().as_str().to_uppercase()),
                };
                missing.push(format!("{path} {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these have an empty help line:\n  {}",
        missing.join("\n  ")
    );
    assert!(
        all.len() > 15,
        "the walk found only {} subcommands",
        all.len()
    );
}

#[test]
fn veth_del_says_what_its_own_bridge_option_does() {
    let mut cli = glassbox::cli::Cli::command();
    cli.build();
    let veth = cli
        .find_subcommand("net")
        .and_then(|n| n.find_subcommand("veth"))
        .expect("net veth")
        .clone();
    let bridge_help = |verb: &str| {
        let sub = veth.find_subcommand(verb).expect("veth add/del");
        let arg = sub
            .get_arguments()
            .find(|a| a.get_long() == Some("bridge"))
            .expect("--bridge");
        help_of(arg)
    };
    assert_ne!(
        bridge_help("add"),
        bridge_help("del"),
        "`net veth del --bridge` repeats add's text"
    );
}

/// The sources of the network library and commands, with their paths.
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["src/net", "src/cmd/net"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    assert!(out.len() > 10, "found only {} sources", out.len());
    out
}

#[test]
fn the_network_code_asks_no_dry_run_question_and_names_kinds_by_type() {
    let kind_literal = regex::Regex::new(
        r#"(record|forget)\(\s*[a-z_&]+,\s*"|kind\s*==\s*"(link|nft-table|iptables-rule)""#,
    )
    .unwrap();
    for (path, text) in sources() {
        // A plan is the run: steps say whether they ran (Step::apply), a
        // mechanism never asks.
        assert!(
            !text.contains("dry_run()"),
            "{path} asks trace::dry_run(): use Step::apply / Done"
        );
        // Resource kinds are typed (LINK_KIND.name(), IPT_KIND.name()...).
        if let Some(m) = kind_literal.find(&text) {
            panic!("{path} names a resource kind by a literal: {}", m.as_str());
        }
        assert!(
            !text.contains("LINK_KIND_NAME"),
            "{path}: use LINK_KIND.name()"
        );
    }
}
