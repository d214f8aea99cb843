#!/usr/bin/env bash
# make e2e-kind: a kind cluster, the image built and loaded, the chart installed (bundled
# PostgreSQL, a generated Secret), one run through the in-cluster operator, then the
# end-to-end suite against the same cluster.
#
# Needs Docker and Go (kind and helm are built from the Go module proxy). It has never run on
# the project's development machine, which has no Docker: treat a failure as a bug to report.
#
#   MC_KIND_CLUSTER   cluster name (default mission-control-e2e)
#   MC_KIND_KEEP=1    keep the cluster afterwards (default: delete it)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cluster=${MC_KIND_CLUSTER:-mission-control-e2e}
image=mission-control:e2e
namespace=mission-control
smoke=kind-smoke
kind_version=v0.33.0

command -v docker >/dev/null || { echo "e2e-kind: Docker is needed" >&2; exit 1; }
export PATH="$PATH:/usr/local/go/bin:${HOME:-/root}/go/bin"
if ! command -v kind >/dev/null; then
    command -v go >/dev/null || { echo "e2e-kind: kind or Go (to build kind) is needed" >&2; exit 1; }
    GOFLAGS=-mod=mod go install "sigs.k8s.io/kind@$kind_version"
fi
helm="$(bash "$root/tests/helm/build.sh")/helm"
kubectl_dir=$(bash "$root/tests/controlplane/build.sh")
export PATH="$kubectl_dir:$PATH"

work=$(mktemp -d)
cleanup() {
    rm -rf "$work"
    if [ "${MC_KIND_KEEP:-0}" != 1 ]; then kind delete cluster --name "$cluster" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
export KUBECONFIG="$work/kubeconfig"

kind get clusters 2>/dev/null | grep -qx "$cluster" || kind create cluster --name "$cluster" --wait 180s
kind get kubeconfig --name "$cluster" >"$KUBECONFIG"

docker build -t "$image" --build-arg REVISION="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)" "$root"
kind load docker-image "$image" --name "$cluster"

kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl create namespace "$smoke" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$namespace" create secret generic mission-control \
    --from-literal=postgres-password="$(openssl rand -hex 24)" \
    --from-literal=app-password="$(openssl rand -hex 24)" \
    --from-literal=readonly-password="$(openssl rand -hex 24)" \
    --from-literal=audit-key="$(openssl rand -hex 32)" \
    --from-literal=api-auth-token="$(openssl rand -hex 32)" \
    --dry-run=client -o yaml | kubectl apply -f -

"$helm" upgrade --install mission-control "$root/helm/mission-control" -n "$namespace" \
    --set image.repository=mission-control --set image.tag=e2e --set image.pullPolicy=Never \
    --set postgresql.enabled=true \
    --set "watchNamespaces={$smoke}" --set "agents.namespaces={$smoke}" \
    --wait --timeout 10m

# One run through the in-cluster operator, no LLM needed: a missing Task ends it as
# InvalidTask, written by the operator into the run's status.
kubectl apply -n "$smoke" -f - <<'YAML'
apiVersion: missioncontrol.dev/v1alpha1
kind: TaskRun
metadata:
  name: smoke
spec:
  taskRef: {name: does-not-exist}
YAML
kubectl -n "$smoke" wait --for=condition=Succeeded=false taskrun/smoke --timeout=180s
reason=$(kubectl -n "$smoke" get taskrun smoke -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].reason}')
[ "$reason" = InvalidTask ] || { echo "e2e-kind: the smoke run ended as '$reason', not InvalidTask" >&2; exit 1; }
kubectl -n "$namespace" exec deploy/mission-control -c sidecar -- \
    python -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health').read().decode())"

# The end-to-end suite against the same cluster. Its operator process serves only its own
# e2e-* namespaces; the in-cluster one serves only $smoke.
cd "$root"
MC_TEST_KUBECONFIG="$KUBECONFIG" .venv/bin/pytest -q tests/e2e
