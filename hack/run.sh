#!/usr/bin/env bash
# Starts a single-node Shepherd cluster in the foreground: every component
# as its own process, logs under _output/logs, state under _output/data, a
# kubeconfig at _output/kubeconfig. Ctrl-C stops everything.
#
# make run runs hack/deps.sh and make build first. The environment can move
# what this script uses (the tests start it beside other clusters):
#   SHEPHERD_OUTPUT   _output          logs, state, kubeconfig, images
#   SHEPHERD_BIN      bin              the built binaries
#   SHEPHERD_BUSYBOX  /bin/busybox     the static busybox the image is made from
#   SHEPHERD_PORT, SHEPHERD_ETCD_PORT, SHEPHERD_KUBELET_PORT,
#   SHEPHERD_SCHEDULER_PORT, SHEPHERD_CONTROLLER_MANAGER_PORT
#                     6443, 2379 (and the next for peers), 10250, 10259, 10257
set -euo pipefail
cd "$(dirname "$0")/.."

out=${SHEPHERD_OUTPUT:-_output}
bin=${SHEPHERD_BIN:-bin}
busybox=${SHEPHERD_BUSYBOX:-/bin/busybox}
port=${SHEPHERD_PORT:-6443}
etcd_port=${SHEPHERD_ETCD_PORT:-2379}
kubelet_port=${SHEPHERD_KUBELET_PORT:-10250}
scheduler_port=${SHEPHERD_SCHEDULER_PORT:-10259}
cm_port=${SHEPHERD_CONTROLLER_MANAGER_PORT:-10257}
etcd=http://127.0.0.1:${etcd_port}
kroot="$out/data/kubelet"
image="$out/images/busybox.tar"
mkdir -p "$out/logs" "$out/data"

# The kubelet runs containers, which needs root. Its first pod runs busybox
# offline, from an image built from Debian's busybox-static and imported
# into the kubelet's store. Without it that pod could only end in
# ErrImagePull, so make run stops here, before starting anything.
root=
[ "$(id -u)" = 0 ] && root=1
if [ -n "$root" ]; then
	if [ ! -f "$image" ]; then
		if ! err=$(${GO:-go} run ./hack/testimage -busybox "$busybox" -o "$image" 2>&1); then
			cat >&2 <<-MSG
				make run: cannot build the busybox image for the node's first pod:
				  ${err%%$'\n'exit status*}
				Without it, pods with --image=busybox end in ErrImagePull. Install Debian's
				busybox-static (make run does it as root through hack/deps.sh), or put a
				'docker save' archive of busybox at $image, and run make run again.
			MSG
			exit 1
		fi
	fi
	if ! err=$("$bin/shepherd-kubelet" --root-dir "$kroot" images import "$image" 2>&1); then
		echo "make run: cannot import $image into the kubelet's image store ($kroot): $err" >&2
		echo "Without it, pods with --image=busybox end in ErrImagePull. Remove $image to rebuild it from busybox-static." >&2
		exit 1
	fi
	echo "$err" >>"$out/logs/kubelet.log"
fi

cat >"$out/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: shepherd
  cluster:
    server: http://127.0.0.1:${port}
contexts:
- name: shepherd
  context:
    cluster: shepherd
    user: shepherd
current-context: shepherd
users:
- name: shepherd
  user: {}
KUBECONFIG

pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping..."
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	# A stopped kubelet leaves its containers running (a restarted one adopts
	# them); make run stops them too. Pods still in etcd start again with
	# the next make run.
	if [ -n "$root" ] && [ -d "$kroot/runtime" ]; then
		"$bin/shepherd-kubelet" --root-dir "$kroot" ps -a -q 2>/dev/null |
			xargs -r "$bin/shepherd-kubelet" --root-dir "$kroot" rm -f >/dev/null 2>&1 || true
		# Sandboxes' namespace files and tmpfs volumes are mounts: release
		# them (deepest first) so rm -rf _output/data works; the next make run
		# makes them again.
		abs=$(cd "$kroot" && pwd)
		awk -v root="$abs/" 'index($5, root) == 1 {print $5}' /proc/self/mountinfo | sort -r |
			xargs -r umount -l 2>/dev/null || true
	fi
	echo "stopped."
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

"$bin/shepherd-apiserver" --data-dir "$out/data/apiserver" --port "$port" \
	--etcd-listen-client-url "$etcd" --etcd-listen-peer-url "http://127.0.0.1:$((etcd_port + 1))" \
	>"$out/logs/apiserver.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 300); do
	if curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1; then break; fi
	if ! kill -0 "${pids[0]}" 2>/dev/null; then
		echo "shepherd-apiserver exited; see $out/logs/apiserver.log:" >&2
		tail -20 "$out/logs/apiserver.log" >&2
		exit 1
	fi
	sleep 0.2
done

"$bin/shepherd-scheduler" --etcd-servers "$etcd" --port "$scheduler_port" >"$out/logs/scheduler.log" 2>&1 &
pids+=($!)

"$bin/shepherd-controller-manager" --etcd-servers "$etcd" --port "$cm_port" >"$out/logs/controller-manager.log" 2>&1 &
pids+=($!)

kubelet_msg="no kubelet: it needs root (namespaces, mounts, cgroups); run make run as root for a node"
if [ -n "$root" ]; then
	"$bin/shepherd-kubelet" --etcd-servers "$etcd" --root-dir "$kroot" --node-ip 127.0.0.1 --port "$kubelet_port" \
		>>"$out/logs/kubelet.log" 2>&1 &
	pids+=($!)
	kubelet_msg="node $(hostname | tr 'A-Z' 'a-z') (its kubelet: $out/logs/kubelet.log, state in $kroot)"
fi

cat <<MSG
Shepherd is running: API at http://127.0.0.1:${port}
  logs:       $out/logs/
  kubeconfig: $out/kubeconfig

  ${kubelet_msg}

  export KUBECONFIG=$(cd "$out" && pwd)/kubeconfig
  kubectl get nodes
  kubectl run hello --image=busybox --image-pull-policy=IfNotPresent -- sh -c 'while true; do date; sleep 5; done'
  kubectl logs -f hello

Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
echo "a component exited; see $out/logs/" >&2
exit 1
