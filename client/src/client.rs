//! A typed async client of the local API (`docs/api.md`).
//!
//! Every call sends the bearer token; the `Host` header is the URL's host. Errors are
//! [`ClientError`]: the node's `{"error": {...}}` answers decode to [`ClientError::Api`], and a
//! node that is not running gives [`ClientError::Unreachable`] with how to start it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::discover::{DiscoverEnv, Discovery, discover, normalize_url};
use crate::error::ClientError;
use crate::wire::*;

mod blobs;
mod portfolio;
#[cfg(test)]
mod tests;

/// `limit` and `cursor` of a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageOpts {
    /// Items per page (the node's default is 100, its maximum 1000).
    pub limit: Option<u32>,
    /// Where to continue: a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Filters of `GET /v1/checkins`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckInFilter {
    /// Only this event.
    pub event_id: Option<String>,
    /// Only this session.
    pub session_id: Option<String>,
    /// Only this member.
    pub member_id: Option<String>,
}

/// The rendered formats of transcripts and petition packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// JSON (the typed methods decode it).
    Json,
    /// CSV.
    Csv,
    /// PDF.
    Pdf,
}

impl ReportFormat {
    /// The `format` query value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Json => "json",
            ReportFormat::Csv => "csv",
            ReportFormat::Pdf => "pdf",
        }
    }
}

/// Progress of an upload: bytes sent so far, and the total.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// A client of one node.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
    /// How to start the node, for [`ClientError::Unreachable`].
    start: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("base", &self.base.as_str()).field("token", &"<redacted>").finish()
    }
}

type Query = Vec<(&'static str, String)>;

impl Client {
    /// A client of the node at `base_url` (e.g. `http://127.0.0.1:7420`) with this token.
    pub fn new(base_url: &str, token: impl Into<String>) -> Result<Client, ClientError> {
        let base_str = normalize_url(base_url)?;
        let base =
            Url::parse(&base_str).map_err(|e| ClientError::BadUrl { url: base_str.clone(), cause: e.to_string() })?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("cec-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Transport { url: base_str.clone(), cause: e.to_string() })?;
        Ok(Client { http, base, token: token.into(), start: "cecd".into() })
    }

    /// Finds the local node by itself: data directory from `data_dir`, else `CECD_DATA_DIR`,
    /// else `$XDG_DATA_HOME/cecd`, else `~/.local/share/cecd`; the token from its `api-token`;
    /// the URL from `CEC_URL`, else its `api-url`, else `http://127.0.0.1:7420`.
    pub fn discover(data_dir: Option<PathBuf>) -> Result<Client, ClientError> {
        Client::from_discovery(&discover(data_dir, None, &DiscoverEnv::from_process())?)
    }

    /// A client of what [`discover`] found.
    pub fn from_discovery(d: &Discovery) -> Result<Client, ClientError> {
        let mut client = Client::new(&d.base_url, d.token.clone())?;
        if d.data_dir_explicit {
            client.start = format!("cecd --data-dir {}", d.data_dir.display());
        }
        Ok(client)
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    // ---- plumbing ----

    /// `<base>/v1/<segments...>`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        url
    }

    fn request(&self, method: Method, url: &Url) -> RequestBuilder {
        self.http.request(method, url.clone()).bearer_auth(&self.token)
    }

    /// Sends, maps transport failures, and turns error statuses into [`ClientError::Api`].
    async fn execute(&self, url: &Url, rb: RequestBuilder) -> Result<Response, ClientError> {
        let resp = rb.send().await.map_err(|e| self.transport_error(url, &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.map_err(|e| self.transport_error(url, &e))?;
        Err(ClientError::from_response(status.as_u16(), &body))
    }

    fn transport_error(&self, url: &Url, e: &reqwest::Error) -> ClientError {
        let cause = root_cause(e);
        if e.is_connect() {
            ClientError::Unreachable { url: self.base_url().to_owned(), cause, start: self.start.clone() }
        } else if e.is_timeout() {
            ClientError::Transport { url: url.to_string(), cause: format!("timed out ({cause})") }
        } else {
            ClientError::Transport { url: url.to_string(), cause }
        }
    }

    async fn decode<T: DeserializeOwned>(&self, url: &Url, resp: Response) -> Result<T, ClientError> {
        let body = resp.bytes().await.map_err(|e| self.transport_error(url, &e))?;
        serde_json::from_slice(&body).map_err(|e| {
            let snippet: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            ClientError::Decode { url: url.to_string(), cause: format!("{e}; the answer began {snippet:?}") }
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: Query,
        body: Option<Vec<u8>>,
    ) -> Result<T, ClientError> {
        let url = self.url(segments);
        let mut rb = self.request(method, &url);
        if !query.is_empty() {
            rb = rb.query(&query);
        }
        if let Some(body) = body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let resp = self.execute(&url, rb).await?;
        self.decode(&url, resp).await
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str], query: Query) -> Result<T, ClientError> {
        self.call(Method::GET, segments, query, None).await
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| ClientError::Decode { url: self.url(segments).to_string(), cause: e.to_string() })?;
        self.call(method, segments, Vec::new(), Some(body)).await
    }

    /// A GET answering raw bytes (CSV, PDF, blobs).
    async fn get_bytes(&self, segments: &[&str], query: Query) -> Result<Vec<u8>, ClientError> {
        let url = self.url(segments);
        let mut rb = self.request(Method::GET, &url);
        if !query.is_empty() {
            rb = rb.query(&query);
        }
        let resp = self.execute(&url, rb).await?;
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(&url, &e))?;
        Ok(bytes.to_vec())
    }

    async fn delete(&self, segments: &[&str]) -> Result<(), ClientError> {
        let url = self.url(segments);
        let rb = self.request(Method::DELETE, &url);
        self.execute(&url, rb).await.map(drop)
    }

    /// Fetches every page of a list, following `next_cursor`.
    async fn all_pages<T: DeserializeOwned>(&self, segments: &[&str], query: Query) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = query.clone();
            q.push(("limit", "1000".into()));
            if let Some(c) = cursor.take() {
                q.push(("cursor", c));
            }
            let page: Page<T> = self.get(segments, q).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(c) if !c.is_empty() => cursor = Some(c),
                _ => return Ok(items),
            }
        }
    }

    // ---- node ----

    /// `GET /v1/health`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get(&["health"], Vec::new()).await
    }

    /// `GET /v1/node`.
    pub async fn node(&self) -> Result<NodeInfo, ClientError> {
        self.get(&["node"], Vec::new()).await
    }

    /// `GET /v1/openapi.json`.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.get(&["openapi.json"], Vec::new()).await
    }

    // ---- events, sessions, roster ----

    /// `POST /v1/events`.
    pub async fn create_event(&self, event: &NewEvent) -> Result<EventJson, ClientError> {
        self.send_json(Method::POST, &["events"], event).await
    }

    /// `GET /v1/events`, one page.
    pub async fn events(&self, page: &PageOpts) -> Result<Page<EventJson>, ClientError> {
        self.get(&["events"], page_query(Vec::new(), page)).await
    }

    /// `GET /v1/events`, every page.
    pub async fn all_events(&self) -> Result<Vec<EventJson>, ClientError> {
        self.all_pages(&["events"], Vec::new()).await
    }

    /// `GET /v1/events/{event_id}`.
    pub async fn event(&self, event_id: &str) -> Result<EventJson, ClientError> {
        self.get(&["events", event_id], Vec::new()).await
    }

    /// `POST /v1/events/{event_id}/sessions`.
    pub async fn create_session(&self, event_id: &str, session: &NewSession) -> Result<SessionJson, ClientError> {
        self.send_json(Method::POST, &["events", event_id, "sessions"], session).await
    }

    /// `GET /v1/events/{event_id}/sessions`, one page.
    pub async fn sessions(&self, event_id: &str, page: &PageOpts) -> Result<Page<SessionJson>, ClientError> {
        self.get(&["events", event_id, "sessions"], page_query(Vec::new(), page)).await
    }

    /// `GET /v1/events/{event_id}/sessions`, every page.
    pub async fn all_sessions(&self, event_id: &str) -> Result<Vec<SessionJson>, ClientError> {
        self.all_pages(&["events", event_id, "sessions"], Vec::new()).await
    }

    /// `GET /v1/events/{event_id}/sessions/{session_id}`.
    pub async fn session(&self, event_id: &str, session_id: &str) -> Result<SessionJson, ClientError> {
        self.get(&["events", event_id, "sessions", session_id], Vec::new()).await
    }

    /// `POST /v1/events/{event_id}/roster`.
    pub async fn add_roster(&self, event_id: &str, roster: &Roster) -> Result<Roster, ClientError> {
        self.send_json(Method::POST, &["events", event_id, "roster"], roster).await
    }

    /// `GET /v1/events/{event_id}/roster` (served by the daemon beyond api.md v1).
    pub async fn roster(&self, event_id: &str) -> Result<Roster, ClientError> {
        self.get(&["events", event_id, "roster"], Vec::new()).await
    }

    // ---- check-ins ----

    /// `POST /v1/checkins`.
    pub async fn checkin(&self, checkin: &NewCheckIn) -> Result<CheckInJson, ClientError> {
        self.send_json(Method::POST, &["checkins"], checkin).await
    }

    /// `POST /v1/checkins/{id}/void`: the check-in with its void (the first void stands).
    pub async fn void_checkin(&self, checkin_id: &str, reason: Option<&str>) -> Result<CheckInJson, ClientError> {
        let req = VoidRequest { reason: reason.map(str::to_owned) };
        self.send_json(Method::POST, &["checkins", checkin_id, "void"], &req).await
    }

    /// `POST /v1/open-tickets`: a one-time link that opens `page` in a browser.
    pub async fn open_ticket(&self, page: &str) -> Result<Ticket, ClientError> {
        let req = TicketRequest { page: Some(page.to_owned()), ..TicketRequest::default() };
        self.send_json(Method::POST, &["open-tickets"], &req).await
    }

    /// `POST /v1/open-tickets` with `pair`: a one-time link that pairs the browser opening it
    /// with `page` (the kiosk screen), under `label`.
    pub async fn pairing_ticket(&self, page: &str, label: Option<&str>) -> Result<Ticket, ClientError> {
        let req = TicketRequest { page: Some(page.to_owned()), pair: true, label: label.map(str::to_owned) };
        self.send_json(Method::POST, &["open-tickets"], &req).await
    }

    /// `GET /v1/pairings`: the browsers paired with the node.
    pub async fn pairings(&self) -> Result<Vec<PairingJson>, ClientError> {
        let page: Page<PairingJson> = self.get(&["pairings"], Vec::new()).await?;
        Ok(page.items)
    }

    /// `DELETE /v1/pairings/{id}`: ends a pairing; the pairing as it now stands.
    pub async fn end_pairing(&self, id: &str) -> Result<PairingJson, ClientError> {
        self.call(Method::DELETE, &["pairings", id], Vec::new(), None).await
    }

    /// `POST /v1/checkins/batch` (at most 1000 items): a result per item.
    pub async fn checkin_batch(&self, checkins: &[NewCheckIn]) -> Result<BatchResult, ClientError> {
        let checkins = checkins.iter().map(serde_json::to_value).collect::<Result<Vec<_>, _>>().map_err(|e| {
            ClientError::Decode { url: self.url(&["checkins", "batch"]).to_string(), cause: e.to_string() }
        })?;
        self.send_json(Method::POST, &["checkins", "batch"], &CheckInBatch { checkins }).await
    }

    /// `GET /v1/checkins`, one page.
    pub async fn checkins(&self, filter: &CheckInFilter, page: &PageOpts) -> Result<Page<CheckInJson>, ClientError> {
        self.get(&["checkins"], page_query(filter_query(filter), page)).await
    }

    /// `GET /v1/checkins`, every page.
    pub async fn all_checkins(&self, filter: &CheckInFilter) -> Result<Vec<CheckInJson>, ClientError> {
        self.all_pages(&["checkins"], filter_query(filter)).await
    }

    // ---- credit ----

    /// `GET /v1/members/{member_id}/attendance?event_id=`.
    pub async fn attendance(&self, member_id: &str, event_id: Option<&str>) -> Result<AttendanceList, ClientError> {
        let q = event_id.map(|e| vec![("event_id", e.to_owned())]).unwrap_or_default();
        self.get(&["members", member_id, "attendance"], q).await
    }

    /// `GET /v1/members/{member_id}/cecs?from=&to=`.
    pub async fn cecs(&self, member_id: &str, from: Option<Date>, to: Option<Date>) -> Result<CecSummary, ClientError> {
        self.get(&["members", member_id, "cecs"], date_query(Vec::new(), from, to)).await
    }

    // ---- portfolio: see portfolio.rs; blobs: see blobs.rs ----

    // ---- changes, peers, sync, credentials ----

    /// `GET /v1/changes?since=&wait=`: with `wait`, answers as soon as something changes.
    pub async fn changes(&self, since: Option<&str>, wait_seconds: Option<u32>) -> Result<Changes, ClientError> {
        let mut q = Vec::new();
        if let Some(s) = since {
            q.push(("since", s.to_owned()));
        }
        if let Some(w) = wait_seconds {
            q.push(("wait", w.to_string()));
        }
        self.get(&["changes"], q).await
    }

    /// `GET /v1/peers`: every peer this node syncs with.
    pub async fn peers(&self) -> Result<Vec<PeerJson>, ClientError> {
        self.all_pages(&["peers"], Vec::new()).await
    }

    /// `POST /v1/peers`: adds a static peer by its `peer_url` (from its `GET /v1/node`).
    pub async fn add_peer(&self, url: &str) -> Result<PeerJson, ClientError> {
        self.send_json(Method::POST, &["peers"], &NewPeer { url: url.to_owned() }).await
    }

    /// `DELETE /v1/peers/{peer_id}`.
    pub async fn remove_peer(&self, peer_id: &str) -> Result<(), ClientError> {
        self.delete(&["peers", peer_id]).await
    }

    /// `POST /v1/sync`: a sync round with one peer, or with all of them. A peer that failed
    /// is an entry with `error`, not an `Err`; a node without a credential is `409 conflict`.
    pub async fn sync(&self, peer_id: Option<&str>) -> Result<SyncResult, ClientError> {
        self.send_json(Method::POST, &["sync"], &SyncRequest { peer_id: peer_id.map(str::to_owned) }).await
    }

    /// `GET /v1/sync/status`.
    pub async fn sync_status(&self) -> Result<SyncStatus, ClientError> {
        self.get(&["sync", "status"], Vec::new()).await
    }

    /// `POST /v1/admin/credentials` (the central node only; `403 forbidden` elsewhere).
    pub async fn issue_credential(&self, req: &IssueCredential) -> Result<CredentialJson, ClientError> {
        self.send_json(Method::POST, &["admin", "credentials"], req).await
    }

    /// `POST /v1/node/credential`: installs this node's credential and pins the organization key.
    pub async fn install_credential(&self, req: &InstallCredential) -> Result<CredentialJson, ClientError> {
        self.send_json(Method::POST, &["node", "credential"], req).await
    }

    /// `POST /v1/admin/enrolments` (the central node only; `403 forbidden` elsewhere).
    pub async fn create_enrolment(&self, req: &NewEnrolment) -> Result<EnrolmentJson, ClientError> {
        self.send_json(Method::POST, &["admin", "enrolments"], req).await
    }

    /// `POST /v1/node/enroll`: fetches this node's credential from the central node the code
    /// names, and installs it.
    pub async fn enroll(&self, code: &str) -> Result<EnrolledJson, ClientError> {
        self.send_json(Method::POST, &["node", "enroll"], &EnrollRequest { code: code.to_owned() }).await
    }

    /// `POST /v1/admin/revocations` (the central node only).
    pub async fn revoke(&self, node_id: &str) -> Result<RevocationJson, ClientError> {
        self.send_json(Method::POST, &["admin", "revocations"], &NewRevocation { node_id: node_id.to_owned() }).await
    }

    /// `GET /v1/admin/revocations`: every revocation this node knows.
    pub async fn revocations(&self) -> Result<Vec<RevocationJson>, ClientError> {
        self.all_pages(&["admin", "revocations"], Vec::new()).await
    }
}

fn page_query(mut q: Query, page: &PageOpts) -> Query {
    if let Some(l) = page.limit {
        q.push(("limit", l.to_string()));
    }
    if let Some(c) = &page.cursor {
        q.push(("cursor", c.clone()));
    }
    q
}

fn filter_query(f: &CheckInFilter) -> Query {
    let mut q = Vec::new();
    for (k, v) in [("event_id", &f.event_id), ("session_id", &f.session_id), ("member_id", &f.member_id)] {
        if let Some(v) = v {
            q.push((k, v.clone()));
        }
    }
    q
}

fn date_query(mut q: Query, from: Option<Date>, to: Option<Date>) -> Query {
    if let Some(f) = from {
        q.push(("from", f.to_string()));
    }
    if let Some(t) = to {
        q.push(("to", t.to_string()));
    }
    q
}

/// The innermost cause of an error, which says what happened ("Connection refused").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
