#!/usr/bin/env bash
# Package test (ctest: deb_package_test, label lifecycle).
#
#   bash deploy/test-package.sh BUILD_DIR SOURCE_DIR
#
# 1. Builds the three .debs (durabled, libdurable-client0, durabled-dev)
#    with cpack into a scratch directory.
# 2. Checks their control data (name, computed Depends, conffiles), their
#    file lists and modes (development files only in durabled-dev), and the
#    maintainer scripts (syntax, permissions, what they run); lintian
#    reports no error and no warning.
# 3. Installs all three with `dpkg --root` into an empty scratch root, maintainer
#    scripts run chrootless with DPKG_ROOT set (as dpkg does for a foreign
#    root): the group, the enabled units and the conffile must be there, and
#    nothing may have been started.
# 4. Runs the installed durabled as the socket unit would (under
#    systemd-socket-activate): with the shipped config it allows nothing
#    (`durablectl whoami` is disconnected, exit 7); with a rule added for us,
#    `durablectl whoami` and a write succeed. Builds C++ programs against
#    the installed durabled-dev with CMake and pkg-config and runs them
#    against the installed daemon (tests/consumer/install-and-run.sh).
# 5. Purges the packages from the scratch root.
#
# Nothing outside the scratch directory is changed. Exit 77: skipped
# because a tool is missing (the message says which).
set -euo pipefail

build_dir=$(realpath "$1")
source_dir=$(realpath "$2")

# dpkg wants ldconfig and friends on PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; exit 1; }
step() { echo "=== $*"; }

for tool in cpack dpkg dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null ||
    skip "$tool not found (cmake for cpack; dpkg-dev for dpkg-shlibdeps)"
done
socket_activate=""
for candidate in /usr/bin/systemd-socket-activate /lib/systemd/systemd-socket-activate \
                 /usr/lib/systemd/systemd-socket-activate; do
  if [ -x "$candidate" ]; then socket_activate=$candidate; break; fi
done
[ -n "$socket_activate" ] || skip "systemd-socket-activate not found (Debian package systemd)"
[ "$(id -u)" = 0 ] || skip "needs root (dpkg --root, files owned by root)"

scratch=$(mktemp -d /tmp/durabled-package.XXXXXX)
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# --- 1. Build -----------------------------------------------------------------
step "cpack"
cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$scratch/out" \
  >"$scratch/cpack.log" 2>&1 || { cat "$scratch/cpack.log"; fail "cpack failed"; }
debs=("$scratch"/out/durabled_*.deb)
[ -f "${debs[0]}" ] || { cat "$scratch/cpack.log"; fail "cpack made no durabled_*.deb"; }
deb=${debs[0]}
dev_debs=("$scratch"/out/durabled-dev_*.deb)
[ -f "${dev_debs[0]}" ] || { cat "$scratch/cpack.log"; fail "cpack made no durabled-dev_*.deb"; }
dev_deb=${dev_debs[0]}
lib_debs=("$scratch"/out/libdurable-client0_*.deb)
[ -f "${lib_debs[0]}" ] || { cat "$scratch/cpack.log"; fail "cpack made no libdurable-client0_*.deb"; }
lib_deb=${lib_debs[0]}
echo "built $(basename "$deb"), $(basename "$lib_deb") and $(basename "$dev_deb")"

# --- 2. Contents ----------------------------------------------------------------
step "control"
dpkg-deb --info "$deb"
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = durabled ] || fail "Package is not durabled"
depends=$(field Depends)
# Computed by dpkg-shlibdeps from the binaries: always libc and libsystemd;
# gRPC, protobuf and OpenSSL only where a binary still links them shared
# (both are linked statically against them when Debian's archives exist).
for dependency in libc6 libsystemd0 init-system-helpers; do
  grep -q "$dependency" <<<"$depends" || fail "Depends lacks $dependency: $depends"
done
mkdir "$scratch/unpacked"
dpkg-deb -x "$deb" "$scratch/unpacked"
needed=$(for binary in "$scratch/unpacked/usr/sbin/durabled" \
                       "$scratch/unpacked/usr/bin/durablectl"; do
           objdump -p "$binary" | awk '/NEEDED/ {print $2}'
         done)
for pair in libgrpc:libgrpc libprotobuf:libprotobuf libcrypto:libssl; do
  library=${pair%%:*} package=${pair##*:}
  if grep -q "^$library" <<<"$needed"; then
    grep -q "$package" <<<"$depends" ||
      fail "a binary needs $library but Depends lacks $package: $depends"
  fi
done

mkdir "$scratch/control"
dpkg-deb --control "$deb" "$scratch/control"
grep -qx /etc/durabled/durabled.conf "$scratch/control/conffiles" ||
  fail "/etc/durabled/durabled.conf is not a conffile"
for script in postinst prerm postrm; do
  [ -f "$scratch/control/$script" ] || fail "no $script"
  [ "$(stat -c %a "$scratch/control/$script")" = 755 ] || fail "$script is not 0755"
  sh -n "$scratch/control/$script" || fail "$script: syntax error"
done
grep -q "systemd-sysusers" "$scratch/control/postinst" || fail "postinst does not create the group"
grep -q "systemd-tmpfiles" "$scratch/control/postinst" || fail "postinst does not create /run/durabled"
grep -q "deb-systemd-helper" "$scratch/control/postinst" || fail "postinst does not enable the units"
grep -q "/run/systemd/system" "$scratch/control/postinst" ||
  fail "postinst starts units without checking that systemd runs"

step "files"
dpkg-deb --contents "$deb" | tee "$scratch/contents"
expect_file() {  # path mode owner
  local line
  line=$(awk -v p="./$1" '$6 == p' "$scratch/contents")
  [ -n "$line" ] || fail "$1 is not in the package"
  [ "$(awk '{print $1}' <<<"$line")" = "$2" ] || fail "$1: mode $(awk '{print $1}' <<<"$line"), want $2"
  [ "$(awk '{print $2}' <<<"$line")" = "root/root" ] || fail "$1 is not root/root"
}
expect_file usr/sbin/durabled -rwxr-xr-x
expect_file usr/bin/durablectl -rwxr-xr-x
expect_file usr/lib/systemd/system/durabled.service -rw-r--r--
expect_file usr/lib/systemd/system/durabled.socket -rw-r--r--
expect_file usr/lib/systemd/system-generators/durabled-generator -rwxr-xr-x
expect_file usr/lib/sysusers.d/durabled.conf -rw-r--r--
expect_file usr/lib/tmpfiles.d/durabled.conf -rw-r--r--
expect_file etc/durabled/durabled.conf -rw-r--r--
expect_file usr/share/doc/durabled/README.md -rw-r--r--
if grep -q 'include/\|\.a$\|cmake/durable\|pkgconfig\|libdurable_client' "$scratch/contents"; then
  fail "library or development files in the runtime package"
fi
if grep -q "$build_dir\|$scratch" "$scratch/contents"; then
  fail "the package holds build paths"
fi
expect_docs() {  # package: DEP-5 copyright and the changelog of the version
  expect_file "usr/share/doc/$1/copyright" -rw-r--r--
  expect_file "usr/share/doc/$1/changelog.gz" -rw-r--r--
}
expect_docs durabled
expect_file usr/share/man/man8/durabled.8.gz -rw-r--r--
expect_file usr/share/man/man1/durablectl.1.gz -rw-r--r--
expect_file usr/share/man/man5/durabled.conf.5.gz -rw-r--r--
expect_file usr/share/bash-completion/completions/durablectl -rw-r--r--
changelog_version=$(dpkg-parsechangelog -l "$source_dir/deploy/debian/changelog" -S Version)
[ "$changelog_version" = "$(field Version)" ] ||
  fail "deploy/debian/changelog is at $changelog_version, the package at $(field Version)"

step "libdurable-client0"
dpkg-deb --info "$lib_deb"
[ "$(dpkg-deb --field "$lib_deb" Section)" = libs ] || fail "libdurable-client0 is not in section libs"
dpkg-deb --contents "$lib_deb" | tee "$scratch/contents"
expect_file usr/lib/x86_64-linux-gnu/libdurable_client.so.0.1.0 -rw-r--r--
grep -q "./usr/lib/x86_64-linux-gnu/libdurable_client.so.0 -> libdurable_client.so.0.1.0" "$scratch/contents" ||
  fail "no soname link libdurable_client.so.0"
mkdir "$scratch/lib-control"
dpkg-deb --control "$lib_deb" "$scratch/lib-control"
grep -q "^libdurable_client 0 libdurable-client0 (>= " "$scratch/lib-control/shlibs" ||
  fail "no shlibs entry for libdurable_client.so.0: $(cat "$scratch/lib-control/shlibs")"
grep -qx "activate-noawait ldconfig" "$scratch/lib-control/triggers" || fail "no ldconfig trigger"
for script in postinst postrm; do
  [ ! -e "$scratch/lib-control/$script" ] || fail "libdurable-client0 has a $script (the trigger runs ldconfig)"
done
expect_docs libdurable-client0

step "durabled-dev"
dpkg-deb --info "$dev_deb"
[ "$(dpkg-deb --field "$dev_deb" Package)" = durabled-dev ] || fail "Package is not durabled-dev"
dev_depends=$(dpkg-deb --field "$dev_deb" Depends)
for dependency in "libdurable-client0 (= $(dpkg-deb --field "$deb" Version))" libgrpc++-dev libprotobuf-dev libabsl-dev; do
  grep -qF "$dependency" <<<"$dev_depends" || fail "durabled-dev Depends lacks $dependency: $dev_depends"
done
dpkg-deb --contents "$dev_deb" | tee "$scratch/contents"
expect_file usr/include/durable/client.h -rw-r--r--
expect_file usr/lib/x86_64-linux-gnu/libdurable_client.a -rw-r--r--
expect_file usr/lib/x86_64-linux-gnu/cmake/durable/durableConfig.cmake -rw-r--r--
expect_file usr/lib/x86_64-linux-gnu/cmake/durable/durableConfigVersion.cmake -rw-r--r--
expect_file usr/lib/x86_64-linux-gnu/cmake/durable/durableTargets.cmake -rw-r--r--
expect_file usr/lib/x86_64-linux-gnu/pkgconfig/durable-client.pc -rw-r--r--
expect_file usr/share/durabled/proto/durable/v1/durable.proto -rw-r--r--
expect_file usr/share/durabled/proto/durable/v1/config.proto -rw-r--r--
expect_docs durabled-dev
grep -q "./usr/lib/x86_64-linux-gnu/libdurable_client.so -> libdurable_client.so.0" "$scratch/contents" ||
  fail "no libdurable_client.so link to the runtime's libdurable_client.so.0"
if grep -q "$build_dir\|$scratch" "$scratch/contents"; then
  fail "durabled-dev holds build paths"
fi

step "lintian"
# Debian's own checker: no error and no warning (informational tags may
# stay).
command -v lintian >/dev/null || fail "lintian not found (deploy/build-deps.sh installs it)"
lintian --tag-display-limit 0 "$deb" "$lib_deb" "$dev_deb" 2>&1 |
  grep -v "^N: \|running with root privileges" | tee "$scratch/lintian.out" || true
if grep -q "^[EW]: " "$scratch/lintian.out"; then
  fail "lintian reports errors or warnings (above)"
fi

# --- 3. Install into a scratch root --------------------------------------------------
step "dpkg --root install"
root=$scratch/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc"
touch "$root/var/lib/dpkg/status"
# Scripts see DPKG_ROOT=$root: they configure the scratch root and must not
# touch the running system. Dependencies live on the host, not in the root.
dpkg --root="$root" --force-script-chrootless --force-depends \
  --log="$scratch/dpkg.log" -i "$deb" "$lib_deb" "$dev_deb"
[ -x "$root/usr/sbin/durabled" ] || fail "durabled not installed"
cmp "$root/etc/durabled/durabled.conf" "$source_dir/deploy/durabled.conf" ||
  fail "installed config differs from deploy/durabled.conf"
grep -q '^durable:' "$root/etc/group" || fail "postinst did not create the durable group"
[ -L "$root/etc/systemd/system/sockets.target.wants/durabled.socket" ] ||
  fail "durabled.socket not enabled"
[ -L "$root/etc/systemd/system/multi-user.target.wants/durabled.service" ] ||
  fail "durabled.service not enabled"
dpkg-query --root="$root" -W -f='${Status}\n${Conffiles}\n' durabled | tee "$scratch/query"
grep -q "install ok installed" "$scratch/query" || fail "not installed"
grep -q "/etc/durabled/durabled.conf" "$scratch/query" || fail "conffile not registered"
grep -q "ExecStart=/usr/sbin/durabled --config=/etc/durabled/durabled.conf" \
  "$root/usr/lib/systemd/system/durabled.service" || fail "installed unit has another ExecStart"
grep -q 'DURABLED_BIN:-/usr/sbin/durabled}' \
  "$root/usr/lib/systemd/system-generators/durabled-generator" ||
  fail "installed generator runs another durabled"

# --- 4. Run the installed daemon ---------------------------------------------------
# Socket-activated, as durabled.socket starts it (so the socket's group comes
# from the unit, not from the host's group database).
run_dir=$scratch/run
mkdir -p "$run_dir"
start_daemon() {  # config
  "$socket_activate" --listen="$run_dir/durabled.sock" \
    "$root/usr/sbin/durabled" --config="$1" 2>>"$run_dir/durabled.log" &
  daemon_pid=$!
  for _ in $(seq 300); do
    [ -S "$run_dir/durabled.sock" ] && return 0
    kill -0 "$daemon_pid" 2>/dev/null || { cat "$run_dir/durabled.log"; fail "daemon exited"; }
    sleep 0.1
  done
  fail "socket did not appear within 30s"
}
stop_daemon() {
  kill -TERM "$daemon_pid"
  for _ in $(seq 600); do
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
      local status=0
      wait "$daemon_pid" || status=$?
      daemon_pid=""
      [ "$status" = 0 ] || { cat "$run_dir/durabled.log"; fail "durabled exited $status on SIGTERM"; }
      rm -f "$run_dir/durabled.sock"
      return 0
    fi
    sleep 0.1
  done
  fail "durabled still running 60s after SIGTERM"
}
durablectl() {
  "$root/usr/bin/durablectl" --socket="$run_dir/durabled.sock" --timeout=30 "$@"
}

step "shipped config: allows nothing"
start_daemon "$root/etc/durabled/durabled.conf"
status=0
durablectl whoami >"$run_dir/whoami.out" 2>&1 || status=$?
cat "$run_dir/whoami.out"
[ "$status" = 7 ] || fail "whoami under the shipped config: exit $status, want 7 (disconnected)"
stop_daemon
grep -q "0 rules" "$run_dir/durabled.log" || { cat "$run_dir/durabled.log"; fail "no '0 rules' in the log"; }

step "shipped config plus a rule for uid $(id -u)"
mkdir -p "$scratch/data"
cp "$root/etc/durabled/durabled.conf" "$run_dir/with-rule.conf"
printf 'rule {\n  root: "%s"\n  allow_uid: %s\n}\n' "$scratch/data" "$(id -u)" >>"$run_dir/with-rule.conf"
start_daemon "$run_dir/with-rule.conf"
durablectl whoami | tee "$run_dir/whoami.out"
grep -q "$scratch/data" "$run_dir/whoami.out" || fail "whoami does not list the rule's root"
echo "hello from the package" | durablectl write "$scratch/data/hello"
[ "$(cat "$scratch/data/hello")" = "hello from the package" ] || fail "write did not land"
stop_daemon
cat "$run_dir/durabled.log"

step "C++ consumers against the installed durabled-dev"
bash "$source_dir/tests/consumer/install-and-run.sh" --prefix "$root/usr" \
  "$source_dir" "$scratch/consumer" "$root/usr/sbin/durabled"

# --- 5. Purge ------------------------------------------------------------------
step "dpkg --root purge"
dpkg --root="$root" --force-script-chrootless --force-depends \
  --log="$scratch/dpkg.log" --purge durabled-dev libdurable-client0 durabled
[ ! -e "$root/usr/sbin/durabled" ] || fail "durabled left after purge"
[ ! -e "$root/usr/include/durable/client.h" ] || fail "durabled-dev left after purge"
[ ! -e "$root/usr/lib/x86_64-linux-gnu/libdurable_client.so.0" ] || fail "libdurable-client0 left after purge"
[ ! -e "$root/etc/durabled/durabled.conf" ] || fail "conffile left after purge"
[ ! -e "$root/etc/systemd/system/sockets.target.wants/durabled.socket" ] ||
  fail "enable symlink left after purge"

echo "deb_package_test: all checks passed"
