//! `cec open [PAGE]` (or `--page PAGE`): a one-time link to a page of the node, printed and
//! opened in a browser.

use clap::Args;

use super::Ctx;
use super::output::{self, outln, warn};

/// The pages a link can open: the kiosk screen (the default) and the organizer's page.
const PAGES: [&str; 2] = ["kiosk", "organize"];

#[derive(Debug, Args)]
pub(crate) struct OpenArgs {
    /// The page: `kiosk` (the default) or `organize`
    #[arg(value_parser = PAGES, conflicts_with = "page_flag")]
    page: Option<String>,
    /// The page, as a flag (the same as the argument)
    #[arg(long = "page", id = "page_flag", value_name = "PAGE", value_parser = PAGES)]
    page_flag: Option<String>,
    /// Only print the link; do not start a browser
    #[arg(long)]
    no_browser: bool,
}

pub(crate) async fn run(ctx: &Ctx, a: OpenArgs) -> anyhow::Result<()> {
    let page = a.page.or(a.page_flag).unwrap_or_else(|| PAGES[0].to_owned());
    let ticket = ctx.client.open_ticket(&page).await?;
    let url = format!("{}{}", ctx.client.base_url(), ticket.path);
    if ctx.json {
        return output::json(
            &serde_json::json!({"url": url, "page": ticket.page, "expires_in_secs": ticket.expires_in_secs}),
        );
    }
    outln!("{url}");
    outln!("  opens the {} screen; works once, within {} seconds", ticket.page, ticket.expires_in_secs);
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
