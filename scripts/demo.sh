#!/usr/bin/env bash
# The demo: install what is needed, build, then run edgeprovd in the foreground with a generated demo
# configuration on a temporary socket and show what `edgeprovctl status` reports. Everything it starts
# or creates is stopped and removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-debian.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset default >/dev/null
cmake --build --preset default --target edgeprovd edgeprovctl

bin="$PWD/build/bin"
demo=$(mktemp -d -t edgeprov-demo.XXXXXX)
chmod 0755 "$demo"
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
  fi
  rm -rf "$demo"
}
trap cleanup EXIT INT TERM

socket="$demo/edgeprov.sock"
config="$demo/config.toml"
# A TPM device of a demo DPS scope, configured the way an operator does it: the service reports these
# settings until provisioning runs.
echo "== edgeprovctl init"
"$bin/edgeprovctl" --config "$config" --endpoint "$socket" init --scope-id 0ne00000DEM \
  --tcti "swtpm:host=127.0.0.1,port=2321" --state-dir "$demo/state"
mkdir -p "$demo/state"

echo "== edgeprovd --config $config"
"$bin/edgeprovd" --config "$config" &
daemon_pid=$!

for _ in $(seq 100); do
  [ -S "$socket" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { echo "demo: edgeprovd exited; see its messages above" >&2; exit 1; }
  sleep 0.1
done
[ -S "$socket" ] || { echo "demo: edgeprovd did not listen on $socket within 10 s" >&2; exit 1; }

# status exits 3 while the device is not provisioned: that is the expected answer here.
echo; echo "== edgeprovctl --config $config status"
"$bin/edgeprovctl" --config "$config" status || [ $? -eq 3 ]
echo; echo "== edgeprovctl --config $config status --json"
"$bin/edgeprovctl" --config "$config" status --json || [ $? -eq 3 ]

echo; echo "== stopping edgeprovd (SIGTERM)"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=
echo "demo: done"
