//! `serve --http` client authentication, the real binary over HTTP: the listener's rules
//! (a non-loopback address needs authentication, the `Bearer` scheme in any case) and OAuth
//! access tokens validated against an issuer served on loopback (metadata and JWKS from
//! wiremock), with tokens minted here from the fixture keys of tests/fixtures/oauth.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::util::{env_for, result_json, run};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oauth");
const SCOPE: &str = "mcp:tools";
const KESTRA_TOKEN: &str = "kestra-side-token";
const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn rsa(name: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture(name)).unwrap()
}

fn ec() -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture("ec-p256.pem")).unwrap()
}

fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some(kid.into());
    jwk
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The JWKS endpoint: the keys it serves now, and how many times it was fetched.
#[derive(Clone, Default)]
struct Jwks {
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
}

impl Respond for Jwks {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let set = JwkSet {
            keys: self.keys.lock().unwrap().clone(),
        };
        ResponseTemplate::new(200).set_body_json(&set)
    }
}

impl Jwks {
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// An authorization server on loopback: OpenID discovery document and JWKS.
struct Issuer {
    _server: MockServer,
    issuer: String,
    jwks: Jwks,
}

async fn issuer(keys: Vec<Jwk>) -> Issuer {
    let server = MockServer::start().await;
    let issuer = format!("{}/realms/team", server.uri());
    Mock::given(method("GET"))
        .and(path("/realms/team/.well-known/openid-configuration"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")})),
        )
        .mount(&server)
        .await;
    let jwks = Jwks::default();
    *jwks.keys.lock().unwrap() = keys;
    Mock::given(method("GET"))
        .and(path("/realms/team/jwks"))
        .respond_with(jwks.clone())
        .mount(&server)
        .await;
    Issuer {
        _server: server,
        issuer,
        jwks,
    }
}

/// A Kestra that answers every request with an empty page.
async fn kestra() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [], "total": 0})))
        .mount(&server)
        .await;
    server
}

/// `kestra-mcp serve --http` on a free loopback port.
struct Http {
    _child: Child,
    _dir: tempfile::TempDir,
    port: u16,
}

impl Http {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn resource(&self) -> String {
        self.url("/mcp")
    }

    /// What the server wrote on stderr so far.
    fn stderr(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(port: u16, env: &[(String, String)]) -> Http {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kestra-mcp"));
    cmd.args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Http {
                _child: child,
                _dir: dir,
                port,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("kestra-mcp did not listen on {port}");
}

/// The server with OAuth for `issuer`, in front of `kestra`.
async fn oauth_server(issuer: &Issuer, kestra: &MockServer) -> Http {
    oauth_server_with(issuer, kestra, &[]).await
}

async fn oauth_server_with(issuer: &Issuer, kestra: &MockServer, extra: &[(String, String)]) -> Http {
    let port = free_port();
    let mut env = env_for(&format!("{}/api/v1", kestra.uri()));
    env.extend(
        [
            ("KESTRA_API_TOKEN", KESTRA_TOKEN.to_owned()),
            ("KESTRA_MCP_OAUTH_ISSUER", issuer.issuer.clone()),
            (
                "KESTRA_MCP_OAUTH_RESOURCE",
                format!("http://127.0.0.1:{port}/mcp"),
            ),
            ("KESTRA_MCP_OAUTH_SCOPES", SCOPE.to_owned()),
            ("KESTRA_MCP_OAUTH_JWKS_REFRESH_SECONDS", "1".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env.extend(extra.iter().cloned());
    serve(port, &env).await
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(
    http: &Http,
    authorization: Option<&str>,
    session: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = client()
        .post(http.resource())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(body.to_owned());
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if let Some(id) = session {
        request = request.header("mcp-session-id", id);
    }
    request.send().await.unwrap()
}

/// The JSON-RPC answer in a body (plain JSON or an event stream).
fn message(text: &str) -> Value {
    if let Ok(value) = serde_json::from_str(text) {
        return value;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC answer in {text}"))
}

/// Initializes a session with `token` and calls `tool`: the result.
async fn call_tool(http: &Http, token: &str, tool: &str, arguments: Value) -> Value {
    let auth = format!("Bearer {token}");
    let init = post(http, Some(&auth), None, INIT).await;
    assert_eq!(init.status(), 200, "initialize");
    let session = init
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let _ = init.text().await;
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    post(http, Some(&auth), session.as_deref(), initialized).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": tool, "arguments": arguments}});
    let answer = post(http, Some(&auth), session.as_deref(), &call.to_string()).await;
    assert_eq!(answer.status(), 200, "tools/call");
    message(&answer.text().await.unwrap())
}

fn claims(issuer: &Issuer, http: &Http, changes: Value) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": issuer.issuer, "aud": http.resource(), "sub": "alice",
        "iat": now, "nbf": now - 5, "exp": now + 300, "scope": format!("openid {SCOPE}"),
    });
    for (k, v) in changes.as_object().unwrap() {
        match v {
            Value::Null => claims.as_object_mut().unwrap().remove(k),
            v => claims.as_object_mut().unwrap().insert(k.clone(), v.clone()),
        };
    }
    claims
}

fn mint(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// An unsigned token (`alg: none`), written by hand since no library makes one.
fn unsigned(claims: &Value) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "key-a"})),
        b64(claims)
    )
}

fn keys_a_and_ec() -> Vec<Jwk> {
    vec![
        jwk(&rsa("rsa-a.pem"), Algorithm::RS256, "key-a"),
        jwk(&ec(), Algorithm::ES256, "ec-1"),
    ]
}

#[tokio::test]
async fn a_reachable_address_without_authentication_is_refused_unless_allowed() {
    let env = env_for("http://127.0.0.1:9/api/v1");
    let (code, _, stderr) = run(&["serve", "--http", "0.0.0.0:0"], &env, None);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("refusing to serve MCP on 0.0.0.0:0 without client authentication"),
        "{stderr}"
    );
    assert!(
        stderr.contains("KESTRA_MCP_HTTP_ALLOW_UNAUTHENTICATED"),
        "{stderr}"
    );

    let mut both = env.clone();
    both.push(("KESTRA_MCP_HTTP_TOKEN".into(), "t".into()));
    both.push(("KESTRA_MCP_OAUTH_ISSUER".into(), "https://id.example.com".into()));
    both.push((
        "KESTRA_MCP_OAUTH_RESOURCE".into(),
        "https://mcp.example.com/mcp".into(),
    ));
    let (code, _, stderr) = run(&["serve", "--http", "127.0.0.1:0"], &both, None);
    assert_ne!(code, 0);
    assert!(stderr.contains("choose one way"), "{stderr}");
}

#[tokio::test]
async fn the_static_token_scheme_is_case_insensitive_and_the_token_exact() {
    let port = free_port();
    let mut env = env_for("http://127.0.0.1:9/api/v1");
    env.push(("KESTRA_MCP_HTTP_TOKEN".into(), "s3cret-token".into()));
    let http = serve(port, &env).await;
    for good in [
        "Bearer s3cret-token",
        "bearer s3cret-token",
        "BEARER s3cret-token",
    ] {
        assert_eq!(post(&http, Some(good), None, INIT).await.status(), 200, "{good}");
    }
    for bad in [
        None,
        Some("Bearer s3cret"),
        Some("Bearer s3cret-token-2"),
        Some("Basic s3cret-token"),
    ] {
        let answer = post(&http, bad, None, INIT).await;
        assert_eq!(answer.status(), 401, "{bad:?}");
        assert_eq!(answer.headers()["www-authenticate"], "Bearer");
    }
}

#[tokio::test]
async fn the_protected_resource_metadata_names_the_authorization_server() {
    let (issuer, kestra) = (issuer(keys_a_and_ec()).await, kestra().await);
    let http = oauth_server(&issuer, &kestra).await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let answer = client().get(http.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(answer.headers()["access-control-allow-origin"], "*");
        let doc: Value = answer.json().await.unwrap();
        assert_eq!(doc["resource"], http.resource());
        assert_eq!(doc["authorization_servers"], json!([issuer.issuer]));
        assert_eq!(doc["scopes_supported"], json!([SCOPE]));
    }
    let missing = post(&http, None, None, INIT).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        format!(
            "Bearer resource_metadata=\"{}\"",
            http.url("/.well-known/oauth-protected-resource/mcp")
        )
        .as_str()
    );
}

#[tokio::test]
async fn a_valid_token_calls_tools_and_is_never_sent_to_kestra() {
    let (issuer, kestra) = (issuer(keys_a_and_ec()).await, kestra().await);
    let http = oauth_server(&issuer, &kestra).await;
    let claims = claims(&issuer, &http, json!({}));
    let tokens = [
        mint(Algorithm::RS256, &rsa("rsa-a.pem"), Some("key-a"), &claims),
        mint(Algorithm::ES256, &ec(), Some("ec-1"), &claims),
    ];
    for token in &tokens {
        let answer = call_tool(&http, token, "search_flows", json!({"query": "hello"})).await;
        assert_ne!(answer["result"]["isError"], json!(true), "{answer}");
        assert_eq!(result_json(&answer["result"])["total"], 0, "{answer}");
    }
    let sent = kestra.received_requests().await.unwrap();
    assert!(!sent.is_empty());
    for request in sent {
        assert_eq!(
            request.headers["authorization"],
            format!("Bearer {KESTRA_TOKEN}").as_str()
        );
        let seen = format!("{:?} {}", request.headers, String::from_utf8_lossy(&request.body));
        assert!(tokens.iter().all(|t| !seen.contains(t.as_str())), "{seen}");
    }
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused() {
    let (issuer, kestra) = (issuer(keys_a_and_ec()).await, kestra().await);
    let http = oauth_server(&issuer, &kestra).await;
    let key_a = rsa("rsa-a.pem");
    let signed = |changes: Value| {
        mint(
            Algorithm::RS256,
            &key_a,
            Some("key-a"),
            &claims(&issuer, &http, changes),
        )
    };
    let good = claims(&issuer, &http, json!({}));
    let now = now();
    let cases: Vec<(&str, &str, String)> = vec![
        ("not a JWT", "not a signed JWT", "not-a-jwt".to_owned()),
        (
            "wrong issuer",
            "InvalidIssuer",
            signed(json!({"iss": "https://evil.example.com/realms/team"})),
        ),
        (
            "wrong audience",
            "InvalidAudience",
            signed(json!({"aud": "https://other.example.com/mcp"})),
        ),
        (
            "no audience",
            "Missing required claim: aud",
            signed(json!({"aud": null})),
        ),
        ("expired", "ExpiredSignature", signed(json!({"exp": now - 600}))),
        (
            "no expiry",
            "Missing required claim: exp",
            signed(json!({"exp": null})),
        ),
        (
            "not yet valid",
            "ImmatureSignature",
            signed(json!({"nbf": now + 600})),
        ),
        (
            "nbf as a string",
            "Invalid format for claim: nbf",
            signed(json!({"nbf": (now + 600).to_string()})),
        ),
        (
            "bad signature",
            "InvalidSignature",
            mint(Algorithm::RS256, &rsa("rsa-b.pem"), Some("key-a"), &good),
        ),
        ("alg none", "not a signed JWT", unsigned(&good)),
        (
            "HS256 signed with the public key",
            "algorithm HS256 is not accepted",
            mint(
                Algorithm::HS256,
                &EncodingKey::from_secret(&fixture("rsa-a.pub.pem")),
                Some("key-a"),
                &good,
            ),
        ),
        (
            "RS256 with the EC key's kid",
            "no key 'ec-1'",
            mint(Algorithm::RS256, &key_a, Some("ec-1"), &good),
        ),
        (
            "unknown kid",
            "no key 'key-zzz'",
            mint(Algorithm::RS256, &rsa("rsa-b.pem"), Some("key-zzz"), &good),
        ),
    ];
    let metadata = format!(
        "resource_metadata=\"{}\"",
        http.url("/.well-known/oauth-protected-resource/mcp")
    );
    for (case, why, token) in &cases {
        let answer = post(&http, Some(&format!("Bearer {token}")), None, INIT).await;
        assert_eq!(answer.status(), 401, "{case}");
        let challenge = answer.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{case}: {challenge}"
        );
        assert!(challenge.contains(&metadata), "{case}: {challenge}");
        assert!(challenge.contains(why), "{case}: {challenge}");
    }
    let no_scope = signed(json!({"scope": "openid"}));
    let answer = post(&http, Some(&format!("Bearer {no_scope}")), None, INIT).await;
    assert_eq!(answer.status(), 403);
    let challenge = answer.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\", scope=\"mcp:tools\""),
        "{challenge}"
    );
    assert!(challenge.contains(&metadata), "{challenge}");
    // The same token with the scope is admitted, the scheme in any case.
    let answer = post(&http, Some(&format!("bearer {}", signed(json!({})))), None, INIT).await;
    assert_eq!(answer.status(), 200);
    assert!(kestra.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_unknown_kids_refetch_at_most_once_per_interval() {
    let key_a = jwk(&rsa("rsa-a.pem"), Algorithm::RS256, "key-a");
    let (issuer, kestra) = (issuer(vec![key_a.clone()]).await, kestra().await);
    let http = oauth_server(&issuer, &kestra).await;
    let good = claims(&issuer, &http, json!({}));
    let status = |token: String| {
        let http = &http;
        async move {
            post(http, Some(&format!("Bearer {token}")), None, INIT)
                .await
                .status()
                .as_u16()
        }
    };
    let by_a = mint(Algorithm::RS256, &rsa("rsa-a.pem"), Some("key-a"), &good);
    let by_b = mint(Algorithm::RS256, &rsa("rsa-b.pem"), Some("key-b"), &good);
    let by_c = mint(Algorithm::RS256, &rsa("rsa-b.pem"), Some("key-c"), &good);
    assert_eq!(status(by_a.clone()).await, 200);
    assert_eq!(issuer.jwks.fetches(), 1);
    assert_eq!(status(by_a.clone()).await, 200);
    assert_eq!(issuer.jwks.fetches(), 1, "known keys are cached");

    // The issuer rotates: key-b is published; a token signed with it is admitted once the
    // server refetches (the refresh interval is 1 s here).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    issuer
        .jwks
        .keys
        .lock()
        .unwrap()
        .push(jwk(&rsa("rsa-b.pem"), Algorithm::RS256, "key-b"));
    assert_eq!(status(by_b.clone()).await, 200);
    assert_eq!(issuer.jwks.fetches(), 2);

    // An unknown kid right after a fetch is refused without fetching again (rate limit)...
    assert_eq!(status(by_c.clone()).await, 401);
    assert_eq!(issuer.jwks.fetches(), 2);
    // ...and after the interval it is refetched, still unknown, still refused.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status(by_c).await, 401);
    assert_eq!(issuer.jwks.fetches(), 3);
    assert_eq!(status(by_a).await, 200);
    assert_eq!(status(by_b).await, 200);
    assert_eq!(issuer.jwks.fetches(), 3);
}

// ---------------------------------------------------------------------------------------------
// Per-user policy (KESTRA_MCP_POLICY_FILE)

const POLICY: &str = r#"
rules:
  - name: blocked
    match: {subjects: [mallory]}
    deny: true
  - name: admins
    match: {groups: [kestra-admins]}
  - name: flow team
    match: {groups: [flow-team], scopes: [kestra-flows]}
    toolsets: [flow, execution]
    namespaces: [company.team, company.team.*]
  - name: readers
    match: {groups: [readers]}
    read_only: true
"#;

/// An initialized MCP session over HTTP for one token.
struct Session<'a> {
    http: &'a Http,
    auth: String,
    id: Option<String>,
    next: u64,
}

impl<'a> Session<'a> {
    async fn open(http: &'a Http, token: &str) -> Session<'a> {
        let auth = format!("Bearer {token}");
        let init = post(http, Some(&auth), None, INIT).await;
        assert_eq!(init.status(), 200, "initialize");
        let id = init
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let _ = init.text().await;
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        post(http, Some(&auth), id.as_deref(), initialized).await;
        Session {
            http,
            auth,
            id,
            next: 2,
        }
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let body = json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params});
        let answer = post(self.http, Some(&self.auth), self.id.as_deref(), &body.to_string()).await;
        assert_eq!(answer.status(), 200, "{method}");
        message(&answer.text().await.unwrap())
    }

    async fn tools(&mut self) -> Vec<String> {
        let list = self.request("tools/list", json!({})).await;
        list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await
    }
}

async fn policy_server(issuer: &Issuer, kestra: &MockServer) -> (Http, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, POLICY).unwrap();
    let extra = [("KESTRA_MCP_POLICY_FILE".to_owned(), file.display().to_string())];
    (oauth_server_with(issuer, kestra, &extra).await, dir)
}

fn user_token(issuer: &Issuer, http: &Http, sub: &str, groups: &[&str]) -> String {
    let scope = format!("openid {SCOPE} kestra-flows");
    let claims = claims(
        issuer,
        http,
        json!({"sub": sub, "groups": groups, "scope": scope}),
    );
    mint(Algorithm::RS256, &rsa("rsa-a.pem"), Some("key-a"), &claims)
}

async fn requests_to(kestra: &MockServer, method: &str, path_part: &str) -> Vec<wiremock::Request> {
    kestra
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == method && r.url.path().contains(path_part))
        .collect()
}

#[tokio::test]
async fn users_no_rule_admits_or_a_deny_rule_names_are_refused() {
    let (issuer, kestra) = (issuer(keys_a_and_ec()).await, kestra().await);
    let (http, _dir) = policy_server(&issuer, &kestra).await;
    for (sub, groups, why) in [
        ("nobody", vec![], "no rule of the policy admits user 'nobody'"),
        (
            "tim",
            vec!["readers-not"],
            "no rule of the policy admits user 'tim'",
        ),
        (
            "mallory",
            vec!["kestra-admins"],
            "rule 'blocked' denies user 'mallory'",
        ),
    ] {
        let token = user_token(&issuer, &http, sub, &groups);
        let answer = post(&http, Some(&format!("Bearer {token}")), None, INIT).await;
        assert_eq!(answer.status(), 403, "{sub}");
        assert!(answer.text().await.unwrap().contains(why), "{sub}");
    }
    // In the team's group but without the rule's scope: no rule.
    let scope = format!("openid {SCOPE}");
    let claims = claims(
        &issuer,
        &http,
        json!({"sub": "tom", "groups": ["flow-team"], "scope": scope}),
    );
    let no_scope = mint(Algorithm::RS256, &rsa("rsa-a.pem"), Some("key-a"), &claims);
    let answer = post(&http, Some(&format!("Bearer {no_scope}")), None, INIT).await;
    assert_eq!(answer.status(), 403);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("no rule of the policy admits user 'tom'")
    );
    let mut admin = Session::open(&http, &user_token(&issuer, &http, "ann", &["kestra-admins"])).await;
    assert_eq!(admin.tools().await.len(), 39);
    assert!(kestra.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rule_narrows_toolsets_and_namespaces_and_labels_the_executions_started() {
    let (issuer, kestra) = (issuer(keys_a_and_ec()).await, kestra().await);
    let (http, _dir) = policy_server(&issuer, &kestra).await;
    let mut tom = Session::open(&http, &user_token(&issuer, &http, "tom", &["flow-team"])).await;
    let tools = tom.tools().await;
    assert!(tools.contains(&"search_flows".to_owned()) && tools.contains(&"execute_flow".to_owned()));
    assert!(!tools.contains(&"manage_kv_store".to_owned()), "{tools:?}");
    let kv = tom
        .call(
            "manage_kv_store",
            json!({"namespace": "company.team", "action": "get", "key": "k"}),
        )
        .await;
    assert!(
        kv["error"]["message"].as_str().unwrap().contains("not found"),
        "{kv}"
    );

    let outside = tom
        .call(
            "execute_flow",
            json!({"namespace": "company.hr", "flow_id": "payroll"}),
        )
        .await;
    assert_eq!(outside["result"]["isError"], json!(true), "{outside}");
    assert!(
        outside.to_string().contains("KESTRA_MCP_POLICY_FILE"),
        "{outside}"
    );
    assert!(
        requests_to(&kestra, "POST", "/executions/company.hr")
            .await
            .is_empty()
    );

    let arguments = json!({"namespace": "company.team", "flow_id": "hello", "labels": {"mcp.user": "spoofed", "env": "dev"}});
    tom.call("execute_flow", arguments.clone()).await;
    let started = requests_to(&kestra, "POST", "/api/v1/main/executions/company.team/hello").await;
    assert_eq!(started.len(), 1);
    let labels: Vec<String> = started[0]
        .url
        .query_pairs()
        .filter(|(k, _)| k == "labels")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert!(labels.contains(&"mcp.user:tom".to_owned()), "{labels:?}");
    assert!(labels.contains(&"env:dev".to_owned()), "{labels:?}");
    assert!(!labels.iter().any(|l| l.contains("spoofed")), "{labels:?}");

    // One audit line per Kestra request: user, tool, digest of the arguments, request, status.
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(arguments.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stderr = http.stderr();
    let line = format!(
        "user=tom tool=execute_flow arguments_sha256={digest} method=POST path=/executions/company.team/hello status=200"
    );
    assert!(stderr.contains(&line), "{line}\n{stderr}");
    assert!(stderr.contains("user=tom tool=execute_flow"), "{stderr}");
    assert!(
        stderr.contains("path=/executions/company.hr/payroll status=refused"),
        "{stderr}"
    );
    // And one per call, also for a call refused before any request.
    let call_line = format!("user=tom tool=execute_flow arguments_sha256={digest} result=");
    assert!(stderr.contains(&call_line), "{stderr}");
    assert!(stderr.contains("user=tom tool=manage_kv_store"), "{stderr}");
    assert!(stderr.contains("result=unknown tool"), "{stderr}");
}

#[tokio::test]
async fn a_read_only_rule_hides_and_refuses_writes() {
    let (issuer, kestra) = (issuer(keys_a_and_ec()).await, kestra().await);
    let (http, _dir) = policy_server(&issuer, &kestra).await;
    let mut rita = Session::open(&http, &user_token(&issuer, &http, "rita", &["readers"])).await;
    let tools = rita.tools().await;
    assert!(tools.contains(&"search_flows".to_owned()));
    assert!(!tools.contains(&"execute_flow".to_owned()), "{tools:?}");
    let set = rita
        .call(
            "manage_kv_store",
            json!({"namespace": "company.team", "action": "set", "key": "k", "value": "v"}),
        )
        .await;
    assert_eq!(set["result"]["isError"], json!(true), "{set}");
    assert!(
        set.to_string()
            .contains("refused: manage_kv_store 'set' changes Kestra and KESTRA_MCP_POLICY_FILE is set"),
        "{set}"
    );
    assert!(requests_to(&kestra, "PUT", "/kv/").await.is_empty());
    let read = rita.call("search_flows", json!({"query": "hello"})).await;
    assert_ne!(read["result"]["isError"], json!(true), "{read}");
    let stderr = http.stderr();
    assert!(stderr.contains("user=rita tool=manage_kv_store"), "{stderr}");
    assert!(stderr.contains("result=refused"), "{stderr}");
}

#[tokio::test]
async fn a_session_is_bound_to_the_user_who_opened_it() {
    let (issuer, kestra) = (issuer(keys_a_and_ec()).await, kestra().await);
    let http = oauth_server(&issuer, &kestra).await;
    let tom = user_token(&issuer, &http, "tom", &[]);
    let ann = user_token(&issuer, &http, "ann", &[]);
    let mut session = Session::open(&http, &tom).await;
    assert_eq!(session.tools().await.len(), 39);
    let id = session.id.clone().expect("a session id");
    let list = r#"{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{}}"#;
    let stolen = post(&http, Some(&format!("Bearer {ann}")), Some(&id), list).await;
    assert_eq!(stolen.status(), 404);
    // Its owner goes on.
    assert_eq!(session.tools().await.len(), 39);
}
