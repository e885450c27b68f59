//! The start-up both services share: check the secrets, say so in development mode, connect
//! to NATS, provision the JetStream topology and open the PostgreSQL pool; and, at the end,
//! stop the background loops and close the pool.

use std::time::Duration;

use boxoffice_nats::{Topology, TopologyError};
use sqlx::PgPool;

use super::{Background, Check, Probes, SecretError, Settings};
use crate::store::StoreError;

/// How long a service waits for its background loops at shutdown before it gives up on them.
pub const STOP_WITHIN: Duration = Duration::from_secs(10);

/// Why a service could not start (the part every service shares; each wraps it in its own
/// error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// A secret is unset or a development value outside development mode.
    #[error(transparent)]
    Secrets(#[from] SecretError),
    /// The NATS prefix is not a valid token.
    #[error("invalid configuration: --nats-prefix: {0}")]
    Prefix(#[source] boxoffice_nats::IdError),
    /// NATS could not be reached.
    #[error("cannot connect to NATS")]
    Nats(#[source] async_nats::ConnectError),
    /// JetStream resources could not be provisioned.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// PostgreSQL settings are unusable.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a service stands on once started: its connections, the JetStream resources, and the
/// set its background loops run in.
pub struct Foundation {
    /// The NATS connection.
    pub nats: async_nats::Client,
    /// The JetStream resources, provisioned.
    pub topology: Topology,
    /// PostgreSQL (connections open lazily: the service starts while the database is down and
    /// reports not-ready).
    pub db: PgPool,
    /// The service's background loops; [`Foundation::stop`] ends them.
    pub background: Background,
    service: &'static str,
}

impl Foundation {
    /// Starts `service` ("gateway", "worker"): checks the secrets before anything else, warns
    /// when running on development values, connects to NATS as `boxoffice-<service>`
    /// (retrying until it answers), provisions the topology and opens the pool.
    pub async fn start(
        service: &'static str,
        settings: &impl Settings,
    ) -> Result<Self, StartupError> {
        let development = settings.check_secrets()?;
        if !development.is_empty() {
            tracing::warn!(
                settings = ?development,
                "development mode: running on development secrets; never deploy like this"
            );
        }
        let config = settings.service();
        let ns = config.nats.namespace().map_err(StartupError::Prefix)?;
        let identity = identity(service);
        let nats = config
            .nats
            .connect(&identity)
            .await
            .map_err(StartupError::Nats)?;
        let topology = Topology::provision(
            async_nats::jetstream::new(nats.clone()),
            ns,
            config.nats.replicas,
        )
        .await?;
        let db = crate::store::connect(&config.pg)?;
        Ok(Self {
            nats,
            topology,
            db,
            background: Background::new(),
            service,
        })
    }

    /// Starts `service` ([`Foundation::start`]), runs `body` on the foundation, then stops it
    /// ([`Foundation::stop`]) whatever `body` returned: the one order every service starts and
    /// stops in.
    pub async fn run<T, E>(
        service: &'static str,
        settings: &impl Settings,
        body: impl AsyncFnOnce(&Foundation) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StartupError>,
    {
        let foundation = Self::start(service, settings).await?;
        let result = body(&foundation).await;
        foundation.stop().await;
        result
    }

    /// The name the service gives its connections (`boxoffice-<service>`).
    pub fn identity(&self) -> String {
        identity(self.service)
    }

    /// The service's probes: NATS and PostgreSQL, then `more` (its own dependencies).
    pub fn probes(&self, more: impl IntoIterator<Item = Check>) -> Probes {
        let mut checks = vec![
            Check::nats(self.nats.clone()),
            Check::postgres(self.db.clone()),
        ];
        checks.extend(more);
        Probes::new(self.service, checks)
    }

    /// Stops the background loops (waiting up to [`STOP_WITHIN`]) and closes the pool. Called
    /// once the service's servers have drained; the NATS connection closes when its last
    /// handle drops.
    pub async fn stop(self) {
        self.background.stop(STOP_WITHIN).await;
        self.db.close().await;
        tracing::debug!(
            service = self.service,
            "background stopped, database closed"
        );
    }
}

fn identity(service: &str) -> String {
    format!("boxoffice-{service}")
}
