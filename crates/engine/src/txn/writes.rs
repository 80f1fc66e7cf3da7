//! A transaction's write list: every change it made, in order.
//!
//! A bulk load (COPY of a million rows) makes one entry per row. In one
//! doubling vector that meant copying the whole list at every doubling and
//! faulting in twice its final size; here the list grows in chunks of
//! [`CHUNK`] entries that never move. A small transaction still makes one
//! small allocation: the first chunk grows like a vector up to `CHUNK`.

use super::Write;

/// Entries per chunk once the list is past its first chunk.
const CHUNK: usize = 4096;

/// Writes in the order they were made, in chunks that never move.
#[derive(Default)]
pub(crate) struct WriteList {
    chunks: Vec<Vec<Write>>,
    len: usize,
    /// The last chunk emptied by `pop`, kept for the next push (undoing to
    /// a savepoint at a chunk boundary over and over would otherwise free
    /// and allocate a chunk each time).
    spare: Option<Vec<Write>>,
}

impl WriteList {
    /// Number of writes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a write.
    pub fn push(&mut self, write: Write) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(write),
            _ => {
                let mut chunk = match self.spare.take() {
                    Some(chunk) => chunk,
                    None if self.chunks.is_empty() => Vec::with_capacity(4),
                    None => Vec::with_capacity(CHUNK),
                };
                chunk.push(write);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Removes and returns the newest write.
    pub fn pop(&mut self) -> Option<Write> {
        let last = self.chunks.last_mut()?;
        let write = last.pop();
        if last.is_empty() {
            self.spare = self.chunks.pop().filter(|chunk| chunk.capacity() == CHUNK);
        }
        if write.is_some() {
            self.len -= 1;
        }
        write
    }

    /// The writes, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Write> {
        self.into_iter()
    }
}

impl<'a> IntoIterator for &'a WriteList {
    type Item = &'a Write;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<Write>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvcc::{Version, VersionRef};

    fn insert(row_id: u64) -> Write {
        Write::Insert { table: 0, row_id, new: VersionRef::new(Version::new(0, Box::default(), None)) }
    }

    fn row_ids(list: &WriteList) -> Vec<u64> {
        list.iter()
            .map(|w| match w {
                Write::Insert { row_id, .. } | Write::Update { row_id, .. } | Write::Delete { row_id, .. } => *row_id,
            })
            .collect()
    }

    #[test]
    fn keeps_order_across_chunks_and_pops_back_through_them() {
        let mut list = WriteList::default();
        let n = CHUNK as u64 * 2 + 10;
        (0..n).for_each(|i| list.push(insert(i)));
        assert_eq!(list.len(), n as usize);
        assert_eq!(row_ids(&list), (0..n).collect::<Vec<_>>());
        // Undo to a savepoint in the first chunk, then write again.
        while list.len() > 5 {
            assert!(list.pop().is_some());
        }
        assert_eq!(row_ids(&list), vec![0, 1, 2, 3, 4]);
        list.push(insert(99));
        assert_eq!(row_ids(&list), vec![0, 1, 2, 3, 4, 99]);
        while list.pop().is_some() {}
        assert!(list.is_empty());
        assert_eq!(list.len(), 0);
        list.push(insert(7));
        assert_eq!(row_ids(&list), vec![7]);
    }
}
