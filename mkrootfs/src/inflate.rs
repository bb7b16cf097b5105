//! gzip (RFC 1952) and DEFLATE (RFC 1951) decoding, for `--import` of
//! compressed layers (no compression crate is available to the build).

use anyhow::{Result, bail};

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    bit: u32,
    nbits: u32,
}

impl Bits<'_> {
    fn need(&mut self, n: u32) -> Result<()> {
        while self.nbits < n {
            let Some(&b) = self.data.get(self.pos) else {
                bail!("truncated deflate stream")
            };
            self.pos += 1;
            self.bit |= u32::from(b) << self.nbits;
            self.nbits += 8;
        }
        Ok(())
    }
    fn get(&mut self, n: u32) -> Result<u32> {
        if n == 0 {
            return Ok(0);
        }
        self.need(n)?;
        let v = self.bit & ((1u32 << n) - 1);
        self.bit = if n == 32 { 0 } else { self.bit >> n };
        self.nbits -= n;
        Ok(v)
    }
    fn align(&mut self) {
        self.bit = 0;
        self.nbits = 0;
    }
}

/// A canonical Huffman code: counts per length and symbols sorted by code.
struct Huff {
    count: [u16; 16],
    symbol: Vec<u16>,
}

impl Huff {
    fn new(lengths: &[u8]) -> Result<Huff> {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut offs = [0u16; 16];
        for i in 1..16 {
            offs[i] = offs[i - 1] + count[i - 1];
        }
        let mut symbol = vec![0u16; lengths.len()];
        for (s, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbol[usize::from(offs[usize::from(l)])] = u16::try_from(s)?;
                offs[usize::from(l)] += 1;
            }
        }
        Ok(Huff { count, symbol })
    }
    fn decode(&self, b: &mut Bits<'_>) -> Result<u16> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= i32::try_from(b.get(1)?)?;
            let count = i32::from(self.count[len]);
            if code - count < first {
                return Ok(self.symbol[usize::try_from(index + (code - first))?]);
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        bail!("invalid Huffman code in deflate stream")
    }
}

const LBASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEXT: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DBASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DEXT: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

fn codes(b: &mut Bits<'_>, out: &mut Vec<u8>, lit: &Huff, dist: &Huff) -> Result<()> {
    loop {
        let sym = lit.decode(b)?;
        match sym {
            0..=255 => out.push(u8::try_from(sym)?),
            256 => return Ok(()),
            _ => {
                let i = usize::from(sym - 257);
                if i >= 29 {
                    bail!("bad length code in deflate stream");
                }
                let len = usize::from(LBASE[i]) + usize::try_from(b.get(u32::from(LEXT[i]))?)?;
                let d = usize::from(dist.decode(b)?);
                if d >= 30 {
                    bail!("bad distance code in deflate stream");
                }
                let dist = usize::from(DBASE[d]) + usize::try_from(b.get(u32::from(DEXT[d]))?)?;
                if dist > out.len() {
                    bail!("distance too far back in deflate stream");
                }
                let start = out.len() - dist;
                for k in 0..len {
                    let c = out[start + k];
                    out.push(c);
                }
            }
        }
    }
}

/// Decode a raw DEFLATE stream; returns the data and the bytes consumed.
///
/// # Errors
/// A malformed stream.
pub fn inflate(data: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut b = Bits {
        data,
        pos: 0,
        bit: 0,
        nbits: 0,
    };
    let mut out = Vec::with_capacity(data.len() * 3);
    loop {
        let last = b.get(1)?;
        match b.get(2)? {
            0 => {
                b.align();
                let h = data
                    .get(b.pos..b.pos + 4)
                    .ok_or_else(|| anyhow::anyhow!("truncated deflate stream"))?;
                let len = usize::from(u16::from_le_bytes([h[0], h[1]]));
                b.pos += 4;
                let s = data
                    .get(b.pos..b.pos + len)
                    .ok_or_else(|| anyhow::anyhow!("truncated deflate stream"))?;
                out.extend_from_slice(s);
                b.pos += len;
            }
            1 => {
                let mut l = [8u8; 288];
                l[144..256].fill(9);
                l[256..280].fill(7);
                let lit = Huff::new(&l)?;
                let dist = Huff::new(&[5u8; 30])?;
                codes(&mut b, &mut out, &lit, &dist)?;
            }
            2 => {
                let nlen = usize::try_from(b.get(5)?)? + 257;
                let ndist = usize::try_from(b.get(5)?)? + 1;
                let ncode = usize::try_from(b.get(4)?)? + 4;
                const ORDER: [usize; 19] = [
                    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                ];
                let mut cl = [0u8; 19];
                for &o in ORDER.iter().take(ncode) {
                    cl[o] = u8::try_from(b.get(3)?)?;
                }
                let ch = Huff::new(&cl)?;
                let mut lens = vec![0u8; nlen + ndist];
                let mut i = 0;
                while i < nlen + ndist {
                    let sym = ch.decode(&mut b)?;
                    let (val, rep) = match sym {
                        0..=15 => (u8::try_from(sym)?, 1),
                        16 => {
                            if i == 0 {
                                bail!("bad repeat in deflate stream");
                            }
                            (lens[i - 1], 3 + b.get(2)?)
                        }
                        17 => (0, 3 + b.get(3)?),
                        _ => (0, 11 + b.get(7)?),
                    };
                    for _ in 0..rep {
                        if i >= lens.len() {
                            bail!("too many code lengths in deflate stream");
                        }
                        lens[i] = val;
                        i += 1;
                    }
                }
                let lit = Huff::new(&lens[..nlen])?;
                let dist = Huff::new(&lens[nlen..])?;
                codes(&mut b, &mut out, &lit, &dist)?;
            }
            _ => bail!("bad block type in deflate stream"),
        }
        if last == 1 {
            return Ok((out, b.pos));
        }
    }
}

/// Decode a gzip file (all members).
///
/// # Errors
/// A malformed file.
pub fn gunzip(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while data.len() >= 18 && data[0] == 0x1f && data[1] == 0x8b {
        if data[2] != 8 {
            bail!("gzip: unknown compression method");
        }
        let flg = data[3];
        let mut p = 10;
        if flg & 4 != 0 {
            let x = usize::from(u16::from_le_bytes([data[p], data[p + 1]]));
            p += 2 + x;
        }
        for bit in [8u8, 16] {
            if flg & bit != 0 {
                let rest = data
                    .get(p..)
                    .ok_or_else(|| anyhow::anyhow!("truncated gzip header"))?;
                p += rest
                    .iter()
                    .position(|&c| c == 0)
                    .ok_or_else(|| anyhow::anyhow!("truncated gzip header"))?
                    + 1;
            }
        }
        if flg & 2 != 0 {
            p += 2;
        }
        let body = data
            .get(p..)
            .ok_or_else(|| anyhow::anyhow!("truncated gzip header"))?;
        let (d, used) = inflate(body)?;
        let tail = body
            .get(used..used + 8)
            .ok_or_else(|| anyhow::anyhow!("truncated gzip trailer"))?;
        let isize = u32::from_le_bytes([tail[4], tail[5], tail[6], tail[7]]);
        if isize != (d.len() as u64 & 0xffff_ffff) as u32 {
            bail!("gzip: length mismatch (corrupt data)");
        }
        out.extend_from_slice(&d);
        data = &body[used + 8..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trip_with_host_gzip() {
        let Ok(out) = std::process::Command::new("sh")
            .args([
                "-c",
                "seq 1 20000 | gzip -9; printf 'abcabcabcabc' | gzip -1",
            ])
            .output()
        else {
            return;
        };
        if !out.status.success() {
            return;
        }
        let d = gunzip(&out.stdout).unwrap();
        let mut want: String = (1..=20000).map(|i| format!("{i}\n")).collect();
        want.push_str("abcabcabcabc");
        assert_eq!(String::from_utf8(d).unwrap(), want);
    }
}
