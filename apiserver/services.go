package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// maxAllocationAttempts bounds the retries of a service write whose
// allocated cluster IP or node port another service took first.
const maxAllocationAttempts = 8

// allocation records the claims an allocation chose itself.
type allocation map[string]bool

// allocateService fills in the cluster IP and node ports svc needs and has
// not been given (an update has already kept what the service held, see
// api's service strategy), and checks that values a client chose are in
// range. It returns the claims it proposed, which a write that finds them
// taken may retry with other values.
func (s *Server) allocateService(ctx context.Context, svc, old *corev1.Service, attempt int) (allocation, error) {
	auto := allocation{}
	var errs field.ErrorList
	specPath := field.NewPath("spec")

	if api.NeedsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) > 0 {
			svc.Spec.ClusterIP = svc.Spec.ClusterIPs[0]
		}
		oldIP := ""
		if old != nil && api.NeedsClusterIP(old) {
			oldIP = old.Spec.ClusterIP
		}
		switch {
		case svc.Spec.ClusterIP == "":
			ip, err := s.ips.candidate(ctx, attempt)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			svc.Spec.ClusterIP = ip
			auto[api.ServiceIPClaim(ip)] = true
		case svc.Spec.ClusterIP != oldIP && !s.ips.contains(svc.Spec.ClusterIP):
			errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), []string{svc.Spec.ClusterIP},
				fmt.Sprintf("failed to allocate IP %s: provided IP is not in the valid range. The range of valid IPs is %s", svc.Spec.ClusterIP, s.ips)))
		}
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}
		if svc.Spec.IPFamilyPolicy == nil {
			single := corev1.IPFamilyPolicySingleStack
			svc.Spec.IPFamilyPolicy = &single
		}
	}

	if api.NeedsNodePorts(svc) {
		held := map[int32]bool{} // node ports the service held before
		if old != nil {
			for _, p := range old.Spec.Ports {
				held[p.NodePort] = true
			}
		}
		used := map[int32]bool{}
		for _, p := range svc.Spec.Ports {
			used[p.NodePort] = true
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			switch {
			case p.NodePort == 0:
				port, err := s.ports.candidate(ctx, attempt, used)
				if err != nil {
					return nil, apierrors.NewInternalError(err)
				}
				p.NodePort = port
				used[port] = true
				auto[api.NodePortClaim(port)] = true
			case !held[p.NodePort] && !s.ports.contains(p.NodePort):
				errs = append(errs, field.Invalid(specPath.Child("ports").Index(i).Child("nodePort"), p.NodePort,
					fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", s.ports)))
			}
		}
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(api.Services.GroupKind(), svc.Name, errs)
	}
	return auto, nil
}

// claimTaken explains a write refused because a service's claim is held by
// another object. retry is true when the allocator chose the value and
// another may be tried.
func claimTaken(err error, svc runtime.Object, auto allocation) (retry bool, _ error) {
	var ce *storage.ClaimedError
	if !errors.As(err, &ce) {
		return false, err
	}
	if auto[ce.Claim] {
		return true, err
	}
	s, ok := svc.(*corev1.Service)
	if !ok {
		return false, apierrors.NewInternalError(err)
	}
	var fe *field.Error
	switch {
	case strings.HasPrefix(ce.Claim, "serviceips/"):
		ip := strings.TrimPrefix(ce.Claim, "serviceips/")
		fe = field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), []string{ip},
			fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip))
	case strings.HasPrefix(ce.Claim, "servicenodeports/"):
		port := strings.TrimPrefix(ce.Claim, "servicenodeports/")
		idx := 0
		for i, p := range s.Spec.Ports {
			if fmt.Sprint(p.NodePort) == port {
				idx = i
			}
		}
		fe = field.Invalid(field.NewPath("spec", "ports").Index(idx).Child("nodePort"), s.Spec.Ports[idx].NodePort,
			"provided port is already allocated")
	default:
		return false, apierrors.NewInternalError(err)
	}
	return false, apierrors.NewInvalid(api.Services.GroupKind(), s.Name, field.ErrorList{fe})
}
