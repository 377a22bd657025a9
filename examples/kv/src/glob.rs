//! Glob-style patterns as Redis matches them (`KEYS`, `PSUBSCRIBE`,
//! `CONFIG GET`): `*`, `?`, `[abc]`, `[^a-z]` and `\` to escape.

/// Past this depth of `*` a pattern matches nothing, as in Redis: a
/// pattern of thousands of stars cannot make one match take forever.
const MAX_NESTING: usize = 1000;

/// Whether `text` matches `pattern`, a port of Redis's `stringmatchlen`.
///
/// # Examples
///
/// ```
/// use kv::glob::matches;
///
/// assert!(matches(b"user:*", b"user:42"));
/// assert!(matches(b"h?llo", b"hallo"));
/// assert!(matches(b"h[^e]llo", b"hallo"));
/// assert!(!matches(b"h[a-b]llo", b"hello"));
/// assert!(matches(b"\\*", b"*"));
/// ```
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let mut skip_longer = false;
    match_at(pattern, text, &mut skip_longer, 0)
}

fn match_at(mut pattern: &[u8], mut text: &[u8], skip_longer: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while !pattern.is_empty() && !text.is_empty() {
        match pattern[0] {
            b'*' => {
                while pattern.len() > 1 && pattern[1] == b'*' {
                    pattern = &pattern[1..];
                }
                if pattern.len() == 1 {
                    return true;
                }
                while !text.is_empty() {
                    if match_at(&pattern[1..], text, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    text = &text[1..];
                }
                // The rest of the pattern matches nowhere in the rest of the
                // text: no earlier `*` can help by matching more.
                *skip_longer = true;
                return false;
            }
            b'?' => text = &text[1..],
            b'[' => {
                pattern = &pattern[1..];
                let negate = pattern.first() == Some(&b'^');
                if negate {
                    pattern = &pattern[1..];
                }
                let c = text[0];
                let mut hit = false;
                loop {
                    match pattern {
                        [b'\\', escaped, ..] => {
                            pattern = &pattern[1..];
                            hit |= *escaped == c;
                        }
                        [b']', ..] => break,
                        // An unclosed class ends with the pattern; the
                        // step below must not pass its end.
                        [] => {
                            pattern = &pattern[..0];
                            break;
                        }
                        [start, b'-', end, ..] => {
                            let (low, high) = if start <= end { (*start, *end) } else { (*end, *start) };
                            hit |= (low..=high).contains(&c);
                            pattern = &pattern[2..];
                        }
                        [other, ..] => hit |= *other == c,
                    }
                    pattern = &pattern[1..];
                }
                if hit == negate {
                    return false;
                }
                text = &text[1..];
                if pattern.is_empty() {
                    // The class ran to the end of the pattern.
                    return text.is_empty();
                }
            }
            b'\\' if pattern.len() >= 2 => {
                pattern = &pattern[1..];
                if pattern[0] != text[0] {
                    return false;
                }
                text = &text[1..];
            }
            literal => {
                if literal != text[0] {
                    return false;
                }
                text = &text[1..];
            }
        }
        pattern = &pattern[1..];
        if text.is_empty() {
            while pattern.first() == Some(&b'*') {
                pattern = &pattern[1..];
            }
            break;
        }
    }
    pattern.is_empty() && text.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn matches_as_redis_does() {
        let cases: [(&[u8], &[u8], bool); 16] = [
            // As stringmatchlen: a star needs a byte (KEYS * lists all by a shortcut).
            (b"*", b"", false),
            (b"*", b"anything", true),
            (b"", b"", true),
            (b"", b"a", false),
            (b"a*", b"a", true),
            (b"a*b", b"axxb", true),
            (b"a*b", b"axxbc", false),
            (b"*b*", b"abc", true),
            (b"h?llo", b"hllo", false),
            (b"h[ae]llo", b"hello", true),
            (b"h[ae]llo", b"hillo", false),
            (b"h[^e]llo", b"hello", false),
            (b"h[a-b]llo", b"hbllo", true),
            (b"h[b-a]llo", b"hallo", true),
            (b"a\\*", b"a*", true),
            (b"a\\*", b"ab", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                matches(pattern, text),
                expected,
                "{:?} against {:?}",
                pattern.escape_ascii().to_string(),
                text.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn abusive_patterns_end_quickly() {
        let pattern = [b'a', b'*'].repeat(50);
        let text = vec![b'a'; 100];
        assert!(matches(&pattern, &[text.as_slice(), b"a"].concat()));
        assert!(!matches(&[pattern.as_slice(), b"b"].concat(), &text), "no backtracking blow-up");
    }
}
