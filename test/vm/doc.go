// Package vm runs the runtime's cgroup v2 tests inside a qemu VM, on a
// kernel with the full cgroup v2 hierarchy that hosts giving their
// controllers to cgroup v1 cannot offer: cpu.max, cpu.weight, memory.max,
// pids.max and OOM kills, for real.
//
// The test builds the test binaries of runtime/cgroups and
// runtime/container (static, CGO_ENABLED=0), packs them into an initramfs
// with Debian's static busybox, the kernel modules they need (overlay) and
// the init script in guest/init, boots it on the installed Debian cloud
// kernel with qemu, and reads the verdicts from the serial console.
//
// It needs root, qemu-system-x86_64 and a /boot/vmlinuz-*-cloud-amd64 with
// its /lib/modules: on Debian,
//
//	apt-get install --no-install-recommends qemu-system-x86 linux-image-cloud-amd64 busybox-static xz-utils
//
// and skips, saying which, without them. It uses KVM where /dev/kvm works
// and falls back to software emulation (TCG) where it does not;
// SHEPHERD_VM_ACCEL=tcg or =kvm forces one. Run it alone with
// `make test-vm`.
package vm
