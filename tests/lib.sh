# Shared helpers for d4's shell tests (interop, lab). Source it; it sets
# -eu, makes a work directory, and cleans up every process and namespace the
# test started when it exits (D4_KEEP=1 keeps the work directory). Needs
# root (namespaces) like the tests do.

set -eu

D4NODE=${D4NODE:?D4NODE must point at the d4node binary}
D4_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
D4WAV=${D4WAV:?D4WAV must point at the d4wav tool}
T=$(mktemp -d /tmp/d4test.XXXXXX)
_pids=""
_netns=""
# Nodes talk to avahi-daemon over the system D-Bus. A test's nodes must
# never reach a daemon of the root namespace (it would announce on the
# machine's real interfaces): by default they find no bus at all, and a
# lab host gets its own bus and daemon from d4_avahi.
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/no-system-bus"
# Nodes keep their token and state here, never under /var/lib.
export D4_STATE_DIR="$T/state"

d4_cleanup() {
	local rc=$?
	for p in $_pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in $_pids; do kill -9 "$p" 2>/dev/null || true; done
	# Anything still running in our namespaces (a ptp4l a node spawned)
	# is ours too.
	for n in $_netns; do
		for p in $(ip netns pids "$n" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null || true
		done
		ip netns del "$n" 2>/dev/null || true
	done
	if [ $rc -ne 0 ]; then
		echo "--- logs in $T (kept on failure)" >&2
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f" >&2
			tail -n 30 "$f" >&2
		done
	elif [ -n "${D4_KEEP:-}" ]; then
		echo "--- D4_KEEP: work directory kept in $T" >&2
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap d4_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

pass() {
	echo "ok: $*"
}

# Run the calling script again inside a private network namespace with a
# multicast-capable loopback (lab/RECIPES.md "One host alone").
d4_private_netns() {
	if [ -z "${D4_IN_NETNS:-}" ]; then
		exec unshare -n env D4_IN_NETNS=1 bash "$0" "$@"
	fi
	ip link set lo up
	ip link set lo multicast on
	ip route add 224.0.0.0/4 dev lo
}

# Start a command in the background, remember its PID for cleanup.
# usage: d4_spawn LOGFILE cmd args...   (PID in $!)
d4_spawn() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	_pids="$_pids $!"
}

# Hosts on one bridge, as in lab/RECIPES.md: d4_lab_hosts PREFIX N makes
# namespaces PREFIX-h1..hN with 10.77.0.i/24 on eth0. d4_lab_hosts PREFIX
# N 2 gives every host a second network too (SMPTE ST 2022-7's two
# networks): a second bridge br1, and 10.78.0.i/24 on eth1. Multicast is
# routed out of eth0; eth1's groups are joined and sent there by name.
d4_lab_hosts() {
	local pre=$1 n=$2 nets=${3:-1} h b
	ip netns add "$pre-br"
	_netns="$_netns $pre-br"
	for b in $(seq 0 $((nets - 1))); do
		ip -n "$pre-br" link add br$b type bridge
		ip -n "$pre-br" link set br$b type bridge mcast_snooping 0
		ip -n "$pre-br" link set br$b up
	done
	for h in $(seq 1 "$n"); do
		ip netns add "$pre-h$h"
		_netns="$_netns $pre-h$h"
		ip link add "$pre-v$h" type veth peer name eth0 netns "$pre-h$h"
		ip link set "$pre-v$h" netns "$pre-br"
		ip -n "$pre-br" link set "$pre-v$h" master br0 up
		ip -n "$pre-h$h" addr add "10.77.0.$h/24" dev eth0
		ip -n "$pre-h$h" link set eth0 up
		ip -n "$pre-h$h" link set lo up
		ip -n "$pre-h$h" route add 224.0.0.0/4 dev eth0
		[ "$nets" -ge 2 ] || continue
		ip link add "$pre-w$h" type veth peer name eth1 netns "$pre-h$h"
		ip link set "$pre-w$h" netns "$pre-br"
		ip -n "$pre-br" link set "$pre-w$h" master br1 up
		ip -n "$pre-h$h" addr add "10.78.0.$h/24" dev eth1
		ip -n "$pre-h$h" link set eth1 up
	done
}

# d4_leg_link PREFIX HOST LEG up|down: take lab host HOST's (a number)
# link on network LEG (A: eth0, B: eth1) down or up at the bridge, as a
# pulled cable or a dead switch port would.
d4_leg_link() {
	local port=$1-v$2
	[ "$3" = B ] && port=$1-w$2
	ip -n "$1-br" link set "$port" "$4"
}

# Wait up to $2 seconds for file $1 to exist and be non-empty.
d4_wait_file() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	fail "timed out waiting for $1"
}

# Wait up to $2 seconds for PID $1 to exit; return its status.
d4_wait_pid() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
		sleep 0.1
	done
	fail "process $1 still running after $2 s"
}

# Value of KEY in the last "final: subscription NAME" line of LOG.
d4_sub_stat() {
	local log=$1 name=$2 key=$3
	grep "final: subscription $name " "$log" | tail -n 1 |
		tr ' ' '\n' | sed -n "s/^$key=//p"
}

# Value of KEY in the last "final: flow NAME" line of LOG.
d4_flow_stat() {
	local log=$1 name=$2 key=$3
	grep "final: flow $name " "$log" | tail -n 1 |
		tr ' ' '\n' | sed -n "s/^$key=//p"
}

# d4_sender_stalled LOG FLOW MAX_US: true (and says so) when the machine
# stalled the sender of FLOW (its "final:" line in LOG): it skipped packets
# after a stall over 100 ms, or sent one more than MAX_US after its time.
# Every receiver then misses those packets whatever it does; a test of the
# receiver reports such a run and runs again rather than judge it.
d4_sender_stalled() {
	local skipped late
	skipped=$(d4_flow_stat "$1" "$2" skipped)
	late=$(d4_flow_stat "$1" "$2" late_max_us)
	if [ "${skipped:-0}" != 0 ] || [ "${late:-0}" -gt "$3" ]; then
		echo "note: the machine stalled the sender of $2 (skipped=$skipped, a packet sent ${late} us late, over $3): run again" >&2
		return 0
	fi
	return 1
}

# PTP (TAI) time in seconds, @1 s ahead, for aligned starts. The node uses
# CLOCK_TAI when the kernel knows the TAI offset, else REALTIME + 37 s.
d4_ptp_now() {
	python3 -c 'import time, ctypes
tai = time.clock_gettime(11)  # CLOCK_TAI
rt = time.clock_gettime(time.CLOCK_REALTIME)
print("%.0f" % (tai if tai - rt > 1 else rt + 37))'
}

# --- PTP: a grandmaster host and followers, with the repo's configs -------
# Lab hosts share one system clock, so followers must not steer it: they run
# ptp4l with free_running 1 and the nodes apply its offset ([ptp] clock =
# follow). The grandmaster on CLOCK_REALTIME announces an ARB timescale:
# lab PTP time is the system's UTC clock (see docs/ptp.md).

# d4_ptp_gm HOST [CONFIG]: start a grandmaster-capable ptp4l on HOST.
# Its management socket is $T/HOST-ptp4l; PID in $!.
d4_ptp_gm() {
	local host=$1 cfg=${2:-$D4_SRC/ptp/configs/aes67-gm.cfg}
	d4_spawn "$T/$host-ptp4l.log" ip netns exec "$host" ptp4l -f "$cfg" \
		-i eth0 -m --uds_address="$T/$host-ptp4l" \
		--logAnnounceInterval=0 --announceReceiptTimeout=2
}

# d4_ptp_gm_timescale HOST OFFSET_S: the grandmaster ptp4l on HOST announces
# the PTP timescale with a UTC offset of OFFSET_S seconds from now on
# (linuxptp's GRANDMASTER_SETTINGS_NP through pmc). Its clock is still the
# lab's shared CLOCK_REALTIME, so its followers' PTP time becomes that plus
# OFFSET_S: a grandmaster on another timescale (Dante grandmasters are
# decades off UTC; a signed 16-bit offset reaches about 9 hours).
d4_ptp_gm_timescale() {
	local host=$1 off=$2 i
	for i in $(seq 1 50); do
		pmc -u -s "$T/$host-ptp4l" -b 0 "SET GRANDMASTER_SETTINGS_NP \
clockClass 248 clockAccuracy 0xfe offsetScaledLogVariance 0xffff \
currentUtcOffset $off leap61 0 leap59 0 currentUtcOffsetValid 1 \
ptpTimescale 1 timeTraceable 1 frequencyTraceable 0 timeSource 0xa0" \
			2>&1 | grep -q "currentUtcOffset *$off" && return 0
		sleep 0.1
	done
	fail "ptp4l on $host did not take the PTP timescale with offset $off"
}

# d4_ptp_follower HOST: a measuring-only ptp4l on HOST (socket
# $T/HOST-ptp4l). PID in $!.
d4_ptp_follower() {
	local host=$1
	d4_spawn "$T/$host-ptp4l.log" ip netns exec "$host" ptp4l \
		-f "$D4_SRC/ptp/configs/aes67-follow.cfg" -i eth0 -m \
		--uds_address="$T/$host-ptp4l" \
		--logAnnounceInterval=0 --announceReceiptTimeout=2
}

# The [ptp] section a node on HOST uses to follow its ptp4l.
d4_ptp_ini() {
	printf '[ptp]\nmode = external\nclock = follow\nuds = %s\n' \
		"$T/$1-ptp4l"
}

# d4_avahi HOST: a D-Bus system bus and an avahi-daemon for lab host HOST
# (lab/RECIPES.md "mDNS with Avahi"), with a private /run backed by
# $T/HOST-run so that programs outside its mount namespace reach the bus
# at $T/HOST-run/dbus/system_bus_socket (see d4_host_bus). Waits
# until the daemon is up; its PID in $!. Calling it again for a host whose
# daemon was stopped starts a new daemon on the same bus (a restart).
d4_avahi() {
	local host=$1 run=$T/$1-run
	local ifs=eth0
	# a host on two networks is found on both (d4ctl sees its second
	# address there)
	ip -n "$host" link show eth1 >/dev/null 2>&1 && ifs=eth0,eth1
	mkdir -p "$run/dbus" "$run/avahi-daemon"
	cat >"$run/avahi-daemon.conf" <<CONF
[server]
host-name=$host
use-ipv4=yes
use-ipv6=no
allow-interfaces=$ifs
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
[reflector]
[rlimits]
CONF
	# A restart logs to a new file: waits must not see the old daemon.
	local log=$T/$host-avahi.log
	[ -f "$log" ] && log=$T/$host-avahi-$(date +%s%N).log
	d4_spawn "$log" env -u DBUS_SYSTEM_BUS_ADDRESS \
		ip netns exec "$host" unshare -m sh -c "
		mount --bind '$run' /run &&
		{ [ -S /run/dbus/system_bus_socket ] ||
		  dbus-daemon --system --fork --nopidfile; } &&
		exec avahi-daemon --no-drop-root --no-chroot --no-rlimits \
			-f /run/avahi-daemon.conf"
	d4_wait_log "$log" "Server startup complete" 15
}

# The system bus programs on HOST use: its own when d4_avahi started one,
# else none. Usage: env "$(d4_host_bus HOST)" ip netns exec HOST cmd...
d4_host_bus() {
	if [ -S "$T/$1-run/dbus/system_bus_socket" ]; then
		echo "DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/$1-run/dbus/system_bus_socket"
	else
		echo "DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/no-system-bus"
	fi
}

# d4_node HOST NAME CONFIG [d4node args...]: run a node on HOST, log in
# $T/NAME.log. PID in $!.
d4_node() {
	local host=$1 name=$2 cfg=$3
	shift 3
	d4_spawn "$T/$name.log" env "$(d4_host_bus "$host")" \
		ip netns exec "$host" "$D4NODE" --config "$cfg" "$@"
}

# d4_wait_log FILE REGEX SECONDS: wait until FILE has a line matching the
# extended REGEX.
d4_wait_log() {
	local f=$1 re=$2 i
	for i in $(seq 1 $(($3 * 10))); do
		grep -Eq -e "$re" "$f" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "timed out after $3 s waiting for /$re/ in $f"
}

# The grandmaster identity a ptp4l log announces for itself
# ("selected local clock XXXXXX.fffe.XXXXXX as best master"), as d4 writes
# identities: XX-XX-XX-XX-XX-XX-XX-XX.
d4_ptp_gm_id() {
	sed -n 's/.*selected local clock \([0-9a-f.]*\) as best master.*/\1/p' "$1" |
		head -n 1 | tr -d . | sed 's/../&-/g; s/-$//' | tr a-f A-F
}

# Lab PTP time (the grandmaster's ARB timescale: CLOCK_REALTIME), whole
# seconds from now + $1.
d4_lab_ptp_now() {
	echo $(($(date +%s) + ${1:-0}))
}

# d4_api HOST NODE METHOD PATH [BODY]: one request to NODE's control API
# on lab host HOST (its eth0 address, port 8080) with NODE's token. The
# answer's body on stdout; non-zero unless the status is 2xx.
d4_api() {
	local host=$1 node=$2 method=$3 path=$4 body=${5:-} addr code
	addr=$(ip -n "$host" -4 -o addr show eth0 | awk '{print $4}')
	addr=${addr%/*}
	code=$(ip netns exec "$host" curl -s -o "$T/api-answer" -w '%{http_code}' \
		-X "$method" -H "Authorization: Bearer $(cat "$D4_STATE_DIR/$node/token")" \
		${body:+-H "Content-Type: application/json" --data-binary "$body"} \
		"http://$addr:8080/api/v1$path") || code=000
	cat "$T/api-answer"
	case $code in 2*) return 0 ;; *) return 1 ;; esac
}

# d4_hogs SECONDS: the load of issue 16 for SECONDS: two CPU hogs and a
# memory hog (1 GiB mapped, written and unmapped over and over), all at
# normal priority, as other work on the machine would be. stress-ng ends
# them itself when the time is up, whatever happens to the test; PID in
# $!. d4_hogs_stop PID: stop them now and print the CPU seconds they had
# (stress-ng's own count, user + system), to show the load happened.
d4_hogs() {
	d4_spawn "$T/hogs.log" stress-ng --cpu 2 --vm 1 --vm-bytes 1G \
		--timeout "$1" --metrics-brief
}
d4_hogs_stop() {
	kill -INT "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	awk '/metrc:.* (cpu|vm) +[0-9]/ {t += $(NF-3) + $(NF-2)} END {printf "%d\n", t}' "$T/hogs.log"
}

# d4_describe HOST ADDR PORT NAME: RTSP DESCRIBE rtsp://ADDR:PORT/by-name/
# NAME from lab host HOST (a raw client, as RAVENNA peers ask); the SDP on
# stdout, non-zero with the status line on stderr unless 200.
d4_describe() {
	ip netns exec "$1" python3 - "$2" "$3" "$4" <<'PY'
import socket, sys, urllib.parse
host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
uri = "rtsp://%s:%d/by-name/%s" % (host, port, urllib.parse.quote(name))
s = socket.create_connection((host, port), timeout=3)
s.sendall(("DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\n"
           "Accept: application/sdp\r\n\r\n" % uri).encode())
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("connection closed before the headers ended")
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
if not lines[0].startswith("RTSP/1.0 200"):
    sys.exit("status: " + lines[0])
length = next(int(l.split(":")[1]) for l in lines
              if l.lower().startswith("content-length"))
while len(body) < length:
    body += s.recv(4096)
sys.stdout.write(body.decode())
PY
}
