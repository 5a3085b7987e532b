//! `pantau` command line: parse the arguments, run the subcommand, turn the outcome into an exit
//! code. The subcommands and their flags live in `src/cli/`, one file each.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    match cli::run(cli::Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
