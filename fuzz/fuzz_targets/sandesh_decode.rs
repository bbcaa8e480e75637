//! Sandesh frames from the network: ironbark's `Deframer` and
//! `decode_frame` (what the generator's session does with a collector's
//! bytes), `decode_message` (introspect), and the test collector's own
//! decoder (tests/sandesh_collector) on the same bytes.
//!
//! Input: the bytes of a stream. The first byte sets the size of the
//! chunks the stream arrives in, so frames are split across reads.
//!
//! Checks: no panic, no unbounded recursion or allocation; the deframer
//! only yields frames whose announced length matches.
#![no_main]

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../../tests/sandesh_collector/mod.rs"]
mod sandesh_collector;

use ironbark::reporters::sandesh::codec::{Deframer, FRAME_CLOSE, FRAME_OPEN_LEN};
use ironbark::reporters::sandesh::decode::{decode_frame, decode_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut d = Deframer::default();
    let mut taken = 0;
    'read: for part in stream.chunks(chunk) {
        d.push(part);
        loop {
            match d.next_frame() {
                Ok(Some(inner)) => {
                    taken += FRAME_OPEN_LEN + inner.len() + FRAME_CLOSE.len();
                    assert!(taken <= stream.len(), "a frame longer than the stream");
                    let _ = decode_frame(&inner);
                }
                Ok(None) => break,
                Err(_) => break 'read,
            }
        }
    }
    let _ = decode_frame(stream);
    let _ = decode_message(stream);
    if let Ok(text) = std::str::from_utf8(stream) {
        let _ = sandesh_collector::decode_frame(text);
    }
});
