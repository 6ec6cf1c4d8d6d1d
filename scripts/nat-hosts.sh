#!/usr/bin/env bash
# nat-hosts.sh: hosts in network namespaces behind real NATs and firewalls on a small private
# "internet", for the overlay's NAT-traversal tests and by hand.
#
#   nat-hosts.sh up KIND [KIND ...]   host I (0-based, in argument order) of kind KIND:
#                                       public     on the internet, reachable by everyone
#                                       firewall   on the internet, can dial out but cannot be dialled
#                                       eim        behind its own NAT, endpoint-independent mapping
#                                       symmetric  behind its own NAT, a new random port per mapping
#   nat-hosts.sh down                 remove every namespace this prefix made (safe to repeat)
#   nat-hosts.sh status               the namespaces, their kinds and addresses
#   PREFIX=xx- nat-hosts.sh ...       a separate set (default rx-), so runs never collide
#
# Address plan (RFC 5737's 203.0.113.0/24 is the internet; it and 10/8 exist only in these namespaces):
#
#   ${PREFIX}inet                        the internet: a bridge br0 that every WAN side is a port of
#   ${PREFIX}hI public or firewall       eth0 203.0.113.(10+I)/24 on the bridge
#   ${PREFIX}hI eim or symmetric         eth0 10.(I+1).0.10/24, default route via its NAT box
#   ${PREFIX}nI its NAT box              wan 203.0.113.(100+I)/24 on the bridge, lan 10.(I+1).0.1/24
#
# Nothing on the internet has a default route: the /24 is on-link and nothing else exists, so a
# host's private address is unreachable from it (no route), as on the real internet. No interface is
# made in the root namespace: nothing here can reach a real network. Run commands in a host with
# `ip netns exec ${PREFIX}hI CMD`. Needs root, iproute2 and nftables (apt-get install -y nftables).
set -euo pipefail

P=${PREFIX:-rx-}
# Public hosts take .10 to .99 and NAT boxes .100 to .189: more hosts would make them collide.
MAX_HOSTS=90

die() { echo "nat-hosts: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces need it)"; }
need_nft() { command -v nft >/dev/null || die "nft is missing: apt-get install -y nftables"; }
x() { ip netns exec "$1" "${@:2}"; }

# The namespaces of this prefix: the internet, hosts and NAT boxes. The prefix is compared literally
# (never a pattern) and only these names may follow it, so `down` of rx- leaves rx12-0-h0 alone.
ours() {
  ip netns list 2>/dev/null | awk -v p="$P" 'index($1, p) == 1 && substr($1, length(p) + 1) ~ /^(inet|[hn][0-9]+)$/ { print $1 }'
}

# A namespace with loopback up (programs bind 127.0.0.1; the firewall trusts lo), routing between
# interfaces only when it is a NAT box (new namespaces may inherit the root namespace's setting), and
# no IPv6: link-local addresses would give every host a second path that no rule here covers.
ns_add() { # NAME FORWARD(0|1)
  ip netns add "$1"
  x "$1" ip link set lo up
  x "$1" sh -c "echo $2 > /proc/sys/net/ipv4/ip_forward
    if [ -d /proc/sys/net/ipv6 ]; then echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; fi"
}

# A veth pair made directly inside two namespaces: link NS1 IF1 NS2 IF2.
link() { ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"; }

# A cable from namespace NS's interface IF to the internet's bridge, as port PORT.
plug() { # NS IF PORT
  link "$1" "$2" "${P}inet" "$3"
  x "${P}inet" ip link set "$3" master br0 up
}

addr_up() { # NS IF CIDR
  x "$1" ip addr add "$3" dev "$2"
  x "$1" ip link set "$2" up
}

# Like a home router: masquerade on the way out, nothing new comes in. Plain masquerade keeps the
# host's source port whenever that leaves the mapping unique and reuses one mapping for every
# destination (endpoint-independent, RFC 4787); `random,fully-random` draws a new port for every
# mapping, so each destination sees the host from a different port (symmetric).
nat_rules() { # NS MASQUERADE
  x "$1" nft -f - <<EOF
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" $2
  }
}
table ip filter {
  # Drop (not reject) unsolicited packets to the box itself: besides being what a home router does,
  # this keeps a peer's hole-punching packet that arrives before our own host's outbound one from
  # leaving a conntrack entry behind. Such an entry would hold the very tuple the outbound packet's
  # mapping needs, and the NAT would then move the mapping to another port, so the punch would fail.
  # A dropped packet's conntrack entry is never confirmed and vanishes with it.
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
  }
}
EOF
}

# On the host itself: only answers to what it started, and anything on loopback, come in.
firewall_rules() { # NS
  x "$1" nft -f - <<EOF
table inet firewall {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
  }
}
EOF
}

down() {
  need_root
  # Deleting a namespace deletes the veths and the bridge in it; their peers vanish with them.
  for ns in $(ours); do ip netns del "$ns" 2>/dev/null || true; done
}

up() {
  need_root
  need_nft
  [ $# -ge 1 ] && [ $# -le "$MAX_HOSTS" ] || die "up needs 1 to $MAX_HOSTS kinds (public, eim, symmetric, firewall)"
  local kind
  for kind in "$@"; do
    case "$kind" in public | eim | symmetric | firewall) ;; *) die "unknown kind \"$kind\" (public, eim, symmetric, firewall)" ;; esac
  done
  down
  # A failure half way (set -e) must not leave half a lab behind.
  trap 'down; echo "nat-hosts: up failed; removed what it had made" >&2' EXIT
  ns_add "${P}inet" 0
  x "${P}inet" ip link add br0 type bridge
  x "${P}inet" ip link set br0 up
  local i=0 h n lan
  for kind in "$@"; do
    h="${P}h$i"
    case "$kind" in
      public | firewall)
        ns_add "$h" 0
        plug "$h" eth0 "h$i"
        addr_up "$h" eth0 "203.0.113.$((10 + i))/24"
        [ "$kind" = public ] || firewall_rules "$h"
        ;;
      eim | symmetric)
        n="${P}n$i"
        lan="10.$((i + 1)).0"
        ns_add "$n" 1
        ns_add "$h" 0
        plug "$n" wan "n$i"
        addr_up "$n" wan "203.0.113.$((100 + i))/24"
        link "$h" eth0 "$n" lan
        addr_up "$n" lan "$lan.1/24"
        addr_up "$h" eth0 "$lan.10/24"
        x "$h" ip route add default via "$lan.1"
        if [ "$kind" = eim ]; then nat_rules "$n" masquerade; else nat_rules "$n" "masquerade random,fully-random"; fi
        ;;
    esac
    i=$((i + 1))
  done
  trap - EXIT
}

status() {
  local all ns kind addr i
  all=$(ours | sort -V)
  [ -n "$all" ] || { echo "(none)"; return; }
  grep -qxF "${P}inet" <<<"$all" && echo "${P}inet: the internet, 203.0.113.0/24"
  # A host's kind is read from the namespaces themselves: its NAT box's rules, or its own firewall.
  for ns in $(grep -xE ".*h[0-9]+" <<<"$all"); do
    i=${ns#"${P}h"}
    addr=$(ip -n "$ns" -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')
    if grep -qxF "${P}n$i" <<<"$all"; then
      kind=eim
      x "${P}n$i" nft list table ip nat 2>/dev/null | grep -q fully-random && kind=symmetric
      echo "$ns: $kind $addr behind ${P}n$i $(ip -n "${P}n$i" -4 -o addr show dev wan 2>/dev/null | awk '{print $4}')"
    else
      kind=public
      x "$ns" nft list table inet firewall >/dev/null 2>&1 && kind=firewall
      echo "$ns: $kind $addr"
    fi
  done
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) die "usage: nat-hosts.sh up KIND [KIND ...] (public, eim, symmetric, firewall) | down | status" ;;
esac
