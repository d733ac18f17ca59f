//! `cec peers`, `cec sync` and `cec credential` against real `cecd` nodes syncing over their
//! peer listeners on loopback: a central node and a kiosk, enrolled with the CLI alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use cec_e2e::Node;
use serde_json::Value;

/// Peer listener on a free loopback port; no background syncs (the test runs every round).
const CONFIG: &str = "sync_interval_secs = 0\n";
const PEER_LISTEN: [&str; 2] = ["--peer-listen", "127.0.0.1:0"];

/// The `cec` binary: `$CEC_BIN` if set, else the workspace's own.
fn cec_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| std::env::var_os("CEC_BIN").map_or_else(|| cec_e2e::workspace_bin("cec"), PathBuf::from))
}

/// What one `cec` run did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> String {
        assert_eq!(self.code, 0, "cec failed: {self:?}");
        self.stdout
    }

    fn json(self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }
}

fn cec(node: &Node, args: &[&str]) -> Run {
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
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn central() -> Node {
    let mut node = Node::unstarted(CONFIG, &PEER_LISTEN);
    let out = Node::command(&node.data_dir(), &["init-central", "--org", "ACA"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    node.restart();
    node
}

/// `cec --json status`'s `node` object.
fn node_info(node: &Node) -> Value {
    cec(node, &["--json", "status"]).json()["node"].clone()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

/// The value of the human line `label  value` in `out`.
fn line<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label).filter(|rest| rest.starts_with(' ')).map(str::trim))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{out}"))
}

fn event_ids(node: &Node) -> Vec<String> {
    let list = cec(node, &["--json", "event", "list"]).json();
    list["items"].as_array().expect("items").iter().map(|e| text(&e["id"])).collect()
}

#[test]
fn a_kiosk_enrolled_and_synced_with_the_cli() {
    let central = central();
    let kiosk = Node::start_configured(CONFIG, &PEER_LISTEN);
    let create = [
        "event",
        "create",
        "--id",
        "conf",
        "--title",
        "Annual Conference",
        "--provider-id",
        "P1",
        "--provider-name",
        "ACA",
        "--timezone",
        "America/Chicago",
    ];
    cec(&central, &create).ok();

    // Not enrolled: the kiosk refuses to sync, and says what to do.
    let status = cec(&kiosk, &["status"]).ok();
    assert!(line(&status, "credential").starts_with("none"), "{status}");
    let kiosk_info = node_info(&kiosk);
    let kiosk_peer_url = text(&kiosk_info["peer_url"]);
    assert_eq!(line(&status, "peer url"), kiosk_peer_url);
    assert!(kiosk_peer_url.starts_with("https://127.0.0.1:"), "{kiosk_peer_url}");
    let refused = cec(&kiosk, &["sync"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stdout.is_empty(), "{refused:?}");
    assert!(
        refused.stderr.starts_with("error: cannot sync: this node is not enrolled")
            && refused.stderr.contains("cec credential install"),
        "{refused:?}"
    );
    // Its empty peer list says the same, instead of only suggesting a peer.
    let peers = cec(&kiosk, &["peers"]).ok();
    assert!(peers.contains("this node is not enrolled") && peers.contains("cec enroll CODE"), "{peers}");
    // Only the central node issues credentials.
    let key = text(&kiosk_info["public_key"]);
    let expires = "2099-01-01T00:00:00Z";
    let issue = [
        "credential",
        "issue",
        "--public-key",
        key.as_str(),
        "--role",
        "kiosk",
        "--scope",
        "event:conf",
        "--expires",
        expires,
    ];
    let forbidden = cec(&kiosk, &issue);
    assert_eq!(forbidden.code, 1, "{forbidden:?}");
    assert!(forbidden.stderr.contains("(forbidden)"), "{forbidden:?}");

    // Issue on the central node, install on the kiosk.
    let issued = cec(&central, &issue).ok();
    let credential = line(&issued, "credential");
    let org_key = line(&issued, "org key");
    assert!(credential.starts_with("cecsync-cred-v1."), "{issued}");
    assert_eq!(org_key, text(&node_info(&central)["org_public_key"]));
    assert!(issued.contains(&format!("cec credential install {credential} --org-key {org_key}")), "{issued}");
    let installed = cec(&kiosk, &["credential", "install", credential, "--org-key", org_key]).ok();
    assert!(installed.contains("is now a kiosk of ACA"), "{installed}");
    let status = cec(&kiosk, &["status"]).ok();
    assert_eq!(line(&status, "credential"), format!("kiosk of ACA, scopes event:conf, expires {expires}"));
    // Installing it on another node is refused: it names the kiosk's key.
    let stranger = Node::start_configured(CONFIG, &PEER_LISTEN);
    let wrong = cec(&stranger, &["credential", "install", credential, "--org-key", org_key]);
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(wrong.stderr.starts_with("error: ") && wrong.stderr.contains("(invalid)"), "{wrong:?}");

    // Add the central node as a peer and sync: its event arrives.
    let central_info = node_info(&central);
    let central_id = text(&central_info["node_id"]);
    let added = cec(&kiosk, &["peers", "add", &text(&central_info["peer_url"])]).ok();
    assert!(added.contains(&format!("added peer {central_id}")), "{added}");
    let peers = cec(&kiosk, &["peers"]).ok();
    assert!(peers.lines().any(|l| l.starts_with(&central_id) && l.contains("never_synced")), "{peers}");
    assert!(event_ids(&kiosk).is_empty());
    let synced = cec(&kiosk, &["sync"]).ok();
    let report = line(&synced, &central_id);
    assert!(
        report.starts_with("sent ") && report.contains("received ") && !report.contains("received 0 documents"),
        "{synced}"
    );
    assert_eq!(event_ids(&kiosk), ["conf"]);
    let shown = cec(&kiosk, &["event", "show", "conf"]).ok();
    assert!(shown.contains("conf: Annual Conference"), "{shown}");
    let peers = cec(&kiosk, &["peers"]).ok();
    let row = peers.lines().find(|l| l.starts_with(&central_id)).unwrap_or_else(|| panic!("{peers}"));
    assert!(row.contains("central") && row.contains(" ok "), "{peers}");
    let listed = cec(&kiosk, &["--json", "peers"]).json();
    assert_eq!(listed["items"][0]["state"], "ok");
    assert!(listed["items"][0]["last_sync"].is_string(), "{listed}");

    // A peer that fails makes `cec sync` exit 1, naming it; the others still sync.
    let stranger_info = node_info(&stranger);
    let stranger_id = text(&stranger_info["node_id"]);
    cec(&kiosk, &["peers", "add", &text(&stranger_info["peer_url"])]).ok();
    let failed = cec(&kiosk, &["sync"]);
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(line(&failed.stdout, &stranger_id).starts_with("failed: "), "{failed:?}");
    assert!(!line(&failed.stdout, &central_id).starts_with("failed"), "{failed:?}");
    assert_eq!(failed.stderr.trim(), "error: sync failed with 1 of 2 peers", "{failed:?}");
    let peers = cec(&kiosk, &["peers"]).ok();
    let row = peers.lines().find(|l| l.starts_with(&stranger_id)).unwrap_or_else(|| panic!("{peers}"));
    assert!(row.contains("failing"), "{peers}");
    // One peer at a time, as JSON.
    let one = cec(&kiosk, &["--json", "sync", "--peer", &central_id]).json();
    assert_eq!(one["peers"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one["peers"][0]["peer_id"], central_id.as_str());
    assert!(one["peers"][0]["error"].is_null(), "{one}");
    // Removing the failing peer makes the round succeed again.
    let removed = cec(&kiosk, &["peers", "remove", &stranger_id]).ok();
    assert!(removed.contains(&format!("removed peer {stranger_id}")), "{removed}");
    cec(&kiosk, &["sync"]).ok();
    let gone = cec(&kiosk, &["peers", "remove", &stranger_id]);
    assert_eq!(gone.code, 1, "{gone:?}");
    assert!(gone.stderr.contains("(not_found)"), "{gone:?}");
}

/// Credit a kiosk counts from its own scans says it is not verified yet until the central node
/// has those scans; the central node, which verifies, says nothing of the kind.
#[test]
fn door_credit_is_marked_until_the_central_node_has_it() {
    let central = central();
    let kiosk = Node::start_configured(CONFIG, &PEER_LISTEN);
    let create = [
        "event",
        "create",
        "--id",
        "conf",
        "--title",
        "Annual Conference",
        "--provider-id",
        "P1",
        "--provider-name",
        "ACA",
        "--endorsement",
        "ACA-1",
        "--endorsed-from",
        "2026-01-01",
        "--endorsed-until",
        "2026-12-31",
        "--timezone",
        "UTC",
    ];
    cec(&central, &create).ok();
    let session = [
        "session",
        "add",
        "conf",
        "--id",
        "ws",
        "--title",
        "Workshop",
        "--starts-at",
        "2026-05-01T09:00",
        "--segment",
        "instruction:60",
    ];
    cec(&central, &session).ok();
    let key = text(&node_info(&kiosk)["public_key"]);
    let issue = ["credential", "issue", "--public-key", &key, "--role", "kiosk", "--scope", "event:conf"];
    let issued = cec(&central, &[&issue[..], &["--expires", "2099-01-01T00:00:00Z"]].concat()).ok();
    cec(&kiosk, &["credential", "install", line(&issued, "credential"), "--org-key", line(&issued, "org key")]).ok();
    cec(&kiosk, &["peers", "add", &text(&node_info(&central)["peer_url"])]).ok();
    cec(&kiosk, &["sync"]).ok();

    cec(&kiosk, &["checkin", "in", "conf", "ws", "M1", "--at", "2026-05-01T09:00"]).ok();
    cec(&kiosk, &["checkin", "out", "conf", "ws", "M1", "--at", "2026-05-01T10:00"]).ok();
    let before = cec(&kiosk, &["--json", "cecs", "M1"]).json();
    assert_eq!(before["verified_cecs"], "1", "the kiosk counts its own scans: {before}");
    assert_eq!(
        before["unconfirmed"],
        serde_json::json!({"sessions": 1, "cecs": "1", "record_ids": ["conf/ws"]}),
        "{before}"
    );
    let human = cec(&kiosk, &["cecs", "M1"]).ok();
    assert!(
        human.contains("not yet verified: 1 CEC of the verified credit (1 session: conf/ws)")
            && human.contains("the central node has not verified it yet"),
        "{human}"
    );
    assert!(human.contains("not counted here until the central node has verified it"), "{human}");

    cec(&kiosk, &["sync"]).ok();
    let after = cec(&kiosk, &["--json", "cecs", "M1"]).json();
    assert_eq!((after["verified_cecs"].as_str(), after["unconfirmed"]["sessions"].as_u64()), (Some("1"), Some(0)));
    assert!(!cec(&kiosk, &["cecs", "M1"]).ok().contains("not yet verified"));
    let verified = cec(&central, &["--json", "cecs", "M1"]).json();
    assert_eq!(verified["verified_cecs"], "1", "{verified}");
    assert!(verified.get("unconfirmed").is_none(), "the central node verifies: {verified}");
    assert!(!cec(&central, &["cecs", "M1"]).ok().contains("note:"));
}
