//! Staff accounts and API tokens: creating an account (with a password, or a one-time link
//! to set one), signing in with lock-out after repeated failures, what a console session
//! needs to know (who, and whether it has been idle too long), and tokens that can be listed,
//! revoked and expire. Any front door can start a session for a `StaffUser` found here by
//! email, so another way of signing in (OpenID Connect, say) needs only to find the user.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Error, Result, audit_entry};
use crate::clock::Clock;
use crate::domain::role::Role;
use crate::domain::teams::Teams;
use crate::store::{
    Actor, ApiTokenRecord, AuditAction, AuditEntry, AuditRole, NewApiToken, PasswordLink, Revoked,
    Store, User,
};

/// Shorter passwords are refused.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer ones too: hashing a megabyte on every attempt would be a denial of service.
const MAX_PASSWORD_CHARS: usize = 256;
/// Failed sign-ins in a row that lock an account ...
pub const LOCK_AFTER_FAILURES: i64 = 5;
/// ... for this long.
pub const LOCKED_FOR: TimeDelta = TimeDelta::minutes(15);
/// How long a set-password link works (once).
pub const LINK_VALID_FOR: TimeDelta = TimeDelta::days(7);
/// A token's last use is written at most this often.
const LAST_USE_EVERY: TimeDelta = TimeDelta::minutes(1);

const TOKEN_PREFIX: &str = "crht_";

/// A new secret: 32 random bytes, URL-safe, with a recognisable prefix (API tokens and
/// set-password links).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Secrets carry 256 bits of randomness, so a fast hash is enough: nothing to brute-force.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A password as typed; never printed.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

impl Password {
    /// A password long enough to keep (`Error::Invalid` with the reason otherwise).
    pub fn new(text: impl Into<String>) -> Result<Password> {
        let text = text.into();
        let chars = text.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(Error::Invalid(format!(
                "a password needs at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(Error::Invalid(format!(
                "a password may have at most {MAX_PASSWORD_CHARS} characters"
            )));
        }
        Ok(Password(text))
    }
}

/// A signed-in member of staff, as a console knows them (the JSON API's `Staff` is a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub teams: Vec<String>,
}

impl StaffUser {
    /// Who they are in the audit log and to the application layer's role checks.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.email.clone(),
            role: self.role,
            token_id: None,
            user_id: Some(self.id.clone()),
        }
    }
}

impl From<User> for StaffUser {
    fn from(user: User) -> Self {
        StaffUser {
            id: user.id,
            name: user.name,
            email: user.email,
            role: user.role,
            teams: user.teams,
        }
    }
}

/// Who an operator at the command line is, in the audit log.
pub fn operator() -> Actor {
    Actor {
        name: "command-line".into(),
        role: Role::Admin,
        token_id: None,
        user_id: None,
    }
}

/// A new account as asked for.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub teams: Vec<String>,
}

/// An account just made, and the secret of its set-password link when it has no password.
#[derive(Debug)]
pub struct CreatedUser {
    pub user: StaffUser,
    pub set_password_token: Option<String>,
}

/// A token just made: shown once, never stored.
#[derive(Debug)]
pub struct CreatedToken {
    pub id: String,
    pub secret: String,
}

/// A new token as asked for.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    /// The owner's email; `None` for a named service.
    pub owner_email: Option<String>,
    pub expires_in: Option<TimeDelta>,
}

/// Trimmed, lower case, and shaped like an address (one `@`, a dot in the domain, no spaces).
pub fn normalise_email(text: &str) -> Option<String> {
    let email = text.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let shaped = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    shaped.then_some(email)
}

/// What a sign-in vouched for by another party (the organisation's identity provider) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VouchedSignIn {
    SignedIn(StaffUser),
    /// No account has this email (normalised, to show them).
    NoAccount(String),
    /// The account is deactivated or locked.
    Refused,
}

/// The accounts' rules, over the store and the clock.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Creates an account (`actor` did it): with its password hashed, or with a one-time
    /// link to set one, whose secret is handed back once.
    pub async fn create_user(
        &self,
        actor: &Actor,
        input: NewUser,
        password: Option<Password>,
        teams: &Teams,
    ) -> Result<CreatedUser> {
        require_admin(actor)?;
        let email = normalise_email(&input.email)
            .ok_or_else(|| Error::Invalid("email: not an email address".into()))?;
        let name = input.name.trim().to_owned();
        if name.is_empty() {
            return Err(Error::Invalid("name: must not be empty".into()));
        }
        let mut user_teams = Vec::new();
        for team in input.teams {
            let team = team.trim().to_owned();
            if teams.get(&team).is_none() {
                return Err(Error::Invalid(format!(
                    "team: {team} is not a team in the teams file"
                )));
            }
            if !user_teams.contains(&team) {
                user_teams.push(team);
            }
        }
        let password_hash = match password {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        let now = self.now();
        let user = User {
            id: crate::new_id(),
            email,
            name,
            role: input.role,
            teams: user_teams,
            password_hash,
            failed_sign_ins: 0,
            locked_until: None,
            active: true,
            created_at: now,
        };
        let link_secret = user.password_hash.is_none().then(generate_token);
        let link = link_secret.as_deref().map(|secret| PasswordLink {
            token_hash: hash_token(secret),
            expires_at: now + LINK_VALID_FOR,
        });
        let audit = audit_entry(
            actor,
            now,
            AuditAction::UserCreate,
            format!("user:{}", user.id),
        );
        self.store
            .create_user(&user, link.as_ref(), &audit)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => {
                    Error::Conflict("an account with this email already exists".into())
                }
                other => other.into(),
            })?;
        Ok(CreatedUser {
            user: user.into(),
            set_password_token: link_secret,
        })
    }

    /// The account a set-password link is for, while it still works.
    pub async fn password_link(&self, secret: &str) -> Result<Option<StaffUser>> {
        Ok(self
            .store
            .user_by_password_link(&hash_token(secret), self.now())
            .await?
            .map(StaffUser::from))
    }

    /// Sets a password through a one-time link; `NotFound` once the link is spent or expired.
    pub async fn set_password(&self, secret: &str, password: Password) -> Result<StaffUser> {
        let user = self.password_link(secret).await?.ok_or_else(link_gone)?;
        let hash = hash_password(password).await?;
        let now = self.now();
        let audit = audit_entry(
            &user.actor(),
            now,
            AuditAction::UserPasswordSet,
            format!("user:{}", user.id),
        );
        if self
            .store
            .set_password_by_link(&hash_token(secret), &hash, now, &audit)
            .await?
        {
            Ok(user)
        } else {
            Err(link_gone())
        }
    }

    /// Signs in by email and password: the member of staff, or `None` whatever the reason
    /// (unknown email, wrong password, locked or inactive account), which staff are told in
    /// the same words. Five failures in a row lock the account for 15 minutes.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Option<StaffUser>> {
        let found = match normalise_email(email) {
            Some(email) => self.store.user_by_email(&email).await?,
            None => None,
        };
        // The hash is checked even when there is no account, so that the time taken does
        // not tell an unknown email from a wrong password.
        let hash = found.as_ref().and_then(|u| u.password_hash.clone());
        let password_right = verify_password(password.to_owned(), hash).await?;
        let now = self.now();
        let Some(user) = found else {
            let typed = normalise_email(email).unwrap_or_else(|| "(not an email)".into());
            let audit = AuditEntry {
                at: now,
                actor: typed,
                role: AuditRole::Unknown,
                action: AuditAction::UserSignInFailed,
                target: "user:unknown".into(),
                referral_id: None,
                note: None,
                token_id: None,
                user_id: None,
                records: None,
            };
            self.store.audit(&audit).await?;
            return Ok(None);
        };
        let actor = StaffUser::from(user.clone()).actor();
        let target = format!("user:{}", user.id);
        let locked = user.locked_until.is_some_and(|until| until > now);
        if !user.active || locked {
            let action = if locked {
                AuditAction::UserSignInRefusedLocked
            } else {
                AuditAction::UserSignInRefusedInactive
            };
            self.store
                .audit(&audit_entry(&actor, now, action, target))
                .await?;
            return Ok(None);
        }
        if !password_right {
            self.store
                .record_failed_sign_in(
                    &user.id,
                    LOCK_AFTER_FAILURES,
                    now + LOCKED_FOR,
                    &audit_entry(&actor, now, AuditAction::UserSignInFailed, target.clone()),
                    &audit_entry(&actor, now, AuditAction::UserLocked, target),
                )
                .await?;
            return Ok(None);
        }
        self.store
            .record_sign_in(
                &user.id,
                &audit_entry(&actor, now, AuditAction::UserSignIn, target),
            )
            .await?;
        Ok(Some(user.into()))
    }

    /// Signs in someone whose email another party has vouched for (`how`, e.g. the
    /// organisation's identity provider, is noted in the audit log): only an existing,
    /// active, unlocked account; nothing is made for an unknown email. The password's
    /// failure count is left alone either way.
    pub async fn sign_in_vouched(&self, email: &str, how: &str) -> Result<VouchedSignIn> {
        let now = self.now();
        let note = Some(how.to_owned());
        let found = match normalise_email(email) {
            Some(email) => self.store.user_by_email(&email).await?,
            None => None,
        };
        let Some(user) = found else {
            let shown = normalise_email(email).unwrap_or_else(|| "(not an email)".into());
            self.store
                .audit(&AuditEntry {
                    at: now,
                    actor: shown.clone(),
                    role: AuditRole::Unknown,
                    action: AuditAction::UserSignInOidcFailed,
                    target: "user:unknown".into(),
                    referral_id: None,
                    note: Some(format!("{how}: no account for this email")),
                    records: None,
                    token_id: None,
                    user_id: None,
                })
                .await?;
            return Ok(VouchedSignIn::NoAccount(shown));
        };
        let actor = StaffUser::from(user.clone()).actor();
        let target = format!("user:{}", user.id);
        let locked = user.locked_until.is_some_and(|until| until > now);
        if !user.active || locked {
            let action = if locked {
                AuditAction::UserSignInRefusedLocked
            } else {
                AuditAction::UserSignInRefusedInactive
            };
            let mut entry = audit_entry(&actor, now, action, target);
            entry.note = note;
            self.store.audit(&entry).await?;
            return Ok(VouchedSignIn::Refused);
        }
        let mut entry = audit_entry(&actor, now, AuditAction::UserSignIn, target);
        entry.note = note;
        self.store.audit(&entry).await?;
        Ok(VouchedSignIn::SignedIn(user.into()))
    }

    /// Audits a sign-in through another party that failed before anyone was known (`who`:
    /// what is known of them, if anything; `why`: never a token or a code).
    pub async fn sign_in_failed(&self, who: Option<&str>, why: String) -> Result<()> {
        let entry = AuditEntry {
            at: self.now(),
            actor: who.unwrap_or("unknown").to_owned(),
            role: AuditRole::Unknown,
            action: AuditAction::UserSignInOidcFailed,
            target: "user:unknown".into(),
            referral_id: None,
            note: Some(why),
            records: None,
            token_id: None,
            user_id: None,
        };
        Ok(self.store.audit(&entry).await?)
    }

    /// The member of staff a session belongs to, while their account is active.
    pub async fn signed_in_user(&self, user_id: &str) -> Result<Option<StaffUser>> {
        Ok(self
            .store
            .user(user_id)
            .await?
            .filter(|u| u.active)
            .map(StaffUser::from))
    }

    /// Audits a sign-out (the caller ends the session).
    pub async fn sign_out(&self, user: &StaffUser) -> Result<()> {
        let entry = audit_entry(
            &user.actor(),
            self.now(),
            AuditAction::UserSignOut,
            format!("user:{}", user.id),
        );
        Ok(self.store.audit(&entry).await?)
    }

    /// Whether a session last seen at `last_seen` has been idle longer than `idle`.
    pub fn is_idle(&self, last_seen: DateTime<Utc>, idle: std::time::Duration) -> bool {
        TimeDelta::from_std(idle).is_ok_and(|idle| self.now() - last_seen > idle)
    }

    /// Makes an API token for a named service or for a person (by email); stores its hash.
    /// The command line's own (not audited: it is the operator, at the server).
    pub async fn create_token(&self, input: NewToken) -> Result<CreatedToken> {
        self.make_token(input, None).await
    }

    /// Makes an API token as `create_token` does, for an admin (the console), audited as
    /// `token.create` in the same transaction.
    pub async fn create_token_by(&self, actor: &Actor, input: NewToken) -> Result<CreatedToken> {
        require_admin(actor)?;
        self.make_token(input, Some(actor)).await
    }

    /// Refuses anyone but an admin, for the console's admin pages that read nothing
    /// audited (their hub, the teams file).
    pub fn admin_only(&self, actor: &Actor) -> Result<()> {
        require_admin(actor)
    }

    /// Every account, by name (admins only; audited as `user.list`).
    pub async fn users(&self, actor: &Actor) -> Result<Vec<User>> {
        require_admin(actor)?;
        let users = self.store.users().await?;
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::UserList,
                "users".into(),
            ))
            .await?;
        Ok(users)
    }

    async fn make_token(&self, input: NewToken, by: Option<&Actor>) -> Result<CreatedToken> {
        let name = input.name.trim().to_owned();
        if name.is_empty() {
            return Err(Error::Invalid("name: must not be empty".into()));
        }
        if input.expires_in.is_some_and(|d| d <= TimeDelta::zero()) {
            return Err(Error::Invalid("expires in: must be in the future".into()));
        }
        let user_id = match input.owner_email {
            Some(email) => {
                let email = normalise_email(&email)
                    .ok_or_else(|| Error::Invalid("user: not an email address".into()))?;
                let user = self
                    .store
                    .user_by_email(&email)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no account for {email}")))?;
                Some(user.id)
            }
            None => None,
        };
        let now = self.now();
        let secret = generate_token();
        let token = NewApiToken {
            id: crate::new_id(),
            name,
            role: input.role,
            user_id,
            hash: hash_token(&secret),
            created_at: now,
            expires_at: input.expires_in.map(|d| now + d),
        };
        let audit = by.map(|actor| {
            audit_entry(
                actor,
                now,
                AuditAction::TokenCreate,
                format!("token:{}", token.id),
            )
        });
        self.store.create_api_token(&token, audit.as_ref()).await?;
        Ok(CreatedToken {
            id: token.id,
            secret,
        })
    }

    /// Every token (never a secret); admins only, audited.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<ApiTokenRecord>> {
        require_admin(actor)?;
        let tokens = self.store.api_tokens().await?;
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::TokenList,
                "tokens".into(),
            ))
            .await?;
        Ok(tokens)
    }

    /// Revokes a token at once (admins only, audited); revoking it again changes nothing.
    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> Result<()> {
        require_admin(actor)?;
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::TokenRevoke,
            format!("token:{id}"),
        );
        match self.store.revoke_api_token(id, &audit).await? {
            Revoked::Now | Revoked::Already => Ok(()),
            Revoked::NoSuchToken => Err(Error::NotFound(format!("no token {id}"))),
        }
    }

    /// Deactivates a leaver's account (admins only, never their own): its sessions end at
    /// their next request and its tokens answer 401; the account stays in the audit log.
    pub async fn deactivate_user(&self, actor: &Actor, id: &str) -> Result<()> {
        require_admin(actor)?;
        if actor.user_id.as_deref() == Some(id) {
            return Err(Error::Conflict(
                "you cannot deactivate your own account: ask another admin".into(),
            ));
        }
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::UserDeactivate,
            format!("user:{id}"),
        );
        if self.store.deactivate_user(id, &audit).await? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("no active account {id}")))
        }
    }

    /// Who a bearer token speaks for, while it is neither revoked nor expired and its
    /// owner's account is active; its last use is noted.
    pub async fn bearer(&self, secret: &str) -> Result<Option<Actor>> {
        let Some(token) = self.store.api_token_by_hash(&hash_token(secret)).await? else {
            return Ok(None);
        };
        let now = self.now();
        let expired = token.expires_at.is_some_and(|at| at <= now);
        if token.revoked_at.is_some() || expired || !token.owner_active {
            return Ok(None);
        }
        if token
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USE_EVERY)
        {
            self.store
                .touch_api_token(&token.id, now, now - LAST_USE_EVERY)
                .await?;
        }
        // A person's token acts as that person: the audit log and a text back name them, and
        // `token_id` says which of their tokens it was.
        Ok(Some(Actor {
            name: token.owner_name.unwrap_or(token.name),
            role: token.role,
            token_id: Some(token.id),
            user_id: token.user_id,
        }))
    }
}

fn require_admin(actor: &Actor) -> Result<()> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden("only admins may do this".into()))
    }
}

fn link_gone() -> Error {
    Error::NotFound("this link has been used or has expired; ask an admin for a new one".into())
}

/// argon2id, off the async threads (it is slow on purpose).
async fn hash_password(password: Password) -> Result<String> {
    tokio::task::spawn_blocking(move || password_auth::generate_hash(password.0))
        .await
        .map_err(|e| Error::Internal(e.into()))
}

/// Checks a password against a hash, or against a stand-in hash when there is none, so
/// both take the same time.
async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        static STAND_IN: OnceLock<String> = OnceLock::new();
        let stand_in = STAND_IN.get_or_init(|| password_auth::generate_hash(generate_token()));
        match hash {
            Some(hash) => password_auth::verify_password(&password, &hash).is_ok(),
            None => {
                let _ = password_auth::verify_password(&password, stand_in);
                false
            }
        }
    })
    .await
    .map_err(|e| Error::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email("  Ann.Smith@NHS.net ").as_deref(),
            Some("ann.smith@nhs.net")
        );
        for bad in [
            "",
            "ann",
            "@nhs.net",
            "ann@",
            "ann@nhs",
            "a b@nhs.net",
            "a@b@c.net",
        ] {
            assert_eq!(normalise_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn short_and_huge_passwords_are_refused_with_a_reason() {
        let short = Password::new("eleven-char").unwrap_err();
        assert!(short.to_string().contains("at least 12"), "{short}");
        assert!(Password::new("twelve-chars").is_ok());
        assert!(Password::new("x".repeat(257)).is_err());
        assert_eq!(
            format!("{:?}", Password::new("a-secret-password").unwrap()),
            "Password(…)"
        );
    }

    #[test]
    fn tokens_are_long_random_and_hash_stably() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() > 40 && !a.contains(' '));
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
