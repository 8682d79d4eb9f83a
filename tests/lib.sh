# Shared helpers for d4's shell tests (interop, lab). Source it; it sets
# -eu, makes a work directory, and cleans up every process and namespace the
# test started when it exits (D4_KEEP=1 keeps the work directory). Needs
# root (namespaces) like the tests do.

set -eEu

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
	# (a skip, 77, says why itself: its directory goes, as a pass's)
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ "${D4_LOG_DUMP:-1}" = 0 ]; then
		# (scripts/demo: its verdict is the last thing said)
		echo "--- logs in $T (kept on failure)" >&2
	elif [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
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
	# The verdict again, last: meson shows only a failed test's last 100
	# lines, and the logs above push its first saying out of them.
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		if [ -n "$_fail_msg" ]; then
			echo "FAIL: $_fail_msg" >&2
		elif [ $rc -ne 130 ]; then
			echo "FAIL: exit status $rc after line $_err_line: $_err_cmd" >&2
		fi
	fi
	exit $rc
}
_fail_msg=""
_err_line="?"
_err_cmd="?"
trap d4_cleanup EXIT
trap 'exit 130' INT TERM
# A command that ends the test through set -e: which one, for the verdict.
trap '_err_line=$LINENO _err_cmd=$BASH_COMMAND' ERR

fail() {
	_fail_msg="$*"
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
		# (the run inside makes its own; exec leaves no trap to
		# remove this one)
		rmdir "$T" 2>/dev/null || true
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

# Two subnets joined by a router, and no mDNS between them:
# d4_lab_subnets PREFIX N1 N2 makes bridges PREFIX-br1 (10.77.1.0/24) and
# PREFIX-br2 (10.77.2.0/24), a router PREFIX-rt (10.77.1.254 and
# 10.77.2.254, ip_forward on) and hosts PREFIX-a1..aN1 (10.77.1.i) and
# PREFIX-b1..bN2 (10.77.2.i), each with its default route via the router.
# Multicast is not routed: streams cross the router by unicast.
d4_lab_subnets() {
	local pre=$1 n1=$2 n2=$3 net h
	ip netns add "$pre-rt"
	_netns="$_netns $pre-rt"
	ip -n "$pre-rt" link set lo up
	ip netns exec "$pre-rt" sysctl -qw net.ipv4.ip_forward=1
	for net in 1 2; do
		local br=$pre-br$net side=$( [ $net = 1 ] && echo a || echo b )
		local count=$( [ $net = 1 ] && echo "$n1" || echo "$n2" )
		ip netns add "$br"
		_netns="$_netns $br"
		ip -n "$br" link add br0 type bridge
		ip -n "$br" link set br0 type bridge mcast_snooping 0
		ip -n "$br" link set br0 up
		ip link add "$pre-r$net" type veth peer name eth$net netns "$pre-rt"
		ip link set "$pre-r$net" netns "$br"
		ip -n "$br" link set "$pre-r$net" master br0 up
		ip -n "$pre-rt" addr add "10.77.$net.254/24" dev eth$net
		ip -n "$pre-rt" link set eth$net up
		for h in $(seq 1 "$count"); do
			ip netns add "$pre-$side$h"
			_netns="$_netns $pre-$side$h"
			ip link add "$pre-v$side$h" type veth peer name eth0 \
				netns "$pre-$side$h"
			ip link set "$pre-v$side$h" netns "$br"
			ip -n "$br" link set "$pre-v$side$h" master br0 up
			ip -n "$pre-$side$h" addr add "10.77.$net.$h/24" dev eth0
			ip -n "$pre-$side$h" link set eth0 up
			ip -n "$pre-$side$h" link set lo up
			ip -n "$pre-$side$h" route add default via "10.77.$net.254"
			ip -n "$pre-$side$h" route add 224.0.0.0/4 dev eth0
		done
	done
}

# --- NMOS (docs/nmos.md): tests/tools' registry and schema checks -------
# Debian's python3 with python3-jsonschema (scripts/setup) validates.
D4_PY=${D4_PY:-/usr/bin/python3}
D4_NMOS_TOOLS=$D4_SRC/tests/tools
export D4_NMOS_SPECS=${D4_NMOS_SPECS:-$D4_SRC/tests/data/nmos}

# d4_nmos_registry HOST PORT [args...]: the test registry on HOST, its
# requests logged in $T/reg-HOST-PORT.log (a restart appends). Waits
# until it listens; PID in $!.
d4_nmos_registry() {
	local host=$1 port=$2 log=$T/reg-$1-$2
	shift 2
	d4_spawn "$log.out" ip netns exec "$host" "$D4_PY" \
		"$D4_NMOS_TOOLS/nmos_registry.py" --port "$port" \
		--schemas "$D4_NMOS_SPECS" --log "$log.log" "$@"
	d4_wait_log "$log.out" "registry listening" 20
}

# d4_nmos_get HOST URL: GET from lab host HOST, the body on stdout.
d4_nmos_get() {
	ip netns exec "$1" curl -sf --max-time 10 "$2"
}

# d4_nmos_wait HOST URL PYEXPR SECONDS WHAT: poll URL from HOST until the
# Python expression PYEXPR over its JSON answer j is true.
d4_nmos_wait() {
	local host=$1 url=$2 expr=$3 secs=$4 what=$5 i
	for i in $(seq 1 $((secs * 4))); do
		if ip netns exec "$host" curl -sf --max-time 5 "$url" \
			>"$T/nmos-wait.json" 2>/dev/null &&
			"$D4_PY" -c "import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if ($expr) else 1)" "$T/nmos-wait.json" 2>/dev/null; then
			return 0
		fi
		sleep 0.25
	done
	fail "timed out after $secs s waiting for $what ($url: $(head -c 600 "$T/nmos-wait.json" 2>/dev/null))"
}

# d4_nmos_check HOST ARGS...: tests/tools/nmos_check.py run on HOST.
d4_nmos_check() {
	local host=$1
	shift
	ip netns exec "$host" "$D4_PY" "$D4_NMOS_TOOLS/nmos_check.py" "$@"
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

# d4_ptp_follower HOST: a measuring-only ptp4l on HOST (socket
# $T/HOST-ptp4l). PID in $!.
d4_ptp_follower() {
	local host=$1
	d4_spawn "$T/$host-ptp4l.log" ip netns exec "$host" ptp4l \
		-f "$D4_SRC/ptp/configs/aes67-follow.cfg" -i eth0 -m \
		--uds_address="$T/$host-ptp4l" \
		--logAnnounceInterval=0 --announceReceiptTimeout=2
}

# d4_ptp_gm_timescale HOST OFFSET_S|arb: the grandmaster ptp4l on HOST
# (d4_ptp_gm) announces the PTP timescale with currentUtcOffset OFFSET_S
# (a signed 16-bit count of seconds) from now on, or the ARB timescale
# again ("arb"), through pmc and linuxptp's GRANDMASTER_SETTINGS_NP; it
# retries while a ptp4l just started does not answer yet. This changes
# what the grandmaster announces, not the time it sends: a ptp4l on
# CLOCK_REALTIME sends the lab's shared system clock either way, its
# followers' master_offset grows by OFFSET_S seconds and a follow-mode
# node takes the announced OFFSET_S off it again, so PTP time does not
# move (docs/ptp.md "A grandmaster's timescale"; d4_ptp_gm_far makes a
# grandmaster whose time does). timeTraceable stays 0: with it and
# currentUtcOffsetValid set, every follower ptp4l on CLOCK_REALTIME sets
# the kernel's TAI offset, which all lab hosts and every other test on
# the machine share.
d4_ptp_gm_timescale() {
	local host=$1 off=$2 flags i
	if [ "$off" = arb ]; then
		flags="currentUtcOffset 37 leap61 0 leap59 0 currentUtcOffsetValid 0 ptpTimescale 0"
	else
		flags="currentUtcOffset $off leap61 0 leap59 0 currentUtcOffsetValid 1 ptpTimescale 1"
	fi
	for i in $(seq 1 50); do
		ip netns exec "$host" pmc -u -s "$T/$host-ptp4l" -b 0 \
			"SET GRANDMASTER_SETTINGS_NP clockClass 248 clockAccuracy 0xfe offsetScaledLogVariance 0xffff $flags timeTraceable 0 frequencyTraceable 0 timeSource 0xa0" \
			>"$T/$host-pmc-set.log" 2>&1
		grep -q "RESPONSE MANAGEMENT GRANDMASTER_SETTINGS_NP" \
			"$T/$host-pmc-set.log" && return 0
		sleep 0.1
	done
	fail "ptp4l on $host did not take GRANDMASTER_SETTINGS_NP ($off)"
}

# d4_ptp_gm_far HOST OFFSET_S [arb|ptp [UTC_OFFSET [IDENTITY]]]: a
# grandmaster whose time is CLOCK_REALTIME + OFFSET_S seconds on the
# wire (tests/tools/ptp_gm.py), announcing the ARB timescale (a Dante
# device's own time) or the PTP one with currentUtcOffset UTC_OFFSET.
# Lab PTP time is then d4_lab_ptp_now's + OFFSET_S. Log in
# $T/HOST-ptp_gm.log, PID in $!.
d4_ptp_gm_far() {
	local host=$1 off=$2 ts=${3:-arb} utc=${4:-37}
	local id=${5:-00-1D-C1-FF-FE-12-34-56}
	d4_spawn "$T/$host-ptp_gm.log" ip netns exec "$host" python3 \
		"$D4_SRC/tests/tools/ptp_gm.py" eth0 --offset-s "$off" \
		--timescale "$ts" --utc-offset "$utc" --identity "$id"
}

# The system clock's offset from CLOCK_MONOTONIC, in ns: a test compares
# it before and after to see that nothing stepped CLOCK_REALTIME.
d4_realtime_minus_monotonic_ns() {
	python3 -c 'import time
a = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
r = time.clock_gettime_ns(time.CLOCK_REALTIME)
b = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
print(r - (a + b) // 2)'
}

# The kernel's TAI offset in seconds (0: unset).
d4_kernel_tai_offset() {
	python3 -c 'import time
print(round(time.clock_gettime(time.CLOCK_TAI) -
            time.clock_gettime(time.CLOCK_REALTIME)))'
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
# IFS (optional): the interfaces it uses, e.g. eth0,lo as a desktop's
# avahi does (it then answers for this host's services on lo, 127.0.0.1).
d4_avahi() {
	local host=$1 run=$T/$1-run
	local ifs=${2:-eth0}
	# a host on two networks is found on both (d4ctl sees its second
	# address there)
	[ -z "${2:-}" ] && ip -n "$host" link show eth1 >/dev/null 2>&1 &&
		ifs=eth0,eth1
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

# --- PipeWire (Debian 12: 0.3.65), headless on a lab host -----------------
# d4_pipewire HOST CONF: PipeWire with config file CONF, and WirePlumber
# (it links streams to their targets), on lab host HOST. Both get HOST's
# own D-Bus session bus and runtime directory $T/HOST-pw (WirePlumber 0.4
# quits without a session bus; nothing reaches the machine's own). Waits
# until WirePlumber is connected. Logs: $T/HOST-pipewire.log,
# $T/HOST-wireplumber.log.
d4_pipewire() {
	local host=$1 conf=$2 run=$T/$1-pw i
	mkdir -p "$run"
	chmod 700 "$run"
	d4_spawn "$T/$host-dbus-session.log" ip netns exec "$host" \
		dbus-daemon --session --nofork --nopidfile \
		--address="unix:path=$run/bus"
	for i in $(seq 1 100); do [ -S "$run/bus" ] && break; sleep 0.1; done
	[ -S "$run/bus" ] || fail "$host: no D-Bus session bus"
	d4_spawn "$T/$host-pipewire.log" env $(d4_pw_env "$host") \
		ip netns exec "$host" pipewire -c "$conf"
	for i in $(seq 1 100); do
		[ -S "$run/pipewire-0" ] && break
		sleep 0.1
	done
	[ -S "$run/pipewire-0" ] || fail "$host: pipewire did not start"
	d4_spawn "$T/$host-wireplumber.log" env $(d4_pw_env "$host") \
		ip netns exec "$host" wireplumber
	for i in $(seq 1 150); do
		d4_pw "$host" timeout 5 pw-cli ls Client 2>/dev/null |
			grep -q '"WirePlumber"' && return 0
		sleep 0.2
	done
	fail "$host: WirePlumber did not connect to PipeWire"
}

# d4_pw HOST CMD...: a PipeWire program (pw-play, pw-record, pw-cli...)
# on HOST, with the environment d4_pipewire gives it.
d4_pw() {
	local host=$1
	shift
	env $(d4_pw_env "$host") ip netns exec "$host" "$@"
}

# The environment of PipeWire programs on HOST (no spaces: $T has none).
d4_pw_env() {
	echo "XDG_RUNTIME_DIR=$T/$1-pw PIPEWIRE_RUNTIME_DIR=$T/$1-pw" \
		"DBUS_SESSION_BUS_ADDRESS=unix:path=$T/$1-pw/bus"
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

# d4_need_kernel_backend: skip (exit 77, saying why) where the D4 kernel
# back end cannot run (tests/tools/d4kprobe: libbpf, CAP_BPF, the kernel).
d4_need_kernel_backend() {
	local why
	why=$("${D4KPROBE:?D4KPROBE must point at d4kprobe}") || {
		echo "SKIP: the kernel back end cannot run here: $why"
		exit 77
	}
}

# d4_witness: start the machine's stall witness (tests/tools/d4stall.c:
# a SCHED_FIFO 70 thread per CPU, as the media thread, waking every 1 ms)
# logging to $T/stalls.log every wake-up 1 ms or more late, as it happens.
# This lab is a virtual machine whose hypervisor stops a vCPU for
# milliseconds now and then, loaded or idle (tens of ms at times): no
# node can keep a packet on time through that, and a test that asserts
# "0 late" asserts it for the time the machine ran. d4_check_late WHAT
# LATE LATENCY_US PTIME_US: fail unless LATE late packets are 0, or no
# more than the witness's stalls explain: a stall of L us past the
# latency's budget (LATENCY_US - PTIME_US) makes at most
# ceil((L - budget) / PTIME_US) + 1 packets late. L is what the witness
# saw plus its period (1 ms): a thread that wakes every millisecond sees
# a stall up to one period shorter than it was (the stall can begin just
# after a wake-up; an ASan fault-sap-flood run had 11 late packets from a
# 17.4 ms stall at 10 ms latency, the 10 of the stall as seen + 1).
# A stall also leaves its L of packets behind, to be worked off by the
# sender and the receiver while new ones come: at a steady load u of
# that path, the backlog is gone L * u / (1 - u) after the stall, and
# packets are late until then. u is taken as at most 10 % (L / 9 more):
# CI's ASan discovery-dante had 136 late from a 223 ms stall at 100 ms,
# 127 from the stall and 9 (u = 4 %) while the 224 packets behind it
# were drained.
D4_WITNESS_PERIOD_US=1000
d4_witness() {
	: >"$T/stalls.log"
	# without it every stall counts against the node (nmos-subnets ran
	# without D4STALL in its meson env: a stall was "0 explain")
	[ -n "${D4STALL:-}" ] || fail "d4_witness: D4STALL must point at tests/tools/d4stall"
	d4_spawn "$T/witness.log" "$D4STALL" "$T/stalls.log" 70 1000
}
# The witness's stalls, merged where a CPU barely ran between them: a CPU
# the hypervisor gives a sliver every few ms shows as a run of 5 ms
# stalls, one per wake-up, while a thread of lower priority than the
# witness gets nothing for the run's whole length (CI's rehearsal: CPU0
# late 2.9-5.8 ms at each of 8 wake-ups in a row, 40 ms in which a
# playback card ran dry with no single stall past 6 ms). A stall that
# begins within the witness's period + 0.5 ms after the one before on the
# same CPU (its very next wake-up was late too) joins it while the run
# stays stalled two thirds of its length. d4_stalls prints "CPU LEN_US
# END_NS" lines as stalls.log, one per run.
d4_stalls() {
	sort -k1,1n -k3,3n "$T/stalls.log" 2>/dev/null | awk -v res="$D4_WITNESS_PERIOD_US" '
	function out() { if (have) printf "%d %d %.0f\n", cpu, int((ce - cs) / 1000), ce }
	{ s = $3 - $2 * 1000
	  if (have && $1 == cpu && s - ce <= (res + 500) * 1000 &&
	      (sum + $2) * 1000 * 3 >= ($3 - cs) * 2) {
		ce = $3; sum += $2; next }
	  out(); have = 1; cpu = $1; cs = s; ce = $3; sum = $2 }
	END { out() }'
}
d4_late_allowed() { # LATENCY_US PTIME_US: "ALLOWED STALLS WORST_US"
	awk -v lat="$1" -v pt="$2" -v res="$D4_WITNESS_PERIOD_US" '
	{ l = $2 + res; if ($2 + 0 > w) w = $2 + 0
	  if (l >= lat - pt) { n++; a += int((l - lat + pt + pt - 1) / pt) + 1
			       a += int((l / 9 + pt - 1) / pt) } }
	END { printf "%d %d %d\n", a, n, w }' < <(d4_stalls)
}
# A flow held up past its catch-up (node/flow.c FLOW_MAX_CATCHUP_NS,
# 100 ms) resumes at the present and counts what it did not send as
# skipped, about one packet per ptime of the stall. d4_skips_allowed
# PTIME_US: "ALLOWED STALLS WORST_US" for the witness's stalls of 100 ms or
# more; d4_check_skipped WHAT SKIPPED PTIME_US fails past that.
d4_skips_allowed() {
	awk -v pt="$1" -v res="$D4_WITNESS_PERIOD_US" '
	{ l = $2 + res; if ($2 + 0 > w) w = $2 + 0
	  if (l >= 100000) { n++; a += int((l + pt - 1) / pt) + 1 } }
	END { printf "%d %d %d\n", a, n, w }' < <(d4_stalls)
}
d4_check_skipped() {
	local allowed stalls worst
	read -r allowed stalls worst < <(d4_skips_allowed "$3")
	[ "$2" -le "$allowed" ] ||
		fail "$1: its flow skipped $2 packets, more than the $allowed that the machine's $stalls stalls of 100 ms or more explain (worst $worst us)"
	[ "$2" = 0 ] ||
		echo "$1: its flow skipped $2 packets, within the $allowed that $stalls machine stalls of 100 ms or more (worst $worst us, d4stall) explain"
}
d4_stalled_over() { # US: true if the witness saw a stall of US or more
	d4_stalls | awk -v us="$1" -v res="$D4_WITNESS_PERIOD_US" \
		'$2 + res >= us { f = 1 } END { exit !f }'
}
d4_worst_stall() { # the longest stall the witness saw, in us
	d4_stalls | sort -k2 -n | tail -n 1 | cut -d' ' -f2
}
# A sender held up past its 100 ms catch-up skips packets without a gap
# in its sequence numbers: no receiver counts them lost, its stream has
# holes. d4_sender_skips WHO LOG FLOW: none, 0; a machine stall of 100 ms
# or more (the witness) explains them: says so and returns 1 (the caller
# cannot judge the stream and skips); none explains them: fails.
d4_sender_skips() {
	local skipped
	skipped=$(d4_flow_stat "$2" "$3" skipped)
	[ "$skipped" = 0 ] && return 0
	d4_stalled_over 100000 ||
		fail "$1 skipped $skipped packets with no machine stall of 100 ms or more to explain it (a sender-side stall: no receiver counts those as lost; worst stall $(d4_worst_stall) us; its log: $(grep -E "skipped [0-9]+ packet|media clock stepped|clock .* -> " "$2" | tail -n 6 | tr '\n' '|'))"
	echo "$1 skipped $skipped packets while the machine stalled a real-time thread $(d4_worst_stall) us (d4stall): its stream cannot be judged"
	return 1
}
# d4_cmp_but_skipped WHAT IN REC SKIPPED [LATE]: REC is IN bit for bit at
# the same index (SKIPPED 0), or but for exactly SKIPPED silent 1 ms
# blocks: the packets a sender stalled past its catch-up skipped (judge
# SKIPPED with d4_check_skipped first). LATE packets (judged first with
# d4_check_late: a machine stall explained them) play as silence, whole
# or in part: the recording is then not judged sample for sample, and
# says so. Says which.
d4_cmp_but_skipped() {
	local out gaps
	if [ "${5:-0}" != 0 ]; then
		echo "$1: ${5} late packets (a machine stall, d4stall): the recording is not judged sample for sample"
		return 0
	fi
	if [ "$4" = 0 ]; then
		"$D4WAV" cmp "$2" "$3" --align none >/dev/null ||
			fail "$1: the recording is not the file"
		echo "$1: the recording is the file, bit for bit"
		return 0
	fi
	out=$("$D4WAV" gaps "$2" "$3" --block 48) ||
		fail "$1: the recording differs from the file other than by silent packets"
	gaps=$(echo "$out" | sed -n 's/^gaps=\([0-9]*\) .*/\1/p')
	[ "$gaps" = "$4" ] ||
		fail "$1: the recording has $gaps silent packets, the sender skipped $4 ($out)"
	echo "$1: the recording is the file but for the $4 packets the sender skipped (a machine stall)"
}
# d4_cmp_stalled WHAT IN REC SKIPPED LATE: like d4_cmp_but_skipped, for a
# sender whose SKIPPED count (judged with d4_check_skipped) may include
# skips outside the recording: REC is IN bit for bit when nothing was
# skipped or late; with LATE (judged with d4_check_late) it is not judged
# sample for sample; with skips it may hold no more silent packets than
# SKIPPED and must otherwise be IN. Says which.
d4_cmp_stalled() {
	local out gaps
	if [ "$4" = 0 ] || [ "${5:-0}" != 0 ] ||
		"$D4WAV" cmp "$2" "$3" --align none >/dev/null 2>&1; then
		d4_cmp_but_skipped "$1" "$2" "$3" 0 "${5:-0}"
		return 0
	fi
	out=$("$D4WAV" gaps "$2" "$3" --block 48) ||
		fail "$1: the recording differs from the file other than by silent packets ($out)"
	gaps=$(echo "$out" | sed -n 's/^gaps=\([0-9]*\) .*/\1/p')
	[ -n "$gaps" ] && [ "$gaps" -le "$4" ] ||
		fail "$1: ${gaps:-?} silent packets; the sender skipped $4 ($out)"
	echo "$1: $gaps silent packets, within the $4 the sender skipped in a machine stall; otherwise the file"
}
d4_check_late() { # WHAT LATE LATENCY_US PTIME_US
	local allowed stalls worst
	read -r allowed stalls worst < <(d4_late_allowed "$3" "$4")
	[ "$2" -le "$allowed" ] ||
		fail "$1: $2 late packets at $(($3 / 1000)) ms latency, more than the $allowed that the machine's $stalls stalls past $((($3 - $4) / 1000)) ms explain (worst $worst us)"
	[ "$2" = 0 ] ||
		echo "$1: $2 late packets, within the $allowed that $stalls machine stalls (worst $worst us, d4stall) explain"
}

# d4_hogs SECONDS: the load of issue 16 for SECONDS: two CPU hogs and a
# memory hog (1 GiB mapped, written and unmapped over and over), all at
# normal priority, as other work on the machine would be. stress-ng ends
# them itself when the time is up, whatever happens to the test; PID in
# $!. d4_hogs_wait PID: wait in this shell (not in a $(...) subshell,
# which cannot wait for its parent's children) until they have ended.
# d4_hogs_cpu: the CPU seconds they had (stress-ng's own count, user +
# system), to show the load happened.
d4_hogs() {
	d4_spawn "$T/hogs.log" stress-ng --cpu 2 --vm 1 --vm-bytes 1G \
		--timeout "$1" --metrics-brief
}
d4_hogs_wait() {
	wait "$1" 2>/dev/null || true
}
d4_hogs_cpu() {
	grep -q 'metrc:' "$T/hogs.log" || {
		echo "stress-ng printed no metrics:" >&2
		cat "$T/hogs.log" >&2
	}
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
