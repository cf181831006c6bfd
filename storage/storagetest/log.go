package storagetest

import (
	"log/slog"
	"testing"

	"github.com/shepherd-lab/shepherd/internal/testlog"
)

// Logger returns a logger writing to the test's log until the test ends
// (see testlog.New).
func Logger(t testing.TB) *slog.Logger { return testlog.New(t) }
