package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine is still running after they end, and
// then removes the benchmark's Maildirs.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if benchDir != "" {
			os.RemoveAll(benchDir)
		}
	}))
}
