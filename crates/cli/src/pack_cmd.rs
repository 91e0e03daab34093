//! `contextos pack …`: build, sign, verify, inspect and diff context packs.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use contextos_context::{
    ChangeKind, OpenedPack, PackDiff, PackInspection, PackOrigin, PackSignature, TokenCounter, artifact_bytes,
    build_pack_dir, diff_packs, inspect_pack, load_pack, newest_fetched_at, open_pack, read_built_pack, sign_pack,
    write_artifact,
};
use contextos_core::{ExitCode, Timestamp};
use contextos_trust::{Keyring, SigningKey};

use crate::config::{Using, key_list, optional_config};
use crate::output::CliError;
use crate::policy_cmd::Format;

#[derive(Debug, Subcommand)]
pub(crate) enum PackCommand {
    /// Build a pack source (a directory holding pack.yaml) into an unsigned built artifact (canonical JSON).
    #[command(after_help = "\
Examples:
  contextos pack build runtime/packs/support_escalation
  contextos pack build runtime/packs/support_escalation --out /tmp/support_escalation-18.built.json

Writes <name>-<version>.built.json next to the source directory unless --out is given,
and prints the pack id and digest. Rebuilding the same source gives the same bytes.")]
    Build {
        /// The pack source directory (or its pack.yaml).
        src: PathBuf,
        /// Where to write the built artifact.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a built artifact with an ed25519 key, producing the signed pack the runtime loads.
    #[command(after_help = "\
Example:
  contextos pack sign runtime/packs/support_escalation-18.built.json --key runtime/keys/dev.key

Writes <name>-<version>.pack.json next to the built artifact unless --out is given.")]
    Sign {
        /// The unsigned built artifact.
        built: PathBuf,
        /// The secret key file.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed pack.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a signed pack: trusted signature, canonical form, content digests. Exit 3 if it fails.
    #[command(after_help = "\
Example:
  contextos pack verify runtime/packs/support_escalation-18.pack.json
  contextos pack verify staging.pack.json --config runtime/staging.toml   # that deployment's keys
  contextos pack verify runtime/packs/support_escalation-18.pack.json --keys runtime/keys")]
    Verify {
        /// The signed pack.
        file: PathBuf,
        #[command(flatten)]
        keys: KeysArgs,
    },
    /// Show a pack's layers, owners, token counts, sources and their staleness.
    #[command(after_help = "\
Examples:
  contextos pack inspect runtime/packs/support_escalation-18.pack.json
  contextos pack inspect runtime/packs/support_escalation --now 1767225600000 --format json

FILE is a signed pack (verified against --keys), an unsigned built artifact or a source
directory. Staleness is judged at --now (milliseconds since the Unix epoch); without it,
at the pack's newest fetched_at: the command never reads the clock.")]
    Inspect {
        /// A signed pack, a built artifact or a source directory.
        file: PathBuf,
        /// Instant to judge staleness at, in ms since the Unix epoch [default: newest fetched_at].
        #[arg(long)]
        now: Option<u64>,
        /// Model whose tokenizer counts the tokens.
        #[arg(long, default_value = "gpt-4o")]
        model: String,
        #[command(flatten)]
        keys: KeysArgs,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show what changed between two packs: layers, sources and snippets added, removed or changed.
    #[command(after_help = "\
Examples:
  contextos pack diff runtime/packs/support_escalation-18.pack.json runtime/packs/support_escalation
  contextos pack diff old.pack.json new.pack.json --format json

Each side is a signed pack, a built artifact or a source directory.")]
    Diff {
        /// The old pack.
        a: PathBuf,
        /// The new pack.
        b: PathBuf,
        #[command(flatten)]
        keys: KeysArgs,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// Which keys verify a pack.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    /// Directory of trusted public keys (*.pub) [default: the config's `paths.keys`].
    #[arg(long)]
    keys: Option<PathBuf>,
    /// The deployment whose keys are trusted [default: runtime/contextos.toml].
    #[arg(long, conflicts_with = "keys")]
    config: Option<PathBuf>,
}

/// The trusted keys: `--keys`, else the config's `paths.keys` (`runtime/keys`
/// when there is no config at all); says which on stderr.
fn keyring(args: &KeysArgs) -> Result<Keyring, CliError> {
    let chosen = match &args.keys {
        Some(_) => None,
        None => optional_config(args.config.as_deref())?,
    };
    let dir = match (&args.keys, &chosen) {
        (Some(dir), _) => dir.clone(),
        (None, Some((_, config))) => config.paths.keys.clone(),
        (None, None) => PathBuf::from("runtime/keys"),
    };
    let keyring = Keyring::load_dir(&dir)?;
    match &args.keys {
        Some(dir) => eprintln!("using keys {} ({})", dir.display(), key_list(&keyring)),
        None => Using {
            config: chosen.as_ref().map(|(path, _)| path.as_path()),
            keyring: Some(&keyring),
            ..Using::default()
        }
        .print(),
    }
    Ok(keyring)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(CliError::bug)
}

pub(crate) fn run(cmd: PackCommand) -> Result<ExitCode, CliError> {
    match cmd {
        PackCommand::Build { src, out } => {
            let pack = build_pack_dir(&src)?;
            let out = out.unwrap_or_else(|| {
                let dir = if src.is_dir() {
                    src.as_path()
                } else {
                    src.parent().unwrap_or(Path::new("."))
                };
                let parent = dir.parent().unwrap_or(Path::new("."));
                parent.join(format!("{}-{}.built.json", pack.name, pack.version))
            });
            write_artifact(&out, &artifact_bytes(&pack)?)?;
            println!("built {} {}", pack.id, pack.digest()?);
            println!(
                "  wrote {} (unsigned: sign it with `contextos pack sign`)",
                out.display()
            );
            Ok(ExitCode::Success)
        }
        PackCommand::Sign { built, key, out } => {
            let pack = read_built_pack(&built)?;
            let key = SigningKey::load(&key)?;
            let envelope = sign_pack(&pack, &key)?;
            let out = out.unwrap_or_else(|| {
                built
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(format!("{}-{}.pack.json", pack.name, pack.version))
            });
            write_artifact(&out, &artifact_bytes(&envelope)?)?;
            println!("signed {} {} with {}", pack.id, pack.digest()?, key.key_id());
            println!("  wrote {}", out.display());
            Ok(ExitCode::Success)
        }
        PackCommand::Verify { file, keys } => {
            let keyring = keyring(&keys)?;
            let loaded = load_pack(&file, &keyring, &Default::default())?;
            let signer = match loaded.signature() {
                PackSignature::Verified { key_id } => key_id.as_str(),
                PackSignature::UnsignedDev => "nobody (development mode)",
            };
            println!("verified {} {} signed by {signer}", loaded.pack().id, loaded.digest());
            Ok(ExitCode::Success)
        }
        PackCommand::Inspect {
            file,
            now,
            model,
            keys,
            format,
        } => {
            let opened = open_pack(&file, &keyring(&keys)?)?;
            let counter = TokenCounter::for_model(&model)?;
            let now_given = now.is_some();
            let now = now.map_or_else(|| newest_fetched_at(&opened.pack), Timestamp);
            let inspection = inspect_pack(&opened.pack, opened.digest, &counter, now);
            match format {
                Format::Json => println!("{}", to_json(&inspection)?),
                Format::Text => print_inspection(&opened, &inspection, &model, now_given),
            }
            Ok(ExitCode::Success)
        }
        PackCommand::Diff { a, b, keys, format } => {
            let keyring = keyring(&keys)?;
            let a = open_pack(&a, &keyring)?;
            let b = open_pack(&b, &keyring)?;
            let diff = diff_packs(&a.pack, a.digest, &b.pack, b.digest);
            match format {
                Format::Json => println!("{}", to_json(&diff)?),
                Format::Text => print_diff(&diff),
            }
            Ok(ExitCode::Success)
        }
    }
}

fn origin_text(origin: &PackOrigin) -> String {
    match origin {
        PackOrigin::Signed { key_id } => format!("signed pack, verified: signed by {key_id}"),
        PackOrigin::Unsigned => "unsigned built artifact (the runtime refuses it outside development mode)".into(),
        PackOrigin::Source => "source, built in memory (not signed)".into(),
    }
}

fn print_inspection(opened: &OpenedPack, p: &PackInspection, model: &str, now_given: bool) {
    println!("pack {}", p.id);
    if !p.description.is_empty() {
        println!("  {}", p.description);
    }
    println!("  digest:   {}", p.digest);
    println!("  artifact: {}", origin_text(&opened.origin));
    println!(
        "  tokens:   {} in {} layers ({} for {model})",
        p.total_tokens,
        p.layers.len(),
        p.encoding
    );
    let basis = if now_given {
        "--now"
    } else {
        "newest fetched_at; pass --now MS to change"
    };
    println!("  now:      {} ({basis})", p.now.0);
    for layer in &p.layers {
        let mut flags = vec![format!("priority {}", layer.priority)];
        if layer.required {
            flags.push("required".into());
        }
        flags.push(format!("min {}", layer.min_tokens));
        flags.push(format!("max {}", layer.max_tokens));
        let over = if layer.tokens > layer.max_tokens {
            ", over max_tokens"
        } else {
            ""
        };
        println!();
        println!(
            "layer {} (owner {}; {}): {} tokens{over}",
            layer.layer,
            layer.owner,
            flags.join(", "),
            layer.tokens
        );
        for s in &layer.sources {
            let owner = if s.owner.is_empty() {
                "UNOWNED"
            } else {
                s.owner.as_str()
            };
            let freshness = match (s.expires_at, s.stale) {
                (None, _) => "does not expire".to_owned(),
                (Some(at), true) => format!("STALE: expired at {}", at.0),
                (Some(at), false) => format!("fresh until {}", at.0),
            };
            println!("  source {}", s.uri);
            println!(
                "    owner {owner}; fetched_at {}; {freshness}; {} tokens; {}",
                s.fetched_at.0, s.tokens, s.digest
            );
            let snippets: Vec<String> = s.snippets.iter().map(|n| format!("{} ({})", n.id, n.tokens)).collect();
            println!("    snippets: {}", snippets.join(", "));
        }
    }
}

fn print_diff(diff: &PackDiff) {
    println!(
        "diff {} ({}) -> {} ({})",
        diff.from, diff.from_digest, diff.to, diff.to_digest
    );
    if diff.changes.is_empty() {
        println!("no differences");
        return;
    }
    for c in &diff.changes {
        let sigil = match c.kind {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Changed => '~',
        };
        if c.detail.is_empty() {
            println!("{sigil} {}", c.subject);
        } else {
            println!("{sigil} {}: {}", c.subject, c.detail);
        }
    }
    println!(
        "{} change{}",
        diff.changes.len(),
        if diff.changes.len() == 1 { "" } else { "s" }
    );
}
