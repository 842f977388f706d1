//! Redis's glob matcher (`stringmatchlen` of `util.c`), as KEYS and SCAN MATCH use it.
//!
//! `*` any run, `?` any byte, `[...]` a class (`^` negates, `a-z` ranges in either order,
//! `\x` a literal), `\x` a literal outside classes. An unterminated class takes the rest of
//! the pattern. Like the C code, reading just past the pattern's end sees a NUL byte.

/// Protection against abusive patterns, as in Redis.
const MAX_NESTING: u32 = 1000;

/// Whether `string` matches `pattern` (`nocase`: ASCII case-insensitive).
pub fn string_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, nocase, &mut skip_longer, 0)
}

fn lower(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

fn match_impl(pat: &[u8], s: &[u8], nocase: bool, skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    // The byte at `i`, or the C string terminator past the end.
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let mut p = 0usize; // pattern position; pattern "length" is pat.len() - p
    let mut si = 0usize;
    while p < pat.len() && si < s.len() {
        match pat[p] {
            b'*' => {
                while p < pat.len() && at(p + 1) == b'*' {
                    p += 1;
                }
                if pat.len() - p == 1 {
                    return true;
                }
                while si < s.len() {
                    if match_impl(&pat[p + 1..], &s[si..], nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    si += 1;
                }
                // No match for the rest of the pattern anywhere in the rest of the string:
                // earlier stars cannot help by matching longer runs.
                *skip_longer = true;
                return false;
            }
            b'?' => {
                si += 1;
            }
            b'[' => {
                p += 1;
                let not = at(p) == b'^';
                if not {
                    p += 1;
                }
                let c = s[si];
                let mut matched = false;
                loop {
                    let left = pat.len().saturating_sub(p);
                    if at(p) == b'\\' && left >= 2 {
                        p += 1;
                        if at(p) == c {
                            matched = true;
                        }
                    } else if at(p) == b']' {
                        break;
                    } else if left == 0 {
                        p -= 1;
                        break;
                    } else if left >= 3 && at(p + 1) == b'-' {
                        let (mut start, mut end) = (at(p), at(p + 2));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let (start, end, ch) =
                            (lower(start, nocase), lower(end, nocase), lower(c, nocase));
                        p += 2;
                        if ch >= start && ch <= end {
                            matched = true;
                        }
                    } else if lower(at(p), nocase) == lower(c, nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                si += 1;
            }
            first => {
                let lit = if first == b'\\' && pat.len() - p >= 2 {
                    p += 1;
                    pat[p]
                } else {
                    first
                };
                if lower(lit, nocase) != lower(s[si], nocase) {
                    return false;
                }
                si += 1;
            }
        }
        p += 1;
        if si == s.len() {
            while at(p) == b'*' && p < pat.len() {
                p += 1;
            }
            break;
        }
    }
    p >= pat.len() && si == s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        string_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        // As in C, a pattern never matches the empty string (KEYS and SCAN special-case `*`).
        assert!(!m("*", ""));
        assert!(m("*", "abc"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbb"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("[\\]]", "]"));
        assert!(m("a**", "a"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(!m("a", ""));
    }

    #[test]
    fn c_edge_cases() {
        // An unterminated class uses the rest of the pattern.
        assert!(m("[abc", "b"));
        assert!(!m("[abc", "d"));
        assert!(!m("[", "a"));
        assert!(m("[^", "a"));
        // A trailing backslash is a literal backslash.
        assert!(m("a\\", "a\\"));
        // `a-]` is a range up to `]` (then the class is unterminated), as on a live server.
        assert!(m("[a-]", "]"));
        assert!(m("[a-]", "_"));
        assert!(!m("[a-]", "-"));
        assert!(string_match(b"HeLLo", b"hello", true));
        assert!(string_match(b"[A-Z]x", b"qX", true));
    }

    #[test]
    fn star_backtracking_is_bounded() {
        let pat = "a*".repeat(40) + "b";
        let s = "a".repeat(60);
        assert!(!m(&pat, &s));
    }
}
