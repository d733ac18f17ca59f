//! TLS between nodes, authenticated by the nodes' own ed25519 keys (Syncthing's model).
//!
//! Each node presents a self-signed certificate made from its node key. Nothing about the
//! certificate is trusted but its key: names, issuers and dates are ignored (kiosk clocks
//! drift). A client pins the server's node id (it is part of the peer URL); a server accepts
//! any client key during the handshake and reads the client's node id from the connection,
//! then checks the credential the client presents for that key. TLS 1.3 only, ring provider.

use std::sync::Arc;

use cec_core::ident::NodeId;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo, before its 32 key bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Making the certificate.
    #[error("making the node certificate: {0}")]
    Certificate(String),
    /// Configuring rustls.
    #[error("configuring TLS: {0}")]
    Config(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The node's certificate and key, made from its ed25519 key.
pub fn node_certificate(key: &SigningKey) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let der = key.to_pkcs8_der().map_err(|e| TlsError::Certificate(e.to_string()))?;
    let pkcs8 = PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
    let pair = rcgen::KeyPair::try_from(&pkcs8).map_err(|e| TlsError::Certificate(e.to_string()))?;
    let mut params =
        rcgen::CertificateParams::new(vec!["cecsync".to_owned()]).map_err(|e| TlsError::Certificate(e.to_string()))?;
    // Dates are not checked by peers; wide ones keep other tools from complaining.
    params.not_before = rcgen::date_time_ymd(1975, 1, 1);
    params.not_after = rcgen::date_time_ymd(4096, 1, 1);
    let cert = params.self_signed(&pair).map_err(|e| TlsError::Certificate(e.to_string()))?;
    Ok((cert.der().clone(), PrivateKeyDer::Pkcs8(pkcs8)))
}

/// The ed25519 key a certificate carries, if it carries one.
pub fn certificate_key(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let parsed = ParsedCertificate::try_from(cert).ok()?;
    let spki = parsed.subject_public_key_info();
    let bytes = spki.as_ref();
    let key = bytes.strip_prefix(&ED25519_SPKI_PREFIX[..])?;
    key.try_into().ok()
}

fn bad_cert() -> rustls::Error {
    rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
}

#[derive(Debug)]
struct Keys {
    algorithms: WebPkiSupportedAlgorithms,
}

impl Keys {
    fn new() -> Self {
        Self { algorithms: provider().signature_verification_algorithms }
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
}

/// Accepts exactly the server whose key gives the pinned node id.
#[derive(Debug)]
struct PinnedServer {
    node: NodeId,
    keys: Keys,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let key = certificate_key(end_entity).ok_or_else(bad_cert)?;
        if NodeId::from_public_key(&key) != self.node {
            return Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.keys.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// Requires a client certificate with an ed25519 key; which node it is, and whether its
/// credential lets it in, is decided per request.
#[derive(Debug)]
struct AnyNodeClient {
    keys: Keys,
}

impl ClientCertVerifier for AnyNodeClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        certificate_key(end_entity).ok_or_else(bad_cert)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.keys.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// The peer listener's TLS configuration.
pub fn server_config(key: &SigningKey) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (cert, private) = node_certificate(key)?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(AnyNodeClient { keys: Keys::new() }))
        .with_single_cert(vec![cert], private)?;
    let mut config = config;
    // A returning peer resumes its session (no certificates, no signatures): one ticket per
    // connection is all a client uses, and the cache holds a ticket for as many peers as a
    // central node serves at once and then some.
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SERVER_SESSIONS);
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

/// Resumable sessions the peer listener remembers (each a few hundred bytes).
const SERVER_SESSIONS: usize = 4096;

/// A client configuration that talks only to the node `server`. It keeps the session tickets
/// `server` gives, so reuse it for every connection to that node: the next handshake resumes
/// (see [`ClientConfigs`]).
///
/// A resumed session skips both certificates and the verifiers: it proves the keys that the
/// full handshake it resumes checked, and the tickets stay inside this configuration, which
/// talks to that one node only.
pub fn client_config(key: &SigningKey, server: &NodeId) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let (cert, private) = node_certificate(key)?;
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer { node: server.clone(), keys: Keys::new() }))
        .with_client_auth_cert(vec![cert], private)?;
    Ok(Arc::new(config))
}

/// Peers' client configurations kept between connections (one per peer node, with its session
/// tickets), so that a sync with a peer seen before resumes its TLS session.
#[derive(Debug, Default)]
pub struct ClientConfigs(std::sync::Mutex<std::collections::HashMap<NodeId, Arc<rustls::ClientConfig>>>);

/// Peer configurations kept at most; more start the cache afresh (a few full handshakes).
const CLIENT_CONFIGS: usize = 4096;

impl ClientConfigs {
    /// The configuration for connections to `server`, made once.
    pub fn get(&self, key: &SigningKey, server: &NodeId) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let mut configs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = configs.get(server) {
            return Ok(c.clone());
        }
        if configs.len() >= CLIENT_CONFIGS {
            configs.clear();
        }
        let config = client_config(key, server)?;
        configs.insert(server.clone(), config.clone());
        Ok(config)
    }

    /// Forgets every configuration and its tickets, as a restart does: the next connection to
    /// each peer makes a full handshake.
    pub fn forget(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One connection from `client` to a server with `server`'s config: how its handshake went
    /// (client side) and the client key the server read from the connection.
    async fn connect_once(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
    ) -> (Option<rustls::HandshakeKind>, Option<[u8; 32]>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (a, b) = tokio::io::duplex(1 << 16);
        let serve = tokio::spawn(async move {
            let mut tls = tokio_rustls::TlsAcceptor::from(server).accept(b).await.expect("accept");
            let key = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(certificate_key);
            tls.write_all(b"x").await.expect("write");
            tls.flush().await.expect("flush");
            let mut end = [0u8; 1];
            let _ = tls.read(&mut end).await;
            key
        });
        let name = ServerName::try_from("cecsync").expect("name");
        let mut tls = tokio_rustls::TlsConnector::from(client).connect(name, a).await.expect("connect");
        let kind = tls.get_ref().1.handshake_kind();
        // Reading the server's first byte takes in its session ticket, sent before it.
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await.expect("read");
        tls.shutdown().await.expect("shutdown");
        (kind, serve.await.expect("server"))
    }

    /// A node that connects again to a peer resumes its TLS session (no certificates sent),
    /// and the server still knows which node the client is; a node restarted (a configuration
    /// made afresh) makes a full handshake.
    #[tokio::test]
    async fn a_second_connection_to_a_peer_resumes_and_still_proves_the_client() {
        let (server_key, client_key) = (SigningKey::from_bytes(&[5; 32]), SigningKey::from_bytes(&[6; 32]));
        let server_id = NodeId::from_public_key(server_key.verifying_key().as_bytes());
        let server = server_config(&server_key).unwrap();
        let configs = ClientConfigs::default();
        let client = configs.get(&client_key, &server_id).unwrap();
        assert!(Arc::ptr_eq(&client, &configs.get(&client_key, &server_id).unwrap()), "made once per peer");
        let theirs = Some(*client_key.verifying_key().as_bytes());

        let first = connect_once(server.clone(), client.clone()).await;
        assert_eq!(first, (Some(rustls::HandshakeKind::Full), theirs));
        let second = connect_once(server.clone(), client.clone()).await;
        assert_eq!(second, (Some(rustls::HandshakeKind::Resumed), theirs), "resumed, the client key known");

        // Forgotten (a restarted node): a full handshake again.
        configs.forget();
        let fresh = configs.get(&client_key, &server_id).unwrap();
        assert_eq!(connect_once(server.clone(), fresh).await, (Some(rustls::HandshakeKind::Full), theirs));
    }

    #[test]
    fn a_node_certificate_carries_the_node_key() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let (cert, _) = node_certificate(&key).unwrap();
        assert_eq!(certificate_key(&cert), Some(*key.verifying_key().as_bytes()));
        assert!(server_config(&key).is_ok());
        assert!(client_config(&key, &NodeId::from_public_key(&[1; 32])).is_ok());
    }
}
