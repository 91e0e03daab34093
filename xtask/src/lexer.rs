//! Splits Rust source into lines of code and comment text, so tidy rules
//! match real code and never the inside of a string literal or a comment.
//!
//! This is a lexer only as far as tidy needs: it knows line and block
//! comments (nested), string literals (plain, byte, C and raw), and tells char
//! literals from lifetimes. It does not tokenize.

/// One source line, split into what the compiler sees and what it ignores.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Line {
    /// The code on this line. Comments are removed and the contents of
    /// string and char literals are replaced by spaces (quotes kept).
    pub code: String,
    /// The text of the `//` comment on this line, after the two slashes
    /// (doc comments included, so `/// x` gives `/ x`).
    pub comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    LineComment,
    BlockComment(u32),
    Str,
    RawStr(usize),
}

/// Splits `text` into lines; line `n` (1-based) is element `n - 1`, and there
/// are as many elements as `text.lines()` yields.
pub fn split_lines(text: &str) -> Vec<Line> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut lines = Vec::new();
    let mut line = Line::default();
    let mut state = State::Code;
    let mut i = 0;
    while let Some(c) = at(i) {
        if c == '\n' {
            lines.push(std::mem::take(&mut line));
            if state == State::LineComment {
                state = State::Code;
            }
            i += 1;
            continue;
        }
        let next = at(i + 1);
        match state {
            State::Code => {
                if c == '/' && next == Some('/') {
                    state = State::LineComment;
                    i += 2;
                } else if c == '/' && next == Some('*') {
                    state = State::BlockComment(1);
                    line.code.push(' ');
                    i += 2;
                } else if c == '"' {
                    state = State::Str;
                    line.code.push('"');
                    i += 1;
                } else if let Some(hashes) = raw_string_start(&chars, i) {
                    // `r`, the hashes and the opening quote.
                    line.code.push('r');
                    line.code.extend(std::iter::repeat_n('#', hashes));
                    line.code.push('"');
                    state = State::RawStr(hashes);
                    i += hashes + 2;
                } else if c == '\'' {
                    i = char_literal_or_lifetime(&chars, i, &mut line.code);
                } else {
                    line.code.push(c);
                    i += 1;
                }
            }
            State::LineComment => {
                line.comment.push(c);
                i += 1;
            }
            State::BlockComment(depth) => {
                if c == '/' && next == Some('*') {
                    state = State::BlockComment(depth + 1);
                    i += 2;
                } else if c == '*' && next == Some('/') {
                    state = if depth <= 1 {
                        State::Code
                    } else {
                        State::BlockComment(depth - 1)
                    };
                    i += 2;
                } else {
                    i += 1;
                }
            }
            State::Str => {
                if c == '\\' {
                    line.code.push(' ');
                    // An escaped newline continues the string on the next line;
                    // leave the newline for the loop to count.
                    i += if next == Some('\n') { 1 } else { 2 };
                    if next.is_some_and(|n| n != '\n') {
                        line.code.push(' ');
                    }
                } else if c == '"' {
                    line.code.push('"');
                    state = State::Code;
                    i += 1;
                } else {
                    line.code.push(' ');
                    i += 1;
                }
            }
            State::RawStr(hashes) => {
                if c == '"' && (1..=hashes).all(|k| at(i + k) == Some('#')) {
                    line.code.push('"');
                    line.code.extend(std::iter::repeat_n('#', hashes));
                    state = State::Code;
                    i += 1 + hashes;
                } else {
                    line.code.push(' ');
                    i += 1;
                }
            }
        }
    }
    if !text.is_empty() && !text.ends_with('\n') {
        lines.push(line);
    }
    lines
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// If a raw string literal (`r"`, `r#"`, `br"`, `cr#"`, ...) starts with the
/// `r` at `i`, returns its number of hashes.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i) != Some(&'r') {
        return None;
    }
    // What comes before the `r` (or before its `b`/`c` prefix) must not be
    // part of an identifier, or this is just an identifier ending in `r`.
    let mut before = i.checked_sub(1).and_then(|p| chars.get(p).copied());
    if matches!(before, Some('b' | 'c')) {
        before = i.checked_sub(2).and_then(|p| chars.get(p).copied());
    }
    if before.is_some_and(is_ident_char) {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    // `r#ident` is a raw identifier, not a string.
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// Handles the `'` at `i`: masks a char literal, or keeps a lifetime or label
/// as code. Returns the index after what was consumed.
fn char_literal_or_lifetime(chars: &[char], i: usize, code: &mut String) -> usize {
    let at = |k: usize| chars.get(k).copied();
    if at(i + 1) == Some('\\') {
        // '\n', '\'', '\u{1F600}': the escaped char, then up to the closing quote.
        let mut j = i + 3;
        while let Some(c) = at(j) {
            if c == '\'' || c == '\n' {
                break;
            }
            j += 1;
        }
        code.push_str("' '");
        return if at(j) == Some('\'') { j + 1 } else { j };
    }
    if at(i + 1).is_some_and(|c| c != '\n') && at(i + 2) == Some('\'') {
        code.push_str("' '");
        return i + 3;
    }
    code.push('\'');
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<String> {
        split_lines(text).into_iter().map(|l| l.code).collect()
    }

    #[test]
    fn line_count_matches_str_lines() {
        for text in ["", "a", "a\n", "a\nb", "a\n\nb\n", "\n"] {
            assert_eq!(split_lines(text).len(), text.lines().count(), "{text:?}");
        }
    }

    #[test]
    fn line_comments_move_out_of_code() {
        let lines = split_lines("let x = 1; // note\n/// doc\n");
        assert_eq!(lines[0].code, "let x = 1; ");
        assert_eq!(lines[0].comment, " note");
        assert_eq!(lines[1].code, "");
        assert_eq!(lines[1].comment, "/ doc");
    }

    #[test]
    fn nested_block_comments_span_lines() {
        let code = codes("a /* x /* y */\n still */ b\nc");
        assert_eq!(code, vec!["a  ", " b", "c"]);
    }

    #[test]
    fn strings_are_masked_and_slashes_inside_are_not_comments() {
        let lines = split_lines(r#"f("http://x \" y"); g()"#);
        // `http://x \" y` is 13 chars, the escape included.
        assert_eq!(lines[0].code, format!("f(\"{}\"); g()", " ".repeat(13)));
        assert_eq!(lines[0].comment, "");
    }

    #[test]
    fn raw_and_prefixed_strings_are_masked() {
        assert_eq!(
            codes(r###"r#"a "b" c"#.x"###),
            vec![format!("r#\"{}\"#.x", " ".repeat(7))]
        );
        assert_eq!(codes(r#"br"ab" + b"cd""#), vec![r#"br"  " + b"  ""#]);
        // A raw identifier and an identifier ending in `r` are code.
        assert_eq!(codes("r#type + bar\"s\""), vec!["r#type + bar\" \""]);
    }

    #[test]
    fn multi_line_strings_stay_masked() {
        assert_eq!(codes("\"a\nb\" c"), vec!["\" ", " \" c"]);
        assert_eq!(codes("\"a\\\nb\" c"), vec!["\"  ", " \" c"]);
    }

    #[test]
    fn char_literals_and_lifetimes() {
        assert_eq!(codes(r#"'"' x"#), vec!["' ' x"]);
        assert_eq!(codes(r"'\'' y '\u{1F600}' z"), vec!["' ' y ' ' z"]);
        assert_eq!(codes("fn f<'a>(s: &'a str)"), vec!["fn f<'a>(s: &'a str)"]);
    }
}
