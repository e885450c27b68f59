//! The operator CLI as an operator runs it: the `boxofficectl` binary against the test's
//! PostgreSQL and NATS. Creates the first accounts, lists events, inspects a waiting room.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::process::Output;

use boxoffice_tests::{
    admin::AdminClient,
    buyer::Buyer,
    platform::{Platform, PlatformOptions},
    services,
};

fn boxofficectl(p: &Platform, args: &[&str], env: &[(&str, &str)]) -> Output {
    let bin = boxoffice_tests::bin_dir().join("boxofficectl");
    assert!(bin.exists(), "{} not built", bin.display());
    std::process::Command::new(bin)
        .args(args)
        .env("BOXOFFICE_DATABASE_URL", &p.db_url)
        .env("BOXOFFICE_NATS_URL", &services().nats_url)
        .env("BOXOFFICE_NATS_PREFIX", p.topology.ns.prefix())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("boxofficectl runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_accounts_lists_events_and_shows_a_waiting_room() {
    let p = Platform::start(PlatformOptions {
        admission_rate_per_s: Some(1),
        ..Default::default()
    })
    .await;
    let email = format!("{}@ops.test", uuid::Uuid::new_v4().simple());
    let password = "a long enough operator password";

    // The first operator account, then the same email again: refused without --update.
    let args = [
        "account", "--email", &email, "--name", "Ops", "--role", "operator",
    ];
    let made = boxofficectl(&p, &args, &[("BOXOFFICE_ACCOUNT_PASSWORD", password)]);
    assert!(made.status.success(), "{made:?}");
    assert!(stdout(&made).starts_with("operator "), "{}", stdout(&made));
    let again = boxofficectl(&p, &args, &[("BOXOFFICE_ACCOUNT_PASSWORD", password)]);
    assert!(
        !again.status.success(),
        "a second account with one email: {again:?}"
    );
    let short = boxofficectl(
        &p,
        &["account", "--email", "x@ops.test", "--name", "X"],
        &[("BOXOFFICE_ACCOUNT_PASSWORD", "short")],
    );
    assert!(!short.status.success(), "a short password is refused");
    // The account signs in, and as an operator it sees the platform's event.
    let ops = AdminClient::login(&p.gateway_url, &email, password).await;
    let (s, ev) = ops.get(&format!("/admin/api/v1/events/{}", p.event)).await;
    assert_eq!(s, 200, "{ev}");
    // A door account working for the operator: the scanner only.
    let door_email = format!("{}@door.test", uuid::Uuid::new_v4().simple());
    let door_args = [
        "account",
        "--email",
        &door_email,
        "--name",
        "Door",
        "--role",
        "door",
        "--works-for",
        &email,
    ];
    let door = boxofficectl(&p, &door_args, &[("BOXOFFICE_ACCOUNT_PASSWORD", password)]);
    assert!(door.status.success(), "{door:?}");
    assert!(stdout(&door).starts_with("door "), "{}", stdout(&door));
    let without = boxofficectl(
        &p,
        &[
            "account",
            "--email",
            "d@door.test",
            "--name",
            "D",
            "--role",
            "door",
        ],
        &[("BOXOFFICE_ACCOUNT_PASSWORD", password)],
    );
    assert!(
        !without.status.success(),
        "a door account needs --works-for"
    );
    let door = AdminClient::login(&p.gateway_url, &door_email, password).await;
    let (s, body) = door.get("/admin/api/v1/events").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("role_forbidden"))
    );

    let events = boxofficectl(&p, &["events"], &[]);
    assert!(events.status.success(), "{events:?}");
    let listed = stdout(&events);
    let line = listed
        .lines()
        .find(|l| l.starts_with(&p.event.to_string()))
        .unwrap_or_else(|| panic!("the event is listed: {listed}"));
    assert!(line.contains("on_sale"), "{line}");

    // Three buyers join; the queue shows three entries and the room's state.
    for _ in 0..3 {
        let b = Buyer::new(&p.gateway_url).await;
        assert_eq!(b.join(p.event).await.0, 202);
    }
    let queue = boxofficectl(&p, &["queue", "--event", &p.event.to_string()], &[]);
    assert!(queue.status.success(), "{queue:?}");
    let shown = stdout(&queue);
    assert!(
        shown
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["entries", "3"]),
        "{shown}"
    );
    assert!(shown.contains("seed "), "the draw's seed is shown: {shown}");
    let unknown = boxofficectl(
        &p,
        &["queue", "--event", &uuid::Uuid::new_v4().to_string()],
        &[],
    );
    assert!(unknown.status.success());
    assert!(stdout(&unknown).contains("nobody has joined"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_an_account_signs_it_out_everywhere_live_dashboards_included() {
    let p = Platform::start(PlatformOptions {
        gateway_args: vec!["--admin-live-session-check-s".into(), "1".into()],
        ..Default::default()
    })
    .await;
    let email = format!("{}@ops.test", uuid::Uuid::new_v4().simple());
    let (old, new) = (
        "the operator's first password",
        "the operator's second password",
    );
    let account = |password: &'static str, update: bool| {
        let mut args = vec![
            "account", "--email", &email, "--name", "Ops", "--role", "operator",
        ];
        if update {
            args.push("--update");
        }
        boxofficectl(&p, &args, &[("BOXOFFICE_ACCOUNT_PASSWORD", password)])
    };
    assert!(account(old, false).status.success());
    let ops = AdminClient::login(&p.gateway_url, &email, old).await;
    let other_tab = AdminClient::login(&p.gateway_url, &email, old).await;
    let live = reqwest::Client::new()
        .get(format!(
            "{}/admin/api/v1/events/{}/live",
            p.gateway_url, p.event
        ))
        .header("cookie", &ops.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let mut frames = live.bytes_stream();
    assert!(
        futures::StreamExt::next(&mut frames)
            .await
            .is_some_and(|c| c.is_ok()),
        "the dashboard streams"
    );

    // The password is reset (say it leaked): every session of the account ends.
    let updated = account(new, true);
    assert!(updated.status.success(), "{updated:?}");
    assert_eq!(ops.get("/admin/api/v1/me").await.0, 401);
    assert_eq!(other_tab.get("/admin/api/v1/me").await.0, 401);
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(Ok(_)) = futures::StreamExt::next(&mut frames).await {}
    })
    .await
    .expect("the live stream ends soon after the update");
    // The new password works; the old one does not.
    AdminClient::login(&p.gateway_url, &email, new).await;
    let refused = reqwest::Client::new()
        .post(format!("{}/admin/api/v1/session", p.gateway_url))
        .json(&serde_json::json!({ "email": email, "password": old }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[test]
fn verify_ticket_checks_a_scan_code_offline_and_says_so_in_its_exit_code() {
    use boxoffice_workflows::order::tickets::{DEV_SEED_HEX, ScanCode, TicketSigner};
    let signer = TicketSigner::from_seed_hex(DEV_SEED_HEX).unwrap();
    let event = boxoffice_nats::EventId::new();
    let seat: boxoffice_nats::SeatId = "A:B-7".parse().unwrap();
    let t = signer.issue(event, &seat);
    let scan = ScanCode {
        event,
        seat,
        code: t.code,
        signature: t.signature,
    }
    .to_string();
    // Offline: no service address at all, nothing to reach.
    let run = |args: &[&str], env: &[(&str, &str)]| {
        std::process::Command::new(boxoffice_tests::bin_dir().join("boxofficectl"))
            .arg("verify-ticket")
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("boxofficectl runs")
    };
    let valid = run(&[&scan], &[]);
    assert_eq!(valid.status.code(), Some(0), "{valid:?}");
    let shown = stdout(&valid);
    assert!(shown.contains(&event.to_string()), "{shown}");
    assert!(shown.contains("A:B-7"), "{shown}");
    assert!(shown.lines().any(|l| l == "valid"), "{shown}");
    // The same with the key given, by flag and by variable.
    let key = signer.public_key_hex();
    assert_eq!(
        run(&[&scan, "--public-key", &key], &[]).status.code(),
        Some(0)
    );
    let env = [("BOXOFFICE_TICKET_PUBLIC_KEY", key.as_str())];
    assert_eq!(run(&[&scan], &env).status.code(), Some(0));

    // Altered (moved to another seat), or checked with another issuer's key: invalid.
    let altered = scan.replace("A:B-7", "A:B-8");
    let invalid = run(&[&altered], &[]);
    assert_eq!(invalid.status.code(), Some(1), "{invalid:?}");
    assert!(stdout(&invalid).contains("INVALID"));
    let other = TicketSigner::from_seed_hex(&"11".repeat(32)).unwrap();
    let wrong_key = run(&[&scan, "--public-key", &other.public_key_hex()], &[]);
    assert_eq!(wrong_key.status.code(), Some(1), "{wrong_key:?}");

    // Junk is not a ticket code at all.
    for junk in ["hello", "bxt1.x.y.z.w", ""] {
        let out = run(&[junk], &[]);
        assert_eq!(out.status.code(), Some(2), "{junk:?}: {out:?}");
    }
}
