//! How an event's buyer pages look: a logo, two colours and two short texts per event
//! (`events.branding`), checked here so neither the admin API nor the pages ever hold an
//! unchecked value (a colour becomes CSS, a logo an image source).

use std::collections::HashMap;

use boxoffice_nats::EventId;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::{StoreError, audit};

/// Most characters of [`Branding::intro`].
pub const INTRO_MAX: usize = 500;
/// Most characters of [`Branding::footer`].
pub const FOOTER_MAX: usize = 200;
/// Most characters of [`Branding::logo_url`].
pub const URL_MAX: usize = 500;

/// An event's look on the buyer pages; every part optional (the pages' defaults otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// The organizer's logo, an `https://` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// The main colour (headers, buttons), `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// The accent colour (highlights, selected seats), `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
    /// A short text under the event's name (plain text, up to [`INTRO_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<String>,
    /// The pages' footer (plain text, up to [`FOOTER_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
}

/// Which part of a [`Branding`] is unusable, and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrandingError {
    /// The logo is not an `https://` URL of printable characters.
    #[error("logo_url must be an https:// URL of at most {URL_MAX} characters")]
    LogoUrl,
    /// A colour is not `#rrggbb`.
    #[error("{0} must be a colour written #rrggbb")]
    Color(&'static str),
    /// A text is too long or holds control characters.
    #[error("{0} must be at most {1} characters of text")]
    Text(&'static str, usize),
}

fn color_ok(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn text_ok(t: &str, max: usize) -> bool {
    t.chars().count() <= max && !t.chars().any(|c| c.is_control() && c != '\n')
}

impl Branding {
    /// Trims every part, drops blank ones and checks the rest.
    pub fn checked(self) -> Result<Self, BrandingError> {
        let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let b = Self {
            logo_url: clean(self.logo_url),
            primary_color: clean(self.primary_color).map(|c| c.to_ascii_lowercase()),
            accent_color: clean(self.accent_color).map(|c| c.to_ascii_lowercase()),
            intro: clean(self.intro),
            footer: clean(self.footer),
        };
        if let Some(u) = &b.logo_url {
            let ok = u.len() <= URL_MAX
                && u.strip_prefix("https://")
                    .is_some_and(|rest| !rest.is_empty())
                && u.bytes().all(|c| c.is_ascii_graphic())
                && !u.contains(['"', '\'', '<', '>', '\\', '(', ')']);
            if !ok {
                return Err(BrandingError::LogoUrl);
            }
        }
        for (name, c) in [
            ("primary_color", &b.primary_color),
            ("accent_color", &b.accent_color),
        ] {
            if c.as_deref().is_some_and(|c| !color_ok(c)) {
                return Err(BrandingError::Color(name));
            }
        }
        for (name, t, max) in [
            ("intro", &b.intro, INTRO_MAX),
            ("footer", &b.footer, FOOTER_MAX),
        ] {
            if t.as_deref().is_some_and(|t| !text_ok(t, max)) {
                return Err(BrandingError::Text(name, max));
            }
        }
        Ok(b)
    }
}

/// Sets an event's branding (already [`Branding::checked`]), with an audit line.
pub async fn set(pool: &PgPool, who: Uuid, event: Uuid, b: &Branding) -> Result<(), StoreError> {
    let value = serde_json::to_value(b).unwrap_or_default();
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    sqlx::query!(
        "update events set branding = $2 where event_id = $1",
        event,
        value.clone(),
    )
    .execute(&mut *tx)
    .await
    .map_err(StoreError::Unavailable)?;
    audit::write(&mut tx, who, Some(event), "event.branding", value).await?;
    tx.commit().await.map_err(StoreError::Unavailable)
}

/// One event's branding (the default for an unknown event).
pub async fn get(pool: &PgPool, event: Uuid) -> Result<Branding, StoreError> {
    let value = sqlx::query_scalar!("select branding from events where event_id = $1", event)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::Unavailable)?;
    Ok(value.map(parse).unwrap_or_default())
}

/// The branding of every event that has one, for the gateway's catalog.
pub async fn all(pool: &PgPool) -> Result<HashMap<EventId, Branding>, StoreError> {
    let rows = sqlx::query!("select event_id, branding from events where branding <> '{}'")
        .fetch_all(pool)
        .await
        .map_err(StoreError::Unavailable)?;
    Ok(rows
        .into_iter()
        .map(|r| (EventId::from_uuid(r.event_id), parse(r.branding)))
        .collect())
}

/// A stored value; one that no longer checks (written by hand) shows the defaults.
fn parse(v: serde_json::Value) -> Branding {
    serde_json::from_value::<Branding>(v)
        .ok()
        .and_then(|b| b.checked().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{Branding, BrandingError};

    #[test]
    fn branding_is_trimmed_and_checked() {
        let b = Branding {
            logo_url: Some(" https://cdn.example.com/logo.png ".into()),
            primary_color: Some("#1A2B3C".into()),
            accent_color: Some("  ".into()),
            intro: Some("Doors at 7.".into()),
            footer: None,
        }
        .checked()
        .unwrap();
        assert_eq!(
            b.logo_url.as_deref(),
            Some("https://cdn.example.com/logo.png")
        );
        assert_eq!(b.primary_color.as_deref(), Some("#1a2b3c"));
        assert_eq!(b.accent_color, None, "blank is unset");
        let bad = |b: Branding| b.checked().unwrap_err();
        let logo = |u: &str| Branding {
            logo_url: Some(u.into()),
            ..Default::default()
        };
        assert_eq!(bad(logo("http://x.example/l.png")), BrandingError::LogoUrl);
        assert_eq!(
            bad(logo("https://x.example/a\"onload=1")),
            BrandingError::LogoUrl
        );
        assert_eq!(bad(logo("javascript:alert(1)")), BrandingError::LogoUrl);
        let colour = Branding {
            accent_color: Some("red".into()),
            ..Default::default()
        };
        assert_eq!(bad(colour), BrandingError::Color("accent_color"));
        let long = Branding {
            footer: Some("x".repeat(201)),
            ..Default::default()
        };
        assert_eq!(bad(long), BrandingError::Text("footer", 200));
    }
}
