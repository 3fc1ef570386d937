package main

import (
	"strings"
	"testing"
)

// The README shows main.go: this test builds and runs it.
func TestQuickstart(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := "sum of squares: 28\npromise: hello from a goroutine\n"
	if out.String() != want {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
}
