// Package logs writes and reads container logs in the Kubernetes CRI log
// format, one record per line:
//
//	2026-11-23T22:31:04.123456789Z stdout F hello world
//
// The tag is F for a full line and P for a partial one: a line longer than
// MaxLine is split into P records and ends with an F record. An unterminated
// last fragment is written as P when its stream closes, as containerd does,
// so that readers give it back without a newline the program never wrote
// (`echo -n DONE` logs "DONE"). Readers join P records up to the next F
// record, and print a trailing run of P records as it is.
// This is the format kubelets read and `kubectl logs` expects to see through
// them; this package imports only the standard library because the
// container monitor, whose start-up time matters, writes through it.
package logs

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// MaxLine is the longest record content; longer lines are split into P
// records of this size (the CRI's 16 KiB).
const MaxLine = 16 * 1024

// Stream names as they appear in a record.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Writer serialises records from several streams into one file. Records are
// written whole, one Write call each, so streams interleave only between
// records.
type Writer struct {
	mu  sync.Mutex
	out io.Writer
	now func() time.Time
	err error
}

// NewWriter writes records to out (typically an O_APPEND file).
func NewWriter(out io.Writer) *Writer {
	return &Writer{out: out, now: time.Now}
}

// Stream returns the writer for one stream. Close flushes an unterminated
// last line.
func (w *Writer) Stream(name string) io.WriteCloser {
	return &streamWriter{w: w, name: name}
}

// Err reports the first error writing to the underlying file.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) record(stream string, tag byte, content []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	b := make([]byte, 0, len(content)+len(stream)+40)
	b = w.now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, ' ', tag, ' ')
	b = append(b, content...)
	b = append(b, '\n')
	_, w.err = w.out.Write(b)
}

type streamWriter struct {
	w    *Writer
	name string
	buf  []byte // an unterminated line, shorter than MaxLine
}

func (s *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		s.buf = append(s.buf, seg...)
		// A full line of exactly MaxLine stays one F record; an
		// unterminated one that long is emitted as P now.
		for len(s.buf) > MaxLine || (i < 0 && len(s.buf) == MaxLine) {
			s.w.record(s.name, 'P', s.buf[:MaxLine])
			s.buf = append(s.buf[:0], s.buf[MaxLine:]...)
		}
		if i >= 0 {
			s.flushFull()
		}
	}
	if err := s.w.Err(); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *streamWriter) flushFull() {
	s.w.record(s.name, 'F', s.buf)
	s.buf = s.buf[:0]
}

func (s *streamWriter) Close() error {
	if len(s.buf) > 0 {
		s.w.record(s.name, 'P', s.buf)
		s.buf = s.buf[:0]
	}
	return s.w.Err()
}
