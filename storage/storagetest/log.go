package storagetest

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Logger returns a logger writing to the test's log (debug level and up)
// until the test ends; later lines (from goroutines still stopping) are
// dropped rather than logged after the test, which testing forbids. Create
// it before the things that log, so it is silenced after they stop.
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}
