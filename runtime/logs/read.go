package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Entry is one parsed record.
type Entry struct {
	Time    time.Time
	Stream  string
	Partial bool
	Content []byte // without the trailing newline
}

// Parse parses one record (without its newline).
func Parse(line []byte) (Entry, error) {
	var e Entry
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return e, fmt.Errorf("log record %q: no timestamp", truncate(line))
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return e, fmt.Errorf("log record %q: %w", truncate(line), err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != Stdout && string(stream) != Stderr) {
		return e, fmt.Errorf("log record %q: bad stream", truncate(line))
	}
	tag, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		// An empty full line is "... stdout F" followed by a space; accept
		// a missing one too.
		tag, content = rest, nil
	}
	switch string(tag) {
	case "F":
	case "P":
		e.Partial = true
	default:
		return e, fmt.Errorf("log record %q: bad tag %q", truncate(line), tag)
	}
	e.Time, e.Stream, e.Content = t, string(stream), content
	return e, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// ReadOptions selects what Read prints, as `kubectl logs` does.
type ReadOptions struct {
	// Tail prints only the last Tail lines; negative means all.
	Tail int64
	// Since drops lines logged before it; zero means all.
	Since time.Time
	// Timestamps prefixes each line with its RFC3339Nano time.
	Timestamps bool
	// Follow keeps reading as the file grows until Done reports true
	// (checked whenever the end of the file is reached) or the context ends.
	Follow bool
	Done   func() bool
	// Poll is how often a followed file is checked for growth; 0 means 100 ms.
	Poll time.Duration
}

// Read copies the log at path to stdout and stderr (by record stream; a nil
// stderr means both go to stdout), joining partial records.
func Read(ctx context.Context, path string, o ReadOptions, stdout, stderr io.Writer) error {
	if stderr == nil {
		stderr = stdout
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	start := int64(0)
	if o.Tail >= 0 {
		if start, err = tailOffset(f, o.Tail); err != nil {
			return err
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	p := printer{o: o, out: map[string]io.Writer{Stdout: stdout, Stderr: stderr}, partial: map[string][]byte{}, partialAt: map[string]time.Time{}}
	r := bufio.NewReaderSize(f, 64*1024)
	var pending []byte // a record not yet ended by a newline
	poll := o.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	for {
		chunk, err := r.ReadSlice('\n')
		pending = append(pending, chunk...)
		if err == nil {
			if perr := p.line(bytes.TrimSuffix(pending, []byte{'\n'})); perr != nil {
				return perr
			}
			pending = pending[:0]
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		if !o.Follow || (o.Done != nil && o.Done()) {
			// A file ending in an unterminated record is being written
			// right now; a follower that is told the writer finished
			// reads once more to get everything.
			if o.Follow {
				o.Follow = false
				continue
			}
			return p.flushPartial()
		}
		select {
		case <-ctx.Done():
			return p.flushPartial()
		case <-time.After(poll):
		}
	}
}

type printer struct {
	o       ReadOptions
	out     map[string]io.Writer
	partial map[string][]byte
	// partialAt is when each stream's pending partial line was logged.
	partialAt map[string]time.Time
}

func (p *printer) line(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	e, err := Parse(b)
	if err != nil {
		return err
	}
	if !p.o.Since.IsZero() && e.Time.Before(p.o.Since) {
		return nil
	}
	if e.Partial {
		if len(p.partial[e.Stream]) == 0 {
			p.partialAt[e.Stream] = e.Time
		}
		p.partial[e.Stream] = append(p.partial[e.Stream], e.Content...)
		return nil
	}
	content := append(p.partial[e.Stream], e.Content...)
	p.partial[e.Stream] = content[:0]
	return p.print(e.Stream, e.Time, content, true)
}

// flushPartial prints what is left of lines that never ended: the last
// output of a program that did not end it with a newline, printed without
// one.
func (p *printer) flushPartial() error {
	for _, stream := range []string{Stdout, Stderr} {
		if content := p.partial[stream]; len(content) > 0 {
			p.partial[stream] = content[:0]
			if err := p.print(stream, p.partialAt[stream], content, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *printer) print(stream string, at time.Time, content []byte, newline bool) error {
	var out []byte
	if p.o.Timestamps {
		out = at.AppendFormat(out, time.RFC3339Nano)
		out = append(out, ' ')
	}
	out = append(out, content...)
	if newline {
		out = append(out, '\n')
	}
	_, err := p.out[stream].Write(out)
	return err
}

// tailOffset finds where the last n lines begin. A line is a run of P
// records ended by an F record, so a long line counts once. It scans forward
// (a kubelet's log files are rotated at a few MiB), remembering the last n
// line starts in a ring.
func tailOffset(f *os.File, n int64) (int64, error) {
	if n == 0 {
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	}
	ring := make([]int64, n)
	count := int64(0)
	r := bufio.NewReaderSize(f, 64*1024)
	off, lineStart := int64(0), true
	for {
		rec, err := r.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			var more []byte
			more, err = r.ReadSlice('\n')
			rec = append(append([]byte(nil), rec...), more...)
		}
		if len(rec) > 0 && rec[len(rec)-1] == '\n' {
			if lineStart {
				ring[count%n] = off
				count++
			}
			e, perr := Parse(bytes.TrimSuffix(rec, []byte{'\n'}))
			lineStart = perr != nil || !e.Partial
		}
		off += int64(len(rec))
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return 0, err
			}
			break
		}
	}
	if count <= n {
		return 0, nil
	}
	return ring[count%n], nil
}
