//! The kiosk screen in headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver with fantoccini, against a real `cecd`: open it with a one-time link, choose
//! the session, scan in and out and see the credit, a duplicate notice, void a scan, and scans
//! taken while the node is stopped arrive once after it is back.
//!
//! Without Chromium or chromedriver the test says SKIPPED and passes, except in CI (`CI` set),
//! where `.ci/run` installs them and their absence is a failure. Screenshots at phone (390 px)
//! and tablet (820 px) widths go to `<target>/ui-artifacts/`.

use cec_e2e::Node;
use cec_e2e::browser::{Browser, screenshot, text, type_enter, wait_api, wait_text};
use fantoccini::{Client, Locator};
use jiff::{SignedDuration, Timestamp};
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

/// Event `C` with session `s75`: began 30 minutes ago, 75 minutes of instruction, with a
/// 45-minute door grace, so a scan in now and out a moment later earns the whole 1.25; Ana
/// Lima (M-1) and Ben Okafor (M-2) on the roster.
fn spring_conference(node: &Node) {
    let starts = Timestamp::now() - SignedDuration::from_mins(30);
    node.post(
        "/v1/events",
        &json!({"id": "C", "title": "Spring Conference", "timezone": "America/New_York",
                "provider": {"id": "P", "name": "Institute", "endorsement": {"number": "E-1",
                    "valid_from": "2000-01-01", "valid_until": "2999-12-31"}},
                "policy": {"grace_minutes": 45, "full_attendance_required": false}}),
    )
    .expect(201);
    node.post(
        "/v1/events/C/sessions",
        &json!({"id": "s75", "title": "Ethics in practice", "category": "ethics", "starts_at": starts.to_string(),
                "segments": [{"kind": "instruction", "minutes": 75}]}),
    )
    .expect(201);
    node.post(
        "/v1/events/C/roster",
        &json!({"members": [{"member_id": "M-1", "name": "Ana Lima"},
                                                          {"member_id": "M-2", "name": "Ben Okafor"}]}),
    )
    .expect(200);
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
    wait_text(c, "#sync-state", "online", |t| t == "online").await;
}

#[test]
fn the_kiosk_screen_in_chromium() {
    let Some(browser) = Browser::start("the_kiosk_screen_in_chromium") else { return };

    let mut node = Node::start();
    spring_conference(&node);

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
        wait_text(&c, "#sync-state", "online", |t| t == "online").await;

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
        wait_text(&c, "#sync-state", "online", |t| t == "online").await;
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
    spring_conference(&node);

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
