//! Bounding text shown to people and models.

/// `text` cut to at most `max` characters (on a character boundary), with
/// `marker` appended when anything was cut.
pub fn cut_chars(text: &str, max: usize, marker: &str) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}{marker}", &text[..at]),
        None => text.to_string(),
    }
}

/// How many characters of an input value an error message may echo.
pub const EXCERPT_CHARS: usize = 200;

/// `text` as an error message may echo it: whole when short, otherwise its
/// first [`EXCERPT_CHARS`] characters and `… (N bytes)`, N its full length.
pub fn excerpt(text: &str) -> String {
    cut_chars(text, EXCERPT_CHARS, &format!("… ({} bytes)", text.len()))
}

/// `message` with each quoted value (in `"` or backticks) longer than
/// [`EXCERPT_CHARS`] cut to an [`excerpt`]: parser messages quote the
/// offending input, which may be megabytes. A backslash escapes the next
/// character inside double quotes.
pub fn bound_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=open]);
        let body = &rest[open + 1..];
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quote == '"' => escaped = true,
                c if c == quote => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            out.push_str(&excerpt(body));
            return out;
        };
        out.push_str(&excerpt(&body[..end]));
        out.push(quote);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quoted_values_are_cut_and_measured() {
        let long = "x".repeat(1000);
        let message = format!("invalid type: string \"{long}\", expected u32");
        assert_eq!(
            bound_quoted(&message),
            format!(
                "invalid type: string \"{}… (1000 bytes)\", expected u32",
                "x".repeat(200)
            )
        );
        let variant = format!("unknown variant `{long}`, expected one of a, b");
        assert_eq!(
            bound_quoted(&variant),
            format!(
                "unknown variant `{}… (1000 bytes)`, expected one of a, b",
                "x".repeat(200)
            )
        );
        let short = r#"unknown field "asserts", expected one of "a", "b\"c""#;
        assert_eq!(bound_quoted(short), short);
    }

    #[test]
    fn cuts_on_a_character_boundary_and_marks_the_cut() {
        assert_eq!(cut_chars("short", 10, "…"), "short");
        assert_eq!(cut_chars("ééééé", 2, "…"), "éé…");
        assert_eq!(cut_chars("abc", 3, "…"), "abc");
    }
}
