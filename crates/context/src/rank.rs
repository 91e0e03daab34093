//! Deterministic relevance ranking: Okapi BM25 over lowercase alphanumeric
//! terms, scores reported as integer thousandths.
//!
//! The corpus is the set of candidate snippets of one compilation, so a
//! snippet's score depends only on the request and the candidates. Scores
//! are rounded to millis before any comparison, and ties are broken by the
//! caller (snippet id), so the ranking is a pure function of its inputs.

use std::collections::HashMap;

/// Term-frequency saturation.
const K1: f64 = 1.2;
/// Length normalization.
const B: f64 = 0.75;

/// Calls `f` with every maximal run of alphanumeric characters of `text`, lowercased.
fn for_each_term(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let run = &text[s..i];
                buf.clear();
                if run.is_ascii() {
                    buf.push_str(run);
                    buf.make_ascii_lowercase();
                } else {
                    buf.extend(run.chars().flat_map(char::to_lowercase));
                }
                f(buf);
                start = None;
            }
            _ => {}
        }
    }
}

/// The BM25 score of each document against `query`, in thousandths.
pub(crate) fn bm25_millis(query: &str, docs: &[&str]) -> Vec<u64> {
    let mut buf = String::new();
    let mut query_terms: HashMap<String, usize> = HashMap::new();
    for_each_term(query, &mut buf, |t| {
        let next = query_terms.len();
        query_terms.entry(t.to_owned()).or_insert(next);
    });
    if query_terms.is_empty() || docs.is_empty() {
        return vec![0; docs.len()];
    }
    // Per document: its length in terms and the frequency of each query term.
    let mut lengths = Vec::with_capacity(docs.len());
    let mut freqs: Vec<Vec<u32>> = Vec::with_capacity(docs.len());
    for doc in docs {
        let mut tf = vec![0u32; query_terms.len()];
        let mut len = 0u64;
        for_each_term(doc, &mut buf, |t| {
            len += 1;
            if let Some(&q) = query_terms.get(t) {
                tf[q] += 1;
            }
        });
        lengths.push(len);
        freqs.push(tf);
    }
    let n = docs.len() as f64;
    let avg_len = (lengths.iter().sum::<u64>() as f64 / n).max(1.0);
    let idf: Vec<f64> = (0..query_terms.len())
        .map(|q| {
            let containing = freqs.iter().filter(|tf| tf[q] > 0).count() as f64;
            (1.0 + (n - containing + 0.5) / (containing + 0.5)).ln()
        })
        .collect();
    lengths
        .iter()
        .zip(&freqs)
        .map(|(&len, tf)| {
            let norm = K1 * (1.0 - B + B * len as f64 / avg_len);
            let score: f64 = tf
                .iter()
                .zip(&idf)
                .filter(|(f, _)| **f > 0)
                .map(|(&f, idf)| idf * f64::from(f) * (K1 + 1.0) / (f64::from(f) + norm))
                .sum();
            // Non-negative and far below 2^53 thousandths.
            (score * 1000.0).round() as u64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercase_alphanumeric_runs() {
        let mut seen = Vec::new();
        for_each_term("Double-charged: ORDER #4417, Ünïcode!", &mut String::new(), |t| {
            seen.push(t.to_owned())
        });
        assert_eq!(seen, ["double", "charged", "order", "4417", "ünïcode"]);
    }

    #[test]
    fn relevant_documents_score_higher() {
        let docs = [
            "refunds are issued within 5 business days",
            "the escalation matrix names the on-call lead",
            "a double charge is refunded in full; refund the duplicate charge",
        ];
        let scores = bm25_millis("customer was double charged and wants a refund", &docs);
        // No stemming: "refunds" does not match "refund".
        assert_eq!(scores[0], 0, "{scores:?}");
        assert_eq!(scores[1], 0, "{scores:?}");
        assert!(scores[2] > 0, "{scores:?}");
        assert_eq!(bm25_millis("", &docs), vec![0, 0, 0]);
    }
}
