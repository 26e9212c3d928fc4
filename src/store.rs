//! The only module that knows SQL: SQLite schema, migrations, and every query regionfeed makes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use crate::dedup::{Signature, StoryIndex};
use crate::model::{FeedEntry, Item, SourceRef, Tags};

/// Numbered, append-only migrations: never edit one that has shipped, add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("store/001_init.sql"),
    include_str!("store/002_politeness.sql"),
    include_str!("store/003_stories.sql"),
    include_str!("store/004_story_rules.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database schema version {found} is newer than this build knows ({known})")]
    TooNew { found: i64, known: i64 },
}

/// The SQLite database. Cheap to share behind an `Arc`; calls block, so async code runs them
/// on the blocking pool.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

/// Validators and error streak of a source, as the poller needs them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub consecutive_errors: u32,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub last_fetch_at: Option<DateTime<Utc>>,
    /// When the source last delivered new or changed items (or was first polled).
    pub content_updated_at: Option<DateTime<Utc>>,
    /// A permanent redirect's target, polled instead of the configured URL.
    pub redirect_url: Option<String>,
    /// Set when the configured URL answered 410 Gone.
    pub gone: bool,
}

/// One row of `regionfeed sources`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SourceRow {
    pub id: String,
    pub url: String,
    pub title: Option<String>,
    pub last_fetch_at: Option<String>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub consecutive_errors: u32,
    pub next_poll_at: Option<String>,
    pub items: u64,
    pub last_success_at: Option<String>,
    pub validators: bool,
    pub last_bytes: Option<u64>,
    pub last_items: Option<u64>,
    /// Why the next poll is when it is: interval, cache-control, expires, ttl, retry-after,
    /// backoff, quiet, host budget, gone.
    pub next_poll_reason: Option<String>,
    /// Where a permanent redirect led (the config file is not rewritten).
    pub permanent_redirect: Option<String>,
    /// The source answered 410 Gone and is not polled until its URL changes.
    pub gone: bool,
}

/// One report of `regionfeed stories`: an item that joined another item's story.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoryJoin {
    /// The rule that joined it (`dedup::Rule::name`); `None` for reports joined by a build
    /// that did not record it.
    pub rule: Option<String>,
    pub report: StoryReport,
    /// The story's leader, its earliest report.
    pub story: StoryReport,
}

/// One item as `regionfeed stories` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoryReport {
    pub uid: String,
    pub title: String,
    pub link: Option<String>,
    /// The source whose version is shown.
    pub source: String,
    pub published: String,
}

/// When and why a source is polled next; `at: None` means never (gone).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextPoll {
    pub at: Option<DateTime<Utc>>,
    pub reason: crate::timing::NextReason,
}

/// What one poll's response looked like, for the record.
#[derive(Debug, Clone, Default)]
pub struct FetchRecord {
    pub status: u16,
    pub redirect_url: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub bytes: u64,
    pub feed_title: Option<String>,
    pub site_link: Option<String>,
}

/// The stored state the published site is built from.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Newest entries of all of Sweden.
    pub national: Vec<FeedEntry>,
    /// Newest entries per region code; regions without items are absent.
    pub by_region: HashMap<String, Vec<FeedEntry>>,
    /// Items per region code.
    pub counts: HashMap<String, u64>,
    /// All stored items.
    pub total: u64,
}

/// One item of a poll, ready to store.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub item: Item,
    pub tags: Tags,
    /// Near-duplicate signature; `None` when the text is too short to judge.
    pub signature: Option<Signature>,
}

/// An item as the story index knows it.
#[derive(Debug, Clone)]
pub struct IndexedItem {
    pub id: i64,
    pub signature: Signature,
    pub published: DateTime<Utc>,
    pub regions: Vec<String>,
    /// The source whose version is shown (`items.first_source`).
    pub source: String,
}

/// What storing one poll's items changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Items already stored from another source (same canonical link), now also carried by this one.
    pub merged: usize,
    /// New items that joined another source's story as a near-duplicate report…
    pub joined_story: usize,
    /// … by rule (indexed by [`crate::dedup::Rule::index`]).
    pub joined_by_rule: [usize; crate::dedup::Rule::ALL.len()],
    /// Items skipped because an operator forgot them.
    pub forgotten: usize,
}

impl IngestStats {
    pub fn changed(&self) -> bool {
        self.new + self.updated + self.merged + self.joined_story > 0
    }
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(s, 0).single().unwrap_or_default()
}

fn rfc3339(s: Option<i64>) -> Option<String> {
    s.map(|s| from_ts(s).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A stable id for an item: the same source and key give the same uid forever.
pub fn item_uid(source_id: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(source_id.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Opens (creating if needed) the database, enables WAL and runs pending migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL lets `sources`, `render` and backups read while the daemon writes.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes sure every configured source has a row, with its current URL.
    pub fn sync_sources<'a>(
        &self,
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        for (id, url) in sources {
            tx.execute(
                "INSERT INTO sources (id, url) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET url = excluded.url,
                   -- a new URL is a new origin: its validators, redirect, 410 and error
                   -- streak belonged to the old one, and it is polled at once
                   etag = CASE WHEN sources.url = excluded.url THEN sources.etag END,
                   last_modified = CASE WHEN sources.url = excluded.url THEN sources.last_modified END,
                   redirect_url = CASE WHEN sources.url = excluded.url THEN sources.redirect_url END,
                   gone_url = CASE WHEN sources.url = excluded.url THEN sources.gone_url END,
                   consecutive_errors = CASE WHEN sources.url = excluded.url
                       THEN sources.consecutive_errors ELSE 0 END,
                   next_poll_at = CASE WHEN sources.url = excluded.url THEN sources.next_poll_at END,
                   next_reason = CASE WHEN sources.url = excluded.url THEN sources.next_reason END",
                params![id, url],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn source_state(&self, id: &str) -> Result<SourceState, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT etag, last_modified, consecutive_errors, next_poll_at, last_fetch_at,
                        content_updated_at, redirect_url, gone_url IS NOT NULL
                 FROM sources WHERE id = ?1",
                [id],
                |r| {
                    Ok(SourceState {
                        etag: r.get(0)?,
                        last_modified: r.get(1)?,
                        consecutive_errors: r.get::<_, i64>(2)?.clamp(0, u32::MAX as i64) as u32,
                        next_poll_at: r.get::<_, Option<i64>>(3)?.map(from_ts),
                        last_fetch_at: r.get::<_, Option<i64>>(4)?.map(from_ts),
                        content_updated_at: r.get::<_, Option<i64>>(5)?.map(from_ts),
                        redirect_url: r.get(6)?,
                        gone: r.get(7)?,
                    })
                },
            )
            .optional()?;
        Ok(row.unwrap_or_default())
    }

    /// Stores a successful poll and its items in one transaction.
    pub fn record_success(
        &self,
        source_id: &str,
        fetch: &FetchRecord,
        items: &[Incoming],
        now: DateTime<Utc>,
        stories: &mut StoryIndex,
        next: &dyn Fn(&IngestStats) -> NextPoll,
    ) -> Result<IngestStats, StoreError> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let mut ing = Ingest {
            source_id,
            now,
            committed: stories,
            pending: StoryIndex::new(crate::dedup::DEFAULT_WINDOW),
            learned: Vec::new(),
            stats: IngestStats::default(),
        };
        for inc in items {
            ingest_item(&tx, &mut ing, inc)?;
        }
        let (stats, learned) = (ing.stats, ing.learned);
        // The next poll may depend on what changed (quiet sources are polled less often).
        let content_changed = stats.changed();
        let next_poll = next(&stats);
        tx.execute(
            "UPDATE sources SET
                title = COALESCE(?2, title), site_link = COALESCE(?3, site_link),
                etag = ?4, last_modified = ?5, last_fetch_at = ?6, last_status = ?7,
                last_error = NULL, consecutive_errors = 0, next_poll_at = ?8,
                last_success_at = ?6, last_bytes = ?9, last_items = ?10,
                content_updated_at = CASE WHEN ?11 OR content_updated_at IS NULL
                    THEN ?6 ELSE content_updated_at END,
                next_reason = ?12, redirect_url = COALESCE(?13, redirect_url)
             WHERE id = ?1",
            params![
                source_id,
                fetch.feed_title,
                fetch.site_link,
                fetch.etag,
                fetch.last_modified,
                ts(now),
                fetch.status,
                next_poll.at.map(ts),
                fetch.bytes as i64,
                items.len() as i64,
                content_changed,
                next_poll.reason.as_str(),
                fetch.redirect_url,
            ],
        )?;
        tx.commit()?;
        for l in learned {
            stories.insert(l.id, l.signature, l.published, l.regions, Some(&l.source));
        }
        Ok(stats)
    }

    /// The `limit` reports that most recently joined a story, newest first, with the rule that
    /// joined each and the story's leader: what an operator reviews to see what was merged.
    pub fn story_joins(&self, limit: usize) -> Result<Vec<StoryJoin>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT r.story_rule,
                    r.uid, r.title, r.link, r.first_source, r.published,
                    s.uid, s.title, s.link, s.first_source, s.published
             FROM items r JOIN items s ON s.id = r.story_id
             ORDER BY r.created_at DESC, r.id DESC
             LIMIT ?1",
        )?;
        let report = |r: &rusqlite::Row<'_>, at: usize| -> rusqlite::Result<StoryReport> {
            Ok(StoryReport {
                uid: r.get(at)?,
                title: r.get(at + 1)?,
                link: r.get(at + 2)?,
                source: r.get(at + 3)?,
                published: rfc3339(Some(r.get(at + 4)?)).unwrap_or_default(),
            })
        };
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(StoryJoin {
                    rule: r.get(0)?,
                    report: report(r, 1)?,
                    story: report(r, 6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Recent items with signatures, to fill the story index at start-up.
    pub fn story_candidates(&self, since: DateTime<Utc>) -> Result<Vec<IndexedItem>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, signature, published, title, body_text, first_source FROM items
             WHERE signature IS NOT NULL AND story_id IS NULL AND published >= ?1",
        )?;
        type Row = (i64, Vec<u8>, i64, String, String, String);
        let rows: Vec<Row> = stmt
            .query_map([ts(since)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, bytes, published, title, text, source) in rows {
            // A signature stored by an older build (another format version) is recomputed from
            // the stored text, so an upgrade keeps matching against recent items.
            let Some(signature) =
                Signature::from_bytes(&bytes).or_else(|| crate::dedup::signature(&title, &text))
            else {
                continue;
            };
            out.push(IndexedItem {
                id,
                signature,
                published: from_ts(published),
                regions: item_region_codes(&conn, id)?,
                source,
            });
        }
        Ok(out)
    }

    /// Removes an item for good, by its uid (or its full `tag:` entry id). A story's leader
    /// takes its whole story with it. Tombstones keep the next poll from bringing it back.
    /// Returns how many items were removed (0: no such item).
    pub fn forget(&self, id: &str, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        let uid = id.rsplit(':').next().unwrap_or(id);
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let Some(item_id) = tx
            .query_row("SELECT id FROM items WHERE uid = ?1", [uid], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
        else {
            return Ok(Vec::new());
        };
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare("SELECT id FROM items WHERE id = ?1 OR story_id = ?1")?;
            stmt.query_map([item_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        for &id in &ids {
            tx.execute(
                "INSERT OR IGNORE INTO tombstones (source_id, key, forgotten)
                 SELECT source_id, key, ?2 FROM item_sources WHERE item_id = ?1",
                params![id, ts(now)],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO tombstone_links (canonical_link, forgotten)
                 SELECT canonical_link, ?2 FROM items WHERE id = ?1 AND canonical_link IS NOT NULL",
                params![id, ts(now)],
            )?;
        }
        delete_items(&tx, &ids)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Deletes up to `batch` items last updated before `before` that no source has listed
    /// since then, with their tags, sources and story links; returns their ids. An old item a
    /// source still lists stays: pruned, it would only come back on the next poll. Small
    /// batches keep each write short, so polling and serving never wait long.
    pub fn prune(&self, before: DateTime<Utc>, batch: usize) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM items i WHERE updated < ?1 AND NOT EXISTS (
                    SELECT 1 FROM item_sources s WHERE s.item_id = i.id AND s.last_seen >= ?1)
                 ORDER BY updated LIMIT ?2",
            )?;
            stmt.query_map(params![ts(before), batch as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        delete_items(&tx, &ids)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Records a 304: nothing changed, the streak of errors ends.
    pub fn record_not_modified(
        &self,
        source_id: &str,
        redirect_url: Option<&str>,
        now: DateTime<Utc>,
        next: NextPoll,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        tx.execute(
            "UPDATE sources SET last_fetch_at = ?2, last_status = 304, last_error = NULL,
                consecutive_errors = 0, next_poll_at = ?3, last_success_at = ?2, last_bytes = 0,
                next_reason = ?4, redirect_url = COALESCE(?5, redirect_url)
             WHERE id = ?1",
            params![
                source_id,
                ts(now),
                next.at.map(ts),
                next.reason.as_str(),
                redirect_url
            ],
        )?;
        // Unchanged means the items of the last full fetch are still listed: they were seen,
        // which keeps them from retention.
        tx.execute(
            "UPDATE item_sources SET last_seen = ?2 WHERE source_id = ?1 AND last_seen =
                (SELECT MAX(last_seen) FROM item_sources WHERE source_id = ?1)",
            params![source_id, ts(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed poll; the source's items stay as they are.
    pub fn record_failure(
        &self,
        source_id: &str,
        status: Option<u16>,
        error: &str,
        now: DateTime<Utc>,
        next: NextPoll,
    ) -> Result<(), StoreError> {
        let gone = next.reason == crate::timing::NextReason::Gone;
        self.conn().execute(
            "UPDATE sources SET last_fetch_at = ?2, last_status = ?3, last_error = ?4,
                consecutive_errors = consecutive_errors + 1, next_poll_at = ?5, next_reason = ?6,
                gone_url = CASE WHEN ?7 THEN url ELSE gone_url END
             WHERE id = ?1",
            params![
                source_id,
                ts(now),
                status,
                error,
                next.at.map(ts),
                next.reason.as_str(),
                gone
            ],
        )?;
        Ok(())
    }

    /// Moves a source's next poll (the host's gap or budget pushed it later).
    pub fn set_next_poll(&self, source_id: &str, next: NextPoll) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sources SET next_poll_at = ?2, next_reason = ?3 WHERE id = ?1",
            params![source_id, next.at.map(ts), next.reason.as_str()],
        )?;
        Ok(())
    }

    /// Every source row, in id order, with how many items it carried.
    pub fn source_rows(&self) -> Result<Vec<SourceRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT s.id, s.url, s.title, s.last_fetch_at, s.last_status, s.last_error,
                    s.consecutive_errors, s.next_poll_at,
                    (SELECT COUNT(*) FROM item_sources i WHERE i.source_id = s.id),
                    s.last_success_at, s.etag IS NOT NULL OR s.last_modified IS NOT NULL,
                    s.last_bytes, s.last_items, s.next_reason, s.redirect_url,
                    s.gone_url IS NOT NULL
             FROM sources s ORDER BY s.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceRow {
                id: r.get(0)?,
                url: r.get(1)?,
                title: r.get(2)?,
                last_fetch_at: rfc3339(r.get(3)?),
                last_status: r.get::<_, Option<i64>>(4)?.map(|s| s as u16),
                last_error: r.get(5)?,
                consecutive_errors: r.get::<_, i64>(6)?.max(0) as u32,
                next_poll_at: rfc3339(r.get(7)?),
                items: r.get::<_, i64>(8)?.max(0) as u64,
                last_success_at: rfc3339(r.get(9)?),
                validators: r.get(10)?,
                last_bytes: r.get::<_, Option<i64>>(11)?.map(|b| b.max(0) as u64),
                last_items: r.get::<_, Option<i64>>(12)?.map(|b| b.max(0) as u64),
                next_poll_reason: r.get(13)?,
                permanent_redirect: r.get(14)?,
                gone: r.get(15)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Everything the published site shows, read in one transaction so feeds agree with
    /// each other: the newest `limit` entries nationally and per region, and item counts.
    pub fn snapshot(&self, limit: usize) -> Result<Snapshot, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let limit = limit as i64;
        let national: Vec<i64> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM items WHERE story_id IS NULL
                     ORDER BY updated DESC, id DESC LIMIT ?1",
            )?;
            stmt.query_map([limit], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut region_ids: HashMap<String, Vec<i64>> = HashMap::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT code, item_id FROM (
                    SELECT r.code, r.item_id, ROW_NUMBER() OVER (
                        PARTITION BY r.code ORDER BY i.updated DESC, i.id DESC) AS rn
                    FROM item_regions r JOIN items i ON i.id = r.item_id
                    WHERE i.story_id IS NULL)
                 WHERE rn <= ?1 ORDER BY code, rn",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (code, id) = row?;
                region_ids.entry(code).or_default().push(id);
            }
        }
        let mut loaded: HashMap<i64, FeedEntry> = HashMap::new();
        for &id in national.iter().chain(region_ids.values().flatten()) {
            if let std::collections::hash_map::Entry::Vacant(v) = loaded.entry(id) {
                v.insert(load_entry(&tx, id)?);
            }
        }
        let pick = |ids: &[i64]| ids.iter().map(|id| loaded[id].clone()).collect::<Vec<_>>();
        let by_region = region_ids
            .iter()
            .map(|(code, ids)| (code.clone(), pick(ids)))
            .collect();
        let national = pick(&national);
        let counts = {
            // Entries, not reports: a story's members are not counted again.
            let mut stmt = tx.prepare_cached(
                "SELECT r.code, COUNT(*) FROM item_regions r JOIN items i ON i.id = r.item_id
                 WHERE i.story_id IS NULL GROUP BY r.code",
            )?;
            stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?
            .collect::<Result<HashMap<_, _>, _>>()?
        };
        let total: i64 = tx.query_row(
            "SELECT COUNT(*) FROM items WHERE story_id IS NULL",
            [],
            |r| r.get(0),
        )?;
        drop(tx);
        Ok(Snapshot {
            national,
            by_region,
            counts,
            total: total.max(0) as u64,
        })
    }

    /// Writes a consistent copy of the database to `out` while others keep writing (SQLite's
    /// online backup, all pages in one read transaction), then renames it into place so `out`
    /// is never a partial copy.
    pub fn backup_to(&self, out: &Path) -> Result<(), StoreError> {
        let tmp = out.with_extension(format!("partial.{}", std::process::id()));
        let result = (|| {
            let conn = self.conn();
            let mut dst = Connection::open(&tmp)?;
            rusqlite::backup::Backup::new(&conn, &mut dst)?.run_to_completion(
                i32::MAX,
                Duration::ZERO,
                None,
            )?;
            drop(dst);
            std::fs::rename(&tmp, out).map_err(|source| StoreError::CreateDir {
                path: out.display().to_string(),
                source,
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// How many items are stored.
    pub fn item_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }
}

/// A write transaction that takes the write lock at BEGIN. A deferred one would start as a
/// reader and, in WAL mode, fail at once with SQLITE_BUSY when it tries to write after another
/// process (`regionfeed sources`, `forget`) committed in between; taking the lock first lets the
/// busy timeout wait instead.
fn write_tx(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = write_tx(conn)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// One poll being stored.
struct Ingest<'a> {
    source_id: &'a str,
    now: DateTime<Utc>,
    /// Committed items, for near-duplicate matching.
    committed: &'a StoryIndex,
    /// This poll's new items, which the committed index learns of only after the commit: a
    /// rolled-back id may be reused by another item later.
    pending: StoryIndex,
    learned: Vec<IndexedItem>,
    stats: IngestStats,
}

/// Stores one item of a poll.
fn ingest_item(
    tx: &Transaction<'_>,
    ing: &mut Ingest<'_>,
    inc: &Incoming,
) -> Result<(), StoreError> {
    let (source_id, now) = (ing.source_id, ing.now);
    let stats = &mut ing.stats;
    let (item, tags) = (&inc.item, &inc.tags);
    let existing: Option<(i64, String, i64, String)> = tx
        .query_row(
            "SELECT s.item_id, s.content_hash, i.updated, i.first_source
             FROM item_sources s JOIN items i ON i.id = s.item_id
             WHERE s.source_id = ?1 AND s.key = ?2",
            params![source_id, item.key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    if let Some((item_id, hash, old_updated, first_source)) = existing {
        tx.execute(
            "UPDATE item_sources SET last_seen = ?3, content_hash = ?4
             WHERE source_id = ?1 AND key = ?2",
            params![source_id, item.key, ts(now), item.content_hash],
        )?;
        if hash == item.content_hash {
            stats.unchanged += 1;
            return Ok(());
        }
        if first_source != source_id {
            // Another source's version is the one shown; its tags still count.
            insert_regions(tx, story_leader(tx, item_id)?, tags)?;
            stats.unchanged += 1;
            return Ok(());
        }
        // An edit: `updated` moves forward even when the source does not say when it edited.
        let updated = if ts(item.updated) > old_updated {
            ts(item.updated)
        } else {
            ts(now).max(old_updated + 1)
        };
        tx.execute(
            "UPDATE items SET title = ?2, summary = ?3, content = ?4, body_text = ?5, updated = ?6,
                link = COALESCE(?7, link), categories = ?8, author = ?9, event_type = ?10,
                signature = COALESCE(?11, signature)
             WHERE id = ?1",
            params![
                item_id,
                item.title,
                item.summary,
                item.content,
                item.text,
                updated,
                item.link,
                categories_json(item),
                item.author,
                item.police.as_ref().map(|p| p.event_type.as_str()),
                inc.signature.as_ref().map(Signature::to_bytes),
            ],
        )?;
        insert_regions(tx, item_id, tags)?;
        let leader = story_leader(tx, item_id)?;
        if leader != item_id {
            // A report edited: its story moves forward too, and shows its places.
            tx.execute(
                "UPDATE items SET updated = MAX(updated, ?2) WHERE id = ?1",
                params![leader, updated],
            )?;
            insert_regions(tx, leader, tags)?;
        }
        stats.updated += 1;
        return Ok(());
    }

    // Forgotten by the operator: never again.
    let tombstoned: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM tombstones WHERE source_id = ?1 AND key = ?2)
             OR EXISTS (SELECT 1 FROM tombstone_links WHERE canonical_link = ?3)",
        params![source_id, item.key, item.canonical_link],
        |r| r.get(0),
    )?;
    if tombstoned {
        stats.forgotten += 1;
        return Ok(());
    }

    let same_link: Option<i64> = match &item.canonical_link {
        Some(link) => tx
            .query_row(
                "SELECT id FROM items WHERE canonical_link = ?1",
                [link],
                |r| r.get(0),
            )
            .optional()?,
        None => None,
    };
    let item_id = match same_link {
        Some(id) => {
            stats.merged += 1;
            id
        }
        None => {
            tx.execute(
                "INSERT INTO items (uid, canonical_link, link, title, summary, content, body_text,
                    published, updated, categories, author, event_type, first_source, created_at,
                    signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    item_uid(source_id, &item.key),
                    item.canonical_link,
                    item.link,
                    item.title,
                    item.summary,
                    item.content,
                    item.text,
                    ts(item.published),
                    ts(item.updated),
                    categories_json(item),
                    item.author,
                    item.police.as_ref().map(|p| p.event_type.as_str()),
                    source_id,
                    ts(now),
                    inc.signature.as_ref().map(Signature::to_bytes),
                ],
            )?;
            let id = tx.last_insert_rowid();
            let regions: Vec<String> = tags.kommuner.iter().chain(&tags.lan).cloned().collect();
            let joined = match &inc.signature {
                Some(sig) => join_story(tx, ing, id, item, sig, &regions)?,
                None => None,
            };
            if let Some(rule) = joined {
                ing.stats.joined_story += 1;
                ing.stats.joined_by_rule[rule.index()] += 1;
            } else {
                ing.stats.new += 1;
            }
            id
        }
    };
    tx.execute(
        "INSERT INTO item_sources (source_id, key, item_id, content_hash, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![source_id, item.key, item_id, item.content_hash, ts(now)],
    )?;
    insert_regions(tx, item_id, tags)?;
    let leader = story_leader(tx, item_id)?;
    if leader != item_id {
        insert_regions(tx, leader, tags)?;
    }
    Ok(())
}

/// The story an item belongs to (itself when it leads one or stands alone).
fn story_leader(tx: &Transaction<'_>, id: i64) -> Result<i64, StoreError> {
    let leader: Option<i64> =
        tx.query_row("SELECT story_id FROM items WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
    Ok(leader.unwrap_or(id))
}

/// Puts a just-inserted item into the story of a near-duplicate already stored, if there is
/// one; the earlier report leads the story. Returns the rule it joined by, if it joined one.
fn join_story(
    tx: &Transaction<'_>,
    ing: &mut Ingest<'_>,
    id: i64,
    item: &Item,
    sig: &Signature,
    regions: &[String],
) -> Result<Option<crate::dedup::Rule>, StoreError> {
    let found = ing
        .committed
        .find_match(sig, item.published, regions, Some(ing.source_id))
        .or_else(|| {
            ing.pending
                .find_match(sig, item.published, regions, Some(ing.source_id))
        });
    // The index may name an item deleted since (retention, forget): check it is still there.
    let other = match found {
        Some((o, rule)) => tx
            .query_row(
                "SELECT COALESCE(story_id, id) FROM items WHERE id = ?1",
                [o],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|leader| (leader, rule)),
        None => None,
    };
    // This item may lead a story that later reports join: the index must know it.
    let remember = |ing: &mut Ingest<'_>| {
        ing.pending.insert(
            id,
            sig.clone(),
            item.published,
            regions.to_vec(),
            Some(ing.source_id),
        );
        ing.learned.push(IndexedItem {
            id,
            signature: sig.clone(),
            published: item.published,
            regions: regions.to_vec(),
            source: ing.source_id.to_string(),
        });
    };
    let Some((leader, rule)) = other else {
        remember(ing);
        return Ok(None);
    };
    let leader_published: i64 =
        tx.query_row("SELECT published FROM items WHERE id = ?1", [leader], |r| {
            r.get(0)
        })?;
    if ts(item.published) < leader_published {
        // The new report is earlier: it leads, and the story's members and places follow it;
        // the old leader joined by the rule just found.
        tx.execute(
            "UPDATE items SET story_id = ?1 WHERE id = ?2 OR story_id = ?2",
            params![id, leader],
        )?;
        tx.execute(
            "UPDATE items SET story_rule = ?2 WHERE id = ?1",
            params![leader, rule.name()],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO item_regions (item_id, code, matched, rule)
             SELECT ?1, code, matched, rule FROM item_regions WHERE item_id = ?2",
            params![id, leader],
        )?;
        tx.execute(
            "UPDATE items SET updated = MAX(updated, (SELECT updated FROM items WHERE id = ?2))
             WHERE id = ?1",
            params![id, leader],
        )?;
        remember(ing);
    } else {
        tx.execute(
            "UPDATE items SET story_id = ?2, story_rule = ?3 WHERE id = ?1",
            params![id, leader, rule.name()],
        )?;
        // A later report is news about the story: it moves up in the feeds.
        tx.execute(
            "UPDATE items SET updated = MAX(updated, ?2) WHERE id = ?1",
            params![leader, ts(item.updated)],
        )?;
    }
    Ok(Some(rule))
}

fn delete_items(tx: &Transaction<'_>, ids: &[i64]) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached("DELETE FROM items WHERE id = ?1")?;
    for id in ids {
        // item_sources and item_regions go with it (ON DELETE CASCADE); members of a deleted
        // leader become stories of their own (ON DELETE SET NULL).
        stmt.execute([id])?;
    }
    Ok(())
}

fn item_region_codes(conn: &Connection, id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT code FROM item_regions WHERE item_id = ?1 ORDER BY code")?;
    Ok(stmt
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Adds tags; an item carried by several sources keeps the union of what each said.
fn insert_regions(tx: &Transaction<'_>, item_id: i64, tags: &Tags) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO item_regions (item_id, code, matched, rule) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for code in tags.kommuner.iter().chain(&tags.lan) {
        let ev = tags.evidence.iter().find(|e| &e.code == code);
        stmt.execute(params![
            item_id,
            code,
            ev.map_or("", |e| e.matched.as_str()),
            ev.map_or("kommun-lan", |e| e.rule.as_str()),
        ])?;
    }
    Ok(())
}

fn categories_json(item: &Item) -> String {
    let mut cats: Vec<&str> = Vec::new();
    if let Some(p) = &item.police {
        cats.push(&p.event_type);
    }
    for c in &item.categories {
        if !cats.contains(&c.as_str()) {
            cats.push(c);
        }
    }
    serde_json::to_string(&cats).unwrap_or_else(|_| "[]".into())
}

fn load_entry(conn: &Connection, id: i64) -> Result<FeedEntry, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.uid, i.title, i.link, i.summary, i.content, i.published, i.updated, i.categories,
                i.author, s.id, COALESCE(s.title, s.id), s.url, s.site_link, s.content_updated_at
         FROM items i JOIN sources s ON s.id = i.first_source WHERE i.id = ?1",
    )?;
    let mut entry = stmt.query_row([id], |r| {
        let cats: String = r.get(7)?;
        Ok(FeedEntry {
            uid: r.get(0)?,
            title: r.get(1)?,
            link: r.get(2)?,
            summary: r.get(3)?,
            content: r.get(4)?,
            published: from_ts(r.get(5)?),
            updated: from_ts(r.get(6)?),
            categories: serde_json::from_str(&cats).unwrap_or_default(),
            author: r.get(8)?,
            regions: Vec::new(),
            source: SourceRef {
                id: r.get(9)?,
                title: r.get(10)?,
                feed_url: r.get(11)?,
                site_link: r.get(12)?,
                updated: r.get::<_, Option<i64>>(13)?.map(from_ts),
            },
            carried_by: Vec::new(),
            related: Vec::new(),
        })
    })?;
    let mut stmt =
        conn.prepare_cached("SELECT code FROM item_regions WHERE item_id = ?1 ORDER BY code")?;
    entry.regions = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // The sources of the item and of every other report of its story.
    let mut stmt = conn.prepare_cached(
        "SELECT s.source_id FROM item_sources s JOIN items i ON i.id = s.item_id
         WHERE i.id = ?1 OR i.story_id = ?1 ORDER BY s.first_seen, s.source_id",
    )?;
    let mut carried: Vec<String> = Vec::new();
    for source in stmt.query_map([id], |r| r.get::<_, String>(0))? {
        let source = source?;
        if !carried.contains(&source) {
            carried.push(source);
        }
    }
    entry.carried_by = carried;
    let mut stmt = conn.prepare_cached(
        "SELECT title, link FROM items WHERE story_id = ?1 AND link IS NOT NULL
         ORDER BY published, id",
    )?;
    entry.related = stmt
        .query_map([id], |r| {
            Ok(crate::model::Related {
                title: r.get(0)?,
                link: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(entry)
}
