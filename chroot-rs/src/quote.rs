//! The two quoting styles of coreutils' messages: gnulib's `quote` (locale
//! quotes: ‘…’ in a UTF-8 locale, '…' otherwise) and `quoteaf` (shell
//! quoting with '…', always ASCII).

use std::ffi::CStr;

/// Whether the locale's character set (from `LC_ALL`, `LC_CTYPE`, `LANG`)
/// is UTF-8, as `nl_langinfo(CODESET)` says after `setlocale(LC_CTYPE, "")`.
///
/// Loading a locale costs more than the rest of a chroot-rs run, so the
/// common names are decided without it: no name, `C` or `POSIX` is ASCII;
/// a name with a codeset (`C.UTF-8`, `en_US.utf8`) is UTF-8 when the
/// codeset is and the locale is installed (glibc falls back to C when it is
/// not).  Other names ask the C library.
#[must_use]
pub fn locale_is_utf8() -> bool {
    let name = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_default();
    match utf8_by_name(&name, &|p| std::path::Path::new(p).exists()) {
        Some(answer) => answer,
        None => locale_is_utf8_by_libc(),
    }
}

/// The answer for locale `name` without loading it, when the name says
/// (`exists` checks the locale directories); `None` when only the C
/// library can tell.
#[must_use]
pub fn utf8_by_name(name: &str, exists: &dyn Fn(&str) -> bool) -> Option<bool> {
    if name.is_empty() || name == "C" || name == "POSIX" || name.contains('/') {
        return Some(false);
    }
    let (lang, rest) = name.split_once('.')?;
    let (codeset, modifier) = match rest.split_once('@') {
        Some((c, m)) => (c, Some(m)),
        None => (rest, None),
    };
    let norm: String = codeset
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if norm != "utf8" {
        return Some(false);
    }
    let m = modifier.map(|m| format!("@{m}")).unwrap_or_default();
    if exists("/usr/lib/locale/locale-archive") {
        // Which names the archive holds would need parsing it.
        return None;
    }
    Some(
        exists(&format!("/usr/lib/locale/{lang}.utf8{m}/LC_CTYPE"))
            || exists(&format!("/usr/lib/locale/{name}/LC_CTYPE")),
    )
}

fn locale_is_utf8_by_libc() -> bool {
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
    fn locale_names() {
        let none = |_: &str| false;
        let cutf8 = |p: &str| p == "/usr/lib/locale/C.utf8/LC_CTYPE";
        assert_eq!(utf8_by_name("", &none), Some(false));
        assert_eq!(utf8_by_name("POSIX", &none), Some(false));
        assert_eq!(utf8_by_name("C.UTF-8", &cutf8), Some(true));
        assert_eq!(utf8_by_name("C.utf8", &cutf8), Some(true));
        assert_eq!(
            utf8_by_name("C.UTF-8", &none),
            Some(false),
            "not installed: C"
        );
        assert_eq!(utf8_by_name("en_US.ISO-8859-1", &cutf8), Some(false));
        assert_eq!(utf8_by_name("en_US", &cutf8), None);
        let archive = |p: &str| p.ends_with("locale-archive");
        assert_eq!(utf8_by_name("en_US.UTF-8", &archive), None);
    }

    #[test]
    fn styles() {
        assert_eq!(quote("no_such", true), "‘no_such’");
        assert_eq!(quote("no_such", false), "'no_such'");
        assert_eq!(quote("a\nb", false), "'a\\nb'");
        assert_eq!(quoteaf("/nonexistent"), "'/nonexistent'");
        assert_eq!(quoteaf("it's"), "'it'\\''s'");
    }
}
