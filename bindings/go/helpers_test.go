package futures_test

import (
	"context"
	"os"
	"testing"
	"time"
)

// Every wait of the tests is bounded by this (generous: the suite must pass
// on a busy 2-core machine); tasks that block give up after taskTimeout.
const (
	testTimeout = 60 * time.Second
	taskTimeout = 90 * time.Second
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// gate is a pair of pipes: tasks announce that they started on one and wait
// for a byte on the other. Create it before a process pool, so that the
// workers inherit the descriptors.
type gate struct {
	startedR, startedW *os.File
	gateR, gateW       *os.File
}

func newGate(t *testing.T) *gate {
	t.Helper()
	g := &gate{}
	var err error
	if g.startedR, g.startedW, err = os.Pipe(); err != nil {
		t.Fatal(err)
	}
	if g.gateR, g.gateW, err = os.Pipe(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, f := range []*os.File{g.startedR, g.startedW, g.gateR, g.gateW} {
			f.Close()
		}
	})
	return g
}

func (g *gate) startedFd() int { return int(g.startedW.Fd()) }
func (g *gate) gateFd() int    { return int(g.gateR.Fd()) }

// waitStarted waits until n tasks announced that they started.
func (g *gate) waitStarted(t *testing.T, n int) {
	t.Helper()
	if err := g.startedR.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	for got := 0; got < n; {
		k, err := g.startedR.Read(buf[got:])
		if err != nil {
			t.Fatalf("waiting for %d task(s) to start: %v", n, err)
		}
		got += k
	}
}

// open lets every waiting task (and later ones) through.
func (g *gate) open(t *testing.T) {
	t.Helper()
	if _, err := g.gateW.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
}
