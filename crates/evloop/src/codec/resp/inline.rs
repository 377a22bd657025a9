//! Inline commands: one line split into arguments as `redis-cli` quotes
//! them.

use std::borrow::Cow;

use super::RespError;

/// Redis's `sdssplitargs`: blanks separate arguments; `"..."` takes `\n`,
/// `\r`, `\t`, `\b`, `\a`, `\xHH` and `\` before any other byte, `'...'`
/// only `\'`; a closing quote must be followed by a blank or the end. The
/// line ends at a NUL byte, as the C string it is there.
#[derive(Debug, Clone)]
pub(super) struct InlineArgs<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> InlineArgs<'a> {
    pub(super) fn new(line: &'a [u8]) -> InlineArgs<'a> {
        let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
        InlineArgs { line: &line[..end], pos: 0 }
    }

    fn at(&self, offset: usize) -> Option<u8> {
        self.line.get(self.pos + offset).copied()
    }

    /// The rest of a token once a quote has shown up in it, unquoted into
    /// `out`.
    fn quoted(&mut self, mut out: Vec<u8>) -> Result<Vec<u8>, RespError> {
        let mut quote = None;
        loop {
            let Some(b) = self.at(0) else {
                return if quote.is_some() { Err(RespError::UnbalancedQuotes) } else { Ok(out) };
            };
            match quote {
                Some(b'"') => match b {
                    b'\\'
                        if self.at(1) == Some(b'x')
                            && self.at(2).is_some_and(|h| h.is_ascii_hexdigit())
                            && self.at(3).is_some_and(|h| h.is_ascii_hexdigit()) =>
                    {
                        out.push(hex(self.line[self.pos + 2]) << 4 | hex(self.line[self.pos + 3]));
                        self.pos += 3;
                    }
                    b'\\' if self.at(1).is_some() => {
                        self.pos += 1;
                        out.push(match self.line[self.pos] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    b'"' => return self.closed(out),
                    _ => out.push(b),
                },
                Some(_) => match b {
                    b'\\' if self.at(1) == Some(b'\'') => {
                        self.pos += 1;
                        out.push(b'\'');
                    }
                    b'\'' => return self.closed(out),
                    _ => out.push(b),
                },
                None => match b {
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        self.pos += 1;
                        return Ok(out);
                    }
                    b'"' | b'\'' => quote = Some(b),
                    _ => out.push(b),
                },
            }
            self.pos += 1;
        }
    }

    /// After a closing quote (at `pos`): it must end the token.
    fn closed(&mut self, out: Vec<u8>) -> Result<Vec<u8>, RespError> {
        self.pos += 1;
        match self.at(0) {
            Some(b) if !is_c_space(b) => Err(RespError::UnbalancedQuotes),
            Some(_) => {
                self.pos += 1;
                Ok(out)
            }
            None => Ok(out),
        }
    }
}

impl<'a> Iterator for InlineArgs<'a> {
    type Item = Result<Cow<'a, [u8]>, RespError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.at(0).is_some_and(is_c_space) {
            self.pos += 1;
        }
        let start = self.pos;
        self.at(0)?;
        // A token without quotes is a slice of the line; one with them is
        // unquoted into a copy from the first quote on.
        loop {
            match self.at(0) {
                None | Some(b' ' | b'\n' | b'\r' | b'\t') => {
                    let token = &self.line[start..self.pos];
                    if self.at(0).is_some() {
                        self.pos += 1;
                    }
                    return Some(Ok(Cow::Borrowed(token)));
                }
                Some(b'"' | b'\'') => {
                    let result = self.quoted(self.line[start..self.pos].to_vec());
                    if result.is_err() {
                        self.pos = self.line.len();
                    }
                    return Some(result.map(Cow::Owned));
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// C's `isspace`.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}
