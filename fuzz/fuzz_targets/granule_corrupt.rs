//! A valid fixture with the input's patches applied (bytes overwritten, bits flipped,
//! the file cut short), then read as a shard would: corrupt chunks, B-tree nodes, object
//! headers and heaps inside an otherwise valid file.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Edit {
    /// Overwrite bytes at an offset (taken modulo the file length).
    Write { offset: u32, bytes: Vec<u8> },
    /// Flip the bits of `mask` in one byte.
    Flip { offset: u32, mask: u8 },
    /// Add to a little-endian u64 at an offset (sizes, addresses, counts).
    Add { offset: u32, delta: i64 },
}

#[derive(Debug, Arbitrary)]
struct Input {
    fixture: u8,
    edits: Vec<Edit>,
    /// Cut the file to this length (modulo the file length), if given.
    truncate: Option<u32>,
}

fuzz_target!(|input: Input| {
    let fixtures = zagg_fuzz::FIXTURES;
    let mut bytes = fixtures[usize::from(input.fixture) % fixtures.len()].to_vec();
    let len = bytes.len();
    for edit in input.edits.iter().take(64) {
        match edit {
            Edit::Write { offset, bytes: new } => {
                let at = *offset as usize % len;
                let n = new.len().min(len - at);
                bytes[at..at + n].copy_from_slice(&new[..n]);
            }
            Edit::Flip { offset, mask } => bytes[*offset as usize % len] ^= mask,
            Edit::Add { offset, delta } => {
                let at = (*offset as usize % len).min(len - 8);
                let mut word = [0u8; 8];
                word.copy_from_slice(&bytes[at..at + 8]);
                let value = u64::from_le_bytes(word).wrapping_add_signed(*delta);
                bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
            }
        }
    }
    if let Some(cut) = input.truncate {
        bytes.truncate(cut as usize % len);
    }
    zagg_fuzz::read_granule(&bytes);
});
