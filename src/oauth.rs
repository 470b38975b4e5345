//! OAuth 2.1 resource server for `serve --http`, as the MCP authorization specification asks:
//! clients send an access token from the configured authorization server(s); it is validated
//! here as a JWT against the issuer's JWKS (signature with an allowed asymmetric algorithm,
//! `iss`, `aud` = this server's resource URI, `exp`/`nbf` with a small leeway, required
//! scopes), and never forwarded to Kestra. `GET /.well-known/oauth-protected-resource`
//! (RFC 9728) names the authorization servers; a missing or invalid token gets
//! `401` with `WWW-Authenticate: Bearer resource_metadata="..."`, a token without the required
//! scopes `403 insufficient_scope`.
//!
//! The JWKS is fetched when first needed (from `KESTRA_MCP_OAUTH_JWKS_URL`, or the `jwks_uri`
//! of the issuer's metadata), kept for an hour, and fetched again when a token names a key id
//! it does not hold (key rotation), at most once per `KESTRA_MCP_OAUTH_JWKS_REFRESH_SECONDS`.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Url;
use serde_json::{Map, Value};

/// Who sent a request, from a validated access token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    /// The groups claim (`KESTRA_MCP_OAUTH_GROUPS_CLAIM`, `groups` by default).
    pub groups: Vec<String>,
    /// The scopes granted (`scope`, space-separated, or `scp`).
    pub scopes: Vec<String>,
}

/// The OAuth settings (`KESTRA_MCP_OAUTH_*`).
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The accepted token issuers (`iss`).
    pub issuers: Vec<String>,
    /// This server's resource URI: the public URL of its `/mcp` endpoint.
    pub resource: String,
    /// What the protected resource metadata names (by default, the issuers).
    pub authorization_servers: Vec<String>,
    /// Where the keys are; `None`: the `jwks_uri` of each issuer's metadata.
    pub jwks_url: Option<String>,
    /// The accepted `aud` values (by default, the resource URI).
    pub audiences: Vec<String>,
    /// Scopes every token must carry.
    pub scopes: Vec<String>,
    /// Accepted signature algorithms: asymmetric ones only.
    pub algorithms: Vec<Algorithm>,
    /// The claim that lists the user's groups.
    pub groups_claim: String,
    /// The shortest time between two JWKS fetches caused by unknown key ids.
    pub refresh_interval: Duration,
    /// Clock skew tolerated for `exp` and `nbf`, in seconds.
    pub leeway: u64,
}

/// The asymmetric algorithms accepted by default. Never `none`, never HS* (a symmetric key
/// taken from a public JWKS would let anyone sign).
const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How long fetched keys are used before they are fetched again (revoked keys go away).
const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// The longest a JWKS or metadata fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

fn list(value: &str) -> Vec<String> {
    value
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `https://`, or `http://` to a loopback host only (tests, a local authorization server).
fn check_url(setting: &str, url: &str) -> Result<(), String> {
    let parsed = Url::parse(url).map_err(|e| format!("{setting}: '{url}' is not a URL: {e}"))?;
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{setting}: '{url}' must be an https:// URL (http:// only on a loopback host)"
        )),
    }
}

impl OAuthSettings {
    /// The settings from `lookup` (the environment); `None` when `KESTRA_MCP_OAUTH_ISSUER` is
    /// not set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let Some(issuers) = get("KESTRA_MCP_OAUTH_ISSUER").map(|v| list(&v)) else {
            return Ok(None);
        };
        let resource = get("KESTRA_MCP_OAUTH_RESOURCE").ok_or(
            "KESTRA_MCP_OAUTH_ISSUER is set: KESTRA_MCP_OAUTH_RESOURCE must give this server's \
             resource URI (the public URL of its /mcp endpoint, e.g. https://mcp.example.com/mcp)",
        )?;
        Url::parse(&resource).map_err(|e| format!("KESTRA_MCP_OAUTH_RESOURCE: '{resource}': {e}"))?;
        for issuer in &issuers {
            check_url("KESTRA_MCP_OAUTH_ISSUER", issuer)?;
        }
        let jwks_url = get("KESTRA_MCP_OAUTH_JWKS_URL");
        if let Some(url) = &jwks_url {
            check_url("KESTRA_MCP_OAUTH_JWKS_URL", url)?;
        }
        let algorithms = match get("KESTRA_MCP_OAUTH_ALGORITHMS") {
            Some(names) => list(&names)
                .iter()
                .map(|name| algorithm(name))
                .collect::<Result<_, _>>()?,
            None => DEFAULT_ALGORITHMS.to_vec(),
        };
        let seconds = |name: &str, default: u64| match get(name) {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{name}: '{v}' is not a number of seconds")),
            None => Ok(default),
        };
        Ok(Some(OAuthSettings {
            authorization_servers: get("KESTRA_MCP_OAUTH_AUTHORIZATION_SERVERS")
                .map(|v| list(&v))
                .unwrap_or_else(|| issuers.clone()),
            audiences: get("KESTRA_MCP_OAUTH_AUDIENCE")
                .map(|v| list(&v))
                .unwrap_or_else(|| vec![resource.clone()]),
            scopes: get("KESTRA_MCP_OAUTH_SCOPES")
                .map(|v| list(&v))
                .unwrap_or_default(),
            groups_claim: get("KESTRA_MCP_OAUTH_GROUPS_CLAIM").unwrap_or_else(|| "groups".to_owned()),
            refresh_interval: Duration::from_secs(seconds("KESTRA_MCP_OAUTH_JWKS_REFRESH_SECONDS", 30)?),
            leeway: seconds("KESTRA_MCP_OAUTH_LEEWAY_SECONDS", 60)?,
            issuers,
            resource,
            jwks_url,
            algorithms,
        }))
    }

    /// The URL of this server's protected resource metadata: the well-known path inserted
    /// before the resource URI's path (RFC 9728 section 3.1).
    pub fn metadata_url(&self) -> String {
        let Ok(mut url) = Url::parse(&self.resource) else {
            return self.resource.clone();
        };
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
        url.set_query(None);
        url.set_fragment(None);
        url.to_string()
    }

    /// The protected resource metadata document (RFC 9728 section 2).
    pub fn metadata(&self) -> Value {
        let mut doc = serde_json::json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "bearer_methods_supported": ["header"],
            "resource_name": "kestra-mcp",
        });
        if !self.scopes.is_empty() {
            doc["scopes_supported"] = self.scopes.clone().into();
        }
        doc
    }
}

/// An algorithm name of `KESTRA_MCP_OAUTH_ALGORITHMS`: asymmetric ones only.
fn algorithm(name: &str) -> Result<Algorithm, String> {
    DEFAULT_ALGORITHMS
        .into_iter()
        .find(|a| format!("{a:?}").eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            format!(
                "KESTRA_MCP_OAUTH_ALGORITHMS: '{name}' is not accepted (asymmetric algorithms only: \
                 RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)"
            )
        })
}

/// Why a request is not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No bearer token: 401 without an error code (RFC 6750 section 3.1).
    Missing,
    /// A token that is not valid here: 401 `invalid_token`.
    Invalid(String),
    /// A valid token without the required scopes: 403 `insufficient_scope`.
    InsufficientScope(Vec<String>),
}

/// The keys of one JWKS and the issuers they sign for.
struct KeySource {
    issuers: Vec<String>,
    /// `None`: discovered from the (single) issuer's metadata when first needed.
    jwks_url: Option<String>,
    state: tokio::sync::Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    set: Option<JwkSet>,
    jwks_url: Option<String>,
    /// When the keys were last fetched (successfully or not).
    fetched: Option<Instant>,
}

impl Keys {
    /// Whether to fetch the JWKS now: never fetched; nothing held and the last attempt older
    /// than `interval`; keys older than [`KEYS_MAX_AGE`]; or, with `refetch` (a key is
    /// missing), the last fetch older than `interval` (the rate limit on unknown key ids).
    fn fetch_due(&self, interval: Duration, refetch: bool) -> bool {
        let Some(age) = self.fetched.map(|t| t.elapsed()) else {
            return true;
        };
        match refetch {
            true => age >= interval,
            false => (self.set.is_none() && age >= interval) || age >= KEYS_MAX_AGE,
        }
    }
}

/// Validates access tokens (shared by every request).
pub struct Verifier {
    settings: OAuthSettings,
    sources: Vec<KeySource>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Verifier {
    pub fn new(settings: OAuthSettings) -> Result<Self, String> {
        // Several crates may try to install a provider; the first one wins, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("kestra-mcp/", env!("CARGO_PKG_VERSION")))
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the JWKS client: {e}"))?;
        let sources = match &settings.jwks_url {
            Some(url) => vec![KeySource::new(settings.issuers.clone(), Some(url.clone()))],
            None => settings
                .issuers
                .iter()
                .map(|issuer| KeySource::new(vec![issuer.clone()], None))
                .collect(),
        };
        Ok(Verifier {
            settings,
            sources,
            client,
        })
    }

    pub fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    /// The principal of `token`, or why it is not admitted.
    pub async fn verify(&self, token: &str) -> Result<Principal, Rejection> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Rejection::Invalid(format!("not a signed JWT: {e}")))?;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(Rejection::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let (issuers, jwk) = self.key_for(header.kid.as_deref(), header.alg).await?;
        let key =
            DecodingKey::from_jwk(&jwk).map_err(|e| Rejection::Invalid(format!("unusable key: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.settings.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&issuers);
        validation.set_audience(&self.settings.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| Rejection::Invalid(format!("{e}")))?
            .claims;
        let principal = self.principal(&claims);
        let missing: Vec<String> = self
            .settings
            .scopes
            .iter()
            .filter(|s| !principal.scopes.contains(s))
            .cloned()
            .collect();
        match missing.is_empty() {
            true => Ok(principal),
            false => Err(Rejection::InsufficientScope(self.settings.scopes.clone())),
        }
    }

    fn principal(&self, claims: &Map<String, Value>) -> Principal {
        let strings = |value: Option<&Value>| -> Vec<String> {
            match value {
                Some(Value::String(s)) => s
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let mut scopes = strings(claims.get("scope"));
        scopes.extend(strings(claims.get("scp")));
        Principal {
            subject: claims
                .get("sub")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            groups: strings(claims.get(&self.settings.groups_claim)),
            scopes,
        }
    }

    /// The key `kid` names (with the issuers it signs for), fetching the JWKS when it is not
    /// held yet, is old, or lacks `kid` (a rotation; at most once per refresh interval).
    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<(Vec<String>, Jwk), Rejection> {
        let mut problems = Vec::new();
        for refetch in [false, true] {
            for source in &self.sources {
                match source.find(&self.client, &self.settings, kid, alg, refetch).await {
                    Ok(Some(jwk)) => return Ok((source.issuers.clone(), jwk)),
                    Ok(None) => {}
                    Err(problem) => problems.push(problem),
                }
            }
        }
        if !problems.is_empty() {
            tracing::warn!(target: "oauth", "cannot get the signing keys: {}", problems.join("; "));
        }
        Err(Rejection::Invalid(match kid {
            Some(kid) => format!("no key '{kid}' for {alg:?} in the issuer's JWKS"),
            None => format!("no kid and no single {alg:?} key in the issuer's JWKS"),
        }))
    }
}

impl KeySource {
    fn new(issuers: Vec<String>, jwks_url: Option<String>) -> Self {
        KeySource {
            issuers,
            jwks_url,
            state: tokio::sync::Mutex::new(Keys::default()),
        }
    }

    /// The key for `kid` and `alg`; fetches first when the keys are missing or too old, or,
    /// with `refetch`, when the last fetch is older than the refresh interval.
    async fn find(
        &self,
        client: &reqwest::Client,
        settings: &OAuthSettings,
        kid: Option<&str>,
        alg: Algorithm,
        refetch: bool,
    ) -> Result<Option<Jwk>, String> {
        let mut keys = self.state.lock().await;
        if keys.fetch_due(settings.refresh_interval, refetch) {
            keys.fetched = Some(Instant::now());
            match self.fetch(client, &mut keys).await {
                Ok(set) => keys.set = Some(set),
                Err(problem) if keys.set.is_none() => return Err(problem),
                // The keys held stay usable when a refresh fails.
                Err(problem) => tracing::warn!(target: "oauth", "cannot refresh the JWKS: {problem}"),
            }
        }
        Ok(keys.set.as_ref().and_then(|set| select(set, kid, alg)))
    }

    async fn fetch(&self, client: &reqwest::Client, keys: &mut Keys) -> Result<JwkSet, String> {
        let url = match (&self.jwks_url, &keys.jwks_url) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => {
                let url = discover_jwks_url(client, &self.issuers).await?;
                keys.jwks_url = Some(url.clone());
                url
            }
        };
        let set: JwkSet = get_json(client, &url)
            .await
            .and_then(|value| serde_json::from_value(value).map_err(|e| format!("{url}: not a JWKS: {e}")))?;
        tracing::info!(target: "oauth", "fetched {} key(s) from {url}", set.keys.len());
        Ok(set)
    }
}

/// The signing key of `set` for `alg` named `kid` (without `kid`: the only one that fits).
/// Symmetric (`oct`) keys and encryption keys never verify a signature.
fn select(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    let fits = |jwk: &&Jwk| {
        key_fits(jwk, alg)
            && jwk
                .common
                .public_key_use
                .as_ref()
                .is_none_or(|u| *u == PublicKeyUse::Signature)
            && jwk
                .common
                .key_algorithm
                .is_none_or(|a| format!("{a:?}") == format!("{alg:?}"))
    };
    match kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(|jwk| jwk.common.key_id.as_deref() == Some(kid))
            .find(fits)
            .cloned(),
        None => {
            let mut candidates = set.keys.iter().filter(fits);
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        }
    }
}

fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    use Algorithm::*;
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
        AlgorithmParameters::EllipticCurve(ec) => matches!(
            (alg, &ec.curve),
            (ES256, EllipticCurve::P256) | (ES384, EllipticCurve::P384)
        ),
        AlgorithmParameters::OctetKeyPair(_) => alg == EdDSA,
        AlgorithmParameters::OctetKey(_) => false,
    }
}

/// The `jwks_uri` of the issuer's metadata: OpenID Connect discovery (`/.well-known/openid-
/// configuration` appended), then RFC 8414 (`/.well-known/oauth-authorization-server`
/// inserted before the issuer's path). The metadata must name the same issuer.
async fn discover_jwks_url(client: &reqwest::Client, issuers: &[String]) -> Result<String, String> {
    let issuer = issuers.first().ok_or("no issuer configured")?;
    let mut problems = Vec::new();
    for url in metadata_urls(issuer) {
        match get_json(client, &url).await {
            Ok(doc) if doc.get("issuer").and_then(Value::as_str) != Some(issuer.as_str()) => {
                problems.push(format!("{url}: names another issuer"));
            }
            Ok(doc) => match doc.get("jwks_uri").and_then(Value::as_str) {
                Some(jwks) => {
                    check_url("jwks_uri", jwks)?;
                    return Ok(jwks.to_owned());
                }
                None => problems.push(format!("{url}: no jwks_uri")),
            },
            Err(problem) => problems.push(problem),
        }
    }
    Err(format!(
        "no JWKS found for issuer {issuer} (set KESTRA_MCP_OAUTH_JWKS_URL): {}",
        problems.join("; ")
    ))
}

fn metadata_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let mut urls = vec![format!("{trimmed}/.well-known/openid-configuration")];
    if let Ok(mut url) = Url::parse(trimmed) {
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        urls.push(url.to_string());
    }
    urls
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = client.get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    response.json().await.map_err(|e| format!("{url}: not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<OAuthSettings>, String> {
        OAuthSettings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn settings_default_to_the_resource_as_audience_and_asymmetric_algorithms() {
        assert!(settings(&[]).unwrap().is_none());
        let s = settings(&[
            ("KESTRA_MCP_OAUTH_ISSUER", "https://id.example.com/realms/team"),
            ("KESTRA_MCP_OAUTH_RESOURCE", "https://mcp.example.com/mcp"),
            ("KESTRA_MCP_OAUTH_SCOPES", "kestra:read kestra:write"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.audiences, ["https://mcp.example.com/mcp"]);
        assert_eq!(s.authorization_servers, ["https://id.example.com/realms/team"]);
        assert_eq!(s.scopes, ["kestra:read", "kestra:write"]);
        assert!(!s.algorithms.iter().any(|a| format!("{a:?}").starts_with("HS")));
        assert_eq!(
            s.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(s.metadata()["resource"], "https://mcp.example.com/mcp");
    }

    #[test]
    fn bad_settings_are_refused_with_the_setting_named() {
        let issuer = ("KESTRA_MCP_OAUTH_ISSUER", "https://id.example.com");
        let resource = ("KESTRA_MCP_OAUTH_RESOURCE", "https://mcp.example.com/mcp");
        let err = settings(&[issuer]).unwrap_err();
        assert!(err.contains("KESTRA_MCP_OAUTH_RESOURCE"), "{err}");
        let err = settings(&[issuer, resource, ("KESTRA_MCP_OAUTH_ALGORITHMS", "RS256,HS256")]).unwrap_err();
        assert!(err.contains("'HS256' is not accepted"), "{err}");
        let err = settings(&[issuer, resource, ("KESTRA_MCP_OAUTH_ALGORITHMS", "none")]).unwrap_err();
        assert!(err.contains("'none' is not accepted"), "{err}");
        let err = settings(&[("KESTRA_MCP_OAUTH_ISSUER", "http://id.example.com"), resource]).unwrap_err();
        assert!(err.contains("https://"), "{err}");
        assert!(settings(&[("KESTRA_MCP_OAUTH_ISSUER", "http://127.0.0.1:9/realm"), resource]).is_ok());
    }

    #[test]
    fn metadata_is_looked_up_by_oidc_and_rfc8414_paths() {
        assert_eq!(
            metadata_urls("https://id.example.com/realms/team"),
            [
                "https://id.example.com/realms/team/.well-known/openid-configuration",
                "https://id.example.com/.well-known/oauth-authorization-server/realms/team"
            ]
        );
    }
}
