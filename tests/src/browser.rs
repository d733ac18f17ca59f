//! Headless Chromium for the page tests (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver with fantoccini.
//!
//! [`Browser::start`] answers `None` (after printing `SKIPPED`) where Chromium or chromedriver
//! is missing, except in CI (`CI` set), where `.ci/run` installs them and their absence is a
//! failure. Chromium runs with the flags the issue fixes and a fresh `--user-data-dir`;
//! screenshots go to `<target>/ui-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::free_port;

/// How long a page or the node gets to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(20);

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/lib/chromium")]) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// chromedriver and Chromium's profile directory, both gone when dropped.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    port: u16,
    chromium: PathBuf,
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A session the test did not close (it failed, or it let a client go) leaves its
        // Chromium running after chromedriver is gone, orphaned; seen after a CI run. Chromium
        // started on this profile is this browser's: stop it first (its helpers follow it).
        kill_chromium_on(self.profile.path());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Kills the Chromium processes whose command line names `profile` as their user data dir.
fn kill_chromium_on(profile: &Path) {
    let flag = format!("--user-data-dir={}", profile.display());
    let Ok(procs) = std::fs::read_dir("/proc") else { return };
    for entry in procs.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if cmdline.split(|b| *b == 0).any(|arg| arg == flag.as_bytes())
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port, or answers `None` where the browser is not
    /// installed outside CI (`test` names the test in the SKIPPED line).
    pub fn start(test: &str) -> Option<Self> {
        let (Some(chromium), Some(chromedriver)) =
            (find_binary(&["chromium", "chromium-browser"]), find_binary(&["chromedriver"]))
        else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI: chromium and chromium-driver must be installed (.ci/run installs them)"
            );
            eprintln!("SKIPPED {test}: chromium or chromedriver not found (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let browser = Self { driver, port, chromium, profile: tempfile::tempdir().expect("user data dir") };
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(browser)
    }

    /// A WebDriver session: headless Chromium at phone width (390 px), on this browser's
    /// profile (a second session after the first closed is the same browser started again:
    /// its cookies are kept).
    pub async fn client(&self) -> Client {
        self.session(None).await
    }

    /// Like [`Browser::client`], with downloads saved to [`Browser::downloads_dir`] without
    /// asking (Chromium's `download.default_directory` preference).
    pub async fn client_with_downloads(&self) -> Client {
        let dir = self.downloads_dir();
        std::fs::create_dir_all(&dir).expect("downloads dir");
        self.session(Some(&dir)).await
    }

    /// Starts Chromium with the flags the issue fixes, saving downloads to `downloads` if given.
    async fn session(&self, downloads: Option<&Path>) -> Client {
        let mut options = json!({"binary": self.chromium.to_string_lossy(), "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--window-size=390,844",
            format!("--user-data-dir={}", self.profile.path().display()),
        ]});
        if let Some(dir) = downloads {
            options["prefs"] = json!({
                "download.default_directory": dir.to_string_lossy(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "safebrowsing.enabled": false,
            });
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session")
    }

    /// Cuts the page off the network, or gives it back, with Chromium's network emulation
    /// (chromedriver's `network_conditions`): the node keeps running and the test can still
    /// reach it, while every request of the page fails as it would with the cable out.
    pub async fn set_offline(&self, c: &Client, offline: bool) {
        let id = c.session_id().await.expect("session id").expect("a WebDriver session");
        let path = format!("/session/{id}/chromium/network_conditions");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let req = if offline {
            crate::http::Request::new(addr, "POST", &path).json(&json!({"network_conditions": {
                "offline": true, "latency": 0, "download_throughput": -1, "upload_throughput": -1}}))
        } else {
            crate::http::Request::new(addr, "DELETE", &path)
        };
        let resp = tokio::task::spawn_blocking(move || req.send()).await.expect("chromedriver request");
        assert_eq!(resp.status, 200, "network conditions: {}", resp.text());
    }

    /// Cuts the page off the node's API only (`/v1/...`), or gives it back, with the DevTools
    /// protocol's `Network.setBlockedURLs` (chromedriver's `goog/cdp/execute`): the page itself
    /// still loads, so a reload shows what it does when the node stops answering its calls, and
    /// the test can still reach the node. A blocked call fails as one with the cable out.
    pub async fn block_api(&self, c: &Client, blocked: bool) {
        let id = c.session_id().await.expect("session id").expect("a WebDriver session");
        let path = format!("/session/{id}/goog/cdp/execute");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let urls = if blocked { json!(["*/v1/*"]) } else { json!([]) };
        for (cmd, params) in [("Network.enable", json!({})), ("Network.setBlockedURLs", json!({"urls": urls}))] {
            let body = json!({"cmd": cmd, "params": params}).to_string();
            let path = path.clone();
            let (status, answer) = tokio::task::spawn_blocking(move || post_answered(addr, &path, &body))
                .await
                .expect("chromedriver request");
            assert_eq!(status, 200, "{cmd}: {answer}");
        }
    }

    /// Chromium's profile directory (downloads land under it when a test sets that up).
    pub fn profile_dir(&self) -> &Path {
        self.profile.path()
    }

    /// Where [`Browser::client_with_downloads`] saves downloads: `<profile>/downloads`.
    pub fn downloads_dir(&self) -> PathBuf {
        self.profile.path().join("downloads")
    }
}

/// POSTs JSON `body` to chromedriver and reads the answer as far as its `Content-Length` (it
/// keeps the connection open whatever the request says, so reading to the end would wait for
/// a timeout): the status and the body.
fn post_answered(addr: std::net::SocketAddr, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connecting to chromedriver");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("writing");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok());
            if len.is_none_or(|n| rest.len() >= n) {
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                return (status, rest.to_owned());
            }
        }
        let n = stream.read(&mut buf).expect("reading chromedriver's answer");
        if n == 0 {
            let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            return (status, text);
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Waits until a finished download whose name starts with `prefix` is in `dir`; answers its
/// bytes. Chromium writes `*.crdownload` while a download runs and renames it when done.
pub async fn wait_download(dir: &Path, prefix: &str) -> (PathBuf, Vec<u8>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let done = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with(prefix) && !name.ends_with(".crdownload")
        });
        if let Some(path) = done {
            let bytes = std::fs::read(&path).expect("reading the download");
            if !bytes.is_empty() {
                return (path, bytes);
            }
        }
        let seen: Vec<_> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
        assert!(Instant::now() < deadline, "no download {prefix}* in {}: {seen:?}", dir.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `<target>/ui-artifacts/`, where screenshots go (not committed).
pub fn artifacts() -> PathBuf {
    // The test binary is `<target>/<profile>/deps/<name>`.
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe.ancestors().nth(3).expect("<target>/<profile>/deps/<test>").to_owned();
    let dir = target.join("ui-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// The text of the first element matching `css`, or empty where there is none.
pub async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the text of `css` satisfies `ok`; answers it.
pub async fn wait_text(c: &Client, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    wait_text_within(c, css, what, WAIT, ok).await
}

/// [`wait_text`] for at most `wait` (a node backing off before its next sync, say).
pub async fn wait_text_within(c: &Client, css: &str, what: &str, wait: Duration, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + wait;
    loop {
        let t = text(c, css).await;
        if ok(&t) {
            return t;
        }
        assert!(Instant::now() < deadline, "{css}: waited for {what}, saw {t:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens `url` in a new tab of `c` and switches to it; answers the tab it came from.
pub async fn open_tab(c: &Client, url: &str) -> fantoccini::wd::WindowHandle {
    let from = c.window().await.expect("current tab");
    let tab = c.new_window(true).await.expect("a new tab");
    c.switch_to_window(tab.handle).await.expect("switching tabs");
    c.goto(url).await.expect("opening the tab's page");
    from
}

/// Types `value` into the field `css` and presses Enter.
pub async fn type_enter(c: &Client, css: &str, value: &str) {
    let input = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    input.send_keys(&format!("{value}{}", char::from(Key::Enter))).await.expect("typing");
}

/// Sets the viewport width (and a matching height) and saves a screenshot as `name`.
pub async fn screenshot(c: &Client, width: u32, height: u32, name: &str) {
    c.set_window_size(width, height).await.expect("window size");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifacts().join(name), png).expect("writing screenshot");
}

/// Waits, polling the node, until `ok` holds.
pub fn wait_api(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ok() {
        assert!(Instant::now() < deadline, "waited for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chromium whose process holds `profile` as its user data dir, by pid.
    fn chromium_on(profile: &Path) -> Vec<i32> {
        let flag = format!("--user-data-dir={}", profile.display());
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
            if cmdline.split(|b| *b == 0).any(|arg| arg == flag.as_bytes()) {
                out.push(pid);
            }
        }
        out
    }

    /// A browser dropped with its session still open (a failed test) leaves no Chromium behind.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_dropped_browser_leaves_no_chromium_running() {
        let Some(browser) = Browser::start("a_dropped_browser_leaves_no_chromium_running") else { return };
        let client = browser.client().await;
        let profile = browser.profile.path().to_owned();
        assert!(!chromium_on(&profile).is_empty(), "the session's Chromium runs");
        drop(browser);
        let deadline = Instant::now() + WAIT;
        while !chromium_on(&profile).is_empty() {
            assert!(Instant::now() < deadline, "Chromium still runs after the browser was dropped");
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(client);
    }
}
