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
    c.find(Locator::Css(&format!("input[name=mode][value={mode}]"))).await.expect("mode").click().await.expect("mode");
    type_enter(c, "#scan", member).await;
}

fn checkins_of(node: &Node, member: &str) -> Vec<Value> {
    node.get(&format!("/v1/checkins?event_id=C&member_id={member}")).expect(200)["items"]
        .as_array()
        .expect("items")
        .clone()
}

#[test]
fn the_kiosk_screen_in_chromium() {
    let Some(browser) = Browser::start("the_kiosk_screen_in_chromium") else { return };

    // A session that began 30 minutes ago, 75 minutes of instruction, with a 45-minute door
    // grace: a scan in now and out a moment later earns the whole 1.25.
    let mut node = Node::start();
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
