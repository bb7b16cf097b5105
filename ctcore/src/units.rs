//! Size and duration parsers.
//!
//! * [`ram_in_bytes`]: docker's sizes (go-units `RAMInBytes`): a decimal
//!   number, an optional single space, an optional suffix `b`, or `k m g t p`
//!   optionally followed by `b` or `ib`, case-insensitive, all 1024-based.
//! * [`stress_size`] and [`stress_time`]: stress 1.0.7's `atoll_b` and
//!   `atoll_s`: the last character picks the multiplier, the rest is read as
//!   C's `sscanf("%lli")` reads it ([`scan_lli`]).
//! * [`go_duration`]: Go's `time.ParseDuration` (`1h30m`, `1.5s`, `250ms`).

use std::fmt;
use std::time::Duration;

/// Why a size or duration did not parse.  The `Display` texts are the peers'
/// own messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitError {
    /// go-units: `invalid size: '%s'`
    InvalidSize(String),
    /// go-units: `invalid suffix: '%s'`
    InvalidSuffix(String),
    /// stress: `invalid string` (empty input)
    EmptyString,
    /// stress: `unrecognized suffix: %c`
    UnrecognizedSuffix(char),
    /// Go: `time: invalid duration "%s"`
    InvalidDuration(String),
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSize(s) => write!(f, "invalid size: '{s}'"),
            Self::InvalidSuffix(s) => write!(f, "invalid suffix: '{s}'"),
            Self::EmptyString => f.write_str("invalid string"),
            Self::UnrecognizedSuffix(c) => write!(f, "unrecognized suffix: {c}"),
            Self::InvalidDuration(s) => write!(f, "time: invalid duration \"{s}\""),
        }
    }
}

impl std::error::Error for UnitError {}

/// docker's memory and device-rate sizes (go-units `RAMInBytes`).
///
/// # Errors
/// The go-units messages for a bad number or suffix.
pub fn ram_in_bytes(s: &str) -> Result<i64, UnitError> {
    parse_go_size(s, 1024.0)
}

/// go-units `FromHumanSize`: the same grammar with 1000-based suffixes.
///
/// # Errors
/// The go-units messages for a bad number or suffix.
pub fn from_human_size(s: &str) -> Result<i64, UnitError> {
    parse_go_size(s, 1000.0)
}

fn parse_go_size(s: &str, base: f64) -> Result<i64, UnitError> {
    let bad = || UnitError::InvalidSize(s.to_string());
    let num_end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map_or(s.len(), |(i, _)| i);
    let (num, rest) = s.split_at(num_end);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let suffix = rest.to_ascii_lowercase();
    let exp = match suffix.as_str() {
        "" | "b" => 0,
        _ => {
            let mut chars = suffix.chars();
            let unit = chars.next().unwrap_or(' ');
            let tail: String = chars.collect();
            let exp = match unit {
                'k' => 1,
                'm' => 2,
                'g' => 3,
                't' => 4,
                'p' => 5,
                _ => return Err(UnitError::InvalidSuffix(rest.to_string())),
            };
            if !(tail.is_empty() || tail == "b" || tail == "ib") {
                return Err(UnitError::InvalidSuffix(rest.to_string()));
            }
            exp
        }
    };
    #[allow(clippy::cast_possible_truncation)]
    Ok((value * base.powi(exp)) as i64)
}

/// Read a C `long long` the way `sscanf(s, "%lli")` does: leading white
/// space, an optional sign, `0x` hex, leading-`0` octal or decimal, stopping
/// at the first character that does not belong.  `None` when no digit was
/// read (sscanf's "no conversion").  Overflow wraps, as the C code does in
/// practice.
#[must_use]
pub fn scan_lli(s: &str) -> Option<i64> {
    let b = s
        .trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
        .as_bytes();
    let mut i = 0;
    let mut neg = false;
    if let Some(&c) = b.first()
        && (c == b'+' || c == b'-')
    {
        neg = c == b'-';
        i = 1;
    }
    let (radix, start) = if b.get(i) == Some(&b'0') && matches!(b.get(i + 1), Some(b'x' | b'X')) {
        if b.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
            (16, i + 2)
        } else {
            // "0x" with no hex digit: sscanf reads the 0.
            return Some(0);
        }
    } else if b.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let mut value: i64 = 0;
    let mut digits = 0;
    for &c in &b[start..] {
        let Some(d) = (c as char).to_digit(radix) else {
            break;
        };
        value = value
            .wrapping_mul(i64::from(radix))
            .wrapping_add(i64::from(d));
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    Some(if neg { value.wrapping_neg() } else { value })
}

fn stress_scaled(s: &str, suffix: impl Fn(char) -> Option<i64>) -> Result<Option<i64>, UnitError> {
    let Some(last) = s.chars().last() else {
        return Err(UnitError::EmptyString);
    };
    let factor = if last.is_ascii_digit() {
        1
    } else {
        suffix(last).ok_or(UnitError::UnrecognizedSuffix(last))?
    };
    Ok(scan_lli(s).map(|v| v.wrapping_mul(factor)))
}

/// stress's `atoll_b`: sizes with a `b`, `k`, `m` or `g` suffix
/// (1024-based).  `Ok(None)` when sscanf reads no number (stress then uses
/// an indeterminate value; callers decide).
///
/// # Errors
/// `invalid string` for an empty input, `unrecognized suffix: c` for a last
/// character that is neither a digit nor a suffix.
pub fn stress_size(s: &str) -> Result<Option<i64>, UnitError> {
    stress_scaled(s, |c| match c.to_ascii_lowercase() {
        'b' => Some(1),
        'k' => Some(1 << 10),
        'm' => Some(1 << 20),
        'g' => Some(1 << 30),
        _ => None,
    })
}

/// stress's `atoll_s`: seconds with an `s`, `m`, `h`, `d` or `y` suffix.
///
/// # Errors
/// As [`stress_size`].
pub fn stress_time(s: &str) -> Result<Option<i64>, UnitError> {
    stress_scaled(s, |c| match c.to_ascii_lowercase() {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86400),
        'y' => Some(31_536_000),
        _ => None,
    })
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers each with a unit
/// (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), like `1h30m` or `1.5s`; a bare
/// `0` is zero.  Negative durations are refused.
///
/// # Errors
/// `time: invalid duration "s"`.
pub fn go_duration(s: &str) -> Result<Duration, UnitError> {
    let bad = || UnitError::InvalidDuration(s.to_string());
    let body = s.strip_prefix('+').unwrap_or(s);
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(bad());
    }
    let mut rest = body;
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if n == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[u..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_units_vectors_ok() {
        let k = 1024i64;
        for (s, v) in [
            ("32", 32),
            ("32b", 32),
            ("32B", 32),
            ("32k", 32 * k),
            ("32K", 32 * k),
            ("32kb", 32 * k),
            ("32Kb", 32 * k),
            ("32Kib", 32 * k),
            ("32KIB", 32 * k),
            ("32Mb", 32 * k * k),
            ("32Gb", 32 * k * k * k),
            ("32Tb", 32 * k * k * k * k),
            ("32Pb", 32 * k * k * k * k * k),
            ("32PB", 32 * k * k * k * k * k),
            ("32P", 32 * k * k * k * k * k),
            ("32.3", 32),
            ("0.3MB", 314_572),
            ("64m", 64 * k * k),
        ] {
            assert_eq!(ram_in_bytes(s), Ok(v), "{s}");
        }
        assert_eq!(ram_in_bytes("32.3 mb"), Ok((32.3 * 1_048_576.0) as i64));
    }

    #[test]
    fn go_units_vectors_err() {
        assert_eq!(ram_in_bytes(""), Err(UnitError::InvalidSize(String::new())));
        assert_eq!(
            ram_in_bytes("hello"),
            Err(UnitError::InvalidSize("hello".into()))
        );
        assert_eq!(
            ram_in_bytes("-32"),
            Err(UnitError::InvalidSize("-32".into()))
        );
        assert!(ram_in_bytes(" 32 ").is_err());
        assert_eq!(
            ram_in_bytes("32m b"),
            Err(UnitError::InvalidSuffix("m b".into()))
        );
        assert_eq!(
            ram_in_bytes("32bm"),
            Err(UnitError::InvalidSuffix("bm".into()))
        );
        assert_eq!(
            ram_in_bytes("1x").unwrap_err().to_string(),
            "invalid suffix: 'x'"
        );
        assert_eq!(
            ram_in_bytes("x").unwrap_err().to_string(),
            "invalid size: 'x'"
        );
    }

    #[test]
    fn human_size_is_decimal() {
        assert_eq!(from_human_size("1kb"), Ok(1000));
        assert_eq!(from_human_size("1.5M"), Ok(1_500_000));
    }

    #[test]
    fn scan_like_sscanf() {
        assert_eq!(scan_lli("10"), Some(10));
        assert_eq!(scan_lli("010"), Some(8));
        assert_eq!(scan_lli("0x1f"), Some(31));
        assert_eq!(scan_lli("  -7z"), Some(-7));
        assert_eq!(scan_lli("1.5"), Some(1));
        assert_eq!(scan_lli("10k"), Some(10));
        assert_eq!(scan_lli("k"), None);
        assert_eq!(scan_lli(""), None);
        assert_eq!(scan_lli("0"), Some(0));
        assert_eq!(scan_lli("09"), Some(0));
    }

    #[test]
    fn stress_sizes() {
        assert_eq!(stress_size("1k"), Ok(Some(1024)));
        assert_eq!(stress_size("100M"), Ok(Some(100 << 20)));
        assert_eq!(stress_size("1.5G"), Ok(Some(1 << 30)));
        assert_eq!(stress_size("3"), Ok(Some(3)));
        assert_eq!(stress_size(""), Err(UnitError::EmptyString));
        assert_eq!(stress_size("abc"), Err(UnitError::UnrecognizedSuffix('c')));
        assert_eq!(stress_size("10s"), Err(UnitError::UnrecognizedSuffix('s')));
        assert_eq!(stress_size("-1"), Ok(Some(-1)));
        assert_eq!(
            stress_size("abc").unwrap_err().to_string(),
            "unrecognized suffix: c"
        );
    }

    #[test]
    fn stress_times() {
        assert_eq!(stress_time("1m"), Ok(Some(60)));
        assert_eq!(stress_time("2h"), Ok(Some(7200)));
        assert_eq!(stress_time("1y"), Ok(Some(31_536_000)));
        assert_eq!(stress_time("1.5"), Ok(Some(1)));
        assert_eq!(stress_time("5k"), Err(UnitError::UnrecognizedSuffix('k')));
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(go_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(go_duration("0"), Ok(Duration::ZERO));
        assert!(go_duration("10").is_err());
        assert!(go_duration("").is_err());
        assert!(go_duration("-1s").is_err());
        assert_eq!(
            go_duration("x").unwrap_err().to_string(),
            "time: invalid duration \"x\""
        );
    }
}
