// Package testtasks holds the C task functions of the binding's tests (cgo
// is not allowed in _test.go files). Every blocking task is bounded by a
// timeout of its own, so that a failing test cannot hang a worker.
package testtasks

/*
#cgo CFLAGS: -I${SRCDIR}/../../../../include
#cgo LDFLAGS: -lfutures
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "futures.h"

// Squares an int64 argument into an int64 value.
int32_t tt_square(fut_task *t, const void *arg, size_t n) {
	if (n != sizeof(int64_t)) return EINVAL;
	int64_t x;
	memcpy(&x, arg, sizeof x);
	int64_t *v = malloc(sizeof *v);
	if (v == NULL) return ENOMEM;
	*v = x * x;
	return fut_task_set_result(t, v, sizeof *v, free) == FUT_OK ? 0 : EIO;
}

// Gives its argument bytes back (a copy: a thread pool frees the argument
// once the task returned).
int32_t tt_echo(fut_task *t, const void *arg, size_t n) {
	if (n == 0) return 0;
	void *v = malloc(n);
	if (v == NULL) return ENOMEM;
	memcpy(v, arg, n);
	return fut_task_set_result(t, v, n, free) == FUT_OK ? 0 : EIO;
}

// Fails with the int32 code in its argument and a message.
int32_t tt_fail(fut_task *t, const void *arg, size_t n) {
	int32_t code = 0;
	if (n == sizeof code) memcpy(&code, arg, sizeof code);
	fut_task_set_error(t, code, "tt_fail was asked to fail");
	return code;
}

// The worker's process id, as an int64 value.
int32_t tt_pid(fut_task *t, const void *arg, size_t n) {
	(void)arg; (void)n;
	int64_t *v = malloc(sizeof *v);
	if (v == NULL) return ENOMEM;
	*v = (int64_t)getpid();
	return fut_task_set_result(t, v, sizeof *v, free) == FUT_OK ? 0 : EIO;
}

// Crashes its worker.
int32_t tt_segv(fut_task *t, const void *arg, size_t n) {
	(void)t; (void)arg; (void)n;
	raise(SIGSEGV);
	return 99; // not reached
}

struct tt_gate { int32_t started_fd, gate_fd, timeout_ms, cooperative; };

// Writes one byte to started_fd (if >= 0), then waits until gate_fd is
// readable (success) or timeout_ms passed (failure, ETIMEDOUT). Cooperative:
// also stops, cancelled, once its future's cancellation was requested.
int32_t tt_gate(fut_task *t, const void *arg, size_t n) {
	struct tt_gate g;
	if (n != sizeof g) return EINVAL;
	memcpy(&g, arg, sizeof g);
	if (g.started_fd >= 0) {
		char one = 1;
		if (write(g.started_fd, &one, 1) != 1) return errno;
	}
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (g.cooperative && fut_task_cancel_requested(t)) return FUT_ERR_CANCELLED;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= g.timeout_ms) {
			fut_task_set_error(t, ETIMEDOUT, "the gate never opened");
			return ETIMEDOUT;
		}
		int slice = g.cooperative ? 5 : (int)(g.timeout_ms - spent);
		struct pollfd p = {.fd = g.gate_fd, .events = POLLIN};
		int r = poll(&p, 1, slice);
		if (r == 1) return 0;
		if (r < 0 && errno != EINTR) return errno;
	}
}

// An initializer that fails.
int32_t tt_init_fail(const void *arg, size_t n) {
	(void)arg; (void)n;
	return 3;
}
*/
import "C"

import (
	"encoding/binary"
	"time"

	futures "libfutures/bindings/go"
)

// Square squares an int64 (see Int64 / AsInt64).
func Square() futures.TaskFunc { return futures.TaskFunc(C.tt_square) }

// Echo gives its argument bytes back.
func Echo() futures.TaskFunc { return futures.TaskFunc(C.tt_echo) }

// Fail fails with the int32 code of its argument (Int32).
func Fail() futures.TaskFunc { return futures.TaskFunc(C.tt_fail) }

// Pid gives the process id of the process that ran it (an int64).
func Pid() futures.TaskFunc { return futures.TaskFunc(C.tt_pid) }

// Segv crashes the process that runs it with SIGSEGV.
func Segv() futures.TaskFunc { return futures.TaskFunc(C.tt_segv) }

// Gate waits for a byte on a pipe (see GateArg).
func Gate() futures.TaskFunc { return futures.TaskFunc(C.tt_gate) }

// InitFail is an initializer that fails.
func InitFail() futures.InitFunc { return futures.InitFunc(C.tt_init_fail) }

// GateArg is the argument of Gate: it writes a byte to startedFd (if >= 0)
// when it starts, then succeeds once gateFd is readable, or fails with
// ETIMEDOUT after timeout. A cooperative gate also ends cancelled once its
// future's cancellation was requested (thread pools only).
func GateArg(startedFd, gateFd int, timeout time.Duration, cooperative bool) []byte {
	b := make([]byte, 0, 16)
	coop := int32(0)
	if cooperative {
		coop = 1
	}
	for _, v := range []int32{int32(startedFd), int32(gateFd), int32(timeout.Milliseconds()), coop} {
		b = binary.NativeEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// Int64 encodes x as a task argument.
func Int64(x int64) []byte { return binary.NativeEndian.AppendUint64(nil, uint64(x)) }

// Int32 encodes x as a task argument.
func Int32(x int32) []byte { return binary.NativeEndian.AppendUint32(nil, uint32(x)) }

// AsInt64 decodes an int64 value.
func AsInt64(b []byte) int64 {
	if len(b) != 8 {
		return -1
	}
	return int64(binary.NativeEndian.Uint64(b))
}
