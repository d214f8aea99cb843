#!/usr/bin/env bash
# Builds the Ollama server (CPU backend, compiled through cgo) from the Go
# module proxy into a cache outside the checkout, keyed by a hash of the
# wrapper module, and prints the directory holding the `ollama` binary.
# A second run with an unchanged wrapper module only prints the directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "github.com/ollama/ollama" {print $2; exit}' "$here/go.mod")
version=${version#v}

key=$(cat "$here/build.sh" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)
# Go and the cache need a home directory even where the caller cleared HOME.
export HOME=${HOME:-$(cd ~ && pwd)}
home=$HOME
root=${MC_OLLAMA_CACHE:-${XDG_CACHE_HOME:-$home/.cache}/mission-control/ollama}
out="$root/$key"

if [ -x "$out/ollama" ]; then
    echo "$out"
    exit 0
fi

PATH="$PATH:/usr/local/go/bin:$home/go/bin"
missing=()
command -v go >/dev/null || missing+=("Go >= 1.26 (https://go.dev/dl)")
command -v gcc >/dev/null || missing+=("gcc (Debian: gcc)")
command -v g++ >/dev/null || missing+=("g++ (Debian: g++)")
# llama.cpp vendors these headers, but Go module zips leave vendor/ folders out.
[ -f /usr/include/nlohmann/json.hpp ] || missing+=("nlohmann/json.hpp (Debian: nlohmann-json3-dev)")
[ -f /usr/include/stb/stb_image.h ] || missing+=("stb/stb_image.h (Debian: libstb-dev)")
if [ ${#missing[@]} -gt 0 ]; then
    echo "build.sh: cannot build Ollama for the tests; missing (\`make system-deps\` installs them):" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
fi
# go.mod says go 1.26.0: Go >= 1.21 fetches that toolchain itself, older ones fail obscurely.
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [ "${go_minor:-0}" -lt 21 ] 2>/dev/null; then
    echo "build.sh: $(go env GOVERSION) is too old; install Go >= 1.26 from https://go.dev/dl" >&2
    exit 1
fi

staging=$(mktemp -d "$root.build.XXXXXX" 2>/dev/null || { mkdir -p "$root" && mktemp -d "$root.build.XXXXXX"; })
trap 'rm -rf "$staging"' EXIT
start=$(date +%s)

# miniaudio.h ships at the root of the malgo module; llama.cpp includes it as
# "miniaudio/miniaudio.h", so it gets a folder of its own on the include path.
malgo=$(cd "$here" && go list -m -f '{{.Dir}}' github.com/gen2brain/malgo)
if [ -z "$malgo" ] || [ ! -d "$malgo" ]; then
    (cd "$here" && go mod download github.com/gen2brain/malgo)
    malgo=$(cd "$here" && go list -m -f '{{.Dir}}' github.com/gen2brain/malgo)
fi
mkdir -p "$staging/include/miniaudio"
cp "$malgo/miniaudio.h" "$staging/include/miniaudio/"

echo "build.sh: building Ollama $version into $out (the first build takes several minutes)" >&2
(cd "$here" && CGO_ENABLED=1 CGO_CPPFLAGS="-I$staging/include ${CGO_CPPFLAGS:-}" \
    go build -trimpath \
    -ldflags "-s -w -X github.com/ollama/ollama/version.Version=$version" \
    -o "$staging/bin/ollama" github.com/ollama/ollama)

mkdir -p "$root"
rm -rf "$out"
mv "$staging/bin" "$out"
rm -rf "$staging"
trap - EXIT
# Keep the three newest builds (other checkouts may use older wrapper modules), drop the rest.
ls -1dt "$root"/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
echo "build.sh: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
