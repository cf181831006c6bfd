package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

// fakeKubelet is a kubelet's /containerLogs endpoint on 127.0.0.1 whose
// answer each test chooses per pod.
type fakeKubelet struct {
	srv  *httptest.Server
	mu   sync.Mutex
	pods map[string]http.HandlerFunc // by pod name
}

func newFakeKubelet(t *testing.T) *fakeKubelet {
	k := &fakeKubelet{pods: map[string]http.HandlerFunc{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		h := k.pods[r.PathValue("pod")]
		k.mu.Unlock()
		if h == nil {
			http.Error(w, "no such pod on this fake kubelet", http.StatusNotFound)
			return
		}
		h(w, r)
	})
	k.srv = httptest.NewServer(mux)
	t.Cleanup(k.srv.Close)
	return k
}

// handle sets the fake's answer for one pod's logs.
func (k *fakeKubelet) handle(pod string, h http.HandlerFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pods[pod] = h
}

func (k *fakeKubelet) port(t *testing.T) int32 {
	_, p, err := net.SplitHostPort(k.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return int32(n)
}

// createNode registers a Node whose kubelet listens at 127.0.0.1:port.
func createNode(t *testing.T, srv *apiservertest.Server, name string, port int32) {
	t.Helper()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "fake-host.invalid"},
				{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}},
		},
	}
	if _, err := srv.Client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// createPod creates a pod in default on node (unbound if node is "") with
// the given containers and init containers.
func createPod(t *testing.T, srv *apiservertest.Server, name, node string, containers []string, inits ...string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	for _, c := range inits {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: c, Image: "busybox"})
	}
	if _, err := srv.Client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// writeText answers a log request with body.
func writeText(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}
}

// statusOf is the Status behind a client-go error.
func statusOf(t *testing.T, err error) metav1.Status {
	t.Helper()
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a Status", err, err)
	}
	return se.Status()
}

func getLogs(srv *apiservertest.Server, pod string, opts *corev1.PodLogOptions) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Stream, as kubectl uses, decodes an error answer's Status.
	stream, err := srv.Client.CoreV1().Pods("default").GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer stream.Close()
	body, err := io.ReadAll(stream)
	return string(body), err
}

func TestPodLogs(t *testing.T) {
	srv := apiservertest.Start(t)
	kubelet := newFakeKubelet(t)
	createNode(t, srv, "n1", kubelet.port(t))

	t.Run("plain get returns the text", func(t *testing.T) {
		createPod(t, srv, "plain", "n1", []string{"app"})
		kubelet.handle("plain", writeText("hello\nworld\n"))
		resp, err := http.Get(srv.URL + "/api/v1/namespaces/default/pods/plain/log")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "hello\nworld\n" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
			t.Errorf("Content-Type %q, want text/plain", ct)
		}
		// And through client-go.
		if got, err := getLogs(srv, "plain", &corev1.PodLogOptions{}); err != nil || got != "hello\nworld\n" {
			t.Fatalf("client-go: %q, %v", got, err)
		}
	})

	t.Run("options reach the kubelet", func(t *testing.T) {
		createPod(t, srv, "opts", "n1", []string{"app", "side"}, "setup")
		seen := make(chan *url.URL, 10)
		kubelet.handle("opts", func(w http.ResponseWriter, r *http.Request) {
			seen <- r.URL
			io.WriteString(w, "ok\n")
		})
		since := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
		cases := []struct {
			opts      corev1.PodLogOptions
			path      string
			wantQuery url.Values
		}{
			{
				opts: corev1.PodLogOptions{Container: "side", TailLines: ptr.To[int64](5), Timestamps: true, Previous: true,
					SinceSeconds: ptr.To[int64](30), LimitBytes: ptr.To[int64](100)},
				path: "/containerLogs/default/opts/side",
				wantQuery: url.Values{"tailLines": {"5"}, "timestamps": {"true"}, "previous": {"true"},
					"sinceSeconds": {"30"}, "limitBytes": {"100"}},
			},
			{
				opts:      corev1.PodLogOptions{Container: "setup", SinceTime: &metav1.Time{Time: since}, InsecureSkipTLSVerifyBackend: true},
				path:      "/containerLogs/default/opts/setup",
				wantQuery: url.Values{"sinceTime": {"2025-03-04T05:06:07Z"}},
			},
			{
				opts:      corev1.PodLogOptions{Container: "app"},
				path:      "/containerLogs/default/opts/app",
				wantQuery: url.Values{},
			},
		}
		for _, c := range cases {
			if got, err := getLogs(srv, "opts", &c.opts); err != nil || got != "ok\n" {
				t.Fatalf("%+v: %q, %v", c.opts, got, err)
			}
			u := <-seen
			if u.Path != c.path {
				t.Errorf("kubelet path %q, want %q", u.Path, c.path)
			}
			if got := u.Query(); fmt.Sprint(got) != fmt.Sprint(c.wantQuery) {
				t.Errorf("kubelet query %v, want %v", got, c.wantQuery)
			}
		}
	})

	t.Run("follow streams lines as the kubelet writes them", func(t *testing.T) {
		createPod(t, srv, "follow", "n1", []string{"app"})
		first, second := make(chan struct{}), make(chan struct{})
		kubelet.handle("follow", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("follow") != "true" {
				http.Error(w, "expected follow=true, got "+r.URL.RawQuery, http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			for i, next := range []chan struct{}{first, second} {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
				fmt.Fprintf(w, "line %d\n", i+1)
				w.(http.Flusher).Flush()
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stream, err := srv.Client.CoreV1().Pods("default").GetLogs("follow", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		// The stream opened before the container wrote anything.
		close(first)
		br := bufio.NewReader(stream)
		if line, err := br.ReadString('\n'); err != nil || line != "line 1\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		close(second) // the kubelet writes the second line only now
		if line, err := br.ReadString('\n'); err != nil || line != "line 2\n" {
			t.Fatalf("second line %q, %v", line, err)
		}
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Fatalf("after the kubelet ended: %q, %v", rest, err)
		}
	})

	t.Run("a client that goes away ends the kubelet request", func(t *testing.T) {
		createPod(t, srv, "gone", "n1", []string{"app"})
		upstreamDone := make(chan struct{})
		kubelet.handle("gone", func(w http.ResponseWriter, r *http.Request) {
			defer close(upstreamDone)
			io.WriteString(w, "started\n")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
				t.Error("the kubelet request outlived its client by a minute")
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stream, err := srv.Client.CoreV1().Pods("default").GetLogs("gone", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(stream).ReadString('\n'); err != nil || line != "started\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		cancel()
		stream.Close()
		select {
		case <-upstreamDone:
		case <-time.After(30 * time.Second):
			t.Fatal("the kubelet request did not end after the client went away")
		}
	})

	t.Run("container choice", func(t *testing.T) {
		createPod(t, srv, "multi", "n1", []string{"a", "b"})
		createPod(t, srv, "multi-init", "n1", []string{"a", "b"}, "i1", "i2")
		kubelet.handle("multi-init", writeText("init log\n"))
		cases := []struct {
			pod, container, want string
		}{
			{"multi", "", "a container name must be specified for pod multi, choose one of: [a b]"},
			{"multi-init", "", "a container name must be specified for pod multi-init, choose one of: [a b] or one of the init containers: [i1 i2]"},
			{"multi", "nope", "container nope is not valid for pod multi"},
		}
		for _, c := range cases {
			_, err := getLogs(srv, c.pod, &corev1.PodLogOptions{Container: c.container})
			st := statusOf(t, err)
			if st.Code != http.StatusBadRequest || st.Reason != metav1.StatusReasonBadRequest || st.Message != c.want {
				t.Errorf("%s -c %q: %d %s %q, want 400 BadRequest %q", c.pod, c.container, st.Code, st.Reason, st.Message, c.want)
			}
		}
		// An init container's log is served.
		if got, err := getLogs(srv, "multi-init", &corev1.PodLogOptions{Container: "i2"}); err != nil || got != "init log\n" {
			t.Fatalf("init container log: %q, %v", got, err)
		}
	})

	t.Run("unbound pod", func(t *testing.T) {
		createPod(t, srv, "unbound", "", []string{"app"})
		_, err := getLogs(srv, "unbound", &corev1.PodLogOptions{})
		if st := statusOf(t, err); st.Code != http.StatusBadRequest || st.Message != "pod unbound does not have a host assigned" {
			t.Fatalf("got %d %q", st.Code, st.Message)
		}
	})

	t.Run("missing pod", func(t *testing.T) {
		_, err := getLogs(srv, "nosuchpod", &corev1.PodLogOptions{})
		if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `pods "nosuchpod" not found`) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("kubelet errors become Statuses", func(t *testing.T) {
		createPod(t, srv, "waiting", "n1", []string{"app"})
		msg := `container "app" in pod "waiting" is waiting to start: ContainerCreating`
		kubelet.handle("waiting", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, msg, http.StatusBadRequest)
		})
		_, err := getLogs(srv, "waiting", &corev1.PodLogOptions{})
		if st := statusOf(t, err); st.Code != http.StatusBadRequest || st.Reason != metav1.StatusReasonBadRequest || st.Message != msg {
			t.Fatalf("got %d %s %q, want 400 BadRequest %q", st.Code, st.Reason, st.Message, msg)
		}
		createPod(t, srv, "noprevious", "n1", []string{"app"})
		kubelet.handle("noprevious", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `previous terminated container "app" in pod "noprevious" not found`, http.StatusNotFound)
		})
		_, err = getLogs(srv, "noprevious", &corev1.PodLogOptions{Previous: true})
		if st := statusOf(t, err); st.Code != http.StatusNotFound || st.Message != `previous terminated container "app" in pod "noprevious" not found` {
			t.Fatalf("got %d %q", st.Code, st.Message)
		}
	})

	t.Run("unreachable kubelet", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := int32(l.Addr().(*net.TCPAddr).Port)
		l.Close() // nothing listens there now
		createNode(t, srv, "deadnode", port)
		createPod(t, srv, "stranded", "deadnode", []string{"app"})
		_, err = getLogs(srv, "stranded", &corev1.PodLogOptions{})
		st := statusOf(t, err)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if st.Code != http.StatusServiceUnavailable || !strings.Contains(st.Message, `"deadnode"`) || !strings.Contains(st.Message, addr) {
			t.Fatalf("got %d %q, want 503 naming deadnode and %s", st.Code, st.Message, addr)
		}
	})

	t.Run("invalid options", func(t *testing.T) {
		cases := []struct {
			query string
			code  int32
			want  string
		}{
			{"sinceSeconds=0", 422, "sinceSeconds: Invalid value: 0: must be greater than 0"},
			{"sinceSeconds=5&sinceTime=2025-01-01T00:00:00Z", 422, "at most one of `sinceTime` or `sinceSeconds` may be specified"},
			{"tailLines=-1", 422, "tailLines: Invalid value: -1: must be greater than or equal to 0"},
			{"limitBytes=0", 422, "limitBytes: Invalid value: 0: must be greater than 0"},
			{"tailLines=ten", 400, "tailLines"},
			{"sinceTime=yesterday", 400, "sinceTime"},
		}
		for _, c := range cases {
			// The options are checked before the pod is looked up, as in
			// Kubernetes: the pod need not exist.
			resp, err := http.Get(srv.URL + "/api/v1/namespaces/default/pods/anypod/log?" + c.query)
			if err != nil {
				t.Fatal(err)
			}
			var st metav1.Status
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("%s: %v", c.query, err)
			}
			if resp.StatusCode != int(c.code) || st.Kind != "Status" || st.Code != c.code || !strings.Contains(st.Message, c.want) {
				t.Errorf("%s: %d %+v, want %d with %q", c.query, resp.StatusCode, st, c.code, c.want)
			}
		}
	})

	t.Run("only GET", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/api/v1/namespaces/default/pods/plain/log", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("POST pods/log: %d", resp.StatusCode)
		}
		resp, err = http.Get(srv.URL + "/api/v1/namespaces/default/services/x/log")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("services/x/log: %d", resp.StatusCode)
		}
	})

	t.Run("discovery lists pods/log", func(t *testing.T) {
		list, err := srv.Client.Discovery().ServerResourcesForGroupVersion("v1")
		if err != nil {
			t.Fatal(err)
		}
		var found *metav1.APIResource
		for i := range list.APIResources {
			if list.APIResources[i].Name == "pods/log" {
				found = &list.APIResources[i]
			}
		}
		if found == nil || !found.Namespaced || found.Kind != "Pod" || strings.Join(found.Verbs, ",") != "get" {
			t.Fatalf("pods/log in /api/v1: %+v", found)
		}
		// Aggregated discovery, which kubectl reads.
		_, lists, err := srv.Client.Discovery().ServerGroupsAndResources()
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, l := range lists {
			for _, r := range l.APIResources {
				ok = ok || (l.GroupVersion == "v1" && r.Name == "pods/log" && strings.Join(r.Verbs, ",") == "get")
			}
		}
		if !ok {
			t.Fatal("aggregated discovery lacks pods/log")
		}
	})
}

// TestKubectlLogs runs the machine's kubectl logs against the apiserver
// and a fake kubelet.
func TestKubectlLogs(t *testing.T) {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed (not on PATH)")
	}
	srv := apiservertest.Start(t)
	kubelet := newFakeKubelet(t)
	createNode(t, srv, "n1", kubelet.port(t))
	createPod(t, srv, "web", "n1", []string{"nginx"})
	kubelet.handle("web", func(w http.ResponseWriter, r *http.Request) {
		lines := []string{"one\n", "two\n", "three\n"}
		if s := r.URL.Query().Get("tailLines"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				http.Error(w, "bad tailLines", http.StatusBadRequest)
				return
			}
			lines = lines[max(0, len(lines)-n):]
		}
		io.WriteString(w, strings.Join(lines, ""))
	})

	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: shepherd
  cluster: {server: %q}
contexts:
- name: shepherd
  context: {cluster: shepherd, user: shepherd, namespace: default}
current-context: shepherd
users:
- name: shepherd
  user: {}
`, srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) (string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+dir)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"logs", "web"}, "one\ntwo\nthree\n"},
		{[]string{"logs", "--tail", "1", "web"}, "three\n"},
		{[]string{"logs", "-c", "nginx", "--tail=2", "pod/web"}, "two\nthree\n"},
	}
	for _, c := range cases {
		out, errOut, err := kubectl(c.args...)
		if err != nil || out != c.want {
			t.Errorf("kubectl %s: %v\nstdout: %q\nstderr: %s", strings.Join(c.args, " "), err, out, errOut)
		}
	}
	// A container that is not the pod's: kubectl reports the server's
	// (or its own identical) message.
	_, errOut, err := kubectl("logs", "-c", "nope", "web")
	if err == nil || !strings.Contains(errOut, "container nope is not valid for pod web") {
		t.Errorf("kubectl logs -c nope: %v\nstderr: %s", err, errOut)
	}
}
