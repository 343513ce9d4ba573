//! The `minimax-mock` binary: parses flags, dispatches, maps errors to exit codes.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use minimax_mock::cli::{Cli, Command, ProxyArgs, ServeArgs};
use minimax_mock::validate::Status;
use minimax_mock::{proxy, server};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Proxy(args) => run_proxy(&args),
        Command::Scenarios(args) => args.listing().map(|text| print!("{text}")).map_err(Into::into),
        Command::Openapi(args) => args.document().map(|d| println!("{d}")).map_err(Into::into),
        // 1 for every failure: a health check reads 0 as healthy, 1 as not (Docker reserves 2).
        Command::Probe(args) => {
            return match args.run() {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("minimax-mock: probe: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Validate(args) => {
            return match args.run() {
                Ok(Status::Valid) => ExitCode::SUCCESS,
                Ok(Status::Invalid) => ExitCode::from(1),
                Ok(Status::Error) => ExitCode::from(2),
                Err(e) => {
                    eprintln!("minimax-mock: {e}");
                    ExitCode::from(2)
                }
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minimax-mock: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = args.config()?;
    for note in config.restore.iter().flat_map(|r| &r.notes) {
        eprintln!("minimax-mock: {note}");
    }
    if let Some(notice) = config.contract.fill_in_notice() {
        eprintln!("minimax-mock: {notice}");
    }
    let wanted = config.max_connections as u64 + 64;
    let open_files = server::http::connection::raise_open_files(wanted);
    if open_files < wanted {
        eprintln!(
            "minimax-mock: the open-file limit is {open_files}, below --max-connections {}: connections past it fail to open",
            config.max_connections
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let bound = server::bind(config).await?;
        if let Some(token) = bound.app().guard.generated_token() {
            eprintln!(
                "minimax-mock: the control API on {} needs Authorization: Bearer <token>; \
                 choose one with --control-token or {}",
                bound.url(),
                server::control::guard::TOKEN_ENV
            );
            eprintln!("minimax-mock: control token: {token}");
        }
        let stop = server::shutdown_signal();
        ready(&bound.url())?;
        bound.serve(stop).await;
        Ok(())
    })
}

/// The ready line, the first line on stdout, flushed: scripts wait for it.
fn ready(url: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "minimax-mock listening on {url}")?;
    stdout.flush()
}

fn run_proxy(args: &ProxyArgs) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let bound = proxy::bind(args.config()).await?;
        let stop = server::shutdown_signal();
        ready(&bound.url())?;
        bound.serve(stop).await;
        Ok(())
    })
}
