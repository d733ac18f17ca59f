//! Accessibility of the three pages in headless Chromium (issue 8, point 6): every visible
//! control has an accessible name (a label, `aria-label` or `aria-labelledby`, a button's
//! text), none is taken out of the keyboard's reach (`tabindex` below 0), and every visible
//! text meets WCAG AA contrast against the background it is drawn on (4.5:1, 3:1 for large
//! text). Checked on the kiosk screen before a session is chosen and after each kind of scan
//! (their colours are the riskiest), on the organizer page and on the portfolio page.

use cec_e2e::Node;
use cec_e2e::browser::{Browser, type_enter, wait_text};
use cec_e2e::fixtures::kiosk_conference;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// Runs in the page; answers what fails, per rule.
const AUDIT: &str = r#"
const channels = (c) => (c.match(/[\d.]+/g) || []).map(Number);
const luminance = (c) => {
  const [r, g, b] = channels(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
// The colour a text is drawn on: the nearest ancestor with a mostly opaque background.
const backdrop = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor, v = channels(c);
    if (v.length === 3 || (v.length === 4 && v[3] > 0.5)) return c;
  }
  return 'rgb(255, 255, 255)';
};
const shown = (el) => el.offsetParent !== null || getComputedStyle(el).position === 'fixed';
const out = { unlabelled: [], unreachable: [], low_contrast: [] };
for (const el of document.querySelectorAll('input, select, textarea, button, a[href]')) {
  if (el.type === 'hidden' || !shown(el)) continue;
  const named = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
    || (el.labels && el.labels.length > 0) || ((el.tagName === 'BUTTON' || el.tagName === 'A') && el.textContent.trim());
  if (!named) out.unlabelled.push(el.outerHTML.slice(0, 120));
  if (el.tabIndex < 0) out.unreachable.push(el.outerHTML.slice(0, 120));
}
for (const el of document.querySelectorAll('body *')) {
  if (!shown(el) || ![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
  const style = getComputedStyle(el);
  if (channels(style.color)[3] === 0) continue;
  const [a, b] = [luminance(style.color), luminance(backdrop(el))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
  if (ratio < needed) out.low_contrast.push(`${ratio.toFixed(2)} < ${needed}: <${el.tagName.toLowerCase()}> "${el.textContent.trim().slice(0, 40)}" ${style.color} on ${backdrop(el)}`);
}
return out;
"#;

async fn audit(c: &Client, state: &str) {
    let found: Value = c.execute(AUDIT, vec![]).await.expect("audit");
    for rule in ["unlabelled", "unreachable", "low_contrast"] {
        let items = found[rule].as_array().expect(rule);
        assert!(items.is_empty(), "{state}: {rule}: {}", serde_json::to_string_pretty(items).unwrap_or_default());
    }
}

async fn open(c: &Client, node: &Node, body: Value) {
    let ticket = node.post("/v1/open-tickets", &body).expect(201);
    c.goto(&format!("http://{}{}", node.addr(), ticket["path"].as_str().expect("path"))).await.expect("open");
}

async fn scan(c: &Client, mode: &str, member: &str) {
    let radio = c.find(Locator::Css(&format!("input[name=mode][value={mode}]"))).await.expect("mode");
    radio.click().await.expect("mode");
    type_enter(c, "#scan", member).await;
}

#[test]
fn every_page_is_labelled_reachable_and_legible() {
    let Some(browser) = Browser::start("every_page_is_labelled_reachable_and_legible") else { return };
    let node = Node::start();
    kiosk_conference(&node);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = browser.client().await;
        open(&c, &node, json!({"page": "kiosk"})).await;
        wait_text(&c, "#event", "the event", |t| t.contains("Spring Conference")).await;
        audit(&c, "kiosk, no session chosen").await;
        c.find(Locator::Css("#event")).await.expect("event").select_by_value("C").await.expect("event chosen");
        wait_text(&c, "#session", "the session", |t| t.contains("Ethics in practice")).await;
        c.find(Locator::Css("#session")).await.expect("session").select_by_value("s75").await.expect("chosen");
        for (mode, member, state, shows) in [
            ("in", "M-1", "an accepted scan", "checked in"),
            ("in", "M-1", "a duplicate scan", "Duplicate scan"),
            ("in", "M-404", "an unknown member", "Not on the roster"),
        ] {
            scan(&c, mode, member).await;
            wait_text(&c, "#fb-title", state, |t| t.contains(shows)).await;
            audit(&c, &format!("kiosk, {state}")).await;
        }

        open(&c, &node, json!({"page": "organize"})).await;
        wait_text(&c, "#sync-state", "the organizer page answering", |t| !t.is_empty() && !t.starts_with("connecting"))
            .await;
        audit(&c, "organizer page").await;

        open(&c, &node, json!({"page": "portfolio"})).await;
        c.goto(&format!("http://{}/portfolio#member=M-1", node.addr())).await.expect("member");
        wait_text(&c, "#sync-state", "the portfolio page answering", |t| !t.is_empty() && !t.starts_with("connecting"))
            .await;
        audit(&c, "portfolio page").await;
    });
}
