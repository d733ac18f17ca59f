//! The organizer's page in headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven over WebDriver with fantoccini, against a real `cecd`: `cec open --page organize`
//! prints the link; the organizer creates an event (and sees the node's refusal of a bad
//! endorsement next to the field at fault), adds a session with its start entered in the
//! event's time zone, loads a roster from a CSV file (the page says which rows it refuses and
//! why before sending), and sees the session's attendance once check-ins are posted through
//! the API: who is in the room, who came and went, each member's credit as the node gives it,
//! voided scans marked.
//!
//! A second test stops the node while the organizer works: a session, a void and a roster submitted
//! meanwhile wait in the page (which says so), survive a reload, and arrive once when the node
//! is back on the same address and data; writes the node refuses when they are sent are shown
//! with the reason, and what depends on them as not sent.
//!
//! Without Chromium or chromedriver the test says SKIPPED and passes, except in CI (`CI` set).
//! Screenshots at phone (390 px) and tablet (820 px) widths go to `<target>/ui-artifacts/`.

use std::process::{Command, Stdio};

use std::time::Duration;

use cec_e2e::browser::{Browser, screenshot, text, wait_api, wait_text};
use cec_e2e::{Node, workspace_bin};
use fantoccini::{Client, Locator};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

const TZ: &str = "America/Chicago";

/// Types into a field after clearing it.
async fn fill(c: &Client, css: &str, value: &str) {
    let input = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    input.clear().await.unwrap_or_else(|e| panic!("clearing {css}: {e}"));
    input.send_keys(value).await.unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

/// Sets a date or date-time field. Chromium's date pickers take typed digits in the order of
/// the browser's locale, so the test sets the value the picker would produce and fires the
/// same `input` and `change` events.
async fn set_date(c: &Client, css: &str, value: &str) {
    let input = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    let arg = serde_json::to_value(&input).expect("element reference");
    c.execute(
        "arguments[0].value = arguments[1];\
         arguments[0].dispatchEvent(new Event('input', {bubbles: true}));\
         arguments[0].dispatchEvent(new Event('change', {bubbles: true}));\
         return arguments[0].value;",
        vec![arg, json!(value)],
    )
    .await
    .map(|v| assert_eq!(v, json!(value), "{css} took {value}"))
    .unwrap_or_else(|e| panic!("setting {css}: {e}"));
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.expect("click");
}

/// `cec open --page organize --no-browser` against `node`: the link it prints.
fn open_link(node: &Node) -> String {
    let out = Command::new(workspace_bin("cec"))
        .arg("--data-dir")
        .arg(node.data_dir())
        .args(["open", "--page", "organize", "--no-browser"])
        .env_remove("CEC_URL")
        .env_remove("CECD_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("running cec");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("opens the organize screen"), "{stdout}");
    assert!(!stdout.contains(node.token()), "the token never goes into the link");
    stdout.lines().next().expect("the link").to_owned()
}

fn checkin(node: &Node, id: &str, member: &str, direction: &str, at: Timestamp) {
    node.post(
        "/v1/checkins",
        &json!({"id": id, "event_id": "field-day", "session_id": "s1", "member_id": member,
                "direction": direction, "at": at.to_string()}),
    )
    .expect(201);
}

/// The scan's time as the page shows it in the event's time zone: `09:31` (in a 12-hour
/// locale followed by AM or PM).
fn clock(at: Timestamp) -> (String, String) {
    let z = at.in_tz(TZ).expect("time zone");
    (z.strftime("%H:%M").to_string(), z.strftime("%I:%M").to_string())
}

#[test]
fn an_organizer_sets_up_an_event_and_sees_attendance() {
    let Some(browser) = Browser::start("an_organizer_sets_up_an_event_and_sees_attendance") else { return };
    let node = Node::start();
    let link = open_link(&node);

    // The session starts 30 minutes ago, on Chicago's clocks, to the minute.
    let start_local = (Timestamp::now() - SignedDuration::from_mins(30))
        .in_tz(TZ)
        .expect("time zone")
        .datetime()
        .round(jiff::Unit::Minute)
        .expect("rounded");
    let start_wall = start_local.strftime("%Y-%m-%dT%H:%M").to_string();
    let starts_at = start_local.in_tz(TZ).expect("in Chicago").timestamp();

    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("roster.csv");
    std::fs::write(
        &csv,
        "\u{feff}Member ID,Name,Email\r\n\
         M-1,\"Lima, Ana\",ana@example.org\r\n\
         M-2,Ben Okafor,\r\n\
         ,No Id,\r\n\
         M 3,Bad Id,\r\n\
         M-4,,\r\n\
         M-1,Ana again,\r\n\
         \"M-5\",\"Chen \"\"CJ\"\" Jun\",\r\n\
         \r\n",
    )
    .expect("csv");

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser.client().await;
        c.goto(&link).await.expect("open");
        let url = c.current_url().await.expect("url");
        assert_eq!(url.path(), "/organize");
        assert!(url.query().is_none(), "the ticket is not left in the address bar");
        wait_text(&c, "#sync-state", "the node answering", |t| t == "not syncing").await;

        // No events yet: the form to create one is open.
        wait_text(&c, "#event", "no events", |t| t.contains("No events yet")).await;
        fill(&c, "#ev-title", "Field Day 2027").await;
        fill(&c, "#ev-id", "field-day").await;
        fill(&c, "#ev-venue", "Union Hall").await;
        fill(&c, "#ev-tz", TZ).await;
        fill(&c, "#ev-prov-id", "P-9").await;
        fill(&c, "#ev-prov-name", "Counseling Institute").await;
        fill(&c, "#ev-end-number", "E-77").await;
        set_date(&c, "#ev-end-from", "2030-01-01").await;
        set_date(&c, "#ev-end-until", "2020-12-31").await;
        fill(&c, "#ev-grace", "10").await;
        // A field left empty is named before anything is sent.
        fill(&c, "#ev-prov-name", "").await;
        click(&c, "#event-form button[type=submit]").await;
        wait_text(&c, "#ev-prov-name-err", "the missing name", |t| t.contains("provider's name")).await;
        fill(&c, "#ev-prov-name", "Counseling Institute").await;
        // The node refuses an endorsement that ends before it starts: the page says so next to
        // the field the node names.
        click(&c, "#event-form button[type=submit]").await;
        let err = wait_text(&c, "#ev-end-until-err", "the node's refusal", |t| !t.is_empty()).await;
        assert!(text(&c, "#ev-prov-name-err").await.is_empty(), "the fixed field's error is gone");
        let invalid =
            c.find(Locator::Css("#ev-end-until")).await.expect("until").attr("aria-invalid").await.expect("attr");
        assert_eq!(invalid.as_deref(), Some("true"), "{err}");
        screenshot(&c, 390, 844, "organize-phone-390-error.png").await;
        c.set_window_size(390, 844).await.expect("size");
        node.get("/v1/events/field-day").expect(404);
        set_date(&c, "#ev-end-until", "2999-12-31").await;
        set_date(&c, "#ev-end-from", "2000-01-01").await;
        click(&c, "#event-form button[type=submit]").await;
        wait_text(&c, "#event-info", "the event", |t| t.contains("E-77") && t.contains(TZ)).await;
        let ev = node.get("/v1/events/field-day").expect(200);
        assert_eq!(ev["timezone"], TZ);
        assert_eq!(ev["policy"]["grace_minutes"], 10);
        assert_eq!(ev["provider"]["endorsement"]["valid_until"], "2999-12-31");

        // A session: 45 min instruction, a 15 min break, 30 min practice = 1.25 CEC at most.
        click(&c, "#new-session summary").await;
        fill(&c, "#se-title", "Ethics workshop").await;
        fill(&c, "#se-id", "s1").await;
        fill(&c, "#se-category", "ethics").await;
        set_date(&c, "#se-start", &start_wall).await;
        fill(&c, "#segments li:nth-child(1) .seg-minutes", "45").await;
        click(&c, "#add-segment").await;
        c.find(Locator::Css("#segments li:nth-child(2) .seg-kind"))
            .await
            .expect("kind")
            .select_by_value("break")
            .await
            .expect("break");
        fill(&c, "#segments li:nth-child(2) .seg-minutes", "15").await;
        click(&c, "#add-segment").await;
        c.find(Locator::Css("#segments li:nth-child(3) .seg-kind"))
            .await
            .expect("kind")
            .select_by_value("practice")
            .await
            .expect("practice");
        fill(&c, "#segments li:nth-child(3) .seg-minutes", "30").await;
        wait_text(&c, "#segments-total", "the total", |t| t == "90 minutes in all, 75 of them creditable.").await;
        click(&c, "#session-form button[type=submit]").await;
        wait_text(&c, "#sessions", "the session", |t| t.contains("Ethics workshop") && t.contains("up to 1.25 CEC"))
            .await;
        let s = node.get("/v1/events/field-day/sessions/s1").expect(200);
        assert_eq!(s["starts_at"], starts_at.to_string(), "the start was entered on Chicago's clocks");
        assert_eq!(s["category"], "ethics");
        assert_eq!(s["max_cecs"], "1.25");
        let shown = text(&c, "#sessions").await;
        let (h24, h12) = clock(starts_at);
        assert!(shown.contains(&h24) || shown.contains(&h12), "start shown in {TZ}: {shown}");

        // The roster from a CSV file: read in the page, refused rows named, then sent.
        let file = c.find(Locator::Css("#roster-file")).await.expect("file input");
        file.send_keys(&csv.to_string_lossy()).await.expect("choosing the file");
        wait_text(&c, "#csv-summary", "the rows read", |t| t == "roster.csv: 7 rows read, 3 ready to send, 4 refused.")
            .await;
        let refused = text(&c, "#csv-refused").await;
        for why in [
            "Line 4: no member id",
            "Line 5: member id “M 3” may hold only",
            "Line 6: no name for M-4",
            "Line 7: M-1 is already on line 2",
        ] {
            assert!(refused.contains(why), "{why:?} in {refused:?}");
        }
        node.get("/v1/events/field-day/roster").expect(200)["members"]
            .as_array()
            .filter(|m| m.is_empty())
            .expect("nothing sent before the organizer says so");
        c.execute("document.getElementById('roster-card').scrollIntoView()", vec![]).await.expect("scroll");
        screenshot(&c, 390, 844, "organize-phone-390-roster.png").await;
        c.set_window_size(390, 844).await.expect("size");
        click(&c, "#roster-send").await;
        wait_text(&c, "#roster-count", "the roster", |t| t == "3 members on the roster.").await;
        let roster = node.get("/v1/events/field-day/roster").expect(200);
        let names: Vec<&str> =
            roster["members"].as_array().expect("members").iter().filter_map(|m| m["name"].as_str()).collect();
        assert_eq!(names.len(), 3, "{roster}");
        assert!(names.contains(&"Lima, Ana") && names.contains(&"Chen \"CJ\" Jun"), "{names:?}");
        assert_eq!(roster["members"].as_array().expect("members")[0]["email"], "ana@example.org");

        // Check-ins arrive through the API (a kiosk at the door): Ana came and went, Ben is in
        // the room, Chen's scan was voided, and a badge not on the roster came in.
        let ana_in = starts_at + SignedDuration::from_mins(1);
        checkin(&node, "k1", "M-1", "in", ana_in);
        checkin(&node, "k2", "M-1", "out", starts_at + SignedDuration::from_mins(20));
        checkin(&node, "k3", "M-2", "in", starts_at + SignedDuration::from_mins(2));
        checkin(&node, "k4", "M-5", "in", starts_at + SignedDuration::from_mins(3));
        node.post("/v1/checkins/k4/void", &json!({"reason": "wrong badge"})).expect(200);
        checkin(&node, "k5", "M-77", "in", starts_at + SignedDuration::from_mins(4));
        let ana: Value = node.get("/v1/members/M-1/attendance?event_id=field-day").expect(200);
        let ana_cecs = ana["items"][0]["cecs"].as_str().expect("cecs").to_owned();

        c.find(Locator::Css("#att-session")).await.expect("session").select_by_value("s1").await.expect("s1");
        wait_text(&c, "#att-in-room", "two in the room", |t| t == "2").await;
        let ana_row = wait_text(&c, "li[data-member='M-1']", "Ana's attendance", |t| t.contains("CEC")).await;
        assert!(ana_row.contains(&format!("{ana_cecs} CEC")) && ana_row.contains("of 1.25"), "{ana_row}");
        assert!(ana_row.contains("Lima, Ana") && ana_row.contains("left"), "{ana_row}");
        let (h24, h12) = clock(ana_in);
        assert!(ana_row.contains(&format!("in {h24}")) || ana_row.contains(&format!("in {h12}")), "{ana_row}");
        let ben = text(&c, "li[data-member='M-2']").await;
        assert!(ben.contains("in the room"), "{ben}");
        let chen = text(&c, "li[data-member='M-5']").await;
        assert!(chen.contains("voided: wrong badge") && chen.contains("all scans voided"), "{chen}");
        let voided = c.find(Locator::Css("li[data-member='M-5'] .scans li")).await.expect("scan");
        assert_eq!(voided.attr("class").await.expect("class").as_deref(), Some("voided"));
        let stranger = text(&c, "li[data-member='M-77']").await;
        assert!(stranger.contains("not on the roster") && stranger.contains("in the room"), "{stranger}");
        let totals = text(&c, "#att-totals").await;
        assert!(totals.starts_with("4 came · 5 scans (1 voided)"), "{totals}");

        // A later scan shows on Refresh.
        checkin(&node, "k6", "M-2", "out", Timestamp::now());
        click(&c, "#att-refresh").await;
        wait_text(&c, "#att-in-room", "one in the room", |t| t == "1").await;

        c.execute("document.getElementById('attendance-card').scrollIntoView()", vec![]).await.expect("scroll");
        screenshot(&c, 390, 844, "organize-phone-390.png").await;
        c.execute("document.getElementById('attendance-card').scrollIntoView()", vec![]).await.expect("scroll");
        screenshot(&c, 820, 1180, "organize-tablet-820.png").await;
        c.execute("window.scrollTo(0, 0)", vec![]).await.expect("scroll");
        screenshot(&c, 820, 1180, "organize-tablet-820-top.png").await;
        c.close().await.expect("closing the browser");
    });
}

/// The local storage value under `key`, parsed.
async fn stored(c: &Client, key: &str) -> Value {
    let raw = c.execute("return localStorage.getItem(arguments[0])", vec![json!(key)]).await.expect("storage");
    raw.as_str().map_or(Value::Null, |s| serde_json::from_str(s).expect("JSON in storage"))
}

fn sessions_titled(node: &Node, title: &str) -> usize {
    let all = node.get("/v1/events/field-day/sessions?limit=1000").expect(200);
    all["items"].as_array().expect("items").iter().filter(|s| s["title"] == title).count()
}

fn roster_ids(node: &Node) -> Vec<String> {
    let r = node.get("/v1/events/field-day/roster").expect(200);
    r["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["member_id"].as_str().map(str::to_owned))
        .collect()
}

/// Clicks `css` after scrolling it to the middle of the viewport (clear of the sticky bar).
async fn click_centered(c: &Client, css: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    let arg = serde_json::to_value(&e).expect("element reference");
    c.execute("arguments[0].scrollIntoView({block: 'center'})", vec![arg]).await.expect("scroll");
    e.click().await.unwrap_or_else(|err| panic!("clicking {css}: {err}"));
}

/// Fills and submits the session form: `minutes` of instruction starting at `wall` (the event's
/// wall clock).
async fn add_session(c: &Client, title: &str, id: &str, wall: &str, minutes: &str) {
    let open = c.find(Locator::Css("#new-session")).await.expect("details").prop("open").await.expect("open");
    if open.as_deref() != Some("true") {
        click_centered(c, "#new-session summary").await;
    }
    fill(c, "#se-title", title).await;
    fill(c, "#se-id", id).await;
    set_date(c, "#se-start", wall).await;
    fill(c, "#segments li:nth-child(1) .seg-minutes", minutes).await;
    click_centered(c, "#session-form button[type=submit]").await;
}

#[test]
fn the_organizer_page_keeps_what_is_entered_while_the_node_restarts() {
    let Some(browser) = Browser::start("the_organizer_page_keeps_what_is_entered_while_the_node_restarts") else {
        return;
    };
    let mut node = Node::start();
    node.post(
        "/v1/events",
        &json!({"id": "field-day", "title": "Field Day 2027", "timezone": TZ,
                "provider": {"id": "P-9", "name": "Counseling Institute", "endorsement": null}}),
    )
    .expect(201);
    node.post(
        "/v1/events/field-day/sessions",
        &json!({"id": "s1", "title": "Morning session", "starts_at": "2027-03-01T15:00:00Z",
                "segments": [{"kind": "instruction", "minutes": 60}]}),
    )
    .expect(201);
    let link = open_link(&node);
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("late-roster.csv");
    std::fs::write(&csv, "member_id,name\nM-1,Ana Lima\nM-2,Ben Okafor\n").expect("csv");

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser.client().await;
        c.goto(&link).await.expect("open");
        wait_text(&c, "#sync-state", "the node answering", |t| t == "not syncing").await;
        c.find(Locator::Css("#event")).await.expect("event").select_by_value("field-day").await.expect("field-day");
        wait_text(&c, "#sessions", "the session", |t| t.contains("Morning session")).await;
        wait_text(&c, "#roster-count", "the empty roster", |t| t == "The roster is empty.").await;
        // A scan at the door, seen in the session's attendance.
        node.post(
            "/v1/checkins",
            &json!({"id": "k1", "event_id": "field-day", "session_id": "s1", "member_id": "M-1",
                    "direction": "in", "at": "2027-03-01T15:05:00Z"}),
        )
        .expect(201);
        c.find(Locator::Css("#att-session")).await.expect("session").select_by_value("s1").await.expect("s1");
        wait_text(&c, "li[data-member='M-1']", "the scan", |t| t.contains("in ")).await;

        // The node stops. A session and a roster submitted meanwhile are kept in the page, which
        // says so next to them and in the status line.
        assert!(node.terminate().success());
        add_session(&c, "Night session", "s2", "2027-03-01T19:00", "90").await;
        let kept = wait_text(&c, "#outbox-session", "the session kept", |t| t.contains("Waiting for the node")).await;
        assert!(kept.contains("Night session") && kept.contains("s2"), "{kept}");
        wait_text(&c, ".said", "the page saying so", |t| t.contains("kept on this page")).await;
        wait_text(&c, "#sessions", "the session listed as waiting", |t| {
            t.contains("Night session") && t.contains("waiting to be sent") && t.contains("Morning session")
        })
        .await;
        // A mistaken scan voided meanwhile waits too, under the check-in's id.
        click_centered(&c, "li[data-member='M-1'] .void-button").await;
        fill(&c, "li[data-member='M-1'] .void-reason", "wrong badge").await;
        click_centered(&c, "li[data-member='M-1'] .void-confirm").await;
        let kept = wait_text(&c, "#outbox-att", "the void kept", |t| t.contains("Waiting for the node")).await;
        assert!(kept.contains("void of the scan of M-1"), "{kept}");
        wait_text(&c, "li[data-member='M-1']", "the void shown as waiting", |t| {
            t.contains("void waiting to be sent: wrong badge")
        })
        .await;
        wait_text(&c, "#att-in-room", "the voided scan no longer counting here", |t| t == "0").await;
        c.execute("document.getElementById('attendance-card').scrollIntoView()", vec![]).await.expect("scroll");
        screenshot(&c, 390, 844, "organize-phone-390-void-waiting.png").await;
        c.set_window_size(390, 844).await.expect("size");
        let file = c.find(Locator::Css("#roster-file")).await.expect("file input");
        file.send_keys(&csv.to_string_lossy()).await.expect("choosing the file");
        wait_text(&c, "#csv-summary", "the rows read", |t| t.contains("2 ready to send")).await;
        click_centered(&c, "#roster-send").await;
        let kept = wait_text(&c, "#outbox-roster", "the roster kept", |t| t.contains("Waiting for the node")).await;
        assert!(kept.contains("2 members from late-roster.csv"), "{kept}");
        wait_text(&c, "#roster-count", "the members waiting", |t| t.contains("2 members waiting to be sent")).await;
        wait_text(&c, "#outbox-status", "the status line", |t| {
            t.starts_with("3 changes kept on this page, waiting for the node")
        })
        .await;
        wait_text(&c, "#sync-pending", "the sync bar's count", |t| t == "3 changes waiting for the node").await;
        wait_text(&c, "#sync-state", "offline", |t| t == "offline").await;
        assert!(!text(&c, "#offline").await.is_empty(), "the offline banner is shown");
        let queued = stored(&c, "cec.organize.outbox").await;
        let queued = queued.as_array().expect("the outbox");
        assert_eq!(
            queued.iter().map(|i| i["kind"].clone()).collect::<Vec<_>>(),
            vec![json!("session"), json!("void"), json!("roster")]
        );
        assert_eq!(queued[0]["body"]["id"], "s2", "the session waits under its own id");
        assert_eq!(queued[1]["path"], "/v1/checkins/k1/void", "the void waits under the check-in's id");
        c.execute("document.getElementById('sessions-card').scrollIntoView()", vec![]).await.expect("scroll");
        screenshot(&c, 390, 844, "organize-phone-390-pending.png").await;
        c.execute("window.scrollTo(0, 0)", vec![]).await.expect("scroll");
        screenshot(&c, 820, 1180, "organize-tablet-820-pending.png").await;
        c.set_window_size(390, 844).await.expect("size");

        // A reload while the node is down: the browser can only show its error page, and the
        // writes stay in the page's storage.
        let _ = c.refresh().await;
        node.restart_same_address();
        c.goto(&format!("http://{}/organize", node.addr())).await.expect("the page again");
        let voided =
            || node.get("/v1/checkins?event_id=field-day&session_id=s1").expect(200)["items"][0]["voided"].clone();
        wait_api("the session, void and roster to arrive", || {
            sessions_titled(&node, "Night session") == 1 && roster_ids(&node).len() == 2 && !voided().is_null()
        });
        let void = voided();
        assert_eq!(void["reason"], "wrong badge");
        let sent = wait_text(&c, "#outbox-session", "the node's answer", |t| t.contains("Sent")).await;
        assert!(sent.contains("Night session") && sent.contains("up to 1.5 CEC"), "{sent}");
        wait_text(&c, "#outbox-roster", "the node's answer", |t| t.contains("the roster has 2 members")).await;
        wait_text(&c, "#sync-pending", "nothing waiting", str::is_empty).await;
        wait_text(&c, "#roster-count", "the roster", |t| t == "2 members on the roster.").await;
        assert!(
            c.find(Locator::Css("#outbox-status"))
                .await
                .expect("status")
                .prop("hidden")
                .await
                .expect("hidden")
                .as_deref()
                == Some("true")
        );
        // Give a second send every chance to show, then count: once.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(sessions_titled(&node, "Night session"), 1);
        assert_eq!(voided(), void, "voided once: the first void stands");
        assert_eq!(node.get("/v1/events/field-day/sessions").expect(200)["items"].as_array().map(Vec::len), Some(2));
        let mut ids = roster_ids(&node);
        ids.sort();
        assert_eq!(ids, vec!["M-1", "M-2"]);

        // Cut off from the API only (the page itself loads): what the organizer submits now
        // waits, and a reload shows what the page last read, marked as such, with what waits.
        browser.block_api(&c, true).await;
        add_session(&c, "Clashing session", "s3", "2027-03-01T21:00", "30").await;
        wait_text(&c, "#outbox-session", "the session kept", |t| {
            t.contains("Waiting for the node: session “Clashing session”")
        })
        .await;
        // A new event, and a session of it, while still cut off.
        click_centered(&c, "#new-event summary").await;
        fill(&c, "#ev-title", "Second day").await;
        fill(&c, "#ev-id", "day-two").await;
        fill(&c, "#ev-tz", TZ).await;
        fill(&c, "#ev-prov-id", "P-9").await;
        fill(&c, "#ev-prov-name", "Counseling Institute").await;
        click_centered(&c, "#event-form button[type=submit]").await;
        wait_text(&c, "#event-info", "the event chosen, waiting", |t| t.contains("waiting to be sent")).await;
        add_session(&c, "Day two opening", "d2-open", "2027-03-02T09:00", "60").await;
        wait_text(&c, "#outbox-session", "its session kept", |t| t.contains("Day two opening")).await;
        c.refresh().await.expect("reload");
        wait_text(&c, "#sync-pending", "three waiting after the reload", |t| t == "3 changes waiting for the node")
            .await;
        wait_text(&c, "#events-stale", "the stale mark", |t| t.starts_with("Shown as last read from the node")).await;
        wait_text(&c, "#outbox-session", "the session still kept", |t| t.contains("Day two opening")).await;
        let events = text(&c, "#event").await;
        assert!(
            events.contains("Field Day 2027") && events.contains("Second day (day-two) · waiting to be sent"),
            "{events}"
        );
        c.find(Locator::Css("#event")).await.expect("event").select_by_value("field-day").await.expect("field-day");
        let listed = wait_text(&c, "#sessions", "the sessions as last read", |t| t.contains("Night session")).await;
        assert!(listed.contains("Clashing session") && listed.contains("waiting to be sent"), "{listed}");
        wait_text(&c, "#sessions-stale", "the stale mark", |t| t.starts_with("Shown as last read from the node")).await;
        wait_text(&c, "#roster-count", "the roster as last read", |t| t.starts_with("2 members on the roster")).await;
        screenshot(&c, 390, 844, "organize-phone-390-stale.png").await;
        c.set_window_size(390, 844).await.expect("size");

        // Meanwhile another organizer took the ids: s3 and day-two exist with other content.
        // Sent again, they are refused, with the reason; the session of the refused event is
        // not sent.
        node.post(
            "/v1/events/field-day/sessions",
            &json!({"id": "s3", "title": "Someone else's", "starts_at": "2027-03-01T22:00:00Z",
                    "segments": [{"kind": "instruction", "minutes": 45}]}),
        )
        .expect(201);
        node.post(
            "/v1/events",
            &json!({"id": "day-two", "title": "Another second day", "timezone": TZ,
                    "provider": {"id": "P-1", "name": "Elsewhere", "endorsement": null}}),
        )
        .expect(201);
        browser.block_api(&c, false).await;
        let refused = wait_text(&c, "#outbox-session", "the refusal", |t| t.contains("Refused by the node")).await;
        assert!(refused.contains("Clashing session") && refused.contains("exists with other content"), "{refused}");
        let ev = wait_text(&c, "#outbox-event", "the event's refusal", |t| t.contains("Refused by the node")).await;
        assert!(ev.contains("Second day") && ev.contains("exists with other content"), "{ev}");
        assert!(
            ev.contains("Not sent: session “Day two opening”")
                && ev.contains("Its event “Second day” (day-two) was refused"),
            "{ev}\n{}",
            stored(&c, "cec.organize.outbox").await
        );
        wait_text(&c, "#outbox-status", "the status line", |t| {
            t.contains("3 changes not stored: the node refused them")
        })
        .await;
        wait_text(&c, "#sync-pending", "nothing waiting, three refused", |t| t == "3 changes refused").await;
        assert_eq!(node.get("/v1/events/field-day/sessions/s3").expect(200)["title"], "Someone else's");
        node.get("/v1/events/day-two/sessions/d2-open").expect_error(404, "not_found");
        c.execute("document.getElementById('event-card').scrollIntoView()", vec![]).await.expect("scroll");
        screenshot(&c, 390, 844, "organize-phone-390-refused.png").await;
        screenshot(&c, 820, 1180, "organize-tablet-820-refused.png").await;
        c.set_window_size(390, 844).await.expect("size");
        // The refusals stay until dismissed.
        c.refresh().await.expect("reload");
        wait_text(&c, "#outbox-event", "the refusal after a reload", |t| t.contains("Refused by the node")).await;
        let before = c.find_all(Locator::Css("li.outbox-item.refused")).await.expect("items").len();
        c.find(Locator::Css("li.outbox-item.refused button")).await.expect("dismiss").click().await.expect("dismiss");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while c.find_all(Locator::Css("li.outbox-item.refused")).await.expect("items").len() != before - 1 {
            assert!(std::time::Instant::now() < deadline, "dismissed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        c.close().await.expect("closing the browser");
    });
}
