//! Connecting, migrating, and classifying database errors once, where they enter.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgPoolOptions};

use super::Refusal;
use crate::service::{ExposeSecret, SecretString};

/// How to reach PostgreSQL.
#[derive(clap::Args, Debug, Clone)]
pub struct PgConfig {
    /// PostgreSQL URL (it may hold a password: `Debug` prints it redacted).
    #[arg(
        id = "database_url",
        long = "database-url",
        env = "BOXOFFICE_DATABASE_URL",
        hide_env_values = true
    )]
    pub url: SecretString,
    /// Most connections this process opens.
    #[arg(
        long = "database-max-connections",
        env = "BOXOFFICE_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16
    )]
    pub max_connections: u32,
}

/// Errors from the PostgreSQL store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No row for the key the caller gave.
    #[error("{entity} {key} not found")]
    NotFound {
        /// What was looked up.
        entity: &'static str,
        /// Its key.
        key: String,
    },
    /// A named constraint rejected the write (duplicate, bad value, missing parent).
    #[error("write rejected by constraint {0}")]
    Constraint(String),
    /// Input the store refuses before writing.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database failed or is unreachable; a retry may succeed.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A value the database cannot store as given (SQLSTATE class 22: a NUL byte, a number
    /// out of the column's range): the input's fault; a retry fails the same way.
    #[error("a value cannot be stored as given")]
    BadValue(#[source] sqlx::Error),
    /// An organizer's change the store refused, and why.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A stored value the domain does not know (a state outside its enum): the schema and the
    /// code disagree; never the caller's fault.
    #[error("stored value outside the domain: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Classifies a sqlx error for `entity` looked up by `key`.
    pub fn classify(e: sqlx::Error, entity: &'static str, key: impl ToString) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound {
                entity,
                key: key.to_string(),
            },
            sqlx::Error::Database(ref d) if d.constraint().is_some() => {
                Self::Constraint(d.constraint().unwrap_or_default().to_owned())
            }
            sqlx::Error::Database(ref d) if d.code().is_some_and(|c| c.starts_with("22")) => {
                Self::BadValue(e)
            }
            other => Self::Unavailable(other),
        }
    }
}

/// A stored name as the domain type `parse` makes of it; a name the domain does not know is
/// [`StoreError::Corrupt`] (`what` says which column).
pub(crate) fn parse_stored<T>(
    what: &str,
    stored: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(stored).ok_or_else(|| StoreError::Corrupt(format!("{what} {stored:?}")))
}

/// Opens a pool. Connections are made lazily, so a process can start (and report not-ready)
/// while the database is still coming up.
pub fn connect(config: &PgConfig) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy(config.url.expose_secret())
        .map_err(StoreError::Unavailable)
}

/// Where the query macros write the data they describe from a live database: set only by
/// `ops/sqlx-prepare.sh` and the full `ops/test.sh`, each to a fresh folder. Reading it here
/// makes cargo rebuild this crate, and with it every crate with queries (they all depend on
/// this one), whenever it changes, so that every query macro runs again and writes its data:
/// cargo tracks the variables `option_env!` reads, not those a proc macro reads.
const _: Option<&str> = option_env!("SQLX_OFFLINE_DIR");

/// Applies the migrations in `migrations/` (embedded at build time). Idempotent.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../migrations").run(pool).await
}
