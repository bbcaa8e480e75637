use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ironbark::config::{Config, Overrides};
use ironbark::server;

#[derive(Parser)]
#[command(name = "ironbark", version, about = "Bare-metal servers behind the OpenStack APIs")]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process (migrates and bootstraps first).
    Serve,
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Create (or repair) the admin user, project, roles and catalog.
    Bootstrap,
    /// Print a service's OpenAPI document, or write every document and its
    /// Markdown reference (`--out api-ref`).
    Openapi {
        /// Write `<DIR>/openapi/<service>.json` and `<DIR>/reference/<service>.md`
        /// (with the default public URLs).
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
        /// The service to print: identity, baremetal, compute, image, network or contrail.
        #[arg(long, default_value = "baremetal")]
        service: String,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Apply pending migrations.
    Migrate,
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("IRONBARK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = Config::load(&cli.overrides)?;
    match cli.command {
        Command::Serve => {
            let prepared = server::prepare(cfg)?;
            prepared.announce()?;
            let (_handle, thread) = server::spawn(prepared)?;
            thread.join().map_err(|_| anyhow::anyhow!("server thread panicked"))?
        }
        Command::Db { command: DbCommand::Migrate } => {
            let storage = server::open_storage(&cfg)?;
            println!("database at {} is up to date ({})", cfg.database_url(), storage.backend().name());
            Ok(())
        }
        Command::Bootstrap => {
            let storage = server::open_storage(&cfg)?;
            let auth = server::authenticator(&cfg, &storage)?;
            let report = ironbark::bootstrap::run(&cfg, &storage, &auth)?;
            if let Some(p) = report.generated_password {
                println!("Generated admin password (shown once): {p}");
            }
            println!("bootstrap complete");
            Ok(())
        }
        Command::Openapi { out: Some(dir), .. } => {
            for path in ironbark::api::write_reference(&dir)? {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Openapi { out: None, service } => {
            let docs = ironbark::api::documents(&cfg);
            let (_, doc) = docs
                .iter()
                .find(|(k, _)| k.catalog_type() == service)
                .ok_or_else(|| anyhow::anyhow!("no service {service}"))?;
            println!("{}", doc.to_pretty_json()?);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    init_tracing();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ironbark: {e:#}");
            ExitCode::FAILURE
        }
    }
}
