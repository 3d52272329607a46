//! One timestamp type for both engines: PostgreSQL `TIMESTAMPTZ`, and in SQLite fixed-width
//! UTC text (`2026-11-23T23:38:08.123456Z`) so that comparing and sorting the text is the
//! same as comparing the times.

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ts(pub DateTime<Utc>);

impl Ts {
    /// The time as both engines keep it, to the microsecond: what reading it back would give.
    pub fn stored(t: DateTime<Utc>) -> DateTime<Utc> {
        chrono::DurationRound::duration_trunc(t, chrono::TimeDelta::microseconds(1)).unwrap_or(t)
    }
}

impl From<DateTime<Utc>> for Ts {
    fn from(t: DateTime<Utc>) -> Self {
        Ts(t)
    }
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        let text = self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        <String as Encode<Sqlite>>::encode(text, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Ts(DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc)))
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Ts(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}

/// Lets a row type decode a `DateTime<Utc>` field through `Ts` (`#[sqlx(try_from = "Ts")]`).
impl From<Ts> for DateTime<Utc> {
    fn from(t: Ts) -> Self {
        t.0
    }
}

/// A nullable timestamp column, read through `Ts` into an `Option<DateTime<Utc>>` field
/// (`#[sqlx(try_from = "OptionalTs")]`).
#[derive(Debug, Clone, Copy)]
pub struct OptionalTs(pub Option<Ts>);

impl From<OptionalTs> for Option<DateTime<Utc>> {
    fn from(t: OptionalTs) -> Self {
        t.0.map(|t| t.0)
    }
}

impl Type<Sqlite> for OptionalTs {
    fn type_info() -> SqliteTypeInfo {
        <Ts as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <Ts as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for OptionalTs {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(OptionalTs(<Option<Ts> as Decode<Sqlite>>::decode(value)?))
    }
}

impl Type<Postgres> for OptionalTs {
    fn type_info() -> PgTypeInfo {
        <Ts as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <Ts as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for OptionalTs {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(OptionalTs(<Option<Ts> as Decode<Postgres>>::decode(value)?))
    }
}
