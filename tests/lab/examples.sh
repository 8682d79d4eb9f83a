#!/usr/bin/env bash
# The configs in examples/ work as shipped: send-file plays its FLAC to a
# group and writes an SDP, record-stream records that stream through the
# SDP, tone sends a line-up tone. (Paths under /tmp are moved into the
# test's own directory.)
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"

ex=$(cd "$(dirname "$0")/../../examples" && pwd)
for f in send-file record-stream tone; do
	sed "s|/tmp/|$T/|g" "$ex/$f.ini" >"$T/$f.ini"
done
# send-file names its FLAC relative to itself: keep it beside the copy.
cp "$ex/lineup.flac" "$T/"

d4_spawn "$T/send.log" "$D4NODE" --config "$T/send-file.ini" --run-seconds 5
tx=$!
d4_wait_file "$T/playback-music.sdp" 5
d4_spawn "$T/rec.log" "$D4NODE" --config "$T/record-stream.ini" --run-seconds 3
rx=$!
d4_spawn "$T/tone.log" "$D4NODE" --config "$T/tone.ini" --run-seconds 2
tone=$!
d4_wait_pid $rx 10 || fail "record-stream.ini: d4node failed"
d4_wait_pid $tone 10 || fail "tone.ini: d4node failed"
d4_wait_pid $tx 10 || fail "send-file.ini: d4node failed"

[ "$(d4_sub_stat "$T/rec.log" program lost)" = 0 ] || fail "record-stream lost packets"
[ "$(d4_flow_stat "$T/tone.log" lineup packets)" -gt 1500 ] || fail "tone sent too little"
info=$("$D4WAV" info "$T/program.wav")
case $info in
*"channels=2 rate=48000"*) ;;
*) fail "program.wav: $info" ;;
esac
frames=${info#frames=}
frames=${frames%% *}
[ "$frames" -gt 96000 ] || fail "program.wav has only $frames frames"
pass "examples: send-file, record-stream and tone run; $frames frames recorded, 0 lost"
