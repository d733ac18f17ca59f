//! `cec open [PAGE]` (or `--page PAGE`): a one-time link to a page of the node, printed and
//! opened in a browser; with `--pair`, a link that pairs the browser with the kiosk screen for
//! good (until the pairing expires unused or is ended: `cec pairings`).

use clap::Args;

use super::Ctx;
use super::output::{self, outln, warn};

/// The pages a link can open (the node's `POST /v1/open-tickets` knows the same).
const PAGES: [&str; 3] = ["kiosk", "organize", "portfolio"];

#[derive(Debug, Args)]
pub(crate) struct OpenArgs {
    /// The page (kiosk when neither this nor --page is given)
    #[arg(value_parser = PAGES, conflicts_with = "page_flag")]
    page: Option<String>,
    /// The page, as a flag: `--page portfolio`
    #[arg(long = "page", id = "page_flag", value_name = "PAGE", value_parser = PAGES)]
    page_flag: Option<String>,
    /// The portfolio page: whose portfolio to show (kept in the link's #fragment, which never
    /// reaches the server; a member's own node needs none)
    #[arg(long, value_name = "MEMBER_ID")]
    member: Option<String>,
    /// Pair the browser that opens the link with the kiosk screen: it stays signed in while the
    /// screen is used (kiosk_pairing_days unused, 90 by default), so the device opens
    /// http://127.0.0.1:PORT/kiosk from a bookmark or at start-up without this command
    #[arg(long)]
    pair: bool,
    /// With --pair: a name for the device, shown by `cec pairings` (e.g. "door A tablet")
    #[arg(long, value_name = "NAME", requires = "pair")]
    label: Option<String>,
    /// Only print the link; do not start a browser
    #[arg(long)]
    no_browser: bool,
}

pub(crate) async fn run(ctx: &Ctx, a: OpenArgs) -> anyhow::Result<()> {
    let page = a.page.or(a.page_flag).unwrap_or_else(|| "kiosk".into());
    if a.member.is_some() && page != "portfolio" {
        anyhow::bail!("--member is for the portfolio page: cec open portfolio --member ID");
    }
    if let Some(m) = &a.member
        && (m.is_empty() || m.len() > 128 || !m.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c)))
    {
        anyhow::bail!("{m:?} is not a member id (1-128 of A-Z, a-z, 0-9, '.', '_', ':', '-')");
    }
    if a.pair && page != "kiosk" {
        anyhow::bail!("only the kiosk screen can be paired: cec open kiosk --pair");
    }
    let ticket = if a.pair {
        ctx.client.pairing_ticket(&page, a.label.as_deref()).await?
    } else {
        ctx.client.open_ticket(&page).await?
    };
    // The redirect from /open keeps the fragment, so the page learns the member from it.
    let fragment = a.member.map(|m| format!("#member={m}")).unwrap_or_default();
    let base = ctx.client.base_url();
    let url = format!("{base}{}{fragment}", ticket.path);
    let page_url = format!("{base}/{}", ticket.page);
    if ctx.json {
        return output::json(&serde_json::json!({
            "url": url, "page": ticket.page, "expires_in_secs": ticket.expires_in_secs,
            "pair": ticket.pair, "session_secs": ticket.session_secs, "page_url": page_url,
        }));
    }
    outln!("{url}");
    outln!("  opens the {} screen; works once, within {} seconds", ticket.page, ticket.expires_in_secs);
    if ticket.pair {
        let days = ticket.session_secs / 86_400;
        outln!("  pairs the browser that opens it: signed in while the screen is used, until {days} days unused");
        outln!("  afterwards, on that device, open {page_url} (a bookmark, or the browser's start page)");
        outln!("  list or end pairings: cec pairings; cec pairings end ID");
    }
    if !a.no_browser && !open_browser(&url) {
        warn("no browser started: open the link above on this device");
    }
    Ok(())
}

/// Starts the desktop's browser on `url`; false when there is none to start.
fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            return false;
        }
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}
