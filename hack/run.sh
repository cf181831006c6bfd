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

cat <<MSG
Shepherd is running: API at http://127.0.0.1:${port}
  logs:       $out/logs/
  kubeconfig: $out/kubeconfig

  kubectl --kubeconfig $out/kubeconfig get namespaces
  curl http://127.0.0.1:${port}/api/v1/namespaces

Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
echo "a component exited; see $out/logs/" >&2
exit 1
