#!/usr/bin/env bash
# Builds the helm command from the Go module proxy into a cache outside the
# checkout, keyed by a hash of the wrapper module, and prints the directory
# holding the `helm` binary. A second run with an unchanged wrapper module only
# prints the directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "helm.sh/helm/v4" {print $2; exit}' "$here/go.mod")

key=$(cat "$here/build.sh" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)
# Go and the cache need a home directory even where the caller cleared HOME.
export HOME=${HOME:-$(cd ~ && pwd)}
home=$HOME
root=${MC_HELM_CACHE:-${XDG_CACHE_HOME:-$home/.cache}/mission-control/helm}
out="$root/$key"

if [ -x "$out/helm" ]; then
    echo "$out"
    exit 0
fi

PATH="$PATH:/usr/local/go/bin:$home/go/bin"
command -v go >/dev/null || {
    echo "build.sh: Go >= 1.26 is needed to build helm for the chart tests (https://go.dev/dl)" >&2
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

echo "build.sh: building helm $version into $out" >&2
(cd "$here" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    -o "$staging/helm" helm.sh/helm/v4/cmd/helm)

mkdir -p "$root"
rm -rf "$out"
mv "$staging" "$out"
trap - EXIT
# Keep the three newest builds (other checkouts may use older wrapper modules), drop the rest.
ls -1dt "$root"/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
echo "build.sh: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
