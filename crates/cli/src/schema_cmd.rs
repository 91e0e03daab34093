//! `contextos schema`: the JSON Schema of every kind of file a user writes.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};
use contextos_core::ExitCode;
use contextos_harness::FileKind;

use crate::output::CliError;

const SCHEMA_HELP: &str = "\
Editors check and complete a file whose first line names its schema:
  # yaml-language-server: $schema=../../../schemas/case.schema.json   (YAML)
  #:schema ../schemas/config.schema.json                              (TOML)

Examples:
  contextos schema case                    print the schema of scenario case files
  contextos schema --list                  every kind and the files it describes
  contextos schema --write schemas         write <kind>.schema.json for every kind into schemas/";

/// Print one schema, list the kinds, or write them all.
#[derive(Debug, Args)]
#[command(after_help = SCHEMA_HELP)]
#[group(id = "what", required = true, multiple = false, args = ["kind", "write", "list"])]
pub(crate) struct SchemaArgs {
    /// The kind of file whose schema to print (`scenario` is `case`).
    #[arg(value_name = "KIND")]
    kind: Option<KindArg>,
    /// Write `<kind>.schema.json` for every kind into DIR (created if missing; each file written atomically).
    #[arg(long, value_name = "DIR")]
    write: Option<PathBuf>,
    /// List every kind with the schema file and the files it describes.
    #[arg(long)]
    list: bool,
}

/// A [`FileKind`] as a command-line word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KindArg(FileKind);

const KIND_ARGS: [KindArg; FileKind::ALL.len()] = {
    let mut args = [KindArg(FileKind::Suite); FileKind::ALL.len()];
    let mut i = 0;
    while i < args.len() {
        args[i] = KindArg(FileKind::ALL[i]);
        i += 1;
    }
    args
};

impl ValueEnum for KindArg {
    fn value_variants<'a>() -> &'a [Self] {
        &KIND_ARGS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let value = PossibleValue::new(self.0.name()).help(self.0.describes());
        Some(if self.0 == FileKind::Case {
            value.alias("scenario")
        } else {
            value
        })
    }
}

pub(crate) fn schema(args: SchemaArgs) -> Result<ExitCode, CliError> {
    if let Some(KindArg(kind)) = args.kind {
        print!("{}", kind.schema_text());
    } else if let Some(dir) = args.write {
        for path in contextos_harness::write_schemas(&dir)? {
            println!("wrote {}", path.display());
        }
    } else {
        let width = FileKind::ALL.iter().map(|k| k.name().len()).max().unwrap_or(0);
        let file_width = FileKind::ALL.iter().map(|k| k.file_name().len()).max().unwrap_or(0);
        for kind in FileKind::ALL {
            println!(
                "{:width$}  {:file_width$}  {}",
                kind.name(),
                kind.file_name(),
                kind.describes()
            );
        }
    }
    Ok(ExitCode::Success)
}
