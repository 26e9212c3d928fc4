//! An in-memory index of recent items' signatures, so a new item is compared only with items it
//! could match: an inverted index from shingle hash to the items whose sketch holds it, and
//! lists of the items of each place.
//!
//! The copied-text rule needs at least three shared 5-gram sketch values, and every sketch value
//! is indexed; the retelling rules need a shared kommun, or a shared län where an item names no
//! kommun, or an item with no place at all, and every item is listed under each place it could
//! meet another item at (see [`place_keys`]). So the index finds every match
//! [`super::same_story`] would accept (but for a newspaper's own account of its own source's
//! report: the index knows sources, a pair of texts does not), with two bounds. `find` reads at
//! most `MAX_WALK` nodes of a bucket, newest first: a shingle found in
//! more recent items than that is a stock phrase ("har upprättat en anmälan om") or a widely
//! carried story, whose newest copies are as good a match as any; reading every posting of a
//! stock phrase would make a lookup cost grow with the index. And it reads the newest
//! `MAX_PLACE_WALK` items of each of the query's place lists: the retelling rules only accept
//! items published within 12 hours, and no kommun has that many items in 12 hours (an item
//! without a place reads the newest items of all, where a busy feed set may have more).
//!
//! Buckets are chains of nodes in one flat arena (8 bytes per indexed shingle, no allocation
//! per bucket), newest node first. Removing an item only marks it gone; the arena is compacted
//! once the dead nodes outnumber the live ones, which keeps `remove` and `prune` cheap however
//! long the chain of a common phrase is.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::signature::Signature;
use super::{CLOSE_IN_TIME, Judged, MIN_MATCHES, Rule, is_kommun, story_score};

/// Smallest bucket table (a power of two).
const MIN_BUCKETS: usize = 1 << 12;
/// Live nodes per bucket before the table doubles; short chains keep `find` quick.
const MAX_LOAD: usize = 2;
/// Dead nodes tolerated before compaction, besides as many as there are live ones.
const MIN_GARBAGE: usize = 1 << 16;
/// Nodes of one bucket that `find` reads. Bounds a lookup to `SKETCH_SIZE × MAX_WALK` nodes.
const MAX_WALK: usize = 32;
/// Newest items of one place list that `find` compares for the retelling rules.
const MAX_PLACE_WALK: usize = 256;

/// An in-memory index of recent items: id → signature, publication time and regions.
#[derive(Debug)]
pub struct StoryIndex {
    window: Duration,
    /// Items in insertion order; `None` once removed (until the next compaction).
    slots: Vec<Option<Entry>>,
    by_id: HashMap<i64, u32>,
    /// Bucket → first node + 1 (0: empty). Length is a power of two.
    heads: Vec<u32>,
    nodes: Vec<Node>,
    live_nodes: usize,
    /// Place key (see [`place_keys`]) → slots of the items listed under it, oldest first
    /// (removed ones included until the next compaction).
    by_place: HashMap<String, Vec<u32>>,
}

#[derive(Debug)]
struct Entry {
    id: i64,
    sig: Signature,
    published: DateTime<Utc>,
    regions: Vec<String>,
    source: Option<Box<str>>,
}

/// One indexed shingle of one item.
#[derive(Debug, Clone, Copy)]
struct Node {
    slot: u32,
    /// Next node in the same bucket + 1 (0: end of chain).
    next: u32,
}

impl StoryIndex {
    /// An empty index; items further apart than `window` never match.
    pub fn new(window: Duration) -> StoryIndex {
        StoryIndex {
            window,
            slots: Vec::new(),
            by_id: HashMap::new(),
            heads: vec![0; MIN_BUCKETS],
            nodes: Vec::new(),
            live_nodes: 0,
            by_place: HashMap::new(),
        }
    }

    /// Stores an item, replacing any item with the same id. `source` is the id of the source
    /// that published it, when known: a newspaper's own account must come from another source.
    pub fn insert(
        &mut self,
        id: i64,
        sig: Signature,
        published: DateTime<Utc>,
        regions: Vec<String>,
        source: Option<&str>,
    ) {
        self.remove(id);
        // Node and slot numbers are u32; compaction frees the numbers of removed items.
        let limit = u32::MAX as usize - 1;
        if self.nodes.len() + sig.sketch.len() > limit || self.slots.len() >= limit {
            self.rebuild(self.heads.len());
            if self.nodes.len() + sig.sketch.len() > limit || self.slots.len() >= limit {
                tracing::warn!(id, "story index full; item not indexed");
                return;
            }
        }
        let slot = self.slots.len();
        self.link(slot, &sig);
        self.list_places(slot, &regions);
        self.live_nodes += sig.sketch.len();
        self.slots.push(Some(Entry {
            id,
            sig,
            published,
            regions,
            source: source.map(Into::into),
        }));
        self.by_id.insert(id, slot as u32);
        if self.live_nodes > self.heads.len() * MAX_LOAD {
            self.rebuild(self.heads.len() * 2);
        }
    }

    /// Forgets an item; unknown ids are ignored.
    pub fn remove(&mut self, id: i64) {
        let Some(slot) = self.by_id.remove(&id) else {
            return;
        };
        if let Some(entry) = self.slots[slot as usize].take() {
            self.live_nodes -= entry.sig.sketch.len();
        }
        let garbage = self.nodes.len() - self.live_nodes;
        if garbage > self.live_nodes.max(MIN_GARBAGE) {
            self.rebuild(self.heads.len());
        }
    }

    /// Forgets every item published before `now - window`; returns how many went.
    pub fn prune(&mut self, now: DateTime<Utc>) -> usize {
        let cutoff = now - self.window;
        let old: Vec<i64> = self
            .slots
            .iter()
            .flatten()
            .filter(|e| e.published < cutoff)
            .map(|e| e.id)
            .collect();
        for &id in &old {
            self.remove(id);
        }
        old.len()
    }

    /// The id of a stored item that tells the same story, if any: the one with the highest
    /// estimated containment, the smallest id on a tie.
    pub fn find(
        &self,
        sig: &Signature,
        published: DateTime<Utc>,
        regions: &[String],
        source: Option<&str>,
    ) -> Option<i64> {
        self.find_match(sig, published, regions, source)
            .map(|(id, _)| id)
    }

    /// As [`StoryIndex::find`], with the rule that matched.
    pub fn find_match(
        &self,
        sig: &Signature,
        published: DateTime<Utc>,
        regions: &[String],
        source: Option<&str>,
    ) -> Option<(i64, Rule)> {
        // Every node met on the chains of the query's values, by slot. A bucket is shared by
        // unrelated values, so a slot's count can exceed its shared shingles, never fall short.
        let mut hits: Vec<u32> = Vec::new();
        // The newest close items the query could meet at a place: judged whatever their
        // wording, since the retelling rules need no shared 5-grams.
        let close = |&&slot: &&u32| {
            self.slots[slot as usize]
                .as_ref()
                .is_some_and(|e| (e.published - published).abs() <= CLOSE_IN_TIME)
        };
        let mut near: Vec<u32> = Vec::new();
        if regions.is_empty() {
            let newest = (0..self.slots.len() as u32).rev().take(MAX_PLACE_WALK);
            near.extend(newest.filter(|slot| close(&slot)));
        }
        for key in query_keys(regions) {
            if let Some(slots) = self.by_place.get(&key) {
                near.extend(slots.iter().rev().take(MAX_PLACE_WALK).filter(close));
            }
        }
        near.sort_unstable();
        near.dedup();
        for &v in &sig.sketch {
            let mut cur = self.heads[bucket(v, self.heads.len())];
            for _ in 0..MAX_WALK {
                if cur == 0 {
                    break;
                }
                let node = self.nodes[(cur - 1) as usize];
                hits.push(node.slot);
                cur = node.next;
            }
        }
        hits.extend_from_slice(&near);
        hits.sort_unstable();
        let query = Judged {
            sig,
            published,
            regions,
            source,
        };
        let mut best: Option<(f64, i64, Rule)> = None;
        for run in hits.chunk_by(|a, b| a == b) {
            if run.len() < MIN_MATCHES && near.binary_search(&run[0]).is_err() {
                continue;
            }
            let Some(e) = &self.slots[run[0] as usize] else {
                continue;
            };
            let stored = Judged {
                sig: &e.sig,
                published: e.published,
                regions: &e.regions,
                source: e.source.as_deref(),
            };
            if let Some((rule, score)) = story_score(&query, &stored, self.window) {
                let better = match best {
                    None => true,
                    Some((s, id, _)) => score > s || (score == s && e.id < id),
                };
                if better {
                    best = Some((score, e.id, rule));
                }
            }
        }
        best.map(|(_, id, rule)| (id, rule))
    }

    /// Items stored.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no item is stored.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Approximate heap bytes held, for capacity planning.
    pub fn heap_bytes(&self) -> usize {
        let entries: usize = self
            .slots
            .iter()
            .flatten()
            .map(|e| {
                e.sig.number_sample.capacity() * size_of::<u16>()
                    + e.sig.sketch.capacity() * size_of::<u32>()
                    + e.regions.capacity() * size_of::<String>()
                    + e.regions.iter().map(String::capacity).sum::<usize>()
            })
            .sum();
        let place_lists: usize = self
            .by_place
            .iter()
            .map(|(k, v)| k.capacity() + size_of::<String>() + v.capacity() * size_of::<u32>())
            .sum();
        self.slots.capacity() * size_of::<Option<Entry>>()
            + self.by_id.capacity() * (size_of::<(i64, u32)>() + 1)
            + place_lists
            + self.heads.capacity() * size_of::<u32>()
            + self.nodes.capacity() * size_of::<Node>()
            + entries
    }

    /// Pushes the item's nodes and links them in front of their buckets' chains.
    fn link(&mut self, slot: usize, sig: &Signature) {
        for &v in &sig.sketch {
            let b = bucket(v, self.heads.len());
            self.nodes.push(Node {
                slot: slot as u32,
                next: self.heads[b],
            });
            self.heads[b] = self.nodes.len() as u32;
        }
    }

    /// Lists the item in `slot` under each of its place keys.
    fn list_places(&mut self, slot: usize, regions: &[String]) {
        for key in place_keys(regions) {
            self.by_place.entry(key).or_default().push(slot as u32);
        }
    }

    /// Drops removed items and their nodes, renumbers slots, and relinks into `buckets` chains.
    fn rebuild(&mut self, buckets: usize) {
        let live: Vec<Entry> = std::mem::take(&mut self.slots)
            .into_iter()
            .flatten()
            .collect();
        self.heads = vec![0; buckets];
        self.nodes = Vec::with_capacity(self.live_nodes);
        self.by_id.clear();
        self.by_place.clear();
        for (slot, e) in live.iter().enumerate() {
            self.link(slot, &e.sig);
            self.list_places(slot, &e.regions);
            self.by_id.insert(e.id, slot as u32);
        }
        self.slots = live.into_iter().map(Some).collect();
    }
}

/// The lists an item is listed under: each of its kommuner and each of its län; each of its län
/// again, marked `/`, when it names no kommun; and `""` when it has no place at all. (The
/// newest items of all are the slots themselves.)
fn place_keys(regions: &[String]) -> Vec<String> {
    if regions.is_empty() {
        return vec![String::new()];
    }
    let kommun_free = !regions.iter().any(|r| is_kommun(r));
    let mut keys: Vec<String> = regions.to_vec();
    if kommun_free {
        keys.extend(regions.iter().map(|r| format!("{r}/")));
    }
    keys
}

/// The lists a query walks to meet every close item it shares a place with: its kommuner's, the
/// kommun-free items of its län (or, naming no kommun itself, every item of its län), and the
/// items with no place. A query with no place walks the newest items of all instead.
fn query_keys(regions: &[String]) -> Vec<String> {
    if regions.is_empty() {
        return Vec::new();
    }
    let kommun_free = !regions.iter().any(|r| is_kommun(r));
    let mut keys: Vec<String> = regions
        .iter()
        .filter(|r| kommun_free || is_kommun(r))
        .cloned()
        .collect();
    if !kommun_free {
        keys.extend(
            regions
                .iter()
                .filter(|r| !is_kommun(r))
                .map(|r| format!("{r}/")),
        );
    }
    keys.push(String::new());
    keys
}

/// The bucket of shingle hash `v` in a table of `len` (a power of two); the hash's low bits are
/// already uniform.
fn bucket(v: u32, len: usize) -> usize {
    v as usize & (len - 1)
}
