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
