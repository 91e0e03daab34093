//! Bounding text shown to people and models.

/// `text` cut to at most `max` characters (on a character boundary), with
/// `marker` appended when anything was cut.
pub fn cut_chars(text: &str, max: usize, marker: &str) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}{marker}", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary_and_marks_the_cut() {
        assert_eq!(cut_chars("short", 10, "…"), "short");
        assert_eq!(cut_chars("ééééé", 2, "…"), "éé…");
        assert_eq!(cut_chars("abc", 3, "…"), "abc");
    }
}
