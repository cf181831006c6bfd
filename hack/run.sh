#!/usr/bin/env bash
# Starts a single-node Shepherd cluster in the foreground: every component
# as its own process, logs under _output/logs, state under _output/data, a
# kubeconfig at _output/kubeconfig. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

out=_output
port=${SHEPHERD_PORT:-6443}
etcd_port=${SHEPHERD_ETCD_PORT:-2379}
etcd=http://127.0.0.1:${etcd_port}
mkdir -p "$out/logs" "$out/data"

cat > "$out/kubeconfig" <<KUBECONFIG
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
  if [ -n "${kroot:-}" ] && [ -d "$kroot/runtime" ]; then
    bin/shepherd-kubelet --root-dir "$kroot" ps -a -q 2>/dev/null |
      xargs -r bin/shepherd-kubelet --root-dir "$kroot" rm -f >/dev/null 2>&1 || true
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

bin/shepherd-apiserver --data-dir "$out/data/apiserver" --port "$port" \
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

bin/shepherd-scheduler --etcd-servers "$etcd" >"$out/logs/scheduler.log" 2>&1 &
pids+=($!)

bin/shepherd-controller-manager --etcd-servers "$etcd" >"$out/logs/controller-manager.log" 2>&1 &
pids+=($!)

# The kubelet runs containers, which needs root. busybox is imported from
# _output/images/busybox.tar (make test-image) so pods run offline.
kubelet_msg="no kubelet: it needs root (namespaces, mounts, cgroups); run make run as root for a node"
kroot=
if [ "$(id -u)" = 0 ]; then
  kroot="$out/data/kubelet"
  if [ ! -f "$out/images/busybox.tar" ] && [ -x /bin/busybox ]; then
    ${GO:-go} run ./hack/testimage -o "$out/images/busybox.tar" >/dev/null
  fi
  if [ -f "$out/images/busybox.tar" ]; then
    bin/shepherd-kubelet --root-dir "$kroot" images import "$out/images/busybox.tar" >>"$out/logs/kubelet.log" 2>&1
  fi
  bin/shepherd-kubelet --etcd-servers "$etcd" --root-dir "$kroot" --node-ip 127.0.0.1 \
    >>"$out/logs/kubelet.log" 2>&1 &
  pids+=($!)
  kubelet_msg="node $(hostname | tr 'A-Z' 'a-z') (its kubelet: $out/logs/kubelet.log, state in $kroot)"
fi

cat <<MSG
Shepherd is running: API at http://127.0.0.1:${port}
  logs:       $out/logs/
  kubeconfig: $out/kubeconfig

  ${kubelet_msg}

  kubectl --kubeconfig $out/kubeconfig get nodes
  kubectl --kubeconfig $out/kubeconfig run hello --image=busybox --image-pull-policy=IfNotPresent -- sh -c 'while true; do date; sleep 5; done'
  kubectl --kubeconfig $out/kubeconfig logs -f hello
  curl http://127.0.0.1:${port}/api/v1/namespaces

Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
echo "a component exited; see $out/logs/" >&2
exit 1
