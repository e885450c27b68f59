//! Rendered pages kept in memory: one per event and kind, re-rendered only when the catalog's
//! copy of the event or its branding changes (the catalog keeps the same `Arc` while a value
//! is unchanged, or swaps it on refresh; a pointer comparison tells).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use axum::http::HeaderValue;
use boxoffice_nats::EventId;
use boxoffice_workflows::store::branding::Branding;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::views::{self, Kind};
use crate::catalog::Event;

/// One rendered page.
pub struct Rendered {
    /// The bytes sent.
    pub body: Bytes,
    /// Its content type.
    pub kind: &'static str,
    /// A strong validator of `body` (a hash: equal pages have equal tags across re-renders
    /// and gateways), ready to send.
    pub etag: HeaderValue,
}

impl Rendered {
    fn new(body: String, kind: &'static str) -> Self {
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        // Hex in quotes: always a valid header value.
        let etag = HeaderValue::from_str(&format!("\"{}\"", &hash[..32]))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Self {
            body: Bytes::from(body),
            kind,
            etag,
        }
    }
}

/// What a cached page was rendered from.
struct Entry {
    event: Arc<Event>,
    brand: Option<Arc<Branding>>,
    page: Arc<Rendered>,
}

/// The cache.
pub struct Shells {
    home: Arc<Rendered>,
    pages: RwLock<HashMap<(EventId, Kind), Entry>>,
}

impl Default for Shells {
    fn default() -> Self {
        Self {
            home: Arc::new(Rendered::new(views::home(), views::HTML)),
            pages: RwLock::default(),
        }
    }
}

fn same<T>(a: Option<&Arc<T>>, b: Option<&Arc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

impl Shells {
    /// The events list page (no event data in it: the script loads the list).
    pub fn home(&self) -> Arc<Rendered> {
        self.home.clone()
    }

    /// The page of `kind` for `event` with `brand`, rendered now only if the cached one was
    /// rendered from other values.
    pub(crate) fn get(
        &self,
        kind: Kind,
        event: &Arc<Event>,
        brand: Option<Arc<Branding>>,
    ) -> Arc<Rendered> {
        let key = (event.event_id, kind);
        {
            let pages = self.pages.read().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = pages.get(&key)
                && Arc::ptr_eq(&e.event, event)
                && same(e.brand.as_ref(), brand.as_ref())
            {
                return e.page.clone();
            }
        }
        let (body, content_type) = views::event_page(kind, event, brand.as_deref());
        let page = Arc::new(Rendered::new(body, content_type));
        let entry = Entry {
            event: event.clone(),
            brand,
            page: page.clone(),
        };
        let mut pages = self.pages.write().unwrap_or_else(|e| e.into_inner());
        if pages.len() > 4096 {
            // Events come and go; a bound keeps ended ones from piling up.
            pages.clear();
        }
        pages.insert(key, entry);
        page
    }
}
