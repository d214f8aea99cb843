#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kubectl) from the Go module proxy into a cache outside the checkout, keyed by
# a hash of the wrapper modules, and prints the directory holding the binaries.
# A second run with unchanged wrapper modules only prints the directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$here/kubernetes/go.mod")
k8s_version=${k8s_version:-$(awk '/^require k8s.io\/kubernetes/ {print $3}' "$here/kubernetes/go.mod")}
major=$(echo "$k8s_version" | sed -E 's/^v([0-9]+)\..*/\1/')
minor=$(echo "$k8s_version" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')

key=$(cat "$here/build.sh" "$here"/kubernetes/go.mod "$here"/kubernetes/go.sum \
          "$here"/etcd/go.mod "$here"/etcd/go.sum | sha256sum | cut -c1-16)
# Go and the cache need a home directory even where the caller cleared HOME.
export HOME=${HOME:-$(cd ~ && pwd)}
home=$HOME
root=${MC_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$home/.cache}/mission-control/controlplane}
out="$root/$key"
programs=(etcd kube-apiserver kube-controller-manager kubectl)

complete() {
    for p in "${programs[@]}"; do [ -x "$out/$p" ] || return 1; done
}
if complete; then
    echo "$out"
    exit 0
fi

PATH="$PATH:/usr/local/go/bin:$home/go/bin"
command -v go >/dev/null || {
    echo "build.sh: Go >= 1.26 is needed to build the local control plane (or set MC_TEST_KUBECONFIG to use an existing cluster)" >&2
    exit 1
}
# go.mod says go 1.26.0: Go >= 1.21 fetches that toolchain itself, older ones fail obscurely.
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [ "${go_minor:-0}" -lt 21 ] 2>/dev/null; then
    echo "build.sh: $(go env GOVERSION) is too old; install Go >= 1.26 from https://go.dev/dl" >&2
    exit 1
fi

staging=$(mktemp -d "$root.build.XXXXXX" 2>/dev/null || { mkdir -p "$root" && mktemp -d "$root.build.XXXXXX"; })
trap 'rm -rf "$staging"' EXIT
start=$(date +%s)

ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

echo "build.sh: building Kubernetes $k8s_version and etcd into $out (the first build takes a while)" >&2
(cd "$here/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$staging/etcd" go.etcd.io/etcd/server/v3)
(cd "$here/kubernetes" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$staging/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl)

mkdir -p "$root"
rm -rf "$out"
mv "$staging" "$out"
trap - EXIT
# Keep the three newest builds (other checkouts may use older wrapper modules), drop the rest.
ls -1dt "$root"/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
echo "build.sh: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
