package kubelet

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"
)

// grpcProbe runs a gRPC probe as Kubernetes' kubelet does: the standard
// health protocol (grpc.health.v1.Health/Check with the probe's service,
// "" when unset) over plain-text HTTP/2 to the target's host and the
// probe's port, dialled inside the pod's network namespace, all within
// timeout. SERVING is a success; any other answer, an error, or the
// timeout is a failure with Kubernetes' message. Only ctx ending (the
// container stopping) makes it unknown.
//
// As Kubernetes' (which dials with WithBlock), a connection that cannot
// be made is retried until the timeout: a closed port fails after the
// whole timeout, as "timeout: failed to connect service ...".
func grpcProbe(ctx context.Context, g *corev1.GRPCAction, timeout time.Duration, t probeTarget) (probeResult, string) {
	if g.Port < 1 || g.Port > 65535 {
		return probeFailure, fmt.Sprintf("invalid port number: %d", g.Port)
	}
	addr := net.JoinHostPort(targetHost("", t), strconv.Itoa(int(g.Port)))
	attempt, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var connected atomic.Bool
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()), // Kubernetes' probes use no TLS
		grpc.WithUserAgent("kube-probe/"+kubeMinorVersion()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := dialInNetns(ctx, t.NetNS, "tcp", addr)
			if err == nil {
				connected.Store(true)
			}
			return c, err
		}),
	)
	if err != nil {
		return probeFailure, fmt.Sprintf("error: failed to connect service at %q: %+v", addr, err)
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(attempt, &healthpb.HealthCheckRequest{Service: service}, grpc.WaitForReady(true))
	if err != nil {
		if ctx.Err() != nil {
			return probeUnknown, ctx.Err().Error()
		}
		st, _ := grpcstatus.FromError(err)
		switch {
		case st.Code() == codes.DeadlineExceeded && !connected.Load():
			return probeFailure, fmt.Sprintf("timeout: failed to connect service %q within %v: %+v", addr, timeout, context.DeadlineExceeded)
		case st.Code() == codes.DeadlineExceeded:
			return probeFailure, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
		case st.Code() == codes.Unimplemented:
			return probeFailure, "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): " + st.Message()
		}
		return probeFailure, fmt.Sprintf("error: health rpc probe failed: %+v", err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return probeFailure, fmt.Sprintf("service unhealthy (responded with %q)", s.String())
	}
	return probeSuccess, ""
}
