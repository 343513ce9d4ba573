//! The `minimax-mock` binary: parses flags, dispatches, maps errors to exit codes.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use minimax_mock::cli::{describe, Cli, Command, ServeArgs};
use minimax_mock::server;
use minimax_mock::validate::Status;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Scenarios(args) => args.catalog().map(|c| print!("{}", describe(&c))).map_err(Into::into),
        Command::Openapi(args) => args.document().map(|d| println!("{d}")).map_err(Into::into),
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
    if let Some(notice) = config.contract.fill_in_notice() {
        eprintln!("minimax-mock: {notice}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (host, port) = (config.host.clone(), config.port);
        let bound = server::bind(config)
            .await
            .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
        let stop = server::shutdown_signal();
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "minimax-mock listening on {}", bound.url())?;
        stdout.flush()?;
        drop(stdout);
        bound.serve(stop).await;
        Ok(())
    })
}
