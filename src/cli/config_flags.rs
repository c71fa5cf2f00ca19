//! Config flags: each is a shorthand for `--set KEY=VALUE` on the run's TOML config, declared once
//! in a table (flag, key, help), so `--help` can show every default from the config's own
//! defaults and a second trainer reuses the machinery instead of mirroring keys one by one.

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde::{de::DeserializeOwned, Serialize};
use std::path::Path;
use tailgrad::{Error, Result};

/// One flag: `--name VALUE` sets the (dotted) config `key`.
pub struct Flag {
    pub name: &'static str,
    pub key: &'static str,
    pub help: &'static str,
}

pub const fn flag(name: &'static str, key: &'static str, help: &'static str) -> Flag {
    Flag { name, key, help }
}

/// Declares `$ty`, the (key, value) settings that the flags `$flags` of a config type gave on
/// the command line, as a clap argument group whose help shows the defaults of `$defaults`.
macro_rules! config_flags {
    ($ty:ident, $flags:expr, $defaults:expr) => {
        pub struct $ty(Vec<(String, String)>);

        impl clap::Args for $ty {
            fn augment_args(cmd: clap::Command) -> clap::Command {
                $crate::cli::config_flags::augment(cmd, $flags, &$defaults)
            }

            fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
                <Self as clap::Args>::augment_args(cmd)
            }
        }

        impl clap::FromArgMatches for $ty {
            fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
                $crate::cli::config_flags::settings(m, $flags)
                    .map($ty)
                    .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, e))
            }

            fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
                *self = <Self as clap::FromArgMatches>::from_arg_matches(m)?;
                Ok(())
            }
        }
    };
}
pub(crate) use config_flags;

/// Adds the flags to `cmd`, each help line ending with its default from `defaults`.
pub fn augment<T: Serialize>(cmd: Command, flags: &[Flag], defaults: &T) -> Command {
    let table = toml::Table::try_from(defaults).expect("configs serialise as tables");
    let set = Arg::new("set")
        .long("set")
        .value_name("KEY=VALUE")
        .action(ArgAction::Append)
        .help("Set any config key, nested ones dotted (e.g. optim.betas=[0.5,0.999]); repeatable");
    flags.iter().fold(cmd.arg(set), |cmd, f| {
        let help = match lookup(&table, f.key) {
            Some(v) => format!("{} [default: {}]", f.help, show(v)),
            None => f.help.to_string(),
        };
        cmd.arg(Arg::new(f.name).long(f.name).value_name("VALUE").help(help))
    })
}

/// The (key, value) settings given on the command line: every `--set`, then the flags.
pub fn settings(m: &ArgMatches, flags: &[Flag]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for kv in m.get_many::<String>("set").into_iter().flatten() {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("--set {kv:?}: expected KEY=VALUE")))?;
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    for f in flags {
        if let Some(v) = m.get_one::<String>(f.name) {
            out.push((f.key.to_string(), v.clone()));
        }
    }
    Ok(out)
}

/// `cfg` with the settings applied; a bad key or value is `Error::Config` naming both.
pub fn apply<T: Serialize + DeserializeOwned>(cfg: &T, sets: &[(String, String)]) -> Result<T> {
    let mut table = toml::Table::try_from(cfg).expect("configs serialise as tables");
    for (key, raw) in sets {
        let (parents, leaf) = match key.rsplit_once('.') {
            Some((p, l)) => (p.split('.').collect(), l),
            None => (vec![], key.as_str()),
        };
        let mut t = &mut table;
        for p in parents {
            let v = t
                .entry(p)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            t = v
                .as_table_mut()
                .ok_or_else(|| Error::Config(format!("{key}: `{p}` is not a table")))?;
        }
        let value = parse(raw, t.get(leaf));
        t.insert(leaf.to_string(), value);
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e| Error::Config(format!("{}{}", e.to_string().trim_end(), describe(sets))))
}

/// A command-line value as TOML: a string where the key holds one (paths, names), a list from
/// commas where it holds an array, else whatever TOML reads (numbers, booleans, arrays).
fn parse(raw: &str, current: Option<&toml::Value>) -> toml::Value {
    let literal = |s: &str| {
        format!("v = {s}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(s.to_string()))
    };
    match current {
        Some(toml::Value::String(_)) => toml::Value::String(raw.to_string()),
        Some(toml::Value::Array(_)) if !raw.starts_with('[') => {
            toml::Value::Array(raw.split(',').map(|s| literal(s.trim())).collect())
        }
        _ => literal(raw),
    }
}

/// `base` with the keys of the TOML file at `path` laid over it (tables merged key by key).
pub fn overlay_file<T: Serialize + DeserializeOwned>(base: &T, path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    let file: toml::Table = text
        .parse()
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    let mut table = toml::Table::try_from(base).expect("configs serialise as tables");
    merge(&mut table, file);
    toml::Value::Table(table)
        .try_into()
        .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.to_string().trim_end())))
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let (first, rest) = key.split_once('.').unwrap_or((key, ""));
    let v = table.get(first)?;
    match rest {
        "" => Some(v),
        _ => lookup(v.as_table()?, rest),
    }
}

/// A default as a user would type it: `0.1`, not the f64 widening of an f32 field.
fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => (*f as f32).to_string(),
        toml::Value::Array(a) if a.is_empty() => "none".into(),
        toml::Value::Array(a) => a.iter().map(show).collect::<Vec<_>>().join(","),
        v => v.to_string(),
    }
}

/// " (command line: k=v, ...)", or nothing when no flag was given.
fn describe(sets: &[(String, String)]) -> String {
    if sets.is_empty() {
        return String::new();
    }
    let all: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(" (command line: {})", all.join(", "))
}
