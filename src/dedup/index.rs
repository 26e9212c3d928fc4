//! An in-memory index of recent items' signatures, bucketed by MinHash value, so that a new item
//! is compared only with the stored items that share at least one MinHash value with it.
//!
//! Every one of the 128 positions is a bucket key, so the candidates are exactly the items with
//! one or more equal values; the decision needs at least three, so the index finds every match
//! [`super::same_story`] would accept. A bucket key is (position, 16-bit value); buckets live in
//! one open hash table of chains threaded through a flat `next` array, which costs 4 bytes per
//! (item, position) and no allocation per bucket.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::signature::{MIN_HASHES, Signature, mix64};
use super::{Judged, MIN_MATCHES, story_score};

/// Items the index can hold: node numbers (`slot × MIN_HASHES + position`) must fit in a `u32`.
const MAX_ITEMS: usize = (u32::MAX as usize) / MIN_HASHES - 1;
/// Smallest bucket table (a power of two).
const MIN_BUCKETS: usize = 1 << 10;
/// Chain nodes per bucket before the table doubles; short chains keep `find` quick.
const MAX_LOAD: usize = 2;

/// An in-memory index of recent items: id → signature, publication time and regions.
#[derive(Debug)]
pub struct StoryIndex {
    window: Duration,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_id: HashMap<i64, u32>,
    /// Bucket → first node + 1 (0: empty). Length is a power of two.
    heads: Vec<u32>,
    /// Node → next node in the same bucket + 1 (0: end of chain).
    next: Vec<u32>,
}

#[derive(Debug)]
struct Entry {
    id: i64,
    sig: Signature,
    published: DateTime<Utc>,
    regions: Vec<String>,
}

impl StoryIndex {
    /// An empty index; items further apart than `window` never match.
    pub fn new(window: Duration) -> StoryIndex {
        StoryIndex {
            window,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            heads: vec![0; MIN_BUCKETS],
            next: Vec::new(),
        }
    }

    /// Stores an item (replacing any item with the same id). An index already holding
    /// `MAX_ITEMS` (33 million) ignores further items: pruning has not been done.
    pub fn insert(&mut self, id: i64, sig: Signature, published: DateTime<Utc>, regions: Vec<String>) {
        self.remove(id);
        if self.by_id.len() >= MAX_ITEMS {
            tracing::warn!(id, "story index full; item not indexed");
            return;
        }
        let slot = match self.free.pop() {
            Some(s) => s as usize,
            None => {
                self.slots.push(None);
                self.next.resize(self.slots.len() * MIN_HASHES, 0);
                self.slots.len() - 1
            }
        };
        self.link(slot, &sig);
        self.slots[slot] = Some(Entry {
            id,
            sig,
            published,
            regions,
        });
        self.by_id.insert(id, slot as u32);
        if self.by_id.len() * MIN_HASHES > self.heads.len() * MAX_LOAD {
            self.rebuild(self.heads.len() * 2);
        }
    }

    /// Forgets an item; unknown ids are ignored.
    pub fn remove(&mut self, id: i64) {
        let Some(slot) = self.by_id.remove(&id) else {
            return;
        };
        let slot = slot as usize;
        if let Some(entry) = self.slots[slot].take() {
            for (pos, &v) in entry.sig.mins.iter().enumerate() {
                self.unlink(bucket(pos, v, self.heads.len()), slot * MIN_HASHES + pos);
            }
        }
        self.free.push(slot as u32);
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
    pub fn find(&self, sig: &Signature, published: DateTime<Utc>, regions: &[String]) -> Option<i64> {
        let mut candidates: Vec<u32> = Vec::new();
        for (pos, &v) in sig.mins.iter().enumerate() {
            let mut cur = self.heads[bucket(pos, v, self.heads.len())];
            while cur != 0 {
                let node = (cur - 1) as usize;
                let (slot, at) = (node / MIN_HASHES, node % MIN_HASHES);
                // Buckets are shared by unrelated keys; only a true equal value counts.
                if at == pos
                    && let Some(e) = &self.slots[slot]
                    && e.sig.mins[pos] == v
                {
                    candidates.push(slot as u32);
                }
                cur = self.next[node];
            }
        }
        candidates.sort_unstable();
        let query = Judged {
            sig,
            published,
            regions,
        };
        let mut best: Option<(f64, i64)> = None;
        // After sorting, a slot's run length is its number of equal MinHash values.
        for run in candidates.chunk_by(|a, b| a == b) {
            if run.len() < MIN_MATCHES {
                continue;
            }
            let Some(e) = &self.slots[run[0] as usize] else {
                continue;
            };
            let stored = Judged {
                sig: &e.sig,
                published: e.published,
                regions: &e.regions,
            };
            if let Some(score) = story_score(&query, &stored, self.window) {
                let better = match best {
                    None => true,
                    Some((s, id)) => score > s || (score == s && e.id < id),
                };
                if better {
                    best = Some((score, e.id));
                }
            }
        }
        best.map(|(_, id)| id)
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
                e.sig.number_sample.capacity() * 2
                    + e.regions.capacity() * size_of::<String>()
                    + e.regions.iter().map(String::capacity).sum::<usize>()
            })
            .sum();
        self.slots.capacity() * size_of::<Option<Entry>>()
            + self.free.capacity() * 4
            + self.by_id.capacity() * (size_of::<(i64, u32)>() + 1)
            + self.heads.capacity() * 4
            + self.next.capacity() * 4
            + entries
    }

    fn link(&mut self, slot: usize, sig: &Signature) {
        for (pos, &v) in sig.mins.iter().enumerate() {
            let b = bucket(pos, v, self.heads.len());
            let node = slot * MIN_HASHES + pos;
            self.next[node] = self.heads[b];
            self.heads[b] = node as u32 + 1;
        }
    }

    fn unlink(&mut self, b: usize, node: usize) {
        let target = node as u32 + 1;
        if self.heads[b] == target {
            self.heads[b] = self.next[node];
            return;
        }
        let mut cur = self.heads[b];
        while cur != 0 {
            let at = (cur - 1) as usize;
            if self.next[at] == target {
                self.next[at] = self.next[node];
                return;
            }
            cur = self.next[at];
        }
    }

    fn rebuild(&mut self, buckets: usize) {
        self.heads = vec![0; buckets];
        self.next.iter_mut().for_each(|n| *n = 0);
        let slots = std::mem::take(&mut self.slots);
        for (slot, entry) in slots.iter().enumerate() {
            if let Some(e) = entry {
                self.link(slot, &e.sig);
            }
        }
        self.slots = slots;
    }
}

/// The bucket of MinHash value `v` at position `pos` in a table of `len` (a power of two).
fn bucket(pos: usize, v: u16, len: usize) -> usize {
    (mix64(((pos as u64) << 16) | u64::from(v)) as usize) & (len - 1)
}
