//! Source-located diagnostics for policy and schema files.

use contextos_core::{ErrorKind, Kind};
use miette::{NamedSource, SourceSpan};

/// One problem in a policy-bundle file, located at a line and column.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{file}{}: {message}", location(*.line, *.column))]
pub struct SourceDiagnostic {
    /// The file, as shown to the user.
    pub file: String,
    /// 1-based line, when the problem has a position.
    pub line: Option<usize>,
    /// 1-based column, when the problem has a position.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[help]
    pub help: Option<String>,
    #[source_code]
    source_code: NamedSource<String>,
    #[label("{}", label.as_deref().unwrap_or("here"))]
    span: Option<SourceSpan>,
    label: Option<String>,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        _ => String::new(),
    }
}

/// A problem in a policy-bundle file is the caller's input (exit 2).
impl Kind for SourceDiagnostic {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

impl SourceDiagnostic {
    /// A problem with `file` as a whole: no text shown, no position.
    pub(crate) fn error(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            line: None,
            column: None,
            message: message.into(),
            help: None,
            source_code: NamedSource::new(file, String::new()),
            span: None,
            label: None,
        }
    }

    /// Shows `text`, the file's contents, with the problem.
    pub(crate) fn in_text(mut self, text: &str) -> Self {
        self.source_code = NamedSource::new(&self.file, text.to_string());
        self
    }

    /// Points at `span` (byte offset and length) of the text given to
    /// [`Self::in_text`], when known; the line and column follow from it.
    pub(crate) fn at(mut self, span: Option<(usize, usize)>) -> Self {
        if let Some((offset, len)) = span {
            let (line, column) = line_col(self.source_code.inner(), offset);
            self.line = Some(line);
            self.column = Some(column);
            self.span = Some(SourceSpan::new(offset.into(), len));
        }
        self
    }

    /// How to fix it.
    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// What the span's label says (instead of "here").
    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Converts any miette diagnostic whose labels point into `source`
    /// (Cedar's parse and validation errors do) into a located diagnostic.
    pub(crate) fn from_miette(file: &str, source: &str, diag: &dyn miette::Diagnostic) -> Self {
        let first_label = diag.labels().and_then(|mut labels| labels.next());
        let span = first_label.as_ref().map(|l| (l.offset().min(source.len()), l.len()));
        let mut located = Self::error(file, diag.to_string()).in_text(source).at(span);
        located.label = first_label.and_then(|l| l.label().map(str::to_string));
        located.help = diag.help().map(|h| h.to_string());
        located
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Byte offsets of each top-level statement (policy) in a Cedar policy file:
/// the first non-space, non-comment byte after the start of the file or a
/// `;` outside strings and comments. Cedar numbers the policies of a file in
/// this order (`policy0`, `policy1`, …).
pub(crate) fn statement_starts(source: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at_statement_start = true;
    for token in tokens(source) {
        match token {
            Token::Str(..) => at_statement_start = false,
            Token::Byte(_, b';') => at_statement_start = true,
            Token::Byte(_, b) if b.is_ascii_whitespace() => {}
            Token::Byte(i, _) => {
                if at_statement_start {
                    starts.push(i);
                    at_statement_start = false;
                }
            }
        }
    }
    starts
}

/// What the two scanners of a Cedar policy file see: a string literal
/// (offset and length, quotes included) or one byte outside strings and
/// `//` comments.
enum Token {
    Str(usize, usize),
    Byte(usize, u8),
}

/// The tokens of `source`, in order, comments left out.
fn tokens(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                out.push(Token::Str(start, (i + 1).min(bytes.len()) - start));
            }
            b => out.push(Token::Byte(i, b)),
        }
        i += 1;
    }
    out
}

/// Byte offset and length (quotes included) of every string literal in a
/// Cedar policy file, outside comments, in source order.
pub(crate) fn string_literals(source: &str) -> Vec<(usize, usize)> {
    tokens(source)
        .into_iter()
        .filter_map(|t| match t {
            Token::Str(start, len) => Some((start, len)),
            Token::Byte(..) => None,
        })
        .collect()
}

/// Byte offset and length of `value` as an item of the top-level list
/// `key:` in a YAML file (block or flow style, plain or quoted), outside
/// comments; `None` when it cannot be found.
pub(crate) fn yaml_list_item(source: &str, key: &str, value: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    let mut in_list = false;
    for line in source.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let code = match line
            .char_indices()
            .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with(char::is_whitespace)))
        {
            Some((i, _)) => &line[..i],
            None => line,
        };
        let mut search_from = 0;
        if !code.starts_with(char::is_whitespace) && !code.trim().is_empty() && !code.starts_with('-') {
            in_list = code.starts_with(&format!("{key}:"));
            search_from = key.len() + 1;
        }
        if !in_list {
            continue;
        }
        let separator = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || "-[],\"'".contains(c));
        for (i, _) in code.match_indices(value).filter(|&(i, _)| i >= search_from) {
            if separator(code[..i].chars().next_back()) && separator(code[i + value.len()..].chars().next()) {
                return Some((line_start + i, value.len()));
            }
        }
    }
    None
}

/// Byte offset of the `permit` / `forbid` keyword of the statement starting at
/// `start` (past its annotations), or `start` when none is found.
pub(crate) fn effect_offset(source: &str, start: usize) -> usize {
    let rest = &source[start..];
    let keyword = |word: &str| {
        rest.match_indices(word)
            .find(|(i, _)| rest[i + word.len()..].trim_start().starts_with('('))
            .map(|(i, _)| i)
    };
    match (keyword("permit"), keyword("forbid")) {
        (Some(a), Some(b)) => start + a.min(b),
        (Some(a), None) | (None, Some(a)) => start + a,
        (None, None) => start,
    }
}

/// An error's message with the messages of its causes, on one line.
pub(crate) fn miette_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_starts_skip_comments_strings_and_annotations() {
        let src = "// a ; comment\n@id(\"a;b\")\npermit(principal, action, resource);\n\n  forbid(principal, action, resource) when { \"x;\" == \"y\" };\n";
        let starts = statement_starts(src);
        assert_eq!(starts.len(), 2);
        assert_eq!(line_col(src, starts[0]), (2, 1));
        assert_eq!(line_col(src, starts[1]), (5, 3));
        assert_eq!(line_col(src, effect_offset(src, starts[0])), (3, 1));
    }

    #[test]
    fn string_literals_skip_comments_and_escapes() {
        let src = "// \"not\" a literal\n@id(\"a\\\"b\")\npermit (principal, action, resource) when { \"x\" == \"\" };";
        let found: Vec<&str> = string_literals(src).into_iter().map(|(o, l)| &src[o..o + l]).collect();
        assert_eq!(found, ["\"a\\\"b\"", "\"x\"", "\"\""]);
    }

    #[test]
    fn yaml_list_items_are_found_in_block_and_flow_lists() {
        let block = "# roles: [lead]\nformat_version: 1\nroles:\n  - support_lead # lead\n  - \"lead\"\n";
        assert_eq!(
            yaml_list_item(block, "roles", "lead").map(|(o, _)| line_col(block, o)),
            Some((5, 6))
        );
        let flow = "roles: [a_lead, lead]\nother: [x]\n";
        assert_eq!(
            yaml_list_item(flow, "roles", "lead").map(|(o, _)| line_col(flow, o)),
            Some((1, 17))
        );
        assert_eq!(yaml_list_item(flow, "roles", "x"), None);
    }
}
