//! List values packed into chunks, as Redis's quicklist packs listpacks.
//!
//! A [`List`] is a deque of chunks; a chunk is one byte buffer of up to
//! `CHUNK_BYTES` holding elements back to back, each written as
//! `len (LEB128) · bytes · len (LEB128, reversed)` so that the buffer can be
//! walked from either end. A 3-byte element costs 5 bytes instead of a
//! 16-byte pointer plus an allocation. Pushes and pops at either end touch
//! only the end chunk (a chunk keeps free space before its first element,
//! so a push at the front does not move the others): O(1) amortized at any
//! length. Index, set, insert and remove walk chunk counts, then one chunk.

use std::collections::VecDeque;

/// A chunk is cut at about this many bytes.
const CHUNK_BYTES: usize = 4096;
/// … or this many elements.
const CHUNK_ITEMS: u32 = 256;

/// One chunk: elements in `data[start..]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Chunk {
    data: Vec<u8>,
    start: usize,
    count: u32,
}

/// A list of byte strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
}

fn encoded_len(n: usize) -> usize {
    let mut bytes = 1;
    let mut v = n >> 7;
    while v > 0 {
        bytes += 1;
        v >>= 7;
    }
    bytes
}

/// Appends `len · bytes · len reversed`.
fn encode(out: &mut Vec<u8>, item: &[u8]) {
    let mut len = item.len();
    let mut prefix = [0u8; 10];
    let mut n = 0;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        prefix[n] = if len == 0 { byte } else { byte | 0x80 };
        n += 1;
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&prefix[..n]);
    out.extend_from_slice(item);
    out.extend(prefix[..n].iter().rev());
}

fn entry_size(item: &[u8]) -> usize {
    2 * encoded_len(item.len()) + item.len()
}

/// The element starting at `at`: (bytes range, position after it).
fn read_forward(data: &[u8], at: usize) -> (usize, usize, usize) {
    let mut len = 0usize;
    let mut i = at;
    let mut shift = 0;
    while let Some(&b) = data.get(i) {
        len |= ((b & 0x7f) as usize) << shift;
        i += 1;
        shift += 7;
        if b & 0x80 == 0 || shift > 63 {
            break;
        }
    }
    let prefix = i - at;
    (i, i + len, i + len + prefix)
}

/// The element ending at `end`: (start of its encoding, bytes range).
fn read_backward(data: &[u8], end: usize) -> (usize, usize, usize) {
    let mut len = 0usize;
    let mut i = end;
    let mut shift = 0;
    while i > 0 {
        i -= 1;
        let b = data[i];
        len |= ((b & 0x7f) as usize) << shift;
        shift += 7;
        if b & 0x80 == 0 || shift > 63 {
            break;
        }
    }
    let suffix = end - i;
    let bytes_end = i;
    let bytes_start = bytes_end.saturating_sub(len);
    (bytes_start.saturating_sub(suffix), bytes_start, bytes_end)
}

impl Chunk {
    /// Drops free space once the chunk is no longer at the end being
    /// pushed to.
    fn seal(&mut self) {
        if self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        self.data.shrink_to_fit();
    }

    fn has_room(&self, item: &[u8]) -> bool {
        self.count < CHUNK_ITEMS && self.data.len() - self.start + entry_size(item) <= CHUNK_BYTES
    }

    fn items(&self) -> Vec<&[u8]> {
        let mut out = Vec::with_capacity(self.count as usize);
        let mut at = self.start;
        for _ in 0..self.count {
            let (s, e, next) = read_forward(&self.data, at);
            out.push(&self.data[s..e]);
            at = next;
        }
        out
    }

    fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Chunk {
        let mut data = Vec::new();
        let mut count = 0;
        for item in items {
            encode(&mut data, item);
            count += 1;
        }
        Chunk { data, start: 0, count }
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.iter().map(|c| c.data.capacity()).sum::<usize>()
    }

    pub fn push_back(&mut self, item: &[u8]) {
        match self.chunks.back_mut() {
            Some(chunk) if chunk.has_room(item) => {
                encode(&mut chunk.data, item);
                chunk.count += 1;
            }
            _ => {
                if let Some(full) = self.chunks.back_mut() {
                    full.seal();
                }
                let mut chunk = Chunk::default();
                encode(&mut chunk.data, item);
                chunk.count = 1;
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, item: &[u8]) {
        let size = entry_size(item);
        let fits = self.chunks.front().is_some_and(|c| c.has_room(item));
        if !fits {
            if let Some(full) = self.chunks.front_mut() {
                full.seal();
            }
            self.chunks.push_front(Chunk::default());
        }
        let Some(chunk) = self.chunks.front_mut() else { return };
        if chunk.start < size {
            // Make headroom: as much again as the chunk holds, at least
            // this element (amortizes front pushes to O(1)).
            let live = chunk.data.len() - chunk.start;
            let room = size.max(live).max(64);
            let mut data = Vec::with_capacity(room + live);
            data.resize(room, 0);
            data.extend_from_slice(&chunk.data[chunk.start..]);
            chunk.data = data;
            chunk.start = room;
        }
        let mut encoded = Vec::with_capacity(size);
        encode(&mut encoded, item);
        let at = chunk.start - size;
        chunk.data[at..chunk.start].copy_from_slice(&encoded);
        chunk.start = at;
        chunk.count += 1;
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<Box<[u8]>> {
        let chunk = self.chunks.front_mut()?;
        let (s, e, next) = read_forward(&chunk.data, chunk.start);
        let item: Box<[u8]> = chunk.data[s..e].into();
        chunk.start = next;
        chunk.count -= 1;
        if chunk.count == 0 {
            self.chunks.pop_front();
        } else if chunk.start > CHUNK_BYTES && chunk.start * 2 > chunk.data.len() {
            chunk.data.drain(..chunk.start);
            chunk.start = 0;
        }
        self.len -= 1;
        Some(item)
    }

    pub fn pop_back(&mut self) -> Option<Box<[u8]>> {
        let chunk = self.chunks.back_mut()?;
        let (begin, s, e) = read_backward(&chunk.data, chunk.data.len());
        let item: Box<[u8]> = chunk.data[s..e].into();
        chunk.data.truncate(begin.max(chunk.start));
        chunk.count -= 1;
        if chunk.count == 0 {
            self.chunks.pop_back();
        }
        self.len -= 1;
        Some(item)
    }

    /// The chunk holding element `index` and the index inside it.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index >= self.len / 2 {
            // Nearer the back: count from there.
            let mut after = self.len;
            for (c, chunk) in self.chunks.iter().enumerate().rev() {
                let first = after - chunk.count as usize;
                if index >= first {
                    return Some((c, index - first));
                }
                after = first;
            }
            return None;
        }
        let mut first = 0;
        for (c, chunk) in self.chunks.iter().enumerate() {
            if index < first + chunk.count as usize {
                return Some((c, index - first));
            }
            first += chunk.count as usize;
        }
        None
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (c, i) = self.locate(index)?;
        let chunk = &self.chunks[c];
        let mut at = chunk.start;
        for _ in 0..i {
            at = read_forward(&chunk.data, at).2;
        }
        let (s, e, _) = read_forward(&chunk.data, at);
        chunk.data.get(s..e)
    }

    /// Rewrites the chunk holding `index` through `f` on its elements,
    /// splitting it when it grows past a chunk's size.
    fn rewrite(&mut self, c: usize, f: impl FnOnce(&mut Vec<Box<[u8]>>)) {
        let Some(chunk) = self.chunks.get(c) else { return };
        let mut items: Vec<Box<[u8]>> = chunk.items().into_iter().map(Box::from).collect();
        let before = items.len();
        f(&mut items);
        self.len = self.len + items.len() - before;
        let mut pieces: Vec<Chunk> = Vec::new();
        let mut current: Vec<&[u8]> = Vec::new();
        let mut bytes = 0;
        for item in &items {
            if !current.is_empty() && (bytes + entry_size(item) > CHUNK_BYTES || current.len() as u32 >= CHUNK_ITEMS) {
                pieces.push(Chunk::from_items(current.drain(..)));
                bytes = 0;
            }
            bytes += entry_size(item);
            current.push(item);
        }
        if !current.is_empty() {
            pieces.push(Chunk::from_items(current));
        }
        self.chunks.remove(c);
        for (k, piece) in pieces.into_iter().enumerate() {
            self.chunks.insert(c + k, piece);
        }
    }

    /// Replaces element `index`, returning the old one.
    pub fn set(&mut self, index: usize, item: &[u8]) -> Option<Box<[u8]>> {
        let (c, i) = self.locate(index)?;
        let mut old = None;
        self.rewrite(c, |items| old = Some(std::mem::replace(&mut items[i], item.into())));
        old
    }

    /// Inserts so that the element ends at `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, item: &[u8]) {
        if index >= self.len {
            return self.push_back(item);
        }
        if index == 0 {
            return self.push_front(item);
        }
        if let Some((c, i)) = self.locate(index) {
            self.rewrite(c, |items| items.insert(i, item.into()));
        }
    }

    /// Removes element `index`.
    pub fn remove(&mut self, index: usize) -> Option<Box<[u8]>> {
        let (c, i) = self.locate(index)?;
        let mut removed = None;
        self.rewrite(c, |items| removed = Some(items.remove(i)));
        removed
    }

    /// Elements in order (double-ended, exact size).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            list: self,
            front: (0, self.chunks.front().map_or(0, |c| c.start)),
            back: self.back_cursor(),
            remaining: self.len,
        }
    }

    fn back_cursor(&self) -> (usize, usize) {
        match self.chunks.back() {
            Some(c) => (self.chunks.len() - 1, c.data.len()),
            None => (0, 0),
        }
    }

    /// Elements `from..to`.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = &[u8]> {
        let to = to.min(self.len);
        let mut iter = self.iter();
        // Jump to the chunk holding `from` without decoding the ones before.
        if let Some((c, i)) = self.locate(from) {
            let chunk = &self.chunks[c];
            let mut at = chunk.start;
            for _ in 0..i {
                at = read_forward(&chunk.data, at).2;
            }
            iter.front = (c, at);
            iter.remaining = self.len - from;
        } else {
            iter.remaining = 0;
        }
        iter.take(to.saturating_sub(from))
    }
}

impl<'a> FromIterator<&'a [u8]> for List {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(items: I) -> List {
        let mut list = List::new();
        items.into_iter().for_each(|i| list.push_back(i));
        list
    }
}

/// Iterator over a [`List`].
pub(crate) struct Iter<'a> {
    list: &'a List,
    /// (chunk, byte offset of the next element from the front).
    front: (usize, usize),
    /// (chunk, byte offset just past the next element from the back).
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            let chunk = self.list.chunks.get(self.front.0)?;
            if self.front.1 >= chunk.data.len() {
                self.front = (self.front.0 + 1, self.list.chunks.get(self.front.0 + 1).map_or(0, |c| c.start));
                continue;
            }
            let (s, e, next) = read_forward(&chunk.data, self.front.1);
            self.front.1 = next;
            self.remaining -= 1;
            return chunk.data.get(s..e);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            let chunk = self.list.chunks.get(self.back.0)?;
            if self.back.1 <= chunk.start {
                if self.back.0 == 0 {
                    return None;
                }
                let prev = self.back.0 - 1;
                self.back = (prev, self.list.chunks[prev].data.len());
                continue;
            }
            let (begin, s, e) = read_backward(&chunk.data, self.back.1);
            self.back.1 = begin;
            self.remaining -= 1;
            return chunk.data.get(s..e);
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        PopBack,
        PopFront,
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(usize),
    }

    fn item() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..8),
            proptest::collection::vec(any::<u8>(), 100..300),
            Just(vec![7u8; 5000]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => item().prop_map(Op::PushBack),
            4 => item().prop_map(Op::PushFront),
            2 => Just(Op::PopBack),
            2 => Just(Op::PopFront),
            1 => (any::<usize>(), item()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => (any::<usize>(), item()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => any::<usize>().prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// The packed list behaves as a VecDeque, forwards and backwards.
        #[test]
        fn matches_a_deque(ops in proptest::collection::vec(op(), 1..400)) {
            let mut list = List::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::PushBack(v) => { list.push_back(&v); model.push_back(v); }
                    Op::PushFront(v) => { list.push_front(&v); model.push_front(v); }
                    Op::PopBack => prop_assert_eq!(list.pop_back().map(|b| b.to_vec()), model.pop_back()),
                    Op::PopFront => prop_assert_eq!(list.pop_front().map(|b| b.to_vec()), model.pop_front()),
                    Op::Set(i, v) if !model.is_empty() => {
                        let i = i % model.len();
                        let old = list.set(i, &v).map(|b| b.to_vec());
                        prop_assert_eq!(old, Some(std::mem::replace(&mut model[i], v)));
                    }
                    Op::Insert(i, v) => {
                        let i = i % (model.len() + 1);
                        list.insert(i, &v);
                        model.insert(i, v);
                    }
                    Op::Remove(i) if !model.is_empty() => {
                        let i = i % model.len();
                        prop_assert_eq!(list.remove(i).map(|b| b.to_vec()), model.remove(i));
                    }
                    _ => {}
                }
                prop_assert_eq!(list.len(), model.len());
            }
            let forward: Vec<Vec<u8>> = list.iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(&forward, &model.iter().cloned().collect::<Vec<_>>());
            let backward: Vec<Vec<u8>> = list.iter().rev().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(backward, model.iter().rev().cloned().collect::<Vec<_>>());
            for (i, item) in model.iter().enumerate() {
                prop_assert_eq!(list.get(i), Some(&item[..]));
            }
            if !model.is_empty() {
                let from = model.len() / 3;
                let got: Vec<&[u8]> = list.range(from, model.len()).collect();
                prop_assert_eq!(got.len(), model.len() - from);
                prop_assert_eq!(got[0], &model[from][..]);
            }
        }
    }

    #[test]
    fn small_elements_cost_a_few_bytes() {
        let mut list = List::new();
        for _ in 0..100_000 {
            list.push_back(b"xxx");
        }
        assert!(list.heap_bytes() < 100_000 * 7, "{} bytes", list.heap_bytes());
        let mut list = List::new();
        for _ in 0..100_000 {
            list.push_front(b"xxx");
        }
        assert!(list.heap_bytes() < 100_000 * 7, "{} bytes", list.heap_bytes());
    }
}
