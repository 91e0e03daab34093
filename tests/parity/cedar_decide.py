#!/usr/bin/env python3
"""Decides ContextOS authorization requests with cedarpy, independently of
the project's Rust engine, for the differential test
crates/trust/tests/parity.rs.

Usage: cedar_decide.py CASES.json DECISIONS.json

CASES.json holds bundles, each with
  dir             a policy bundle directory: schema.cedarschema, contextos.generated.cedarschema
                  and *.cedar files
                  (any depth, sorted by path; a policy annotated @mode("shadow")
                  is evaluated apart and never decides)
  approver_roles  the roles to try when deriving approval_required, in order
  requests        documents {principal, action, resource, context, entities}
                  with Cedar uids as strings and context/entities as Cedar JSON

DECISIONS.json receives, per bundle, one verdict per request:
  outcome          allow | deny | approval_required
  determining      the policy ids that decided it (sorted)
  approver_roles   the roles whose approval would allow it
  shadow           [[policy_id, would_be], ...] shadow policies that would change it
  enforced_errors  number of evaluation errors of enforced policies
  shadow_errors    number of evaluation errors of shadow policies

The semantics are ContextOS's, written again from its documentation:
- any evaluation error denies (fail closed); the determining policies are then
  the erroring policies plus, if Cedar denied, its reasons;
- a clean denial without an approval is re-decided once per approver role with
  context.approval = {granted: true, role}; the roles that allow make the
  outcome approval_required, determined by the permits of those evaluations;
- shadow policies are evaluated on the request as asked: they "would deny"
  an allow or approval_required when a shadow forbid is satisfied, and "would
  allow" a deny that no enforced policy determined, when nothing erred.

Exit status: 0 decided, 2 bad input, 3 cedarpy is not installed.
"""

import json
import re
import sys
from pathlib import Path

try:
    import cedarpy
except ImportError:
    print("cedarpy is not installed: pip install -r tests/parity/requirements.txt", file=sys.stderr)
    sys.exit(3)

ERRING_POLICY = re.compile(r"^error while evaluating policy `([^`]*)`")


def policy_sets(bundle_dir):
    """The enforced and shadow policy sets of a bundle, ids taken from @id."""
    sets = {"enforce": {}, "shadow": {}}
    for path in sorted(Path(bundle_dir).rglob("*.cedar")):
        parsed = json.loads(cedarpy.policies_to_json_str(path.read_text()))
        for policy in parsed["staticPolicies"].values():
            annotations = policy.get("annotations", {})
            mode = annotations.get("mode", "enforce")
            sets[mode][annotations["id"]] = policy

    def build(policies):
        return cedarpy.PolicySet.from_json_str(
            json.dumps({"staticPolicies": policies, "templates": {}, "templateLinks": []})
        )

    return build(sets["enforce"]), build(sets["shadow"]), bool(sets["shadow"])


class Evaluation:
    def __init__(self, result):
        self.decision = result.decision
        self.reasons = sorted(result.diagnostics.reasons)
        self.errors = list(result.diagnostics.errors)
        self.erring = sorted(
            {m.group(1) for m in (ERRING_POLICY.match(e) for e in self.errors) if m}
        )


def decide(doc, enforced, shadow, has_shadow, schema, roles):
    context = dict(doc.get("context", {}))
    approval = context.get("approval", {"granted": False, "role": ""})
    granted = bool(approval.get("granted"))
    # As asked: a denied or absent approval carries no role.
    context["approval"] = {"granted": granted, "role": approval.get("role", "") if granted else ""}
    entities = cedarpy.Entities.from_json_str(json.dumps(doc.get("entities", [])), schema)

    def evaluate(policies, ctx):
        request = {
            "principal": doc["principal"],
            "action": doc["action"] if "::" in doc["action"] else f'ContextOS::Action::"{doc["action"]}"',
            "resource": doc["resource"],
            "context": ctx,
        }
        return Evaluation(cedarpy.is_authorized(request, policies, entities, schema))

    first = evaluate(enforced, context)
    if first.errors:
        outcome = "deny"
        determining = set(first.erring)
        if first.decision == cedarpy.Decision.Deny:
            determining.update(first.reasons)
        determining = sorted(determining)
    else:
        outcome = "allow" if first.decision == cedarpy.Decision.Allow else "deny"
        determining = first.reasons

    approver_roles = []
    if outcome == "deny" and not first.errors and not granted:
        permits = set()
        for role in roles:
            derived = evaluate(enforced, dict(context, approval={"granted": True, "role": role}))
            if not derived.errors and derived.decision == cedarpy.Decision.Allow:
                approver_roles.append(role)
                permits.update(derived.reasons)
        if approver_roles:
            outcome = "approval_required"
            determining = sorted(permits)

    shadow_effects = []
    shadow_errors = 0
    if has_shadow:
        s = evaluate(shadow, context)
        shadow_errors = len(s.errors)
        would_deny = s.decision == cedarpy.Decision.Deny and bool(s.reasons)
        would_allow = s.decision == cedarpy.Decision.Allow
        effect = None
        if outcome != "deny" and would_deny:
            effect = "deny"
        elif outcome == "deny" and not first.reasons and would_allow and not first.errors and not s.errors:
            effect = "allow"
        if effect:
            shadow_effects = [[policy_id, effect] for policy_id in s.reasons]

    return {
        "outcome": outcome,
        "determining": determining,
        "approver_roles": approver_roles,
        "shadow": shadow_effects,
        "enforced_errors": len(first.errors),
        "shadow_errors": shadow_errors,
    }


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    cases = json.loads(Path(sys.argv[1]).read_text())
    decided = []
    for bundle in cases["bundles"]:
        # The bundle's schema plus its generated tool actions, as one text.
        texts = [Path(bundle["dir"]) / name for name in ("schema.cedarschema", "contextos.generated.cedarschema")]
        schema = cedarpy.Schema.from_str("\n".join(p.read_text() for p in texts if p.is_file()))
        enforced, shadow, has_shadow = policy_sets(bundle["dir"])
        roles = bundle["approver_roles"]
        decided.append([decide(doc, enforced, shadow, has_shadow, schema, roles) for doc in bundle["requests"]])
    Path(sys.argv[2]).write_text(json.dumps({"bundles": decided}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
