//! Test certificates made at test time (rcgen): a CA of the test's own,
//! server certificates it issues (good, expired, for another host), and a
//! TLS server for an axum app. Shared by the CLI and browser suites.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PublicKeyData,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt;

use crate::support::TempDir;

/// A certificate authority of the test's own, and the files it issues.
pub(crate) struct Pki {
    dir: TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    pub(crate) ca_pem: PathBuf,
}

/// A server certificate and its key, as PEM files.
pub(crate) struct Leaf {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    /// The DER certificate, to tell which one a server presented.
    pub(crate) der: Vec<u8>,
    /// The key's SubjectPublicKeyInfo (DER), for Chromium's SPKI list.
    pub(crate) spki: Vec<u8>,
}

impl Pki {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("corsgate test CA ({name})"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = TempDir::new(name);
        let ca_pem = dir.write("ca.pem", &ca.pem());
        Self { dir, ca, ca_pem }
    }

    /// A server certificate for `hosts`; `expired` ends its validity in 2020.
    pub(crate) fn issue(&self, file: &str, hosts: &[&str], expired: bool) -> Leaf {
        let names: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, hosts[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Leaf {
            cert: self.dir.write(&format!("{file}.pem"), &cert.pem()),
            key: self.dir.write(&format!("{file}.key"), &key.serialize_pem()),
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
        }
    }

    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

/// Serves `app` over TLS with `leaf`, offering the ALPN protocols given.
pub(crate) async fn serve_tls(leaf: &Leaf, alpn: &[&str], app: Router) -> SocketAddr {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&leaf.cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&leaf.key).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| app.clone().oneshot(req));
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
    addr
}

impl Leaf {
    /// The SHA-256 of the key's SubjectPublicKeyInfo, base64: what
    /// Chromium's `--ignore-certificate-errors-spki-list` takes, to trust
    /// this one certificate without turning verification off.
    pub(crate) fn spki_sha256(&self) -> String {
        use base64::Engine as _;
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.spki);
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    }
}
