package logs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestWriterRecords(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.now = fixedClock()
	out, errs := w.Stream(Stdout), w.Stream(Stderr)
	out.Write([]byte("hello\nwor"))
	errs.Write([]byte("oops\n"))
	out.Write([]byte("ld\n\n"))
	out.Write([]byte("no newline"))
	out.Close()
	errs.Close()
	want := "2026-11-23T10:00:01Z stdout F hello\n" +
		"2026-11-23T10:00:02Z stderr F oops\n" +
		"2026-11-23T10:00:03Z stdout F world\n" +
		"2026-11-23T10:00:04Z stdout F \n" +
		"2026-11-23T10:00:05Z stdout P no newline\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// A program's last output without a newline (`echo -n DONE`) reads back
// as it was written, with no newline added: the CRI log keeps it as a
// partial record, as containerd does, and readers print a trailing partial
// run as it is (Kubernetes' termination message from the log, `kubectl
// logs`, compare it byte for byte).
func TestUnterminatedLastLineReadsBackAsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(f)
	w.now = fixedClock()
	out, errs := w.Stream(Stdout), w.Stream(Stderr)
	out.Write([]byte("first\nDO"))
	errs.Write([]byte("warn"))
	out.Write([]byte("NE"))
	out.Close()
	errs.Close()
	f.Close()
	for _, tc := range []struct {
		name         string
		o            ReadOptions
		stdout, errw string
	}{
		{"all", ReadOptions{Tail: -1}, "first\nDONE", "warn"},
		// A trailing partial run is the last line (stdout's and stderr's
		// unterminated ends together, as the records interleave).
		{"tail 1", ReadOptions{Tail: 1}, "DONE", "warn"},
		{"tail 2", ReadOptions{Tail: 2}, "first\nDONE", "warn"},
		{"timestamps", ReadOptions{Tail: -1, Timestamps: true},
			"2026-11-23T10:00:01Z first\n2026-11-23T10:00:02Z DONE", "2026-11-23T10:00:03Z warn"},
		{"follow, the writer done", ReadOptions{Tail: -1, Follow: true, Done: func() bool { return true }}, "first\nDONE", "warn"},
	} {
		var o, e bytes.Buffer
		if err := Read(context.Background(), path, tc.o, &o, &e); err != nil {
			t.Fatal(err)
		}
		if o.String() != tc.stdout || e.String() != tc.errw {
			t.Errorf("%s: stdout %q stderr %q, want %q and %q", tc.name, o.String(), e.String(), tc.stdout, tc.errw)
		}
	}
}

func TestLongLineSplitsAndJoins(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	f, _ := os.Create(path)
	w := NewWriter(f)
	long := strings.Repeat("x", MaxLine*2+10)
	s := w.Stream(Stdout)
	s.Write([]byte("first\n" + long + "\nlast\n"))
	s.Close()
	f.Close()
	raw, _ := os.ReadFile(path)
	if got := strings.Count(string(raw), " stdout P "); got != 2 {
		t.Fatalf("%d P records, want 2", got)
	}
	var out bytes.Buffer
	if err := Read(context.Background(), path, ReadOptions{Tail: -1}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != "first\n"+long+"\nlast\n" {
		t.Fatalf("joined output differs (len %d)", out.Len())
	}
	for _, tc := range []struct {
		tail int64
		want string
	}{{0, ""}, {1, "last\n"}, {2, long + "\nlast\n"}, {3, "first\n" + long + "\nlast\n"}, {10, "first\n" + long + "\nlast\n"}} {
		out.Reset()
		if err := Read(context.Background(), path, ReadOptions{Tail: tc.tail}, &out, nil); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("tail %d: got %d bytes %.20q, want %.20q", tc.tail, out.Len(), out.String(), tc.want)
		}
	}
}

func TestReadStreamsSinceTimestamps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	content := "2026-11-23T10:00:01Z stdout F one\n" +
		"2026-11-23T10:00:02Z stderr F two\n" +
		"2026-11-23T10:00:03.5Z stdout F three\n"
	os.WriteFile(path, []byte(content), 0o600)
	var out, errs bytes.Buffer
	if err := Read(context.Background(), path, ReadOptions{Tail: -1}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if out.String() != "one\nthree\n" || errs.String() != "two\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errs.String())
	}
	out.Reset()
	since := time.Date(2026, 11, 23, 10, 0, 2, 0, time.UTC)
	if err := Read(context.Background(), path, ReadOptions{Tail: -1, Since: since, Timestamps: true}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != "2026-11-23T10:00:02Z two\n2026-11-23T10:00:03.5Z three\n" {
		t.Fatalf("got %q", out.String())
	}
}

func TestParseRejects(t *testing.T) {
	for _, line := range []string{"", "nonsense", "2026-11-23T10:00:01Z stdin F x", "2026-11-23T10:00:01Z stdout X x", "yesterday stdout F x"} {
		if _, err := Parse([]byte(line)); err == nil {
			t.Errorf("Parse(%q) succeeded", line)
		}
	}
	e, err := Parse([]byte("2026-11-23T10:00:01Z stdout F"))
	if err != nil || len(e.Content) != 0 {
		t.Fatalf("empty record: %v %q", err, e.Content)
	}
}

func TestFollowSeesAppendsUntilDone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f, _ := os.Create(path)
	w := NewWriter(f)
	s := w.Stream(Stdout)
	s.Write([]byte("before\n"))
	done := make(chan struct{})
	var finished atomic.Bool
	var out bytes.Buffer
	go func() {
		defer close(done)
		Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true, Poll: 5 * time.Millisecond, Done: func() bool { return finished.Load() }}, &out, nil)
	}()
	time.Sleep(30 * time.Millisecond)
	s.Write([]byte("after\n"))
	time.Sleep(30 * time.Millisecond)
	finished.Store(true)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not stop after Done")
	}
	if out.String() != "before\nafter\n" {
		t.Fatalf("got %q", out.String())
	}
}
