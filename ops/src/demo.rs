//! The demo event `ops/up.sh` creates: a small arena with seated sections and a standing floor.

use boxoffice_nats::{SectionCode, seat::SeatStore};
use boxoffice_workflows::store::{self, NewEvent, NewSection, SectionLayout};
use chrono::{Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// The demo organizer's e-mail.
pub const DEMO_ORGANIZER: &str = "demo@boxoffice.local";

fn code(s: &str) -> SectionCode {
    SectionCode::parse(s).expect("static section code")
}

fn rows(n: u8) -> Vec<String> {
    (0..n).map(|i| char::from(b'A' + i).to_string()).collect()
}

/// Creates the demo organizer (if missing) and a new demo event, and loads its sellable
/// inventory into the seat store. Returns the event id.
pub async fn create(
    db: &PgPool,
    seats: &SeatStore,
    password_hash: &str,
) -> anyhow::Result<boxoffice_nats::EventId> {
    let organizer_id = sqlx::query_scalar!(
        "insert into organizers (organizer_id, email, display_name, password_hash, role)
         values ($1, $2, 'Demo Promotions', $3, 'organizer')
         on conflict (email) do update set email = excluded.email
         returning organizer_id",
        Uuid::now_v7(),
        DEMO_ORGANIZER,
        password_hash,
    )
    .fetch_one(db)
    .await?;
    let event = NewEvent {
        organizer_id,
        venue_name: "Harbour Arena".into(),
        name: "The Busiest Minute: Live".into(),
        timezone: "Europe/London".into(),
        starts_at: Utc::now() + Duration::days(30),
        currency: "EUR".into(),
        max_tickets_per_buyer: 6,
        hold_seconds: 600,
        sections: vec![
            NewSection {
                code: code("FLOOR"),
                name: "Floor (standing)".into(),
                layout: SectionLayout::GeneralAdmission { capacity: 500 },
                price_cents: 6_500,
            },
            NewSection {
                code: code("LOWER"),
                name: "Lower tier".into(),
                layout: SectionLayout::Seated {
                    rows: rows(10),
                    seats_per_row: 20,
                },
                price_cents: 8_900,
            },
            NewSection {
                code: code("UPPER"),
                name: "Upper tier".into(),
                layout: SectionLayout::Seated {
                    rows: rows(15),
                    seats_per_row: 30,
                },
                price_cents: 4_900,
            },
        ],
    };
    let event_id = store::create_event(db, &event).await?;
    let inventory = store::sellable_inventory(db, event_id).await?;
    seats.load_event(&inventory).await?;
    Ok(event_id)
}
