//! `cec status`: the node's health, role, address, data directory and credential.

use serde_json::{Value, json};

use cec_client::discover::Discovery;

use super::Ctx;
use super::output::outln;

pub(crate) async fn run(ctx: &Ctx, found: &Discovery) -> anyhow::Result<()> {
    let health = ctx.client.health().await?;
    let node = ctx.client.node().await?;
    if ctx.json {
        let all = json!({ "health": health, "node": node });
        return super::output::json(&all);
    }
    outln!("node        {} ({})", node.node_id, health.status);
    outln!("role        {}", node.role);
    outln!("version     cecd {}", health.version);
    outln!("api         {}", ctx.client.base_url());
    outln!("listen      {}", node.listen);
    outln!("data dir    {}", found.data_dir.display());
    outln!("public key  {}", node.public_key);
    outln!("credential  {}", credential_line(node.credential.as_ref()));
    Ok(())
}

fn credential_line(cred: Option<&Value>) -> String {
    let Some(c) = cred.filter(|c| !c.is_null()) else {
        return "none (works on its own, syncs with no one)".into();
    };
    // A credential may be wrapped as {"body": {...}, "signature": ...}.
    let body = c.get("body").or_else(|| c.get("claims")).unwrap_or(c);
    let role = body.get("role").and_then(Value::as_str).unwrap_or("?");
    let scopes: Vec<&str> = body
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let expires = body.get("expires_at").and_then(Value::as_str).unwrap_or("?");
    format!("{role}, scopes {}, expires {expires}", if scopes.is_empty() { "-".into() } else { scopes.join(" ") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_lines() {
        assert!(credential_line(None).starts_with("none"));
        let c = json!({"body": {"role": "kiosk", "scopes": ["event:E1"], "expires_at": "2026-06-01T00:00:00Z"}});
        assert_eq!(credential_line(Some(&c)), "kiosk, scopes event:E1, expires 2026-06-01T00:00:00Z");
    }
}
