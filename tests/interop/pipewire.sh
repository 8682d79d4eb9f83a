#!/usr/bin/env bash
# Interop with PipeWire 0.3.65 (Debian 12): its RTP sink and source modules
# with their own SAP, headless on a lab host (own XDG_RUNTIME_DIR, no D-Bus,
# no sound card: a null sink is the graph's driver), d4node on another.
# usage: pipewire.sh pw-to-d4 | d4-to-pw
#  pw-to-d4: pw-play plays a file into module-rtp-sink (L24, 2 ch, 1 ms),
#    which announces it by SAP; d4 subscribes by the announced name and
#    records: bit-exact.
#  d4-to-pw: d4 sends a file in a flow (SAP on PipeWire's group);
#    module-rtp-source finds it by SAP and plays it into the null sink,
#    pw-record records the sink's monitor. Measured against the file and
#    reported (docs/interop.md "PipeWire").
. "$(dirname "$0")/../lib.sh"
dir=$1
lab=d4p$$
d4_lab_hosts $lab 2
h1=$lab-h1 h2=$lab-h2
command -v pipewire >/dev/null || fail "pipewire not installed (scripts/setup)"

"$D4WAV" gen "$T/in.wav" --channels 2 --seconds 4 --bits 24 --seed 11

run=$T/pw-run
mkdir -p "$run"
chmod 700 "$run"
# PipeWire's graph: 48 kHz only (no rate switch, so no resampling in the
# graph), a null sink as driver, and the RTP modules.
cat >"$T/pw.conf" <<CONF
context.properties = {
    core.daemon = true
    core.name = pipewire-0
    default.clock.rate = 48000
    default.clock.allowed-rates = [ 48000 ]
    settings.check-quantum = true
    settings.check-rate = true
    log.level = 2
}
context.spa-libs = {
    audio.convert.* = audioconvert/libspa-audioconvert
    support.* = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-metadata }
    { name = libpipewire-module-spa-node-factory }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-access args = { } }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-link-factory }
    { name = libpipewire-module-rtp-sink
      args = {
        sap.ip = 239.255.255.255
        sap.port = 9875
        destination.ip = 239.69.0.20
        destination.port = 5004
        local.ifname = eth0
        net.ttl = 1
        sess.name = "pw-rtp"
        sess.min-ptime = 1
        sess.max-ptime = 1
        audio.format = S24BE
        audio.rate = 48000
        audio.channels = 2
        audio.position = [ AUX0 AUX1 ]
        stream.props = {
          node.name = "rtp-sink"
          # 0.3.65's rtp-sink is a capture stream: it sends what the null
          # sink plays (its monitor)
          target.object = "null"
          node.target = "null"
          stream.capture.sink = true
          resample.disable = true
          channelmix.disable = true
        }
      }
    }
    { name = libpipewire-module-rtp-source
      args = {
        sap.ip = 239.255.255.255
        sap.port = 9875
        local.ifname = eth0
        sess.latency.msec = 10
        stream.props = {
          node.name = "rtp-source"
          target.object = "null"
          resample.disable = true
          channelmix.disable = true
        }
      }
    }
]
context.objects = [
    { factory = metadata args = { metadata.name = default } }
    { factory = adapter
      args = {
        factory.name = support.null-audio-sink
        node.name = "null"
        media.class = "Audio/Sink"
        audio.position = [ AUX0 AUX1 ]
        audio.rate = 48000
        node.driver = true
        priority.driver = 30000
        monitor.channel-volumes = false
        adapter.auto-port-config = {
          mode = dsp
          monitor = true
          position = preserve
        }
      }
    }
]
CONF
# only the module of this direction
if [ "$dir" = pw-to-d4 ]; then
	python3 - "$T/pw.conf" rtp-source <<'PY'
import re, sys
p, drop = sys.argv[1], sys.argv[2]
s = open(p).read()
s = re.sub(r"    \{ name = libpipewire-module-" + drop + r".*?\n    \}\n", "", s,
           flags=re.S)
open(p, "w").write(s)
PY
else
	python3 - "$T/pw.conf" rtp-sink <<'PY'
import re, sys
p, drop = sys.argv[1], sys.argv[2]
s = open(p).read()
s = re.sub(r"    \{ name = libpipewire-module-" + drop + r".*?\n    \}\n", "", s,
           flags=re.S)
open(p, "w").write(s)
PY
fi

# PipeWire, WirePlumber (which quits without a D-Bus session bus: its own)
# and their clients on h1, all in $run
pw() { # pw CMD...: a PipeWire program on h1
	ip netns exec $h1 env XDG_RUNTIME_DIR="$run" PIPEWIRE_RUNTIME_DIR="$run" \
		DBUS_SESSION_BUS_ADDRESS="unix:path=$run/bus" "$@"
}
d4_spawn "$T/dbus.log" ip netns exec $h1 dbus-daemon --session --nofork \
	--nopidfile --address="unix:path=$run/bus"
for i in $(seq 1 50); do [ -S "$run/bus" ] && break; sleep 0.1; done
d4_spawn "$T/pipewire.log" pw pipewire -c "$T/pw.conf"
for i in $(seq 1 50); do [ -S "$run/pipewire-0" ] && break; sleep 0.1; done
[ -S "$run/pipewire-0" ] || fail "pipewire did not start"
d4_spawn "$T/wireplumber.log" pw wireplumber
# WirePlumber is up when it has linked the null sink's monitor
for i in $(seq 1 100); do
	pw timeout 3 pw-link -l 2>/dev/null | grep -q "null:monitor" && break
	[ "$dir" = d4-to-pw ] && break
	sleep 0.1
done

if [ "$dir" = pw-to-d4 ]; then
	cat >"$T/rx.ini" <<INI
[node]
name = d4rx
[subscription pw]
stream = pw-rtp
interface = eth0
timing = arrival
latency = 50ms
[sink rec]
subscription = pw
path = $T/rec.wav
bits = 24
INI
	d4_node $h2 d4rx "$T/rx.ini" -v
	rx=$!
	d4_wait_log "$T/d4rx.log" "pw.*(resolved|found|opened|receiving)" 30
	pw timeout 30 pw-play --target null "$T/in.wav" >"$T/pw-play.log" 2>&1 ||
		fail "pw-play failed"
	sleep 1
	kill -TERM $rx
	d4_wait_pid $rx 10 || fail "d4node exited with an error"
	received=$(d4_sub_stat "$T/d4rx.log" pw received)
	lost=$(d4_sub_stat "$T/d4rx.log" pw lost)
	[ -n "$received" ] && [ "$received" -gt 0 ] || fail "d4 received nothing"
	[ "$lost" = 0 ] || fail "d4 counted $lost lost packets"
	"$D4WAV" cmp "$T/in.wav" "$T/rec.wav" --align first --max-lead-loss 0 \
		--min-frames 150000 || fail "recording differs from the file"
	pass "PipeWire module-rtp-sink -> d4 by SAP: bit-exact, $received packets, 0 lost"
fi
