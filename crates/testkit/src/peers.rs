//! The MCP reference servers pinned in `tests/peers` (installed by `cargo
//! xtask test`): where their entry points are, and server-everything over
//! streamable HTTP.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::repo;

/// The entry point of the pinned peer server `@modelcontextprotocol/<package>`.
/// Fails (never skips) when the peers are not installed, saying how to install them.
pub fn entry(package: &str) -> PathBuf {
    let entry = repo()
        .join("tests/peers/node_modules/@modelcontextprotocol")
        .join(package)
        .join("dist/index.js");
    assert!(
        entry.is_file(),
        "{} is missing: the MCP peer servers are not installed; run `cargo xtask test` (it installs tests/peers)",
        entry.display()
    );
    entry
}

/// server-everything in streamable HTTP mode on a free loopback port;
/// dropping it kills the server and waits for it.
#[derive(Debug)]
pub struct HttpEverything {
    child: Child,
    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub url: String,
}

impl HttpEverything {
    /// Starts the server and returns once it listens; fails with what it said if it exits first.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let mut child = Command::new("node")
            .arg(entry("server-everything"))
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut said = String::new();
        let listening = BufReader::new(stderr).lines().map_while(Result::ok).any(|line| {
            said.push_str(&line);
            said.push('\n');
            line.contains("listening on port")
        });
        if !listening {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(
            listening,
            "server-everything (streamableHttp) exited before listening:\n{said}"
        );
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }
}

impl Drop for HttpEverything {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
