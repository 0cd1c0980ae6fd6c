#!/usr/bin/env bash
# Installs what macmux's build, demo, tests and bench need on a fresh Debian machine: npm packages, iproute2, CNI plugins, podman.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/macvlan ] && [ -x /usr/lib/cni/host-local ] || need_apt+=(containernetworking-plugins)
command -v strip >/dev/null 2>&1 || need_apt+=(binutils)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# npm run bench reads peak RSS from GNU time.
[ -x /usr/bin/time ] || need_apt+=(time)
# The libcni test driver (test/libcni/driver): Go and Debian's libcni 1.1.2, built offline in GOPATH mode.
[ -x /usr/bin/go ] || need_apt+=(golang-go)
[ -d /usr/share/gocode/src/github.com/containernetworking/cni/libcni ] || need_apt+=(golang-github-appc-cni-dev)
# The image test (test/integration/image.test.ts) runs the image under Debian's podman with runc (crun refuses
# hybrid cgroups); rootful with host networking, so no uidmap, slirp4netns, fuse-overlayfs or netavark. Debian's
# podman package also installs /etc/cni/net.d/87-podman-bridge.conflist; no test reads the host's conf dir.
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install: ${need_apt[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# npm packages, when missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
