package apiserver

import (
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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/shepherd-lab/shepherd/api"
)

// defaultKubeletPort is the kubelet's port when a Node does not publish
// one in status.daemonEndpoints.
const defaultKubeletPort = 10250

// kubeletDialTimeout bounds connecting to a kubelet. Nothing else about a
// log request is timed: a follow lasts as long as the container writes
// and the client listens.
const kubeletDialTimeout = 5 * time.Second

// maxKubeletErrorBytes is how much of a kubelet's error body becomes the
// Status message (as kube-apiserver's response checker).
const maxKubeletErrorBytes = 50000

// serveLog serves GET pods/NAME/log: the options are validated, the pod's
// container and node are resolved, and the kubelet's
// /containerLogs/NS/POD/CONTAINER answer is streamed back as text/plain.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, info requestInfo) error {
	if info.Verb != "get" {
		return methodNotAllowed()
	}
	opts, err := parsePodLogOptions(r.URL.Query())
	if err != nil {
		return err
	}
	if errs := validatePodLogOptions(opts); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, info.Name, errs)
	}
	ctx := r.Context()
	obj, err := s.store.Get(ctx, api.Pods.Storage, info.Namespace, info.Name)
	if err != nil {
		return storageError(err, api.Pods, info.Name)
	}
	pod := obj.(*corev1.Pod)
	container, err := logContainer(pod, opts.Container)
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	obj, err = s.store.Get(ctx, api.Nodes.Storage, "", pod.Spec.NodeName)
	if err != nil {
		return storageError(err, api.Nodes, pod.Spec.NodeName)
	}
	node := obj.(*corev1.Node)
	hostPort, err := kubeletHostPort(node)
	if err != nil {
		return err
	}
	// The kubelet serves plain HTTP for now; TLS to the kubelet (verifying
	// its serving certificate, with insecureSkipTLSVerifyBackend to skip
	// that) and the apiserver's client credentials come with the security
	// work.
	loc := &url.URL{
		Scheme:   "http",
		Host:     hostPort,
		Path:     fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container),
		RawQuery: kubeletLogQuery(opts).Encode(),
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	// A transport of its own, without keep-alives, so no idle connection
	// (and its goroutines) outlives the request; log requests are rare
	// enough that reusing connections is not worth a shared pool. RoundTrip
	// follows no redirects, and no proxy from the environment is used.
	tr := &http.Transport{
		DialContext:       (&net.Dialer{Timeout: kubeletDialTimeout}).DialContext,
		DisableKeepAlives: true,
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return storageError(ctx.Err(), api.Pods, info.Name) // the client went away
		}
		return apierrors.NewServiceUnavailable(fmt.Sprintf("unable to reach the kubelet of node %q at %s: %v", node.Name, hostPort, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return kubeletError(resp, pod.Name)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	// The headers go now: a followed container that is quiet for a while
	// must not leave the client waiting for them.
	http.NewResponseController(w).Flush()
	if err := copyFlushing(w, resp.Body); err != nil && ctx.Err() == nil {
		s.log.Debug("pod log stream ended", "namespace", pod.Namespace, "pod", pod.Name,
			"container", container, "node", node.Name, "error", err)
	}
	return nil
}

// copyFlushing copies src to w, flushing after every read so a followed
// log reaches the client as the container writes it. It returns when src
// ends (io.EOF is not an error) or a read or write fails; a client that
// goes away cancels the request's context, which ends the read.
func copyFlushing(w http.ResponseWriter, src io.Reader) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// kubeletError turns a kubelet's non-2xx answer, whose body is a plain-text
// message, into a Status with the same code and that message.
func kubeletError(resp *http.Response, pod string) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKubeletErrorBytes))
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("reading the kubelet's error answer: %w", err))
	}
	e := apierrors.NewGenericServerResponse(resp.StatusCode, "", schema.GroupResource{Resource: "pods/log"}, pod, "", 0, false)
	if msg := strings.TrimSpace(string(body)); msg != "" {
		e.ErrStatus.Message = msg
	}
	return e
}

// kubeletHostPort is where a node's kubelet listens: its first InternalIP
// (else Hostname) address, and the port it publishes (else 10250).
func kubeletHostPort(node *corev1.Node) (string, error) {
	var host string
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				host = a.Address
				break
			}
		}
		if host != "" {
			break
		}
	}
	if host == "" {
		return "", apierrors.NewInternalError(fmt.Errorf("node %q has no InternalIP or Hostname address; known addresses: %v", node.Name, node.Status.Addresses))
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = defaultKubeletPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// logContainer is the container whose log is asked for: the one named,
// which must be one of the pod's containers, init containers or ephemeral
// containers, or the pod's only container. The messages are Kubernetes'.
func logContainer(pod *corev1.Pod, name string) (string, error) {
	var containers, inits, ephemerals []string
	for _, c := range pod.Spec.Containers {
		containers = append(containers, c.Name)
	}
	for _, c := range pod.Spec.InitContainers {
		inits = append(inits, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		ephemerals = append(ephemerals, c.Name)
	}
	if name != "" {
		if !contains(containers, name) && !contains(inits, name) && !contains(ephemerals, name) {
			return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
		}
		return name, nil
	}
	switch len(containers) {
	case 1:
		return containers[0], nil
	case 0:
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
	}
	msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(containers, " "))
	if len(inits) > 0 {
		msg += fmt.Sprintf(" or one of the init containers: [%s]", strings.Join(inits, " "))
	}
	if len(ephemerals) > 0 {
		msg += fmt.Sprintf(" or one of the ephemeral containers: [%s]", strings.Join(ephemerals, " "))
	}
	return "", apierrors.NewBadRequest(msg)
}

// parsePodLogOptions reads PodLogOptions from query parameters with
// apimachinery's query conversions (a boolean is true unless absent, "0"
// or "false"; sinceTime is RFC 3339), as kube-apiserver decodes them. A
// value that does not parse is a 400. insecureSkipTLSVerifyBackend is
// accepted and ignored (the kubelet connection has no TLS yet); stream is
// ignored, as kube-apiserver does while its feature gate is off.
func parsePodLogOptions(q url.Values) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{}
	values := func(name string) *[]string { v := q[name]; return &v }
	opts.Container = q.Get("container")
	bools := []struct {
		name string
		out  *bool
	}{
		{"follow", &opts.Follow}, {"previous", &opts.Previous}, {"timestamps", &opts.Timestamps},
		{"insecureSkipTLSVerifyBackend", &opts.InsecureSkipTLSVerifyBackend},
	}
	for _, b := range bools {
		if err := runtime.Convert_Slice_string_To_bool(values(b.name), b.out, nil); err != nil {
			return nil, badLogParameter(b.name, err)
		}
	}
	ints := []struct {
		name string
		out  **int64
	}{
		{"sinceSeconds", &opts.SinceSeconds}, {"tailLines", &opts.TailLines}, {"limitBytes", &opts.LimitBytes},
	}
	for _, i := range ints {
		if err := runtime.Convert_Slice_string_To_Pointer_int64(values(i.name), i.out, nil); err != nil {
			return nil, badLogParameter(i.name, err)
		}
	}
	if q.Get("sinceTime") != "" {
		if err := metav1.Convert_Slice_string_To_Pointer_v1_Time(values("sinceTime"), &opts.SinceTime, nil); err != nil {
			return nil, badLogParameter("sinceTime", err)
		}
	}
	return opts, nil
}

func badLogParameter(name string, err error) error {
	return apierrors.NewBadRequest(fmt.Sprintf("%s: %v", name, err))
}

// validatePodLogOptions applies Kubernetes' ValidatePodLogOptions rules.
func validatePodLogOptions(opts *corev1.PodLogOptions) field.ErrorList {
	var errs field.ErrorList
	if opts.TailLines != nil && *opts.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *opts.TailLines, "must be greater than or equal to 0"))
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *opts.LimitBytes, "must be greater than 0"))
	}
	switch {
	case opts.SinceSeconds != nil && opts.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case opts.SinceSeconds != nil && *opts.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *opts.SinceSeconds, "must be greater than 0"))
	}
	return errs
}

// kubeletLogQuery is the kubelet's query for opts: the options that shape
// the log, each sent only when set, as kube-apiserver sends them.
func kubeletLogQuery(opts *corev1.PodLogOptions) url.Values {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Previous {
		q.Set("previous", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*opts.SinceSeconds, 10))
	}
	if opts.SinceTime != nil {
		q.Set("sinceTime", opts.SinceTime.UTC().Format(time.RFC3339))
	}
	if opts.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*opts.LimitBytes, 10))
	}
	return q
}
