//! The process environment as the arguments read it, prepared once before they are parsed (and
//! before any thread starts, since it sets variables):
//!
//! - an empty variable counts as unset, as a copied template's `SMTP_URL=` line means;
//! - a `.env` file in the working directory fills in what the environment lacks;
//! - `<NAME>_FILE` supplies any setting from a file (container secrets), its trailing newline cut;
//! - `AUTH_SECRET` stands in for `BETTER_AUTH_SECRET`, as in Better Auth.

use std::path::Path;

/// The variables read besides the arguments' own.
const EXTRA: &[&str] = &["POSTGRES_URL", "AUTH_SECRET"];

/// Prepares the environment for `names` (the variables the arguments read), or says in one line
/// what is wrong with it.
pub fn prepare(names: &[String], dir: &Path) -> Result<(), String> {
    let names: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .chain(EXTRA.iter().copied())
        .collect();
    let files: Vec<String> = names.iter().map(|n| format!("{n}_FILE")).collect();
    let every = || {
        names
            .iter()
            .copied()
            .chain(files.iter().map(String::as_str))
    };
    every().for_each(unset_if_empty);
    match dotenvy::from_path(dir.join(".env")) {
        Ok(()) => every().for_each(unset_if_empty),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        // The line itself may hold a secret: name only its variable.
        Err(dotenvy::Error::LineParse(line, _)) => {
            let name = line.split('=').next().unwrap_or("").trim();
            return Err(format!(
                "cannot read .env: the line of {name} does not parse (its value is not shown)"
            ));
        }
        Err(e) => return Err(format!("cannot read .env: {e}")),
    }
    for name in &names {
        let file_var = format!("{name}_FILE");
        let Some(path) = std::env::var_os(&file_var) else {
            continue;
        };
        if std::env::var_os(name).is_some() {
            return Err(format!("set {name} or {file_var}, not both"));
        }
        let value = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {file_var} ({}): {e}", path.to_string_lossy()))?;
        let value = value.trim_end_matches(['\n', '\r']);
        if !value.is_empty() {
            std::env::set_var(name, value);
        }
    }
    if std::env::var_os("BETTER_AUTH_SECRET").is_none() {
        if let Some(secret) = std::env::var_os("AUTH_SECRET") {
            std::env::set_var("BETTER_AUTH_SECRET", secret);
        }
    }
    Ok(())
}

fn unset_if_empty(name: &str) {
    if std::env::var_os(name).is_some_and(|v| v.is_empty()) {
        std::env::remove_var(name);
    }
}
