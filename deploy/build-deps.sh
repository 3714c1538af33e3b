#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build and test durabled.
# Run as root (or via sudo). Safe to run again.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev libsystemd-dev
  libgtest-dev libgmock-dev
  # fuzzing (libFuzzer) and I/O fault injection in the tests
  clang libclang-rt-14-dev strace
  # lifecycle tests and the .deb: systemd-analyze, systemd-socket-activate,
  # systemd-sysusers/-tmpfiles; dpkg-shlibdeps; deb-systemd-helper; file (CPack
  # reads shared objects with it)
  systemd dpkg-dev init-system-helpers file
  # adversarial tests: a raw HTTP/2 client (hyperframe, hpack) that breaks
  # the rules gRPC clients follow
  python3-h2
  # Python client: stubs from grpc_python_plugin (protobuf-compiler-grpc),
  # runtime, wheel build and its tests
  python3-grpcio python3-protobuf python3-build python3-wheel python3-venv
  python3-pytest
  # man pages (scdoc), the package checker, bash completion, and the
  # OpenMetrics parser the metrics test reads durablectl's output with
  scdoc man-db lintian bash-completion python3-prometheus-client
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node client (and buf, the proto linter, from npm): Debian's nodejs and npm,
# unless a Node.js with npm is already installed.
if ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm
fi
