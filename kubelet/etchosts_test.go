package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const localhostLines = "127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

// The pod's /etc/hosts is byte for byte what Kubernetes' kubelet writes.
func TestHostsFileContent(t *testing.T) {
	aliases := []corev1.HostAlias{
		{IP: "123.45.67.89", Hostnames: []string{"foo.local", "bar.local"}},
		{IP: "10.1.2.3", Hostnames: []string{"foo.remote"}},
	}
	for _, tc := range []struct {
		name      string
		spec      corev1.PodSpec
		podIPs    []string
		nodeHosts string
		want      string
	}{
		{name: "plain", podIPs: []string{"10.250.0.9"},
			want: "# Kubernetes-managed hosts file.\n" + localhostLines + "10.250.0.9\tweb-0\n"},
		{name: "subdomain gives the FQDN", spec: corev1.PodSpec{Hostname: "db", Subdomain: "backend"}, podIPs: []string{"10.250.0.9"},
			want: "# Kubernetes-managed hosts file.\n" + localhostLines + "10.250.0.9\tdb.backend.ns.svc.cluster.local\tdb\n"},
		{name: "dual stack", podIPs: []string{"10.250.0.9", "fd00::9"},
			want: "# Kubernetes-managed hosts file.\n" + localhostLines + "10.250.0.9\tweb-0\nfd00::9\tweb-0\n"},
		{name: "host aliases", spec: corev1.PodSpec{HostAliases: aliases}, podIPs: []string{"10.250.0.9"},
			want: "# Kubernetes-managed hosts file.\n" + localhostLines + "10.250.0.9\tweb-0\n" +
				"\n# Entries added by HostAliases.\n123.45.67.89\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\n"},
		{name: "host network: the node's file and the aliases", spec: corev1.PodSpec{HostNetwork: true, HostAliases: aliases[1:]},
			podIPs: []string{"192.0.2.1"}, nodeHosts: "127.0.0.1 localhost\n192.0.2.1 node-1\n",
			want: "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.0.2.1 node-1\n" +
				"\n# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: tc.spec}
			got := string(hostsFileContent(pod, tc.podIPs, podHostname(pod), podDomain(pod, DefaultClusterDomain), []byte(tc.nodeHosts)))
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	for _, tc := range []struct {
		name, hostname, want string
	}{
		{"web-0", "", "web-0"},
		{"web-0", "db", "db"},
		{long, "", strings.Repeat("a", 62)}, // cut to 63, the trailing '-' dropped
		{strings.Repeat("x", 70), "", strings.Repeat("x", 63)},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name}, Spec: corev1.PodSpec{Hostname: tc.hostname}}
		if got := podHostname(pod); got != tc.want {
			t.Errorf("podHostname(name %q, hostname %q) = %q, want %q", tc.name, tc.hostname, got, tc.want)
		}
	}
}

// The file is written in place (a container has it mounted), 0644, and
// left alone while unchanged.
func TestWriteHostsFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pod")
	p, err := writeHostsFile(dir, []byte("one\n"))
	if err != nil {
		t.Fatal(err)
	}
	st1, err := os.Stat(p)
	if err != nil || st1.Mode().Perm() != 0o644 || filepath.Base(p) != "etc-hosts" {
		t.Fatalf("first write: %v %v", st1, err)
	}
	if _, err := writeHostsFile(dir, []byte("two\n")); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "two\n" || !os.SameFile(st1, st2) {
		t.Errorf("rewrite: %q, same file %v", b, os.SameFile(st1, st2))
	}
}
