#!/usr/bin/env bash
# Builds test/libcni/driver (the libcni test driver) offline in GOPATH mode against Debian's libcni 1.1.2, into .build-out/libcni-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${LIBCNI_DRIVER_OUT:-$PWD/.build-out/libcni-driver}"
for need in /usr/bin/go /usr/share/gocode/src/github.com/containernetworking/cni/libcni; do
  [ -e "$need" ] || { echo "build-libcni-driver: $need missing: run scripts/setup.sh (golang-go, golang-github-appc-cni-dev)" >&2; exit 1; }
done
mkdir -p "$(dirname "$out")" .build-out/gopath
# GOPATH mode: no module download; libcni and its (standard-library only) imports come from /usr/share/gocode.
GO111MODULE=off GOFLAGS= GOPATH="$PWD/.build-out/gopath:/usr/share/gocode" GOCACHE="$PWD/.build-out/go-cache" \
  go build -o "$out" ./test/libcni/driver
