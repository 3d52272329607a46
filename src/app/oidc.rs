//! Sign-in through the organisation's identity provider by OpenID Connect (NHS CIS2, Microsoft
//! Entra ID): the authorization code flow with state, nonce and PKCE (S256). The provider only
//! vouches for an email; who may use the console is still our accounts' decision
//! (`Accounts::sign_in_vouched`: an existing, active, unlocked account, never a new one).
//!
//! The provider's metadata and keys are found by discovery on first use and kept for an hour;
//! a provider that does not answer is logged and leaves local sign-in working.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use super::staff::{Accounts, StaffUser, VouchedSignIn};
use super::{Error, Result};
use crate::config::OidcConfig;

/// How the audit log names this way of signing in.
const HOW: &str = "openid connect";
/// A flow not finished within this long is refused.
pub const FLOW_VALID_FOR: TimeDelta = TimeDelta::minutes(10);
/// Discovery (metadata and keys) is repeated after this long, so rotated keys are found.
const METADATA_KEPT_FOR: Duration = Duration::from_secs(3600);
/// One request to the provider may take this long.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the browser's flow must bring back: kept on our side, never sent to the browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingFlow {
    state: String,
    nonce: String,
    pkce_verifier: String,
    started_at: DateTime<Utc>,
}

/// What the provider sent the browser back with.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Callback {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// What a finished flow came to; `Refused` carries words for the member of staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    SignedIn(StaffUser),
    Refused(String),
}

/// Where a flow starts.
#[derive(Debug, Clone)]
pub enum Begin {
    /// Send the browser here, and keep the flow until it comes back.
    Redirect(url::Url, PendingFlow),
    /// The provider does not answer (logged).
    Unavailable,
}

/// openidconnect's client as discovery makes it (authorization endpoint set, the token and
/// user info endpoints as the provider says).
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Said when the provider does not answer.
pub const NOT_ANSWERING: &str = "Your organisation's sign-in is not answering just now. Try \
                                 again in a few minutes, or sign in with your email and password.";

const TRY_AGAIN: &str = "Signing in with your organisation did not work. Try again, or sign in \
                         with your email and password.";

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// Sign-in with the organisation's identity provider.
pub struct OrgSignIn {
    config: OidcConfig,
    redirect: RedirectUrl,
    http: reqwest::Client,
    accounts: Accounts,
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl OrgSignIn {
    pub fn new(config: OidcConfig, redirect_uri: String, accounts: Accounts) -> Result<Arc<Self>> {
        crate::install_tls_provider();
        let redirect = RedirectUrl::new(redirect_uri)
            .map_err(|e| Error::Internal(anyhow::anyhow!("redirect URI: {e}")))?;
        let http = reqwest::Client::builder()
            // Following redirects would let a provider's answer send us anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| Error::Internal(e.into()))?;
        Ok(Arc::new(Self {
            config,
            redirect,
            http,
            accounts,
            metadata: Mutex::new(None),
        }))
    }

    /// openidconnect's HTTP client, over our reqwest (one TLS stack in the binary).
    fn http_client(
        &self,
    ) -> impl Fn(
        HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = std::result::Result<HttpResponse, HttpError>> + Send>,
    > + use<'_> {
        move |request: HttpRequest| {
            let client = self.http.clone();
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let response = client
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| HttpError(e.without_url().to_string()))?;
                let mut answer = openidconnect::http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    answer = answer.header(name, value);
                }
                let bytes = response
                    .bytes()
                    .await
                    .map_err(|e| HttpError(e.without_url().to_string()))?;
                answer
                    .body(bytes.to_vec())
                    .map_err(|e| HttpError(e.to_string()))
            })
        }
    }

    /// The provider's metadata and keys: discovered, or as discovered within the hour;
    /// `None` (logged) when the provider does not answer.
    pub async fn metadata(&self) -> Option<CoreProviderMetadata> {
        let mut kept = self.metadata.lock().await;
        if let Some((at, metadata)) = kept.as_ref()
            && at.elapsed() < METADATA_KEPT_FOR
        {
            return Some(metadata.clone());
        }
        let discovered = match IssuerUrl::new(self.config.issuer.clone()) {
            Ok(issuer) => CoreProviderMetadata::discover_async(issuer, &self.http_client())
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match discovered {
            Ok(metadata) => {
                tracing::info!(issuer = %self.config.issuer, "identity provider discovered");
                *kept = Some((Instant::now(), metadata.clone()));
                Some(metadata)
            }
            Err(error) => {
                tracing::warn!(
                    issuer = %self.config.issuer,
                    %error,
                    "the identity provider did not answer discovery: signing in with the \
                     organisation is unavailable until it does; local sign-in still works"
                );
                None
            }
        }
    }

    fn client(&self, metadata: CoreProviderMetadata) -> Client {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Starts a flow: where to send the browser, and what to keep until it comes back.
    pub async fn begin(&self) -> Result<Begin> {
        let Some(metadata) = self.metadata().await else {
            return Ok(Begin::Unavailable);
        };
        let client = self.client(metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Begin::Redirect(
            url,
            PendingFlow {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                started_at: self.accounts.now(),
            },
        ))
    }

    /// Finishes a flow: the state checked against the one kept (`None`: none was), the code
    /// exchanged, the ID token verified (signature by the provider's keys, issuer, audience,
    /// nonce, expiry), and the account with its email signed in. Every refusal is audited.
    pub async fn finish(
        &self,
        pending: Option<PendingFlow>,
        callback: Callback,
    ) -> Result<Outcome> {
        if let Some(error) = &callback.error {
            // An OAuth error code is a short word; anything else is not repeated.
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            self.refused(None, format!("the identity provider answered {code}"))
                .await?;
            let words = if code == "access_denied" {
                "You did not finish signing in with your organisation, or it did not let you \
                 in. Try again, or sign in with your email and password."
            } else {
                TRY_AGAIN
            };
            return Ok(Outcome::Refused(words.into()));
        }
        let Some(pending) = pending else {
            self.refused(None, "no sign-in was started in this browser".into())
                .await?;
            return Ok(Outcome::Refused(
                "This sign-in was not started here or has expired. Try again.".into(),
            ));
        };
        let state_right = callback
            .state
            .as_deref()
            .is_some_and(|s| bool::from(s.as_bytes().ct_eq(pending.state.as_bytes())));
        if !state_right {
            self.refused(None, "the state did not match".into()).await?;
            return Ok(Outcome::Refused(TRY_AGAIN.into()));
        }
        if self.accounts.now() - pending.started_at > FLOW_VALID_FOR {
            self.refused(None, "the sign-in took too long".into())
                .await?;
            return Ok(Outcome::Refused(
                "This sign-in took too long. Try again.".into(),
            ));
        }
        let Some(code) = callback.code.filter(|c| !c.is_empty()) else {
            self.refused(None, "no code came back".into()).await?;
            return Ok(Outcome::Refused(TRY_AGAIN.into()));
        };
        let Some(metadata) = self.metadata().await else {
            return Ok(Outcome::Refused(NOT_ANSWERING.into()));
        };
        let client = self.client(metadata);
        let http = self.http_client();
        let exchange = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| {
                Error::Internal(anyhow::anyhow!("the provider has no token endpoint: {e}"))
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&http)
            .await;
        let tokens = match exchange {
            Ok(tokens) => tokens,
            Err(RequestTokenError::ServerResponse(answer)) => {
                let why = format!("the code was not accepted ({})", answer.error());
                self.refused(None, why).await?;
                return Ok(Outcome::Refused(TRY_AGAIN.into()));
            }
            Err(error) => {
                tracing::warn!(
                    issuer = %self.config.issuer,
                    %error,
                    "the identity provider's token endpoint did not answer"
                );
                return Ok(Outcome::Refused(NOT_ANSWERING.into()));
            }
        };
        let Some(id_token) = tokens.id_token() else {
            self.refused(None, "no ID token came back".into()).await?;
            return Ok(Outcome::Refused(TRY_AGAIN.into()));
        };
        let verifier = client.id_token_verifier();
        let nonce = Nonce::new(pending.nonce);
        let claims = match id_token.claims(&verifier, &nonce) {
            Ok(claims) => claims,
            Err(error) => {
                tracing::warn!(%error, "an ID token was not accepted");
                self.refused(None, format!("the ID token was not accepted: {error}"))
                    .await?;
                return Ok(Outcome::Refused(TRY_AGAIN.into()));
            }
        };
        if let Some(expected) = claims.access_token_hash() {
            let matches = id_token
                .signing_alg()
                .ok()
                .zip(id_token.signing_key(&verifier).ok())
                .and_then(|(alg, key)| {
                    AccessTokenHash::from_token(tokens.access_token(), alg, key).ok()
                })
                .is_some_and(|actual| actual == *expected);
            if !matches {
                self.refused(None, "the access token did not match the ID token".into())
                    .await?;
                return Ok(Outcome::Refused(TRY_AGAIN.into()));
            }
        }
        let Some(email) = claims.email().map(|e| e.as_str().to_owned()) else {
            self.refused(None, "the ID token has no email".into())
                .await?;
            return Ok(Outcome::Refused(
                "Your organisation did not tell us your email address, so we cannot find your \
                 account. Ask an admin."
                    .into(),
            ));
        };
        if claims.email_verified() == Some(false) {
            self.refused(
                Some(&email),
                "the email is not verified by the provider".into(),
            )
            .await?;
            return Ok(Outcome::Refused(
                "Your organisation has not verified your email address. Ask an admin.".into(),
            ));
        }
        Ok(match self.accounts.sign_in_vouched(&email, HOW).await? {
            VouchedSignIn::SignedIn(user) => Outcome::SignedIn(user),
            VouchedSignIn::NoAccount(email) => {
                Outcome::Refused(format!("no account for {email} here: ask an admin"))
            }
            VouchedSignIn::Refused => Outcome::Refused(
                "Your account here is locked or no longer active: ask an admin.".into(),
            ),
        })
    }

    async fn refused(&self, who: Option<&str>, why: String) -> Result<()> {
        self.accounts
            .sign_in_failed(who, format!("{HOW}: {why}"))
            .await
    }
}
