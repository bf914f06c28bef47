//! `--format` and `inspect -f` as the Docker CLI reads them: Go's
//! `text/template` (through the `gotmpl` crate, a reimplementation of Go's
//! package, with Go's own builtins: `printf`, `println`, `index`, `len`,
//! ...) plus the functions Docker adds (`json`, `upper`, `lower`, `join`,
//! `split`, `title`, `pad`, `truncate`; `cli/templates` in the Docker CLI),
//! and Docker's formatter around it: `\t` and `\n` typed in a shell become
//! a tab and a newline, a `table` prefix prints a header row (the same
//! template run on the column titles, with Docker's header functions that
//! leave a title as it is) and aligns the columns with Go's `tabwriter` as
//! the Docker CLI sets it up, and `json` prints each item as one JSON line.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use gotmpl::{MissingKey, Template, TemplateError, Value};

/// A template value as JSON (Docker's `json` function).
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Uint(u) => (*u).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::List(l) => l.iter().map(to_json).collect(),
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| (k.to_string(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => serde_json::Value::Null,
    }
}

fn one_string<'a>(name: &str, args: &'a [Value]) -> gotmpl::Result<&'a str> {
    match args {
        [Value::String(s)] => Ok(s),
        _ => Err(TemplateError::Exec(format!("{name} expects one string"))),
    }
}

fn string(s: String) -> Value {
    Value::String(s.into())
}

/// A count argument (`pad`, `truncate`).
fn count(v: &Value) -> Option<usize> {
    match v {
        Value::Int(i) => Some((*i).max(0) as usize),
        Value::Uint(u) => Some(*u as usize),
        _ => None,
    }
}

/// Go's `strings.Title`: the first letter of each word upper case.
fn title(s: &str) -> String {
    let mut out = String::new();
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !c.is_alphanumeric() && c.is_whitespace()
        };
    }
    out
}

/// Docker's template functions (`basicFunctions` in `cli/templates`).
fn with_docker_funcs(t: Template) -> Template {
    t.func("json", |args| match args {
        [v] => Ok(string(
            serde_json::to_string(&to_json(v)).unwrap_or_default(),
        )),
        _ => Err(TemplateError::Exec("json expects one argument".into())),
    })
    .func("upper", |args| {
        Ok(string(one_string("upper", args)?.to_uppercase()))
    })
    .func("lower", |args| {
        Ok(string(one_string("lower", args)?.to_lowercase()))
    })
    .func("title", |args| {
        Ok(string(title(one_string("title", args)?)))
    })
    .func("split", |args| match args {
        [Value::String(s), Value::String(sep)] => Ok(Value::List(
            s.split(sep.as_ref())
                .map(|p| string(p.to_string()))
                .collect::<Vec<_>>()
                .into(),
        )),
        _ => Err(TemplateError::Exec(
            "split expects a string and a separator".into(),
        )),
    })
    .func("join", |args| match args {
        [Value::List(l), Value::String(sep)] => Ok(string(
            l.iter()
                .map(|v| match v {
                    Value::String(s) => s.to_string(),
                    other => to_json(other).to_string(),
                })
                .collect::<Vec<_>>()
                .join(sep),
        )),
        _ => Err(TemplateError::Exec(
            "join expects a list and a separator".into(),
        )),
    })
    // `padWithSpace`: an empty string stays empty.
    .func("pad", |args| match args {
        [Value::String(s), l, r] if s.is_empty() => {
            let _ = (l, r);
            Ok(string(String::new()))
        }
        [Value::String(s), l, r] => Ok(string(format!(
            "{}{s}{}",
            " ".repeat(count(l).unwrap_or(0)),
            " ".repeat(count(r).unwrap_or(0))
        ))),
        _ => Err(TemplateError::Exec(
            "pad expects a string and two counts".into(),
        )),
    })
    // `truncateWithLength`: the first `n` bytes (here: characters, so a
    // character is never cut in two).
    .func("truncate", |args| match args {
        [Value::String(s), n] => {
            let n = count(n).unwrap_or(usize::MAX);
            Ok(string(s.chars().take(n).collect()))
        }
        _ => Err(TemplateError::Exec(
            "truncate expects a string and a length".into(),
        )),
    })
}

/// Docker's `HeaderFunctions`: for the header row the functions leave the
/// column title as it is (`{{.Names | upper}}` is headed `NAMES`, and
/// `{{join .Args ","}}` by its title, not by a join of it); `pad` is kept,
/// so the header lines up with the cells.
fn with_header_funcs(t: Template) -> Template {
    let first = |args: &[Value]| match args.first() {
        Some(v) => Ok(v.clone()),
        None => Ok(Value::Nil),
    };
    with_docker_funcs(t)
        .func("json", first)
        .func("split", first)
        .func("join", first)
        .func("title", first)
        .func("lower", first)
        .func("upper", first)
        .func("truncate", first)
}

fn parse_with(t: Template, format: &str) -> Result<Template> {
    t.parse(format)
        .map_err(|e| anyhow!("template parsing error: {e}"))
}

/// Parse a template (Docker's error words on a bad one).
pub fn parse(format: &str) -> Result<Template> {
    parse_with(with_docker_funcs(Template::new("")), format)
}

/// Run a parsed template on one value.
pub fn execute(t: &Template, data: &serde_json::Value) -> Result<String> {
    let v = gotmpl::to_value(data).map_err(|e| anyhow!("template: {e}"))?;
    t.execute_to_string(&v)
        .map_err(|e| anyhow!("template: executing \"\": {e}"))
}

/// Docker's formatter before it parses: a `table` prefix taken off,
/// spaces trimmed at both ends, `\t` and `\n` (as a shell passes them,
/// backslash and letter) made a tab and a newline.
fn pre_format(format: &str) -> (bool, String) {
    let table = format.starts_with("table");
    let body = if table { &format[5..] } else { format };
    let body = body.trim_matches(' ');
    (table, body.replace("\\t", "\t").replace("\\n", "\n"))
}

/// `inspect -f FORMAT`: the template run on each object, one line each
/// (`json` prints each object as JSON).
pub fn each_line(format: &str, items: &[serde_json::Value]) -> Result<String> {
    let format = if format == "json" {
        "{{json .}}"
    } else {
        format
    };
    let (_, body) = pre_format(format);
    // A key the object does not have is an error, as Docker's `inspect`
    // says of it (`map has no entry for key`).
    let t = parse_with(
        with_docker_funcs(Template::new("")).missing_key(MissingKey::Error),
        &body,
    )?;
    let mut out = String::new();
    for it in items {
        out.push_str(&execute(&t, it).map_err(|e| anyhow!("template parsing error: {e}"))?);
        out.push('\n');
    }
    Ok(out)
}

/// `--format` of a listing whose rows are Docker's typed contexts: a field
/// the row does not have is an error (as Go says of a struct), not
/// `<no value>`. With a `table` prefix, a header row (the template run on
/// `headers`, field name -> column title, with the header functions) and
/// the columns aligned by [`tabwriter`] with `min_width` (10 for most
/// listings, 20 for `top`); `json` prints each row as one JSON line;
/// otherwise one line per row as the template prints it.
pub fn listing_with(
    format: &str,
    items: &[serde_json::Value],
    headers: &BTreeMap<&str, &str>,
    min_width: usize,
) -> Result<String> {
    let format = if format == "json" {
        "{{json .}}"
    } else {
        format
    };
    let (table, body) = pre_format(format);
    let t = parse_with(
        with_docker_funcs(Template::new("")).missing_key(MissingKey::Error),
        &body,
    )?;
    let mut text = String::new();
    for it in items {
        text.push_str(&execute(&t, it).map_err(|e| anyhow!("failed to execute template: {e}"))?);
        text.push('\n');
    }
    if !table {
        return Ok(text);
    }
    let header: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    let ht = parse_with(with_header_funcs(Template::new("")), &body)?;
    let mut all = execute(&ht, &header.into())?;
    all.push('\n');
    all.push_str(&text);
    Ok(tabwriter(&all, min_width, 3))
}

/// [`listing_with`] with the Docker CLI's usual minimum width of 10.
pub fn listing(
    format: &str,
    items: &[serde_json::Value],
    headers: &BTreeMap<&str, &str>,
) -> Result<String> {
    listing_with(format, items, headers, 10)
}

/// Go's `text/tabwriter` with a space as padding character and no flags,
/// as the Docker CLI uses it (`tabwriter.NewWriter(out, minwidth, 1,
/// padding, ' ', 0)`). A cell is text ended by a tab; the text after a
/// line's last tab is no cell and is never padded. Consecutive lines that
/// have a cell in a column form a block, and the column is as wide as the
/// block's widest cell plus `padding`, at least `min_width`; every cell of
/// the block, empty ones too, is padded to it.
pub fn tabwriter(text: &str, min_width: usize, padding: usize) -> String {
    let ends_with_newline = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<Vec<&str>> = body.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(
        &lines,
        0,
        lines.len(),
        &mut widths,
        min_width,
        padding,
        &mut out,
    );
    if !ends_with_newline {
        out.pop();
    }
    out
}

/// Go's `Writer.format`: the lines `[line0, line1)` with the widths of the
/// enclosing columns in `widths`.
fn format_block(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    min_width: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        // A cell in this column: the lines before it are done with the
        // columns known so far; a block of this column starts here.
        write_lines(&lines[line0..this], widths, out);
        line0 = this;
        let mut width = min_width;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + padding);
            this += 1;
        }
        widths.push(width);
        format_block(lines, line0, this, widths, min_width, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(&lines[line0..line1], widths, out);
}

fn write_lines(lines: &[Vec<&str>], widths: &[usize], out: &mut String) {
    for line in lines {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() {
                let w = cell.chars().count();
                out.push_str(&" ".repeat(widths[j].saturating_sub(w)));
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dockers_functions() {
        let v = json!({"Name": "web", "Args": ["-f", "x"], "Labels": {"a": "1"}});
        let out = each_line(
            "{{.Name | upper}} {{json .Labels}} {{join .Args \",\"}} {{title \"hello don't x_y\"}} {{index (split \"a:b\" \":\") 1}} {{truncate .Name 2}} [{{pad .Name 1 2}}] [{{pad \"\" 1 2}}] {{lower \"AB\"}}",
            &[v],
        )
        .unwrap();
        assert_eq!(
            out,
            "WEB {\"a\":\"1\"} -f,x Hello Don'T X_y b we [ web  ] [] ab\n"
        );
    }

    #[test]
    fn gos_builtins_are_there() {
        let v = json!({"Name": "web", "Args": ["-f", "x"]});
        let out = each_line(
            "{{printf \"%s-%d\" .Name (len .Args)}} {{println .Name}}",
            &[v],
        )
        .unwrap();
        assert_eq!(out, "web-2 web\n\n");
    }

    #[test]
    fn table_prefix_prints_a_header_and_aligns() {
        let headers: BTreeMap<&str, &str> = [("ID", "CONTAINER ID"), ("Names", "NAMES")].into();
        let items = [
            json!({"ID": "abc", "Names": "web"}),
            json!({"ID": "defghijklmnopq", "Names": "db"}),
        ];
        let out = listing("table {{.ID}}\\t{{.Names}}", &items, &headers).unwrap();
        assert_eq!(
            out,
            "CONTAINER ID     NAMES\nabc              web\ndefghijklmnopq   db\n"
        );
        let plain = listing("{{.Names}}", &items, &headers).unwrap();
        assert_eq!(plain, "web\ndb\n");
        // `\t` and `\n` work without `table` too, as in Docker.
        let plain = listing("{{.Names}}\\t{{.ID}}", &items[..1], &headers).unwrap();
        assert_eq!(plain, "web\tabc\n");
        // A table with no rows is its header.
        assert_eq!(
            listing("table {{.ID}}\\t{{.Names}}", &[], &headers).unwrap(),
            "CONTAINER ID   NAMES\n"
        );
    }

    #[test]
    fn header_functions_leave_the_titles_alone() {
        let headers: BTreeMap<&str, &str> = [("ID", "CONTAINER ID"), ("Names", "NAMES")].into();
        let items = [json!({"ID": "abc", "Names": "Web"})];
        let out = listing(
            "table {{lower .Names}}\\t{{truncate .ID 1}}",
            &items,
            &headers,
        )
        .unwrap();
        assert_eq!(out, "NAMES     CONTAINER ID\nweb       a\n");
    }

    #[test]
    fn an_empty_last_column_is_padded_as_gos_tabwriter_pads_it() {
        // The cells before the last tab are padded, empty ones too; text
        // after the last tab never is.
        assert_eq!(tabwriter("a\tb\t\nccc\t\t\n", 4, 1), "a   b   \nccc     \n");
        // Column blocks: a line without the column ends the block.
        assert_eq!(
            tabwriter("aaaaaa\tx\nb\nc\ty\n", 1, 1),
            "aaaaaa x\nb\nc y\n"
        );
    }

    #[test]
    fn json_format_prints_each_item_as_json() {
        let headers: BTreeMap<&str, &str> = BTreeMap::new();
        let out = listing("json", &[json!({"ID": "a"})], &headers).unwrap();
        assert_eq!(out, "{\"ID\":\"a\"}\n");
    }

    #[test]
    fn an_unknown_field_of_a_row_is_an_error() {
        let headers: BTreeMap<&str, &str> = BTreeMap::new();
        let e = listing("{{.Nope}}", &[json!({"ID": "a"})], &headers)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Nope"), "{e}");
    }

    #[test]
    fn a_bad_template_is_named() {
        let e = parse("{{.Name").err().unwrap().to_string();
        assert!(e.starts_with("template parsing error:"), "{e}");
    }
}
