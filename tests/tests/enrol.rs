//! Enrolment codes and revocation with real `cecd` processes on loopback: a central node issues
//! a code for two kiosks, the kiosks enrol (with the API and with `cec enroll`) and sync with the
//! central node without `peers add`; a used-up, an expired and a forged code are refused; the
//! central node revokes a kiosk, the other kiosk learns it by syncing, and both refuse it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use cec_core::enrol::EnrolmentCode;
use cec_e2e::Node;
use cec_e2e::fixtures::{checkin_body, conference};
use serde_json::{Value, json};

const FAR: &str = "2099-01-01T00:00:00Z";

/// Peer listener on a free loopback port; no background syncs unless a test wants them.
fn peer_node() -> Node {
    Node::start_configured("sync_interval_secs = 0\n", &["--peer-listen", "127.0.0.1:0"])
}

fn new_central() -> Node {
    let mut node = Node::unstarted("sync_interval_secs = 0\n", &["--peer-listen", "127.0.0.1:0"]);
    let out = Node::command(&node.data_dir(), &["init-central", "--org", "ACA"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    node.restart();
    node
}

fn info(node: &Node) -> Value {
    node.get("/v1/node").expect(200)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn code(central: &Node, role: &str, scopes: &[&str], uses: u32, expires_at: &str) -> String {
    let body = json!({"role": role, "scopes": scopes, "uses": uses, "expires_at": expires_at});
    text(&central.post("/v1/admin/enrolments", &body).expect(201)["code"])
}

/// A sync round with one peer: its report.
fn sync_with(node: &Node, peer: &str) -> Value {
    node.post("/v1/sync", &json!({"peer_id": peer})).expect(200)["peers"][0].clone()
}

fn sync_ok(node: &Node, peer: &str) {
    let r = sync_with(node, peer);
    assert!(r["error"].is_null(), "sync failed: {r}");
}

fn sync_error(node: &Node, peer: &str) -> String {
    let r = sync_with(node, peer);
    r["error"].as_str().unwrap_or_else(|| panic!("sync with {peer} did not fail: {r}")).to_owned()
}

/// The `cec` binary: `$CEC_BIN` if set, else the workspace's own.
fn cec_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| std::env::var_os("CEC_BIN").map_or_else(|| cec_e2e::workspace_bin("cec"), PathBuf::from))
}

/// Runs `cec` against `node`: exit code, stdout, stderr.
fn cec(node: &Node, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(cec_bin())
        .arg("--data-dir")
        .arg(node.data_dir())
        .args(args)
        .env_remove("CEC_URL")
        .env_remove("CECD_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("running cec");
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), s(&out.stdout), s(&out.stderr))
}

/// The value of the human line `label  value` in `out`.
fn line<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label).filter(|rest| rest.starts_with(' ')).map(str::trim))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{out}"))
}

#[test]
fn kiosks_enrol_with_a_code_sync_by_themselves_and_a_revoked_kiosk_is_refused() {
    let central = new_central();
    let central_id = text(&info(&central)["node_id"]);
    conference(&central, "conf");
    let for_two = code(&central, "kiosk", &["event:conf"], 2, FAR);

    // Kiosk A enrols with the API, kiosk B with `cec enroll`.
    let (a, b, c) = (peer_node(), peer_node(), peer_node());
    let enrolled = a.post("/v1/node/enroll", &json!({"code": for_two})).expect(200);
    assert_eq!(enrolled["credential"]["role"], "kiosk", "{enrolled}");
    assert_eq!(enrolled["credential"]["scopes"], json!(["event:conf"]));
    assert_eq!(enrolled["credential"]["expires_at"], FAR);
    assert_eq!(enrolled["central_id"], central_id.as_str());
    assert_eq!(enrolled["org_public_key"], info(&central)["org_public_key"]);
    assert_eq!(info(&a)["role"], "kiosk");
    let (status, out, err) = cec(&b, &["enroll", &for_two]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("is now a kiosk of ACA"), "{out}");
    assert_eq!(line(&out, "scopes"), "event:conf");
    assert_eq!(line(&out, "central"), text(&info(&central)["peer_url"]));
    // A retried enrolment (its answer lost, say) spends no use.
    a.post("/v1/node/enroll", &json!({"code": for_two})).expect(200);

    // A third use is refused, and says why; the CLI prints it as an error.
    let refused = c.post("/v1/node/enroll", &json!({"code": for_two})).expect_error(422, "invalid");
    assert!(refused["message"].as_str().unwrap_or_default().contains("used up"), "{refused}");
    let (status, out, err) = cec(&c, &["enroll", &for_two]);
    assert_eq!(status, 1, "{out}{err}");
    assert!(err.starts_with("error: ") && err.contains("used up") && err.contains("(invalid)"), "{err}");
    assert!(info(&c)["credential"].is_null());

    // Garbage and a mistyped code are refused by the node itself.
    c.post("/v1/node/enroll", &json!({"code": "hello"})).expect_error(422, "invalid");
    let typo = format!("{}{}", &for_two[..for_two.len() - 1], if for_two.ends_with('a') { 'b' } else { 'a' });
    let e = c.post("/v1/node/enroll", &json!({"code": typo})).expect_error(422, "invalid");
    assert!(e["message"].as_str().unwrap_or_default().contains("mistyped"), "{e}");

    // The kiosks know the central node as their central peer and sync with it: no `peers add`.
    for k in [&a, &b] {
        let peers = k.get("/v1/peers").expect(200);
        assert_eq!(peers["items"].as_array().map(Vec::len), Some(1), "{peers}");
        assert_eq!(peers["items"][0]["peer_id"], central_id.as_str());
        assert_eq!(peers["items"][0]["source"], "central");
        let r = k.post("/v1/sync", &json!({})).expect(200);
        assert!(r["peers"][0]["error"].is_null(), "{r}");
        assert_eq!(k.get("/v1/events/conf").expect(200)["id"], "conf");
    }
    a.post("/v1/checkins", &checkin_body("in-1", "conf", "s75", "M-1", "in", "14:00")).expect(201);
    sync_ok(&a, &central_id);
    assert_eq!(central.get("/v1/checkins?limit=10").expect(200)["items"][0]["id"], "in-1");

    // Kiosk B also syncs with kiosk A over the LAN.
    let a_id = text(&info(&a)["node_id"]);
    let b_id = text(&info(&b)["node_id"]);
    b.post("/v1/peers", &json!({"url": info(&a)["peer_url"]})).expect(201);
    sync_ok(&b, &a_id);
    a.post("/v1/peers", &json!({"url": info(&b)["peer_url"]})).expect(201);
    sync_ok(&a, &b_id);

    // The central node revokes kiosk B (lost); twice is the same revocation; never itself;
    // only the central node revokes.
    let revoked = central.post("/v1/admin/revocations", &json!({"node_id": b_id})).expect(201);
    assert_eq!(revoked["node_id"], b_id.as_str());
    let again = central.post("/v1/admin/revocations", &json!({"node_id": b_id})).expect(200);
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
    central.post("/v1/admin/revocations", &json!({"node_id": central_id})).expect_error(422, "invalid");
    central.post("/v1/admin/revocations", &json!({"node_id": "nope"})).expect_error(422, "invalid");
    a.post("/v1/admin/revocations", &json!({"node_id": b_id})).expect_error(403, "forbidden");

    // Kiosk A has not heard of it yet: it still syncs with B.
    assert_eq!(a.get("/v1/admin/revocations").expect(200)["items"], json!([]));
    sync_ok(&b, &a_id);
    // A learns it by syncing with the central node, then refuses B both ways.
    sync_ok(&a, &central_id);
    let known = a.get("/v1/admin/revocations").expect(200);
    assert_eq!(known["items"][0]["node_id"], b_id.as_str(), "{known}");
    assert_eq!(known["items"][0]["revocation"], revoked["revocation"]);
    let err = sync_error(&b, &a_id);
    assert!(err.contains("revoked"), "{err}");
    let err = sync_error(&a, &b_id);
    assert!(err.contains("revoked"), "{err}");
    // The central node refuses B too.
    let err = sync_error(&b, &central_id);
    assert!(err.contains("revoked"), "{err}");
    // B learned its own revocation from the refusals: it says so and stops syncing.
    assert!(info(&b)["credential"]["revoked_at"].is_string(), "{}", info(&b));
    let err = sync_error(&b, &central_id);
    assert!(err.contains("this node's credential was revoked"), "{err}");
    let (_, status_out, _) = cec(&b, &["status"]);
    assert!(line(&status_out, "credential").contains("revoked"), "{status_out}");
    // A revoked node cannot enrol again with a fresh code.
    let fresh = code(&central, "kiosk", &["event:conf"], 1, FAR);
    let e = b.post("/v1/node/enroll", &json!({"code": fresh})).expect_error(422, "invalid");
    assert!(e["message"].as_str().unwrap_or_default().contains("revoked"), "{e}");
    // A still syncs with the central node.
    sync_ok(&a, &central_id);
}

#[test]
fn expired_and_forged_codes_are_refused() {
    let central = new_central();
    let node = peer_node();
    // An expired code: the central node refuses it.
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1500);
    let short = code(&central, "kiosk", &["event:conf"], 5, &soon.to_string());
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let e = node.post("/v1/node/enroll", &json!({"code": short})).expect_error(422, "invalid");
    assert!(e["message"].as_str().unwrap_or_default().contains("expired"), "{e}");
    // A code in the past is not issued at all.
    central
        .post(
            "/v1/admin/enrolments",
            &json!({"role": "kiosk", "scopes": ["event:conf"], "uses": 1, "expires_at": "2001-01-01T00:00:00Z"}),
        )
        .expect_error(422, "invalid");

    // A code whose fingerprint is not the central node's organization key: the enrolling node
    // refuses what the central node answers, and installs nothing.
    let good: EnrolmentCode = code(&central, "kiosk", &["event:conf"], 5, FAR).parse().expect("a code");
    let mut forged = good.clone();
    forged.org_fingerprint = cec_core::enrol::fingerprint(&[7; 32]);
    let e = node.post("/v1/node/enroll", &json!({"code": forged.to_string()})).expect_error(422, "invalid");
    assert!(e["message"].as_str().unwrap_or_default().contains("fingerprint"), "{e}");
    assert!(info(&node)["credential"].is_null() && info(&node)["org_public_key"].is_null(), "{}", info(&node));
    assert_eq!(node.get("/v1/peers").expect(200)["items"], json!([]));

    // A code pointing at another node than the central node (the TLS pin fails) or at nothing.
    let other = peer_node();
    let mut wrong_node = good.clone();
    wrong_node.authority =
        text(&info(&other)["peer_url"]).trim_start_matches("https://").split('/').next().unwrap_or_default().to_owned();
    let r = node
        .authed("POST", "/v1/node/enroll")
        .json(&json!({"code": wrong_node.to_string()}))
        .try_send()
        .expect("answer");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("central_unreachable") && r.text().contains("is not node"), "{}", r.text());
    // The unforged code works, and an unknown secret is refused by the central node.
    let mut unknown = good.clone();
    unknown.secret = [0; 16];
    let e = node.post("/v1/node/enroll", &json!({"code": unknown.to_string()})).expect_error(422, "invalid");
    assert!(e["message"].as_str().unwrap_or_default().contains("unknown"), "{e}");
    node.post("/v1/node/enroll", &json!({"code": good.to_string()})).expect(200);
    // Only the central node issues codes; the central node does not enrol itself.
    node.post("/v1/admin/enrolments", &json!({"role": "kiosk", "scopes": ["*"], "uses": 1, "expires_at": FAR}))
        .expect_error(403, "forbidden");
    central.post("/v1/node/enroll", &json!({"code": good.to_string()})).expect_error(409, "conflict");
}

#[test]
fn a_member_laptop_enrols_with_the_cli_and_gets_only_its_portfolio() {
    let central = new_central();
    conference(&central, "conf");
    for (m, id) in [("M-1", "a1"), ("M-2", "b1")] {
        central
            .post(
                &format!("/v1/portfolios/{m}/entries"),
                &json!({"id": id, "kind": "note", "title": "n", "date": "2026-01-01"}),
            )
            .expect(201);
    }
    // The laptop syncs by itself: a short interval, no `cec sync`.
    let laptop = Node::start_configured("sync_interval_secs = 1\n", &[]);
    let args = ["enrolment", "create", "--role", "member", "--scope", "member:M-1", "--expires", "2099-01-01"];
    let (status, out, err) = cec(&central, &args);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.starts_with("enrolment code for 1 node: role member, scopes member:M-1"), "{out}");
    let code = line(&out, "code").to_owned();
    assert!(out.contains(&format!("cec enroll {code}")), "{out}");
    let (status, out, err) = cec(&laptop, &["enroll", &code]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("is now a member of ACA"), "{out}");
    assert_eq!(line(&out, "expires"), "2099-01-01T00:00:00Z");
    let mut entries = Value::Null;
    for _ in 0..100 {
        entries = laptop.get("/v1/portfolios/M-1").expect(200)["entries"].clone();
        if entries.as_array().is_some_and(|e| !e.is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(entries[0]["id"], "a1", "{entries}");
    let feed = laptop.get("/v1/changes?limit=1000").text();
    assert!(!feed.contains("portfolio:M-2") && !feed.contains("event:conf"), "{feed}");
    // The one use is spent.
    let other = Node::start();
    let (status, _, err) = cec(&other, &["enroll", &code]);
    assert_eq!(status, 1);
    assert!(err.contains("used up"), "{err}");
    // Revocations, as the CLI lists them.
    let laptop_id = text(&info(&laptop)["node_id"]);
    let (status, out, err) = cec(&central, &["revoke", &laptop_id]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.starts_with(&format!("revoked node {laptop_id} at ")), "{out}");
    let (_, out, _) = cec(&central, &["revocations"]);
    assert!(out.lines().any(|l| l.starts_with(&laptop_id)), "{out}");
}
