//! The token-budget allocator: which snippets of which layers fit.
//!
//! Pure integer arithmetic over token counts, so it is tested exhaustively
//! with properties. Groups (one pack layer each) are served in allocation
//! order: required layers first, then by priority (higher first), then in the
//! caller's order (canonical layer order, then pack order). Two passes:
//! 1. every group, in that order, takes snippets until it reaches its
//!    `min_tokens`;
//! 2. every group, in that order, takes more snippets up to its `max_tokens`.
//!
//! Within a group snippets are taken in rank order; one that does not fit is
//! skipped (it never fits later: budgets only shrink) and the next is tried.
//! A group's header line is charged with its first snippet. Cuts happen only
//! at snippet boundaries. A snippet whose text (by key) is already included
//! is a duplicate.

use std::cmp::Reverse;
use std::collections::HashSet;

/// One pack layer to allocate.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub required: bool,
    pub priority: u32,
    pub min_tokens: u64,
    pub max_tokens: u64,
    /// Tokens of the header line, charged with the first included snippet.
    pub header_tokens: u64,
    /// Snippets in rank order.
    pub items: Vec<Item>,
}

/// One snippet to allocate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    pub tokens: u64,
    /// Equal keys mean equal text: only the first to be included stays.
    pub key: usize,
}

/// What happened to a snippet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    Included,
    /// It would take its layer over `max_tokens`.
    OverLayerMax,
    /// It would take the prompt over the total budget.
    OverBudget,
    /// The same text was already included.
    Duplicate,
}

/// The allocation: per group the tokens used and each item's fate.
#[derive(Clone, Debug)]
pub(crate) struct Allocation {
    pub used: Vec<u64>,
    pub fates: Vec<Vec<Fate>>,
}

impl Allocation {
    pub(crate) fn total_used(&self) -> u64 {
        self.used.iter().fold(0, |a, &b| a.saturating_add(b))
    }
}

struct State<'a> {
    groups: &'a [Group],
    budget: u64,
    total: u64,
    used: Vec<u64>,
    fates: Vec<Vec<Option<Fate>>>,
    included_keys: HashSet<usize>,
}

impl State<'_> {
    /// Takes snippets of group `g`, in rank order, until it holds `target` tokens.
    fn fill(&mut self, g: usize, target: u64) {
        let group = &self.groups[g];
        for (i, item) in group.items.iter().enumerate() {
            if self.used[g] >= target {
                return;
            }
            if self.fates[g][i].is_some() {
                continue;
            }
            if self.included_keys.contains(&item.key) {
                self.fates[g][i] = Some(Fate::Duplicate);
                continue;
            }
            let header = if self.used[g] == 0 { group.header_tokens } else { 0 };
            let cost = item.tokens.saturating_add(header);
            let fate = if self.used[g].saturating_add(cost) > group.max_tokens {
                Fate::OverLayerMax
            } else if self.total.saturating_add(cost) > self.budget {
                Fate::OverBudget
            } else {
                self.used[g] = self.used[g].saturating_add(cost);
                self.total = self.total.saturating_add(cost);
                self.included_keys.insert(item.key);
                Fate::Included
            };
            self.fates[g][i] = Some(fate);
        }
    }
}

/// Allocates `budget` tokens over `groups` (see the module docs).
pub(crate) fn allocate(groups: &[Group], budget: u64) -> Allocation {
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&g| (!groups[g].required, Reverse(groups[g].priority), g));
    let mut state = State {
        groups,
        budget,
        total: 0,
        used: vec![0; groups.len()],
        fates: groups.iter().map(|g| vec![None; g.items.len()]).collect(),
        included_keys: HashSet::new(),
    };
    for &g in &order {
        state.fill(g, groups[g].min_tokens);
    }
    for &g in &order {
        state.fill(g, groups[g].max_tokens);
    }
    Allocation {
        used: state.used,
        fates: state
            .fates
            .into_iter()
            // Left undecided only when the group filled up to its max first.
            .map(|f| f.into_iter().map(|f| f.unwrap_or(Fate::OverLayerMax)).collect())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn group(required: bool, priority: u32, min: u64, max: u64, items: &[u64]) -> Group {
        Group {
            required,
            priority,
            min_tokens: min,
            max_tokens: max,
            header_tokens: 3,
            items: items
                .iter()
                .enumerate()
                .map(|(i, &tokens)| Item {
                    tokens,
                    key: usize::try_from(priority).unwrap() * 1000 + i,
                })
                .collect(),
        }
    }

    #[test]
    fn required_first_then_priority_and_mins_before_maxes() {
        let groups = [
            group(false, 90, 10, 100, &[20, 20, 20]),
            group(true, 10, 10, 100, &[20, 20]),
            group(false, 50, 10, 100, &[20, 20]),
        ];
        // 69 tokens: required (23) then mins of priority 90 (23) and 50 (23).
        let a = allocate(&groups, 69);
        assert_eq!(a.used, [23, 23, 23]);
        // 100 tokens: mins (69), then maxes in order: required takes 20 more; priority 90 has 11 left.
        let a = allocate(&groups, 100);
        assert_eq!(a.used, [23, 43, 23]);
        assert_eq!(a.fates[0], [Fate::Included, Fate::OverBudget, Fate::OverBudget]);
    }

    #[test]
    fn too_big_snippets_are_skipped_not_cut() {
        let a = allocate(&[group(false, 1, 0, 50, &[60, 10, 40, 5])], 1000);
        assert_eq!(
            a.fates[0],
            [Fate::OverLayerMax, Fate::Included, Fate::OverLayerMax, Fate::Included]
        );
        assert_eq!(a.used, [18]);
    }

    #[test]
    fn duplicates_keep_the_first_included() {
        let mut groups = [group(false, 2, 0, 50, &[10]), group(false, 1, 0, 50, &[10])];
        groups[1].items[0].key = groups[0].items[0].key;
        let a = allocate(&groups, 1000);
        assert_eq!(a.fates[0], [Fate::Included]);
        assert_eq!(a.fates[1], [Fate::Duplicate]);
        assert_eq!(a.used, [13, 0]);
    }

    fn groups_strategy() -> impl Strategy<Value = Vec<Group>> {
        let g = (
            any::<bool>(),
            0u32..5,
            0u64..300,
            0u64..400,
            0u64..6,
            prop::collection::vec(1u64..120, 0..8),
        )
            .prop_map(|(required, priority, a, b, header, items)| Group {
                required,
                priority,
                min_tokens: a.min(b),
                max_tokens: a.max(b).max(1),
                header_tokens: header,
                items: items.into_iter().map(|tokens| Item { tokens, key: 0 }).collect(),
            });
        prop::collection::vec(g, 0..8).prop_map(|mut groups| {
            let mut key = 0;
            for g in &mut groups {
                for item in &mut g.items {
                    // Mostly distinct texts, some repeated.
                    item.key = if key % 7 == 3 { 0 } else { key };
                    key += 1;
                }
            }
            groups
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_over_budget_nor_layer_max(groups in groups_strategy(), budget in 0u64..2000) {
            let a = allocate(&groups, budget);
            prop_assert!(a.total_used() <= budget);
            for (g, group) in groups.iter().enumerate() {
                prop_assert!(a.used[g] <= group.max_tokens);
                let included: Vec<u64> = group
                    .items
                    .iter()
                    .zip(&a.fates[g])
                    .filter(|(_, f)| **f == Fate::Included)
                    .map(|(i, _)| i.tokens)
                    .collect();
                let expected = if included.is_empty() { 0 } else { group.header_tokens + included.iter().sum::<u64>() };
                prop_assert_eq!(a.used[g], expected);
            }
            // Same inputs, same allocation.
            let again = allocate(&groups, budget);
            prop_assert_eq!(again.used, a.used);
            prop_assert_eq!(again.fates, a.fates);
        }

        #[test]
        fn required_minimums_are_met_when_possible(groups in groups_strategy(), budget in 0u64..4000) {
            // "Possible": every required layer has the content for its minimum,
            // its minimum plus one snippet and the header fits under its maximum,
            // and all of that for every required layer fits the budget.
            let need = |g: &Group| {
                g.min_tokens + g.header_tokens + g.items.iter().map(|i| i.tokens).max().unwrap_or(0)
            };
            let possible = groups.iter().filter(|g| g.required).all(|g| {
                g.items.iter().map(|i| i.tokens).sum::<u64>() >= g.min_tokens && need(g) <= g.max_tokens
            }) && groups.iter().filter(|g| g.required).map(need).sum::<u64>() <= budget;
            let mut groups = groups;
            // Distinct texts: a duplicate of another layer's snippet may legitimately be skipped.
            let mut key = 0;
            for g in &mut groups {
                for item in &mut g.items {
                    item.key = key;
                    key += 1;
                }
            }
            let a = allocate(&groups, budget);
            if possible {
                for (g, group) in groups.iter().enumerate().filter(|(_, g)| g.required) {
                    prop_assert!(
                        a.used[g] >= group.min_tokens,
                        "required group {} used {} < min {}", g, a.used[g], group.min_tokens
                    );
                }
            }
        }
    }
}
