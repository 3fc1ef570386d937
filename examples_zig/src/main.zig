//! libfutures from Zig: a task written in Zig runs on a thread pool and on
//! a process pool; fut_wait waits for all of them under one deadline and
//! fut_as_completed hands them out as they completed.
const std = @import("std");
const c = @cImport({
    @cInclude("stdlib.h");
    @cInclude("futures.h");
});

const timeout_ns: i64 = 30 * std.time.ns_per_s;

/// A task for either pool (C calling convention: the library calls it, in a
/// forked worker for the process pool): squares its i64 argument.
fn square(task: ?*c.fut_task, arg: ?*const anyopaque, len: usize) callconv(.C) i32 {
    if (len != @sizeOf(i64)) return 22; // EINVAL: the future fails with this code
    const x = std.mem.bytesToValue(i64, @as([*]const u8, @ptrCast(arg.?))[0..@sizeOf(i64)]);
    const v: *i64 = @ptrCast(@alignCast(c.malloc(@sizeOf(i64)) orelse return 12));
    v.* = x * x;
    return c.fut_task_set_result(task, v, @sizeOf(i64), &c.free); // the future frees it
}

fn check(st: c.fut_status) !void {
    if (st != c.FUT_OK) {
        std.debug.print("libfutures: {s}\n", .{c.fut_status_str(st)});
        return error.Futures;
    }
}

/// Squares 1, 2 and 3 on both pools and returns the sum of the results.
pub fn run(out: anytype) !i64 {
    var threads: ?*c.fut_executor = null;
    try check(c.fut_thread_pool_new(null, &threads));
    defer c.fut_executor_release(threads); // shuts the pool down and joins it
    var opts: c.fut_process_pool_options = undefined;
    try check(c.fut_process_pool_options_init_sized(&opts, @sizeOf(c.fut_process_pool_options)));
    opts.max_workers = 2;
    var procs: ?*c.fut_executor = null;
    try check(c.fut_process_pool_new(&opts, &procs));
    defer c.fut_executor_release(procs);

    // A thread pool borrows the argument until its future is done.
    const args = [3]i64{ 1, 2, 3 };
    var futures = [_]?*c.fut_future{null} ** 6;
    defer for (futures) |f| c.fut_future_release(f);
    for (&args, 0..) |*x, i| {
        try check(c.fut_executor_submit(threads, &square, x, @sizeOf(i64), null, &futures[2 * i]));
        try check(c.fut_executor_submit(procs, &square, x, @sizeOf(i64), null, &futures[2 * i + 1]));
    }

    var n_done: usize = 0;
    try check(c.fut_wait(&futures, futures.len, timeout_ns, c.FUT_ALL_COMPLETED, null, &n_done));
    if (n_done != futures.len) return error.Timeout;

    var it: ?*c.fut_as_completed = null;
    try check(c.fut_as_completed_new(&futures, futures.len, timeout_ns, &it));
    defer c.fut_as_completed_release(it);
    var sum: i64 = 0;
    while (true) {
        var index: usize = 0;
        var f: ?*c.fut_future = null;
        const st = c.fut_as_completed_next(it, &index, &f);
        if (st == c.FUT_END) break;
        try check(st);
        defer c.fut_future_release(f);
        var value: ?*anyopaque = null;
        try check(c.fut_future_result(f, 0, &value, null));
        const v = @as(*const i64, @ptrCast(@alignCast(value.?))).*;
        try out.print("{s} pool: {d}^2 = {d}\n", .{ if (index % 2 == 0) "thread" else "process", args[index / 2], v });
        sum += v;
    }
    return sum;
}

pub fn main() !void {
    const stdout = std.io.getStdOut().writer();
    const sum = try run(stdout);
    try stdout.print("sum of squares: {d}\n", .{sum});
    if (sum != 28) return error.WrongSum;
}

test "both pools square 1, 2 and 3" {
    try std.testing.expectEqual(@as(i64, 28), try run(std.io.null_writer));
}

test "a failing task fails its future with its code" {
    var pool: ?*c.fut_executor = null;
    try check(c.fut_thread_pool_new(null, &pool));
    defer c.fut_executor_release(pool);
    var f: ?*c.fut_future = null;
    try check(c.fut_executor_submit(pool, &square, null, 0, null, &f)); // wrong length
    defer c.fut_future_release(f);
    try std.testing.expectEqual(@as(c.fut_status, c.FUT_ERR_TASK_FAILED), c.fut_future_result(f, timeout_ns, null, null));
    var info: c.fut_error_info = undefined;
    try check(c.fut_future_exception(f, 0, &info));
    try std.testing.expectEqual(@as(i32, 22), info.code);
}
