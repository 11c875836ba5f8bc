//! Commands of the `syncwatch` binary that live in their own files: each parses nothing (clap
//! did), calls the library, prints, and returns an exit code. `main.rs` dispatches to them.

pub mod doctor;
