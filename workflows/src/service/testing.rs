//! What every service's configuration tests check about its secrets (invariant 8), written
//! once: each service's unit tests call [`secrets_are_guarded`] with its own flags.

use super::{DevMode, SecretError, Settings};

/// A database URL whose password must never be printed.
const DB_URL: &str = "postgres://boxoffice:db-password-42@127.0.0.1/boxoffice";
const DB_PASSWORD: &str = "db-password-42";

/// Checks that `C` (a service's configuration) guards its secrets, given each secret's flag
/// and a value of the operator's own, in the order [`Settings::secrets`] lists them:
///
/// - `Debug` prints none of the own values, no development value, nor the database password;
/// - with every secret its own, the check passes in either mode;
/// - outside development mode, a secret left at its default is refused, naming it;
/// - in development mode, the defaults are listed for the warning, in order.
///
/// The first violation is the error. Development mode is passed to the check explicitly, so
/// `BOXOFFICE_DEV_MODE` in the test's environment (`ops/test.sh` sets it) changes nothing.
pub fn secrets_are_guarded<C: Settings>(own: &[(&str, &str)]) -> Result<(), String> {
    const OFF: DevMode = DevMode { enabled: false };
    const ON: DevMode = DevMode { enabled: true };
    let parse = |args: &[&str]| {
        let base = ["service", "--database-url", DB_URL];
        C::try_parse_from(base.iter().chain(args)).map_err(|e| e.to_string())
    };
    let all: Vec<&str> = own
        .iter()
        .flat_map(|(flag, value)| [*flag, *value])
        .collect();

    let mine = parse(&all)?;
    let printed = format!("{mine:?}");
    for secret in own.iter().map(|(_, v)| *v).chain([DB_PASSWORD]) {
        if printed.contains(secret) {
            return Err(format!("Debug prints {secret}: {printed}"));
        }
    }
    let settings = mine.secrets();
    if settings.len() != own.len() {
        return Err(format!(
            "{} secrets given, the configuration has {}",
            own.len(),
            settings.len()
        ));
    }
    for dev in [OFF, ON] {
        if dev.check(&settings) != Ok(vec![]) {
            return Err(format!(
                "own secrets refused ({dev:?}): {:?}",
                dev.check(&settings)
            ));
        }
    }

    let defaults = parse(&[])?;
    let printed = format!("{defaults:?}");
    for (setting, _) in defaults.secrets() {
        if printed.contains(setting.dev_value) {
            return Err(format!(
                "Debug prints the development {}: {printed}",
                setting.what
            ));
        }
    }
    let expected: Vec<&str> = settings.iter().map(|(s, _)| s.var).collect();
    let listed = ON.check(&defaults.secrets());
    if listed != Ok(expected.clone()) {
        return Err(format!(
            "development mode lists {listed:?}, not {expected:?}"
        ));
    }

    for (i, (setting, _)) in settings.iter().enumerate() {
        let but_one: Vec<&str> = (own.iter().enumerate())
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, (flag, value))| [*flag, *value])
            .collect();
        let refused = OFF.check(&parse(&but_one)?.secrets());
        let named = Err(SecretError::Development {
            var: setting.var,
            what: setting.what,
        });
        if refused != named {
            return Err(format!("{} at its default: {refused:?}", setting.var));
        }
    }
    Ok(())
}
