//! The member's portfolio page in headless Chromium against a real `cecd`: opened with the link
//! `cec open --page portfolio --member M-1` prints, it shows the totals the API gives, times of
//! event records in the event's time zone, and lets the member add an entry with an evidence
//! file (an error from the API shown next to the field first), edit it, set a goal with a
//! benchmark, petition another association with chosen records, download the packet, record
//! the answer ("accepted 5.5") and download transcripts; when the node stops, the page says so.
//! On a member's own node (enrolled as `member:M-1` with a central node), the page takes the
//! member from the credential, shows what the node synced, and an entry added there reaches the
//! central node.
//!
//! Without Chromium or chromedriver the test says SKIPPED and passes, except in CI. Screenshots
//! at phone (390 px) and tablet (820 px) widths go to `<target>/ui-artifacts/`.

use std::process::{Command, Stdio};

use cec_e2e::browser::{Browser, screenshot, text, wait_api, wait_download, wait_text};
use cec_e2e::{Node, workspace_bin};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"))
}

async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

async fn fill(c: &Client, css: &str, value: &str) {
    let e = find(c, css).await;
    e.clear().await.unwrap_or_else(|e| panic!("clearing {css}: {e}"));
    e.send_keys(value).await.unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

/// A date field: the value as the page reads it (typing depends on the browser's locale).
async fn set_date(c: &Client, css: &str, date: &str) {
    let e = find(c, css).await;
    c.execute(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        vec![serde_json::to_value(&e).expect("element"), json!(date)],
    )
    .await
    .expect("setting a date");
}

fn portfolio(node: &Node) -> Value {
    node.get("/v1/portfolios/M-1").expect(200)
}

/// The totals the page shows are the API's, string for string.
async fn assert_totals(c: &Client, node: &Node) {
    let t = portfolio(node)["totals"].clone();
    let cecs = node.get("/v1/members/M-1/cecs").expect(200);
    let total = t["total_cecs"].as_str().expect("total").to_owned();
    wait_text(c, "#t-total", "the API's total", |s| s == total).await;
    assert_eq!(cecs["total_cecs"], t["total_cecs"], "/cecs and the portfolio agree");
    assert_eq!(text(c, "#t-verified").await, t["verified_cecs"].as_str().expect("verified"));
    assert_eq!(text(c, "#t-self").await, t["self_reported_cecs"].as_str().expect("self"));
    assert_eq!(text(c, "#t-ceus").await, t["ceus"].as_str().expect("ceus"));
    assert_eq!(text(c, "#t-hours").await, t["contact_hours"].as_str().expect("hours"));
    // The chart's top is the running total the page added up exactly: the API's total.
    assert_eq!(text(c, "#chart-top").await, total);
}

fn cec_open_link(node: &Node) -> String {
    let out = Command::new(workspace_bin("cec"))
        .arg("--data-dir")
        .arg(node.data_dir())
        .args(["open", "--page", "portfolio", "--member", "M-1", "--no-browser"])
        .env_remove("CEC_URL")
        .env_remove("CECD_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("running cec open");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "cec open: {stdout} {}", String::from_utf8_lossy(&out.stderr));
    let link = stdout.lines().next().unwrap_or_default().to_owned();
    assert!(link.starts_with(&format!("http://{}/open?ticket=", node.addr())), "{stdout}");
    assert!(link.ends_with("#member=M-1"), "{link}");
    assert!(!stdout.contains(node.token()), "the token never appears in a link");
    link
}

/// Event `C` in Los Angeles with its 75-minute session `s1` (from 03:00 UTC, 19:00 the evening
/// before there), and M-1 (Ana Lima) in and out for all of it: 1.25 verified.
fn winter_institute(node: &Node) {
    node.post(
        "/v1/events",
        &json!({"id": "C", "title": "Winter Institute", "timezone": "America/Los_Angeles",
                "provider": {"id": "P", "name": "Pacific Counseling Institute", "endorsement": {"number": "E-77",
                    "valid_from": "2000-01-01", "valid_until": "2999-12-31"}}}),
    )
    .expect(201);
    node.post(
        "/v1/events/C/sessions",
        &json!({"id": "s1", "title": "Ethics after hours", "category": "ethics",
                "starts_at": "2026-03-02T03:00:00Z", "segments": [{"kind": "instruction", "minutes": 75}]}),
    )
    .expect(201);
    node.post("/v1/events/C/roster", &json!({"members": [{"member_id": "M-1", "name": "Ana Lima"}]})).expect(200);
    for (id, dir, at) in [("i1", "in", "2026-03-02T03:00:00Z"), ("o1", "out", "2026-03-02T04:15:00Z")] {
        node.post(
            "/v1/checkins",
            &json!({"id": id, "event_id": "C", "session_id": "s1", "member_id": "M-1", "direction": dir, "at": at}),
        )
        .expect(201);
    }
}

#[test]
fn the_portfolio_page_in_chromium() {
    let Some(browser) = Browser::start("the_portfolio_page_in_chromium") else { return };

    // An endorsed event in Los Angeles: its 75-minute session starts at 03:00 UTC, which is
    // 19:00 the evening before there. M-1 attends all of it (1.25 verified) and reported a
    // self-study activity of 3.25 herself.
    let mut node = Node::start();
    winter_institute(&node);
    node.post(
        "/v1/portfolios/M-1/entries",
        &json!({"id": "reading", "kind": "activity", "title": "Self-study: ethics casebook", "date": "2026-01-10",
                "cecs": "3.25", "category": "ethics"}),
    )
    .expect(201);

    // The evidence file, a certificate.
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("certificate.pdf");
    let cert_bytes = b"%PDF-1.4\n% a workshop certificate for Ana Lima\n%%EOF\n".to_vec();
    std::fs::write(&cert, &cert_bytes).expect("certificate");
    let cert_sha = hex(&Sha256::digest(&cert_bytes));

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser.client_with_downloads().await;
        let downloads = browser.downloads_dir();

        // `cec open --page portfolio --member M-1` prints a one-time link; the member rides in
        // the fragment, which the redirect keeps and the server never sees.
        let link = cec_open_link(&node);
        c.goto(&link).await.expect("open");
        let url = c.current_url().await.expect("url");
        assert_eq!(url.path(), "/portfolio");
        assert!(url.query().is_none(), "the ticket is not left in the address bar");
        assert_eq!(url.fragment(), Some("member=M-1"));
        assert_eq!(c.execute("return document.cookie", vec![]).await.expect("cookie"), json!(""));
        wait_text(&c, "#member-info", "the member", |t| t.contains("Ana Lima") && t.contains("M-1")).await;
        wait_text(&c, "#sync-state", "the node answering", |t| t == "not syncing").await;
        assert_totals(&c, &node).await;
        assert_eq!(text(&c, "#t-verified").await, "1.25");
        assert_eq!(text(&c, "#t-self").await, "3.25");

        // The verified record shows when the session began in the event's own time zone.
        let when = wait_text(&c, "li[data-record='C/s1'] .when", "the session's time", |t| !t.is_empty()).await;
        assert!(
            when.contains("2026-03-01") && when.contains("19:00") && when.contains("America/Los_Angeles"),
            "{when}"
        );
        let facts = text(&c, "li[data-record='C/s1']").await;
        assert!(facts.contains("E-77") && facts.contains("verification"), "{facts}");

        // Add an activity with its certificate. The node refuses 1.3 CECs (not in quarters): the
        // page says so next to the field, and nothing is stored.
        find(&c, "#entry-file").await.send_keys(&cert.to_string_lossy()).await.expect("choosing the file");
        wait_text(&c, "#entry-file-status", "the upload", |t| t.contains("certificate.pdf attached")).await;
        assert!(text(&c, "#entry-evidence").await.contains("certificate.pdf"));
        fill(&c, "#entry-title", "Trauma-informed care workshop").await;
        set_date(&c, "#entry-date", "2026-02-14").await;
        fill(&c, "#entry-cecs", "1.3").await;
        fill(&c, "#entry-provider", "Bay Area Clinic").await;
        click(&c, "#entry-form button[type=submit]").await;
        let err = wait_text(&c, "#entry-form .error", "the refusal", |t| !t.is_empty()).await;
        assert!(err.starts_with("CECs"), "the error names the field: {err}");
        assert_eq!(find(&c, "#entry-cecs").await.attr("aria-invalid").await.expect("attr").as_deref(), Some("true"));
        assert_eq!(portfolio(&node)["entries"].as_array().map(Vec::len), Some(1), "nothing stored");
        fill(&c, "#entry-cecs", "1.5").await;
        click(&c, "#entry-form button[type=submit]").await;
        wait_text(&c, "#entries", "the new entry", |t| t.contains("Trauma-informed care workshop")).await;
        let entries = portfolio(&node)["entries"].as_array().expect("entries").clone();
        let added = entries.iter().find(|e| e["title"] == "Trauma-informed care workshop").expect("stored");
        assert_eq!(added["cecs"], "1.5");
        assert_eq!(added["date"], "2026-02-14");
        assert_eq!(added["evidence"], json!([cert_sha]));
        let blob = node.get(&format!("/v1/blobs/{cert_sha}"));
        assert_eq!(blob.status, 200);
        assert_eq!(blob.body, cert_bytes, "the file arrived whole");
        let added_id = added["id"].as_str().expect("id").to_owned();
        wait_text(&c, "#t-total", "the new total", |t| t == "6").await;
        assert_totals(&c, &node).await;

        // A goal with a benchmark.
        fill(&c, "#goal-title", "12 CECs by June").await;
        fill(&c, "#goal-target", "12").await;
        set_date(&c, "#goal-start", "2026-01-01").await;
        set_date(&c, "#goal-due", "2026-06-30").await;
        click(&c, "#add-benchmark").await;
        fill(&c, "#benchmark-rows input[name=bm_title]", "Half way").await;
        fill(&c, "#benchmark-rows input[name=bm_target]", "6").await;
        set_date(&c, "#benchmark-rows input[name=bm_due]", "2026-03-31").await;
        click(&c, "#goal-form button[type=submit]").await;
        wait_text(&c, "#goals", "the goal", |t| t.contains("12 CECs by June")).await;
        let goal = portfolio(&node)["goals"][0].clone();
        assert_eq!(goal["target_cecs"], "12");
        assert_eq!(goal["due"], "2026-06-30");
        assert_eq!(goal["benchmarks"][0]["title"], "Half way");
        assert_eq!(goal["benchmarks"][0]["target_cecs"], "6");
        let shown = text(&c, "#goals .goal-progress").await;
        assert!(shown.starts_with(&format!("{} of 12 CEC", goal["earned_cecs"].as_str().expect("earned"))), "{shown}");
        assert!(text(&c, "#goals").await.contains("Half way: 6 by 2026-03-31"));

        // A petition from all three records: 1.25 + 3.25 + 1.5, added up exactly on the page.
        for record in ["C/s1", "reading", added_id.as_str()] {
            click(&c, &format!("li[data-record='{record}'] input[type=checkbox]")).await;
        }
        wait_text(&c, "#chosen", "the chosen total", |t| t == "3 records chosen: 6 CEC.").await;
        fill(&c, "#petition-target", "State Board of Counseling").await;
        click(&c, "#petition-form button[type=submit]").await;
        wait_text(&c, "#petitions", "the petition", |t| t.contains("State Board of Counseling")).await;
        let petition = portfolio(&node)["petitions"][0].clone();
        assert_eq!(petition["requested_cecs"], "6");
        assert_eq!(petition["record_ids"].as_array().map(Vec::len), Some(3));
        let pid = petition["id"].as_str().expect("petition id").to_owned();
        let summary = text(&c, &format!("li[data-petition='{pid}'] .petition-summary")).await;
        assert!(summary.starts_with("3 records, 6 CEC requested"), "{summary}");

        // Its packet downloads as a PDF.
        click(&c, &format!("li[data-petition='{pid}'] a[href$='format=pdf']")).await;
        let (_, packet) = wait_download(&downloads, &format!("petition-{pid}")).await;
        assert!(packet.starts_with(b"%PDF"), "the packet is a PDF");

        // The answer: "accepted 5.5" of 6 is a partial acceptance (the draft is marked
        // submitted on the way).
        fill(&c, &format!("li[data-petition='{pid}'] input[name=accepted_cecs]"), "5.5").await;
        find(&c, &format!("li[data-petition='{pid}'] select[name=status]"))
            .await
            .select_by_value("accepted")
            .await
            .expect("answer");
        click(&c, &format!("li[data-petition='{pid}'] .answer-form button[type=submit]")).await;
        wait_text(&c, &format!("li[data-petition='{pid}'] .petition-summary"), "the answer", |t| {
            t.contains("5.5 CEC accepted")
        })
        .await;
        let petition = portfolio(&node)["petitions"][0].clone();
        assert_eq!(petition["status"], "partially_accepted");
        assert_eq!(petition["accepted_cecs"], "5.5");
        assert_eq!(text(&c, &format!("li[data-petition='{pid}'] .tag")).await, "partially accepted");

        // Edit the entry while the petition holds it: its wording may change (only what changed
        // is sent, so its credit and date are left alone).
        click(&c, &format!("li[data-entry='{added_id}'] button")).await;
        wait_text(&c, "#entry-form-h", "the editor", |t| t.starts_with("Edit")).await;
        fill(&c, "#entry-title", "Trauma-informed care workshop (day 1)").await;
        click(&c, "#entry-form button[type=submit]").await;
        wait_text(&c, "#entries", "the edited entry", |t| t.contains("(day 1)")).await;
        let edited = node.get("/v1/portfolios/M-1/entries").expect(200)["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|e| e["id"] == added_id.as_str())
            .cloned()
            .expect("the entry");
        assert_eq!(edited["title"], "Trauma-informed care workshop (day 1)");
        assert_eq!(edited["cecs"], "1.5");
        assert_eq!(edited["evidence"], json!([cert_sha]), "the evidence stays");

        // Transcripts: the PDF and the CSV download, the CSV byte for byte what the API gives.
        click(&c, "#transcript-pdf").await;
        let (_, pdf) = wait_download(&downloads, "transcript-M-1.pdf").await;
        assert!(pdf.starts_with(b"%PDF"), "the transcript is a PDF");
        click(&c, "#transcript-csv").await;
        let (_, csv) = wait_download(&downloads, "transcript-M-1.csv").await;
        let api_csv = node.get("/v1/portfolios/M-1/transcript?format=csv");
        assert_eq!(api_csv.status, 200);
        assert_eq!(csv, api_csv.body);
        assert!(String::from_utf8_lossy(&csv).contains("Ethics after hours"));

        assert_totals(&c, &node).await;
        c.execute("window.scrollTo(0, 0)", vec![]).await.expect("scroll");
        screenshot(&c, 390, 844, "portfolio-phone-390.png").await;
        screenshot(&c, 390, 6000, "portfolio-phone-390-full.png").await;
        screenshot(&c, 820, 1180, "portfolio-tablet-820.png").await;
        screenshot(&c, 820, 5000, "portfolio-tablet-820-full.png").await;
        screenshot(&c, 1280, 3200, "portfolio-laptop-1280-full.png").await;
        c.set_window_size(390, 844).await.expect("size");

        // The node stops: the page says so, and a save says nothing was saved.
        assert!(node.terminate().success());
        let banner = find(&c, "#unreachable").await;
        let deadline = std::time::Instant::now() + cec_e2e::browser::WAIT;
        while !banner.is_displayed().await.expect("displayed") {
            assert!(std::time::Instant::now() < deadline, "the page did not say the node is unreachable");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        wait_text(&c, "#sync-state", "offline", |t| t == "offline").await;
        fill(&c, "#goal-title", "Ethics 3 by May").await;
        fill(&c, "#goal-target", "3").await;
        set_date(&c, "#goal-due", "2026-05-31").await;
        click(&c, "#goal-form button[type=submit]").await;
        let err = wait_text(&c, "#goal-form .error", "the offline error", |t| !t.is_empty()).await;
        assert!(err.contains("does not answer"), "{err}");
        c.execute("window.scrollTo(0, 0)", vec![]).await.expect("scroll");
        screenshot(&c, 390, 844, "portfolio-phone-390-offline.png").await;
        c.close().await.expect("closing the browser");
    });
}

/// The entries of M-1's portfolio on `node`, by title.
fn entry_titles(node: &Node) -> Vec<String> {
    portfolio(node)["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["title"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_portfolio_page_on_a_members_own_node() {
    let Some(browser) = Browser::start("the_portfolio_page_on_a_members_own_node") else { return };

    // The central node holds the event and derives M-1's verified record; Ana's own node is
    // enrolled as member M-1 and gets her portfolio by syncing.
    let central = Node::central("sync_interval_secs = 0\n", &["--peer-listen", "127.0.0.1:0"]);
    winter_institute(&central);
    let member = Node::start_configured("sync_interval_secs = 0\n", &[]);
    let body = json!({"role": "member", "scopes": ["member:M-1"], "uses": 1, "expires_at": "2099-01-01T00:00:00Z"});
    let code = central.post("/v1/admin/enrolments", &body).expect(201)["code"].clone();
    let enrolled = member.post("/v1/node/enroll", &json!({"code": code})).expect(200);
    assert_eq!(enrolled["credential"]["scopes"], json!(["member:M-1"]));
    wait_api("the verified record on the member's node", || {
        let r = member.post("/v1/sync", &json!({})).expect(200);
        assert!(r["peers"][0]["error"].is_null(), "{r}");
        member.get("/v1/members/M-1/cecs").expect(200)["verified_cecs"] == "1.25"
    });

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser.client().await;

        // `cec open portfolio` needs no --member there: the page takes it from the credential.
        let (status, out, err) = member.cec(&["open", "portfolio", "--no-browser"]);
        assert_eq!(status, 0, "{out}{err}");
        let link = out.lines().next().unwrap_or_default().to_owned();
        assert!(link.starts_with(&format!("http://{}/open?ticket=", member.addr())), "{out}");
        assert!(!link.contains('#'), "no member in the link: {link}");
        c.goto(&link).await.expect("open");
        let url = c.current_url().await.expect("url");
        assert_eq!(url.path(), "/portfolio");
        assert_eq!(url.fragment(), None);
        let who = wait_text(&c, "#member-info", "the device's member", |t| t.contains("M-1")).await;
        assert!(who.contains("this device's member"), "{who}");
        // Her name as she registered: the central node wrote it into her portfolio.
        assert!(who.starts_with("Ana Lima"), "{who}");
        let typed = find(&c, "#member-id").await.prop("value").await.expect("value");
        assert_eq!(typed.as_deref(), Some("M-1"));
        assert!(!find(&c, "#member-id").await.is_displayed().await.expect("displayed"), "no other member to choose");
        assert_eq!(c.current_url().await.expect("url").fragment(), None, "nothing added to the address");

        // What the member's node holds, as its API gives it: the verified record it synced.
        assert_totals(&c, &member).await;
        assert_eq!(text(&c, "#t-verified").await, "1.25");
        let record = wait_text(&c, "li[data-record='C/s1']", "the verified record", |t| t.contains("1.25 CEC")).await;
        assert!(record.contains("verified") && record.contains("E-77"), "{record}");
        // The event itself is not on a member's node: the record shows its date.
        assert!(text(&c, "li[data-record='C/s1'] .when").await.starts_with("2026-03-0"), "{record}");
        wait_text(&c, "#sync-state", "synced with the central node", |t| t == "online").await;
        assert_eq!(text(&c, "#sync-peers").await, "peer reachable");
        assert_eq!(text(&c, "#sync-central").await, "", "no check-ins to count on a portfolio");

        // She adds an activity on her own node; it reaches the central node at the next sync.
        fill(&c, "#entry-title", "Ethics casebook, self-study").await;
        set_date(&c, "#entry-date", "2026-02-10").await;
        fill(&c, "#entry-cecs", "2").await;
        click(&c, "#entry-form button[type=submit]").await;
        wait_text(&c, "#entries", "the new entry", |t| t.contains("Ethics casebook, self-study")).await;
        wait_text(&c, "#t-total", "the new total", |t| t == "3.25").await;
        assert_totals(&c, &member).await;
        assert!(entry_titles(&member).contains(&"Ethics casebook, self-study".to_owned()));
        let r = member.post("/v1/sync", &json!({})).expect(200);
        assert!(r["peers"][0]["error"].is_null(), "{r}");
        assert!(
            entry_titles(&central).contains(&"Ethics casebook, self-study".to_owned()),
            "synced to the central node"
        );
        assert_eq!(central.get("/v1/members/M-1/cecs").expect(200)["total_cecs"], "3.25");

        // A reload shows her portfolio again, with no member in the address.
        c.refresh().await.expect("reload");
        wait_text(&c, "#t-total", "the total after a reload", |t| t == "3.25").await;
        assert!(text(&c, "#member-info").await.contains("this device's member"));
        c.execute("window.scrollTo(0, 0)", vec![]).await.expect("scroll");
        screenshot(&c, 390, 844, "portfolio-phone-390-own-member.png").await;
        screenshot(&c, 820, 1180, "portfolio-tablet-820-own-member.png").await;
        c.close().await.expect("closing the browser");
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
