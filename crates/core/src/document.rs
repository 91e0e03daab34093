//! Parsing untrusted documents (YAML and JSON) with size limits and errors
//! that name the file, line, column and what was expected. Every loader in
//! the workspace goes through here, so every input error reads the same.

use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use serde::de::DeserializeOwned;

/// Documents larger than this are refused before parsing.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// A document that could not be read as the expected type.
///
/// An error at a known position carries the document's text and a span
/// there, so a renderer can show the offending line; its message alone
/// (`failed to parse FILE:LINE:COL: ...`) is the same with or without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("failed to parse {file}{}: {message}", location_suffix(*.line, *.column))]
#[diagnostic(code(contextos::document))]
pub struct DocumentError {
    /// The file (as given by the caller, usually relative to the working directory).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What was wrong and what was expected.
    pub message: String,
    /// The document's text, named by `file`, when the error has a position in it.
    #[source_code]
    pub source_code: Option<Arc<NamedSource<String>>>,
    /// Where in the text: the character at `line` and `column`.
    #[label("here")]
    pub span: Option<SourceSpan>,
}

/// A document that does not parse is the caller's input (exit 2).
impl crate::Kind for DocumentError {
    fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::Input
    }
}

fn location_suffix(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

impl DocumentError {
    /// An error about `file` with no position (for example a missing required file).
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            source_code: None,
            span: None,
        }
    }

    /// The same error carrying `text`, the document it is about, with a span at
    /// its line and column (unchanged when it has no line or the line is not in `text`).
    #[must_use]
    pub fn with_source(mut self, text: &str) -> Self {
        if let Some(span) = self.line.and_then(|line| span_at(text, line, self.column)) {
            self.source_code = Some(Arc::new(NamedSource::new(&self.file, text.to_string())));
            self.span = Some(span);
        }
        self
    }
}

/// The longest line (in bytes) an error shows a snippet of.
const MAX_SNIPPET_LINE: usize = 4096;

/// The span of the character at 1-based `line` and `column` of `text` (the
/// line's first character without a column; the line's end past its last).
fn span_at(text: &str, line: u64, column: Option<u64>) -> Option<SourceSpan> {
    let index = usize::try_from(line.checked_sub(1)?).ok()?;
    let start = if index == 0 {
        0
    } else {
        text.match_indices('\n').nth(index - 1)?.0 + 1
    };
    let line_text = text[start..].split('\n').next().unwrap_or_default();
    // A snippet of a very long line shows nothing useful, and miette's
    // renderer cannot pad a label that far (it panics past 65,535 columns):
    // such an error keeps its file:line:col message and carries no snippet.
    if line_text.len() > MAX_SNIPPET_LINE {
        return None;
    }
    let skip = column.map_or(0, |c| usize::try_from(c.saturating_sub(1)).unwrap_or(usize::MAX));
    let (offset, len) = match line_text.char_indices().nth(skip) {
        Some((i, c)) => (i, c.len_utf8()),
        None => (line_text.len(), 0),
    };
    Some(SourceSpan::new((start + offset).into(), len))
}

/// `message` prefixed with `field KEY: ` when it does not name a field itself
/// (a type error says what it found and expected, not where) and the text
/// before `position` (1-based line and column) of `text` ends in a key: the
/// last `"key":` on the line for JSON, the line's `key:` for YAML.
fn with_field(text: &str, position: Option<(u64, u64)>, message: String) -> String {
    if message.contains("field") {
        return message;
    }
    let Some((line, column)) = position else {
        return message;
    };
    let Some(line_text) = usize::try_from(line.saturating_sub(1))
        .ok()
        .and_then(|i| text.split('\n').nth(i))
    else {
        return message;
    };
    let before: String = line_text
        .chars()
        .take(usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX))
        .collect();
    let key = match before.rfind("\":") {
        Some(end) => before[..end].rfind('"').map(|start| &before[start + 1..end]),
        None => before
            .trim_start()
            .trim_start_matches("- ")
            .split_once(':')
            .map(|(key, _)| key.trim()),
    };
    match key {
        Some(key)
            if !key.is_empty()
                && key.len() <= 100
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.') =>
        {
            format!("field {key}: {message}")
        }
        _ => message,
    }
}

fn check_size(file: &str, text: &str) -> Result<(), DocumentError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::new(
            file,
            format!(
                "document is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Parses YAML `text` (read from `file`) as `T`. Unknown fields are refused
/// when `T` says `deny_unknown_fields`; anchors and aliases are bounded by the
/// parser's budget so a hostile document cannot explode.
pub fn parse_yaml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, DocumentError> {
    check_size(file, text)?;
    serde_saphyr::from_str(text).map_err(|err| {
        let location = err.location();
        let message = err.without_snippet().to_string();
        // The plain message may end with its own "at line L column C"; the
        // position is reported once, in the file:line:col prefix.
        let message = match message.rfind(" at line ") {
            Some(i) if location.is_some() => message[..i].to_string(),
            _ => message,
        };
        let message = crate::text::bound_quoted(&message);
        let message = with_field(text, location.as_ref().map(|l| (l.line(), l.column())), message);
        DocumentError {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            ..DocumentError::new(file, message)
        }
        .with_source(text)
    })
}

/// Parses JSON `text` (read from `file`) as `T`.
pub fn parse_json<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, DocumentError> {
    check_size(file, text)?;
    serde_json::from_str(text).map_err(|err| {
        let message = err.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        let message = crate::text::bound_quoted(&message);
        let message = with_field(text, Some((err.line() as u64, err.column() as u64)), message);
        DocumentError {
            line: Some(err.line() as u64),
            column: Some(err.column() as u64),
            ..DocumentError::new(file, message)
        }
        .with_source(text)
    })
}

/// Parses `text` as JSON when `file` ends in `.json`, as YAML otherwise.
pub fn parse_document<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, DocumentError> {
    if file.ends_with(".json") {
        parse_json(file, text)
    } else {
        parse_yaml(file, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Case {
        name: String,
        weight: u32,
    }

    #[test]
    fn yaml_unknown_field_names_file_line_and_column() {
        let err = parse_yaml::<Case>("cases/refund.yaml", "name: refund\nasserts: 3\n").unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(1)), "{err}");
        let text = err.to_string();
        assert!(text.starts_with("failed to parse cases/refund.yaml:2:1: "), "{text}");
        assert!(text.contains("asserts"), "{text}");
    }

    #[test]
    fn json_type_error_is_located() {
        let err = parse_document::<Case>("c.json", "{\"name\": \"x\",\n \"weight\": \"heavy\"}").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("invalid type"), "{err}");
        assert!(err.message.starts_with("field weight: "), "{err}");
    }

    #[test]
    fn yaml_type_error_names_its_field_and_line() {
        let err = parse_document::<Case>("c.yaml", "name: x\nweight: heavy\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.starts_with("field weight: "), "{err}");
    }

    #[test]
    fn a_located_error_carries_its_line_and_a_span_at_the_column() {
        use miette::Diagnostic;
        let text = "name: refund\nasserts: 3\n";
        let err = parse_yaml::<Case>("cases/refund.yaml", text).unwrap_err();
        let span = err.span.unwrap();
        assert_eq!((span.offset(), span.len()), (13, 1), "{err}");
        assert_eq!(err.labels().unwrap().count(), 1);
        let source = err.source_code().unwrap();
        let here = source.read_span(&span, 0, 0).unwrap();
        // 0-based: the `a` of `asserts`, first character of the second line.
        assert_eq!((here.data(), here.line(), here.column()), (&b"a"[..], 1, 0));
        assert_eq!(here.name(), Some("cases/refund.yaml"));
    }

    #[test]
    fn an_unlocated_error_carries_no_source() {
        let err = DocumentError::new("f.yaml", "missing").with_source("a: 1\n");
        assert!(err.source_code.is_none() && err.span.is_none());
        assert_eq!(err.to_string(), "failed to parse f.yaml: missing");
    }

    #[test]
    fn a_span_past_the_end_of_its_line_is_empty_at_the_end() {
        let span = span_at("ab\ncd", 2, Some(9)).unwrap();
        assert_eq!((span.offset(), span.len()), (5, 0));
        assert!(span_at("ab", 3, None).is_none());
    }

    #[test]
    fn oversized_documents_are_refused() {
        let big = "a".repeat(MAX_DOCUMENT_BYTES + 1);
        let err = parse_yaml::<Case>("big.yaml", &big).unwrap_err();
        assert!(err.message.contains("limit"), "{err}");
    }
}
