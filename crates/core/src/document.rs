//! Parsing untrusted documents (YAML and JSON) with size limits and errors
//! that name the file, line, column and what was expected. Every loader in
//! the workspace goes through here, so every input error reads the same.

use serde::de::DeserializeOwned;

/// Documents larger than this are refused before parsing.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// A document that could not be read as the expected type.
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
        }
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
        DocumentError {
            file: file.to_string(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
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
        DocumentError {
            file: file.to_string(),
            line: Some(err.line() as u64),
            column: Some(err.column() as u64),
            message,
        }
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
    }

    #[test]
    fn oversized_documents_are_refused() {
        let big = "a".repeat(MAX_DOCUMENT_BYTES + 1);
        let err = parse_yaml::<Case>("big.yaml", &big).unwrap_err();
        assert!(err.message.contains("limit"), "{err}");
    }
}
