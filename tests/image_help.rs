//! Every argument and option of the image commands has a help line
//! (issue 11, item 6): `image` and each of its subcommands, and the
//! Docker-style `pull`, `images`, `rmi`, `login` and `logout`. The test
//! walks the clap tree the binary uses.

use clap::CommandFactory;

use glassbox::cli::Cli;

/// `path: --name` of each argument without a help line, under `cmd`.
fn without_help(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let help = a
            .get_help()
            .or(a.get_long_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        if help.trim().is_empty() {
            out.push(format!("{path}: {id}"));
        }
    }
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        without_help(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn every_argument_of_the_image_commands_has_a_help_line() {
    let mut cli = Cli::command();
    cli.build();
    let mut missing = Vec::new();
    let mut walked = 0;
    for name in ["image", "pull", "images", "rmi", "login", "logout"] {
        let cmd = cli
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("no subcommand {name}"));
        walked += 1 + cmd.get_subcommands().count();
        without_help(cmd, &format!("glassbox {name}"), &mut missing);
    }
    assert!(walked > 15, "only {walked} commands walked");
    assert!(
        missing.is_empty(),
        "arguments without a help line:\n{}",
        missing.join("\n")
    );
}
