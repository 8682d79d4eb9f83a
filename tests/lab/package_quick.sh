#!/usr/bin/env bash
# The packaging's quick check (scripts/package-test is the long one: the
# .debs built and installed under systemd): the unit and the node agree on
# the state directory, the unit's `systemd-analyze security` exposure is
# under 4, log lines carry syslog priorities exactly when stderr is
# journald's stream, and every file debian/*.install names is built or in
# the tree.
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"
unit=$D4_SRC/examples/systemd/d4node@.service
BUILD=${D4BUILD:?D4BUILD must point at the build directory}

# -- the state directory: what the unit gives is what the node uses --
sd=$(sed -n 's/^StateDirectory=//p' "$unit")
env=$(sed -n 's/^Environment=D4_STATE_DIR=//p' "$unit")
[ "$sd" = d4node ] && [ "$env" = "%S/d4node" ] ||
	fail "the unit's StateDirectory=$sd, D4_STATE_DIR=$env"
grep -q '^User=d4$' "$unit" || fail "the unit does not run as d4"
# %S is /var/lib for a system unit: here a directory of our own
root=$T/var/lib
mkdir -p "$root/$sd"
sed -e 's/^sdp_file = .*/sdp_file = /' -e '/^\[node\]/a api = 127.0.0.1:8080' \
	"$D4_SRC/examples/systemd/stage.ini" | grep -v '^sdp_file' >"$T/stage.ini"
D4_STATE_DIR=${env/\%S/$root} "$D4NODE" --config "$T/stage.ini" --run-seconds 1 \
	>"$T/stage.log" 2>&1 || fail "stage.ini did not run: $(tail -n 5 "$T/stage.log")"
[ -s "$root/d4node/stage/token" ] && [ -s "$root/d4node/stage/uuid" ] ||
	fail "no token and uuid in $root/d4node/stage (the unit's state directory)"
grep -q "/var/lib/d4node/stage" "$D4_SRC/docs/raspberry-pi.md" ||
	fail "docs/raspberry-pi.md does not name /var/lib/d4node/stage"
pass "the unit's StateDirectory=d4node and D4_STATE_DIR: the node's state in /var/lib/d4node/stage"

# -- systemd-analyze security, offline --
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/units"
	cp "$unit" "$T/units/d4node@stage.service"
	score=$(cd "$T/units" && systemd-analyze security --offline=yes \
		./d4node@stage.service 2>/dev/null |
		sed -n 's/.*Overall exposure level for d4node@stage.service: \([0-9.]*\).*/\1/p')
	[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s < 4) }' ||
		fail "systemd-analyze security: exposure '${score:-?}', not under 4"
	pass "systemd-analyze security d4node@stage.service: exposure $score"
else
	echo "SKIP: no systemd-analyze"
fi

# -- journald priorities --
bad=$T/bad.ini
printf '[node]\nname = bad\nrt_priority = 300\n' >"$bad"
: >"$T/j.err"
stream=$(stat -c '%d:%i' "$T/j.err")
rc=0
JOURNAL_STREAM=$stream "$D4NODE" --config "$bad" 2>>"$T/j.err" || rc=$?
[ $rc -ne 0 ] || fail "a bad config started"
grep -q "^<3>error: .*rt_priority: '300'" "$T/j.err" ||
	fail "under journald an error has no <3>: $(head -n 2 "$T/j.err")"
: >"$T/j.info"
stream=$(stat -c '%d:%i' "$T/j.info")
sed -i 's/^name = .*/name = j/' "$T/stage.ini"
JOURNAL_STREAM=$stream "$D4NODE" --config "$T/stage.ini" --run-seconds 1 2>>"$T/j.info" ||
	fail "stage.ini under JOURNAL_STREAM"
grep -q '^<6>info: api: listening' "$T/j.info" ||
	fail "under journald an info line has no <6>: $(head -n 2 "$T/j.info")"
! grep -qv '^<[0-7]>' "$T/j.info" || fail "a line without a priority: $(grep -v '^<[0-7]>' "$T/j.info" | head -n 1)"
# another stream's JOURNAL_STREAM (stderr redirected): the plain format
JOURNAL_STREAM=1:1 "$D4NODE" --config "$bad" 2>"$T/plain.err" || true
grep -q "^d4node\[[0-9.]*\] error: " "$T/plain.err" ||
	fail "stderr that is not journald's got: $(head -n 1 "$T/plain.err")"
pass "syslog priorities (<3> error, <6> info) when stderr is journald's stream, else the plain format"

# -- debian/*.install: every file built or in the tree --
meson introspect "$BUILD" --installed >"$T/installed.json"
prefix=$(meson introspect "$BUILD" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
for f in "$D4_SRC"/debian/*.install; do
	while read -r src dst; do
		[ -n "$src" ] || continue
		case $src in
		usr/*)
			python3 - "$T/installed.json" "$prefix/${src#usr/}" <<'PY' ||
import json, sys
sys.exit(0 if sys.argv[2] in json.load(open(sys.argv[1])).values() else 1)
PY
				fail "$(basename "$f"): $src is not installed by meson"
			;;
		*)
			compgen -G "$D4_SRC/$src" >/dev/null ||
				fail "$(basename "$f"): $src is not in the tree"
			;;
		esac
	done <"$f"
done
sh -n "$D4_SRC/debian/d4node.postinst" || fail "postinst: syntax"
bash -n "$D4_SRC/scripts/package" && bash -n "$D4_SRC/scripts/package-test" ||
	fail "scripts/package*: syntax"
pass "every file of debian/*.install is built by meson or in the tree"
