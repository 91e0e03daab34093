//! Approval derivation in one evaluation: which approver roles would turn a
//! clean denial into an allow, decided by Cedar on role-specialised copies of
//! the policies that read `context.approval`.
//!
//! At load, every enforced policy's structured form (Cedar's JSON EST) is
//! walked once:
//! - a policy that never reads `context.approval` is *approval-blind*: under
//!   any approver role it is satisfied (or errs) exactly as in the first
//!   evaluation of the request;
//! - a policy that reads it is *approval-sensitive*. For each approver role
//!   it gets a copy with `context.approval` replaced by the record that role's
//!   approval would put there (`{granted: true, role: "…"}`), turned into a
//!   `permit` so that Cedar reports whether it is satisfied whatever its
//!   effect. Roles the policy cannot tell apart share a copy: when every read
//!   of `context.approval.role` compares it with string literals (`==`, `!=`,
//!   `[…].contains(…)`), all roles outside those literals evaluate the same.
//!   A copy that reaches a literal `false` through conjuncts the clean first
//!   evaluation already evaluated (or literal `true`s) is never satisfied and
//!   never errs, so it is left out.
//!
//! A denial is then derived with at most one more Cedar evaluation, of the
//! copies (and, when a forbid was satisfied, of the approval-blind permits,
//! whose status the first evaluation does not report): a role grants when none
//! of its copies errs, none of its forbid copies is satisfied, and some permit
//! is satisfied; the permits satisfied under it are the ones it would report.
//! A denial by a satisfied approval-blind forbid needs no evaluation at all.
//! A bundle that reads `context` other than through attribute access (say
//! `context has approval`) cannot be specialised this way; the engine then
//! evaluates the whole set once per role.

use std::collections::{BTreeSet, HashMap, HashSet};

use cedar_policy::{Authorizer, Decision, Effect, Entities, Policy, PolicyId, PolicySet, Request};
use serde_json::{Map, Value, json};

/// What derivation needs to know about a bundle, computed once at load.
#[derive(Debug)]
pub(crate) struct ApprovalCopies {
    /// Ids of the enforced policies that read `context.approval`.
    sensitive: HashSet<String>,
    /// Per copy: the policy it specialises and whether that policy permits.
    copies: Vec<Copy>,
    /// Which copy number a copy's policy id stands for.
    copy_of: HashMap<PolicyId, usize>,
    /// Per approver role (in `approvers.yaml` order): its copies.
    by_role: Vec<Vec<usize>>,
    /// The copies alone.
    copies_only: PolicySet,
    /// The copies and the approval-blind enforced permits.
    with_blind_permits: PolicySet,
    /// Whether any approval-sensitive policy is a permit.
    sensitive_permit: bool,
}

#[derive(Debug)]
struct Copy {
    original: String,
    permit: bool,
}

/// The approver roles whose approval would allow a request, and the permits
/// that would allow it under them (unsorted, possibly repeated).
#[derive(Debug, Default)]
pub(crate) struct Derived {
    pub roles: Vec<String>,
    pub permits: Vec<String>,
}

/// How one policy reads `context.approval`.
#[derive(Debug, Default)]
struct Reads {
    /// Reads `context` other than through attribute access.
    opaque_context: bool,
    /// Reads `context.approval`.
    approval: bool,
    /// Reads `context.approval.role` (or the whole record) other than by
    /// comparing it with string literals.
    role_opaque: bool,
    /// The string literals `context.approval.role` is compared with.
    role_literals: BTreeSet<String>,
}

impl ApprovalCopies {
    /// Analyses `enforced` for `roles`; `None` when some policy reads
    /// `context` in a way the analysis cannot follow, or a copy cannot be
    /// built (the engine then evaluates once per role).
    pub(crate) fn build(enforced: &PolicySet, roles: &[String]) -> Option<Self> {
        let mut analysis = Self {
            sensitive: HashSet::new(),
            copies: Vec::new(),
            copy_of: HashMap::new(),
            by_role: vec![Vec::new(); roles.len()],
            copies_only: PolicySet::new(),
            with_blind_permits: PolicySet::new(),
            sensitive_permit: false,
        };
        let mut blind_permits = Vec::new();
        for policy in enforced.policies() {
            let est = policy.to_json().ok()?;
            let mut reads = Reads::default();
            for body in condition_bodies(&est)? {
                scan(body, &mut reads);
            }
            if reads.opaque_context {
                return None;
            }
            let permit = policy.effect() == Effect::Permit;
            if !reads.approval {
                if permit {
                    blind_permits.push(policy.clone());
                }
                continue;
            }
            analysis.sensitive.insert(policy.id().to_string());
            analysis.sensitive_permit |= permit;
            analysis.add_copies(policy, &est, &reads, roles)?;
        }
        analysis.with_blind_permits = analysis.copies_only.clone();
        for policy in blind_permits {
            analysis.with_blind_permits.add(policy).ok()?;
        }
        Some(analysis)
    }

    /// One copy of `policy` per group of `roles` it cannot tell apart.
    fn add_copies(&mut self, policy: &Policy, est: &Value, reads: &Reads, roles: &[String]) -> Option<()> {
        // Copy number by the role it was made for (`None` as key: every
        // role outside the policy's literals; `None` as copy: never satisfied).
        let mut made: HashMap<Option<&str>, Option<usize>> = HashMap::new();
        for (i, role) in roles.iter().enumerate() {
            let key = if reads.role_opaque || reads.role_literals.contains(role) {
                Some(role.as_str())
            } else {
                None
            };
            let n = match made.get(&key) {
                Some(&n) => n,
                None => {
                    let specialised = specialise(est, role);
                    let n = if never_satisfied(est, &specialised) {
                        None
                    } else {
                        let n = self.copies.len();
                        let id = PolicyId::new(format!("approval copy {n}"));
                        self.copies_only
                            .add(Policy::from_json(Some(id.clone()), specialised).ok()?)
                            .ok()?;
                        self.copy_of.insert(id, n);
                        self.copies.push(Copy {
                            original: policy.id().to_string(),
                            permit: policy.effect() == Effect::Permit,
                        });
                        Some(n)
                    };
                    made.insert(key, n);
                    n
                }
            };
            self.by_role[i].extend(n);
        }
        Some(())
    }

    /// Derives the roles that would allow a request the enforced policies
    /// denied cleanly (no error) with no approval in hand. `request` is that
    /// first request, `first_forbids` the forbids it satisfied.
    pub(crate) fn derive(
        &self,
        authorizer: &Authorizer,
        request: &Request,
        entities: &Entities,
        first_forbids: &[String],
        roles: &[String],
    ) -> Derived {
        // A satisfied forbid no approval changes denies under every role.
        if first_forbids.iter().any(|id| !self.sensitive.contains(id)) {
            return Derived::default();
        }
        // With no forbid satisfied, no permit was either (else: allow); only
        // an approval-sensitive permit can change that.
        let set = if first_forbids.is_empty() {
            if !self.sensitive_permit {
                return Derived::default();
            }
            &self.copies_only
        } else {
            &self.with_blind_permits
        };
        let response = authorizer.is_authorized(request, set, entities);
        // Every policy of `set` is a permit, so an allow reports all the
        // satisfied ones and a deny means none is satisfied.
        let mut satisfied = vec![false; self.copies.len()];
        let mut blind_permits = Vec::new();
        if response.decision() == Decision::Allow {
            for id in response.diagnostics().reason() {
                match self.copy_of.get(id) {
                    Some(&n) => satisfied[n] = true,
                    None => blind_permits.push(id.to_string()),
                }
            }
        }
        let mut erring = vec![false; self.copies.len()];
        let mut blind_error = false;
        for error in response.diagnostics().errors() {
            let cedar_policy::AuthorizationError::PolicyEvaluationError(e) = error;
            match self.copy_of.get(e.policy_id()) {
                Some(&n) => erring[n] = true,
                None => blind_error = true,
            }
        }
        let mut derived = Derived::default();
        if blind_error {
            return derived;
        }
        for (role, copies) in roles.iter().zip(&self.by_role) {
            let errs = copies.iter().any(|&n| erring[n]);
            let forbidden = copies.iter().any(|&n| satisfied[n] && !self.copies[n].permit);
            let permits = copies
                .iter()
                .filter(|&&n| satisfied[n] && self.copies[n].permit)
                .map(|&n| self.copies[n].original.clone());
            let permits: Vec<String> = blind_permits.iter().cloned().chain(permits).collect();
            if !errs && !forbidden && !permits.is_empty() {
                derived.roles.push(role.clone());
                derived.permits.extend(permits);
            }
        }
        derived
    }
}

/// The condition bodies of a policy's EST (`when` and `unless` alike).
fn condition_bodies(est: &Value) -> Option<Vec<&Value>> {
    est.get("conditions")?
        .as_array()?
        .iter()
        .map(|c| c.get("body"))
        .collect()
}

/// The single `(key, payload)` of an EST expression node.
fn node(expr: &Value) -> Option<(&str, &Value)> {
    let object = expr.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object.iter().next().map(|(k, v)| (k.as_str(), v))
}

fn is_context(expr: &Value) -> bool {
    node(expr).is_some_and(|(k, v)| k == "Var" && v == "context")
}

/// `left.attr` as `(left, attr)`.
fn get_attr(expr: &Value) -> Option<(&Value, &str)> {
    let (key, payload) = node(expr)?;
    if key != "." {
        return None;
    }
    Some((payload.get("left")?, payload.get("attr")?.as_str()?))
}

fn is_approval(expr: &Value) -> bool {
    get_attr(expr).is_some_and(|(left, attr)| attr == "approval" && is_context(left))
}

fn is_approval_field(expr: &Value, field: &str) -> bool {
    get_attr(expr).is_some_and(|(left, attr)| attr == field && is_approval(left))
}

fn string_literal(expr: &Value) -> Option<&str> {
    node(expr).and_then(|(k, v)| if k == "Value" { v.as_str() } else { None })
}

/// The string literals compared with `context.approval.role` by this node,
/// when it is such a comparison.
fn role_comparison(key: &str, payload: &Value) -> Option<Vec<String>> {
    let left = payload.get("left")?;
    let right = payload.get("right")?;
    match key {
        "==" | "!=" => {
            let literal = if is_approval_field(left, "role") {
                string_literal(right)
            } else if is_approval_field(right, "role") {
                string_literal(left)
            } else {
                None
            }?;
            Some(vec![literal.to_string()])
        }
        "contains" if is_approval_field(right, "role") => {
            let (set_key, elements) = node(left)?;
            if set_key != "Set" {
                return None;
            }
            elements
                .as_array()?
                .iter()
                .map(|e| string_literal(e).map(str::to_string))
                .collect()
        }
        _ => None,
    }
}

/// The sub-expressions of an EST node.
fn children<'a>(key: &str, payload: &'a Value) -> Vec<&'a Value> {
    match (key, payload) {
        ("Value" | "Var" | "Slot", _) => Vec::new(),
        ("Record", Value::Object(fields)) => fields.values().collect(),
        (_, Value::Array(items)) => items.iter().collect(),
        (_, Value::Object(fields)) => ["left", "right", "arg", "if", "then", "else", "in"]
            .iter()
            .filter_map(|f| fields.get(*f))
            .collect(),
        _ => Vec::new(),
    }
}

fn scan(expr: &Value, reads: &mut Reads) {
    let Some((key, payload)) = node(expr) else {
        // Not an expression this walk knows: assume the worst.
        reads.opaque_context = true;
        return;
    };
    if is_approval_field(expr, "granted") {
        reads.approval = true;
        return;
    }
    if is_approval_field(expr, "role") || is_approval(expr) {
        reads.approval = true;
        reads.role_opaque = true;
        return;
    }
    if let Some(literals) = role_comparison(key, payload) {
        reads.approval = true;
        reads.role_literals.extend(literals);
        return;
    }
    if let Some((left, _)) = get_attr(expr)
        && is_context(left)
    {
        // Some other context attribute: the same under every approval.
        return;
    }
    if key == "Var" && payload == "context" {
        reads.opaque_context = true;
        return;
    }
    for child in children(key, payload) {
        scan(child, reads);
    }
}

/// The conjuncts of a policy's conditions in evaluation order (Cedar
/// evaluates a policy as `scope && when… && !unless…`, left to right),
/// nested `&&` flattened; an `unless` body is one conjunct, negated.
fn conjuncts(est: &Value) -> Vec<(&Value, bool)> {
    fn flatten<'a>(expr: &'a Value, out: &mut Vec<(&'a Value, bool)>) {
        if let Some(("&&", payload)) = node(expr)
            && let (Some(left), Some(right)) = (payload.get("left"), payload.get("right"))
        {
            flatten(left, out);
            flatten(right, out);
        } else {
            out.push((expr, false));
        }
    }
    let mut out = Vec::new();
    let conditions = est
        .get("conditions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for condition in conditions {
        let Some(body) = condition.get("body") else {
            continue;
        };
        if condition.get("kind").and_then(Value::as_str) == Some("unless") {
            out.push((body, true));
        } else {
            flatten(body, &mut out);
        }
    }
    out
}

/// A string or boolean literal.
fn literal(expr: &Value) -> Option<&Value> {
    node(expr).and_then(|(k, v)| (k == "Value" && (v.is_string() || v.is_boolean())).then_some(v))
}

/// The boolean an expression of literals evaluates to, without error.
fn constant(expr: &Value) -> Option<bool> {
    let (key, payload) = node(expr)?;
    let side = |name: &str| payload.get(name);
    match key {
        "Value" => payload.as_bool(),
        "!" => constant(side("arg")?).map(|b| !b),
        "&&" => match constant(side("left")?)? {
            false => Some(false),
            true => constant(side("right")?),
        },
        "||" => match constant(side("left")?)? {
            true => Some(true),
            false => constant(side("right")?),
        },
        "==" | "!=" => Some((literal(side("left")?)? == literal(side("right")?)?) == (key == "==")),
        "contains" => {
            let needle = literal(side("right")?)?;
            let (set, items) = node(side("left")?)?;
            let items: Vec<&Value> = items.as_array()?.iter().map(literal).collect::<Option<_>>()?;
            (set == "Set").then(|| items.contains(&needle))
        }
        _ => None,
    }
}

/// Whether `copy` (a specialisation of `original`) is unsatisfied, without
/// error, for every request whose first evaluation was clean: some conjunct
/// of it is the constant `false`, and every conjunct before it is either a
/// constant `true` or reads no approval and comes before any that does. Such
/// a leading conjunct is the original's, and the clean first evaluation
/// evaluated it (or stopped at an earlier `false` the copy stops at too).
fn never_satisfied(original: &Value, copy: &Value) -> bool {
    let before = conjuncts(original);
    let after = conjuncts(copy);
    if before.len() != after.len() {
        return false;
    }
    let mut after_approval = false;
    for ((o, _), (c, negated)) in before.iter().zip(&after) {
        match constant(c).map(|b| b != *negated) {
            Some(false) => return true,
            Some(true) => after_approval |= o != c,
            None if o == c && !after_approval => {}
            None => return false,
        }
    }
    false
}

/// A policy's EST as a `permit` whose conditions read `role`'s approval in
/// place of `context.approval`.
fn specialise(est: &Value, role: &str) -> Value {
    let mut copy = est.clone();
    if let Some(object) = copy.as_object_mut() {
        object.insert("effect".into(), json!("permit"));
        object.insert("annotations".into(), Value::Object(Map::new()));
        if let Some(Value::Array(conditions)) = object.get_mut("conditions") {
            for condition in conditions {
                if let Some(body) = condition.get_mut("body") {
                    *body = substitute(body, role);
                }
            }
        }
    }
    copy
}

fn substitute(expr: &Value, role: &str) -> Value {
    if is_approval_field(expr, "granted") {
        return json!({ "Value": true });
    }
    if is_approval_field(expr, "role") {
        return json!({ "Value": role });
    }
    if is_approval(expr) {
        return json!({ "Record": { "granted": { "Value": true }, "role": { "Value": role } } });
    }
    let Some((key, payload)) = node(expr) else {
        return expr.clone();
    };
    let payload = match (key, payload) {
        ("Value" | "Var" | "Slot", p) => p.clone(),
        ("Record", Value::Object(fields)) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), substitute(v, role))).collect())
        }
        (_, Value::Array(items)) => Value::Array(items.iter().map(|v| substitute(v, role)).collect()),
        (_, Value::Object(fields)) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let is_expr = ["left", "right", "arg", "if", "then", "else", "in"].contains(&k.as_str());
                    (k.clone(), if is_expr { substitute(v, role) } else { v.clone() })
                })
                .collect(),
        ),
        (_, p) => p.clone(),
    };
    json!({ key: payload })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|r| r.to_string()).collect()
    }

    fn copies(text: &str, names: &[&str]) -> Option<ApprovalCopies> {
        ApprovalCopies::build(&PolicySet::from_str(text).unwrap(), &roles(names))
    }

    const SHIPPED_LIKE: &str = r#"
        permit (principal, action, resource)
        when { context.approval.granted && ["lead", "officer"].contains(context.approval.role) };
        forbid (principal, action, resource)
        unless { context.approval.granted && context.approval.role == "officer" };
        permit (principal, action, resource) when { context.safety_mode == "standard" };
    "#;

    #[test]
    fn roles_outside_the_literals_share_a_copy() {
        let c = copies(SHIPPED_LIKE, &["lead", "officer", "finance", "oncall"]).unwrap();
        // The permit for lead and for officer; the forbid for the roles
        // other than officer. The permit for the others and the forbid for
        // officer are never satisfied: three copies, not eight.
        assert_eq!(c.copies.len(), 3);
        assert_eq!(c.by_role, [vec![0, 2], vec![1], vec![2], vec![2]]);
        assert_eq!(c.sensitive.len(), 2);
        assert_eq!(c.copies_only.policies().count(), 3);
        // The approval-blind permit joins only the second set.
        assert_eq!(c.with_blind_permits.policies().count(), 4);
    }

    #[test]
    fn a_copy_is_dropped_only_when_its_false_conjunct_is_reached_without_error() {
        let roles = &["lead", "officer"];
        // `officer` fails the role test before anything else could err.
        let text = r#"permit (principal, action, resource)
            when { context.safety_mode == "x" && context.approval.granted && context.approval.role == "lead" };"#;
        assert_eq!(copies(text, roles).unwrap().by_role, [vec![0], vec![]]);
        // Without an approval the overflow was never evaluated, so under
        // `officer` it may err (and keep the role out): the copy stays.
        let text = r#"permit (principal, action, resource)
            when { context.approval.granted && context.budget.tokens_left * 9 > 0 && context.approval.role == "lead" };"#;
        assert_eq!(copies(text, roles).unwrap().by_role, [vec![0], vec![1]]);
        // A false role test inside a larger conjunct is not folded.
        let text = r#"permit (principal, action, resource)
            when { (context.safety_mode == "x" && context.approval.role == "lead") || context.safety_mode == "y" };"#;
        assert_eq!(copies(text, roles).unwrap().copies.len(), 2);
    }

    #[test]
    fn a_role_read_other_than_by_literal_gets_a_copy_per_role() {
        let text = r#"permit (principal, action, resource) when { context.approval.role like "*lead" };"#;
        let c = copies(text, &["lead", "officer", "finance"]).unwrap();
        assert_eq!(c.copies.len(), 3);
        let text = r#"permit (principal, action, resource) when { context.approval == {granted: true, role: "x"} };"#;
        assert_eq!(copies(text, &["lead", "officer", "finance"]).unwrap().copies.len(), 3);
    }

    #[test]
    fn granted_alone_needs_one_copy() {
        let text = r#"permit (principal, action, resource) when { context.approval.granted };"#;
        let c = copies(text, &["lead", "officer", "finance"]).unwrap();
        assert_eq!(c.copies.len(), 1);
    }

    #[test]
    fn context_read_as_a_whole_is_not_specialised() {
        let text = r#"permit (principal, action, resource) when { context has approval };"#;
        assert!(copies(text, &["lead"]).is_none());
        let text = r#"permit (principal, action, resource) when { context has safety_mode };"#;
        assert!(copies(text, &["lead"]).is_none());
    }

    #[test]
    fn copies_read_the_role_in_place_of_the_context() {
        let policy = Policy::parse(
            None,
            r#"forbid (principal, action, resource) unless { context.approval.granted && context.approval.role == "officer" && context.approval == context.approval };"#,
        )
        .unwrap();
        let specialised = specialise(&policy.to_json().unwrap(), "officer");
        let copy = Policy::from_json(None, specialised).unwrap().to_string();
        assert!(copy.starts_with("permit"), "{copy}");
        assert!(!copy.contains("context"), "{copy}");
        assert!(
            copy.contains(r#"true && ("officer" == "officer")"#) || copy.contains(r#"true && "officer" == "officer""#),
            "{copy}"
        );
    }
}
