// Command quickstart squares numbers with a C task on a thread pool and on
// a process pool, collects the results as they complete under one
// deadline, and completes a promise from a goroutine.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../../../include
#include <stdlib.h>
#include <string.h>
#include "futures.h"

// A task for either pool: squares its int64 argument. Not static, so that
// Go can take its address; C only, so that a process pool can run it.
int32_t square(fut_task *task, const void *arg, size_t len) {
	int64_t x, *v = malloc(sizeof *v);
	if (len != sizeof x || v == NULL) {
		free(v);
		return 22; // EINVAL: the future fails with this code
	}
	memcpy(&x, arg, sizeof x);
	*v = x * x;
	return fut_task_set_result(task, v, sizeof *v, free); // the future frees it
}
*/
import "C"

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	futures "libfutures/bindings/go"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	square := futures.TaskFunc(C.square)

	threads, err := futures.NewThreadPool(nil)
	if err != nil {
		return err
	}
	defer threads.Close()
	procs, err := futures.NewProcessPool(&futures.ProcessPoolOptions{MaxWorkers: 2})
	if err != nil {
		return err
	}
	defer procs.Close()

	var fs []*futures.Future
	for x := int64(1); x <= 3; x++ {
		for _, pool := range []futures.Executor{threads, procs} {
			f, err := pool.Submit(square, binary.NativeEndian.AppendUint64(nil, uint64(x)))
			if err != nil {
				return err
			}
			defer f.Release()
			fs = append(fs, f)
		}
	}
	sum := int64(0)
	for f, err := range futures.AsCompleted(ctx, fs) {
		if err != nil {
			return err // the deadline passed
		}
		v, err := f.Result(ctx) // done: does not block
		if err != nil {
			return err
		}
		sum += int64(binary.NativeEndian.Uint64(v))
	}
	fmt.Fprintln(out, "sum of squares:", sum) // (1 + 4 + 9) * 2 = 28

	p, err := futures.NewPromise()
	if err != nil {
		return err
	}
	defer p.Release()
	go p.SetResult([]byte("hello from a goroutine"))
	v, err := p.Result(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "promise:", string(v))
	return nil
}
