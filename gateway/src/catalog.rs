//! The published catalog, held in memory and refreshed from PostgreSQL every couple of seconds,
//! so buyer reads and the pacer never wait on the database (and survive it being down).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use boxoffice_nats::EventId;
use boxoffice_workflows::service::Background;
use boxoffice_workflows::store::{StoreError, branding::Branding};
use sqlx::PgPool;

/// A published event and its sections (the store's types: the catalog only caches them).
pub use boxoffice_workflows::store::{PublishedEvent as Event, PublishedSection as Section};

/// One snapshot of the published events, swapped whole on refresh.
type Events = Arc<HashMap<EventId, Arc<Event>>>;

/// Each event's branding (events without one are absent).
type Brands = Arc<HashMap<EventId, Arc<Branding>>>;

/// The catalog cache. Cheap to clone.
#[derive(Clone, Default)]
pub struct Catalog {
    events: Arc<RwLock<Events>>,
    brands: Arc<RwLock<Brands>>,
}

impl Catalog {
    /// One published event.
    pub fn get(&self, event: EventId) -> Option<Arc<Event>> {
        self.snapshot().get(&event).cloned()
    }

    /// Every published event, soonest first.
    pub fn list(&self) -> Vec<Arc<Event>> {
        let mut all: Vec<_> = self.snapshot().values().cloned().collect();
        all.sort_by_key(|e| (e.starts_at, e.event_id));
        all
    }

    /// An event's branding (the default look when it has none). The same `Arc` while it is
    /// unchanged, so a page cache can tell a change by pointer.
    pub fn branding(&self, event: EventId) -> Option<Arc<Branding>> {
        let brands = self.brands.read().unwrap_or_else(|e| e.into_inner());
        brands.get(&event).cloned()
    }

    fn snapshot(&self) -> Arc<HashMap<EventId, Arc<Event>>> {
        self.events
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reloads every published event from PostgreSQL.
    pub async fn refresh(&self, db: &PgPool) -> Result<(), StoreError> {
        let events = boxoffice_workflows::store::published_events(db)
            .await?
            .into_iter()
            .map(|e| (e.event_id, Arc::new(e)))
            .collect();
        *self.events.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(events);
        let brands = boxoffice_workflows::store::branding::all(db).await?;
        let mut brands_now = self.brands.write().unwrap_or_else(|e| e.into_inner());
        let kept = brands
            .into_iter()
            .map(|(id, b)| match brands_now.get(&id) {
                Some(old) if **old == b => (id, old.clone()),
                _ => (id, Arc::new(b)),
            })
            .collect();
        *brands_now = Arc::new(kept);
        Ok(())
    }

    /// Refreshes every `every` in `background` until it stops; failures keep the last good
    /// copy.
    pub fn spawn_refresher(&self, db: PgPool, every: Duration, background: &Background) {
        let catalog = self.clone();
        background.spawn(async move {
            loop {
                if let Err(e) = catalog.refresh(&db).await {
                    tracing::warn!(error = %e, "catalog refresh failed; serving the last copy");
                }
                tokio::time::sleep(every).await;
            }
        });
    }
}
