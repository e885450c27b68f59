//! The schema enforces what the database can: one issued ticket per seat, checked states,
//! named constraints; and the catalog yields exactly the sellable inventory.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use boxoffice_nats::{
    SectionCode,
    seat::{BlockUnits, SectionUnits},
};
use boxoffice_tests::fresh_database;
use boxoffice_workflows::store::{self, NewEvent, NewSection, SectionLayout, StoreError};
use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

async fn organizer(db: &PgPool) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into organizers (organizer_id, email, display_name, password_hash, role)
         values ($1, $2, 'O', 'x', 'organizer')",
        id,
        format!("o{}@example.com", id.simple()),
    )
    .execute(db)
    .await
    .unwrap();
    id
}

fn new_event(organizer_id: Uuid) -> NewEvent {
    NewEvent {
        organizer_id,
        venue_name: "Hall".into(),
        name: "Show".into(),
        timezone: "UTC".into(),
        starts_at: Utc::now(),
        currency: "EUR".into(),
        max_tickets_per_buyer: 4,
        hold_seconds: 300,
        sections: vec![
            NewSection {
                code: SectionCode::parse("A").unwrap(),
                name: "A".into(),
                layout: SectionLayout::Seated {
                    rows: vec!["A".into(), "B".into()],
                    seats_per_row: 3,
                },
                price_cents: 5000,
            },
            NewSection {
                code: SectionCode::parse("GA").unwrap(),
                name: "Floor".into(),
                layout: SectionLayout::GeneralAdmission { capacity: 10 },
                price_cents: 3000,
            },
        ],
    }
}

fn constraint_of(e: sqlx::Error) -> String {
    match StoreError::classify(e, "row", "") {
        StoreError::Constraint(c) => c,
        other => panic!("expected a constraint violation, got {other:?}"),
    }
}

#[tokio::test]
async fn sellable_inventory_is_the_catalog_minus_unreleased_allocations() {
    let db = fresh_database().await;
    let event = store::create_event(&db, &new_event(organizer(&db).await))
        .await
        .unwrap();
    let section_id = |code: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar!(
                "select section_id from sections where event_id = $1 and code = $2",
                event.as_uuid(),
                code,
            )
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    let (a, ga) = (section_id("A").await, section_id("GA").await);
    // A kill of two seats, a released reserved block, and 4 GA units held back.
    for (section, kind, labels, qty, released) in [
        (a, "kill", vec!["A-1", "B-3"], None, false),
        (a, "reserved", vec!["A-2"], None, true),
        (ga, "reserved", vec![], Some(4), false),
    ] {
        sqlx::query!(
            "insert into allocations (allocation_id, event_id, section_id, kind, labels, quantity,
                                      released_at)
             values ($1, $2, $3, $4, $5, $6, case when $7 then now() end)",
            Uuid::now_v7(),
            event.as_uuid(),
            section,
            kind,
            &labels.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            qty,
            released,
        )
        .execute(&db)
        .await
        .unwrap();
    }
    // Presale blocks: B-1 and 2 GA units gated, B-2 released (a plain seat again), and 1 GA
    // unit released (its unit keeps its own label, open to all).
    let mut blocks = Vec::new();
    for (section, labels, qty, released) in [
        (a, vec!["B-1"], None, false),
        (a, vec!["B-2"], None, true),
        (ga, vec![], Some(2), false),
        (ga, vec![], Some(1), true),
    ] {
        let id = Uuid::now_v7();
        blocks.push(id);
        sqlx::query!(
            "insert into allocations (allocation_id, event_id, section_id, kind, labels, quantity,
                                      access_code_hash, released_at)
             values ($1, $2, $3, 'presale', $4, $5, 'argon2-hash', case when $6 then now() end)",
            id,
            event.as_uuid(),
            section,
            &labels.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            qty,
            released,
        )
        .execute(&db)
        .await
        .unwrap();
    }
    let inv = store::sellable_inventory(&db, event).await.unwrap();
    assert_eq!(inv.max_per_buyer, 4);
    assert_eq!(inv.sections.len(), 2);
    match &inv.sections[0].units {
        SectionUnits::Seated(labels) => {
            let labels: Vec<&str> = labels.iter().map(|l| l.as_str()).collect();
            assert_eq!(labels, ["A-2", "A-3", "B-1", "B-2"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(inv.sections[1].units, SectionUnits::GeneralAdmission(3));
    let gate = |code: &str| -> Vec<(Uuid, BlockUnits, bool)> {
        inv.blocks[&code.parse::<SectionCode>().unwrap()]
            .iter()
            .map(|b| (b.id.as_uuid(), b.units.clone(), b.open))
            .collect()
    };
    assert_eq!(
        gate("A"),
        [(
            blocks[0],
            BlockUnits::Seats(["B-1".parse().unwrap()].into()),
            false
        )]
    );
    assert_eq!(
        gate("GA"),
        [
            (blocks[2], BlockUnits::Quantity(2), false),
            (blocks[3], BlockUnits::Quantity(1), true)
        ]
    );
    assert!(matches!(
        store::sellable_inventory(&db, boxoffice_nats::EventId::new()).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn the_database_refuses_a_second_issued_ticket_for_a_seat_and_bad_states() {
    let db = fresh_database().await;
    let event = store::create_event(&db, &new_event(organizer(&db).await))
        .await
        .unwrap();
    let section = sqlx::query_scalar!(
        "select section_id from sections where event_id = $1 and code = 'A'",
        event.as_uuid(),
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let order = |key: &'static str| {
        let db = db.clone();
        async move {
            let id = Uuid::now_v7();
            sqlx::query!(
                "insert into orders (order_id, event_id, buyer_id, idempotency_key, request_hash,
                                     state, currency, workflow_id)
                 values ($1, $2, $3, $4, 'h', 'confirmed', 'EUR', $5)",
                id,
                event.as_uuid(),
                Uuid::now_v7(),
                key,
                format!("order-{id}"),
            )
            .execute(&db)
            .await
            .unwrap();
            sqlx::query!(
                "insert into order_seats (order_id, event_id, section_id, label, price_cents)
                 values ($1, $2, $3, 'A-1', 5000)",
                id,
                event.as_uuid(),
                section,
            )
            .execute(&db)
            .await
            .unwrap();
            id
        }
    };
    let (first, second) = (order("k1").await, order("k2").await);
    let ticket = |order: Uuid, code: &'static str| {
        sqlx::query!(
            "insert into tickets (ticket_id, order_id, event_id, section_id, label, code, signature)
             values ($1, $2, $3, $4, 'A-1', $5, 'sig')",
            Uuid::now_v7(),
            order,
            event.as_uuid(),
            section,
            code,
        )
    };
    ticket(first, "c1").execute(&db).await.unwrap();
    let dup = ticket(second, "c2").execute(&db).await.unwrap_err();
    assert_eq!(constraint_of(dup), "tickets_one_issued_per_seat");
    sqlx::query!(
        "update tickets set state = 'void', voided_at = now() where order_id = $1",
        first,
    )
    .execute(&db)
    .await
    .unwrap();
    ticket(second, "c3")
        .execute(&db)
        .await
        .expect("a voided ticket frees the seat");

    let bad_state = sqlx::query!(
        "update orders set state = 'paid' where order_id = $1",
        first
    )
    .execute(&db)
    .await
    .unwrap_err();
    assert_eq!(constraint_of(bad_state), "orders_state_check");
    let bad_window = sqlx::query!(
        "update events set opens_at = now(), closes_at = now() - interval '1 hour'
         where event_id = $1",
        event.as_uuid(),
    )
    .execute(&db)
    .await
    .unwrap_err();
    assert_eq!(constraint_of(bad_window), "events_closes_after_opens_check");
}

#[tokio::test]
async fn migrations_apply_twice_without_change() {
    let db = fresh_database().await;
    store::migrate(&db).await.expect("second run is a no-op");
}
