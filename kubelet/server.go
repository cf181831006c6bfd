package kubelet

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"

	"github.com/shepherd-lab/shepherd/runtime/logs"
)

// handler serves the kubelet's HTTP API: container logs (which the
// apiserver's pods/log proxies to), health and metrics. Plain HTTP
// without authentication for now; TLS and authn come with the security
// work.
func (k *Kubelet) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(k.registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /metrics/cadvisor", promhttp.HandlerFor(k.metrics.cadvisor, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", k.serveLogs)
	return mux
}

// httpError is an error with the HTTP status the kubelet answers it with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func (k *Kubelet) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, name, ctrName := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	q := r.URL.Query()
	opts := logs.ReadOptions{Tail: -1}
	var limit int64 = -1
	err := func() error {
		var err error
		boolean := func(key string) bool {
			v := q.Get(key)
			b, perr := strconv.ParseBool(v)
			if v != "" && perr != nil {
				err = badRequest("%s=%q: not a boolean", key, v)
			}
			return b
		}
		opts.Follow, opts.Timestamps = boolean("follow"), boolean("timestamps")
		previous := boolean("previous")
		if err != nil {
			return err
		}
		if v := q.Get("tailLines"); v != "" {
			if opts.Tail, err = strconv.ParseInt(v, 10, 64); err != nil || opts.Tail < 0 {
				return badRequest("tailLines=%q: must be a non-negative integer", v)
			}
		}
		if v := q.Get("limitBytes"); v != "" {
			if limit, err = strconv.ParseInt(v, 10, 64); err != nil || limit < 1 {
				return badRequest("limitBytes=%q: must be a positive integer", v)
			}
		}
		if v := q.Get("sinceSeconds"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return badRequest("sinceSeconds=%q: must be a positive integer", v)
			}
			opts.Since = time.Now().Add(-time.Duration(n) * time.Second)
		}
		if v := q.Get("sinceTime"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return badRequest("sinceTime=%q: must be RFC 3339", v)
			}
			opts.Since = t
		}
		pod, pw := k.pods.workerFor(ns, name)
		if pod == nil {
			return &httpError{http.StatusNotFound, fmt.Sprintf("pod %q not found in namespace %q", name, ns)}
		}
		known := false
		for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for _, c := range list {
				known = known || c.Name == ctrName
			}
		}
		if !known {
			return badRequest("container %s is not valid for pod %s", ctrName, name)
		}
		if pw == nil {
			return badRequest("container %q in pod %q is not available", ctrName, name)
		}
		path, exited, err := pw.logFor(ctrName, previous)
		if err != nil {
			return err
		}
		opts.Done = func() bool {
			select {
			case <-exited:
				return true
			default:
				return false
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		var out io.Writer = flushWriter{w}
		if limit > 0 {
			out = &limitWriter{w: out, left: limit}
		}
		err = logs.Read(r.Context(), path, opts, out, nil)
		if errors.Is(err, errLimitReached) || r.Context().Err() != nil {
			return nil
		}
		return err
	}()
	if err == nil {
		return
	}
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{http.StatusInternalServerError, err.Error()}
	}
	http.Error(w, he.msg, he.code)
}

// logFor finds the log of a container's current (or previous) attempt
// and a channel closed once that attempt has exited.
func (w *podWorker) logFor(name string, previous bool) (string, <-chan struct{}, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.ctrs[name]
	podName := ""
	if w.pod != nil {
		podName = w.pod.Name
	}
	done := make(chan struct{})
	close(done)
	switch {
	case previous:
		if c == nil || c.prev == nil {
			return "", nil, badRequest("previous terminated container %q in pod %q not found", name, podName)
		}
		return c.prev.LogPath, done, nil
	case c == nil || c.cur == nil:
		reason := "ContainerCreating"
		if c != nil && c.waitReason != "" {
			reason = c.waitReason
		}
		return "", nil, badRequest("container %q in pod %q is waiting to start: %s", name, podName, reason)
	}
	if c.exited != nil && !finished(c.cur) {
		return c.cur.LogPath, c.exited, nil
	}
	return c.cur.LogPath, done, nil
}

// flushWriter sends every write to the client at once (follow).
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

var errLimitReached = errors.New("limitBytes reached")

type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		n, _ := l.w.Write(p[:l.left])
		l.left -= int64(n)
		return n, errLimitReached
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}
