//! ContextOS OpenAPI tools: the operations of an OpenAPI 3.0 or 3.1 document
//! as gateway tools, called over HTTP.
//!
//! Owns the source spec ([`OpenApiSource`]: which document, the base URL,
//! approval modes for reads and writes, timeout, response size limit, static
//! headers and the *name* of the variable holding a bearer token), reading
//! the untrusted document ([`OpenApiDocument`]: size limit, located errors,
//! at most [`MAX_OPERATIONS`] operations, local `$ref`s inlined with depth
//! and size limits, remote ones refused, nothing executed or fetched),
//! deriving one tool per operation ([`Operation`], [`contract_for`]: name
//! from `operationId`, arguments from path, query and header parameters
//! plus `body`, approval mode from the method), pinning it ([`pin`]), and
//! the gateway adapter [`OpenApiTools`], which refuses a drifted schema and
//! sends the W3C `traceparent`.
//!
//! The document model is [`oas3`]: it reads 3.1 (JSON Schema 2020-12
//! schemas, `type` arrays) where `openapiv3` reads only 3.0, and a 3.0
//! document reads as 3.1 once its two schema differences (`nullable`,
//! boolean `exclusiveMinimum`/`exclusiveMaximum`) are upgraded, which this
//! crate does first. Schemas themselves are kept as the document's raw JSON:
//! a typed schema model drops the keywords it does not know.
//!
//! It does not decide policy, approval or idempotency (the gateway in
//! `contextos-action` does, before the adapter runs), does not record
//! fixtures (the runtime's recording adapter does), does not read the
//! environment (the CLI reads the token and passes a
//! [`Secret`](contextos_core::Secret) in), and does not follow redirects or
//! fetch anything a document points at.
//!
//! An operation becomes a tool whose approval mode comes from its method:
//!
//! ```
//! use contextos_core::ApprovalMode;
//! use contextos_openapi::{OpenApiDocument, OpenApiSource, contract_for};
//!
//! let source = OpenApiSource::parse("crm.yaml", "name: crm\ndocument: crm.openapi.yaml\n")?;
//! let text = "openapi: 3.1.0\ninfo: {title: crm, version: '1'}\npaths:\n  /customers/{id}:\n    \
//!             get:\n      operationId: getCustomer\n      \
//!             parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n    \
//!             delete:\n      operationId: deleteCustomer\n      \
//!             parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n";
//! let doc = OpenApiDocument::parse(&source, "crm.openapi.yaml", text)?;
//! let get = doc.operation("getCustomer").ok_or("getCustomer")?;
//! assert_eq!(contract_for(get).approval_mode, ApprovalMode::ReadOnly);
//! let delete = doc.operation("deleteCustomer").ok_or("deleteCustomer")?;
//! assert_eq!(contract_for(delete).approval_mode, ApprovalMode::Destructive);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod document;
mod error;
mod operation;
mod schema;
mod source;
mod tools;

pub use document::{Dialect, MAX_DESCRIPTION_CHARS, MAX_OPERATIONS, MAX_PARAMETERS, OpenApiDocument};
pub use error::OpenApiError;
pub use operation::{
    BODY_ARGUMENT, HttpMethod, Operation, Parameter, ParameterLocation, ParameterStyle, RequestBody, contract_for, pin,
};
pub use schema::{MAX_REF_DEPTH, MAX_SCHEMA_DEPTH, MAX_SCHEMA_NODES};
pub use source::{MAX_RESPONSE_BYTES_LIMIT, OpenApiSource};
pub use tools::OpenApiTools;
