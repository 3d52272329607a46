//! Console sessions for tower-sessions, kept in our own database on either engine (its own
//! sqlx store is built on another sqlx). A record's end is tower-sessions' own reckoning, on
//! the system clock; the idle rule staff see is `app::staff`'s, on the app's clock.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::{SessionRow, Store};

/// tower-sessions' `SessionStore` over the gateway's store.
#[derive(Debug, Clone)]
pub struct ConsoleSessions(pub Arc<dyn Store>);

fn backend(error: super::StoreError) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn to_row(record: &Record) -> session_store::Result<SessionRow> {
    let nanos = record.expiry_date.unix_timestamp_nanos();
    let expires_at = i64::try_from(nanos)
        .map(DateTime::<Utc>::from_timestamp_nanos)
        .map_err(|_| session_store::Error::Encode("session expiry out of range".into()))?;
    Ok(SessionRow {
        id: record.id.to_string(),
        data: serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?,
        expires_at,
    })
}

fn from_row(id: Id, row: SessionRow) -> session_store::Result<Record> {
    let nanos = row
        .expires_at
        .timestamp_nanos_opt()
        .ok_or_else(|| session_store::Error::Decode("session expiry out of range".into()))?;
    Ok(Record {
        id,
        data: serde_json::from_str(&row.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        expiry_date: OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
            .map_err(|e| session_store::Error::Decode(e.to_string()))?,
    })
}

#[async_trait]
impl SessionStore for ConsoleSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // 128 random bits make a collision all but impossible; a new id if one happens.
        loop {
            if self
                .0
                .create_session(&to_row(record)?)
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0.save_session(&to_row(record)?).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = self
            .0
            .session(&id.to_string(), Utc::now())
            .await
            .map_err(backend)?;
        row.map(|row| from_row(*id, row)).transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0
            .delete_session(&id.to_string())
            .await
            .map_err(backend)
    }
}
