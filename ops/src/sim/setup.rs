//! The simulated on-sale's event, made the way an organizer makes one: an account, then the
//! admin API (create, sections from seat descriptions, settings, schedule). Nothing is written
//! to PostgreSQL behind the admin API's back except the account, as `boxofficectl account`
//! does.

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

/// One section of the simulated venue.
#[derive(Debug, Clone)]
pub struct SimSection {
    /// Code (`PREMIUM`, `LOWER`, `UPPER`, `FLOOR`).
    pub code: String,
    /// Seated (else general admission).
    pub seated: bool,
    /// Seats or units.
    pub units: u32,
    /// Share of buyers who want this section first (the hot sections are the best ones).
    pub demand: f64,
    /// Price in cents.
    pub price_cents: i64,
}

/// The venue for `seats` sellable units: three seated sections in rows of `per_row` and one
/// standing floor with a fifth of the capacity. Demand is skewed to the best sections.
pub fn venue(seats: u32) -> Vec<SimSection> {
    let floor = (seats / 5).max(1);
    let seated = seats.saturating_sub(floor);
    let premium = seated * 15 / 100;
    let lower = seated * 40 / 100;
    let upper = seated - premium - lower;
    [
        ("PREMIUM", true, premium, 0.40, 12_000),
        ("LOWER", true, lower, 0.30, 8_000),
        ("UPPER", true, upper, 0.12, 5_000),
        ("FLOOR", false, floor, 0.18, 6_500),
    ]
    .into_iter()
    .filter(|s| s.2 > 0)
    .map(|(code, seated, units, demand, price_cents)| SimSection {
        code: code.into(),
        seated,
        units,
        demand,
        price_cents,
    })
    .collect()
}

/// The sections of `venue` for `seats` units.
pub fn sections(venue: super::Venue, seats: u32) -> Vec<SimSection> {
    match venue {
        super::Venue::Arena => self::venue(seats),
        super::Venue::GeneralAdmission => vec![SimSection {
            code: "GA".into(),
            seated: false,
            units: seats,
            demand: 1.0,
            price_cents: 6_500,
        }],
    }
}

/// Seats per row of a seated section of `units` seats.
pub fn per_row(units: u32) -> u32 {
    if units >= 2_000 { 50 } else { 20 }
}

/// A seat description (`rows 1-40, seats 1-50; rows 41, seats 1-17`) for exactly `units` seats.
pub fn description(units: u32) -> String {
    let per = per_row(units);
    let full = units / per;
    let rest = units % per;
    let mut parts = Vec::new();
    if full > 0 {
        parts.push(format!("rows 1-{full}, seats 1-{per}"));
    }
    if rest > 0 {
        parts.push(format!("rows {}, seats 1-{rest}", full + 1));
    }
    parts.join("; ")
}

/// An organizer signed in to the admin API.
pub struct Organizer {
    base: String,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl Organizer {
    /// Creates the account (as `boxofficectl account` does) and signs in through the API.
    pub async fn sign_up(db: &sqlx::PgPool, base: &str) -> anyhow::Result<Self> {
        use boxoffice_workflows::store::accounts::{Role, create_account};
        let email = format!("sim-{}@boxoffice.local", uuid::Uuid::new_v4().simple());
        let password = uuid::Uuid::new_v4().to_string();
        create_account(
            db,
            &email,
            "Simulated Promotions",
            &password,
            Role::Organizer,
            false,
        )
        .await
        .context("creating the organizer")?;
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{base}/admin/api/v1/session"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await?;
        ensure!(r.status().is_success(), "sign-in refused: {}", r.status());
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("no session cookie")?
            .to_owned();
        let body: Value = r.json().await?;
        Ok(Self {
            base: base.to_owned(),
            http,
            cookie,
            csrf: body["csrf_token"]
                .as_str()
                .context("no csrf token")?
                .to_owned(),
        })
    }

    /// Sends a JSON request; fails on anything but a 2xx.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{method} {path}: {status} {v}");
        }
        Ok(v)
    }

    /// The event's status (`scheduled`, `on_sale`, `closed`, ...).
    pub async fn status(&self, event: &str) -> anyhow::Result<String> {
        let ev = self
            .call(
                reqwest::Method::GET,
                &format!("/admin/api/v1/events/{event}"),
                None,
            )
            .await?;
        Ok(ev["status"].as_str().unwrap_or_default().to_owned())
    }
}

/// What the simulation needs to know about its event.
#[derive(Debug, Clone)]
pub struct SimEvent {
    /// Its id.
    pub id: String,
    /// Its sections.
    pub sections: Vec<SimSection>,
    /// When the sale opens.
    pub opens_at: chrono::DateTime<chrono::Utc>,
    /// Per-buyer limit.
    pub max_per_buyer: u32,
}

/// Creates and schedules the event through the admin API.
pub async fn create_event(
    org: &Organizer,
    sections: Vec<SimSection>,
    max_per_buyer: u32,
    hold_seconds: u32,
    admission_rate: Option<u32>,
    opens_in: std::time::Duration,
) -> anyhow::Result<SimEvent> {
    use reqwest::Method;
    let starts = chrono::Utc::now() + chrono::Duration::days(30);
    let ev = org
        .call(
            Method::POST,
            "/admin/api/v1/events",
            Some(&json!({
                "name": format!(
                    "Simulated on-sale ({} seats)",
                    sections.iter().map(|s| s.units).sum::<u32>()
                ),
                "venue": "Simulation Arena", "city": "Berlin",
                "timezone": "Europe/Berlin", "starts_at": starts,
            })),
        )
        .await?;
    let id = ev["id"].as_str().context("no event id")?.to_owned();
    for s in &sections {
        let mut body = json!({ "code": s.code, "name": s.code, "price_cents": s.price_cents });
        if s.seated {
            body["seats"] = json!(description(s.units));
        } else {
            body["capacity"] = json!(s.units);
        }
        org.call(
            Method::POST,
            &format!("/admin/api/v1/events/{id}/sections"),
            Some(&body),
        )
        .await?;
    }
    org.call(
        Method::PATCH,
        &format!("/admin/api/v1/events/{id}"),
        Some(&json!({
            "max_tickets_per_buyer": max_per_buyer,
            "hold_seconds": hold_seconds,
            "admission_rate_per_s": admission_rate,
        })),
    )
    .await?;
    let opens_at = chrono::Utc::now() + chrono::Duration::from_std(opens_in)?;
    org.call(
        Method::POST,
        &format!("/admin/api/v1/events/{id}/schedule"),
        Some(&json!({ "opens_at": opens_at })),
    )
    .await?;
    Ok(SimEvent {
        id,
        sections,
        opens_at,
        max_per_buyer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_venue_has_exactly_the_seats_asked_for() {
        for seats in [300, 2_000, 20_000, 20_001] {
            let v = venue(seats);
            assert_eq!(v.iter().map(|s| s.units).sum::<u32>(), seats);
            assert!((v.iter().map(|s| s.demand).sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn a_description_names_each_seat_once() {
        assert_eq!(description(45), "rows 1-2, seats 1-20; rows 3, seats 1-5");
        assert_eq!(description(40), "rows 1-2, seats 1-20");
        assert_eq!(description(7), "rows 1, seats 1-7");
    }
}
