//! Bad input and abuse (issue 14): each case answers a 4xx in the error shape, changes
//! nothing, and leaves everyone else served.

use boxoffice_tests::platform::{Platform, PlatformOptions};
use serde_json::Value;

/// A platform whose gateway believes `X-Forwarded-For` from loopback, so one test can speak
/// from several client addresses; plus `extra` gateway flags.
async fn platform_with(extra: &[&str]) -> Platform {
    let mut gateway_args: Vec<String> = vec!["--trusted-proxies".into(), "127.0.0.1".into()];
    gateway_args.extend(extra.iter().map(|s| s.to_string()));
    Platform::start(PlatformOptions {
        gateway_args,
        ..Default::default()
    })
    .await
}

/// Status, `Retry-After` and JSON body of a response.
async fn answer(r: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_past_the_per_address_bound_get_429_with_retry_after_and_other_addresses_do_not() {
    let p = platform_with(&["--sessions-per-address-per-minute", "5"]).await;
    let http = reqwest::Client::new();
    let session = |from: &'static str| {
        http.post(format!("{}/api/v1/sessions", p.gateway_url))
            .header("x-forwarded-for", from)
            .send()
    };
    for i in 0..5 {
        let (s, _, body) = answer(session("203.0.113.1").await.unwrap()).await;
        assert_eq!(s, 201, "session {i}: {body}");
    }
    let (s, retry, body) = answer(session("203.0.113.1").await.unwrap()).await;
    assert_eq!(s, 429, "{body}");
    assert_eq!(body["error"]["code"], "sessions_rate_limited", "{body}");
    let retry: u32 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(body.get("token").is_none(), "no session was made: {body}");

    // Another address is served.
    let (s, _, body) = answer(session("203.0.113.2").await.unwrap()).await;
    assert_eq!(s, 201, "{body}");
    // A client cannot dodge the bound by writing its own X-Forwarded-For: the gateway reads
    // the nearest hop its trusted proxy (here: loopback) saw.
    let (s, _, body) = answer(session("198.51.100.7, 203.0.113.1").await.unwrap()).await;
    assert_eq!(s, 429, "{body}");
}
