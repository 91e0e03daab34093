//! Suggesting the names (run ids, tool names, policy ids) someone may have
//! meant when the one they typed names nothing.

/// How many similar run ids an unknown-id error suggests.
pub(crate) const SUGGESTIONS: usize = 5;

/// Only this many leading characters of a typed id are compared for
/// suggestions, which bounds the edit-distance work.
const MAX_COMPARED_CHARS: usize = 256;

/// Up to `limit` of `known` that look like `typed`, closest first: ids that
/// extend or are extended by it, then by edit distance (ties by name). Ids
/// further than a third of the typed length (at least 2 edits) are left out.
pub fn closest_ids(typed: &str, known: &[String], limit: usize) -> Vec<String> {
    let typed: Vec<char> = typed.chars().take(MAX_COMPARED_CHARS).collect();
    let max_distance = (typed.len() / 3).max(2);
    let mut scored: Vec<(bool, usize, &String)> = known
        .iter()
        .filter_map(|id| {
            let id_chars: Vec<char> = id.chars().take(MAX_COMPARED_CHARS).collect();
            let related = !typed.is_empty() && (id_chars.starts_with(&typed) || typed.starts_with(&id_chars));
            let distance = edit_distance(&typed, &id_chars);
            (related || distance <= max_distance).then_some((!related, distance, id))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(limit).map(|(_, _, id)| id.clone()).collect()
}

/// Levenshtein distance (insertions, deletions, substitutions).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        edit_distance(&a, &b)
    }

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn edit_distance_known_values() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("run-0001", "run-0002"), 1);
        assert_eq!(distance("flaw", "lawn"), 2);
    }

    #[test]
    fn prefixes_come_first_then_nearest() {
        let known = ids(&["run-0001", "run-0002", "run-0010", "deploy-7", "run-0001-replay"]);
        assert_eq!(
            closest_ids("run-0001", &known, 5),
            ["run-0001", "run-0001-replay", "run-0002", "run-0010"]
        );
        assert_eq!(closest_ids("run-000", &known, 2), ["run-0001", "run-0002"]);
    }

    #[test]
    fn unrelated_ids_are_not_suggested() {
        let known = ids(&["deploy-7", "nightly-42"]);
        assert!(closest_ids("run-0003", &known, 5).is_empty());
        assert!(closest_ids("", &known, 5).is_empty());
    }
}
