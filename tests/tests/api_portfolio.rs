//! Happy paths: portfolios, entries, goals, requirements, petitions, packets, transcripts,
//! blobs.

use std::io::Write;
use std::process::{Command, Stdio};

use cec_e2e::fixtures::{checkin_body, conference};
use cec_e2e::{Node, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Member `M-1` with verified credit (full `s75`, ethics 1.25; the lunch keynote, general 0.5)
/// and two self-reported activities (`read` 1.25 clinical, `course` 50 minutes: 0.75 ethics).
fn member_with_credit(node: &Node) {
    conference(node, "conf");
    let scans = [
        checkin_body("k1", "conf", "s75", "M-1", "in", "14:00"),
        checkin_body("k2", "conf", "s75", "M-1", "out", "15:15"),
        checkin_body("k3", "conf", "lunch", "M-1", "in", "17:00"),
        checkin_body("k4", "conf", "lunch", "M-1", "out", "18:30"),
    ];
    node.post("/v1/checkins/batch", &json!({"checkins": scans})).expect(200);
    let read = json!({"id": "read", "kind": "activity", "title": "Reading", "date": "2026-02-10",
                      "cecs": "1.25", "category": "clinical", "provider": "Self"});
    let e = node.post("/v1/portfolios/M-1/entries", &read).expect(201);
    assert_eq!((e["cecs"].as_str(), e["credited_cecs"].as_str()), (Some("1.25"), Some("1.25")));
    let course = json!({"id": "course", "kind": "activity", "title": "Online course", "date": "2026-05-02",
                        "contact_minutes": 50, "category": "ethics"});
    let e = node.post("/v1/portfolios/M-1/entries", &course).expect(201);
    assert_eq!((e["cecs"].clone(), e["credited_cecs"].as_str()), (Value::Null, Some("0.75")), "{e}");
}

#[test]
fn portfolio_entries_goals_and_requirements() {
    let node = Node::start();
    let empty = node.get("/v1/portfolios/M-1").expect(200);
    assert_eq!((empty["member_id"].as_str(), empty["entries"].clone()), (Some("M-1"), json!([])));
    assert_eq!(empty["totals"]["total_cecs"], "0");
    member_with_credit(&node);

    let note = json!({"id": "n1", "kind": "note", "title": "Supervision notes", "date": "2026-03-03",
                      "description": "weekly"});
    assert_eq!(node.post("/v1/portfolios/M-1/entries", &note).expect(201)["credited_cecs"], Value::Null);
    let exp = json!({"kind": "work_sample", "title": "Case write-up", "date": "2026-03-04"});
    let made = node.post("/v1/portfolios/M-1/entries", &exp).expect(201);
    let made_id = made["id"].as_str().expect("id").to_owned();
    let patched = node
        .patch(&format!("/v1/portfolios/M-1/entries/{made_id}"), &json!({"title": "Case study", "description": "x"}));
    let patched = patched.expect(200);
    assert_eq!((patched["title"].as_str(), patched["description"].as_str()), (Some("Case study"), Some("x")));
    assert_eq!(patched["kind"], "work_sample");
    let cleared = node.patch("/v1/portfolios/M-1/entries/n1", &json!({"description": null})).expect(200);
    assert!(cleared["description"].is_null(), "{cleared}");
    let more = node.patch("/v1/portfolios/M-1/entries/read", &json!({"cecs": "1.5"})).expect(200);
    assert_eq!(more["credited_cecs"], "1.5");
    let by_time = node.patch("/v1/portfolios/M-1/entries/read", &json!({"cecs": null, "contact_minutes": 30}));
    let by_time = by_time.expect(200);
    assert_eq!((by_time["cecs"].clone(), by_time["credited_cecs"].as_str()), (Value::Null, Some("0.5")), "{by_time}");
    let back = node.patch("/v1/portfolios/M-1/entries/read", &json!({"cecs": "1.25", "contact_minutes": null}));
    assert_eq!(back.expect(200)["contact_minutes"], Value::Null);
    let deleted = node.delete(&format!("/v1/portfolios/M-1/entries/{made_id}"));
    assert_eq!((deleted.status, deleted.body.len()), (204, 0));
    node.delete(&format!("/v1/portfolios/M-1/entries/{made_id}")).expect_error(404, "not_found");

    let p = node.get("/v1/portfolios/M-1").expect(200);
    let entry_ids: Vec<&str> =
        p["entries"].as_array().expect("entries").iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(entry_ids.len(), 3, "{entry_ids:?}");
    assert!(entry_ids.contains(&"read") && entry_ids.contains(&"course") && entry_ids.contains(&"n1"));
    let verified: Vec<&str> =
        p["verified"].as_array().expect("verified").iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(verified, ["conf/lunch", "conf/s75"]);
    let t = &p["totals"];
    assert_eq!(
        (t["verified_cecs"].as_str(), t["self_reported_cecs"].as_str(), t["total_cecs"].as_str()),
        (Some("1.75"), Some("2"), Some("3.75"))
    );
    assert_eq!(t["by_category"], json!({"clinical": "1.25", "ethics": "2", "general": "0.5"}));

    // Goals: one met (on track whatever the date), one past due and missed, one per category.
    let met = json!({"title": "3 CECs in 2026", "target_cecs": "3", "start": "2026-01-01", "due": "2026-12-31"});
    let g = node.put("/v1/portfolios/M-1/goals/g-met", &met).expect(200);
    assert_eq!((g["earned_cecs"].as_str(), g["remaining_cecs"].as_str()), (Some("3.75"), Some("0")), "{g}");
    assert_eq!((g["met"].as_bool(), g["on_track"].as_bool()), (Some(true), Some(true)));
    let missed = json!({"title": "Old plan", "target_cecs": "5", "start": "2020-01-01", "due": "2021-01-01",
                        "benchmarks": [{"title": "half", "target_cecs": "2.5", "due": "2020-06-30"}]});
    let g = node.put("/v1/portfolios/M-1/goals/g-missed", &missed).expect(200);
    assert_eq!((g["earned_cecs"].as_str(), g["remaining_cecs"].as_str()), (Some("0"), Some("5")), "{g}");
    assert_eq!((g["met"].as_bool(), g["on_track"].as_bool()), (Some(false), Some(false)));
    assert_eq!(g["benchmarks"][0]["status"], "missed");
    // Renaming an old goal without restating its start keeps the start (and is valid).
    let renamed = json!({"title": "Old plan, renamed", "target_cecs": "5", "due": "2021-01-01"});
    let g = node.put("/v1/portfolios/M-1/goals/g-missed", &renamed).expect(200);
    assert_eq!((g["start"].as_str(), g["title"].as_str()), (Some("2020-01-01"), Some("Old plan, renamed")));
    let e = node.put("/v1/portfolios/M-1/goals/g-new", &renamed).expect_error(422, "invalid");
    assert_eq!(e["field"], "start", "a new goal starts today, after its due date");
    let ethics = json!({"title": "Ethics", "target_cecs": "4", "category": "ethics", "start": "2026-01-01",
                        "due": "2026-12-31"});
    let g = node.put("/v1/portfolios/M-1/goals/g-ethics", &ethics).expect(200);
    assert_eq!((g["earned_cecs"].as_str(), g["remaining_cecs"].as_str()), (Some("2"), Some("2")), "{g}");
    let goals = node.get("/v1/portfolios/M-1/goals").expect(200);
    assert_eq!(goals["items"].as_array().map(Vec::len), Some(3));
    let g = node.put(
        "/v1/portfolios/M-1/goals/g-ethics",
        &json!({"title": "Ethics", "target_cecs": "2",
        "category": "ethics", "start": "2026-01-01", "due": "2026-12-31"}),
    );
    assert_eq!(g.expect(200)["met"], true, "PUT replaces");
    assert_eq!(node.get("/v1/portfolios/M-1/goals").expect(200)["items"].as_array().map(Vec::len), Some(3));

    // A goal keeps its start when a PUT leaves it out, and takes the one a PUT gives, even
    // today's (the node's today: what a goal made without a start gets).
    let today = node.put("/v1/portfolios/M-9/goals/t", &json!({"title": "t", "target_cecs": "1", "due": "2100-01-01"}));
    let today = today.expect(200)["start"].as_str().expect("start").to_owned();
    let path = "/v1/portfolios/M-9/goals/s";
    let with = |start: &str| json!({"title": "s", "target_cecs": "1", "start": start, "due": "2100-01-01"});
    assert_eq!(node.put(path, &with("2020-01-01")).expect(200)["start"], "2020-01-01");
    let kept = node.put(path, &json!({"title": "s2", "target_cecs": "1", "due": "2100-01-01"})).expect(200);
    assert_eq!((kept["start"].as_str(), kept["title"].as_str()), (Some("2020-01-01"), Some("s2")));
    assert_eq!(node.put(path, &with(&today)).expect(200)["start"], today.as_str());

    // A requirement program: met in ethics, missing in clinical and in total.
    let program = json!({"title": "License renewal", "window_start": "2026-01-01", "window_end": "2027-12-31",
                         "total_cecs": "10", "minimums": {"ethics": "1.5", "clinical": "3"}});
    let r = node.put("/v1/portfolios/M-1/requirements/lic", &program).expect(200);
    assert_eq!(
        (r["earned_cecs"].as_str(), r["missing_cecs"].as_str(), r["met"].as_bool()),
        (Some("3.75"), Some("6.25"), Some(false))
    );
    let cats = r["categories"].as_array().expect("categories");
    let cat = |c: &str| cats.iter().find(|x| x["category"] == c).unwrap_or_else(|| panic!("{c}: {r}"));
    assert_eq!((cat("ethics")["met"].as_bool(), cat("ethics")["missing_cecs"].as_str()), (Some(true), Some("0")));
    assert_eq!(
        (cat("clinical")["met"].as_bool(), cat("clinical")["missing_cecs"].as_str()),
        (Some(false), Some("1.75"))
    );
    let easy = json!({"title": "Specialty", "window_start": "2026-01-01", "window_end": "2026-12-31",
                      "total_cecs": "1", "minimums": {"ethics": "1"}, "verified_only": true});
    let r = node.put("/v1/portfolios/M-1/requirements/spec", &easy).expect(200);
    assert_eq!((r["met"].as_bool(), r["earned_cecs"].as_str()), (Some(true), Some("1.75")), "{r}");
    let list = node.get("/v1/portfolios/M-1/requirements").expect(200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
}

fn pdf_text(pdf: &[u8]) -> Option<String> {
    let mut child = Command::new("pdftotext")
        .args(["-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(pdf).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn assert_pdf(r: &Response, must_contain: &[&str]) {
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/pdf")));
    assert!(r.body.starts_with(b"%PDF-"), "not a PDF: {:?}", &r.body[..r.body.len().min(20)]);
    assert!(r.body.windows(5).any(|w| w == b"%%EOF"), "PDF without %%EOF");
    if let Some(text) = pdf_text(&r.body) {
        for s in must_contain {
            assert!(text.contains(s), "{s:?} missing from the PDF text:\n{text}");
        }
    }
}

#[test]
fn petitions_packets_and_transcripts() {
    let node = Node::start();
    member_with_credit(&node);
    let cecs = node.get("/v1/members/M-1/cecs").expect(200);
    let s75 = cecs["records"].as_array().expect("records").iter().find(|r| r["id"] == "conf/s75").expect("s75").clone();
    let code = s75["verification_code"].as_str().expect("verification code").to_owned();

    let body = json!({"id": "pet-1", "target_association": "State Board", "record_ids": ["conf/s75", "read"],
                      "note": "Please accept"});
    let pt = node.post("/v1/portfolios/M-1/petitions", &body).expect(201);
    assert_eq!((pt["status"].as_str(), pt["requested_cecs"].as_str()), (Some("draft"), Some("2.5")), "{pt}");
    assert!(pt["accepted_cecs"].is_null());
    let path = "/v1/portfolios/M-1/petitions/pet-1";
    node.patch(path, &json!({"status": "accepted"})).expect_error(409, "conflict");
    let pt = node.patch(path, &json!({"status": "submitted"})).expect(200);
    assert_eq!(pt["status"], "submitted");
    node.patch(path, &json!({"status": "draft"})).expect_error(409, "conflict");
    let e = node.patch(path, &json!({"status": "partially_accepted"})).expect_error(422, "invalid");
    assert_eq!(e["field"], "accepted_cecs");
    let e =
        node.patch(path, &json!({"status": "partially_accepted", "accepted_cecs": "2.5"})).expect_error(422, "invalid");
    assert_eq!(e["field"], "accepted_cecs");
    let pt = node.patch(path, &json!({"status": "partially_accepted", "accepted_cecs": "1.25"})).expect(200);
    assert_eq!((pt["status"].as_str(), pt["accepted_cecs"].as_str()), (Some("partially_accepted"), Some("1.25")));
    assert_eq!(node.get(path).expect(200), pt);
    node.post("/v1/portfolios/M-1/petitions", &json!({"target_association": "Other", "record_ids": ["course"]}))
        .expect(201);
    let list = node.get("/v1/portfolios/M-1/petitions").expect(200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    let e = node
        .post("/v1/portfolios/M-1/petitions", &json!({"target_association": "X", "record_ids": ["nope"]}))
        .expect_error(422, "invalid");
    assert_eq!(e["field"], "record_ids");

    let packet = node.get(&format!("{path}/packet?format=json")).expect(200);
    assert_eq!(packet["petition"]["id"], "pet-1");
    assert_eq!(packet["totals"]["total_cecs"], "2.5");
    let recs = packet["records"].as_array().expect("records");
    assert_eq!(recs.len(), 2);
    let v = recs.iter().find(|r| r["id"] == "conf/s75").expect("verified line");
    assert_eq!((v["verification_code"].as_str(), v["ceus"].as_str()), (Some(code.as_str()), Some("0.125")));
    assert_eq!(v["endorsement_number"], "ACA-EEP-9");
    assert_eq!(node.get(&format!("{path}/packet")).expect(200), packet, "json is the default");
    let csv = node.get(&format!("{path}/packet?format=csv"));
    assert_eq!((csv.status, csv.header("content-type")), (200, Some("text/csv; charset=utf-8")));
    let text = csv.text();
    assert!(text.lines().count() >= 3 && text.contains(&code) && text.contains("ACA-EEP-9"), "{text}");
    assert!(csv.header("content-disposition").is_some_and(|d| d.contains("petition-pet-1.csv")));
    let pdf = node.get(&format!("{path}/packet?format=pdf"));
    assert_pdf(&pdf, &[&code, "State Board"]);

    let t = node.get("/v1/portfolios/M-1/transcript").expect(200);
    assert_eq!((t["member_id"].as_str(), t["records"].as_array().map(Vec::len)), (Some("M-1"), Some(4)));
    assert_eq!(t["totals"]["total_cecs"], "3.75");
    assert_eq!(t["totals"]["contact_hours"], "3.83", "1.25 + 1.25 + 0.5 + 50/60");
    let april = node.get("/v1/portfolios/M-1/transcript?format=json&from=2026-04-01&to=2026-04-30").expect(200);
    assert_eq!((april["from"].as_str(), april["to"].as_str()), (Some("2026-04-01"), Some("2026-04-30")));
    assert_eq!(
        (april["records"].as_array().map(Vec::len), april["totals"]["total_cecs"].as_str()),
        (Some(2), Some("1.75"))
    );
    let csv = node.get("/v1/portfolios/M-1/transcript?format=csv&from=2026-04-01");
    assert_eq!(csv.status, 200);
    let text = csv.text();
    assert!(text.contains(&code) && !text.contains("Reading"), "{text}");
    let pdf = node.get("/v1/portfolios/M-1/transcript?format=pdf");
    assert_pdf(&pdf, &[&code, "Transcript", "3.75"]);
}

#[test]
fn blobs_round_trip() {
    let node = Node::start();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let sha = format!("{:x}", Sha256::digest(&data));
    let put =
        node.authed("PUT", "/v1/blobs").header("content-type", "application/octet-stream").body(data.clone()).send();
    let put = put.expect(201);
    assert_eq!((put["sha256"].as_str(), put["size"].as_u64()), (Some(sha.as_str()), Some(300_000)));
    let got = node.get(&format!("/v1/blobs/{sha}"));
    assert_eq!((got.status, got.header("content-type")), (200, Some("application/octet-stream")));
    assert_eq!(format!("{:x}", Sha256::digest(&got.body)), sha);
    assert!(got.body == data, "the same bytes");
    // Storing it again is harmless; an empty blob is a blob.
    assert_eq!(node.authed("PUT", "/v1/blobs").body(data).send().expect(201)["sha256"], sha.as_str());
    let empty = node.authed("PUT", "/v1/blobs").send().expect(201);
    assert_eq!(empty["sha256"], format!("{:x}", Sha256::digest(b"")));
    // Evidence in an entry points at the blob.
    let entry = json!({"kind": "work_sample", "title": "Recording", "date": "2026-04-01", "evidence": [sha]});
    assert_eq!(node.post("/v1/portfolios/M-9/entries", &entry).expect(201)["evidence"], json!([sha]));
    node.get(&format!("/v1/blobs/{}", "0".repeat(64))).expect_error(404, "not_found");
    node.get("/v1/blobs/not-a-hash").expect_error(422, "invalid");
    node.get(&format!("/v1/blobs/{}", sha.to_uppercase())).expect_error(422, "invalid");
}

/// A record chosen in a petition cannot be changed or removed under it, and a petition's
/// answer is checked against its stored status.
#[test]
fn petitioned_records_are_protected() {
    let node = cec_e2e::Node::start();
    for (id, cecs) in [("A1", "2"), ("A2", "1")] {
        let r = node.post(
            "/v1/portfolios/MP/entries",
            &serde_json::json!({"id": id, "kind": "activity", "title": id, "date": "2027-02-01", "cecs": cecs}),
        );
        assert_eq!(r.status, 201);
    }
    let r = node.post(
        "/v1/portfolios/MP/petitions",
        &serde_json::json!({"id": "PT1", "target_association": "NBCC", "record_ids": ["A1", "A2"]}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(node.patch("/v1/portfolios/MP/petitions/PT1", &serde_json::json!({"status": "submitted"})).status, 200);
    let del = node.delete("/v1/portfolios/MP/entries/A2");
    assert_eq!(del.status, 409, "{}", String::from_utf8_lossy(&del.body));
    assert_eq!(del.json()["error"]["code"], "conflict");
    assert_eq!(node.patch("/v1/portfolios/MP/entries/A1", &serde_json::json!({"cecs": "5"})).status, 409);
    let pt = node.get("/v1/portfolios/MP/petitions/PT1").json();
    assert_eq!(pt["requested_cecs"], "3", "{pt}");
    let answered = node.patch("/v1/portfolios/MP/petitions/PT1", &serde_json::json!({"status": "accepted"}));
    assert_eq!(answered.status, 200, "{}", String::from_utf8_lossy(&answered.body));
    assert_eq!(answered.json()["accepted_cecs"], "3");
    // Back to draft is refused against the stored status.
    assert_eq!(node.patch("/v1/portfolios/MP/petitions/PT1", &serde_json::json!({"status": "draft"})).status, 409);
}

/// A category typed with capitals is the same category: stored in its one (lowercase)
/// spelling, added up with it, counted by goals and requirement minimums however they spell it.
#[test]
fn categories_are_one_whatever_their_case() {
    let node = Node::start();
    conference(&node, "conf");
    let s = cec_e2e::fixtures::session_body("tele", "Ethics", "22:00", json!([{"kind": "instruction", "minutes": 60}]));
    let made = node.post("/v1/events/conf/sessions", &s).expect(201);
    assert_eq!(made["category"], "ethics");
    assert_eq!(node.post("/v1/events/conf/sessions", &s).expect(200)["category"], "ethics", "a retried create");
    let scans = [
        checkin_body("c1", "conf", "s75", "M-1", "in", "14:00"),
        checkin_body("c2", "conf", "s75", "M-1", "out", "15:15"),
        checkin_body("c3", "conf", "tele", "M-1", "in", "22:00"),
        checkin_body("c4", "conf", "tele", "M-1", "out", "23:00"),
    ];
    node.post("/v1/checkins/batch", &json!({"checkins": scans})).expect(200);
    let act = json!({"id": "a", "kind": "activity", "title": "Reading", "date": "2026-02-10", "cecs": "1",
                     "category": "ETHICS"});
    assert_eq!(node.post("/v1/portfolios/M-1/entries", &act).expect(201)["category"], "ethics");
    let patched = node.patch("/v1/portfolios/M-1/entries/a", &json!({"category": "Ethics"})).expect(200);
    assert_eq!(patched["category"], "ethics");

    let cecs = node.get("/v1/members/M-1/cecs").expect(200);
    assert_eq!(cecs["by_category"], json!({"ethics": "3.25"}), "{cecs}");
    let goal = json!({"title": "Ethics", "target_cecs": "3", "category": "Ethics", "start": "2026-01-01",
                      "due": "2030-01-01"});
    let g = node.put("/v1/portfolios/M-1/goals/g", &goal).expect(200);
    assert_eq!((g["category"].as_str(), g["earned_cecs"].as_str()), (Some("ethics"), Some("3.25")), "{g}");
    let program = json!({"title": "Renewal", "window_start": "2026-01-01", "window_end": "2027-12-31",
                         "total_cecs": "10", "minimums": {"Ethics": "3"}});
    let p = node.put("/v1/portfolios/M-1/requirements/lic", &program).expect(200);
    assert_eq!(p["minimums"], json!({"ethics": "3"}), "{p}");
    assert_eq!(p["categories"][0]["earned_cecs"], "3.25", "{p}");
    // One category given twice is a mistake, not two minimums.
    let twice = json!({"title": "Renewal", "window_start": "2026-01-01", "window_end": "2027-12-31",
                       "total_cecs": "10", "minimums": {"Ethics": "3", "ethics": "2"}});
    let err = node.put("/v1/portfolios/M-1/requirements/lic2", &twice).expect_error(422, "invalid");
    assert!(err["message"].as_str().is_some_and(|m| m.contains("other capitals")), "{err}");
}
