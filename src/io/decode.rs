//! What comes before any reader: decompression and transcoding, told from the content (magic
//! bytes, byte-order marks, the pattern of NUL bytes), not from the file name, so a `dump.jsonl.gz`,
//! an Excel "Unicode Text" export, a UTF-32 file or an old-Mac file is read as the posts it holds, never as
//! garbage. The readers then see UTF-8 with `\n` line ends.

use std::io::{BufRead, BufReader, Cursor, Read};

use encoding_rs::Encoding;

use crate::error::{Error, Result};

/// How an input stream was packed and encoded, for messages and the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoding {
    /// `gzip` or `zstd` when the stream was compressed.
    pub compression: Option<&'static str>,
    /// The encoding transcoded from (`UTF-16LE`, `windows-1252`, …); `None` for UTF-8.
    pub encoding: Option<&'static str>,
    /// Whether old-Mac `\r` line ends were turned into `\n`.
    pub cr_line_ends: bool,
}

/// Bytes looked at to tell encodings and line ends apart.
const PEEK: usize = 64 * 1024;

/// Reads up to `n` bytes from `r` (fewer only at the end of the stream), then gives them back in
/// front of the rest.
fn peek<'a>(mut r: Box<dyn Read + 'a>, n: usize) -> std::io::Result<(Vec<u8>, Box<dyn Read + 'a>)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    let rest: Box<dyn Read + 'a> = Box::new(Cursor::new(head.clone()).chain(r));
    Ok((head, rest))
}

/// Wraps `source` so it reads as UTF-8 text with `\n` line ends: decompressed (gzip, zstd),
/// transcoded (a UTF-16 BOM or NUL pattern, or `encoding` when given: a WHATWG label such as
/// `windows-1252` or `latin1`) and with old-Mac `\r` line ends turned into `\n`. `name` is used in
/// messages.
pub fn decode<'a>(
    source: Box<dyn Read + 'a>,
    name: &str,
    encoding: Option<&str>,
) -> Result<(Box<dyn Read + 'a>, Decoding)> {
    let io = |e: std::io::Error| Error::io(name, e);
    let mut info = Decoding::default();
    let (head, mut r) = peek(source, 6).map_err(io)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        info.compression = Some("gzip");
        r = Box::new(flate2::read::MultiGzDecoder::new(r));
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        info.compression = Some("zstd");
        r = Box::new(zstd::stream::read::Decoder::new(r).map_err(io)?);
    } else if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(Error::BadInput {
            path: name.into(),
            reason: "is bzip2 or xz compressed, which pantau does not read: decompress it first (bunzip2 / unxz), or recompress it with gzip or zstd".into(),
        });
    }
    let (head, r) = peek(r, PEEK).map_err(io)?;
    // Parquet and spreadsheets are binary: their NUL bytes are not UTF-16.
    if crate::io::format::container(&head).is_some() {
        return Ok((r, info));
    }
    let given = match encoding {
        Some(label) => Some(Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
            Error::BadInput {
                path: name.into(),
                reason: format!(
                    "--encoding {label:?} is not an encoding name (try utf-8, utf-16le, windows-1252, latin1)"
                ),
            }
        })?),
        None => None,
    };
    let utf32 = given.is_none().then(|| sniff_utf32(&head)).flatten();
    let found = given.or_else(|| sniff_utf16(&head));
    let mut r: Box<dyn Read + 'a> = match (utf32, found) {
        (Some(big_endian), _) => {
            info.encoding = Some(if big_endian { "UTF-32BE" } else { "UTF-32LE" });
            Box::new(Utf32 {
                inner: BufReader::new(r),
                big_endian,
                skip_bom: true,
                pending: Vec::new(),
            })
        }
        (None, Some(enc)) if enc != encoding_rs::UTF_8 => {
            info.encoding = Some(enc.name());
            Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(enc))
                    .bom_override(true)
                    .build(r),
            )
        }
        _ => r,
    };
    // Line ends: only `\r` in the whole first window means an old-Mac file.
    let (head, rest) = peek(r, PEEK).map_err(io)?;
    r = rest;
    if head.contains(&b'\r') && !head.contains(&b'\n') {
        info.cr_line_ends = true;
        r = Box::new(CrToLf(BufReader::new(r)));
    }
    Ok((r, info))
}

/// UTF-16 told by its byte-order mark, or, without one, by NUL bytes on every other position
/// (ASCII text in UTF-16 is half NULs: on odd positions little-endian, on even ones big-endian).
fn sniff_utf16(head: &[u8]) -> Option<&'static Encoding> {
    if head.starts_with(&[0xff, 0xfe]) {
        return Some(encoding_rs::UTF_16LE);
    }
    if head.starts_with(&[0xfe, 0xff]) {
        return Some(encoding_rs::UTF_16BE);
    }
    let n = head.len().min(4096) / 2 * 2;
    if n < 4 {
        return None;
    }
    let (even, odd) = head[..n].chunks(2).fold((0usize, 0usize), |(e, o), c| {
        (e + (c[0] == 0) as usize, o + (c[1] == 0) as usize)
    });
    let pairs = n / 2;
    if odd * 10 >= pairs * 7 && even * 10 <= pairs {
        Some(encoding_rs::UTF_16LE)
    } else if even * 10 >= pairs * 7 && odd * 10 <= pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// UTF-32 told by its byte-order mark, or by three NULs in every four bytes (ASCII text):
/// `Some(true)` for big-endian. `encoding_rs` has no UTF-32 (the WHATWG standard drops it), hence
/// the small decoder below.
fn sniff_utf32(head: &[u8]) -> Option<bool> {
    if head.starts_with(&[0xff, 0xfe, 0, 0]) {
        return Some(false);
    }
    if head.starts_with(&[0, 0, 0xfe, 0xff]) {
        return Some(true);
    }
    let units: Vec<&[u8]> = head[..head.len().min(4096) / 4 * 4].chunks(4).collect();
    if units.len() < 2 {
        return None;
    }
    let le = units
        .iter()
        .filter(|u| u[0] != 0 && u[1..] == [0, 0, 0])
        .count();
    let be = units
        .iter()
        .filter(|u| u[3] != 0 && u[..3] == [0, 0, 0])
        .count();
    if le * 10 >= units.len() * 7 {
        Some(false)
    } else if be * 10 >= units.len() * 7 {
        Some(true)
    } else {
        None
    }
}

/// UTF-32 to UTF-8; an invalid code point becomes U+FFFD, as encoding_rs does for UTF-16.
struct Utf32<R> {
    inner: BufReader<R>,
    big_endian: bool,
    /// A leading U+FEFF is a byte-order mark, not text.
    skip_bom: bool,
    /// UTF-8 bytes decoded but not yet handed out.
    pending: Vec<u8>,
}

impl<R: Read> Read for Utf32<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            let mut unit = [0u8; 4];
            match self.inner.read_exact(&mut unit) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            let v = if self.big_endian {
                u32::from_be_bytes(unit)
            } else {
                u32::from_le_bytes(unit)
            };
            if std::mem::take(&mut self.skip_bom) && v == 0xfeff {
                continue;
            }
            let c = char::from_u32(v).unwrap_or('\u{fffd}');
            let mut b = [0u8; 4];
            self.pending
                .extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

/// Turns `\r` into `\n` (for files whose only line end is `\r`).
struct CrToLf<R>(R);

impl<R: BufRead> Read for CrToLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        buf[..n]
            .iter_mut()
            .filter(|b| **b == b'\r')
            .for_each(|b| *b = b'\n');
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn decoded(bytes: Vec<u8>, encoding: Option<&str>) -> (String, Decoding) {
        let (mut r, info) = decode(Box::new(Cursor::new(bytes)), "t", encoding).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        (s, info)
    }

    const TEXT: &str = "Selamat pagi warga\nAyo coblos nomor 2 😀\n";

    #[test]
    fn plain_utf8_passes_through_untouched() {
        let (s, info) = decoded(TEXT.as_bytes().to_vec(), None);
        assert_eq!((s.as_str(), info), (TEXT, Decoding::default()));
        assert_eq!(decoded(Vec::new(), None).0, "");
    }

    #[test]
    fn gzip_and_zstd_are_decompressed_from_their_magic_bytes() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(TEXT.as_bytes()).unwrap();
        let (s, info) = decoded(gz.finish().unwrap(), None);
        assert_eq!((s.as_str(), info.compression), (TEXT, Some("gzip")));
        let zst = zstd::encode_all(TEXT.as_bytes(), 3).unwrap();
        let (s, info) = decoded(zst, None);
        assert_eq!((s.as_str(), info.compression), (TEXT, Some("zstd")));
        let err = decode(Box::new(Cursor::new(b"BZh91AY".to_vec())), "d.bz2", None)
            .err()
            .unwrap();
        assert!(err.to_string().contains("bunzip2"), "{err}");
    }

    #[test]
    fn utf16_with_or_without_a_bom_and_named_encodings_are_transcoded() {
        let le: Vec<u8> = TEXT.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = TEXT.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for (bytes, name) in [
            ([vec![0xff, 0xfe], le.clone()].concat(), "UTF-16LE"),
            ([vec![0xfe, 0xff], be.clone()].concat(), "UTF-16BE"),
            (le, "UTF-16LE"),
            (be, "UTF-16BE"),
        ] {
            let (s, info) = decoded(bytes, None);
            assert_eq!((s.as_str(), info.encoding), (TEXT, Some(name)));
        }
        let (s, info) = decoded(b"caf\xe9 enak\n".to_vec(), Some("windows-1252"));
        assert_eq!(
            (s.as_str(), info.encoding),
            ("café enak\n", Some("windows-1252"))
        );
        let err = decode(Box::new(Cursor::new(b"x".to_vec())), "t", Some("klingon"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("--encoding"), "{err}");
        let le32: Vec<u8> = TEXT
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        let be32: Vec<u8> = TEXT
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        for (bytes, name) in [
            ([vec![0xff, 0xfe, 0, 0], le32.clone()].concat(), "UTF-32LE"),
            ([vec![0, 0, 0xfe, 0xff], be32.clone()].concat(), "UTF-32BE"),
            (le32, "UTF-32LE"),
            (be32, "UTF-32BE"),
        ] {
            let (s, info) = decoded(bytes, None);
            assert_eq!((s.as_str(), info.encoding), (TEXT, Some(name)));
        }
    }

    #[test]
    fn old_mac_line_ends_become_newlines_and_crlf_is_left_alone() {
        let (s, info) = decoded(b"satu\rdua\rtiga".to_vec(), None);
        assert_eq!((s.as_str(), info.cr_line_ends), ("satu\ndua\ntiga", true));
        let (s, info) = decoded(b"satu\r\ndua\r\n".to_vec(), None);
        assert_eq!((s.as_str(), info.cr_line_ends), ("satu\r\ndua\r\n", false));
    }
}
