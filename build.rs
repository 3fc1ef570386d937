//! Link-time settings of the C library.
//!
//! The shared library's SONAME carries the ABI major version:
//! `libfutures.so.<major>`, where `<major>` is the crate's major version
//! (`0` for every 0.x release). CMake installs the file as
//! `libfutures.so.<major>.<minor>.<patch>` with the symlinks
//! `libfutures.so.<major>` and `libfutures.so`, and leaves the
//! `libfutures.so.<major>` link beside cargo's output for the build tree.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let major =
        std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // Only ELF platforms know -soname; the project targets Linux.
    if target_os == "linux" || target_os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libfutures.so.{major}");
    }
}
