//! A small busiest minute in CI: the on-sale simulator (`boxoffice-sim`, the same program
//! `ops/bench onsale` runs at full size) sends a couple of thousand buyers at a few hundred
//! seats through the real binaries, with the payment sandbox losing, duplicating and
//! reordering webhooks, kills the worker mid-sale and starts another, and then audits every
//! invariant against NATS, PostgreSQL and the provider's ledger. The test fails if the
//! simulator's audit does, or if the sale did not actually sell.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use boxoffice_tests::{bin_dir, services};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_on_sale_with_a_worker_killed_mid_sale_passes_the_audit() {
    let bin = bin_dir().join("boxoffice-sim");
    assert!(
        bin.exists(),
        "{} not built (run ./ops/test.sh)",
        bin.display()
    );
    // The report (JSON, Markdown, charts) and the processes' logs go beside the browser
    // test's screenshots, in the folder CI keeps.
    let out = std::env::var("BOXOFFICE_TEST_ARTIFACTS")
        .map_or_else(
            |_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../artifacts"),
            std::path::PathBuf::from,
        )
        .join("onsale-sim");
    let _ = std::fs::remove_dir_all(&out);
    let args = [
        "--buyers",
        "2000",
        "--seats",
        "300",
        "--max-per-buyer",
        "4",
        "--hold-s",
        "30",
        "--opens-in-s",
        "6",
        "--burst-s",
        "6",
        "--kill-worker-at-s",
        "4",
        "--think-ms",
        "1500",
        "--patience-s",
        "600",
        "--settle-s",
        "150",
    ];
    let output = tokio::process::Command::new(&bin)
        .args(args)
        .arg("--out")
        .arg(&out)
        .arg("--bin-dir")
        .arg(bin_dir())
        .env("BOXOFFICE_NATS_URL", &services().nats_url)
        .env("BOXOFFICE_DATABASE_URL", &services().database_url)
        .env("BOXOFFICE_TEMPORAL_URL", &services().temporal_url)
        .kill_on_drop(true)
        .output()
        .await
        .expect("boxoffice-sim runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = std::fs::read(out.join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| panic!("no report; the simulator said:\n{stderr}"));
    for c in report["audit"]["checks"].as_array().unwrap() {
        println!("{} {}: {}", c["ok"], c["name"], c["detail"]);
    }
    assert!(output.status.success(), "the simulator failed:\n{stderr}");
    assert_eq!(report["audit_ok"], true, "{stderr}");
    assert_eq!(
        report["audit"]["checks"].as_array().unwrap().len(),
        11,
        "every check ran"
    );
    let sold = report["sold"].as_u64().unwrap();
    assert!(sold >= 150, "most of the 300 seats sold: {sold}\n{stderr}");
    assert_eq!(
        report["drills"].as_array().unwrap().len(),
        1,
        "the worker was killed mid-sale"
    );
    println!(
        "sold {sold} of 300 (sell-out at {} s), {} requests/s at the busiest second",
        report["sell_out_s"], report["entrance_rps_peak"]
    );
    let bought = report["outcomes"]["bought"].as_u64().unwrap_or(0);
    assert!(bought > 0, "{}", report["outcomes"]);
}
