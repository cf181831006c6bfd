package kubelet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shepherd-lab/shepherd/internal/version"
)

// Probes and lifecycle handlers behave as Kubernetes' kubelet's: the same
// defaults, result rules, request headers and failure messages, so that
// manifests, dashboards and habits carry over. The pod worker owns the
// decisions (restart on liveness failure, readiness in pod status,
// events); this file only runs probes and handlers and counts results.

// probeKind is which of a container's probes a worker runs.
type probeKind int

const (
	probeLiveness probeKind = iota
	probeReadiness
	probeStartup
)

// String is the kind as Kubernetes' events name it ("Liveness probe
// failed: ...").
func (k probeKind) String() string {
	switch k {
	case probeLiveness:
		return "Liveness"
	case probeReadiness:
		return "Readiness"
	case probeStartup:
		return "Startup"
	}
	return "probeKind(" + strconv.Itoa(int(k)) + ")"
}

// probeResult is the outcome of one probe attempt, or a probe's
// thresholded state.
type probeResult int

const (
	// probeUnknown: the probe could not be run (an attempt that errored,
	// or a startup probe not yet decided). It counts neither way.
	probeUnknown probeResult = iota
	probeSuccess
	probeFailure
)

func (r probeResult) String() string {
	switch r {
	case probeUnknown:
		return "unknown"
	case probeSuccess:
		return "success"
	case probeFailure:
		return "failure"
	}
	return "probeResult(" + strconv.Itoa(int(r)) + ")"
}

// initialProbeResult is a probe's state before its first decisive
// attempt: a container is not ready until its readiness probe succeeds,
// is alive until its liveness probe fails, and has an undecided startup.
func initialProbeResult(kind probeKind) probeResult {
	switch kind {
	case probeReadiness:
		return probeFailure
	case probeLiveness:
		return probeSuccess
	}
	return probeUnknown
}

// probeTarget tells the prober how to reach one container.
type probeTarget struct {
	// NetNS is the pod's network namespace file; "" for hostNetwork
	// pods (the kubelet's own namespace).
	NetNS string
	// Host is the default host for httpGet and tcpSocket when the probe
	// names none; "" means "127.0.0.1" (inside NetNS, the pod itself).
	Host string
	// Container resolves named ports (container.ports[].name); may be nil.
	Container *corev1.Container
	// Exec runs cmd in the container within ctx's deadline and returns
	// its exit code and output (stdout and stderr; the prober keeps at
	// most 10 KiB). err is only for failures to run it at all (the
	// container is gone, the runtime failed): a command that does not
	// exist should come back as an exit code (126, 127) with the reason
	// in output, as runtimes report it, so that it fails the probe.
	Exec func(ctx context.Context, cmd []string) (code int, output []byte, err error)
}

// maxProbeOutput bounds what is kept of a response body or command
// output, as Kubernetes' 10 KiB.
const maxProbeOutput = 10 << 10

// Defaults for a probe's fields left zero (the apiserver fills them in,
// but the kubelet does not depend on it).
const (
	defaultProbeTimeout     = 1 // seconds
	defaultProbePeriod      = 10
	defaultSuccessThreshold = 1
	defaultFailureThreshold = 3
	// maxRedirects is net/http's and Kubernetes' limit.
	maxRedirects = 10
)

func orDefault(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

// runProbe runs one attempt of p within its timeoutSeconds. It returns
// probeSuccess (with a message only for a warning: a redirect to another
// host, not followed, as Kubernetes reports with a ProbeWarning event),
// probeFailure with why, or probeUnknown when the probe could not be run
// at all (Exec errors; ctx ended), which Kubernetes counts neither way.
func runProbe(ctx context.Context, p *corev1.Probe, t probeTarget) (probeResult, string) {
	timeout := time.Duration(orDefault(p.TimeoutSeconds, defaultProbeTimeout)) * time.Second
	switch {
	case p.Exec != nil:
		return execProbe(ctx, p.Exec.Command, timeout, t)
	case p.HTTPGet != nil:
		return httpProbe(ctx, p.HTTPGet, timeout, t)
	case p.TCPSocket != nil:
		return tcpProbe(ctx, p.TCPSocket, timeout, t)
	case p.GRPC != nil:
		return grpcProbe(ctx, p.GRPC, timeout, t)
	}
	return probeUnknown, "the probe has no handler (exec, httpGet, tcpSocket or grpc)"
}

func execProbe(ctx context.Context, cmd []string, timeout time.Duration, t probeTarget) (probeResult, string) {
	if t.Exec == nil {
		return probeUnknown, "exec probes are not available for this container"
	}
	attempt, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, out, err := t.Exec(attempt, cmd)
	out = out[:min(len(out), maxProbeOutput)]
	switch {
	case err == nil && code == 0:
		return probeSuccess, ""
	case ctx.Err() != nil:
		return probeUnknown, ctx.Err().Error()
	case attempt.Err() != nil:
		// A timeout is a failure, as Kubernetes' since ExecProbeTimeout.
		return probeFailure, fmt.Sprintf("command %q timed out", strings.Join(cmd, " "))
	case err != nil:
		return probeUnknown, fmt.Sprintf("command %q: %v", strings.Join(cmd, " "), err)
	case len(out) == 0:
		// Kubernetes' message would be the (empty) output; say something.
		return probeFailure, fmt.Sprintf("command %q exited with %d", strings.Join(cmd, " "), code)
	}
	return probeFailure, string(out)
}

func httpProbe(ctx context.Context, h *corev1.HTTPGetAction, timeout time.Duration, t probeTarget) (probeResult, string) {
	req, err := newHTTPGetRequest(ctx, h, t, "kube-probe/"+kubeMinorVersion())
	if err != nil {
		return probeFailure, err.Error()
	}
	tr := newProbeTransport(t)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: sameHostRedirects}
	res, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return probeUnknown, err.Error()
		}
		return probeFailure, err.Error()
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxProbeOutput))
	if err != nil && res.StatusCode < http.StatusBadRequest {
		return probeFailure, fmt.Sprintf("read response from %s: %v", req.URL, err)
	}
	switch {
	case res.StatusCode >= http.StatusOK && res.StatusCode < http.StatusMultipleChoices:
		return probeSuccess, ""
	case res.StatusCode >= http.StatusMultipleChoices && res.StatusCode < http.StatusBadRequest:
		// Only a redirect to another host comes back unfollowed.
		return probeSuccess, "Probe terminated redirects, Response body: " + string(body)
	}
	return probeFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode)
}

func tcpProbe(ctx context.Context, a *corev1.TCPSocketAction, timeout time.Duration, t probeTarget) (probeResult, string) {
	port, err := resolvePort(a.Port, t.Container)
	if err != nil {
		return probeFailure, err.Error()
	}
	attempt, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := dialInNetns(attempt, t.NetNS, "tcp", net.JoinHostPort(targetHost(a.Host, t), strconv.Itoa(port)))
	if err != nil {
		if ctx.Err() != nil {
			return probeUnknown, err.Error()
		}
		return probeFailure, err.Error()
	}
	c.Close()
	return probeSuccess, ""
}

func targetHost(host string, t probeTarget) string {
	switch {
	case host != "":
		return host
	case t.Host != "":
		return t.Host
	}
	return "127.0.0.1"
}

// resolvePort gives a probe's or handler's port number: a number, or the
// name of one of the container's ports (a number in a string also works,
// as in Kubernetes).
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	var port int
	switch p.Type {
	case intstr.Int:
		port = int(p.IntVal)
	case intstr.String:
		found := false
		if c != nil {
			for _, cp := range c.Ports {
				if cp.Name == p.StrVal {
					port, found = int(cp.ContainerPort), true
					break
				}
			}
		}
		if !found {
			n, err := strconv.Atoi(p.StrVal)
			if err != nil {
				if c != nil {
					return 0, fmt.Errorf("port %q not found in container %q's ports", p.StrVal, c.Name)
				}
				return 0, fmt.Errorf("port %q not found", p.StrVal)
			}
			port = n
		}
	default:
		return 0, fmt.Errorf("port %v: neither a number nor a name", p)
	}
	if port < 1 || port > 65535 {
		return 0, fmt.Errorf("invalid port number: %d", port)
	}
	return port, nil
}

// newHTTPGetRequest builds the GET of an httpGet probe or handler as
// Kubernetes does: scheme, host (the target's by default), port, path with
// its query, the given headers (a Host header sets the request's host),
// then User-Agent and "Accept: */*" unless given (an empty Accept removes
// it).
func newHTTPGetRequest(ctx context.Context, h *corev1.HTTPGetAction, t probeTarget, userAgent string) (*http.Request, error) {
	scheme := strings.ToLower(string(h.Scheme))
	switch scheme {
	case "":
		scheme = "http"
	case "http", "https":
	default:
		return nil, fmt.Errorf("unsupported scheme %q", h.Scheme)
	}
	port, err := resolvePort(h.Port, t.Container)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(h.Path)
	if err != nil {
		// Too late to reject a path the apiserver took: send it as is.
		u = &url.URL{Path: h.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(targetHost(h.Host, t), strconv.Itoa(port))
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for _, hdr := range h.HTTPHeaders {
		req.Header.Add(hdr.Name, hdr.Value)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", userAgent)
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "*/*")
	} else if req.Header.Get("Accept") == "" {
		req.Header.Del("Accept")
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	req.Header.Del("Host")
	return req, nil
}

// newProbeTransport dials through the target's network namespace, one
// connection a request (no keep-alive: a probe's connection is not worth
// keeping for ten seconds), without a proxy, compression or certificate
// verification (Kubernetes' probes verify nothing). Callers close it.
func newProbeTransport(t probeTarget) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialInNetns(ctx, t.NetNS, network, addr)
		},
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
}

// sameHostRedirects follows redirects to the same host (any port), as
// Kubernetes' probes do; a redirect elsewhere ends with the redirect
// response itself.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// kubeMinorVersion is "<major>.<minor>" of the Kubernetes version Shepherd
// reports ("1.32"), for the User-Agent of probes and hooks.
func kubeMinorVersion() string {
	v := strings.TrimPrefix(version.GitVersion(), "v")
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	return major + "." + minor
}

// runProbeWorker runs one probe of one container until ctx ends; a
// startup probe also ends once it has succeeded, as Kubernetes stops
// probing startup then. (A failed liveness or startup probe goes on: the
// pod worker decides what a failure means and ends the worker with the
// container.)
//
// The first attempt is initialDelaySeconds after started, then one every
// periodSeconds (an attempt that overruns its period is followed at once
// by the next). The result starts as initialProbeResult(kind) and changes
// only after successThreshold consecutive successes or failureThreshold
// consecutive failures; attempts that return probeUnknown count neither
// way and do not break a run.
//
// report is called from the worker's goroutine (never concurrently) with
// the attempt's result r and message: on every attempt that changes the
// result (changed is true, and r is then the new result), on every failed
// or unknown attempt (for the `Unhealthy` event: "<kind> probe failed:
// msg" or "errored"), and on every success with a message (a warning, for
// the `ProbeWarning` event).
func runProbeWorker(ctx context.Context, kind probeKind, p *corev1.Probe, started time.Time, t probeTarget, report func(r probeResult, msg string, changed bool)) {
	period := time.Duration(orDefault(p.PeriodSeconds, defaultProbePeriod)) * time.Second
	if d := time.Until(started.Add(time.Duration(p.InitialDelaySeconds) * time.Second)); d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	state := newProbeState(kind, p)
	for {
		r, msg := runProbe(ctx, p, t)
		if ctx.Err() != nil {
			return
		}
		changed := state.observe(r)
		if changed || r != probeSuccess || msg != "" {
			report(r, msg, changed)
		}
		if changed && kind == probeStartup && r == probeSuccess {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probeState is a probe's thresholded result, as Kubernetes counts it.
type probeState struct {
	result     probeResult
	last       probeResult // of the current run of equal decisive attempts
	run        int
	thresholds map[probeResult]int
}

func newProbeState(kind probeKind, p *corev1.Probe) *probeState {
	return &probeState{
		result: initialProbeResult(kind),
		thresholds: map[probeResult]int{
			probeSuccess: int(orDefault(p.SuccessThreshold, defaultSuccessThreshold)),
			probeFailure: int(orDefault(p.FailureThreshold, defaultFailureThreshold)),
		},
	}
}

// observe counts one attempt's result and says whether the probe's result
// changed (to r). probeUnknown counts neither way and breaks no run.
func (s *probeState) observe(r probeResult) (changed bool) {
	if r == probeUnknown {
		return false
	}
	if r == s.last {
		s.run++
	} else {
		s.last, s.run = r, 1
	}
	if s.run >= s.thresholds[r] && r != s.result {
		s.result = r
		return true
	}
	return false
}

// runHandler runs a postStart or preStop handler to its end or until ctx
// ends: exec (a non-zero exit is an error carrying the output), httpGet
// (any response is done; only failing to get one is an error), sleep
// (ended early by ctx, which is an error as in Kubernetes). tcpSocket is
// deprecated and, as in Kubernetes, not supported: the hook fails.
func runHandler(ctx context.Context, h *corev1.LifecycleHandler, t probeTarget) error {
	switch {
	case h.Exec != nil:
		if t.Exec == nil {
			return errors.New("exec handlers are not available for this container")
		}
		cmd := strings.Join(h.Exec.Command, " ")
		code, out, err := t.Exec(ctx, h.Exec.Command)
		if err != nil {
			return fmt.Errorf("command '%s': %w", cmd, err)
		}
		if code != 0 {
			out = out[:min(len(out), maxProbeOutput)]
			return fmt.Errorf("command '%s' exited with %d: %s", cmd, code, out)
		}
		return nil
	case h.HTTPGet != nil:
		req, err := newHTTPGetRequest(ctx, h.HTTPGet, t, "kube-lifecycle/"+kubeMinorVersion())
		if err != nil {
			return err
		}
		tr := newProbeTransport(t)
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr, CheckRedirect: sameHostRedirects}).Do(req)
		if err != nil {
			return err
		}
		// Read a little of the body so the handler sees its response
		// taken, then hang up.
		io.Copy(io.Discard, io.LimitReader(res.Body, maxProbeOutput))
		res.Body.Close()
		return nil
	case h.Sleep != nil:
		timer := time.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("container terminated before sleep hook finished: %w", ctx.Err())
		case <-timer.C:
			return nil
		}
	case h.TCPSocket != nil:
		return errors.New("invalid handler: tcpSocket is not supported as a lifecycle handler")
	}
	return errors.New("invalid handler: no exec, httpGet or sleep action")
}
