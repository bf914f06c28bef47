//! `--format` and `inspect -f` as the Docker CLI reads them: Go's
//! `text/template` (through the `gotmpl` crate, a reimplementation of Go's
//! package) with the functions Docker adds (`json`, `upper`, `lower`,
//! `join`, `split`, `title`, `pad`, `truncate`, `println`), and the `table`
//! prefix that prints a header and aligns the columns with Docker's
//! tabwriter settings (cells at least 10 wide, 3 spaces apart).

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow};
use gotmpl::{Template, TemplateError, Value};

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

/// Docker's template functions (`cli/templates` in the Docker CLI).
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
        let s = one_string("title", args)?;
        let mut out = String::new();
        let mut start = true;
        for c in s.chars() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            start = c.is_whitespace();
        }
        Ok(string(out))
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
    .func("pad", |args| match args {
        [Value::String(s), l, r] => {
            let n = |v: &Value| match v {
                Value::Int(i) => *i.max(&0) as usize,
                Value::Uint(u) => *u as usize,
                _ => 0,
            };
            Ok(string(format!(
                "{}{s}{}",
                " ".repeat(n(l)),
                " ".repeat(n(r))
            )))
        }
        _ => Err(TemplateError::Exec(
            "pad expects a string and two counts".into(),
        )),
    })
    .func("truncate", |args| match args {
        [Value::String(s), n] => {
            let n = match n {
                Value::Int(i) => *i.max(&0) as usize,
                Value::Uint(u) => *u as usize,
                _ => usize::MAX,
            };
            Ok(string(s.chars().take(n).collect()))
        }
        _ => Err(TemplateError::Exec(
            "truncate expects a string and a length".into(),
        )),
    })
    .func("println", |args| {
        let parts: Vec<String> = args
            .iter()
            .map(|v| match v {
                Value::String(s) => s.to_string(),
                other => to_json(other).to_string(),
            })
            .collect();
        Ok(string(format!("{}\n", parts.join(" "))))
    })
}

/// Parse a template (Docker's error words on a bad one).
pub fn parse(format: &str) -> Result<Template> {
    with_docker_funcs(Template::new(""))
        .parse(format)
        .map_err(|e| anyhow!("template parsing error: {e}"))
}

/// Run a parsed template on one value.
pub fn execute(t: &Template, data: &serde_json::Value) -> Result<String> {
    let v = gotmpl::to_value(data).map_err(|e| anyhow!("template: {e}"))?;
    t.execute_to_string(&v)
        .map_err(|e| anyhow!("template: executing \"\": {e}"))
}

/// `inspect -f FORMAT`: the template run on each object, one line each.
pub fn each_line(format: &str, items: &[serde_json::Value]) -> Result<String> {
    let t = parse(format)?;
    let mut out = String::new();
    for it in items {
        out.push_str(&execute(&t, it)?);
        out.push('\n');
    }
    Ok(out)
}

/// `--format` of a listing: with a `table` prefix, a header row made by
/// running the template on `headers` (field name -> column title) and the
/// rows aligned; without it, one line per item as the template prints it.
pub fn listing(
    format: &str,
    items: &[serde_json::Value],
    headers: &BTreeMap<&str, &str>,
) -> Result<String> {
    let Some(rest) = format.strip_prefix("table") else {
        return each_line(format, items);
    };
    let body = rest.strip_prefix(' ').unwrap_or(rest);
    // `\t` typed in a shell arrives as backslash and t.
    let body = body.replace("\\t", "\t");
    let t = parse(&body)?;
    let header: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    let mut text = String::new();
    text.push_str(&execute(&t, &header.into()).context("the table's header")?);
    text.push('\n');
    for it in items {
        text.push_str(&execute(&t, it)?);
        text.push('\n');
    }
    Ok(tabwriter(&text))
}

/// Go's tabwriter as the Docker CLI sets it up (minwidth 10, padding 3,
/// spaces): each tab-separated cell padded to its column's width; the last
/// cell of a line is not padded.
pub fn tabwriter(text: &str) -> String {
    const MIN_WIDTH: usize = 10;
    const PADDING: usize = 3;
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            widths[i] = widths[i].max((c.chars().count() + PADDING).max(MIN_WIDTH));
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(widths[i] - c.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dockers_functions() {
        let v = json!({"Name": "web", "Args": ["-f", "x"], "Labels": {"a": "1"}});
        let out = each_line(
            "{{.Name | upper}} {{json .Labels}} {{join .Args \",\"}} {{title \"hello world\"}} {{index (split \"a:b\" \":\") 1}} {{truncate .Name 2}}",
            &[v],
        )
        .unwrap();
        assert_eq!(out, "WEB {\"a\":\"1\"} -f,x Hello World b we\n");
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
    }

    #[test]
    fn a_bad_template_is_named() {
        let e = parse("{{.Name").err().unwrap().to_string();
        assert!(e.starts_with("template parsing error:"), "{e}");
    }
}
