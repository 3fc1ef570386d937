//! `gen-header CRATE_DIR OUTPUT`: writes the C header of the crate in
//! CRATE_DIR, configured by CRATE_DIR/cbindgen.toml, to OUTPUT. The same as
//! `cbindgen --quiet --config cbindgen.toml --output OUTPUT` run in CRATE_DIR
//! with the cbindgen version pinned in this crate's Cargo.toml.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [crate_dir, output] = args.as_slice() else {
        eprintln!("usage: gen-header CRATE_DIR OUTPUT");
        return ExitCode::from(2);
    };
    let config = match cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gen-header: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cbindgen::generate_with_config(crate_dir, config) {
        Ok(bindings) => {
            bindings.write_to_file(output);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-header: {e}");
            ExitCode::FAILURE
        }
    }
}
