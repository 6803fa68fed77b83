#!/usr/bin/env bash
# netns-up.sh - N fake hosts on this machine: network namespaces on a
# private bridge, each with its own address, hostname and sshd.
#
# Usage: netns-up.sh [N] [--no-sshd]          (N: default 2, at most 50)
# Environment:
#   NS_DIR   state directory (required; e.g. a mktemp -d)
#   TB_DIR   sshd state directory (required unless --no-sshd); the hosts
#            appear in $TB_DIR/ssh_config as h1..hN
#
# The first call in an NS_DIR draws, under a lock, a name prefix P that no
# namespace or link uses yet (e.g. "pr3fa2") and a subnet 10.200.X.0/24 that
# no interface or route uses, and writes them to $NS_DIR/config
# (NS_PREFIX, NS_NET=10.200.X, NS_BRIDGE, NS_GW), which callers source:
#   root namespace : bridge ${P}br = 10.200.X.1/24
#   host i         : namespace ${P}hI, veth ${P}vI <-> eth0 = 10.200.X.(10+i),
#                    lo up, default route via 10.200.X.1, sshd on port 22,
#                    hostname hI (own UTS namespace)
# so two runs never share a namespace, a link or an address.  Later calls
# add hosts to the same network.  netns-down.sh removes everything.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$HERE/lib.sh"
h_need_dir NS_DIR

N=${1:-2}
SSHD_TOO=1
[[ ${2:-} == --no-sshd ]] && SSHD_TOO=0
if ! [[ $N =~ ^[0-9]+$ ]] || [[ $N -lt 1 || $N -gt 50 ]]; then
	echo "usage: netns-up.sh [N] [--no-sshd]   (1 <= N <= 50)" >&2
	exit 2
fi
[[ $SSHD_TOO == 1 ]] && h_need_dir TB_DIR
for b in ip nsenter unshare; do
	if ! command -v "$b" >/dev/null; then
		echo "netns-up: $b missing: apt-get install iproute2" \
			"util-linux" >&2
		exit 1
	fi
done

mkdir -p "$NS_DIR"
echo netns >"$NS_DIR/.harness-kind"
FRESH=0

on_exit() {
	local rc=$?
	if [[ $rc -ne 0 && $FRESH == 1 ]]; then
		"$HERE/netns-down.sh" >&2 || true
	fi
	exit "$rc"
}
trap on_exit EXIT

# ---- prefix and subnet: drawn once, under a lock shared by all runs --------
allocate() {
	local lockdir=/run/lock x p try
	[[ -d $lockdir && -w $lockdir ]] || lockdir=/tmp
	exec 9>"$lockdir/parrun-harness-netns.lock"
	flock -w 60 9
	for ((try = 0; try < 100; try++)); do
		p=pr$(printf '%04x' $((RANDOM % 65536)))
		ip netns list 2>/dev/null | grep -q "^${p}h" && continue
		ip -o link show 2>/dev/null | grep -q ": ${p}" && continue
		break
	done
	for ((try = 0; try < 254; try++)); do
		x=$(((RANDOM % 254) + 1))
		ip -o addr show 2>/dev/null | grep -q " 10\.200\.$x\." &&
			continue
		ip route show table all 2>/dev/null |
			grep -q "10\.200\.$x\.[0-9]*/" && continue
		cat >"$NS_DIR/config" <<-CONF
		NS_PREFIX=$p
		NS_NET=10.200.$x
		NS_BRIDGE=${p}br
		NS_GW=10.200.$x.1
		CONF
		# claim it: the bridge address makes the subnet visibly taken
		ip link add "${p}br" type bridge
		ip addr add "10.200.$x.1/24" dev "${p}br"
		ip link set "${p}br" up
		exec 9>&-
		return 0
	done
	echo "netns-up: no free subnet in 10.200.0.0/16" >&2
	exit 1
}

if [[ ! -f $NS_DIR/config ]]; then
	FRESH=1
	allocate
fi
# shellcheck source=/dev/null
. "$NS_DIR/config"
[[ $SSHD_TOO == 1 ]] && echo "$TB_DIR" >"$NS_DIR/tb_dir"

# ---- hosts ------------------------------------------------------------------
for ((i = 1; i <= N; i++)); do
	ns=${NS_PREFIX}h$i
	veth=${NS_PREFIX}v$i
	addr=$NS_NET.$((10 + i))
	ip netns list | grep -qw "^$ns" || ip netns add "$ns"
	if ! ip link show "$veth" >/dev/null 2>&1; then
		ip link add "$veth" type veth peer name eth0 netns "$ns"
		ip link set "$veth" master "$NS_BRIDGE" up
		ip -n "$ns" addr add "$addr/24" dev eth0
	fi
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route replace default via "$NS_GW"
done
count=$(cat "$NS_DIR/count" 2>/dev/null || echo 0)
[[ $N -gt $count ]] && echo "$N" >"$NS_DIR/count"

# the bridge has no STP, so its ports forward at once; ping (iputils-ping)
# is optional, and sshd-up.sh waits for its sshd anyway
if command -v ping >/dev/null; then
	for ((i = 1; i <= N; i++)); do
		for ((t = 0; t < 50; t++)); do
			ping -c1 -W1 -q "$NS_NET.$((10 + i))" >/dev/null 2>&1 &&
				break
			sleep 0.1
		done
	done
fi
echo "netns-up: $N host(s) ${NS_PREFIX}h1..$N on $NS_NET.0/24"

if [[ $SSHD_TOO == 1 ]]; then
	for ((i = 1; i <= N; i++)); do
		"$HERE/sshd-up.sh" "h$i" "$NS_NET.$((10 + i))" 22 \
			"${NS_PREFIX}h$i"
	done
fi
trap - EXIT
