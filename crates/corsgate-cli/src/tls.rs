//! TLS for `doctor`, the proxy's upstreams and the proxy's listener.
//!
//! rustls with the *ring* provider: it builds with a C compiler alone (no
//! cmake, no assembler, no bindgen), which keeps a fresh 2-core build short,
//! and it has every suite browsers and servers negotiate (TLS 1.3 and 1.2
//! ECDHE with AES-GCM or ChaCha20). The trusted roots are the system's
//! (`rustls-native-certs`: Debian's `ca-certificates`, or the files named by
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`), plus `--cacert FILE`: what curl and
//! browsers trust, so a certificate corsgate refuses is one a user's browser
//! refuses too.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use hyper_util::client::legacy::connect::HttpConnector;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// The one crypto provider.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM file (`--cacert`, `--tls-cert`).
fn read_certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("{flag} {}: cannot read it: {e}", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{flag} {}: not a PEM file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{flag} {}: no certificate in it\n  help: give a PEM file with `-----BEGIN CERTIFICATE-----` blocks",
            path.display()
        ));
    }
    Ok(certs)
}

/// What a client trusts: the system's roots and `--cacert`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientOptions {
    /// `--cacert FILE`: certificates trusted besides the system's.
    pub(crate) cacert: Option<PathBuf>,
    /// `--insecure`: certificate problems are recorded, not refused.
    pub(crate) insecure: bool,
}

/// A client's TLS configuration, and what `--insecure` let through.
pub(crate) struct ClientTls {
    pub(crate) config: ClientConfig,
    /// With `--insecure`: each certificate accepted despite a problem.
    pub(crate) bypassed: Option<Arc<Bypassed>>,
    /// Trouble with the system's store (none found, unreadable files).
    pub(crate) warnings: Vec<String>,
}

impl ClientOptions {
    /// The configuration (ALPN is set by the connector).
    pub(crate) fn build(&self) -> Result<ClientTls, String> {
        let mut roots = RootCertStore::empty();
        let mut warnings = Vec::new();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            warnings.push(format!(
                "reading the system's trusted certificates: {error}"
            ));
        }
        let (_, unparsable) = roots.add_parsable_certificates(native.certs);
        if unparsable > 0 {
            warnings.push(format!(
                "{unparsable} of the system's trusted certificates could not be parsed and are not trusted"
            ));
        }
        if let Some(path) = &self.cacert {
            for cert in read_certificates(path, "--cacert")? {
                roots.add(cert).map_err(|e| {
                    format!(
                        "--cacert {}: not a usable CA certificate: {e}",
                        path.display()
                    )
                })?;
            }
        }
        if roots.is_empty() {
            warnings.push(
                "no trusted root certificate was found, so every https certificate is refused\n  help: install Debian's `ca-certificates`, set SSL_CERT_FILE, or pass --cacert FILE"
                    .into(),
            );
        }
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let (config, bypassed) = if self.insecure {
            let bypassed = Arc::new(Bypassed::default());
            let verifier = Recording {
                inner: (!roots.is_empty())
                    .then(|| {
                        WebPkiServerVerifier::builder_with_provider(
                            Arc::new(roots),
                            Arc::clone(&provider),
                        )
                        .build()
                        .ok()
                    })
                    .flatten(),
                provider,
                bypassed: Arc::clone(&bypassed),
            };
            let config = builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            (config, Some(bypassed))
        } else {
            (
                builder.with_root_certificates(roots).with_no_client_auth(),
                None,
            )
        };
        Ok(ClientTls {
            config,
            bypassed,
            warnings,
        })
    }
}

/// A connector for `http://` and `https://` URLs: TLS for https, never a
/// downgrade to plain http. With `h2`, ALPN offers HTTP/2 before HTTP/1.1.
pub(crate) type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

pub(crate) fn connector(mut http: HttpConnector, config: ClientConfig, h2: bool) -> Connector {
    http.enforce_http(false);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1();
    if h2 {
        builder.enable_http2().wrap_connector(http)
    } else {
        builder.wrap_connector(http)
    }
}

/// The certificate problems `--insecure` let through: host and problem.
#[derive(Debug, Default)]
pub(crate) struct Bypassed(Mutex<Vec<(String, Problem)>>);

impl Bypassed {
    /// Each problem once, in the order met.
    pub(crate) fn take(&self) -> Vec<(String, Problem)> {
        self.0
            .lock()
            .map(|mut seen| std::mem::take(&mut *seen))
            .unwrap_or_default()
    }
}

/// `--insecure`'s verifier: the system's verification runs and its verdict
/// is recorded, then the certificate is accepted. The handshake signatures
/// are still checked (the server does hold the certificate's key).
#[derive(Debug)]
struct Recording {
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    bypassed: Arc<Bypassed>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = match &self.inner {
            Some(inner) => inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .err(),
            None => Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        if let Some(error) = verdict
            && let Some(problem) = Problem::of_rustls(&error)
            && let Ok(mut seen) = self.bypassed.0.lock()
        {
            let host = server_name.to_str().into_owned();
            if !seen
                .iter()
                .any(|(h, p)| *h == host && p.net_error == problem.net_error)
            {
                seen.push((host, problem));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS failure as a browser reports it: Chromium's net error name, what
/// it means, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Chromium's name, e.g. `net::ERR_CERT_AUTHORITY_INVALID`.
    pub(crate) net_error: &'static str,
    /// What is wrong, in plain words.
    pub(crate) what: String,
    /// What to change.
    pub(crate) fix: &'static str,
}

impl Problem {
    /// The TLS problem somewhere in an error's chain, if it is one. An I/O
    /// error's inner error is looked into as well, however deep (the
    /// connector wraps the TLS library's I/O error in another).
    pub(crate) fn find(error: &(dyn StdError + 'static)) -> Option<Self> {
        let mut next = Some(error);
        while let Some(e) = next {
            let mut inner: &(dyn StdError + 'static) = e;
            loop {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Self::of_rustls(tls);
                }
                match inner
                    .downcast_ref::<std::io::Error>()
                    .and_then(std::io::Error::get_ref)
                {
                    Some(wrapped) => inner = wrapped,
                    None => break,
                }
            }
            next = e.source();
        }
        None
    }

    /// Chromium's name for a rustls error (`net/base/net_error_list.h`).
    pub(crate) fn of_rustls(error: &rustls::Error) -> Option<Self> {
        use rustls::AlertDescription as Alert;
        const AUTHORITY: &str = "use a certificate from a public CA (e.g. Let's Encrypt); for a development CA, make the browser trust it (`mkcert -install`) and give it to corsgate with --cacert FILE";
        const DATE: &str = "renew the certificate (and check that the server's and this machine's clocks are right)";
        const NAME: &str = "request the host the certificate names, or issue a certificate whose subjectAltName lists this host";
        const INVALID: &str = "issue a new certificate for this server (a TLS server certificate, signed by a trusted CA)";
        const PROTOCOL: &str = "check that the port serves https (an http server on an https URL gives this), and the server's TLS configuration";
        const CA_AS_SERVER: &str = "issue a server certificate (basicConstraints CA:FALSE): `mkcert localhost 127.0.0.1`, or add `-addext basicConstraints=critical,CA:FALSE` to `openssl req -x509`";
        const MISMATCH: &str =
            "enable TLS 1.2 or 1.3 with ECDHE and AES-GCM or ChaCha20 on the server";
        let (net_error, fix) = match error {
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => ("net::ERR_CERT_AUTHORITY_INVALID", AUTHORITY),
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => {
                    ("net::ERR_CERT_DATE_INVALID", DATE)
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    ("net::ERR_CERT_COMMON_NAME_INVALID", NAME)
                }
                CertificateError::Revoked => ("net::ERR_CERT_REVOKED", INVALID),
                _ if is_ca_as_server(cert) => ("net::ERR_CERT_INVALID", CA_AS_SERVER),
                _ => ("net::ERR_CERT_INVALID", INVALID),
            },
            rustls::Error::PeerIncompatible(_)
            | rustls::Error::AlertReceived(
                Alert::HandshakeFailure | Alert::ProtocolVersion | Alert::InsufficientSecurity,
            ) => ("net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH", MISMATCH),
            rustls::Error::AlertReceived(
                Alert::CertificateRequired | Alert::BadCertificate | Alert::UnknownCA,
            ) => (
                "net::ERR_BAD_SSL_CLIENT_AUTH_CERT",
                "the server asks for a client certificate, which corsgate does not send",
            ),
            _ => ("net::ERR_SSL_PROTOCOL_ERROR", PROTOCOL),
        };
        Some(Self {
            net_error,
            what: describe(error),
            fix,
        })
    }
}

/// A CA certificate presented as a server's (what `openssl req -x509`
/// makes by default).
fn is_ca_as_server(error: &CertificateError) -> bool {
    matches!(error, CertificateError::Other(other)
        if other.0.downcast_ref::<webpki::Error>() == Some(&webpki::Error::CaUsedAsEndEntity))
}

/// A rustls error in plain words.
fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) if is_ca_as_server(cert) => {
            "the server's certificate is a CA certificate (basicConstraints CA:TRUE), which cannot identify a server".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the certificate is not signed by an authority this machine trusts (self-signed, or a private CA)".into()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => format!("the certificate has expired ({error})"),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => format!("the certificate is not valid yet ({error})"),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!("the certificate is for another host ({error})"),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("the TLS handshake failed: the server did not answer in TLS ({error})")
        }
        _ => format!("the TLS handshake failed ({error})"),
    }
}

/// The proxy's certificate: loaded from PEM files, and replaced while it
/// serves (each new handshake gets the current one).
#[derive(Debug)]
pub(crate) struct ServerCert {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ServerCert {
    /// Loads `--tls-cert` and `--tls-key`.
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, String> {
        let current = load_pair(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(current)),
        }))
    }

    /// Loads the files again; on error the old certificate stays.
    pub(crate) fn reload(&self) -> Result<(), String> {
        let next = load_pair(&self.cert, &self.key)?;
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(next);
        }
        Ok(())
    }

    /// A server configuration that serves the current certificate, with
    /// HTTP/2 and HTTP/1.1 by ALPN.
    pub(crate) fn server_config(self: &Arc<Self>) -> Result<ServerConfig, String> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|key| Arc::clone(&key))
    }
}

/// The certificate chain and its private key, checked to belong together.
fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain = read_certificates(cert, "--tls-cert")?;
    let bytes = std::fs::read(key)
        .map_err(|e| format!("--tls-key {}: cannot read it: {e}", key.display()))?;
    let private = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        format!(
            "--tls-key {}: no private key in it ({e})\n  help: give the PEM file with the `-----BEGIN PRIVATE KEY-----` block",
            key.display()
        )
    })?;
    let signing = provider()
        .key_provider
        .load_private_key(private)
        .map_err(|e| format!("--tls-key {}: unusable key: {e}", key.display()))?;
    let pair = CertifiedKey::new(chain, signing);
    pair.keys_match().map_err(|e| {
        format!(
            "--tls-cert {} and --tls-key {} do not belong together ({e})\n  help: give the key the certificate was issued for",
            cert.display(),
            key.display()
        )
    })?;
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_have_chromium_names() {
        let name = |e: CertificateError| {
            Problem::of_rustls(&rustls::Error::InvalidCertificate(e))
                .map(|p| p.net_error)
                .unwrap_or_default()
        };
        assert_eq!(
            name(CertificateError::UnknownIssuer),
            "net::ERR_CERT_AUTHORITY_INVALID"
        );
        assert_eq!(
            name(CertificateError::Expired),
            "net::ERR_CERT_DATE_INVALID"
        );
        assert_eq!(
            name(CertificateError::NotValidYet),
            "net::ERR_CERT_DATE_INVALID"
        );
        assert_eq!(
            name(CertificateError::NotValidForName),
            "net::ERR_CERT_COMMON_NAME_INVALID"
        );
        assert_eq!(name(CertificateError::Revoked), "net::ERR_CERT_REVOKED");
        assert_eq!(
            name(CertificateError::BadSignature),
            "net::ERR_CERT_INVALID"
        );
        let ca_as_server = rustls::Error::InvalidCertificate(CertificateError::Other(
            rustls::OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity)),
        ));
        let problem = Problem::of_rustls(&ca_as_server).unwrap();
        assert_eq!(problem.net_error, "net::ERR_CERT_INVALID");
        assert!(problem.what.contains("CA:TRUE"), "{}", problem.what);
        assert!(problem.fix.contains("CA:FALSE"), "{}", problem.fix);
    }

    #[test]
    fn a_tls_error_is_found_inside_an_io_error() {
        let io = std::io::Error::other(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        let problem = Problem::find(&io).map(|p| p.net_error);
        assert_eq!(problem, Some("net::ERR_CERT_AUTHORITY_INVALID"));
        let twice = std::io::Error::other(io);
        let problem = Problem::find(&twice).map(|p| p.net_error);
        assert_eq!(problem, Some("net::ERR_CERT_AUTHORITY_INVALID"));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(Problem::find(&refused), None);
    }

    #[test]
    fn bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("corsgate-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let options = ClientOptions {
            cacert: Some(empty.clone()),
            insecure: false,
        };
        let error = options.build().err().unwrap_or_default();
        assert!(
            error.contains("--cacert") && error.contains("no certificate"),
            "{error}"
        );
        let error = ServerCert::load(&empty, &empty).err().unwrap_or_default();
        assert!(
            error.contains("--tls-cert") && error.contains("no certificate"),
            "{error}"
        );
        let missing = dir.join("missing.pem");
        let error = ServerCert::load(&missing, &missing)
            .err()
            .unwrap_or_default();
        assert!(error.contains("cannot read it"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
