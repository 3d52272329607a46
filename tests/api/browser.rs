//! A real browser for the console's tests: headless Chromium driven through WebDriver
//! (Debian's `chromium` and `chromium-driver`; `.ci/run` installs them). Each test gets its own
//! `chromedriver` and browser; at most `AT_ONCE` run together, so a 2-core machine is not
//! swamped. Missing Chromium fails the test: it is never skipped.
//!
//! `Chrome::check` runs axe-core (vendored in `tests/vendor/axe-core/`) on the page, fails on
//! any serious or critical WCAG 2.2 AA violation, and saves a screenshot of the page under
//! `target/console-screenshots/`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Browsers running at once across the suite.
const AT_ONCE: usize = 2;
static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(AT_ONCE));

const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

fn chromedriver() -> String {
    std::env::var("CRHT_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned())
}

fn chromium() -> String {
    std::env::var("CRHT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

/// Where screenshots go: `target/console-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("console-screenshots")
}

pub struct Chrome {
    pub client: Client,
    base: String,
    driver: Child,
    _slot: SemaphorePermit<'static>,
}

impl Chrome {
    /// A new headless browser, pointed at the gateway at `base`.
    pub async fn start(base: &str) -> Chrome {
        let slot = SLOTS.acquire().await.expect("browser slot");
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("port").port()
        };
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver did not start ({e}): the console's browser tests need \
                     Debian's chromium and chromium-driver (apt-get install chromium \
                     chromium-driver), or CRHT_TEST_CHROMEDRIVER set"
                )
            });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,1024",
                    "--lang=en-GB",
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Chrome {
                        client,
                        base: base.to_owned(),
                        driver,
                        _slot: slot,
                    };
                }
                Err(e) => last_error = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no browser session from chromedriver: {last_error}");
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("page loads");
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(e) => panic!("no `{css}` on {}: {e}", self.path().await),
        }
    }

    /// The text of the first element `css` finds; found again if a live part of the page
    /// replaced it meanwhile.
    pub async fn text_of(&self, css: &str) -> String {
        let mut tries = 0;
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if tries < 5 => {
                    tries += 1;
                    tracing::debug!(%e, "element replaced; finding it again");
                }
                Err(e) => panic!("`{css}` has no text: {e}"),
            }
        }
    }

    pub async fn h1(&self) -> String {
        self.text_of("h1").await
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Clicks the button or link whose text is `text` (the first one, in page order).
    pub async fn click_text(&self, text: &str) {
        let xpath = format!(
            "//button[normalize-space()='{text}'] | //a[normalize-space()='{text}'] | \
             //input[@type='submit' and @value='{text}']"
        );
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(&xpath))
            .await;
        match found {
            Ok(element) => self.leaving(element.click()).await,
            Err(e) => panic!("nothing says `{text}` on {}: {e}", self.path().await),
        }
    }

    /// Clicks the element `css` finds, a link or a button that leads to another page, and
    /// waits for that page.
    pub async fn press(&self, css: &str) {
        let element = self.find(css).await;
        self.leaving(element.click()).await;
    }

    /// Does `action`, which leaves the page, and waits until the next page has loaded.
    async fn leaving<F>(&self, action: F)
    where
        F: std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
    {
        self.eval("window.crhtLeaving = true; return true;").await;
        action.await.expect("click");
        for _ in 0..100 {
            let state = self
                .client
                .execute(
                    "return window.crhtLeaving === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(state, Ok(Value::Bool(true))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no new page after a click on {}", self.path().await);
    }

    /// Signs in through the sign-in form.
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click_text("Sign in").await;
        self.find("h1").await;
    }

    pub async fn title(&self) -> String {
        self.client.title().await.expect("title")
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    /// The page passes axe-core's WCAG 2.2 A and AA rules with no serious or critical
    /// violation; a screenshot of it is saved as `<name>.png`.
    pub async fn check(&self, name: &str) {
        self.screenshot(name).await;
        self.client
            .execute(&format!("{AXE}\n;return true;"), vec![])
            .await
            .expect("axe loads");
        let found = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, { runOnly: { type: "tag",
                    values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } })
                  .then(r => done(r.violations
                    .filter(v => v.impact === "serious" || v.impact === "critical")
                    .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map(n => n.target.join(" ")).join("; ")}`)))
                  .catch(e => done(["axe failed: " + e]));"#,
                vec![],
            )
            .await
            .expect("axe runs");
        let violations: Vec<String> = serde_json::from_value(found).expect("a list");
        assert!(
            violations.is_empty(),
            "{name} ({}): {violations:#?}",
            self.path().await
        );
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot saved");
    }

    /// The page as at 200% zoom on a 1280-pixel screen: nothing wider than the window.
    pub async fn fits_at_200_percent(&self) {
        self.client
            .set_window_size(640, 1024)
            .await
            .expect("resize");
        let wide = self
            .eval("return document.documentElement.scrollWidth - window.innerWidth;")
            .await;
        if wide.as_i64().unwrap_or(i64::MAX) > 0 {
            let culprits = self
                .eval(
                    "const wide = [...document.querySelectorAll('body *')]
                       .filter(e => e.getBoundingClientRect().right > window.innerWidth)
                       .slice(0, 5)
                       .map(e => e.tagName + '.' + e.className + ' ' +
                         Math.round(e.getBoundingClientRect().right));
                     const boxes = [...document.querySelectorAll('.crht-table-scroll')]
                       .map(d => 'scroll box ' + d.clientWidth + '/' + d.scrollWidth + ' ' +
                         getComputedStyle(d).overflowX + ' ' + getComputedStyle(d).display);
                     return wide.concat(boxes);",
                )
                .await;
            panic!(
                "{} scrolls sideways at 200% by {wide}px: {culprits}",
                self.path().await
            );
        }
        self.client
            .set_window_size(1280, 1024)
            .await
            .expect("resize");
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}
