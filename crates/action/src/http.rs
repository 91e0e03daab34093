//! HTTP for the live transports (OpenAPI tools, the live model, MCP over
//! streamable HTTP): one way to build a client, TLS through rustls with the
//! ring provider, no redirects, and bounded response bodies.

use std::io::Read;
use std::time::Duration;

/// Installs ring as the process's rustls provider (reqwest is built without
/// one); a provider installed earlier stays.
pub fn install_tls_provider() {
    // `Err` means a provider is already installed, which is the goal.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn user_agent() -> &'static str {
    concat!("contextos/", env!("CARGO_PKG_VERSION"))
}

/// A blocking client whose requests end after `timeout` (connect included).
/// Redirects are not followed: a tool endpoint or model API that moves is a
/// configuration change to make on purpose, not a hop to take silently with
/// the credentials attached.
///
/// Must not be built or used inside an async runtime (reqwest's blocking
/// client runs its own).
pub fn blocking_client(timeout: Duration) -> Result<reqwest::blocking::Client, String> {
    install_tls_provider();
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// An async client with the same settings, for transports that run on tokio
/// (rmcp's streamable HTTP client).
pub fn async_client(timeout: Duration) -> Result<reqwest::Client, String> {
    install_tls_provider();
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Reads a body of at most `max` bytes; a longer one is refused, not cut, so
/// a result is either whole or an error.
pub fn read_limited(body: impl Read, max: usize) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    body.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading the response body failed: {e}"))?;
    if bytes.len() > max {
        return Err(format!("the response body is larger than the limit of {max} bytes"));
    }
    Ok(bytes)
}

/// An error with its causes, `: `-separated, each cause shown once (HTTP
/// client errors repeat their cause in their own message).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}

/// Checks an endpoint named in configuration (`field` names it in messages):
/// plain `http(s)://host...`, no credentials (they would travel into messages
/// and records; `credential_hint` says where they belong instead), no
/// whitespace, and no query or fragment unless `allow_query` (a base URL
/// takes a path suffix).
pub fn check_endpoint(field: &str, url: &str, credential_hint: &str, allow_query: bool) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("`{field}` must start with http:// or https://, got {url:?}"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("`{field}` {url:?} has no host"));
    }
    if authority.contains('@') {
        return Err(format!("`{field}` must not carry credentials; {credential_hint}"));
    }
    if !allow_query && url.contains(['?', '#']) {
        return Err(format!("`{field}` {url:?} must not have a query or fragment"));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(format!("`{field}` {url:?} contains whitespace"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_plain_http_urls_without_credentials() {
        let check = |url: &str| check_endpoint("url", url, "use a variable", false);
        assert!(check("https://api.example/v1").is_ok());
        for (bad, why) in [
            ("ftp://h/x", "http:// or https://"),
            ("http:///x", "no host"),
            ("http://u:p@h/x", "credentials; use a variable"),
            ("http://h/x?a=1", "query or fragment"),
            ("http://h/x y", "whitespace"),
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(check_endpoint("url", "http://h/x?a=1", "", true).is_ok());
    }

    #[test]
    fn bodies_over_the_limit_are_refused_not_cut() {
        assert_eq!(read_limited(&b"hello"[..], 5).as_deref(), Ok(&b"hello"[..]));
        let err = read_limited(&b"hello!"[..], 5).unwrap_err();
        assert!(err.contains("limit of 5 bytes"), "{err}");
    }

    #[test]
    fn clients_build_with_the_ring_provider() {
        assert!(blocking_client(Duration::from_secs(1)).is_ok());
        assert!(async_client(Duration::from_secs(1)).is_ok());
    }
}
