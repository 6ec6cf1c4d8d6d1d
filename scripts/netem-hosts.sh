#!/usr/bin/env bash
# netem-hosts.sh: N hosts in network namespaces whose packets to each other are delayed, jittered
# and dropped: the real TLS path of a bad network, for the live-streaming tests and by hand.
#
#   netem-hosts.sh up N [--delay 100] [--jitter 50] [--loss 2]     (ms, ms, percent)
#                       [--rate 5 [--queue 100]]   (Mbit/s into each host, FIFO of at most that many ms)
#   netem-hosts.sh down            remove every namespace this prefix made, stop its switch (safe to repeat)
#   netem-hosts.sh addr I          host I's address
#   netem-hosts.sh status          the namespaces and the switch
#   PREFIX=xx- netem-hosts.sh ...  a separate set (default rn-), so runs never collide
#
# Host I is namespace ${PREFIX}hI with address 198.18.0.(10+I)/24 (RFC 2544's benchmarking range,
# used only inside these namespaces) on a TUN device eth0. `tc netem` would be the tool, but kernels
# built without CONFIG_NET_SCH_NETEM (this project's CI machines) have none, so netem-switch.py does
# its job in userspace: it holds every host's TUN and passes each packet on after delay ± jitter, or
# drops it. One way between two hosts is delay ± jitter; each packet is lost at most once. With
# --rate, the way into each host is also a bottleneck of that rate with a tail-drop queue of --queue
# ms (default 100), served before the delay: where LEDBAT and TCP compete. No
# interface is made in the root namespace: nothing here can reach a real network. Run commands in a
# host with `ip netns exec ${PREFIX}hI CMD`. Needs root, iproute2 and python3.
set -euo pipefail

P=${PREFIX:-rn-}
MAX_HOSTS=200
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=${TMPDIR:-/tmp}/netem-hosts
PIDFILE="$RUN/${P}switch.pid"

die() { echo "netem-hosts: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces need it)"; }
addr() { echo "198.18.0.$((10 + $1))"; }
number() { [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$1 needs a number, got \"$2\""; echo "$2"; }

ours() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${P}h[0-9]+$" || true; }

down() {
  need_root
  if [ -f "$PIDFILE" ]; then
    kill "$(cat "$PIDFILE")" 2>/dev/null || true
    rm -f "$PIDFILE"
  fi
  rm -f "$RUN/${P}switch.log"
  rmdir "$RUN" 2>/dev/null || true
  for ns in $(ours); do ip netns del "$ns" 2>/dev/null || true; done
}

up() {
  need_root
  local n=${1:-}; shift || true
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le "$MAX_HOSTS" ] || die "up needs a host count from 1 to $MAX_HOSTS"
  local delay=0 jitter=0 loss=0 rate=0 queue=100
  while [ $# -gt 0 ]; do
    case "$1" in
      --delay) delay=$(number --delay "${2:-}"); shift 2 ;;
      --jitter) jitter=$(number --jitter "${2:-}"); shift 2 ;;
      --loss) loss=$(number --loss "${2:-}"); shift 2 ;;
      --rate) rate=$(number --rate "${2:-}"); shift 2 ;;
      --queue) queue=$(number --queue "${2:-}"); shift 2 ;;
      *) die "unknown option $1 (--delay MS, --jitter MS, --loss PERCENT, --rate MBIT, --queue MS)" ;;
    esac
  done
  command -v python3 >/dev/null || die "python3 is missing: apt-get install -y python3"
  down
  mkdir -p "$RUN"
  for ((i = 0; i < n; i++)); do ip netns add "${P}h$i"; done
  local log="$RUN/${P}switch.log"
  python3 "$HERE/netem-switch.py" "$P" "$n" "$delay" "$jitter" "$loss" "$rate" "$queue" >"$log" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 100); do grep -q ready "$log" 2>/dev/null && break; kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
  grep -q ready "$log" || { cat "$log" >&2; down; die "the switch did not start"; }
  for ((i = 0; i < n; i++)); do
    ip -n "${P}h$i" addr add "$(addr "$i")/24" dev eth0
    ip -n "${P}h$i" link set eth0 up
    ip -n "${P}h$i" link set lo up
  done
}

status() {
  for ns in $(ours); do echo "$ns: $(ip -n "$ns" -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')"; done
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then echo "switch: pid $(cat "$PIDFILE")"; else echo "switch: not running"; fi
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  addr) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "addr needs a host number"; addr "$2" ;;
  status) status ;;
  *) die "usage: netem-hosts.sh up N [--delay MS] [--jitter MS] [--loss PERCENT] [--rate MBIT [--queue MS]] | down | addr I | status" ;;
esac
