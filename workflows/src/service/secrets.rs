//! Secrets in configuration, and development mode: outside it, no service starts with a
//! secret that is empty or a development value (invariant 8).
//!
//! Each service lists its secret settings ([`SecretSetting`]) and asks [`DevMode::check`]
//! before it binds or connects to anything; its `main` prints the error as one line and exits.
//! Secrets are held as [`SecretString`] (the `secrecy` crate), whose `Debug` prints
//! `[REDACTED]`, so a config can be printed or logged without leaking one.

use clap::builder::BoolishValueParser;
pub use secrecy::{ExposeSecret, SecretString};

/// The variable that turns development mode on.
pub const DEV_MODE_VAR: &str = "BOXOFFICE_DEV_MODE";

/// Whether this process runs in development mode.
#[derive(clap::Args, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DevMode {
    /// Development mode: the built-in development secrets (every secret's default) are allowed,
    /// with a warning. Without it the service refuses to start while any secret is unset or a
    /// development value. `ops/up.sh` and `ops/test.sh` turn it on; never set it in production.
    #[arg(
        id = "dev_mode",
        long = "dev-mode",
        env = DEV_MODE_VAR,
        action = clap::ArgAction::SetTrue,
        value_parser = BoolishValueParser::new()
    )]
    pub enabled: bool,
}

/// A secret setting a service reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretSetting {
    /// Its environment variable: the name an operator is told to set.
    pub var: &'static str,
    /// What it is, as in "the development `what`" ("key", "seed", "secret").
    pub what: &'static str,
    /// The development value: the setting's default, allowed only in development mode.
    pub dev_value: &'static str,
}

impl SecretSetting {
    /// Whether `value` is the development value (a copy in other letter case or with spaces
    /// around it is one too: hex seeds are read case-insensitively and trimmed).
    fn is_dev_value(&self, value: &str) -> bool {
        value.trim().eq_ignore_ascii_case(self.dev_value)
    }
}

/// Why a service refuses to start. The message is the one line an operator sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The setting was given, but empty.
    #[error("{var} is empty; set your own (or {DEV_MODE_VAR}=1 for local development)")]
    Missing {
        /// The setting's variable.
        var: &'static str,
    },
    /// The setting was left at (or set to) its development value.
    #[error(
        "{var} is unset or the development {what}; set your own (or {DEV_MODE_VAR}=1 for local development)"
    )]
    Development {
        /// The setting's variable.
        var: &'static str,
        /// What it is.
        what: &'static str,
    },
}

impl DevMode {
    /// Checks each secret setting against the values it was given (a list setting such as
    /// token keys gives all its entries). Outside development mode, the first setting that is
    /// empty or holds a development value is an error; in development mode, the answer lists
    /// the settings running on development values, for a warning.
    pub fn check(
        &self,
        secrets: &[(SecretSetting, &[SecretString])],
    ) -> Result<Vec<&'static str>, SecretError> {
        let mut development = Vec::new();
        for (setting, values) in secrets {
            let empty = values.iter().all(|v| v.expose_secret().trim().is_empty());
            let dev = values
                .iter()
                .any(|v| setting.is_dev_value(v.expose_secret()));
            if !(empty || dev) {
                continue;
            }
            if self.enabled {
                development.push(setting.var);
            } else if empty {
                return Err(SecretError::Missing { var: setting.var });
            } else {
                return Err(SecretError::Development {
                    var: setting.var,
                    what: setting.what,
                });
            }
        }
        Ok(development)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    const KEY: SecretSetting = SecretSetting {
        var: "BOXOFFICE_TEST_KEY",
        what: "key",
        dev_value: "dev-key",
    };
    const SEED: SecretSetting = SecretSetting {
        var: "BOXOFFICE_TEST_SEED",
        what: "seed",
        dev_value: "abcd",
    };

    fn s(v: &str) -> SecretString {
        v.into()
    }

    const ON: DevMode = DevMode { enabled: true };
    const OFF: DevMode = DevMode { enabled: false };

    #[test]
    fn own_secrets_pass_in_either_mode() {
        let (key, seed) = ([s("mine")], [s("0123")]);
        let secrets = [(KEY, &key[..]), (SEED, &seed[..])];
        assert_eq!(OFF.check(&secrets), Ok(vec![]));
        assert_eq!(ON.check(&secrets), Ok(vec![]));
    }

    #[test]
    fn outside_development_mode_the_first_development_or_empty_secret_is_named() {
        let (key, seed) = ([s("mine")], [s(" ABCD ")]);
        assert_eq!(
            OFF.check(&[(KEY, &key[..]), (SEED, &seed[..])]),
            Err(SecretError::Development {
                var: "BOXOFFICE_TEST_SEED",
                what: "seed"
            })
        );
        let (key, empty) = ([s("dev-key")], [s("  ")]);
        let e = OFF
            .check(&[(KEY, &key[..]), (SEED, &empty[..])])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "BOXOFFICE_TEST_KEY is unset or the development key; set your own \
             (or BOXOFFICE_DEV_MODE=1 for local development)"
        );
        assert_eq!(
            OFF.check(&[(SEED, &empty[..])]),
            Err(SecretError::Missing {
                var: "BOXOFFICE_TEST_SEED"
            })
        );
        assert_eq!(
            OFF.check(&[(KEY, &[][..])]),
            Err(SecretError::Missing {
                var: "BOXOFFICE_TEST_KEY"
            })
        );
    }

    #[test]
    fn a_list_with_the_development_value_anywhere_in_it_is_refused() {
        let keys = [s("mine"), s("dev-key")];
        assert!(OFF.check(&[(KEY, &keys[..])]).is_err());
    }

    #[test]
    fn development_mode_lists_the_settings_on_development_values() {
        let (key, seed) = ([s("dev-key")], [s("0123")]);
        assert_eq!(
            ON.check(&[(KEY, &key[..]), (SEED, &seed[..])]),
            Ok(vec!["BOXOFFICE_TEST_KEY"])
        );
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        dev: DevMode,
    }

    #[test]
    fn the_flag_or_the_usual_spellings_of_the_variable_turn_it_on() {
        use clap::builder::TypedValueParser;
        assert!(
            Cli::try_parse_from(["x", "--dev-mode"])
                .unwrap()
                .dev
                .enabled
        );
        // The variable's value goes through this parser (the binaries' tests set it to 1).
        let cmd = clap::Command::new("x");
        let parse = |v: &str| {
            BoolishValueParser::new()
                .parse_ref(&cmd, None, std::ffi::OsStr::new(v))
                .ok()
        };
        for on in ["1", "true", "yes", "on"] {
            assert_eq!(parse(on), Some(true), "{on}");
        }
        for off in ["0", "false", "no", "off"] {
            assert_eq!(parse(off), Some(false), "{off}");
        }
        assert_eq!(parse("maybe"), None);
    }

    #[test]
    fn a_secret_prints_redacted() {
        let secret = s("hunter2-hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
