//! The member's portfolio: entries, goals, requirements, petitions, packets and transcripts.

use jiff::civil::Date;
use reqwest::Method;

use super::{Client, ReportFormat, date_query};
use crate::error::ClientError;
use crate::wire::*;

impl Client {
    /// `GET /v1/portfolios/{member_id}`.
    pub async fn portfolio(&self, member_id: &str) -> Result<PortfolioJson, ClientError> {
        self.get(&["portfolios", member_id], Vec::new()).await
    }

    /// `POST /v1/portfolios/{member_id}/entries`.
    pub async fn create_entry(&self, member_id: &str, entry: &NewEntry) -> Result<EntryJson, ClientError> {
        self.send_json(Method::POST, &["portfolios", member_id, "entries"], entry).await
    }

    /// `PATCH /v1/portfolios/{member_id}/entries/{entry_id}`.
    pub async fn patch_entry(
        &self,
        member_id: &str,
        entry_id: &str,
        patch: &EntryPatch,
    ) -> Result<EntryJson, ClientError> {
        self.send_json(Method::PATCH, &["portfolios", member_id, "entries", entry_id], patch).await
    }

    /// `DELETE /v1/portfolios/{member_id}/entries/{entry_id}`.
    pub async fn delete_entry(&self, member_id: &str, entry_id: &str) -> Result<(), ClientError> {
        self.delete(&["portfolios", member_id, "entries", entry_id]).await
    }

    /// `PUT /v1/portfolios/{member_id}/goals/{goal_id}`.
    pub async fn put_goal(&self, member_id: &str, goal_id: &str, goal: &GoalInput) -> Result<GoalJson, ClientError> {
        self.send_json(Method::PUT, &["portfolios", member_id, "goals", goal_id], goal).await
    }

    /// `GET /v1/portfolios/{member_id}/goals`, every page.
    pub async fn goals(&self, member_id: &str) -> Result<Vec<GoalJson>, ClientError> {
        self.all_pages(&["portfolios", member_id, "goals"], Vec::new()).await
    }

    /// `PUT /v1/portfolios/{member_id}/requirements/{program_id}`.
    pub async fn put_requirement(
        &self,
        member_id: &str,
        program_id: &str,
        program: &ProgramInput,
    ) -> Result<ProgramJson, ClientError> {
        self.send_json(Method::PUT, &["portfolios", member_id, "requirements", program_id], program).await
    }

    /// `GET /v1/portfolios/{member_id}/requirements`, every page.
    pub async fn requirements(&self, member_id: &str) -> Result<Vec<ProgramJson>, ClientError> {
        self.all_pages(&["portfolios", member_id, "requirements"], Vec::new()).await
    }

    /// `POST /v1/portfolios/{member_id}/petitions`.
    pub async fn create_petition(&self, member_id: &str, petition: &NewPetition) -> Result<PetitionJson, ClientError> {
        self.send_json(Method::POST, &["portfolios", member_id, "petitions"], petition).await
    }

    /// `PATCH /v1/portfolios/{member_id}/petitions/{petition_id}`.
    pub async fn patch_petition(
        &self,
        member_id: &str,
        petition_id: &str,
        patch: &PetitionPatch,
    ) -> Result<PetitionJson, ClientError> {
        self.send_json(Method::PATCH, &["portfolios", member_id, "petitions", petition_id], patch).await
    }

    /// `GET /v1/portfolios/{member_id}/petitions`, every page.
    pub async fn petitions(&self, member_id: &str) -> Result<Vec<PetitionJson>, ClientError> {
        self.all_pages(&["portfolios", member_id, "petitions"], Vec::new()).await
    }

    /// `GET /v1/portfolios/{member_id}/petitions/{petition_id}` (served by the daemon beyond
    /// api.md v1).
    pub async fn petition(&self, member_id: &str, petition_id: &str) -> Result<PetitionJson, ClientError> {
        self.get(&["portfolios", member_id, "petitions", petition_id], Vec::new()).await
    }

    /// `GET .../petitions/{petition_id}/packet?format=json`.
    pub async fn petition_packet(&self, member_id: &str, petition_id: &str) -> Result<PacketJson, ClientError> {
        let q = vec![("format", "json".to_owned())];
        self.get(&["portfolios", member_id, "petitions", petition_id, "packet"], q).await
    }

    /// `GET .../petitions/{petition_id}/packet?format=...` as bytes (CSV or PDF, or raw JSON).
    pub async fn petition_packet_bytes(
        &self,
        member_id: &str,
        petition_id: &str,
        format: ReportFormat,
    ) -> Result<Vec<u8>, ClientError> {
        let q = vec![("format", format.as_str().to_owned())];
        self.get_bytes(&["portfolios", member_id, "petitions", petition_id, "packet"], q).await
    }

    /// `GET /v1/portfolios/{member_id}/transcript?format=json&from=&to=`.
    pub async fn transcript(
        &self,
        member_id: &str,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<TranscriptJson, ClientError> {
        let q = date_query(vec![("format", "json".to_owned())], from, to);
        self.get(&["portfolios", member_id, "transcript"], q).await
    }

    /// `GET /v1/portfolios/{member_id}/transcript?format=...` as bytes.
    pub async fn transcript_bytes(
        &self,
        member_id: &str,
        format: ReportFormat,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<Vec<u8>, ClientError> {
        let q = date_query(vec![("format", format.as_str().to_owned())], from, to);
        self.get_bytes(&["portfolios", member_id, "transcript"], q).await
    }
}
