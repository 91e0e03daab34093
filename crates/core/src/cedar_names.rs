//! The Cedar names the runtime owns.
//!
//! Every entity type and action the runtime sends to Cedar lives in the
//! [`NAMESPACE`] namespace; a deployment's own schema declares its types in
//! a namespace of its own and may extend the built-in entities through the
//! `<Type>Attributes` record types (see `contextos-trust`). These are the
//! only places the names are spelled.

/// The namespace of the runtime's built-in Cedar types and actions.
pub const NAMESPACE: &str = "ContextOS";
/// A tenant.
pub const TENANT: &str = "ContextOS::Tenant";
/// A human user the agent acts for.
pub const USER: &str = "ContextOS::User";
/// An agent: the principal of every request.
pub const AGENT: &str = "ContextOS::Agent";
/// A tool, as pinned by its contract.
pub const TOOL: &str = "ContextOS::Tool";
/// A context pack.
pub const PACK: &str = "ContextOS::Pack";
/// A layer of a context pack.
pub const LAYER: &str = "ContextOS::Layer";
/// A memory proposal.
pub const MEMORY: &str = "ContextOS::Memory";
/// The entity type of every action.
pub const ACTION: &str = "ContextOS::Action";
/// The action group every tool's own action belongs to.
pub const CALL_TOOL: &str = "call_tool";

/// A uid as people read it in sentences and tables: the runtime's own
/// namespace is implied (`Tool::"issue_refund"`), any other is kept.
///
/// ```
/// use contextos_core::cedar_names::shown;
/// assert_eq!(shown(r#"ContextOS::Tool::"issue_refund""#), r#"Tool::"issue_refund""#);
/// assert_eq!(shown(r#"Ops::Team::"payments""#), r#"Ops::Team::"payments""#);
/// ```
pub fn shown(uid: &str) -> &str {
    uid.strip_prefix(NAMESPACE)
        .and_then(|rest| rest.strip_prefix("::"))
        .unwrap_or(uid)
}
