//! SQLite: the embedded default. One file, WAL, and `synchronous = FULL` so that a commit —
//! and with it the 2xx the provider sees — survives a crash and a power cut.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::watch;

use super::feedback::feedback_store_impl;
use super::outbox::outbox_store_impl;
use super::patients::patient_store_impl;
use super::queue::{self, JobInsert};
use super::referrals::referral_store_impl;
use super::shared::shared_impl;
use super::staff::staff_store_impl;
use super::{Result, store_impl};

/// SQLite has one writer at a time. Every write — ours and the job queue's — goes through a
/// single connection, so writers queue in order for it instead of colliding on the database
/// lock and sleeping in SQLite's busy handler; reads use a pool of their own (WAL readers
/// never block the writer).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers.
    pool: SqlitePool,
    /// The one writing connection.
    writer: SqlitePool,
    /// Texts from people waiting together share a commit.
    groups: Arc<CommitGroups>,
}

/// Group commit for texts from people. SQLite has one writer, and a commit with
/// `synchronous = FULL` waits for the disk; so while one text is stored, the texts that arrive
/// queue behind it, and are then stored one after another in one transaction, each in a
/// savepoint of its own, and committed together. Each webhook is answered only after the
/// commit that holds its text (the durability promise is unchanged); a text whose work fails
/// is rolled back to its savepoint alone, and its neighbours go on. Arrival order — and with
/// it each number's order — is the lock's order (tokio's mutex is first come, first served).
#[derive(Debug, Default)]
struct CommitGroups {
    open: tokio::sync::Mutex<Option<OpenGroup>>,
    /// Texts waiting for `open`'s lock: while any wait, the group is left open for them.
    waiting: AtomicUsize,
    /// Numbers the groups, so a member that waited too long commits only its own group.
    groups: AtomicU64,
}

/// Logged (with the count, nothing else) when more than one text shared a commit; the crash
/// drill counts these lines.
pub const GROUP_COMMITTED: &str = "texts committed together";

/// Most texts in one commit, so a steady flood still commits (and answers) in good time.
const MOST_IN_A_GROUP: usize = 64;

/// How long a member waits for the text after it to commit the group before committing it
/// itself: a text that queued and then went away (its task cancelled) leaves nobody else to.
const GROUP_PATIENCE: Duration = Duration::from_millis(100);

/// Counts a text as waiting for the group's lock for as long as it waits, however the wait
/// ends (a cancelled task included).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn on(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Queued(waiting)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a group's members learn of its commit: `Err` carries the error's words.
type GroupResult = Option<std::result::Result<(), String>>;

struct OpenGroup {
    tx: Transaction<'static, Sqlite>,
    number: u64,
    members: usize,
    committed: watch::Sender<GroupResult>,
}

impl std::fmt::Debug for OpenGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenGroup")
            .field("number", &self.number)
            .field("members", &self.members)
            .finish_non_exhaustive()
    }
}

impl OpenGroup {
    /// Commits the group and tells its members.
    async fn commit(self) -> Result<()> {
        let result = self.tx.commit().await;
        if result.is_ok() && self.members > 1 {
            tracing::info!(texts = self.members, "{GROUP_COMMITTED}");
        }
        let told = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
        self.committed.send_replace(Some(told));
        Ok(result?)
    }
}

/// The error a member gets when its group's commit failed: the database could not keep it,
/// so the provider is asked to try again (503), as for a commit of its own.
fn group_not_committed(words: String) -> super::StoreError {
    sqlx::Error::Io(std::io::Error::other(format!(
        "the commit holding this text failed: {words}"
    )))
    .into()
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writer,
            groups: Arc::default(),
        })
    }

    /// The pool the job queue's workers run on: the writing connection, shared.
    pub fn queue_pool(&self) -> &SqlitePool {
        &self.writer
    }

    async fn requeue_orphans(&self, silent_for: Duration) -> Result<u64> {
        queue::sqlite::requeue_orphans(&self.writer, silent_for).await
    }

    /// Takes SQLite's write lock up front, so a transaction that reads then writes can never
    /// fail half-way on a lock upgrade.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The same as any write here: with one writer the disk sync is cheap.
    async fn begin_unsynced(&self) -> Result<Transaction<'static, Sqlite>> {
        self.begin_write().await
    }

    /// A text from a person, stored in the commit group open now (or a new one); see
    /// `CommitGroups`.
    async fn write_inbound(
        &self,
        text: &super::InboundText,
        decide: super::Decide<'_>,
    ) -> Result<super::InboundOutcome> {
        let groups = &self.groups;
        let mut open = {
            let _queued = Queued::on(&groups.waiting);
            groups.open.lock().await
        };
        let group = match open.as_mut() {
            Some(group) => group,
            None => open.insert(OpenGroup {
                tx: self.begin_write().await?,
                number: groups.groups.fetch_add(1, Ordering::SeqCst),
                members: 0,
                committed: watch::Sender::new(None),
            }),
        };
        sqlx::query("SAVEPOINT text")
            .execute(&mut *group.tx)
            .await?;
        let stored = Self::inbound_in(&mut group.tx, text, decide).await;
        // A text whose work failed is undone alone; the group's other texts stand.
        let kept = match &stored {
            Ok(_) => sqlx::query("RELEASE text").execute(&mut *group.tx).await,
            Err(_) => match sqlx::query("ROLLBACK TO text")
                .execute(&mut *group.tx)
                .await
            {
                Ok(_) => sqlx::query("RELEASE text").execute(&mut *group.tx).await,
                Err(error) => Err(error),
            },
        };
        if let Err(error) = kept {
            // The connection is in doubt: the whole group is rolled back (dropped), and
            // every member hears so.
            if let Some(group) = open.take() {
                group
                    .committed
                    .send_replace(Some(Err(format!("a savepoint failed: {error}"))));
            }
            return Err(error.into());
        }
        if stored.is_ok() {
            group.members += 1;
        }
        let mut committed = group.committed.subscribe();
        let number = group.number;
        if groups.waiting.load(Ordering::SeqCst) == 0 || group.members >= MOST_IN_A_GROUP {
            let group = open.take().expect("the group is open");
            if group.members > 0 {
                group.commit().await?;
            }
            return stored;
        }
        drop(open);
        // Left open for the texts waiting behind this one; the last of them commits.
        let outcome = stored?;
        loop {
            // What was heard is copied out at once: the channel's guard may not be held
            // across an await.
            let heard = tokio::time::timeout(GROUP_PATIENCE, committed.wait_for(Option::is_some))
                .await
                .map(|told| told.map(|told| told.clone()));
            match heard {
                Ok(Ok(told)) => {
                    return match told.unwrap_or(Ok(())) {
                        Ok(()) => Ok(outcome),
                        Err(words) => Err(group_not_committed(words)),
                    };
                }
                // The group was dropped without a word (its transaction rolled back).
                Ok(Err(_)) => {
                    return Err(group_not_committed("the group was abandoned".into()));
                }
                Err(_) => {
                    let mut open = groups.open.lock().await;
                    if open.as_ref().is_some_and(|g| g.number == number) {
                        let group = open.take().expect("the group is open");
                        group.commit().await?;
                        return Ok(outcome);
                    }
                    // Committed (or failed) meanwhile: the loop reads what happened.
                }
            }
        }
    }

    /// Nothing to do: `BEGIN IMMEDIATE` already serialises every writer.
    async fn lock_phone(_conn: &mut SqliteConnection, _phone: &str) -> Result<()> {
        Ok(())
    }

    async fn enqueue(conn: &mut SqliteConnection, job: &JobInsert) -> Result<()> {
        queue::sqlite::enqueue(conn, job).await
    }

    async fn enqueue_many(conn: &mut SqliteConnection, jobs: &[JobInsert]) -> Result<()> {
        queue::sqlite::enqueue_many(conn, jobs).await
    }

    async fn kill_job(conn: &mut SqliteConnection, job_id: &str) -> Result<()> {
        queue::sqlite::kill_job(conn, job_id).await
    }

    /// One gateway per SQLite file: its in-process limiter paces every send, so there is no
    /// shared slot to wait for.
    async fn reserve_slot(
        &self,
        _slot: i32,
        _interval: Duration,
        _now: DateTime<Utc>,
    ) -> Result<Duration> {
        Ok(Duration::ZERO)
    }

    async fn queue_depths(&self) -> Result<Vec<(String, i64)>> {
        queue::sqlite::depths(&self.pool).await
    }

    async fn run_migrations(&self) -> Result<()> {
        // The app and apalis share sqlx's migrations table; each ignores the other's rows.
        let mut app = sqlx::migrate!("./migrations/sqlite");
        app.set_ignore_missing(true);
        app.run(&self.writer).await?;
        let mut jobs = queue::sqlite::migrations();
        jobs.set_ignore_missing(true);
        jobs.run(&self.writer).await?;
        Ok(())
    }
}

shared_impl!(SqliteStore, SqliteConnection);
referral_store_impl!(
    SqliteStore,
    SqliteConnection,
    name = "json_extract(answers, '$.name')"
);
patient_store_impl!(SqliteStore);
outbox_store_impl!(SqliteStore);
feedback_store_impl!(SqliteStore);
staff_store_impl!(SqliteStore);
store_impl!(SqliteStore, "sqlite");
