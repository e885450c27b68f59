//! The buyer pages over plain HTTP (the browser tests walk them in Chromium): shells served
//! from memory with their security headers and a validator, relative URLs only, the event's
//! branding set through the admin API (checked) and applied; the waiting room's odds; a
//! ticket's QR code only for its owner.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use boxoffice_tests::{
    admin::{AdminClient, owner_of},
    buyer::Buyer,
    platform::{Platform, PlatformOptions},
};
use reqwest::{Method, header};
use serde_json::json;

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn pages_are_cached_shells_with_security_headers_and_relative_urls() {
    let p = Platform::start(PlatformOptions::default()).await;
    let http = reqwest::Client::new();
    let base = &p.gateway_url;
    for path in [
        "/".to_owned(),
        format!("/events/{}", p.event),
        format!("/events/{}/queue", p.event),
        format!("/events/{}/pick", p.event),
        format!("/orders/{}", uuid::Uuid::now_v7()),
        format!("/orders/{}/tickets", uuid::Uuid::now_v7()),
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let html = r.text().await.unwrap();
        assert!(html.contains("<main"), "{path}: landmarks");
        assert!(
            !html.contains("<script>") && !html.contains(" style="),
            "{path}: nothing inline"
        );
        assert!(
            !html.contains("href=\"/") && !html.contains("src=\"/"),
            "{path}: relative URLs only, for a reverse proxy's prefix"
        );
    }

    // The waiting room comes from memory with a validator; a revalidation is a 304.
    let queue = format!("{base}/events/{}/queue", p.event);
    let r = http.get(&queue).send().await.unwrap();
    let etag = r.headers()[header::ETAG].clone();
    assert!(
        r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("public")
    );
    let again = http
        .get(&queue)
        .header(header::IF_NONE_MATCH, etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // An unknown event is a page saying so, not JSON.
    let r = http
        .get(format!("{base}/events/{}/queue", uuid::Uuid::now_v7()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("cannot find that event"));

    // Branding: checked by the admin API, then applied by the pages.
    let (email, password) = owner_of(&p.db, p.event.as_uuid()).await;
    let admin = AdminClient::login(base, &email, &password).await;
    let path = format!("/admin/api/v1/events/{}/branding", p.event);
    for bad in [
        json!({ "logo_url": "http://insecure.example/logo.png" }),
        json!({ "primary_color": "red" }),
        json!({ "accent_color": "#12345" }),
        json!({ "intro": "x".repeat(501) }),
        json!({ "colour": "#000000" }),
    ] {
        let (s, b) = admin.send(Method::PUT, &path, Some(&bad)).await;
        assert!(s == 422 || s == 400, "{bad}: {s} {b}");
    }
    let (s, b) = admin
        .send(
            Method::PUT,
            &path,
            Some(&json!({
                "logo_url": "https://cdn.example.com/logo.svg",
                "primary_color": "#0B6E4F",
                "intro": "Doors at seven.",
            })),
        )
        .await;
    assert_eq!(
        (s, b["primary_color"].as_str()),
        (200, Some("#0b6e4f")),
        "{b}"
    );
    let (s, b) = admin.get(&path).await;
    assert_eq!((s, b["intro"].as_str()), (200, Some("Doors at seven.")));
    let deadline = tokio::time::Instant::now() + MINUTE;
    loop {
        let css = http
            .get(format!("{base}/events/{}/brand.css", p.event))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let page = http
            .get(format!("{base}/events/{}", p.event))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if css.contains("--brand: #0b6e4f;") && page.contains("https://cdn.example.com/logo.svg") {
            assert!(page.contains("Doors at seven."));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "branding not applied: {css}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let r = http
        .get(&queue)
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "a branding change is a new version of the page"
    );
}

#[tokio::test]
async fn the_waiting_room_says_the_odds_against_the_buyers_ahead() {
    let p = Platform::start(PlatformOptions {
        rows: 1,
        seats_per_row: 10,
        floor_capacity: None,
        max_per_buyer: 4,
        admission_rate_per_s: Some(1),
        ..Default::default()
    })
    .await;
    let mut line = Vec::new();
    for _ in 0..6 {
        let b = Buyer::new(&p.gateway_url).await;
        let t = b.join(p.event).await.1["queue_ticket"]
            .as_str()
            .unwrap()
            .to_owned();
        line.push((b, t));
    }
    // Ten seats, up to four per buyer: two buyers ahead could take eight, three twelve.
    let (b, t) = line.last().unwrap();
    let s = b.poll(t).await.1;
    assert_eq!(s["seats_left"], 10, "{s}");
    let ahead = s["ahead"].as_u64().unwrap();
    let expected = if ahead * 4 < 10 { "likely" } else { "unlikely" };
    assert_eq!(s["odds"], expected, "{s}");
    let (b, t) = &line[0];
    let s = b.poll(t).await.1;
    assert!(s["odds"] == "likely" || s["state"] == "admitted", "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tickets_qr_code_is_drawn_for_its_owner_only() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let b = Buyer::new(&p.gateway_url).await;
    let token = b.admitted(p.event, MINUTE).await;
    let (s, placed) = b
        .order(p.event, &token, "qr", &json!({ "seats": ["A:A-1"] }))
        .await;
    assert_eq!(s, 202, "{placed}");
    let order = placed["order_id"].as_str().unwrap();
    let waiting = b.wait_order(order, "awaiting_payment", MINUTE).await;
    let checkout = waiting["payment"]["checkout_url"].as_str().unwrap();
    assert_eq!(
        p.pay(checkout.rsplit('/').next().unwrap(), "succeed").await,
        200
    );
    let issued = b.wait_order(order, "issued", MINUTE).await;
    let code = issued["tickets"][0]["code"].as_str().unwrap();

    let qr = |who: &Buyer, code: &str| {
        who.http
            .get(format!(
                "{}/api/v1/orders/{order}/tickets/{code}/qr.svg",
                p.gateway_url
            ))
            .bearer_auth(&who.token)
            .send()
    };
    let r = qr(&b, code).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert!(r.text().await.unwrap().contains("<svg"));
    let r = qr(&b, "0000").await.unwrap();
    assert_eq!(r.status(), 404);
    let other = Buyer::new(&p.gateway_url).await;
    assert_eq!(qr(&other, code).await.unwrap().status(), 403);

    // The sandbox's hosted checkout sends the buyer back where the page asked.
    let back = format!("{}/orders/{order}", p.gateway_url);
    let page = reqwest::get(format!("{checkout}?return_url={}", urlencode(&back)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("name=\"return_url\" value=\"{back}\"")),
        "{page}"
    );
    let hostile = reqwest::get(format!("{checkout}?return_url=javascript:alert(1)"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !hostile.contains("return_url"),
        "only http(s) return addresses"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
