//! The two quoting styles of coreutils' messages: gnulib's `quote` (locale
//! quotes: ‘…’ in a UTF-8 locale, '…' otherwise) and `quoteaf` (shell
//! quoting with '…', always ASCII).

use std::ffi::CStr;

/// Whether the locale's character set (from `LC_ALL`, `LC_CTYPE`, `LANG`)
/// is UTF-8, as `nl_langinfo(CODESET)` says after `setlocale(LC_CTYPE, "")`.
#[must_use]
pub fn locale_is_utf8() -> bool {
    // SAFETY: called once from the single-threaded tool before anything
    // else reads the locale; both functions return pointers into static
    // storage that we copy at once.
    unsafe {
        if libc::setlocale(libc::LC_CTYPE, c"".as_ptr()).is_null() {
            return false;
        }
        let p = libc::nl_langinfo(libc::CODESET);
        if p.is_null() {
            return false;
        }
        let cs = CStr::from_ptr(p).to_string_lossy().to_ascii_uppercase();
        cs == "UTF-8" || cs == "UTF8"
    }
}

fn escape_c(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\{:03o}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// gnulib `quote`: locale quotes, control characters escaped C-style.
#[must_use]
pub fn quote(s: &str, utf8: bool) -> String {
    let (l, r) = if utf8 {
        ('\u{2018}', '\u{2019}')
    } else {
        ('\'', '\'')
    };
    let mut out = String::new();
    out.push(l);
    escape_c(s, &mut out);
    out.push(r);
    out
}

/// gnulib `quoteaf` (shell-escape-always): `'…'`, a `'` written as `'\''`,
/// control characters as `'$'\n''`.
#[must_use]
pub fn quoteaf(s: &str) -> String {
    let mut out = String::from("'");
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("'\\''"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str("'$'");
                escape_c(&c.to_string(), &mut out);
                out.push_str("''");
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        assert_eq!(quote("no_such", true), "‘no_such’");
        assert_eq!(quote("no_such", false), "'no_such'");
        assert_eq!(quote("a\nb", false), "'a\\nb'");
        assert_eq!(quoteaf("/nonexistent"), "'/nonexistent'");
        assert_eq!(quoteaf("it's"), "'it'\\''s'");
    }
}
