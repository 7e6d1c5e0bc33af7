//! `natsbridge codegen`: a team's AsyncAPI document into one package per language, through
//! the generator engine (`natsbridge-codegen`) that `cargo xtask codegen` uses too.

use std::path::PathBuf;
use std::process::ExitCode;

use natsbridge_codegen::{Rustfmt, api, write_or_check_owned};

use crate::CliResult;

/// Exit status of `--check` when the output is stale (1 is a plain error), as in
/// `cargo xtask codegen --check`.
const NEEDS_UPDATE: u8 = 2;

#[derive(Debug, clap::Args)]
pub(crate) struct CodegenArgs {
    /// The spec: an AsyncAPI 3.0 file, or a directory holding `asyncapi.yaml` (payload
    /// schemas may be `#/components/schemas/...` or `*.schema.json` files beside it).
    #[arg(long, value_name = "DIR|FILE")]
    spec: PathBuf,
    /// Where to write: one directory per language (`rust/`, `typescript/`, `python/`, `julia/`).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Languages to write (comma-separated); default: all four.
    #[arg(long, value_delimiter = ',', value_parser = ["rust", "typescript", "python", "julia"])]
    lang: Vec<String>,
    /// Write nothing: exit 2 and print a diff when what is in --out differs from what the
    /// spec generates (a file the generator no longer writes counts too).
    #[arg(long)]
    check: bool,
    /// Package version (default: the spec's `info.version`).
    #[arg(long)]
    version: Option<String>,
    /// A package name, as LANG=NAME (repeatable; default: `info.x-natsbridge-packages`,
    /// else derived from `info.title`).
    #[arg(long = "name", value_name = "LANG=NAME", value_parser = lang_name)]
    names: Vec<(String, String)>,
    /// Depend on the runtimes of a NATSBridge checkout at DIR (path dependencies) instead
    /// of the registries' runtimes of this binary's own version (crates.io `natsbridge`, npm
    /// `@natsbridge/client`, PyPI `natsbridge`).
    #[arg(long, value_name = "DIR")]
    runtime_checkout: Option<PathBuf>,
    /// How channel addresses become NATS subjects: `nats` (they are subjects: tokens
    /// separated by `.`; an address with `/` is refused) or `slash` (addresses written for
    /// MQTT, Kafka or HTTP: `/` becomes `.`, leading and trailing `/` dropped).
    #[arg(long, value_enum, default_value_t = AddressStyle::Nats)]
    address_style: AddressStyle,
}

/// `--address-style`, shared with `natsbridge diff`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum AddressStyle {
    Nats,
    Slash,
}

impl AddressStyle {
    /// The loader's options for this style.
    pub(crate) fn load_options(self) -> api::LoadOptions {
        api::LoadOptions {
            address_style: match self {
                AddressStyle::Nats => api::AddressStyle::Nats,
                AddressStyle::Slash => api::AddressStyle::Slash,
            },
        }
    }
}

fn lang_name(s: &str) -> Result<(String, String), String> {
    let (lang, name) = s.split_once('=').ok_or("use LANG=NAME, e.g. rust=my-api")?;
    if !api::LANGUAGES.contains(&lang) {
        return Err(format!("unknown language `{lang}` (one of {})", api::LANGUAGES.join(", ")));
    }
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    Ok((lang.to_owned(), name.to_owned()))
}

pub(crate) fn run(args: CodegenArgs) -> CliResult {
    let load = args.address_style.load_options();
    let spec =
        api::Spec::load_with(&args.spec, &load).map_err(|e| format!("{}: {e:#}", args.spec.display()))?;
    let mut options = api::Options::from_spec(&spec);
    if !args.lang.is_empty() {
        options.languages = args.lang.clone();
    }
    if let Some(version) = args.version {
        options.version = version;
    }
    for (lang, name) in args.names {
        options.names.insert(lang, name);
    }
    if let Some(root) = &args.runtime_checkout {
        let root = std::path::absolute(root)?;
        options = options.runtimes_from_checkout(&root.to_string_lossy());
    }
    let files = api::generate(&spec, &options, &Rustfmt::default()).map_err(|e| format!("{e:#}"))?;
    let owned: Vec<&str> = options.languages.iter().map(String::as_str).collect();
    let report = write_or_check_owned(&args.out, &files, args.check, &owned).map_err(|e| format!("{e:#}"))?;
    if !report.stale.is_empty() {
        print!("{}", report.diff);
        eprintln!(
            "error: {} generated file(s) in {} are stale: {}\nrun `natsbridge codegen` without --check",
            report.stale.len(),
            args.out.display(),
            report.stale.join(", ")
        );
        return Ok(ExitCode::from(NEEDS_UPDATE));
    }
    if args.check {
        eprintln!("{} is up to date with {}", args.out.display(), args.spec.display());
    } else {
        eprintln!(
            "wrote {} file(s) of {} {} ({}) to {}",
            report.written.len(),
            spec.title,
            options.version,
            options.languages.join(", "),
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
