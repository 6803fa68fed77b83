#!/usr/bin/env bats
# parrun-worker --connect: the TCP transport with the HMAC handshake.
#
# The coordinator here is tests/fixtures/proto/tcp-coordinator.py, a
# stand-in written from parrun-protocol(7) alone (Python's hmac and
# hashlib): it checks that the worker follows the documented handshake
# byte for byte, then relays protocol lines between a FIFO and a file, as
# 050-worker.bats does over pipes.  Those tests are skipped without
# python3.  The real coordinator (parrun --listen) with these workers is
# tested in 510-listen.bats.  Every wait is bounded.

bats_require_minimum_version 1.5.0

load helpers

TCOORD=$BATS_TEST_DIRNAME/../fixtures/proto/tcp-coordinator.py

WELCOME='{"type":"welcome","proto":1,"worker":3,"hb_ms":0,"max_frame":1048576,"seed":42,"threads":0,"stream_output":false,"session":"s1"}'
DRAIN='{"type":"shutdown","mode":"drain","grace_ms":0}'

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR" || return 1
	export PARRUN_KILL_GRACE_MS=300
	export PARRUN_CONNECT_MS=10000
	unset PARRUN_HANDSHAKE_MS
	WPID=
	CPID=
	new_secret secret
}

teardown() {
	exec 7>&- 2>/dev/null
	local p
	for p in "$WPID" "$CPID"; do
		if [[ -n $p ]]; then
			kill -KILL "$p" 2>/dev/null
			wait "$p" 2>/dev/null
		fi
	done
	pkill -KILL -f -- "$MARK" 2>/dev/null || true
	helpers_teardown
}

# new_secret FILE: 64 random hex digits and a LF, mode 0600
new_secret() {
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$1" &&
	    echo >>"$1")
}

need_python() {
	command -v python3 >/dev/null ||
	    skip "python3 is needed for the stand-in coordinator"
}

# c_start [OPTION...]: the stand-in coordinator; its stdin is the FIFO
# "cin" (written through FD 7), its stdout "out" (the worker's lines),
# its stderr "cerr"; PORT is set once it listens
c_start() {
	local i
	rm -f cin out cerr port
	mkfifo cin
	python3 "$TCOORD" --secret-file secret --port-file port "$@" \
	    <cin >out 2>cerr 3>&- &
	CPID=$!
	exec 7>cin
	for ((i = 0; i < 200; i++)); do
		[[ -s port ]] && break
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.05
	done
	[[ -s port ]] || { cat cerr >&2; return 1; }
	PORT=$(<port)
}

# w_start [OPTION...]: parrun-worker --connect 127.0.0.1:$PORT with the
# secret on its stdin (unless an option says otherwise: then W_STDIN is
# the file for stdin); stdout to "wout" (it must stay empty), stderr "err"
w_start() {
	"$WORKER" --connect "127.0.0.1:$PORT" "$@" <"${W_STDIN:-secret}" \
	    >wout 2>err 3>&- &
	WPID=$!
}

c_send() {
	printf '%s\n' "$@" >&7
}

c_close() {
	exec 7>&-
}

# w_wait JQ-CONDITION [SECONDS]: until a line of out satisfies it
w_wait() {
	local i n=$((${2:-10} * 20))
	for ((i = 0; i < n; i++)); do
		if jq -c "select($1)" out 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.05
	done
	echo "timed out waiting for: $1" >&2
	cat out err cerr >&2
	return 1
}

# w_exit [SECONDS]: wait for the worker to exit; its status in WRC
w_exit() {
	local i n=$((${1:-10} * 20))
	for ((i = 0; i < n; i++)); do
		kill -0 "$WPID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$WPID" 2>/dev/null; then
		echo "the worker did not exit" >&2
		cat out err cerr >&2
		return 1
	fi
	WRC=0
	wait "$WPID" || WRC=$?
	WPID=
}

w_result() {
	jq -c --argjson s "$1" 'if .type == "results" then .results[]
	    elif .type == "result" then . else empty end | select(.seq == $s)' out
}

# mk_argv SEQ ARG...: a task line running ARG...
mk_argv() {
	local seq=$1
	shift
	jq -n -c --argjson seq "$seq" '{type: "task", seq: $seq, attempt: 1,
	    argv: $ARGS.positional}' --args -- "$@"
}

# the secret's hex digits appear in no file of /proc/PID (cmdline, environ)
assert_secret_absent() {
	local pid=$1 hex f
	hex=$(tr -d '\n' <secret)
	[ ${#hex} -eq 64 ]
	for f in cmdline environ; do
		# readable, so an absence means something
		[ -r "/proc/$pid/$f" ]
		if grep -a -q -- "$hex" "/proc/$pid/$f"; then
			echo "the secret is in /proc/$pid/$f" >&2
			return 1
		fi
	done
	grep -a -q -- '--connect' "/proc/$pid/cmdline"
}

# ---- no coordinator needed --------------------------------------------------------

@test "connect: --help names --connect and --secret-file; bad use is exit 2" {
	run -0 "$WORKER" --help
	[[ $output == *"--connect ADDR:PORT"* && $output == *"--secret-file"* ]]
	run -2 "$WORKER" --connect nohost </dev/null
	[[ $output == *"expected ADDRESS:PORT"* ]]
	run -2 "$WORKER" --connect 127.0.0.1:0 </dev/null
	run -2 "$WORKER" --connect '*:5000' </dev/null
	run -2 "$WORKER" --secret-file secret </dev/null
	[[ $output == *"goes with --connect"* ]]
}

@test "connect: no secret, a bad secret or an open secret file: exit 3" {
	run -3 "$WORKER" --connect 127.0.0.1:9 </dev/null
	[[ $output == *"first line of stdin or in --secret-file"* ]]
	run -3 "$WORKER" --connect 127.0.0.1:9 <<<"not-hex"
	chmod 644 secret
	run -3 "$WORKER" --connect 127.0.0.1:9 --secret-file secret </dev/null
	[[ $output == *"chmod"* ]]
	run -3 "$WORKER" --connect 127.0.0.1:9 --secret-file nosuchfile
	# none of it is echoed
	[[ $output != *"$(tr -d '\n' <secret)"* ]]
}

@test "connect: a terminal on stdin is refused (the secret would echo)" {
	command -v script >/dev/null || skip "script(1) is needed for a terminal"
	run script -qec "$WORKER --connect 127.0.0.1:9" /dev/null
	[ "$status" -eq 3 ]
	[[ $output == *"terminal"* ]]
}

@test "connect: only the first line of stdin is read" {
	export PARRUN_CONNECT_MS=200
	{ cat secret; echo "the rest is not the worker's"; } >in
	run bash -c '"$1" --connect 127.0.0.1:9 2>/dev/null; echo "rc=$?";
	    cat' _ "$WORKER" <in
	[[ $output == *"rc=3"* ]]
	[[ $output == *"the rest is not the worker's"* ]]
}

@test "connect: nothing listening: retried, then exit 3 in bounded time" {
	export PARRUN_CONNECT_MS=700
	local t0=$SECONDS
	run -3 "$WORKER" --connect 127.0.0.1:9 <secret
	[ $((SECONDS - t0)) -lt 5 ]
	[[ $output == *"trying again"* ]]
	[[ $output == *"cannot connect to the coordinator at '127.0.0.1:9'"* ]]
	[ "$(grep -c 'trying again' <<<"$output")" -eq 1 ]
}

@test "connect: the secret is not in the worker's cmdline or environ" {
	# it keeps retrying meanwhile: long enough to look
	export PARRUN_CONNECT_MS=20000
	PORT=9
	w_start
	sleep 0.5
	kill -0 "$WPID"
	assert_secret_absent "$WPID"
}

# ---- against the stand-in coordinator ----------------------------------------------

@test "connect: handshake as specified, then tasks and results over TCP" {
	need_python
	c_start --welcome "$WELCOME"
	w_start --slots 2
	w_wait '.type == "hello"'
	grep -q 'authenticated' cerr
	# the hello carries a nonce of 64 hex digits, then the usual members
	jq -e '(.nonce | test("^[0-9a-f]{64}$")) and .proto == [1,1] and
	    .slots == 2 and (.kernels | index("sleep"))' <(head -n1 out)
	c_send "$(mk_argv 1 echo hello over tcp)" \
	    '{"type":"task","seq":2,"attempt":1,"kernel":"noop","params":{"value":7}}' \
	    '{"type":"task","seq":3,"attempt":1,"sh":"echo err >&2; exit 3"}'
	w_wait '(.type == "result" and .seq == 3) or
	    (.type == "results" and any(.results[]; .seq == 3))'
	w_wait '(.type == "result" and .seq == 1) or
	    (.type == "results" and any(.results[]; .seq == 1))'
	w_result 1 | jq -e '.status == "ok" and .stdout == "hello over tcp\n"'
	w_result 3 | jq -e '.status == "failed" and .exit == 3 and .stderr == "err\n"'
	w_wait '(.type == "result" and .seq == 2) or
	    (.type == "results" and any(.results[]; .seq == 2))'
	w_result 2 | jq -e '.value == 7'
	c_send "$DRAIN"
	w_exit
	[ "$WRC" -eq 0 ]
	[ "$(jq -r -s 'last | .type' out)" = bye ]
	# stdout is not the protocol here: nothing on it
	[ ! -s wout ]
}

@test "connect: a welcome that came with the auth line is not lost" {
	need_python
	c_start --welcome "$WELCOME" --early
	w_start
	w_wait '.type == "hello"'
	c_send "$(mk_argv 1 echo early)" "$DRAIN"
	w_exit
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "ok" and .stdout == "early\n"'
}

@test "connect: a signal while still connecting ends it at once" {
	export PARRUN_CONNECT_MS=20000
	PORT=9
	w_start
	sleep 0.3
	kill -TERM "$WPID"
	w_exit 2
	[ "$WRC" -eq 143 ]
}

@test "connect: --secret-file instead of stdin" {
	need_python
	c_start --welcome "$WELCOME"
	cp secret wsecret
	chmod 600 wsecret
	W_STDIN=/dev/null w_start --secret-file wsecret
	w_wait '.type == "hello"'
	grep -q 'authenticated' cerr
	c_send "$(mk_argv 1 true)" "$DRAIN"
	w_exit
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "ok"'
}

@test "connect: a worker with another secret is refused, and refuses too" {
	need_python
	c_start --welcome "$WELCOME"
	new_secret other
	W_STDIN=other w_start
	w_exit 10
	[ "$WRC" -eq 3 ]
	# the worker checks the coordinator's MAC first, so it never sends a
	# MAC of its own to a coordinator without the secret
	grep -q 'bad MAC from the coordinator' err
	grep -q 'refused: the worker hung up before its auth' cerr
	# nothing but the hello came through
	[ "$(jq -s length out)" -eq 1 ]
}

@test "connect: a reject is final (no retries), exit 3 with the reason" {
	need_python
	c_start --reject "no common protocol version"
	local t0=$SECONDS
	w_start
	w_exit 10
	[ "$WRC" -eq 3 ]
	[ $((SECONDS - t0)) -lt 5 ]
	grep -q 'rejected by the coordinator: no common protocol version' err
	run ! grep -q 'trying again' err
}

@test "connect: a coordinator that comes up late is waited for" {
	need_python
	local p
	# a free port, then the coordinator binds it after a delay
	p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	rm -f cin out cerr port
	mkfifo cin
	python3 "$TCOORD" --secret-file secret --port-file port --port "$p" \
	    --delay-ms 800 --welcome "$WELCOME" <cin >out 2>cerr 3>&- &
	CPID=$!
	exec 7>cin
	PORT=$p
	w_start
	w_wait '.type == "hello"' 10
	grep -q 'trying again' err
	c_send "$(mk_argv 1 true)" "$DRAIN"
	w_exit
	[ "$WRC" -eq 0 ]
}

@test "connect: no welcome after authenticating: exit 3" {
	need_python
	export PARRUN_HANDSHAKE_MS=400
	c_start
	w_start
	w_exit 10
	[ "$WRC" -eq 3 ]
	grep -q 'no welcome' err
}

@test "connect: tasks inherit neither the socket nor the secret" {
	need_python
	c_start --welcome "$WELCOME"
	w_start
	c_send "$(mk_argv 1 ls /proc/self/fd)" \
	    "$(mk_argv 2 readlink /proc/self/fd/0)" \
	    "$(mk_argv 3 sh -c 'cat; env; echo "[$PARRUN_TASK_ID]"')" "$DRAIN"
	w_exit
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.stdout == "0\n1\n2\n3\n"'
	w_result 2 | jq -e '.stdout == "/dev/null\n"'
	# stdin is /dev/null (the secret's line was stdin), and no
	# variable holds the secret
	w_result 3 | jq -e '.status == "ok" and (.stdout | endswith("[3]\n"))'
	run ! grep -q -- "$(tr -d '\n' <secret)" out
}

@test "connect: the coordinator gone: tasks killed, exit 1, nothing left" {
	need_python
	c_start --welcome "$WELCOME"
	w_start
	c_send "$(mk_argv 1 bash -c 'exec -a "$0" sleep 1000' "$MARK")"
	w_wait '.type == "started"'
	assert_secret_absent "$WPID"
	kill -KILL "$CPID"
	wait "$CPID" 2>/dev/null || true
	CPID=
	w_exit 10
	[ "$WRC" -eq 1 ]
	assert_no_process "$MARK" 5
}
