//! A fuzzing pass over the gateway's own OpenAPI document with schemathesis (installed by
//! `ops/test.sh`): generated requests, valid and not, against a running platform, with one
//! check: no response is a server error. A 500 anywhere fails this test.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use boxoffice_tests::{
    buyer::Buyer,
    platform::{Platform, PlatformOptions},
};

#[tokio::test]
async fn schemathesis_finds_no_server_error_in_the_buyer_api() {
    let Ok(bin) = std::env::var("BOXOFFICE_TEST_SCHEMATHESIS") else {
        panic!("BOXOFFICE_TEST_SCHEMATHESIS is not set: run the tests with ./ops/test.sh");
    };
    let p = Platform::start(PlatformOptions::default()).await;
    // A real session and a real place in line, so generated requests also reach past auth.
    let buyer = Buyer::new(&p.gateway_url).await;
    let _ = buyer
        .admitted(p.event, std::time::Duration::from_secs(10))
        .await;
    let out = tokio::process::Command::new(bin)
        .args([
            "run",
            &format!("{}/api/v1/openapi.json", p.gateway_url),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "40",
            "--suppress-health-check",
            "all",
            "--workers",
            "2",
            "-H",
            &format!("Authorization: Bearer {}", buyer.token),
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found server errors (or failed to run):\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("passed"),
        "schemathesis ran nothing:\n{stdout}"
    );
}
