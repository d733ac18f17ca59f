//! `cec status`: the node's health, role, address, data directory, peer URL, credential, the
//! check-ins not yet at the central node, and (on a kiosk) what retention dropped or keeps.

use jiff::Timestamp;
use serde_json::{Value, json};

use cec_client::discover::Discovery;
use cec_client::wire::{CentralStatus, CredentialJson, RetentionStatus};

use super::Ctx;
use super::output::outln;

pub(crate) async fn run(ctx: &Ctx, found: &Discovery) -> anyhow::Result<()> {
    let health = ctx.client.health().await?;
    let node = ctx.client.node().await?;
    let sync = ctx.client.sync_status().await?;
    if ctx.json {
        let all = json!({ "health": health, "node": node, "central": sync.central, "retention": sync.retention });
        return super::output::json(&all);
    }
    outln!("node        {} ({})", node.node_id, health.status);
    outln!("role        {}", node.role);
    outln!("version     cecd {}", health.version);
    outln!("api         {}", ctx.client.base_url());
    outln!("listen      {}", node.listen);
    outln!("data dir    {}", found.data_dir.display());
    outln!("public key  {}", node.public_key);
    outln!("peer url    {}", peer_url_line(node.peer_url.as_deref()));
    outln!("credential  {}", credential_line(node.credential.as_ref(), Timestamp::now()));
    if let Some(c) = &sync.central {
        outln!("central     {}", central_line(c));
    }
    if let Some(line) = retention_line(&sync.retention) {
        outln!("retention   {line}");
    }
    Ok(())
}

/// What retention dropped from this kiosk and what it keeps; nothing on a node that never
/// drops anything and never did.
fn retention_line(r: &RetentionStatus) -> Option<String> {
    if !r.active && r.retired_count == 0 {
        return None;
    }
    let days = if r.retention_days == 1 { "1 day".to_owned() } else { format!("{} days", r.retention_days) };
    let mut line = if r.active {
        format!("events leave this node {days} after they end, once the central node holds them")
    } else {
        format!("off ({})", r.inactive_reason.as_deref().unwrap_or("not a kiosk"))
    };
    let names = |ids: Vec<&str>| ids.join(", ");
    match r.retired_count {
        0 => line.push_str("; none retired yet"),
        1 => line.push_str(&format!(
            "; 1 event retired ({})",
            names(r.retired.iter().map(|e| e.event_id.as_str()).collect())
        )),
        n => line.push_str(&format!(
            "; {n} events retired ({})",
            names(r.retired.iter().take(5).map(|e| e.event_id.as_str()).collect())
        )),
    }
    if !r.held.is_empty() {
        let held: Vec<String> = r.held.iter().map(|h| format!("{} ({})", h.event_id, h.reason)).collect();
        line.push_str(&format!("; kept though due: {}", held.join(", ")));
    }
    Some(line)
}

/// What the central node has not received yet, as a kiosk's operator wants to read it.
fn central_line(c: &CentralStatus) -> String {
    let sessions = |d: u64| if d == 1 { "1 session".to_owned() } else { format!("{d} sessions") };
    match (c.peer_id.as_deref(), c.checkins_pending) {
        (None, 0) => "none known yet (`cec enroll CODE` enrols this node)".into(),
        (None, 1) => "none known yet; 1 check-in is only on this node".into(),
        (None, n) => format!("none known yet; {n} check-ins are only on this node ({})", sessions(c.documents_pending)),
        (Some(who), 0) => format!("{who}: every check-in here has reached it"),
        (Some(who), 1) => format!("{who}: 1 check-in not yet synced to it"),
        (Some(who), n) => format!("{who}: {n} check-ins not yet synced to it ({})", sessions(c.documents_pending)),
    }
}

fn credential_line(cred: Option<&Value>, now: Timestamp) -> String {
    let Some(c) = cred.filter(|c| !c.is_null()) else {
        return "none (works on its own, syncs with no one)".into();
    };
    let c: CredentialJson = match serde_json::from_value(c.clone()) {
        Ok(c) => c,
        Err(e) => return format!("present, but not understood by this cec ({e})"),
    };
    let state = match c.revoked_at {
        Some(t) => format!(" (revoked at {t}: it no longer syncs)"),
        None if c.expires_at <= now => " (expired: it no longer syncs)".into(),
        None => String::new(),
    };
    format!("{} of {}, scopes {}, expires {}{state}", c.role, c.org, c.scopes.join(" "), c.expires_at)
}

fn peer_url_line(url: Option<&str>) -> String {
    match url.filter(|u| !u.is_empty()) {
        Some(u) => u.to_owned(),
        None => "off (start cecd with --peer-listen ADDR for other nodes to sync with this one)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn central_lines() {
        let c = |peer: Option<&str>, n, d| CentralStatus {
            peer_id: peer.map(str::to_owned),
            checkins_pending: n,
            documents_pending: d,
        };
        assert_eq!(central_line(&c(Some("n1"), 0, 0)), "n1: every check-in here has reached it");
        assert_eq!(central_line(&c(Some("n1"), 1, 1)), "n1: 1 check-in not yet synced to it");
        assert_eq!(central_line(&c(Some("n1"), 12, 3)), "n1: 12 check-ins not yet synced to it (3 sessions)");
        assert_eq!(central_line(&c(None, 0, 0)), "none known yet (`cec enroll CODE` enrols this node)");
        assert_eq!(central_line(&c(None, 15, 6)), "none known yet; 15 check-ins are only on this node (6 sessions)");
    }

    #[test]
    fn credential_lines() {
        let now: Timestamp = "2026-05-01T00:00:00Z".parse().unwrap();
        assert!(credential_line(None, now).starts_with("none"));
        assert!(credential_line(Some(&Value::Null), now).starts_with("none"));
        let c = json!({
            "org": "ACA", "node_id": "N1", "role": "kiosk", "scopes": ["event:E1", "member:M-1"],
            "issued_at": "2026-01-01T00:00:00Z", "expires_at": "2026-06-01T00:00:00Z",
            "credential": "cecsync-cred-v1.x.y"
        });
        assert_eq!(
            credential_line(Some(&c), now),
            "kiosk of ACA, scopes event:E1 member:M-1, expires 2026-06-01T00:00:00Z"
        );
        let later: Timestamp = "2026-07-01T00:00:00Z".parse().unwrap();
        assert!(credential_line(Some(&c), later).ends_with("(expired: it no longer syncs)"));
        let mut revoked = c.clone();
        revoked["revoked_at"] = json!("2026-04-01T00:00:00Z");
        assert!(
            credential_line(Some(&revoked), now).ends_with("(revoked at 2026-04-01T00:00:00Z: it no longer syncs)")
        );
        assert!(credential_line(Some(&json!({"role": "kiosk"})), now).starts_with("present, but"));
    }

    #[test]
    fn retention_lines() {
        let mut r = RetentionStatus { retention_days: 7, ..RetentionStatus::default() };
        assert_eq!(retention_line(&r), None, "a node that never drops anything says nothing");
        r.active = true;
        assert_eq!(
            retention_line(&r).unwrap(),
            "events leave this node 7 days after they end, once the central node holds them; none retired yet"
        );
        let at: Timestamp = "2026-05-01T00:00:00Z".parse().unwrap();
        r.retired_count = 1;
        r.retired.push(cec_client::wire::RetiredEventJson {
            event_id: "conf".into(),
            ended_at: at,
            retired_at: at,
            central_id: "n1".into(),
            documents: 3,
            checkins: 40,
        });
        r.held.push(cec_client::wire::HeldEventJson {
            event_id: "E2".into(),
            due_at: at,
            reason: "attendance:E2:S1 has changes the central node has not acknowledged".into(),
        });
        assert_eq!(
            retention_line(&r).unwrap(),
            "events leave this node 7 days after they end, once the central node holds them; 1 event retired (conf); \
             kept though due: E2 (attendance:E2:S1 has changes the central node has not acknowledged)"
        );
    }

    #[test]
    fn peer_url_lines() {
        assert_eq!(peer_url_line(Some("https://127.0.0.1:7421/N1")), "https://127.0.0.1:7421/N1");
        assert!(peer_url_line(None).starts_with("off"));
    }
}
