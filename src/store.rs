//! The only module that knows SQL: SQLite schema, migrations, and every query regionfeed makes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use crate::model::{FeedEntry, Item, SourceRef, Tags};

/// Numbered, append-only migrations: never edit one that has shipped, add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("store/001_init.sql"),
    include_str!("store/002_politeness.sql"),
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

/// What storing one poll's items changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Items already stored from another source (same canonical link), now also carried by this one.
    pub merged: usize,
}

impl IngestStats {
    pub fn changed(&self) -> bool {
        self.new + self.updated + self.merged > 0
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
        let tx = conn.transaction()?;
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
        items: &[(Item, Tags)],
        now: DateTime<Utc>,
        next: &dyn Fn(&IngestStats) -> NextPoll,
    ) -> Result<IngestStats, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut stats = IngestStats::default();
        for (item, tags) in items {
            ingest_item(&tx, source_id, item, tags, now, &mut stats)?;
        }
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
        Ok(stats)
    }

    /// Records a 304: nothing changed, the streak of errors ends.
    pub fn record_not_modified(
        &self,
        source_id: &str,
        redirect_url: Option<&str>,
        now: DateTime<Utc>,
        next: NextPoll,
    ) -> Result<(), StoreError> {
        self.conn().execute(
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

    /// The newest entries of a region (`None`: all of Sweden), newest first.
    pub fn feed_entries(
        &self,
        region: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let conn = self.conn();
        let limit = limit as i64;
        let ids: Vec<i64> = match region {
            None => {
                let mut stmt = conn.prepare_cached(
                    "SELECT id FROM items ORDER BY updated DESC, id DESC LIMIT ?1",
                )?;
                stmt.query_map([limit], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            }
            Some(code) => {
                let mut stmt = conn.prepare_cached(
                    "SELECT i.id FROM item_regions r JOIN items i ON i.id = r.item_id
                     WHERE r.code = ?1 ORDER BY i.updated DESC, i.id DESC LIMIT ?2",
                )?;
                stmt.query_map(params![code, limit], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            }
        };
        ids.into_iter().map(|id| load_entry(&conn, id)).collect()
    }

    /// Everything the published site shows, read in one transaction so feeds agree with
    /// each other: the newest `limit` entries nationally and per region, and item counts.
    pub fn snapshot(&self, limit: usize) -> Result<Snapshot, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let limit = limit as i64;
        let national: Vec<i64> = {
            let mut stmt =
                tx.prepare_cached("SELECT id FROM items ORDER BY updated DESC, id DESC LIMIT ?1")?;
            stmt.query_map([limit], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut region_ids: HashMap<String, Vec<i64>> = HashMap::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT code, item_id FROM (
                    SELECT r.code, r.item_id, ROW_NUMBER() OVER (
                        PARTITION BY r.code ORDER BY i.updated DESC, i.id DESC) AS rn
                    FROM item_regions r JOIN items i ON i.id = r.item_id)
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
            if !loaded.contains_key(&id) {
                loaded.insert(id, load_entry(&tx, id)?);
            }
        }
        let pick = |ids: &[i64]| ids.iter().map(|id| loaded[id].clone()).collect::<Vec<_>>();
        let by_region = region_ids
            .iter()
            .map(|(code, ids)| (code.clone(), pick(ids)))
            .collect();
        let national = pick(&national);
        let counts = {
            let mut stmt =
                tx.prepare_cached("SELECT code, COUNT(*) FROM item_regions GROUP BY code")?;
            stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?
            .collect::<Result<HashMap<_, _>, _>>()?
        };
        let total: i64 = tx.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))?;
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

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
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

fn ingest_item(
    tx: &Transaction<'_>,
    source_id: &str,
    item: &Item,
    tags: &Tags,
    now: DateTime<Utc>,
    stats: &mut IngestStats,
) -> Result<(), StoreError> {
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
            insert_regions(tx, item_id, tags)?;
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
                link = COALESCE(?7, link), categories = ?8, author = ?9, event_type = ?10
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
            ],
        )?;
        insert_regions(tx, item_id, tags)?;
        stats.updated += 1;
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
                    published, updated, categories, author, event_type, first_source, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
                ],
            )?;
            stats.new += 1;
            tx.last_insert_rowid()
        }
    };
    tx.execute(
        "INSERT INTO item_sources (source_id, key, item_id, content_hash, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![source_id, item.key, item_id, item.content_hash, ts(now)],
    )?;
    insert_regions(tx, item_id, tags)?;
    Ok(())
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
        })
    })?;
    let mut stmt =
        conn.prepare_cached("SELECT code FROM item_regions WHERE item_id = ?1 ORDER BY code")?;
    entry.regions = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT source_id FROM item_sources WHERE item_id = ?1 ORDER BY first_seen, source_id",
    )?;
    entry.carried_by = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    entry.carried_by.dedup();
    Ok(entry)
}
