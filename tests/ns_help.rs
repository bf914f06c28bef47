//! Every subcommand, argument and option of `ns`, `unionfs` and
//! `cgroup run` says what it is in `--help`: the test walks clap's command
//! tree and names each one whose help line is empty.

use clap::CommandFactory;

/// The commands at `path` and below, each with its full name.
fn walk<'a>(cmd: &'a clap::Command, name: String, out: &mut Vec<(String, &'a clap::Command)>) {
    for sub in cmd.get_subcommands() {
        walk(sub, format!("{name} {}", sub.get_name()), out);
    }
    out.push((name, cmd));
}

fn find<'a>(root: &'a clap::Command, path: &[&str]) -> &'a clap::Command {
    path.iter().fold(root, |c, p| {
        c.find_subcommand(p)
            .unwrap_or_else(|| panic!("no subcommand {p} in {}", c.get_name()))
    })
}

/// What lacks a help line under `path`.
fn undocumented(path: &[&str]) -> Vec<String> {
    let root = glassbox::cli::Cli::command();
    let mut cmds = Vec::new();
    walk(
        find(&root, path),
        format!("glassbox {}", path.join(" ")),
        &mut cmds,
    );
    let mut missing = Vec::new();
    for (name, cmd) in cmds {
        if cmd
            .get_about()
            .is_none_or(|a| a.to_string().trim().is_empty())
        {
            missing.push(format!("{name}: the subcommand itself"));
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let help = arg
                .get_help()
                .or(arg.get_long_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            let shown = match arg.get_long() {
                Some(l) => format!("--{l}"),
                None => format!("<{}>", id.to_uppercase()),
            };
            if help.trim().is_empty() {
                missing.push(format!("{name}: {shown}"));
            }
            // The values of an enum option (--type, --method) say what they are
            // too; a flag's true/false need not.
            let takes_values = matches!(
                arg.get_action(),
                clap::ArgAction::Set | clap::ArgAction::Append
            );
            for v in arg.get_possible_values().iter().filter(|_| takes_values) {
                if v.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                    missing.push(format!("{name}: {shown} {}", v.get_name()));
                }
            }
        }
    }
    missing
}

#[test]
fn every_argument_and_option_of_ns_unionfs_and_cgroup_run_has_a_help_line() {
    let mut missing = Vec::new();
    for path in [&["ns"][..], &["unionfs"], &["cgroup", "run"]] {
        missing.extend(undocumented(path));
    }
    assert!(
        missing.is_empty(),
        "these have no help line:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn the_walk_sees_every_subcommand_and_positional() {
    // The test above cannot pass by looking at nothing.
    let root = glassbox::cli::Cli::command();
    let mut cmds = Vec::new();
    walk(find(&root, &["ns"]), "glassbox ns".into(), &mut cmds);
    let names: Vec<&str> = cmds.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["glassbox ns run", "glassbox ns show", "glassbox ns unpin"] {
        assert!(names.contains(&want), "{names:?}");
    }
    let show = find(&root, &["ns", "show"]);
    assert!(show.get_arguments().any(|a| a.get_id() == "pid"));
    let help = show.clone().render_help().to_string();
    assert!(
        help.contains("The process whose namespaces to show"),
        "{help}"
    );
}

/// `ns ls --type NAME` means the kind of that name (the clap mirror of the
/// library's kinds is in the same order).
#[test]
fn type_names_map_to_the_kinds_of_the_same_name() {
    use clap::ValueEnum;
    use glassbox::cmd::ns::NsTypeArg;
    use glassbox::ns::NsType;
    for a in NsTypeArg::value_variants() {
        let name = a.to_possible_value().unwrap().get_name().to_string();
        assert_eq!(NsType::from(*a).proc_name(), name);
    }
    assert_eq!(NsTypeArg::value_variants().len(), NsType::ALL.len());
}
