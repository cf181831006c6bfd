package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// probeNet is where a network probe's server runs: in the kubelet's own
// namespace (a hostNetwork pod) or in a pod's network namespace (root).
type probeNet struct {
	ns string // "" for the host
}

// forEachNet runs f for a hostNetwork target and, as root, for a target
// in a fresh pod network namespace.
func forEachNet(t *testing.T, f func(t *testing.T, pn probeNet)) {
	t.Run("host", func(t *testing.T) { f(t, probeNet{}) })
	t.Run("netns", func(t *testing.T) { f(t, probeNet{ns: newTestNetns(t)}) })
}

func (pn probeNet) listen(t *testing.T) net.Listener {
	t.Helper()
	if pn.ns != "" {
		return listenInNetns(t, pn.ns)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serve runs h on a listener of the namespace; tls makes it HTTPS with a
// self-signed certificate.
func (pn probeNet) serve(t *testing.T, h http.Handler, tls bool) (port int) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = pn.listen(t)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// closedPort is a port nothing listens on in the namespace.
func (pn probeNet) closedPort(t *testing.T) int {
	ln := pn.listen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func (pn probeNet) target() probeTarget {
	return probeTarget{NetNS: pn.ns, Host: "127.0.0.1"}
}

func httpGetProbe(port intstr.IntOrString, path string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: port, Path: path}}, TimeoutSeconds: 5}
}

func TestProbeHTTPGet(t *testing.T) {
	forEachNet(t, func(t *testing.T, pn probeNet) {
		var mu sync.Mutex
		var got []*http.Request
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
			switch r.URL.Path {
			case "/ok":
				fmt.Fprint(w, "fine")
			case "/fail":
				http.Error(w, "broken", http.StatusInternalServerError)
			case "/to-ok":
				http.Redirect(w, r, "/ok", http.StatusFound)
			case "/to-fail":
				http.Redirect(w, r, "/fail", http.StatusFound)
			case "/elsewhere":
				w.Header().Set("Location", "http://other.invalid/healthz")
				w.WriteHeader(http.StatusFound)
				fmt.Fprint(w, strings.Repeat("x", 100<<10))
			case "/loop":
				http.Redirect(w, r, "/loop", http.StatusFound)
			case "/slow":
				<-r.Context().Done() // until the prober hangs up
			default:
				http.NotFound(w, r)
			}
		})
		port := pn.serve(t, mux, false)
		tlsPort := pn.serve(t, mux, true)
		refused := pn.closedPort(t)
		hostPort := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }

		for _, tc := range []struct {
			name    string
			probe   *corev1.Probe
			want    probeResult
			msg     string // exact, or a regexp when it starts with ^
			reached []string
		}{
			{"200", httpGetProbe(intstr.FromInt32(int32(port)), "/ok"), probeSuccess, "", []string{"/ok"}},
			{"302 same host is followed", httpGetProbe(intstr.FromInt32(int32(port)), "/to-ok"), probeSuccess, "", []string{"/to-ok", "/ok"}},
			{"302 same host to a failure", httpGetProbe(intstr.FromInt32(int32(port)), "/to-fail"), probeFailure,
				"HTTP probe failed with statuscode: 500", []string{"/to-fail", "/fail"}},
			{"302 elsewhere is a warning", httpGetProbe(intstr.FromInt32(int32(port)), "/elsewhere"), probeSuccess,
				"Probe terminated redirects, Response body: " + strings.Repeat("x", 10<<10), []string{"/elsewhere"}},
			{"redirect loop", httpGetProbe(intstr.FromInt32(int32(port)), "/loop"), probeFailure,
				`^Get "/loop": stopped after 10 redirects$`, nil},
			{"500", httpGetProbe(intstr.FromInt32(int32(port)), "/fail"), probeFailure, "HTTP probe failed with statuscode: 500", []string{"/fail"}},
			{"404", httpGetProbe(intstr.FromInt32(int32(port)), "/nothing"), probeFailure, "HTTP probe failed with statuscode: 404", []string{"/nothing"}},
			{"refused", httpGetProbe(intstr.FromInt32(int32(refused)), "/healthz"), probeFailure,
				fmt.Sprintf(`Get "http://%s/healthz": dial tcp %[1]s: connect: connection refused`, hostPort(refused)), nil},
			{"https without verification", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Port: intstr.FromInt32(int32(tlsPort)), Path: "/ok", Scheme: corev1.URISchemeHTTPS}}}, probeSuccess, "", []string{"/ok"}},
			{"timeout", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Port: intstr.FromInt32(int32(port)), Path: "/slow"}}, TimeoutSeconds: 1}, probeFailure,
				fmt.Sprintf(`^Get "http://%s/slow": .*(Client.Timeout exceeded|deadline exceeded)`, regexp.QuoteMeta(hostPort(port))), []string{"/slow"}},
			{"port 0", httpGetProbe(intstr.FromInt32(0), "/ok"), probeFailure, "invalid port number: 0", nil},
			{"port 65536", httpGetProbe(intstr.FromInt32(65536), "/ok"), probeFailure, "invalid port number: 65536", nil},
			{"unknown scheme", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Port: intstr.FromInt32(int32(port)), Scheme: "FTP"}}}, probeFailure, `unsupported scheme "FTP"`, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				mu.Lock()
				got = nil
				mu.Unlock()
				r, msg := runProbe(context.Background(), tc.probe, pn.target())
				t.Logf("%v: %.200s", r, msg)
				if r != tc.want || !messageMatches(msg, tc.msg) {
					t.Errorf("got %v %q, want %v %q", r, msg, tc.want, tc.msg)
				}
				mu.Lock()
				var paths []string
				for _, req := range got {
					paths = append(paths, req.URL.Path)
				}
				mu.Unlock()
				if tc.reached != nil && !slices.Equal(paths, tc.reached) {
					t.Errorf("server saw %v, want %v", paths, tc.reached)
				}
			})
		}
	})
}

func messageMatches(msg, want string) bool {
	if strings.HasPrefix(want, "^") {
		return regexp.MustCompile(want).MatchString(msg)
	}
	return msg == want
}

// The request carries the probe's path, query and headers, and Kubernetes'
// User-Agent and Accept unless the probe sets them.
func TestProbeHTTPGetRequest(t *testing.T) {
	forEachNet(t, func(t *testing.T, pn probeNet) {
		reqs := make(chan *http.Request, 1)
		port := pn.serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reqs <- r }), false)
		c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
		tgt := pn.target()
		tgt.Container = c

		p := httpGetProbe(intstr.FromString("web"), "healthz?verbose=1")
		p.HTTPGet.HTTPHeaders = []corev1.HTTPHeader{{Name: "X-Probe", Value: "a"}, {Name: "X-Probe", Value: "b"}, {Name: "Host", Value: "app.example"}}
		if r, msg := runProbe(context.Background(), p, tgt); r != probeSuccess {
			t.Fatalf("got %v %q", r, msg)
		}
		r := <-reqs
		if r.URL.RequestURI() != "/healthz?verbose=1" || r.Host != "app.example" || !slices.Equal(r.Header.Values("X-Probe"), []string{"a", "b"}) {
			t.Errorf("request %s host %q X-Probe %q", r.URL.RequestURI(), r.Host, r.Header.Values("X-Probe"))
		}
		if ua := r.Header.Get("User-Agent"); ua != "kube-probe/"+kubeMinorVersion() || !regexp.MustCompile(`^kube-probe/\d+\.\d+$`).MatchString(ua) {
			t.Errorf("User-Agent %q", ua)
		}
		if r.Header.Get("Accept") != "*/*" {
			t.Errorf("Accept %q", r.Header.Get("Accept"))
		}

		p.HTTPGet.HTTPHeaders = []corev1.HTTPHeader{{Name: "user-agent", Value: "mine"}, {Name: "Accept", Value: ""}}
		if r, msg := runProbe(context.Background(), p, tgt); r != probeSuccess {
			t.Fatalf("got %v %q", r, msg)
		}
		r = <-reqs
		if r.Header.Get("User-Agent") != "mine" || len(r.Header.Values("Accept")) != 0 {
			t.Errorf("User-Agent %q, Accept %q: the probe's own headers were not kept", r.Header.Get("User-Agent"), r.Header.Values("Accept"))
		}

		p = httpGetProbe(intstr.FromString("metrics"), "/")
		if r, msg := runProbe(context.Background(), p, tgt); r != probeFailure || msg != `port "metrics" not found in container "app"'s ports` {
			t.Errorf("unknown named port: got %v %q", r, msg)
		}
		p = httpGetProbe(intstr.FromString(strconv.Itoa(port)), "/")
		if r, msg := runProbe(context.Background(), p, tgt); r != probeSuccess {
			t.Errorf("a number in a string: got %v %q", r, msg)
		}
	})
}

func TestProbeTCPSocket(t *testing.T) {
	forEachNet(t, func(t *testing.T, pn probeNet) {
		ln := pn.listen(t)
		serveToken(t, ln, "hi")
		port := ln.Addr().(*net.TCPAddr).Port
		refused := pn.closedPort(t)
		tgt := pn.target()
		tgt.Container = &corev1.Container{Name: "db", Ports: []corev1.ContainerPort{{Name: "sql", ContainerPort: int32(port)}}}
		tcp := func(port intstr.IntOrString) *corev1.Probe {
			return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}}
		}
		for _, tc := range []struct {
			name  string
			probe *corev1.Probe
			want  probeResult
			msg   string
		}{
			{"open", tcp(intstr.FromInt32(int32(port))), probeSuccess, ""},
			{"named", tcp(intstr.FromString("sql")), probeSuccess, ""},
			{"refused", tcp(intstr.FromInt32(int32(refused))), probeFailure, fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", refused)},
			{"unknown name", tcp(intstr.FromString("http")), probeFailure, `port "http" not found in container "db"'s ports`},
			{"negative port", tcp(intstr.FromInt32(-1)), probeFailure, "invalid port number: -1"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if r, msg := runProbe(context.Background(), tc.probe, tgt); r != tc.want || msg != tc.msg {
					t.Errorf("got %v %q, want %v %q", r, msg, tc.want, tc.msg)
				}
			})
		}
	})
}

// fakeExec plays a script of results, one an attempt (the last repeats);
// code -1 blocks until the attempt's context ends, code -2 fails to run.
type fakeExec struct {
	mu        sync.Mutex
	script    []int
	output    string
	calls     int
	cmds      [][]string
	deadlines []bool
	first     time.Time // of the first call
}

func (f *fakeExec) exec(ctx context.Context, cmd []string) (int, []byte, error) {
	f.mu.Lock()
	code := f.script[min(f.calls, len(f.script)-1)]
	if f.calls == 0 {
		f.first = time.Now()
	}
	f.calls++
	f.cmds = append(f.cmds, cmd)
	_, ok := ctx.Deadline()
	f.deadlines = append(f.deadlines, ok)
	out := f.output
	f.mu.Unlock()
	switch code {
	case -1:
		<-ctx.Done()
		return 137, nil, ctx.Err()
	case -2:
		return 0, nil, errors.New("container not running")
	}
	return code, []byte(out), nil
}

func (f *fakeExec) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func execProbeSpec(cmd ...string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}, TimeoutSeconds: 1}
}

func TestProbeExec(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   int
		output string
		want   probeResult
		msg    string
	}{
		{"exit 0", 0, "all good", probeSuccess, ""},
		{"exit 1", 1, "database unreachable\n", probeFailure, "database unreachable\n"},
		{"exit 1 silently", 1, "", probeFailure, `command "check --deep" exited with 1`},
		{"output over 10 KiB", 2, strings.Repeat("y", 50<<10), probeFailure, strings.Repeat("y", 10<<10)},
		{"timeout", -1, "", probeFailure, `command "check --deep" timed out`},
		{"cannot run", -2, "", probeUnknown, `command "check --deep": container not running`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeExec{script: []int{tc.code}, output: tc.output}
			r, msg := runProbe(context.Background(), execProbeSpec("check", "--deep"), probeTarget{Exec: f.exec})
			if r != tc.want || msg != tc.msg {
				t.Errorf("got %v %.80q, want %v %.80q", r, msg, tc.want, tc.msg)
			}
			if !slices.Equal(f.cmds[0], []string{"check", "--deep"}) || !f.deadlines[0] {
				t.Errorf("exec got %q, deadline %v", f.cmds[0], f.deadlines[0])
			}
		})
	}
}

// serveGRPC runs a gRPC server on a listener of the namespace: with the
// standard health service (services "" SERVING, "db" NOT_SERVING) unless
// bare, and an interceptor holding "slow"'s checks until the caller gives
// up. It records the user agents it sees.
func (pn probeNet) serveGRPC(t *testing.T, bare bool) (port int, agents func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			mu.Lock()
			seen = append(seen, md.Get("user-agent")...)
			mu.Unlock()
		}
		if r, ok := req.(*healthpb.HealthCheckRequest); ok && r.Service == "slow" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return h(ctx, req)
	}))
	if !bare {
		hs := health.NewServer()
		hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
		hs.SetServingStatus("slow", healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(srv, hs)
	}
	ln := pn.listen(t)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().(*net.TCPAddr).Port, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(seen) }
}

// gRPC probes speak grpc.health.v1 inside the pod's network namespace:
// SERVING is a success; NOT_SERVING, an unknown service, a server without
// the health service, a closed port and a slow answer are failures with
// Kubernetes' messages.
func TestProbeGRPC(t *testing.T) {
	forEachNet(t, func(t *testing.T, pn probeNet) {
		port, agents := pn.serveGRPC(t, false)
		barePort, _ := pn.serveGRPC(t, true)
		refused := pn.closedPort(t)
		probe := func(port int, service *string) *corev1.Probe {
			return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(port), Service: service}}, TimeoutSeconds: 1}
		}
		for _, tc := range []struct {
			name  string
			probe *corev1.Probe
			want  probeResult
			msg   string // exact, or a regexp when it starts with ^
		}{
			{"serving", probe(port, nil), probeSuccess, ""},
			{"serving, empty service", probe(port, ptr.To("")), probeSuccess, ""},
			{"not serving", probe(port, ptr.To("db")), probeFailure, `service unhealthy (responded with "NOT_SERVING")`},
			{"unknown service", probe(port, ptr.To("nope")), probeFailure,
				"error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"},
			{"no health service", probe(barePort, nil), probeFailure,
				"^error: this server does not implement the grpc health protocol \\(grpc.health.v1.Health\\): "},
			{"closed port", probe(refused, nil), probeFailure,
				fmt.Sprintf("timeout: failed to connect service %q within 1s: context deadline exceeded", "127.0.0.1:"+strconv.Itoa(refused))},
			{"slow", probe(port, ptr.To("slow")), probeFailure, "timeout: health rpc did not complete within 1s"},
			{"port 0", probe(0, nil), probeFailure, "invalid port number: 0"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r, msg := runProbe(context.Background(), tc.probe, pn.target())
				if r != tc.want || !messageMatches(msg, tc.msg) {
					t.Errorf("got %v %q, want %v %q", r, msg, tc.want, tc.msg)
				}
			})
		}
		if a := agents(); len(a) == 0 || !strings.HasPrefix(a[0], "kube-probe/"+kubeMinorVersion()) {
			t.Errorf("user agents %q, want kube-probe/%s", a, kubeMinorVersion())
		}
	})
}

// A probe whose container stops (ctx ends) counts neither way.
func TestProbeGRPCCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9}}, TimeoutSeconds: 1}
	if r, msg := runProbe(ctx, p, probeTarget{Host: "127.0.0.1"}); r != probeUnknown {
		t.Errorf("got %v %q, want unknown", r, msg)
	}
}

// The thresholded result changes only after enough equal attempts in a
// row; unknown attempts count neither way.
func TestProbeThresholds(t *testing.T) {
	S, F, U := probeSuccess, probeFailure, probeUnknown
	for _, tc := range []struct {
		name             string
		kind             probeKind
		success, failure int32
		attempts         []probeResult
		changes          map[int]probeResult // attempt index → new result
	}{
		{"readiness defaults", probeReadiness, 0, 0, []probeResult{F, S, F, F, S, F, F, F, F}, map[int]probeResult{1: S, 7: F}},
		{"readiness starts failed", probeReadiness, 1, 3, []probeResult{F, F, F, F}, map[int]probeResult{}},
		{"liveness starts alive", probeLiveness, 1, 1, []probeResult{S, S, F, S}, map[int]probeResult{2: F, 3: S}},
		{"success threshold 2", probeReadiness, 2, 2, []probeResult{S, F, S, S, S, F, S, F, F}, map[int]probeResult{3: S, 8: F}},
		{"unknown breaks no run", probeLiveness, 1, 3, []probeResult{F, U, F, U, U, F, S}, map[int]probeResult{5: F, 6: S}},
		{"startup decides once each way", probeStartup, 1, 2, []probeResult{U, F, F, S}, map[int]probeResult{2: F, 3: S}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newProbeState(tc.kind, &corev1.Probe{SuccessThreshold: tc.success, FailureThreshold: tc.failure})
			got := map[int]probeResult{}
			for i, r := range tc.attempts {
				if s.observe(r) {
					got[i] = s.result
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.changes) {
				t.Errorf("changes %v, want %v", got, tc.changes)
			}
		})
	}
}

type report struct {
	r       probeResult
	msg     string
	changed bool
}

// runWorker runs a probe worker until it has made n reports (or returns by
// itself) and gives the reports and whether it returned by itself.
func runWorker(t *testing.T, kind probeKind, p *corev1.Probe, started time.Time, f *fakeExec, n int) ([]report, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reports := make(chan report, n+1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runProbeWorker(ctx, kind, p, started, probeTarget{Exec: f.exec}, func(r probeResult, msg string, changed bool) {
			reports <- report{r, msg, changed}
		})
	}()
	var got []report
	returned := false
	for len(got) < n && !returned {
		select {
		case rep := <-reports:
			got = append(got, rep)
		case <-done:
			returned = true
		case <-ctx.Done():
			t.Fatalf("after reports %v: the worker did not go on", got)
		}
	}
	cancel()
	<-done
	for len(reports) > 0 {
		got = append(got, <-reports)
	}
	return got, returned
}

func TestProbeWorkerReportsChangesAndFailures(t *testing.T) {
	t.Parallel()
	// Readiness: success, success, failure, failure, then successes.
	f := &fakeExec{script: []int{0, 0, 1, 1, 0}, output: "not yet"}
	p := execProbeSpec("ready")
	p.PeriodSeconds, p.FailureThreshold = 1, 2
	got, returned := runWorker(t, probeReadiness, p, time.Now().Add(-time.Hour), f, 4)
	want := []report{
		{probeSuccess, "", true},
		{probeFailure, "not yet", false},
		{probeFailure, "not yet", true},
		{probeSuccess, "", true},
	}
	if returned || !slices.Equal(got, want) {
		t.Errorf("reports %v (returned by itself: %v), want %v", got, returned, want)
	}
}

// A startup probe stops once it has succeeded; errored attempts are
// reported but count neither way.
func TestProbeWorkerStartupEnds(t *testing.T) {
	t.Parallel()
	f := &fakeExec{script: []int{-2, 1, 0, 0}, output: "starting"}
	p := execProbeSpec("started")
	p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold = 1, 1, 5
	got, returned := runWorker(t, probeStartup, p, time.Now().Add(-time.Hour), f, 10)
	want := []report{
		{probeUnknown, `command "started": container not running`, false},
		{probeFailure, "starting", false},
		{probeSuccess, "", true},
	}
	if !returned || !slices.Equal(got, want) || f.count() != 3 {
		t.Errorf("reports %v after %d attempts (returned by itself: %v), want %v after 3", got, f.count(), returned, want)
	}
}

// The first attempt waits for initialDelaySeconds after the container's
// start.
func TestProbeWorkerInitialDelay(t *testing.T) {
	t.Parallel()
	f := &fakeExec{script: []int{1}}
	p := execProbeSpec("live")
	p.InitialDelaySeconds, p.PeriodSeconds, p.FailureThreshold = 1, 1, 1
	started := time.Now()
	got, _ := runWorker(t, probeLiveness, p, started, f, 1)
	if len(got) != 1 || got[0] != (report{probeFailure, `command "live" exited with 1`, true}) {
		t.Errorf("reports %v", got)
	}
	if f.first.Before(started.Add(time.Second)) {
		t.Errorf("first attempt %v after the start, before initialDelaySeconds", f.first.Sub(started))
	}
}

func TestHandlerExec(t *testing.T) {
	f := &fakeExec{script: []int{0}}
	h := &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"warm", "cache"}}}
	if err := runHandler(context.Background(), h, probeTarget{Exec: f.exec}); err != nil {
		t.Errorf("exit 0: %v", err)
	}
	f = &fakeExec{script: []int{3}, output: "no cache dir"}
	if err := runHandler(context.Background(), h, probeTarget{Exec: f.exec}); err == nil || err.Error() != "command 'warm cache' exited with 3: no cache dir" {
		t.Errorf("exit 3: %v", err)
	}
	f = &fakeExec{script: []int{-2}}
	if err := runHandler(context.Background(), h, probeTarget{Exec: f.exec}); err == nil || !strings.Contains(err.Error(), "container not running") {
		t.Errorf("cannot run: %v", err)
	}
	// A hook has no timeout of its own: it runs until ctx ends.
	f = &fakeExec{script: []int{-1}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- runHandler(ctx, h, probeTarget{Exec: f.exec}) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestHandlerHTTPGet(t *testing.T) {
	forEachNet(t, func(t *testing.T, pn probeNet) {
		reqs := make(chan *http.Request, 1)
		port := pn.serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reqs <- r
			http.Error(w, "shutting down anyway", http.StatusServiceUnavailable)
		}), false)
		tgt := pn.target()
		tgt.Container = &corev1.Container{Name: "web", Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: int32(port)}}}
		h := &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("admin"), Path: "/drain"}}
		if err := runHandler(context.Background(), h, tgt); err != nil {
			t.Errorf("any response is done: %v", err)
		}
		r := <-reqs
		if r.URL.Path != "/drain" || r.Header.Get("User-Agent") != "kube-lifecycle/"+kubeMinorVersion() {
			t.Errorf("request %s User-Agent %q", r.URL.Path, r.Header.Get("User-Agent"))
		}
		h.HTTPGet.Port = intstr.FromInt32(int32(pn.closedPort(t)))
		if err := runHandler(context.Background(), h, tgt); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("refused: %v", err)
		}
	})
}

func TestHandlerSleepAndOthers(t *testing.T) {
	if err := runHandler(context.Background(), &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 0}}, probeTarget{}); err != nil {
		t.Errorf("sleep 0: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- runHandler(ctx, &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 3600}}, probeTarget{})
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "container terminated before sleep hook finished") {
		t.Errorf("sleep ended by ctx: %v", err)
	}
	h := &corev1.LifecycleHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}
	if err := runHandler(context.Background(), h, probeTarget{}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("tcpSocket: %v", err)
	}
	if err := runHandler(context.Background(), &corev1.LifecycleHandler{}, probeTarget{}); err == nil {
		t.Error("empty handler: no error")
	}
}
