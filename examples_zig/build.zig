//! Builds the Zig example against libfutures. Where the header and the
//! library are: `-Dfutures-include=DIR` and `-Dfutures-lib=DIR`, else the
//! environment variables FUTURES_INCLUDE and FUTURES_LIB, else this
//! repository's `include/` and `build/cargo/release/`.
//!
//!   zig build test   builds the example, runs it and runs its tests
//!   zig build run    runs the example
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    const include_dir = b.option([]const u8, "futures-include", "Directory of futures.h") orelse
        b.graph.env_map.get("FUTURES_INCLUDE") orelse b.pathFromRoot("../include");
    const lib_dir = b.option([]const u8, "futures-lib", "Directory of libfutures.so") orelse
        b.graph.env_map.get("FUTURES_LIB") orelse b.pathFromRoot("../build/cargo/release");

    const exe = b.addExecutable(.{
        .name = "futures_example",
        .root_source_file = b.path("src/main.zig"),
        .target = target,
        .optimize = optimize,
    });
    linkFutures(exe, include_dir, lib_dir);
    b.installArtifact(exe);

    const run_exe = b.addRunArtifact(exe);
    b.step("run", "Run the example").dependOn(&run_exe.step);

    const tests = b.addTest(.{
        .root_source_file = b.path("src/main.zig"),
        .target = target,
        .optimize = optimize,
    });
    linkFutures(tests, include_dir, lib_dir);
    const run_tests = b.addRunArtifact(tests);

    const test_step = b.step("test", "Build and run the example, then run its tests");
    test_step.dependOn(&run_exe.step);
    test_step.dependOn(&run_tests.step);
}

fn linkFutures(c: *std.Build.Step.Compile, include_dir: []const u8, lib_dir: []const u8) void {
    c.addIncludePath(.{ .cwd_relative = include_dir });
    c.addLibraryPath(.{ .cwd_relative = lib_dir });
    c.addRPath(.{ .cwd_relative = lib_dir });
    c.linkSystemLibrary2("futures", .{ .use_pkg_config = .no });
    c.linkLibC();
}
