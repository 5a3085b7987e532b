//! `pantau` command line: parse the arguments, run the subcommand, turn the outcome into an exit
//! code. The subcommands and their flags live in `src/cli/`, one file each.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    cli::out::default_sigpipe();
    match cli::run(cli::Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            cli::out::say(format!("error: {}", cli::out::message(&e)));
            ExitCode::FAILURE
        }
    }
}
