//! A real headless Chromium for the browser tests (WebDriver, through Debian's chromedriver),
//! and the few steps every browser test repeats: screenshots, waiting for a condition, typing
//! into a field, submitting a form. Screenshots go to `$BOXOFFICE_TEST_SCREENSHOTS` (default
//! `artifacts/screenshots`).

use std::{path::PathBuf, process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// A desktop browser window.
pub const DESKTOP: (u32, u32) = (1440, 1100);
/// A phone-width browser window (an iPhone 12/13/14's CSS pixels).
pub const PHONE: (u32, u32) = (390, 844);

/// A chromedriver process; each [`Driver::browser`] is a fresh browser session.
pub struct Driver {
    child: tokio::process::Child,
    url: String,
    /// Holds one profile folder per browser session (two Chromiums cannot share one).
    profiles: PathBuf,
    sessions: std::sync::atomic::AtomicU32,
}

impl Driver {
    /// Starts chromedriver on a free loopback port.
    pub async fn start() -> Self {
        let bin = std::env::var("BOXOFFICE_CHROMEDRIVER_BIN")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        assert!(
            std::path::Path::new(&bin).exists(),
            "chromedriver not found at {bin}: run the tests through ./ops/test.sh, which installs Debian's chromium and chromium-driver"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profiles =
            std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
        Self {
            child,
            url,
            profiles,
            sessions: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// A desktop-width browser.
    pub async fn browser(&self) -> Client {
        self.browser_sized(DESKTOP).await
    }

    /// A browser whose window is `(width, height)` CSS pixels, e.g. [`PHONE`].
    pub async fn browser_sized(&self, (width, height): (u32, u32)) -> Client {
        let n = self
            .sessions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile = self.profiles.join(n.to_string());
        let chromium =
            std::env::var("BOXOFFICE_CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        // Headless Chromium will not make a window narrower than 500 px; a phone's width is
        // emulated (as DevTools' device mode does), touch and all.
        if width < 500 {
            caps["goog:chromeOptions"]["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1, "mobile": true, "touch": true }
            });
        }
        // Plain HTTP to chromedriver on loopback: no TLS stack needed.
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a browser session");
        let screen = c
            .execute("return screen.width;", vec![])
            .await
            .expect("script");
        if width < 500 {
            assert_eq!(screen, json!(width), "a {width} px wide phone screen");
        }
        c
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.profiles);
    }
}

/// What a page must offer a phone, a keyboard and a screen reader, checked in the page as it
/// stands: the language named, one `h1`, every control (button, link, field, select) with an
/// accessible name, every image with a text alternative, every control reachable by keyboard
/// (no positive `tabindex`, nothing clickable that is not a control), laid out at the device's
/// width and nothing wider than the screen. Fails the test with a screenshot and the list of problems.
pub async fn audit(c: &Client, name: &str) {
    let problems = audit_problems(c).await;
    if !problems.is_empty() {
        shot(c, &format!("failed-audit-{name}")).await;
        panic!(
            "{name}: the page fails the accessibility and layout audit:\n{}",
            problems.join("\n")
        );
    }
}

/// What [`audit`] finds wrong with the page, one line per problem.
pub async fn audit_problems(c: &Client) -> Vec<String> {
    const CHECK: &str = r#"
        const problems = [];
        const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
            && getComputedStyle(el).visibility !== 'hidden';
        const named = (el) => {
            if ((el.getAttribute('aria-label') || '').trim()) return true;
            const by = el.getAttribute('aria-labelledby');
            if (by && by.split(/\s+/).some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;
            if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
            if ((el.getAttribute('title') || '').trim()) return true;
            if (['BUTTON', 'A', 'SUMMARY'].includes(el.tagName)) {
                if (el.textContent.trim()) return true;
                if ([...el.querySelectorAll('img[alt]')].some((i) => i.alt.trim())) return true;
            }
            if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type) && el.value.trim()) return true;
            return false;
        };
        if (!(document.documentElement.lang || '').trim()) problems.push('html has no lang');
        const h1s = [...document.querySelectorAll('h1')].filter(visible);
        if (h1s.length !== 1) problems.push(`${h1s.length} visible h1 elements`);
        for (const el of document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea, summary')) {
            if (!visible(el)) continue;
            const what = el.outerHTML.slice(0, 100);
            if (!named(el)) problems.push(`no accessible name: ${what}`);
            if (el.tabIndex > 0) problems.push(`positive tabindex: ${what}`);
        }
        for (const el of document.querySelectorAll('[onclick], [role=button]')) {
            if (visible(el) && !['BUTTON', 'A', 'INPUT', 'SUMMARY'].includes(el.tagName) && el.tabIndex < 0)
                problems.push(`clickable but not focusable: ${el.outerHTML.slice(0, 100)}`);
        }
        for (const img of document.querySelectorAll('img, svg[role=img]')) {
            if (!visible(img)) continue;
            const alt = img.tagName === 'IMG' ? img.getAttribute('alt') : img.getAttribute('aria-label');
            if (alt === null) problems.push(`image without a text alternative: ${img.outerHTML.slice(0, 100)}`);
        }
        if (!/width=device-width/.test(document.querySelector('meta[name=viewport]')?.content || ''))
            problems.push('no viewport meta with width=device-width: a phone lays the page out 980 px wide');
        const wide = document.documentElement.scrollWidth - window.innerWidth;
        if (wide > 1) problems.push(`the page is ${wide} px wider than the screen (${window.innerWidth} px)`);
        return problems;
    "#;
    let problems = c.execute(CHECK, vec![]).await.expect("audit script");
    serde_json::from_value(problems).expect("a list of problems")
}

/// [`audit`]s the page, then saves its screenshot as `<name>.png`.
pub async fn checked_shot(c: &Client, name: &str) {
    audit(c, name).await;
    shot(c, name).await;
}

/// Where screenshots go.
pub fn shots() -> PathBuf {
    let dir = std::env::var("BOXOFFICE_TEST_SCREENSHOTS").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../artifacts/screenshots"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot of the page as `<name>.png`.
pub async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// Runs `script` until it returns true (or fails the test after `within`, with a screenshot).
pub async fn until(c: &Client, what: &str, script: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let v = c.execute(script, vec![]).await.expect("script");
        if v == json!(true) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            shot(c, &format!("failed-{}", what.replace(' ', "-"))).await;
            panic!("{what}: not within {within:?} (last answer {v})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Types `value` into the field `css` (cleared first).
pub async fn fill(c: &Client, css: &str, value: &str) {
    let el = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"));
    el.clear().await.ok();
    el.send_keys(value).await.unwrap();
}

/// Clicks the submit button of the form `form`.
pub async fn submit(c: &Client, form: &str) {
    c.find(Locator::Css(&format!("{form} [type=submit]")))
        .await
        .unwrap_or_else(|_| panic!("no submit in {form}"))
        .click()
        .await
        .unwrap();
}
