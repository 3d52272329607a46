//! Staff accounts, their one-time set-password links, console sessions, and API tokens with
//! an owner, an expiry, a last use and a revocation. The rules (who may, how many failures
//! lock an account, what is audited) are `app::staff`'s; this file keeps the rows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AuditEntry, OptionalTs, Result, StoreError, Ts};
use crate::domain::role::Role;

/// A member of staff's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    /// Normalised: trimmed and in lower case.
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Team ids from the teams file.
    pub teams: Vec<String>,
    /// An argon2id PHC string; `None` until a password is set.
    pub password_hash: Option<String>,
    /// Failed sign-ins since the last success or lock.
    pub failed_sign_ins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    email: String,
    name: String,
    role: String,
    teams: String,
    password_hash: Option<String>,
    failed_sign_ins: i64,
    #[sqlx(try_from = "OptionalTs")]
    locked_until: Option<DateTime<Utc>>,
    active: bool,
    #[sqlx(try_from = "Ts")]
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<User> {
        Ok(User {
            role: Role::parse(&row.role)
                .ok_or_else(|| StoreError::Corrupt(format!("user role {}", row.role)))?,
            teams: serde_json::from_str(&row.teams)
                .map_err(|e| StoreError::Corrupt(format!("user teams: {e}")))?,
            id: row.id,
            email: row.email,
            name: row.name,
            password_hash: row.password_hash,
            failed_sign_ins: row.failed_sign_ins,
            locked_until: row.locked_until,
            active: row.active,
            created_at: row.created_at,
        })
    }
}

/// A one-time link to set a password, as stored: the hash of its secret.
#[derive(Debug, Clone)]
pub struct PasswordLink {
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// A new API token: its hash, never the token itself.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// `None`: the token is a named service's, not a person's.
    pub user_id: Option<String>,
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API token as listed and as checked: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiTokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub user_id: Option<String>,
    /// The owner's email, when the token is a person's.
    pub owner_email: Option<String>,
    /// The owner's name, when the token is a person's.
    pub owner_name: Option<String>,
    /// Whether the owner's account is active (`true` for a service's token).
    pub owner_active: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct TokenRow {
    id: String,
    name: String,
    role: String,
    user_id: Option<String>,
    owner_email: Option<String>,
    owner_name: Option<String>,
    owner_active: bool,
    #[sqlx(try_from = "Ts")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "OptionalTs")]
    expires_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "OptionalTs")]
    last_used_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "OptionalTs")]
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for ApiTokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<ApiTokenRecord> {
        Ok(ApiTokenRecord {
            role: Role::parse(&row.role)
                .ok_or_else(|| StoreError::Corrupt(format!("token role {}", row.role)))?,
            id: row.id,
            name: row.name,
            user_id: row.user_id,
            owner_email: row.owner_email,
            owner_name: row.owner_name,
            owner_active: row.owner_active,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// What became of a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
    NoSuchToken,
}

/// A console session as tower-sessions keeps it: its data as JSON, and when it ends.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub data: String,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait StaffStore {
    /// A new account, with its one-time set-password link if it has no password, and the
    /// audit entry; `Conflict` when the email is taken.
    async fn create_user(
        &self,
        user: &User,
        link: Option<&PasswordLink>,
        audit: &AuditEntry,
    ) -> Result<()>;

    async fn user(&self, id: &str) -> Result<Option<User>>;

    /// By normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;

    /// The account a link sets the password of, while the link is unused and unexpired.
    async fn user_by_password_link(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<User>>;

    /// Spends the link and sets the password (unlocking the account), with the audit entry;
    /// `false` when the link is spent or expired.
    async fn set_password_by_link(
        &self,
        hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool>;

    /// Counts a failed sign-in; at `lock_after` failures in a row the account is locked until
    /// `lock_until` (and the count starts again). Audits the failure and any lock; whether it
    /// locked.
    async fn record_failed_sign_in(
        &self,
        user_id: &str,
        lock_after: i64,
        lock_until: DateTime<Utc>,
        failed: &AuditEntry,
        locked: &AuditEntry,
    ) -> Result<bool>;

    /// A sign-in: the failure count starts again; audited.
    async fn record_sign_in(&self, user_id: &str, audit: &AuditEntry) -> Result<()>;

    /// A new token, with the audit entry of who made it when someone did (the command
    /// line's own tokens have none), in one transaction.
    async fn create_api_token(&self, token: &NewApiToken, audit: Option<&AuditEntry>)
    -> Result<()>;

    /// Every account, by name then email.
    async fn users(&self) -> Result<Vec<User>>;

    async fn api_token_by_hash(&self, hash: &str) -> Result<Option<ApiTokenRecord>>;

    /// Every token, newest first.
    async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>>;

    /// Revokes a token and audits it in one transaction.
    async fn revoke_api_token(&self, id: &str, audit: &AuditEntry) -> Result<Revoked>;

    /// Deactivates an account (its sessions and tokens stop working with it) and audits it in
    /// one transaction; `false` if there is no such active account.
    async fn deactivate_user(&self, id: &str, audit: &AuditEntry) -> Result<bool>;

    /// Notes a token's use, unless one was noted since `unless_since`.
    async fn touch_api_token(
        &self,
        id: &str,
        at: DateTime<Utc>,
        unless_since: DateTime<Utc>,
    ) -> Result<()>;

    /// A new session; `false` if its id is taken.
    async fn create_session(&self, session: &SessionRow) -> Result<bool>;

    async fn save_session(&self, session: &SessionRow) -> Result<()>;

    /// The session, unless it ended before `now`.
    async fn session(&self, id: &str, now: DateTime<Utc>) -> Result<Option<SessionRow>>;

    async fn delete_session(&self, id: &str) -> Result<()>;

    /// Removes sessions that ended before `now`; how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;
}

/// The columns `ApiTokenRecord` reads, joined with the owner.
const TOKEN_COLUMNS: &str = "SELECT t.id, t.name, t.role, t.user_id, u.email AS owner_email, \
     u.name AS owner_name, COALESCE(u.active, TRUE) AS owner_active, t.created_at, t.expires_at, t.last_used_at, \
     t.revoked_at FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id";

pub(super) fn token_query(tail: &str) -> String {
    format!("{TOKEN_COLUMNS} {tail}")
}

pub(super) fn user_from_row(row: Option<UserRow>) -> Result<Option<User>> {
    row.map(User::try_from).transpose()
}

pub(super) const USER_COLUMNS: &str = "SELECT id, email, name, role, teams, password_hash, \
     failed_sign_ins, locked_until, active, created_at FROM users";

/// Implements `StaffStore` for an engine's store (see `sqlite.rs` / `postgres.rs`).
macro_rules! staff_store_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::StaffStore for $store {
            async fn create_user(
                &self,
                user: &$crate::store::User,
                link: Option<&$crate::store::PasswordLink>,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<()> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO users (id, email, name, role, teams, password_hash, \
                     failed_sign_ins, locked_until, active, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0, NULL, $7, $8)",
                )
                .bind(&user.id)
                .bind(&user.email)
                .bind(&user.name)
                .bind(user.role.as_str())
                .bind($crate::store::rows::to_json_text(&user.teams)?)
                .bind(&user.password_hash)
                .bind(user.active)
                .bind(Ts(user.created_at))
                .execute(&mut *tx)
                .await
                .map_err($crate::store::rows::conflict_on_unique)?;
                if let Some(link) = link {
                    sqlx::query(
                        "INSERT INTO password_links (token_hash, user_id, expires_at) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(&link.token_hash)
                    .bind(&user.id)
                    .bind(Ts(link.expires_at))
                    .execute(&mut *tx)
                    .await?;
                }
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn user(&self, id: &str) -> $crate::store::Result<Option<$crate::store::User>> {
                use $crate::store::staff::{USER_COLUMNS, UserRow, user_from_row};
                let row: Option<UserRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE id = $1")))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                user_from_row(row)
            }

            async fn user_by_email(
                &self,
                email: &str,
            ) -> $crate::store::Result<Option<$crate::store::User>> {
                use $crate::store::staff::{USER_COLUMNS, UserRow, user_from_row};
                let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{USER_COLUMNS} WHERE email = $1"
                )))
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
                user_from_row(row)
            }

            async fn user_by_password_link(
                &self,
                hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Option<$crate::store::User>> {
                use $crate::store::staff::{USER_COLUMNS, UserRow, user_from_row};
                let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{USER_COLUMNS} WHERE id = (SELECT user_id FROM password_links \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2)"
                )))
                .bind(hash)
                .bind($crate::store::Ts(now))
                .fetch_optional(&self.pool)
                .await?;
                user_from_row(row)
            }

            async fn set_password_by_link(
                &self,
                hash: &str,
                password_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                let user_id: Option<(String,)> = sqlx::query_as(
                    "UPDATE password_links SET used_at = $2 \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                     RETURNING user_id",
                )
                .bind(hash)
                .bind(Ts(now))
                .fetch_optional(&mut *tx)
                .await?;
                let Some((user_id,)) = user_id else {
                    return Ok(false);
                };
                sqlx::query(
                    "UPDATE users SET password_hash = $2, failed_sign_ins = 0, \
                     locked_until = NULL WHERE id = $1",
                )
                .bind(&user_id)
                .bind(password_hash)
                .execute(&mut *tx)
                .await?;
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn record_failed_sign_in(
                &self,
                user_id: &str,
                lock_after: i64,
                lock_until: chrono::DateTime<chrono::Utc>,
                failed: &$crate::store::AuditEntry,
                locked: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<bool> {
                let mut tx = self.begin_write().await?;
                let (count,): (i64,) = sqlx::query_as(
                    "UPDATE users SET failed_sign_ins = failed_sign_ins + 1 WHERE id = $1 \
                     RETURNING failed_sign_ins",
                )
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
                Self::insert_audit(&mut *tx, failed).await?;
                let lock = count >= lock_after;
                if lock {
                    sqlx::query(
                        "UPDATE users SET failed_sign_ins = 0, locked_until = $2 WHERE id = $1",
                    )
                    .bind(user_id)
                    .bind($crate::store::Ts(lock_until))
                    .execute(&mut *tx)
                    .await?;
                    Self::insert_audit(&mut *tx, locked).await?;
                }
                tx.commit().await?;
                Ok(lock)
            }

            async fn record_sign_in(
                &self,
                user_id: &str,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_api_token(
                &self,
                token: &$crate::store::NewApiToken,
                audit: Option<&$crate::store::AuditEntry>,
            ) -> $crate::store::Result<()> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, role, token_hash, created_at, user_id, \
                     expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&token.id)
                .bind(&token.name)
                .bind(token.role.as_str())
                .bind(&token.hash)
                .bind(Ts(token.created_at))
                .bind(&token.user_id)
                .bind(token.expires_at.map(Ts))
                .execute(&mut *tx)
                .await
                .map_err($crate::store::rows::conflict_on_unique)?;
                if let Some(audit) = audit {
                    Self::insert_audit(&mut *tx, audit).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn users(&self) -> $crate::store::Result<Vec<$crate::store::User>> {
                use $crate::store::staff::{USER_COLUMNS, UserRow};
                let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{USER_COLUMNS} ORDER BY name, email"
                )))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map($crate::store::User::try_from)
                    .collect()
            }

            async fn api_token_by_hash(
                &self,
                hash: &str,
            ) -> $crate::store::Result<Option<$crate::store::ApiTokenRecord>> {
                let row: Option<$crate::store::staff::TokenRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe($crate::store::staff::token_query(
                        "WHERE t.token_hash = $1",
                    )))
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::store::ApiTokenRecord::try_from).transpose()
            }

            async fn api_tokens(
                &self,
            ) -> $crate::store::Result<Vec<$crate::store::ApiTokenRecord>> {
                let rows: Vec<$crate::store::staff::TokenRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe($crate::store::staff::token_query(
                        "ORDER BY t.created_at DESC, t.id DESC",
                    )))
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter()
                    .map($crate::store::ApiTokenRecord::try_from)
                    .collect()
            }

            async fn revoke_api_token(
                &self,
                id: &str,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<$crate::store::Revoked> {
                use $crate::store::Revoked;
                let mut tx = self.begin_write().await?;
                let found: Option<($crate::store::OptionalTs,)> =
                    sqlx::query_as("SELECT revoked_at FROM api_tokens WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let outcome = match found {
                    None => Revoked::NoSuchToken,
                    Some(($crate::store::OptionalTs(Some(_)),)) => Revoked::Already,
                    Some(_) => {
                        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1")
                            .bind(id)
                            .bind($crate::store::Ts(audit.at))
                            .execute(&mut *tx)
                            .await?;
                        Self::insert_audit(&mut *tx, audit).await?;
                        Revoked::Now
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            }

            async fn deactivate_user(
                &self,
                id: &str,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE users SET active = FALSE WHERE id = $1 AND active")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done > 0 {
                    Self::insert_audit(&mut *tx, audit).await?;
                }
                tx.commit().await?;
                Ok(done > 0)
            }

            async fn touch_api_token(
                &self,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
                unless_since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                use $crate::store::Ts;
                // Bookkeeping: losing a last use in a crash costs nothing.
                let mut tx = self.begin_unsynced().await?;
                sqlx::query(
                    "UPDATE api_tokens SET last_used_at = $2 \
                     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
                )
                .bind(id)
                .bind(Ts(at))
                .bind(Ts(unless_since))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_session(
                &self,
                session: &$crate::store::SessionRow,
            ) -> $crate::store::Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "INSERT INTO console_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(&session.id)
                .bind(&session.data)
                .bind($crate::store::Ts(session.expires_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn save_session(
                &self,
                session: &$crate::store::SessionRow,
            ) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO console_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET data = excluded.data, \
                     expires_at = excluded.expires_at",
                )
                .bind(&session.id)
                .bind(&session.data)
                .bind($crate::store::Ts(session.expires_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session(
                &self,
                id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Option<$crate::store::SessionRow>> {
                let row: Option<(String, String, $crate::store::Ts)> = sqlx::query_as(
                    "SELECT id, data, expires_at FROM console_sessions \
                     WHERE id = $1 AND expires_at > $2",
                )
                .bind(id)
                .bind($crate::store::Ts(now))
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(id, data, expires_at)| $crate::store::SessionRow {
                    id,
                    data,
                    expires_at: expires_at.0,
                }))
            }

            async fn delete_session(&self, id: &str) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM console_sessions WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_expired_sessions(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<u64> {
                let mut tx = self.begin_unsynced().await?;
                let done = sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
                    .bind($crate::store::Ts(now))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(super) use staff_store_impl;
