#!/usr/bin/env bash
# The matrix tells the truth when a sender dies: route A's TX 1 to B's RX
# 1 with a click, see the cell read "receiving", kill A (SIGKILL), and the
# cell must turn to an error state (no-audio, docs/ui.md) within 3 s.
# Written to the subscription states of issue 15 (docs/api.md): a node
# that keeps saying "receiving" after its sender died fails it. The
# controller and the browser run on h1 with d4ctl ui on its default
# address (this machine only, 127.0.0.1:8090).
. "$(dirname "$0")/../lib.sh"

PY=${D4_PYTHON:-/usr/bin/python3}
lab=d4s$$
d4_lab_hosts $lab 3
for n in A B; do
	cat >"$T/$n.ini" <<INI
[node]
name = $n
rx_channels = 2
[discovery]
interface = eth0
mdns = off
[source tone]
type = tone
channels = 2
INI
done
d4_node $lab-h2 A "$T/A.ini"
a=$!
d4_node $lab-h3 B "$T/B.ini"
for n in A B; do d4_wait_log "$T/$n.log" "api: listening" 10; done
{
	printf '[node A]\nhost = 10.77.0.2:8080\ntoken = %s\n' "$(cat "$T/state/A/token")"
	printf '[node B]\nhost = 10.77.0.3:8080\ntoken = %s\n' "$(cat "$T/state/B/token")"
} >"$T/config"
cat >"$T/d4ctl.sh" <<SH
#!/bin/sh
exec ip netns exec $lab-h1 "$D4CTL" --config "$T/config" --browse 0.2 "\$@"
SH
chmod +x "$T/d4ctl.sh"
d4_spawn "$T/ui.log" "$T/d4ctl.sh" ui --latency 100
ui=$!
d4_wait_log "$T/ui.log" "d4ctl ui: http://127.0.0.1:8090/" 10

D4CTL_RUN="$T/d4ctl.sh" D4_UI_SENDER_PID=$a \
	ip netns exec $lab-h1 "$PY" "$(dirname "$0")/sender_dies.py" ||
	fail "the matrix did not show the dead sender's route as an error"

# d4ctl ui stops cleanly on SIGTERM (under ASan: no leak, no error)
kill $ui
rc=0
d4_wait_pid $ui 20 || rc=$?
[ $rc = 0 ] || fail "d4ctl ui exited $rc on SIGTERM: $(tail -n 20 "$T/ui.log")"
! grep -q "Sanitizer" "$T/ui.log" || fail "d4ctl ui: $(grep -A5 Sanitizer "$T/ui.log")"
pass "d4ctl ui stopped cleanly"
