//! The kiosk screen in headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver with fantoccini, against a real `cecd`: open it with a one-time link, choose
//! the session, scan in and out and see the credit, a duplicate notice, void a scan, and scans
//! taken while the node is stopped arrive once after it is back; a screen paired once opens
//! from its address alone (also after the browser restarts), says what to do when it has no
//! session, and keeps scans until it is signed in again; the sync bar as a central node
//! appears, goes away and comes back.
//!
//! Without Chromium or chromedriver the test says SKIPPED and passes, except in CI (`CI` set),
//! where `.ci/run` installs them and their absence is a failure. Screenshots at phone (390 px)
//! and tablet (820 px) widths go to `<target>/ui-artifacts/`.

use cec_e2e::browser::{Browser, open_tab, screenshot, text, type_enter, wait_api, wait_text, wait_text_within};
use cec_e2e::fixtures::kiosk_conference;
use cec_e2e::{Node, free_port};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use std::time::Duration;

async fn scan(c: &Client, mode: &str, member: &str) {
    let radio = c.find(Locator::Css(&format!("input[name=mode][value={mode}]"))).await.expect("mode");
    // Clear of the sticky bar, which grows a row on a phone while the node is offline.
    let arg = serde_json::to_value(&radio).expect("element reference");
    c.execute("arguments[0].scrollIntoView({block: 'center'})", vec![arg]).await.expect("scroll");
    radio.click().await.expect("mode");
    type_enter(c, "#scan", member).await;
}

fn checkins_of(node: &Node, member: &str) -> Vec<Value> {
    node.get(&format!("/v1/checkins?event_id=C&member_id={member}")).expect(200)["items"]
        .as_array()
        .expect("items")
        .clone()
}

/// Opens the kiosk screen with a one-time link and chooses session `s75`.
async fn open_kiosk(c: &Client, node: &Node) {
    let ticket = node.post("/v1/open-tickets", &json!({"page": "kiosk"})).expect(201);
    c.goto(&format!("http://{}{}", node.addr(), ticket["path"].as_str().expect("path"))).await.expect("open");
    wait_text(c, "#event", "the event", |t| t.contains("Spring Conference")).await;
    c.find(Locator::Css("#event")).await.expect("event").select_by_value("C").await.expect("event chosen");
    wait_text(c, "#session", "the session", |t| t.contains("Ethics in practice")).await;
    c.find(Locator::Css("#session")).await.expect("session").select_by_value("s75").await.expect("chosen");
    wait_text(c, "#session-info", "the session's times", |t| t.contains("America/New_York")).await;
    wait_text(c, "#sync-state", "the node answering", |t| t == "not syncing").await;
}

/// Chooses session `s75` of event `C` on a kiosk screen that is signed in.
async fn choose_session(c: &Client) {
    wait_text(c, "#event", "the event", |t| t.contains("Spring Conference")).await;
    c.find(Locator::Css("#event")).await.expect("event").select_by_value("C").await.expect("event chosen");
    wait_text(c, "#session", "the session", |t| t.contains("Ethics in practice")).await;
    c.find(Locator::Css("#session")).await.expect("session").select_by_value("s75").await.expect("chosen");
    wait_text(c, "#session-info", "the session's times", |t| t.contains("America/New_York")).await;
}

#[test]
fn the_kiosk_screen_in_chromium() {
    let Some(browser) = Browser::start("the_kiosk_screen_in_chromium") else { return };

    let mut node = Node::start();
    kiosk_conference(&node);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser.client().await;

        // The one-time link opens the kiosk screen.
        let ticket = node.post("/v1/open-tickets", &json!({"page": "kiosk"})).expect(201);
        let base = format!("http://{}", node.addr());
        c.goto(&format!("{base}{}", ticket["path"].as_str().expect("path"))).await.expect("open");
        let url = c.current_url().await.expect("url");
        assert_eq!(url.path(), "/kiosk");
        assert!(url.query().is_none(), "the ticket is not left in the address bar");
        // The cookie is not visible to script.
        let cookies = c.execute("return document.cookie", vec![]).await.expect("cookie");
        assert_eq!(cookies, json!(""));

        // Choose the event and the session.
        wait_text(&c, "#event", "the event", |t| t.contains("Spring Conference")).await;
        c.find(Locator::Css("#event")).await.expect("event").select_by_value("C").await.expect("event chosen");
        wait_text(&c, "#session", "the session", |t| t.contains("Ethics in practice")).await;
        c.find(Locator::Css("#session")).await.expect("session").select_by_value("s75").await.expect("chosen");
        wait_text(&c, "#session-info", "the session's times", |t| t.contains("America/New_York")).await;
        // The node answers; alone, it syncs with no one, and says so.
        wait_text(&c, "#sync-state", "the node answering", |t| t == "not syncing").await;

        // In, a duplicate in, out with the credit.
        scan(&c, "in", "M-1").await;
        wait_text(&c, "#fb-title", "checked in", |t| t == "Ana Lima: checked in").await;
        assert_eq!(text(&c, "#count").await, "1");
        scan(&c, "in", "M-1").await;
        wait_text(&c, "#fb-title", "a duplicate notice", |t| t.starts_with("Duplicate scan")).await;
        let fb = c.find(Locator::Css("#feedback")).await.expect("feedback");
        assert!(fb.attr("class").await.expect("class").unwrap_or_default().contains("duplicate"));
        scan(&c, "out", "M-1").await;
        wait_text(&c, "#fb-title", "the credit", |t| t == "Ana Lima: checked out: 1.25 CEC").await;
        assert_eq!(text(&c, "#count").await, "0");
        // The sync bar says how many check-ins the central node has not received yet: all of
        // them, on a node that never synced.
        let stored = node.get("/v1/checkins?limit=100").expect(200)["items"].as_array().map_or(0, Vec::len);
        assert!(stored >= 2);
        let expected = format!("{stored} not at central yet");
        c.execute("return CEC.refreshSync()", vec![]).await.ok();
        wait_text(&c, "#sync-central", "the check-ins not at the central node", |t| t == expected).await;
        // A member not on the roster is accepted, with a warning.
        scan(&c, "in", "M-404").await;
        wait_text(&c, "#fb-title", "the unknown-member warning", |t| t.starts_with("Not on the roster")).await;
        screenshot(&c, 390, 844, "kiosk-phone-390.png").await;
        screenshot(&c, 820, 1180, "kiosk-tablet-820.png").await;
        c.set_window_size(390, 844).await.expect("size");

        // Void Ben's mistaken scan from the screen.
        scan(&c, "in", "M-2").await;
        wait_text(&c, "#fb-title", "Ben checked in", |t| t == "Ben Okafor: checked in").await;
        let first = c.find(Locator::Css("#recent li .void-button")).await.expect("a void button");
        first.click().await.expect("void");
        let reason = c.find(Locator::Css("#recent .void-reason")).await.expect("reason field");
        reason.send_keys("wrong badge").await.expect("reason");
        c.find(Locator::Css("#recent .void-confirm")).await.expect("confirm").click().await.expect("confirm");
        wait_text(&c, "#fb-title", "the void", |t| t == "Scan voided").await;
        let ben = checkins_of(&node, "M-2");
        assert_eq!(ben.len(), 1);
        assert_eq!(ben[0]["voided"]["reason"], "wrong badge");
        wait_text(&c, "#recent li.voided", "the voided scan listed", |t| t.contains("voided: wrong badge")).await;

        // The node stops; scans are kept on the screen and sent once when it is back.
        assert!(node.terminate().success());
        scan(&c, "in", "M-2").await;
        wait_text(&c, "#fb-title", "kept offline", |t| t.starts_with("Saved on this screen")).await;
        scan(&c, "in", "M-7").await;
        wait_text(&c, "#fb-title", "kept offline", |t| t.starts_with("Saved on this screen")).await;
        wait_text(&c, "#sync-state", "offline", |t| t == "offline").await;
        wait_text(&c, "#sync-pending", "two waiting", |t| t.starts_with("2 scans waiting")).await;
        screenshot(&c, 390, 844, "kiosk-phone-390-offline.png").await;
        c.set_window_size(390, 844).await.expect("size");
        node.restart_same_address();
        wait_api("the queued scans to arrive", || checkins_of(&node, "M-7").len() == 1);
        wait_text(&c, "#sync-pending", "nothing waiting", str::is_empty).await;
        wait_text(&c, "#sync-state", "the node answering", |t| t == "not syncing").await;
        // Give a duplicate send every chance to show up, then count.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(checkins_of(&node, "M-7").len(), 1, "sent once");
        let ben = checkins_of(&node, "M-2");
        assert_eq!(ben.len(), 2, "{ben:?}");
        assert_eq!(ben.iter().filter(|b| b["voided"].is_null()).count(), 1);

        // Automatic mode: a member with no scan yet is checked in; the same badge again at
        // once is a double scan, and nothing more is recorded.
        scan(&c, "auto", "M-3").await;
        wait_text(&c, "#fb-title", "an automatic in", |t| t.starts_with("Not on the roster: M-3")).await;
        assert_eq!(checkins_of(&node, "M-3")[0]["direction"], "in");
        scan(&c, "auto", "M-3").await;
        wait_text(&c, "#fb-title", "a double scan", |t| t.starts_with("Duplicate scan")).await;
        assert_eq!(checkins_of(&node, "M-3").len(), 1, "nothing recorded for a double scan");
        c.close().await.expect("closing the browser");
    });
}

/// The local storage value under `key`, parsed.
async fn stored(c: &Client, key: &str) -> Value {
    let raw = c.execute("return localStorage.getItem(arguments[0])", vec![json!(key)]).await.expect("storage");
    raw.as_str().map_or(Value::Null, |s| serde_json::from_str(s).expect("JSON in storage"))
}

/// The recent-scans item whose text contains `who`.
async fn recent_item(c: &Client, who: &str) -> fantoccini::elements::Element {
    for li in c.find_all(Locator::Css("#recent li")).await.expect("recent") {
        if li.text().await.unwrap_or_default().contains(who) {
            return li;
        }
    }
    panic!("no recent scan of {who}: {:?}", text(c, "#recent").await);
}

#[test]
fn the_kiosk_screen_keeps_voids_refusals_and_recent_scans() {
    let Some(browser) = Browser::start("the_kiosk_screen_keeps_voids_refusals_and_recent_scans") else { return };
    let mut node = Node::start();
    kiosk_conference(&node);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser.client().await;
        open_kiosk(&c, &node).await;

        // The recent scans, with the credit shown at check-out, survive a reload.
        scan(&c, "in", "M-1").await;
        wait_text(&c, "#fb-title", "checked in", |t| t == "Ana Lima: checked in").await;
        scan(&c, "in", "M-2").await;
        wait_text(&c, "#fb-title", "checked in", |t| t == "Ben Okafor: checked in").await;
        scan(&c, "out", "M-1").await;
        wait_text(&c, "#fb-title", "the credit", |t| t == "Ana Lima: checked out: 1.25 CEC").await;
        c.refresh().await.expect("reload");
        let recent = wait_text(&c, "#recent", "the recent scans after a reload", |t| {
            t.contains("Ben Okafor · in") && t.contains("Ana Lima · out")
        })
        .await;
        assert!(recent.contains("1.25 CEC"), "the credit line is kept: {recent}");
        assert_eq!(c.find_all(Locator::Css("#recent li")).await.expect("recent").len(), 3, "{recent}");
        assert_eq!(text(&c, "#count").await, "1");

        // A void taken while the node is down waits on the screen, under the check-in's id,
        // and arrives once when the node is back.
        assert!(node.terminate().success());
        recent_item(&c, "Ben Okafor")
            .await
            .find(Locator::Css(".void-button"))
            .await
            .expect("void")
            .click()
            .await
            .expect("void");
        c.find(Locator::Css("#recent .void-reason"))
            .await
            .expect("reason")
            .send_keys("wrong badge")
            .await
            .expect("reason");
        c.find(Locator::Css("#recent .void-confirm")).await.expect("confirm").click().await.expect("confirm");
        wait_text(&c, "#fb-title", "the void kept", |t| t == "Void saved on this screen").await;
        wait_text(&c, "#sync-pending", "one void waiting", |t| t == "1 void waiting on this screen").await;
        let ben = recent_item(&c, "Ben Okafor").await.text().await.expect("text");
        assert!(ben.contains("void waiting to be sent: wrong badge"), "{ben}");
        assert_eq!(text(&c, "#count").await, "0", "a voided scan no longer counts here");
        let queued = stored(&c, "cec.kiosk.voids").await;
        let ben_id = recent_item(&c, "Ben Okafor").await.attr("data-id").await.expect("attr").expect("data-id");
        assert_eq!(queued.as_array().map(Vec::len), Some(1), "{queued}");
        assert_eq!(queued[0]["checkin_id"], json!(ben_id), "{queued}");
        screenshot(&c, 390, 844, "kiosk-phone-390-void-waiting.png").await;
        c.set_window_size(390, 844).await.expect("size");
        node.restart_same_address();
        wait_api("the queued void to arrive", || !checkins_of(&node, "M-2")[0]["voided"].is_null());
        assert_eq!(checkins_of(&node, "M-2")[0]["id"], json!(ben_id));
        wait_text(&c, "#sync-pending", "nothing waiting", str::is_empty).await;
        let first = checkins_of(&node, "M-2")[0]["voided"].clone();
        assert_eq!(first["reason"], "wrong badge");
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(checkins_of(&node, "M-2")[0]["voided"], first, "voided once: the first void stands");
        assert_eq!(stored(&c, "cec.kiosk.voids").await, json!([]));
        wait_text(&c, "#recent", "the void listed", |t| t.contains("voided: wrong badge")).await;

        // A scan queued while the page is cut off, which the node refuses when it is sent (its
        // id was taken meanwhile by another check-in), is named in a notice, not dropped.
        browser.set_offline(&c, true).await;
        scan(&c, "in", "M-9").await;
        wait_text(&c, "#fb-title", "kept offline", |t| t.starts_with("Saved on this screen")).await;
        let pending = stored(&c, "cec.kiosk.pending").await;
        let id = pending[0]["id"].as_str().expect("the queued scan's id").to_owned();
        node.post(
            "/v1/checkins",
            &json!({"id": id, "event_id": "C", "session_id": "s75", "member_id": "M-9", "direction": "out"}),
        )
        .expect(201);
        browser.set_offline(&c, false).await;
        let notice = wait_text(&c, "#notices", "the refusal", |t| t.contains("Not recorded")).await;
        assert!(notice.contains("M-9") && notice.contains("other content"), "{notice}");
        wait_text(&c, "#sync-pending", "nothing waiting", str::is_empty).await;
        let m9 = recent_item(&c, "M-9").await.text().await.expect("text");
        assert!(m9.contains("refused by the node"), "{m9}");
        assert_eq!(checkins_of(&node, "M-9").len(), 1, "only the other check-in");
        screenshot(&c, 390, 844, "kiosk-phone-390-refused.png").await;
        screenshot(&c, 820, 1180, "kiosk-tablet-820-refused.png").await;
        c.set_window_size(390, 844).await.expect("size");
        // The notice stays until dismissed, across a reload.
        c.refresh().await.expect("reload");
        wait_text(&c, "#notices", "the refusal after a reload", |t| t.contains("Not recorded")).await;
        c.find(Locator::Css("#notices button")).await.expect("dismiss").click().await.expect("dismiss");
        wait_text(&c, "#notices", "no notice", str::is_empty).await;
        c.close().await.expect("closing the browser");
    });
}

/// Whether the element `css` is shown.
async fn shown(c: &Client, css: &str) -> bool {
    c.find(Locator::Css(css)).await.expect(css).is_displayed().await.expect("displayed")
}

/// Pairs the browser once with `cec open kiosk --pair`: opens the link the CLI prints in a new
/// tab and closes that tab again, back on `back`.
async fn pair_in_a_tab(c: &Client, node: &Node, back: fantoccini::wd::WindowHandle) {
    let (status, out, err) = node.cec(&["open", "kiosk", "--pair", "--label", "door A", "--no-browser"]);
    assert_eq!(status, 0, "{out}{err}");
    let link = out.lines().next().unwrap_or_default().to_owned();
    assert!(link.starts_with(&format!("http://{}/open?ticket=", node.addr())), "{out}");
    assert!(out.contains(&format!("open http://{}/kiosk", node.addr())), "says what to bookmark: {out}");
    assert!(!out.contains(node.token()), "the token never appears in a link");
    open_tab(c, &link).await;
    let url = c.current_url().await.expect("url");
    assert_eq!(url.path(), "/kiosk");
    assert!(url.query().is_none(), "the ticket is not left in the address bar");
    c.close_window().await.expect("closing the pairing tab");
    c.switch_to_window(back).await.expect("back to the kiosk tab");
}

#[test]
fn a_paired_kiosk_opens_without_a_link() {
    let Some(browser) = Browser::start("a_paired_kiosk_opens_without_a_link") else { return };
    let node = Node::start();
    kiosk_conference(&node);
    let kiosk = format!("http://{}/kiosk", node.addr());

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser.client().await;

        // Opened with no session, the screen says how to pair it, and nothing else.
        c.goto(&kiosk).await.expect("open");
        let signin =
            wait_text(&c, "#signin", "the pairing instructions", |t| t.contains("cec open kiosk --pair")).await;
        assert!(signin.contains("bookmark"), "{signin}");
        assert_eq!(text(&c, "#signin-url").await, kiosk, "the address to bookmark is this one");
        wait_text(&c, "#sync-state", "signed out", |t| t == "signed out").await;
        assert!(!shown(&c, "#setup").await, "no event to choose without a session");
        assert!(!shown(&c, "#signin-why").await, "never signed in: nothing ended");
        screenshot(&c, 390, 844, "kiosk-phone-390-signed-out.png").await;
        screenshot(&c, 820, 1180, "kiosk-tablet-820-signed-out.png").await;
        c.set_window_size(390, 844).await.expect("size");

        // Paired once, in another tab: the waiting screen signs itself in.
        let here = c.window().await.expect("tab");
        pair_in_a_tab(&c, &node, here).await;
        wait_text(&c, "#event", "the events once signed in", |t| t.contains("Spring Conference")).await;
        assert!(!shown(&c, "#signin").await);
        let cookie = c.get_named_cookie("cec_paired").await.expect("the pairing's cookie");
        assert_eq!(cookie.http_only(), Some(true));
        let expires = cookie.expires_datetime().expect("a lasting cookie").unix_timestamp();
        let days = (expires - jiff::Timestamp::now().as_second()) / 86_400;
        assert!((89..=90).contains(&days), "a pairing lasts kiosk_pairing_days (90): {days} days");

        // The device restarts: its browser starts again on the same profile and opens the
        // bookmarked address, no link, no terminal; the screen takes a scan.
        c.close().await.expect("closing the browser");
        let c = browser.client().await;
        c.goto(&kiosk).await.expect("the bookmark");
        choose_session(&c).await;
        assert!(!shown(&c, "#signin").await);
        scan(&c, "in", "M-1").await;
        wait_text(&c, "#fb-title", "checked in", |t| t == "Ana Lima: checked in").await;
        assert_eq!(checkins_of(&node, "M-1").len(), 1);
        let (status, out, _) = node.cec(&["pairings"]);
        assert_eq!(status, 0);
        assert!(out.contains("door A") && out.contains("active"), "{out}");
        screenshot(&c, 390, 844, "kiosk-phone-390-paired.png").await;

        // The pairing is ended (a lost tablet): the screen says so at its next request; a scan
        // taken meanwhile waits on it.
        let (status, out, err) = node.cec(&["pairings", "end", "--all"]);
        assert_eq!(status, 0, "{out}{err}");
        assert!(out.contains("ended pairing"), "{out}");
        wait_text(&c, "#signin-why", "why it is signed out", |t| t.contains("pairing was ended")).await;
        wait_text(&c, "#sync-state", "signed out", |t| t == "signed out").await;
        assert!(shown(&c, "#scan-panel").await, "a screen in use keeps its session");
        scan(&c, "in", "M-2").await;
        wait_text(&c, "#fb-title", "kept on the screen", |t| t == "Saved on this screen: Ben Okafor in").await;
        let detail = text(&c, "#fb-detail").await;
        assert!(detail.contains("not signed in"), "{detail}");
        wait_text(&c, "#sync-pending", "one waiting", |t| t == "1 scan waiting on this screen").await;
        assert!(checkins_of(&node, "M-2").is_empty());
        screenshot(&c, 390, 844, "kiosk-phone-390-pairing-ended.png").await;
        screenshot(&c, 820, 1180, "kiosk-tablet-820-pairing-ended.png").await;
        c.set_window_size(390, 844).await.expect("size");

        // Paired again, the screen sends what waited, once.
        let here = c.window().await.expect("tab");
        pair_in_a_tab(&c, &node, here).await;
        wait_api("the waiting scan to arrive", || checkins_of(&node, "M-2").len() == 1);
        wait_text(&c, "#sync-pending", "nothing waiting", str::is_empty).await;
        assert!(!shown(&c, "#signin").await);
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(checkins_of(&node, "M-2").len(), 1, "sent once");
        c.close().await.expect("closing the browser");
    });
}

#[test]
fn the_sync_indicator_when_a_peer_appears() {
    let Some(browser) = Browser::start("the_sync_indicator_when_a_peer_appears") else { return };
    // The central node listens for peers on a fixed loopback port, so that it comes back where
    // the kiosk knows it after a restart.
    let peer_listen = format!("127.0.0.1:{}", free_port());
    let mut central = Node::central("sync_interval_secs = 0\n", &["--peer-listen", &peer_listen]);
    // A kiosk on its own, syncing every second once it has a peer.
    let kiosk = Node::start_configured("sync_interval_secs = 1\n", &[]);
    kiosk_conference(&kiosk);
    let central_checkins = |central: &Node| {
        central.get("/v1/checkins?event_id=C&limit=100").expect(200)["items"].as_array().map_or(0, Vec::len)
    };

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser.client().await;
        open_kiosk(&c, &kiosk).await;

        // Alone: the node answers, keeps every scan, and syncs with no one.
        wait_text(&c, "#sync-state", "not syncing", |t| t == "not syncing").await;
        assert_eq!(text(&c, "#sync-peers").await, "not enrolled: syncs with no one");
        assert_eq!(text(&c, "#sync-last").await, "", "no sync to speak of");
        scan(&c, "in", "M-1").await;
        wait_text(&c, "#fb-title", "checked in", |t| t == "Ana Lima: checked in").await;
        scan(&c, "in", "M-2").await;
        wait_text(&c, "#fb-title", "checked in", |t| t == "Ben Okafor: checked in").await;
        wait_text(&c, "#sync-central", "two not at central", |t| t == "2 not at central yet").await;
        screenshot(&c, 390, 844, "kiosk-phone-390-sync-alone.png").await;
        screenshot(&c, 820, 1180, "kiosk-tablet-820-sync-alone.png").await;
        c.set_window_size(390, 844).await.expect("size");

        // The central node appears: the kiosk enrols with a code and syncs by itself. The bar
        // shows the peer, a sync, and nothing left for the central node, which has the scans.
        let body = json!({"role": "kiosk", "scopes": ["event:C"], "uses": 1, "expires_at": "2099-01-01T00:00:00Z"});
        let code = central.post("/v1/admin/enrolments", &body).expect(201)["code"].clone();
        kiosk.post("/v1/node/enroll", &json!({"code": code})).expect(200);
        wait_text(&c, "#sync-state", "online", |t| t == "online").await;
        assert_eq!(text(&c, "#sync-peers").await, "peer reachable");
        wait_text(&c, "#sync-last", "the last sync", |t| t.starts_with("last sync ")).await;
        wait_text(&c, "#sync-central", "all at central", |t| t == "all at central").await;
        assert_eq!(central_checkins(&central), 2);
        screenshot(&c, 390, 844, "kiosk-phone-390-sync-online.png").await;
        screenshot(&c, 820, 1180, "kiosk-tablet-820-sync-online.png").await;
        c.set_window_size(390, 844).await.expect("size");

        // The central node goes away: the bar says the peer is not reachable and counts what
        // the central node does not have.
        assert!(central.terminate().success());
        wait_text(&c, "#sync-state", "not syncing", |t| t == "not syncing").await;
        assert_eq!(text(&c, "#sync-peers").await, "peer not reachable");
        scan(&c, "out", "M-1").await;
        wait_text(&c, "#fb-title", "the credit", |t| t == "Ana Lima: checked out: 1.25 CEC").await;
        wait_text(&c, "#sync-central", "one not at central", |t| t == "1 not at central yet").await;
        screenshot(&c, 390, 844, "kiosk-phone-390-sync-peer-gone.png").await;
        c.set_window_size(390, 844).await.expect("size");

        // And back: the kiosk reaches it again once its back-off runs out.
        central.restart();
        let back_off = Duration::from_secs(60);
        wait_text_within(&c, "#sync-state", "online again", back_off, |t| t == "online").await;
        wait_text_within(&c, "#sync-central", "all at central", back_off, |t| t == "all at central").await;
        assert_eq!(central_checkins(&central), 3);
        c.close().await.expect("closing the browser");
    });
}
