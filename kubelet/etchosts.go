package kubelet

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Each pod gets one /etc/hosts, written by the kubelet to
// <pod dir>/etc-hosts and bind-mounted read-write into every container
// that does not mount something of its own there, as Kubernetes does: the
// pod's addresses under its hostname (and FQDN with spec.subdomain), and
// spec.hostAliases.

const (
	etcHostsPath      = "/etc/hosts"
	etcHostsFile      = "etc-hosts" // in the pod's directory
	hostsHeader       = "# Kubernetes-managed hosts file.\n"
	hostsHeaderHost   = "# Kubernetes-managed hosts file (host network).\n"
	hostAliasesHeader = "# Entries added by HostAliases.\n"
	// DefaultClusterDomain is Config.ClusterDomain's default, the domain
	// of most clusters (kubeadm's).
	DefaultClusterDomain = "cluster.local"
)

// podHostname is the pod's hostname, as Kubernetes' kubelet makes it:
// spec.hostname, else the pod's name, cut to 63 characters without a
// trailing '-' or '.'.
func podHostname(pod *corev1.Pod) string {
	h := pod.Name
	if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// podDomain is "<subdomain>.<namespace>.svc.<cluster domain>" for a pod
// with spec.subdomain, else "".
func podDomain(pod *corev1.Pod, clusterDomain string) string {
	if pod.Spec.Subdomain == "" {
		return ""
	}
	return fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, clusterDomain)
}

// hostsFileContent is the pod's /etc/hosts, as Kubernetes writes it. For a
// pod with its own network: a header, the localhost and IPv6 lines, one
// line per pod IP ("<ip>\t<fqdn>\t<hostname>" with a domain, else
// "<ip>\t<hostname>"); for a hostNetwork pod: another header and the
// node's own hosts file (nodeHosts). Then, when the pod has hostAliases,
// an empty line, a header and one "<ip>\t<name>\t<name>..." line per
// alias.
func hostsFileContent(pod *corev1.Pod, podIPs []string, hostname, domain string, nodeHosts []byte) []byte {
	var b bytes.Buffer
	if pod.Spec.HostNetwork {
		b.WriteString(hostsHeaderHost)
		b.Write(nodeHosts)
	} else {
		b.WriteString(hostsHeader)
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\n")
		b.WriteString("fe00::0\tip6-mcastprefix\n")
		b.WriteString("fe00::1\tip6-allnodes\n")
		b.WriteString("fe00::2\tip6-allrouters\n")
		for _, ip := range podIPs {
			if domain != "" {
				fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
			} else {
				fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
			}
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n")
		b.WriteString(hostAliasesHeader)
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.Bytes()
}

// mountsEtcHosts says whether the container mounts a volume on /etc/hosts
// itself (it then keeps that, as in Kubernetes).
func mountsEtcHosts(c *corev1.Container) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == etcHostsPath {
			return true
		}
	}
	return false
}

// writeHostsFile makes podDir/etc-hosts hold content, mode 0644, and
// returns its path. It is written in place (running containers have this
// very file mounted) and only when it differs: it is written again before
// each container start, as Kubernetes does, which also undoes a
// container's edits.
func writeHostsFile(podDir string, content []byte) (string, error) {
	p := filepath.Join(podDir, etcHostsFile)
	if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, content) {
		return p, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(podDir, 0o750); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		return "", err
	}
	return p, os.Chmod(p, 0o644)
}
