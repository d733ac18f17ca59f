//! mDNS discovery between real `cecd` processes, inside a network namespace this test makes:
//! only its own loopback exists there (multicast turned on), so nothing is ever sent on a real
//! interface. A kiosk finds the central node by mDNS alone (no `peers add`), and its check-in
//! reaches the central node by the background sync that a local change starts.
//!
//! Alone in its file: the test thread moves into the namespace, and every node it starts and
//! every request it sends stays there.

use std::process::Command;
use std::time::{Duration, Instant};

use cec_e2e::Node;
use cec_e2e::fixtures::{checkin_body, conference};
use serde_json::{Value, json};

/// A network namespace made with `ip netns add`, deleted on drop.
struct Netns(String);

impl Netns {
    /// Makes a namespace with loopback up and multicast on, and moves this thread into it;
    /// `Err` says why it could not.
    fn enter() -> Result<Self, String> {
        let name = format!("cec-mdns-{}", std::process::id());
        let ip = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
            }
        };
        ip(&["netns", "add", &name])?;
        let ns = Self(name);
        ip(&["-n", &ns.0, "link", "set", "lo", "up", "multicast", "on"])?;
        let file = std::fs::File::open(format!("/run/netns/{}", ns.0)).map_err(|e| format!("open netns: {e}"))?;
        rustix::thread::move_into_thread_name_spaces(
            std::os::fd::AsFd::as_fd(&file),
            rustix::thread::ThreadNameSpaceType::NETWORK,
        )
        .map_err(|e| format!("setns: {e}"))?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

const FAR: &str = "2099-01-01T00:00:00Z";

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn peer_ids(node: &Node, source: &str) -> Vec<String> {
    let peers = node.get("/v1/peers").expect(200);
    peers["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|p| p["source"] == source)
                .filter_map(|p| p["peer_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_kiosk_finds_the_central_node_by_mdns() {
    let _ns = match Netns::enter() {
        Ok(ns) => ns,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED a_kiosk_finds_the_central_node_by_mdns: no network namespace here ({why})");
            return;
        }
        Err(why) => panic!("CI runs as root and must be able to make a network namespace: {why}"),
    };
    // Background syncs only after a local change or a peer found, never on a timer here.
    let config = "sync_interval_secs = 3600\n";
    let args = ["--peer-listen", "127.0.0.1:0", "--mdns-interfaces", "lo"];
    let mut central = Node::unstarted(config, &args);
    let out = Node::command(&central.data_dir(), &["init-central", "--org", "ACA"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    central.restart();
    let org_key = central.get("/v1/node").expect(200)["org_public_key"].clone();
    let central_id = central.get("/v1/node").expect(200)["node_id"].as_str().expect("node id").to_owned();
    conference(&central, "conf");

    let kiosk = Node::start_configured(config, &args);
    let kiosk_id = kiosk.get("/v1/node").expect(200)["node_id"].as_str().expect("node id").to_owned();
    let key = kiosk.get("/v1/node").expect(200)["public_key"].clone();
    let issued = central
        .post(
            "/v1/admin/credentials",
            &json!({"node_public_key": key, "role": "kiosk", "scopes": ["event:conf"], "expires_at": FAR}),
        )
        .expect(201);
    kiosk
        .post("/v1/node/credential", &json!({"credential": issued["credential"], "org_public_key": org_key}))
        .expect(200);

    // Each finds the other on the network, with nothing added by hand.
    wait_for("the kiosk to find the central node", || peer_ids(&kiosk, "mdns") == [central_id.clone()]);
    wait_for("the central node to find the kiosk", || peer_ids(&central, "mdns") == [kiosk_id.clone()]);
    let peers: Value = kiosk.get("/v1/peers").expect(200);
    let url = peers["items"][0]["url"].as_str().expect("url");
    assert!(url.starts_with("https://127.0.0.1:") && url.ends_with(&central_id), "{url}");

    // A sync round reaches it; then a check-in travels by the background sync alone.
    let r = kiosk.post("/v1/sync", &json!({})).expect(200);
    assert_eq!(r["peers"][0]["error"], Value::Null, "{r}");
    assert_eq!(kiosk.get("/v1/events/conf").expect(200)["id"], "conf");
    kiosk.post("/v1/checkins", &checkin_body("in-1", "conf", "s75", "M-1", "in", "14:00")).expect(201);
    wait_for("the check-in at the central node", || {
        central.get("/v1/checkins?limit=10").expect(200)["items"].as_array().is_some_and(|a| a.len() == 1)
    });
}
