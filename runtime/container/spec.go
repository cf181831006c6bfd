package container

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/shepherd-lab/shepherd/runtime/cgroups"
)

// Spec is everything needed to create a container. The runtime persists it
// as config.json in the container's directory; the monitor and init stages
// read it from there.
type Spec struct {
	// ID names the container: 1-64 characters of [A-Za-z0-9_.-].
	ID string `json:"id"`
	// Lower are the image's unpacked layer directories, bottom to top.
	Lower []string `json:"lower"`
	// Image is the image reference or ID, recorded for ps and metrics.
	Image string `json:"image,omitempty"`

	Process Process `json:"process"`

	// Hostname is set in the container's own UTS namespace; ignored when
	// the container joins a sandbox (the sandbox's hostname applies).
	Hostname string `json:"hostname,omitempty"`
	// Sandbox names a sandbox (see Runtime.CreateSandbox) whose network,
	// IPC and UTS namespaces the container joins; "" gives the container
	// its own.
	Sandbox string `json:"sandbox,omitempty"`
	// Hosts and ResolvConf become /etc/hosts and /etc/resolv.conf. A nil
	// Hosts gets localhost entries and the hostname; a nil ResolvConf a copy
	// of the host's /etc/resolv.conf.
	Hosts      []byte  `json:"hosts,omitempty"`
	ResolvConf []byte  `json:"resolvConf,omitempty"`
	Mounts     []Mount `json:"mounts,omitempty"`

	// Privileged gives every capability, no masked or read-only paths, and
	// a writable /sys.
	Privileged     bool `json:"privileged,omitempty"`
	ReadonlyRootfs bool `json:"readonlyRootfs,omitempty"`
	// Seccomp is SeccompRuntimeDefault or SeccompUnconfined ("" is
	// Unconfined, Kubernetes' default). Privileged containers are never
	// filtered.
	Seccomp string `json:"seccomp,omitempty"`

	// Cgroup is the container's cgroup relative to the runtime's cgroup
	// root ("" = "containers/<id>"); Resources are its limits.
	Cgroup    string            `json:"cgroup,omitempty"`
	Resources cgroups.Resources `json:"resources"`

	// LogPath receives stdout and stderr in the CRI log format; "" means
	// container.log in the container's directory.
	LogPath string            `json:"logPath,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`

	// NamespacePaths ("net", "ipc", "uts") are filled in by the runtime
	// from Sandbox: the files that hold the sandbox's namespaces.
	NamespacePaths map[string]string `json:"namespacePaths,omitempty"`
}

// Process is what runs in the container.
type Process struct {
	// Args[0] is looked up in the container's PATH when it has no slash.
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	// Cwd is created when it does not exist; "" means /.
	Cwd string `json:"cwd,omitempty"`
	// User is the image's user ("name", "uid", "uid:gid", "name:group"),
	// resolved against the container's /etc/passwd and /etc/group.
	User string `json:"user,omitempty"`
	// UID and GID override User (Kubernetes' runAsUser, runAsGroup).
	UID *uint32 `json:"uid,omitempty"`
	GID *uint32 `json:"gid,omitempty"`
	// AdditionalGids are added to the groups the user's /etc/group
	// membership gives (Kubernetes' supplementalGroups, fsGroup).
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
	// CapAdd and CapDrop adjust DefaultCapabilities ("NET_ADMIN" or
	// "CAP_NET_ADMIN"; "ALL" in CapDrop drops every one first).
	CapAdd  []string `json:"capAdd,omitempty"`
	CapDrop []string `json:"capDrop,omitempty"`
	// NoNewPrivileges sets no_new_privs: setuid binaries and file
	// capabilities then grant nothing. Kubernetes sets it for
	// allowPrivilegeEscalation: false (its default, nil, leaves it off);
	// runc's default spec and the debugging CLI turn it on. Ignored for
	// privileged containers.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
}

// Mount is a bind mount of a host path, or a tmpfs.
type Mount struct {
	Destination string `json:"destination"`
	// Source is a host path for a bind mount; ignored for tmpfs.
	Source   string `json:"source,omitempty"`
	Type     string `json:"type,omitempty"` // "bind" (default) or "tmpfs"
	ReadOnly bool   `json:"readOnly,omitempty"`
	// SizeBytes limits a tmpfs; 0 = the kernel's default (half of RAM).
	SizeBytes int64 `json:"sizeBytes,omitempty"`
}

// DefaultCapabilities is the set Docker, containerd and therefore
// Kubernetes give a container's root user.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// MaskedPaths are hidden from unprivileged containers: a file is covered
// by /dev/null, a directory by an empty read-only tmpfs (runc's and
// containerd's list).
var MaskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore",
	"/proc/keys", "/proc/latency_stats", "/proc/timer_list",
	"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

// ReadonlyPaths are bind-mounted read-only in unprivileged containers.
var ReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// validID: 1-64 characters of [A-Za-z0-9_.-], the first a letter or
// digit. (Not a regexp: compiling one would cost every shim start.)
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '_' && c != '.' && c != '-')) {
			return false
		}
	}
	return true
}

// ErrInvalid is wrapped by every Spec validation error.
var ErrInvalid = errors.New("invalid container spec")

// Validate checks what the runtime would otherwise fail on half-way.
func (s *Spec) Validate() error {
	var errs []string
	if !validID(s.ID) {
		errs = append(errs, fmt.Sprintf("id %q: must be 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit", s.ID))
	}
	if len(s.Lower) == 0 {
		errs = append(errs, "lower: at least one layer directory is required")
	}
	for _, l := range s.Lower {
		if !path.IsAbs(l) || strings.ContainsAny(l, ",:") {
			errs = append(errs, fmt.Sprintf("lower %q: must be an absolute path without ',' or ':'", l))
		}
	}
	if len(s.Process.Args) == 0 || s.Process.Args[0] == "" {
		errs = append(errs, "process.args: a command is required")
	}
	if s.Process.Cwd != "" && !path.IsAbs(s.Process.Cwd) {
		errs = append(errs, fmt.Sprintf("process.cwd %q: must be absolute", s.Process.Cwd))
	}
	for _, c := range append(append([]string(nil), s.Process.CapAdd...), s.Process.CapDrop...) {
		if strings.EqualFold(c, "ALL") {
			continue
		}
		if _, ok := capabilityByName(c); !ok {
			errs = append(errs, fmt.Sprintf("capability %q: unknown", c))
		}
	}
	switch s.Seccomp {
	case "", SeccompUnconfined:
	case SeccompRuntimeDefault:
		if deniedSyscalls == nil {
			errs = append(errs, "seccomp RuntimeDefault: not available on this architecture")
		}
	default:
		errs = append(errs, fmt.Sprintf("seccomp %q: must be RuntimeDefault or Unconfined", s.Seccomp))
	}
	for i, m := range s.Mounts {
		if !path.IsAbs(m.Destination) || path.Clean(m.Destination) == "/" || strings.Contains("/"+m.Destination+"/", "/../") {
			errs = append(errs, fmt.Sprintf("mounts[%d].destination %q: must be an absolute path other than /, without ..", i, m.Destination))
		}
		switch m.Type {
		case "", "bind":
			if !path.IsAbs(m.Source) {
				errs = append(errs, fmt.Sprintf("mounts[%d].source %q: must be an absolute host path", i, m.Source))
			}
		case "tmpfs":
		default:
			errs = append(errs, fmt.Sprintf("mounts[%d].type %q: must be bind or tmpfs", i, m.Type))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

// capabilities computes the capability set the process keeps.
func (s *Spec) capabilities() []int {
	if s.Privileged {
		return allCapabilities()
	}
	set := map[int]bool{}
	dropAll := false
	for _, c := range s.Process.CapDrop {
		if strings.EqualFold(c, "ALL") {
			dropAll = true
		}
	}
	if !dropAll {
		for _, c := range DefaultCapabilities {
			n, _ := capabilityByName(c)
			set[n] = true
		}
	}
	for _, c := range s.Process.CapDrop {
		if n, ok := capabilityByName(c); ok {
			delete(set, n)
		}
	}
	for _, c := range s.Process.CapAdd {
		if strings.EqualFold(c, "ALL") {
			return allCapabilities()
		}
		if n, ok := capabilityByName(c); ok {
			set[n] = true
		}
	}
	var out []int
	for n := range set {
		out = append(out, n)
	}
	return out
}
