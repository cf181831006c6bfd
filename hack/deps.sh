#!/usr/bin/env bash
# The one list of what Shepherd needs from the operating system, and the one
# place that installs it. `make run` runs `hack/deps.sh run`, `make test`
# runs `hack/deps.sh test`, `make deps` runs `hack/deps.sh all`.
#
# As root, whatever is missing is installed from Debian's packages with
# apt-get, one line each saying what and why; when nothing is missing this
# is a no-op (no apt-get at all). Not as root, it names what is missing and
# what will not work or will be skipped because of it; it fails only when
# the goal cannot work at all without it (make run without curl).
#
# Usage: hack/deps.sh run|test|all [--check]
#   --check   only report; never install (exit 1 if anything is missing)
set -euo pipefail

goal=${1:-all}
mode=${2:-install}
case "$goal" in run | test | all) ;; *)
	echo "usage: $0 run|test|all [--check]" >&2
	exit 2
	;;
esac

# One row per need: goals (run, test) | Debian package | how to tell it is
# here | required (a goal cannot work without it) or optional (its tests
# skip) | why.
deps=(
	"run,test|busybox-static|static:/bin/busybox|required|the busybox image: make run's first pod runs offline from it, and the tests' containers run it"
	"run|curl|cmd:curl|required|make run waits for the apiserver's /readyz with it"
	"test|etcd-server|cmd:etcd|optional|the external-etcd test (test/e2e TestExternalEtcd) runs a separate etcd"
	"test|qemu-system-x86|cmd:qemu-system-x86_64|optional|the cgroup v2 tests boot a VM (test/vm)"
	"test|linux-image-cloud-amd64|glob:/boot/vmlinuz-*-cloud-amd64|optional|the VM's kernel and modules (test/vm)"
	"test|xz-utils|cmd:xz|optional|unpacking the cloud kernel's modules into the VM's initramfs (test/vm)"
)

# present CHECK: is the thing CHECK names here?
present() {
	local kind=${1%%:*} what=${1#*:}
	case "$kind" in
	cmd) command -v "$what" >/dev/null 2>&1 ;;
	glob) compgen -G "$what" >/dev/null ;;
	# A static busybox: a dynamically linked one (Debian's busybox package)
	# has no libraries inside an image or an initramfs.
	static) [ -x "$what" ] && static_elf "$what" ;;
	esac
}

# static_elf FILE: is FILE a 64-bit ELF without a PT_INTERP program header?
static_elf() {
	local f=$1 phoff phentsize phnum i
	[ "$(od -An -c -N 5 "$f" | tr -d ' ')" = '177ELF002' ] || return 1
	phoff=$(od -An -t u8 -j 32 -N 8 "$f" | tr -d ' ')
	phentsize=$(od -An -t u2 -j 54 -N 2 "$f" | tr -d ' ')
	phnum=$(od -An -t u2 -j 56 -N 2 "$f" | tr -d ' ')
	for ((i = 0; i < phnum; i++)); do
		[ "$(od -An -t u4 -j $((phoff + i * phentsize)) -N 4 "$f" | tr -d ' ')" = 3 ] && return 1
	done
	return 0
}

missing=() why=() required=()
for row in "${deps[@]}"; do
	IFS='|' read -r goals pkg check need reason <<<"$row"
	if [ "$goal" != all ] && [[ ",$goals," != *",$goal,"* ]]; then continue; fi
	if present "$check"; then continue; fi
	missing+=("$pkg") why+=("$reason") required+=("$need")
done

# kubectl is not one of Debian's packages: say so, never fail for it.
if [ "$goal" != run ] && ! command -v kubectl >/dev/null 2>&1; then
	echo "deps: kubectl is not on PATH (Debian has no package for it: https://kubernetes.io/docs/tasks/tools/); the tests that run real kubectl skip"
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && [ "$mode" != --check ] && command -v apt-get >/dev/null 2>&1; then
	for i in "${!missing[@]}"; do
		echo "deps: installing ${missing[$i]}: ${why[$i]}"
	done
	export DEBIAN_FRONTEND=noninteractive
	# INITRD=No: the cloud kernel boots the tests' own initramfs, so its
	# postinst need not build one.
	apt-get update -qq
	# Debian's etcd-server starts etcd as a service on 127.0.0.1:2379,
	# where make run's embedded etcd listens: keep it from starting.
	policy=
	if [[ " ${missing[*]} " == *" etcd-server "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
	fi
	status=0
	INITRD=No apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
	[ -n "$policy" ] && rm -f "$policy"
	if [ $status -ne 0 ]; then
		echo "deps: apt-get install ${missing[*]} failed (exit $status)" >&2
		exit $status
	fi
	if [[ " ${missing[*]} " == *" etcd-server "* ]] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now etcd >/dev/null 2>&1 || true
	fi
	exit 0
fi

# Not root (or only checking): say what is missing and what that costs.
fatal=0
for i in "${!missing[@]}"; do
	if [ "${required[$i]}" = required ] && [ "$goal" = run ]; then
		# make run without busybox still works when not root: there is no
		# kubelet to run the image.
		if [ "${missing[$i]}" = busybox-static ] && [ "$(id -u)" != 0 ]; then
			continue
		fi
		echo "deps: missing ${missing[$i]} (apt-get install ${missing[$i]}): ${why[$i]}" >&2
		fatal=1
	else
		echo "deps: missing ${missing[$i]} (apt-get install ${missing[$i]}); skipped without it: ${why[$i]}" >&2
	fi
done
if [ "$mode" = --check ]; then exit 1; fi
if [ $fatal -ne 0 ]; then
	echo "deps: run as root to install them, or install them yourself" >&2
	exit 1
fi
exit 0
