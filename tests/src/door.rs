//! The door: a ticket bought and paid through the buyer API, as the scan text its QR holds;
//! door staff accounts created by an organizer through the admin API.

use std::time::Duration;

use boxoffice_workflows::order::tickets::ScanCode;
use serde_json::json;

use crate::{admin::AdminClient, buyer::Buyer, platform::Platform};

const MINUTE: Duration = Duration::from_secs(60);

/// A ticket bought by a new buyer for `seat` (`A:A-3`) of the platform's event.
#[derive(Debug, Clone)]
pub struct PaidTicket {
    /// Its order.
    pub order_id: String,
    /// What its QR code holds.
    pub scan: String,
    /// The code printed under the QR code.
    pub code: String,
}

/// Buys `seat` through the buyer API, pays at the sandbox, waits for the ticket (the platform
/// needs a worker).
pub async fn paid_ticket(p: &Platform, seat: &str) -> PaidTicket {
    let b = Buyer::new(&p.gateway_url).await;
    let token = b.admitted(p.event, Duration::from_secs(20)).await;
    let (s, placed) = b
        .order(p.event, &token, seat, &json!({ "seats": [seat] }))
        .await;
    assert_eq!(s, 202, "{placed}");
    let id = placed["order_id"].as_str().unwrap().to_owned();
    let waiting = b.wait_order(&id, "awaiting_payment", MINUTE).await;
    let checkout = waiting["payment"]["checkout_url"].as_str().unwrap();
    let intent = checkout.rsplit('/').next().unwrap();
    assert_eq!(p.pay(intent, "succeed").await, 200);
    let issued = b.wait_order(&id, "issued", MINUTE).await;
    let t = &issued["tickets"][0];
    let scan = ScanCode {
        event: p.event,
        seat: t["seat"].as_str().unwrap().parse().unwrap(),
        code: t["code"].as_str().unwrap().to_owned(),
        signature: t["signature"].as_str().unwrap().to_owned(),
    };
    PaidTicket {
        order_id: id,
        scan: scan.to_string(),
        code: scan.code,
    }
}

/// A door staff account created by `boss` through the admin API; returns its email and
/// password.
pub async fn door_account(boss: &AdminClient) -> (String, String) {
    let email = format!("{}@door.test", uuid::Uuid::new_v4().simple());
    let password = "front door password".to_owned();
    let (s, body) = boss
        .post(
            "/admin/api/v1/door-accounts",
            &json!({ "email": email, "display_name": "North door", "password": password }),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["role"], "door", "{body}");
    (email, password)
}

/// Scans `scan` at `gate`.
pub async fn scan(door: &AdminClient, scan: &str, gate: &str) -> crate::admin::Answer {
    door.post(
        "/admin/api/v1/checkin",
        &json!({ "scan": scan, "gate": gate }),
    )
    .await
}
