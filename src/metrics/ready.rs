//! `/metrics` with gzip, from a body kept ready. At 10,000 checks the per-check families are
//! ~14 MB of text; they change once per burst of runs, and a scrape between bursts should not
//! render and compress them again. So they are kept compressed (~1 MB), as raw deflate blocks
//! ending in a sync flush (byte-aligned, not final). A scrape compresses only the rest of the
//! body (a few KB that change with time: counters, the on-call roles) as the final blocks of
//! the same deflate stream, and sends one gzip member: header, the ready blocks (shared, not
//! copied), its own blocks, and the CRC-32 and length of the whole text.

use bytes::Bytes;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use std::io::Write;

/// The per-check families, compressed, as of one version of them.
pub struct Ready {
    pub version: u64,
    deflate: Bytes,
    crc: crc32fast::Hasher,
    len: u64,
}

/// Builds the ready blocks: `write` renders the text, handing it over in pieces (each is
/// compressed as it comes, so the whole text is never held at once).
pub fn prepare(version: u64, write: impl FnOnce(&mut dyn FnMut(&mut String))) -> Ready {
    let mut z = DeflateEncoder::new(Vec::new(), Compression::fast());
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0u64;
    write(&mut |piece: &mut String| {
        crc.update(piece.as_bytes());
        len += piece.len() as u64;
        // Writing to a Vec cannot fail.
        let _ = z.write_all(piece.as_bytes());
        piece.clear();
    });
    // A sync flush ends the blocks byte-aligned and not final: more blocks may follow.
    let _ = z.flush();
    let deflate = std::mem::take(z.get_mut());
    Ready {
        version,
        deflate: Bytes::from(deflate),
        crc,
        len,
    }
}

impl Ready {
    /// The ready text again, inflated piece by piece (64 KB at a time) as it is sent: a plain
    /// text scrape never holds the whole text.
    pub fn text(&self) -> impl Iterator<Item = Bytes> + Send + 'static {
        use std::io::Read;
        // The blocks end in a sync flush, not a final block: an empty final stored block
        // (BFINAL=1, BTYPE=00, LEN=0, NLEN=0xFFFF) ends the stream for the decoder.
        const END: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];
        let input = std::io::Cursor::new(self.deflate.clone()).chain(&END[..]);
        let mut z = flate2::read::DeflateDecoder::new(input);
        std::iter::from_fn(move || {
            let mut piece = vec![0u8; 64 * 1024];
            let mut filled = 0;
            while filled < piece.len() {
                match z.read(&mut piece[filled..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => filled += n,
                }
            }
            piece.truncate(filled);
            (filled > 0).then(|| Bytes::from(piece))
        })
    }
}

/// One gzip member (RFC 1952) holding the ready text followed by `rest`, in pieces to send
/// one after another.
pub fn gzip(ready: &Ready, rest: &str) -> [Bytes; 4] {
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown).
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut z = DeflateEncoder::new(Vec::with_capacity(rest.len() / 3 + 64), Compression::fast());
    let _ = z.write_all(rest.as_bytes());
    let tail = z.finish().unwrap_or_default();
    let mut crc = ready.crc.clone();
    crc.update(rest.as_bytes());
    let len = ready.len + rest.len() as u64;
    let mut trailer = Vec::with_capacity(8);
    trailer.extend_from_slice(&crc.finalize().to_le_bytes());
    // ISIZE: the length modulo 2^32.
    trailer.extend_from_slice(&(len as u32).to_le_bytes());
    [
        Bytes::from_static(&HEADER),
        ready.deflate.clone(),
        Bytes::from(tail),
        Bytes::from(trailer),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(pieces: &[Bytes]) -> String {
        let body: Vec<u8> = pieces.iter().flat_map(|b| b.iter().copied()).collect();
        let mut d = flate2::read::GzDecoder::new(&body[..]);
        let mut out = String::new();
        d.read_to_string(&mut out).expect("a valid gzip member");
        // One member: nothing after it.
        assert_eq!(d.into_inner().len(), 0);
        out
    }

    #[test]
    fn ready_blocks_and_a_scrapes_rest_are_one_gzip_member_of_the_whole_text() {
        let pieces: Vec<String> = (0..500)
            .map(|i| format!("syncwatch_check_value{{check=\"c{i}\"}} {i}\n"))
            .collect();
        let ready = prepare(7, |drain| {
            for p in &pieces {
                let mut s = p.clone();
                drain(&mut s);
                assert!(s.is_empty(), "each piece is taken");
            }
        });
        assert_eq!(ready.version, 7);
        let rest =
            "# TYPE syncwatch_store_writes_failing gauge\nsyncwatch_store_writes_failing 0\n";
        let text = gunzip(&gzip(&ready, rest));
        assert_eq!(text, pieces.concat() + rest);
        // The same ready blocks serve another scrape with another rest.
        assert_eq!(gunzip(&gzip(&ready, "x 1\n")), pieces.concat() + "x 1\n");
        // Nothing ready yet (no checks): still valid.
        let empty = prepare(0, |_| {});
        assert_eq!(gunzip(&gzip(&empty, rest)), rest);
        // Inflated back for a plain scrape, in pieces of at most 64 KB.
        let plain: Vec<Bytes> = ready.text().collect();
        assert!(plain.iter().all(|p| !p.is_empty() && p.len() <= 64 * 1024));
        let plain: Vec<u8> = plain.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(String::from_utf8(plain).unwrap(), pieces.concat());
        assert_eq!(empty.text().count(), 0);
    }
}
