#!/usr/bin/env bats
# parrun-worker speaking the protocol directly: hand-written coordinator
# lines go in through a FIFO, the worker's stdout lines are checked with
# jq.  Every wait is bounded.

bats_require_minimum_version 1.5.0

if [[ -f $BATS_TEST_DIRNAME/helpers.bash ]]; then
	load helpers
fi
: "${PARRUN_BUILD:=$BATS_TEST_DIRNAME/../../build}"
[[ $PARRUN_BUILD == /* ]] || PARRUN_BUILD=$PWD/$PARRUN_BUILD
WORKER=$PARRUN_BUILD/parrun-worker
: "${MARK:=parrun-wmark-$$-$RANDOM$RANDOM}"

WELCOME='{"type":"welcome","proto":1,"worker":3,"hb_ms":0,"max_frame":1048576,"seed":42,"threads":0,"stream_output":false,"session":"s1"}'
DRAIN='{"type":"shutdown","mode":"drain","grace_ms":0}'

setup() {
	if declare -F helpers_setup >/dev/null; then
		helpers_setup
	fi
	cd "$BATS_TEST_TMPDIR" || return 1
	export PARRUN_KILL_GRACE_MS=300
	unset PARRUN_HANDSHAKE_MS
	WPID=
}

teardown() {
	w_cleanup
	if declare -F helpers_teardown >/dev/null; then
		helpers_teardown
	fi
}

# ---- driving the worker ------------------------------------------------------

# w_start [OPTION...]: the worker reads the FIFO "in" (written through
# FD 7) and writes "out" and "err"
w_start() {
	rm -f in out err
	mkfifo in
	"$WORKER" "$@" <in >out 2>err 3>&- &
	WPID=$!
	exec 7>in
}

w_send() {
	printf '%s\n' "$@" >&7
}

w_close() {
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
	cat out err >&2
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
		cat out err >&2
		return 1
	fi
	WRC=0
	wait "$WPID" || WRC=$?
	WPID=
}

w_cleanup() {
	exec 7>&- 2>/dev/null
	if [[ -n ${WPID:-} ]]; then
		kill -KILL "$WPID" 2>/dev/null
		wait "$WPID" 2>/dev/null
		WPID=
	fi
	pkill -KILL -f -- "$MARK" 2>/dev/null || true
}

# w_result SEQ: the result object for SEQ (from "result" or "results")
w_result() {
	jq -c --argjson s "$1" 'if .type == "results" then .results[]
	    elif .type == "result" then . else empty end | select(.seq == $s)' out
}

# w_count_results: how many results out holds
w_count_results() {
	jq -s '[.[] | if .type == "results" then .results[]
	    elif .type == "result" then . else empty end] | length' out
}

# w_bytes SEQ STREAM(1|2): the task's output, rebuilt byte for byte from
# its "output" messages and its result
w_bytes() {
	local name=stdout line b
	[[ $2 == 2 ]] && name=stderr
	jq -c --argjson s "$1" --argjson st "$2" --arg n "$name" '
	    if .type == "output" and .seq == $s and .stream == $st then
		{t: .data, b: .data_b64}
	    elif .type == "result" and .seq == $s then
		{t: .[$n], b: .[$n + "_b64"]}
	    elif .type == "results" then
		(.results[] | select(.seq == $s) | {t: .[$n], b: .[$n + "_b64"]})
	    else empty end' out |
	while IFS= read -r line; do
		if b=$(jq -er '.b // empty' <<<"$line"); then
			base64 -d <<<"$b"
		else
			jq -j '.t // ""' <<<"$line"
		fi
	done
}

# w_has JQ-CONDITION: some line of out satisfies it
w_has() {
	jq -e -s "any(.[]; $1)" out >/dev/null
}

# mk_sh SEQ SCRIPT [JSON-OBJECT]: a task line running SCRIPT with /bin/sh,
# with the object's members added
mk_sh() {
	local x='{}'
	[[ -n ${3:-} ]] && x=$3
	jq -n -c --argjson seq "$1" --arg sh "$2" --argjson x "$x" \
	    '{type: "task", seq: $seq, attempt: 1, sh: $sh} + $x'
}

# mk_argv SEQ ARG...: a task line running ARG... (T_EXTRA: a JSON object
# of more members).  Named jq arguments, as positional ones that look
# like options would be taken as jq's own.
mk_argv() {
	local x='{}' seq=$1 i=0 a named=()
	shift
	[[ -n ${T_EXTRA:-} ]] && x=$T_EXTRA
	for a in "$@"; do
		named+=(--arg "$(printf 'a%04d' "$i")" "$a")
		i=$((i + 1))
	done
	jq -n -c --argjson seq "$seq" --argjson x "$x" "${named[@]}" \
	    '{type: "task", seq: $seq, attempt: 1,
	      argv: [$ARGS.named | to_entries | sort_by(.key)[] |
		select(.key | startswith("a")) | .value]} + $x'
}

# mk_sleeper SEQ NAME [TRAP]: a task whose process is "NAME 1000" (so
# pgrep -f NAME finds it); TRAP=1 makes its shell ignore TERM first
mk_sleeper() {
	if [[ ${3:-} == 1 ]]; then
		mk_argv "$1" bash -c 'trap "" TERM; exec -a "$0" sleep 1000' "$2"
	else
		mk_argv "$1" bash -c 'exec -a "$0" sleep 1000' "$2"
	fi
}

# every line the worker wrote is a protocol message
assert_protocol_only() {
	run jq -e -s 'length > 0 and all(.[]; type == "object" and
	    (.type | type) == "string")' out
	[ "$status" -eq 0 ]
}

# run a whole conversation: lines in, out/err written, WRC set
w_talk() {
	w_start "${W_OPTS[@]}"
	w_send "$@"
	w_close
	w_exit 20
}

# ---- options ---------------------------------------------------------------------

@test "worker: --version, --help and --kernels" {
	run -0 "$WORKER" --version
	[[ $output == "parrun-worker "*"(protocol 1..1)" ]]
	run -0 "$WORKER" --help
	[[ $output == *"--slots"* && $output == *"--max-frame"* ]]
	run -0 "$WORKER" --kernels
	[[ $output == *noop* && $output == *sleep* ]]
	run -2 "$WORKER" --slots 0
	run -2 "$WORKER" --max-frame 10
	run -2 "$WORKER" --bogus
	run -2 "$WORKER" extra
}

# ---- handshake ---------------------------------------------------------------------

@test "worker: hello names protocol range, host, pid, cpus, slots, kernels" {
	w_start --slots 3
	w_wait '.type == "hello"'
	[ "$(jq -s length out)" -eq 1 ]
	[ "$(jq -c .proto out)" = "[1,1]" ]
	[ -n "$(jq -r .version out)" ]
	[ "$(jq -r .host out)" = "$(hostname)" ]
	[ "$(jq -r .pid out)" = "$WPID" ]
	[ "$(jq -r .cpus out)" = "$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)" ]
	[ "$(jq -r .slots out)" = 3 ]
	jq -e '.kernels | index("noop") and index("sleep")' out
	# a coordinator that hangs up before the welcome did not need this
	# worker (a short run): it leaves quietly
	w_close
	w_exit
	[ "$WRC" -eq 0 ]
}

@test "worker: a reject is logged with its reason, exit 3" {
	w_talk '{"type":"reject","reason":"too old for us","proto":[2,3]}'
	[ "$WRC" -eq 3 ]
	grep -q 'parrun-worker\[.*:[0-9]*\]: rejected by the coordinator: too old for us' err
	[ "$(jq -s length out)" -eq 1 ]
}

@test "worker: no welcome within the handshake deadline, exit 3" {
	export PARRUN_HANDSHAKE_MS=300
	w_start
	w_exit 5
	[ "$WRC" -eq 3 ]
	grep -q 'no welcome' err
}

@test "worker: a line over 4 KiB before the welcome is refused" {
	local big
	big=$(head -c 5000 /dev/zero | tr '\0' a)
	w_talk "{\"type\":\"welcome\",\"x\":\"$big\"}"
	[ "$WRC" -eq 3 ]
	w_has '.type == "error" and .fatal == true and
	    (.msg | test("longer than 4096"))'
}

@test "worker: a welcome for an unknown protocol is refused" {
	w_talk '{"type":"welcome","proto":7,"worker":1,"hb_ms":0,"max_frame":1048576,"seed":1,"threads":0,"stream_output":false,"session":"s"}'
	[ "$WRC" -eq 3 ]
	w_has '.type == "error" and .fatal'
}

# ---- tasks of each kind --------------------------------------------------------------

@test "worker: argv, sh and kernel tasks give results" {
	w_talk "$WELCOME" \
	    '{"type":"task","seq":1,"attempt":1,"id":"a","argv":["echo","hello","world"]}' \
	    "$(mk_sh 2 'echo $((6 * 7)) | tr 4 X')" \
	    '{"type":"task","seq":3,"attempt":2,"id":"c","kernel":"noop","params":{"value":2.5}}' \
	    '{"type":"task","seq":4,"attempt":1,"id":"d","kernel":"sleep","params":{"ms":50}}' \
	    "$DRAIN"
	[ "$WRC" -eq 0 ]
	assert_protocol_only
	w_result 1 | jq -e '.status == "ok" and .exit == 0 and
	    .stdout == "hello world\n" and .attempt == 1 and .start > 1e9 and
	    .elapsed >= 0'
	w_result 2 | jq -e '.status == "ok" and .stdout == "X2\n"'
	w_result 3 | jq -e '.status == "ok" and .value == 2.5 and
	    .attempt == 2 and (has("exit") | not)'
	w_result 4 | jq -e '.status == "ok" and .value == 0.05 and
	    .elapsed >= 0.05 and .extra.seconds >= 0.05'
	# command tasks say when they started, with their pid
	w_has '.type == "started" and .seq == 1 and .pid > 0'
	w_has '.type == "started" and .seq == 2 and .pid > 0'
	[ "$(jq -s 'map(select(.type == "started")) | length' out)" -eq 2 ]
	[ "$(jq -r -s 'last | .type' out)" = bye ]
}

@test "worker: unknown kernels and bad parameters are error results" {
	w_talk "$WELCOME" \
	    '{"type":"task","seq":1,"attempt":1,"kernel":"nope"}' \
	    '{"type":"task","seq":2,"attempt":1,"kernel":"sleep","params":{"seconds":-1}}' \
	    '{"type":"task","seq":3,"attempt":1,"kernel":"noop","params":{"value":"x"}}' \
	    "$DRAIN"
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "error" and .error == "no such kernel '"'nope'"'"'
	w_result 2 | jq -e '.status == "error" and
	    .error == "kernel '"'sleep'"': parameter '"'seconds'"' must be a number in [0, 86400]"'
	w_result 3 | jq -e '.status == "error" and (.error | test("kernel .noop."))'
}

@test "worker: stdout and stderr captured exactly, non-UTF-8 and NUL as base64" {
	w_talk "$WELCOME" \
	    "$(mk_sh 1 "printf 'a\\000b\\377\\n'; printf 'caf\\303\\251 \\t\"q\"\\\\' >&2")" \
	    '{"type":"task","seq":2,"attempt":1,"argv":["printf","no newline"]}' \
	    "$DRAIN"
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "ok" and has("stdout_b64") and
	    (has("stdout") | not) and .stderr == "café \t\"q\"\\"'
	[ "$(w_bytes 1 1 | od -An -tx1 | tr -d ' \n')" = "610062ff0a" ]
	w_result 2 | jq -e '.stdout == "no newline" and (has("stderr") | not)'
}

@test "worker: more than 64 KiB of output arrives byte-exact in chunks" {
	head -c 300000 /dev/urandom >want.out
	head -c 100001 /dev/zero | tr '\0' 'e' >want.err
	w_talk "$WELCOME" "$(mk_sh 1 'cat want.out; cat want.err >&2')" "$DRAIN"
	[ "$WRC" -eq 0 ]
	assert_protocol_only
	w_bytes 1 1 >got.out
	w_bytes 1 2 >got.err
	[ "$(sha256sum <got.out)" = "$(sha256sum <want.out)" ]
	[ "$(sha256sum <got.err)" = "$(sha256sum <want.err)" ]
	# the chunks come before the result and none is over 64 KiB
	jq -e -s '[.[] | select(.type == "output")] | length >= 5' out
	jq -e -s 'all(.[] | select(.type == "output");
	    ((.data // "") | length) <= 65536 and
	    ((.data_b64 // "") | length) <= 87384)' out
	jq -e -s '(map(.type) | index("result")) > (map(.type) | rindex("output"))' out
	w_result 1 | jq -e '.status == "ok"'
	# every line stays under the frame cap
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' out)" -lt 1048576 ]
}

@test "worker: stream_output sends whole lines as they come" {
	w_start
	w_send '{"type":"welcome","proto":1,"worker":1,"hb_ms":0,"max_frame":1048576,"seed":1,"threads":0,"stream_output":true,"session":"s"}' \
	    "$(mk_sh 1 'echo one; printf tw; sleep 1.5; echo o; printf three')"
	w_wait '.type == "output" and .data == "one\n"' 5
	# it came while the task still runs
	[ -z "$(w_result 1)" ]
	w_send "$DRAIN"
	w_close
	w_exit
	[ "$WRC" -eq 0 ]
	# the partial line waited for its end; the unfinished one is in the
	# result
	[ "$(jq -c -s '[.[] | select(.type == "output") | .data]' out)" = \
	    '["one\n","two\n"]' ]
	w_result 1 | jq -e '.status == "ok" and .stdout == "three"'
	[ "$(w_bytes 1 1)" = "$(printf 'one\ntwo\nthree')" ]
}

@test "worker: exit codes and signals" {
	w_talk "$WELCOME" \
	    "$(mk_argv 1 sh -c 'exit 3')" \
	    "$(mk_argv 2 sh -c 'kill -9 $$')" \
	    "$(mk_argv 3 sh -c 'kill -USR1 $$')" \
	    "$(mk_argv 4 true)" \
	    "$(mk_argv 5 false)" \
	    "$DRAIN"
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "failed" and .exit == 3 and (has("signal") | not)'
	w_result 2 | jq -e '.status == "failed" and .signal == 9 and (has("exit") | not)'
	w_result 3 | jq -e '.status == "failed" and .signal == 10'
	w_result 4 | jq -e '.status == "ok" and .exit == 0'
	w_result 5 | jq -e '.status == "failed" and .exit == 1'
}

@test "worker: a command that cannot run is an error result, exit 127" {
	mkdir adir
	w_talk "$WELCOME" \
	    "$(mk_argv 1 ./nope)" \
	    "$(mk_argv 2 no-such-program-here)" \
	    "$(mk_argv 3 ./adir)" \
	    "$(T_EXTRA='{"cwd":"/no/such/dir"}' mk_argv 4 true)" \
	    "$(T_EXTRA='{"cwd":"adir"}' mk_argv 5 pwd)" \
	    "$DRAIN"
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "error" and .exit == 127 and
	    .error == "cannot run '"'./nope'"': no such file or directory"'
	w_result 2 | jq -e '.status == "error" and .exit == 127'
	w_result 3 | jq -e '.status == "error" and .exit == 126 and
	    (.error | test("permission denied"))'
	w_result 4 | jq -e '.status == "error" and
	    (.error | test("cannot change to directory ./no/such/dir."))'
	w_result 5 | jq -e --arg d "$PWD/adir" '.status == "ok" and .stdout == $d + "\n"'
	# no "started" for what never started
	[ "$(jq -s 'map(select(.type == "started")) | length' out)" -eq 1 ]
}

@test "worker: commands are found on the task's own PATH, as execvp does" {
	mkdir -p bin1 bin2 noexec
	printf '#!/bin/sh\necho one "$@"\n' >bin1/prog
	printf 'echo two "$@"\n' >bin2/prog2	# no #! line: run by /bin/sh
	printf 'echo no\n' >noexec/prog
	chmod +x bin1/prog bin2/prog2
	w_talk "$WELCOME" \
	    "$(T_EXTRA='{"env":{"PATH":"'"$PWD"'/noexec:'"$PWD"'/bin1"}}' mk_argv 1 prog a)" \
	    "$(T_EXTRA='{"env":{"PATH":"/no/such:'"$PWD"'/bin2"}}' mk_argv 2 prog2 b)" \
	    "$(T_EXTRA='{"env":{"PATH":"'"$PWD"'/noexec"}}' mk_argv 3 prog)" \
	    "$(T_EXTRA='{"env":{"PATH":"/no/such"}}' mk_argv 4 sh -c true)" \
	    "$DRAIN"
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "ok" and .stdout == "one a\n"'
	w_result 2 | jq -e '.status == "ok" and .stdout == "two b\n"'
	# found but not executable, and nothing else on PATH: EACCES
	w_result 3 | jq -e '.status == "error" and .exit == 126 and
	    (.error | test("permission denied"))'
	w_result 4 | jq -e '.status == "error" and .exit == 127 and
	    (.error | test("no such file"))'
}

@test "worker: timeout sends TERM, then KILL to the group; nothing is left" {
	w_start
	# 1 s for bash to ignore TERM before it comes, even on a busy machine
	w_send "$WELCOME" \
	    "$(T_EXTRA='{"timeout_ms":1000}' mk_argv 1 bash -c \
		"trap '' TERM; (exec -a $MARK-child sleep 1000) & exec -a $MARK sleep 1000")" \
	    "$(T_EXTRA='{"timeout_ms":300}' mk_argv 2 sleep 1000)"
	w_wait '(.type == "result" and .seq == 2) or
	    (.type == "results" and any(.results[]; .seq == 2))' 10
	w_result 1 | jq -e '.status == "timeout" and .signal == 9 and
	    .elapsed >= 1.3 and .elapsed < 6'
	w_result 2 | jq -e '.status == "timeout" and .signal == 15 and
	    .elapsed >= 0.3 and .elapsed < 5'
	if declare -F assert_no_process >/dev/null; then
		assert_no_process "$MARK" 5
	else
		run ! pgrep -f -- "$MARK"
	fi
	w_send "$DRAIN"
	w_close
	w_exit
	[ "$WRC" -eq 0 ]
}

@test "worker: the welcome's timeout_ms limits tasks that have none" {
	local wl
	wl=$(jq -c '. + {timeout_ms: 300}' <<<"$WELCOME")
	w_start --slots 3
	w_send "$wl" \
	    "$(mk_argv 1 bash -c "exec -a $MARK sleep 1000")" \
	    "$(T_EXTRA='{"timeout_ms":20000}' mk_argv 2 sleep 0.8)" \
	    '{"type":"task","seq":3,"attempt":1,"kernel":"sleep","params":{"seconds":1000}}'
	w_wait '(.type == "result" and .seq == 2) or
	    (.type == "results" and any(.results[]; .seq == 2))' 10
	w_wait '(.type == "result" and .seq == 3) or
	    (.type == "results" and any(.results[]; .seq == 3))' 10
	w_result 1 | jq -e '.status == "timeout" and .signal == 15 and
	    .elapsed >= 0.3 and .elapsed < 5'
	# its own limit wins over the default
	w_result 2 | jq -e '.status == "ok" and .elapsed >= 0.8'
	w_result 3 | jq -e '.status == "timeout" and .elapsed >= 0.3 and
	    .elapsed < 3'
	run ! pgrep -f -- "$MARK"
	w_send "$DRAIN"
	w_close
	w_exit
	[ "$WRC" -eq 0 ]
}

@test "worker: cancel a running and a queued task" {
	w_start
	w_send "$WELCOME" "$(mk_sleeper 1 "$MARK")" "$(mk_argv 2 echo never)"
	w_wait '.type == "started" and .seq == 1'
	w_send '{"type":"cancel","seq":2,"attempt":1,"grace_ms":0}'
	w_wait '.type == "result" and .seq == 2'
	# another attempt is another task
	w_send '{"type":"cancel","seq":1,"attempt":9,"grace_ms":0}'
	sleep 0.2
	[ -z "$(w_result 1)" ]
	w_send '{"type":"cancel","seq":1,"attempt":1,"grace_ms":0}'
	w_wait '.type == "result" and .seq == 1'
	w_result 2 | jq -e '.status == "cancelled"'
	w_result 1 | jq -e '.status == "cancelled" and .signal == 15'
	run ! w_has '.type == "started" and .seq == 2'
	run ! pgrep -f -- "$MARK"
	w_send "$DRAIN"
	w_close
	w_exit
	[ "$WRC" -eq 0 ]
}

@test "worker: a cancelled kernel is reported at once" {
	w_start
	w_send "$WELCOME" \
	    '{"type":"task","seq":1,"attempt":1,"kernel":"sleep","params":{"seconds":1000}}'
	sleep 0.2
	w_send '{"type":"cancel","seq":1,"attempt":1,"grace_ms":0}'
	w_wait '.type == "result" and .seq == 1' 5
	w_result 1 | jq -e '.status == "cancelled"'
	w_send "$DRAIN"
	w_close
	w_exit 5
	[ "$WRC" -eq 0 ]
	[ "$(w_count_results)" -eq 1 ]
}

@test "worker: a cancelled or timed-out kernel frees its slot at once" {
	local t0
	w_start --slots 1
	w_send "$WELCOME" \
	    '{"type":"task","seq":1,"attempt":1,"kernel":"sleep","params":{"seconds":1000}}' \
	    '{"type":"task","seq":2,"attempt":1,"kernel":"sleep","params":{"seconds":1000},"timeout_ms":300}' \
	    '{"type":"task","seq":3,"attempt":1,"kernel":"sleep","params":{"ms":10}}'
	sleep 0.2
	t0=$(date +%s%N)
	w_send '{"type":"cancel","seq":1,"attempt":1,"grace_ms":0}'
	# 1 is cancelled, 2 runs in the freed slot and times out after
	# 300 ms (not when the sleep would end), then 3 runs
	w_wait '(.type == "result" and .seq == 3) or
	    (.type == "results" and any(.results[]; .seq == 3))' 5
	[ $((($(date +%s%N) - t0) / 1000000)) -lt 3000 ]
	w_result 1 | jq -e '.status == "cancelled"'
	w_result 2 | jq -e '.status == "timeout" and .elapsed >= 0.3 and
	    .elapsed < 2'
	w_result 3 | jq -e '.status == "ok" and .value == 0.01'
	w_send "$DRAIN"
	w_close
	w_exit 5
	[ "$WRC" -eq 0 ]
	[ "$(w_count_results)" -eq 3 ]
}

@test "worker: stdin EOF kills every task's process group; nothing is left" {
	local i
	w_start --slots 3
	w_send "$WELCOME" \
	    "$(mk_sleeper 1 "$MARK-a")" \
	    "$(mk_argv 2 bash -c "trap '' TERM; (exec -a $MARK-b sleep 1000) & exec -a $MARK-c sleep 1000")" \
	    '{"type":"task","seq":3,"attempt":1,"kernel":"sleep","params":{"seconds":1000}}' \
	    "$(mk_sleeper 4 "$MARK-queued")"
	w_wait '.type == "started" and .seq == 2'
	for ((i = 0; i < 100; i++)); do
		[ "$(pgrep -f -- "$MARK" | wc -l)" -ge 3 ] && break
		sleep 0.05
	done
	[ "$(pgrep -f -- "$MARK" | wc -l)" -ge 3 ]
	w_close
	w_exit 10
	[ "$WRC" -eq 1 ]
	grep -q 'hung up with 4 task' err
	if declare -F assert_no_process >/dev/null; then
		assert_no_process "$MARK" 5
	else
		run ! pgrep -f -- "$MARK"
	fi
}

@test "worker: killed with SIGKILL, it leaves no task running" {
	local i
	w_start --slots 4
	w_send "$WELCOME" \
	    "$(mk_sleeper 1 "$MARK-a")" \
	    "$(mk_sleeper 2 "$MARK-b" 1)" \
	    '{"type":"task","seq":3,"attempt":1,"kernel":"sleep","params":{"seconds":1000}}' \
	    "$(mk_sleeper 4 "$MARK-c")"
	for ((i = 0; i < 100; i++)); do
		[ "$(pgrep -f -- "$MARK" | wc -l)" -ge 3 ] && break
		sleep 0.05
	done
	[ "$(pgrep -f -- "$MARK" | wc -l)" -ge 3 ]
	# it has no chance to stop them: the kernel does (PR_SET_PDEATHSIG)
	kill -KILL "$WPID"
	wait "$WPID" || true
	WPID=
	assert_no_process "$MARK" 5
}

@test "worker: tasks start with default signal dispositions and no mask" {
	w_talk "$WELCOME" \
	    "$(mk_argv 1 grep -E '^Sig(Ign|Blk):' /proc/self/status)" \
	    "$(mk_sh 2 'yes | head -n 1')" "$DRAIN"
	[ "$WRC" -eq 0 ]
	# the standard signals (1-31) are reset and unblocked; what a launcher
	# did to real-time signals is not the worker's to undo
	blk=$(w_result 1 | jq -r .stdout | sed -n 's/^SigBlk:\t//p')
	ign=$(w_result 1 | jq -r .stdout | sed -n 's/^SigIgn:\t//p')
	echo "SigBlk $blk SigIgn $ign"
	[ -n "$blk" ]
	[ -n "$ign" ]
	(( (16#$blk & 0x7fffffff) == 0 && (16#$ign & 0x7fffffff) == 0 ))
	# SIGPIPE is not ignored: yes dies of it, silently
	w_result 2 | jq -e '.status == "ok" and .stdout == "y\n" and
	    (has("stderr") | not)'
}

@test "worker: EOF with nothing to do says bye and exits 0" {
	w_talk "$WELCOME" '{"type":"task","seq":1,"attempt":1,"kernel":"noop"}'
	[ "$WRC" -eq 0 ]
	[ "$(jq -r -s 'last | .type' out)" = bye ]
	w_result 1 | jq -e '.status == "ok"'
}

@test "worker: heartbeats go out, and silence means the coordinator is lost" {
	local i
	w_start
	w_send '{"type":"welcome","proto":1,"worker":1,"hb_ms":100,"max_frame":1048576,"seed":1,"threads":0,"stream_output":false,"session":"s"}' \
	    "$(mk_sleeper 1 "$MARK")"
	# hb messages keep it going past 3 x hb_ms
	for i in 1 2 3 4 5 6; do
		sleep 0.1
		w_send '{"type":"hb","t":1,"running":0}'
	done
	kill -0 "$WPID"
	# then nothing: lost after 3 x hb_ms
	w_exit 5
	[ "$WRC" -eq 1 ]
	grep -q 'no word from the coordinator' err
	jq -e -s '[.[] | select(.type == "hb")] | length >= 3' out
	w_has '.type == "hb" and .running == 1 and .t > 1e9'
	run ! pgrep -f -- "$MARK"
}

@test "worker: a batch of 1000 noop tasks gives 1000 results" {
	jq -n -c '{type: "tasks", tasks: [range(1; 1001) |
	    {seq: ., attempt: 1, id: "t\(.)", kernel: "noop",
	     params: {value: .}}]}' >batch
	w_talk "$WELCOME" "$(cat batch)" "$DRAIN"
	[ "$WRC" -eq 0 ]
	[ "$(w_count_results)" -eq 1000 ]
	# each task's own value, each seq once
	jq -e -s '[.[] | select(.type == "results") | .results[]] |
	    (map(.seq) | unique | length) == 1000 and
	    all(.[]; .value == .seq and .status == "ok")' out
	# coalesced: far fewer lines than results
	[ "$(wc -l <out)" -lt 20 ]
}

@test "worker: slots bound how many tasks run at once" {
	W_OPTS=(--slots 2)
	w_talk "$WELCOME" \
	    '{"type":"tasks","tasks":[{"seq":1,"attempt":1,"argv":["sleep","0.5"]},{"seq":2,"attempt":1,"argv":["sleep","0.5"]},{"seq":3,"attempt":1,"argv":["sleep","0.1"]}]}' \
	    "$DRAIN"
	W_OPTS=()
	[ "$WRC" -eq 0 ]
	[ "$(w_count_results)" -eq 3 ]
	# 1 and 2 overlap; 3 starts only when one of them has ended
	jq -e -s '[.[] | if .type == "results" then .results[]
	    elif .type == "result" then . else empty end] |
	    (map({(.seq | tostring): .}) | add) as $r |
	    ($r["1"].start + $r["1"].elapsed > $r["2"].start) and
	    ($r["3"].start >= ([$r["1"], $r["2"]] |
		map(.start + .elapsed) | min) - 0.01)' out
	# PARRUN_SLOT is 1..slots
	W_OPTS=(--slots 2)
	w_talk "$WELCOME" \
	    '{"type":"tasks","tasks":[{"seq":1,"attempt":1,"sh":"sleep 0.3; echo $PARRUN_SLOT"},{"seq":2,"attempt":1,"sh":"echo $PARRUN_SLOT"}]}' \
	    "$DRAIN"
	W_OPTS=()
	w_result 1 | jq -e '.stdout == "1\n"'
	w_result 2 | jq -e '.stdout == "2\n"'
}

@test "worker: kernels run off the loop: heartbeats go on during a sleep" {
	local i
	w_start --slots 2
	w_send '{"type":"welcome","proto":1,"worker":1,"hb_ms":100,"max_frame":1048576,"seed":1,"threads":0,"stream_output":false,"session":"s"}' \
	    '{"type":"tasks","tasks":[{"seq":1,"attempt":1,"kernel":"sleep","params":{"seconds":0.6}},{"seq":2,"attempt":1,"kernel":"sleep","params":{"seconds":0.6}}]}'
	for i in 1 2 3 4 5; do
		sleep 0.1
		w_send '{"type":"hb","t":1,"running":0}'
	done
	jq -e -s '[.[] | select(.type == "hb" and .running == 2)] | length >= 2' out
	w_send "$DRAIN"
	w_close
	w_exit
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "ok" and .value == 0.6'
	w_result 2 | jq -e '.status == "ok"'
	# both ran at once: the second did not wait for the first
	jq -e -s '[.[] | if .type == "results" then .results[]
	    elif .type == "result" then . else empty end] |
	    (max_by(.start).start - min_by(.start).start) < 0.4' out
}

@test "worker: shutdown drain finishes the queue, then bye" {
	w_talk "$WELCOME" \
	    '{"type":"tasks","tasks":[{"seq":1,"attempt":1,"argv":["sleep","0.2"]},{"seq":2,"attempt":1,"kernel":"sleep","params":{"ms":100}},{"seq":3,"attempt":1,"argv":["echo","last"]}]}' \
	    "$DRAIN" \
	    "$(mk_argv 4 echo too late)"
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "ok"'
	w_result 2 | jq -e '.status == "ok"'
	w_result 3 | jq -e '.status == "ok" and .stdout == "last\n"'
	w_result 4 | jq -e '.status == "cancelled"'
	[ "$(jq -r -s 'last | .type' out)" = bye ]
	[ "$(jq -s 'map(select(.type == "bye")) | length' out)" -eq 1 ]
}

@test "worker: shutdown now cancels everything, then bye" {
	w_start --slots 2
	w_send "$WELCOME" \
	    "$(mk_sleeper 1 "$MARK" 1)" \
	    '{"type":"task","seq":2,"attempt":1,"kernel":"sleep","params":{"seconds":1000}}' \
	    "$(mk_argv 3 echo queued)"
	w_wait '.type == "started" and .seq == 1'
	sleep 0.2
	w_send '{"type":"shutdown","mode":"now","grace_ms":200}'
	w_exit 5
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "cancelled" and .signal == 9'
	w_result 2 | jq -e '.status == "cancelled"'
	w_result 3 | jq -e '.status == "cancelled"'
	[ "$(w_count_results)" -eq 3 ]
	[ "$(jq -r -s 'last | .type' out)" = bye ]
	run ! pgrep -f -- "$MARK"
}

@test "worker: the environment a command task sees" {
	export FROM_WORKER=inherited
	w_talk '{"type":"welcome","proto":1,"worker":5,"hb_ms":0,"max_frame":1048576,"seed":99,"threads":4,"stream_output":false,"session":"s"}' \
	    "$(mk_sh 7 'env | grep -E "^(PARRUN_|FOO=|FROM_WORKER=|OMP_NUM|OPENBLAS_NUM|MKL_NUM)" | sort' \
		'{"attempt":2,"id":"my task","env":{"FOO":"a b=c","PARRUN_SEQ":"mine","FROM_WORKER":"task"}}')" \
	    "$(mk_sh 8 'echo $PARRUN_SEED $PARRUN_TASK_ID $OMP_NUM_THREADS' '{"seed":5,"threads":2}')" \
	    "$DRAIN"
	[ "$WRC" -eq 0 ]
	w_result 7 | jq -r .stdout >env.txt
	grep -qx 'PARRUN_TASK_ID=my task' env.txt
	grep -qx 'PARRUN_ATTEMPT=2' env.txt
	grep -qx 'PARRUN_SEQ=7' env.txt
	grep -qx 'PARRUN_WORKER=5' env.txt
	grep -qx 'PARRUN_SLOT=1' env.txt
	grep -qx 'PARRUN_SEED=99' env.txt
	grep -qx 'FOO=a b=c' env.txt
	grep -qx 'FROM_WORKER=task' env.txt
	grep -qx 'OMP_NUM_THREADS=4' env.txt
	grep -qx 'OPENBLAS_NUM_THREADS=4' env.txt
	grep -qx 'MKL_NUM_THREADS=4' env.txt
	run ! grep -q PARRUN_BROADCAST env.txt
	# a task's own seed and threads; no id: the seq stands for it
	w_result 8 | jq -e '.stdout == "5 8 2\n"'
}

@test "worker: no thread variables without a thread budget; worker env passes" {
	export FROM_WORKER=inherited
	w_talk "$WELCOME" \
	    "$(mk_sh 1 'echo ${OMP_NUM_THREADS-unset} $FROM_WORKER')" "$DRAIN"
	w_result 1 | jq -e '.stdout == "unset inherited\n"'
}

@test "worker: hostile argv values are passed literally" {
	local args=('$(touch pwned)' '`touch pwned`' '; touch pwned'
		'&& touch pwned' '| cat' '*' '~' "'" '"' '\' $'two\nlines' ''
		'-n' '--help' ' spaced ' '$HOME' 'é ü 漢字' '%s%d' '{}')
	w_talk "$WELCOME" "$(mk_argv 1 printf '%s\0' "${args[@]}")" "$DRAIN"
	[ "$WRC" -eq 0 ]
	w_result 1 | jq -e '.status == "ok"'
	printf '%s\0' "${args[@]}" >want
	w_bytes 1 1 >got
	cmp want got
	[ ! -e pwned ]
}

@test "worker: broadcast data reaches command tasks as a private file" {
	local file
	w_start
	w_send "$WELCOME" '{"type":"broadcast","data":"shared\nstuff"}' \
	    "$(mk_sh 1 'cat "$PARRUN_BROADCAST"; stat -c %a "$PARRUN_BROADCAST" "$(dirname "$PARRUN_BROADCAST")" >&2; echo "$PARRUN_BROADCAST" >&2')"
	w_wait '.type == "result" and .seq == 1'
	w_result 1 | jq -e '.status == "ok" and .stdout == "shared\nstuff" and
	    (.stderr | startswith("600\n700\n"))'
	file=$(w_result 1 | jq -r '.stderr | split("\n")[2]')
	[ -f "$file" ]
	w_send "$DRAIN"
	w_close
	w_exit
	[ "$WRC" -eq 0 ]
	# removed at exit, directory and all
	[ ! -e "$file" ]
	[ ! -e "$(dirname "$file")" ]
}

@test "worker: a malformed line is a fatal error, exit 4" {
	w_talk "$WELCOME" 'this is not json'
	[ "$WRC" -eq 4 ]
	w_has '.type == "error" and .fatal == true and .code == "proto" and
	    (.msg | test("line 2"))'
	grep -q 'protocol error' err
	w_talk "$WELCOME" '{"type":"task","seq":1,"argv":["true"]}'
	[ "$WRC" -eq 4 ]
	w_has '.type == "error" and (.msg | test("attempt"))'
}

@test "worker: an unknown message type is answered and the worker goes on" {
	w_talk "$WELCOME" '{"type":"frobnicate"}' '{"type":"result","seq":1}' \
	    '{"type":"task","seq":1,"attempt":1,"kernel":"noop"}' "$DRAIN"
	[ "$WRC" -eq 0 ]
	w_has '.type == "error" and .code == "unknown-type" and
	    .fatal == false and (.msg | test("frobnicate"))'
	w_has '.type == "error" and .code == "unexpected"'
	w_result 1 | jq -e '.status == "ok"'
}

@test "worker: a line over --max-frame after the welcome is fatal" {
	local big
	big=$(head -c 6000 /dev/zero | tr '\0' a)
	W_OPTS=(--max-frame 5000)
	w_talk "$WELCOME" "{\"type\":\"hb\",\"x\":\"$big\"}"
	W_OPTS=()
	[ "$WRC" -eq 4 ]
	w_has '.type == "error" and (.msg | test("longer than 5000"))'
}

@test "worker: SIGTERM kills the tasks and exits 143" {
	w_start
	w_send "$WELCOME" "$(mk_sleeper 1 "$MARK")"
	w_wait '.type == "started"'
	kill -TERM "$WPID"
	w_exit 5
	[ "$WRC" -eq 143 ]
	run ! pgrep -f -- "$MARK"
}

@test "worker: tasks get /dev/null, their own pipes and no other descriptor" {
	w_talk "$WELCOME" "$(mk_argv 1 ls /proc/self/fd)" \
	    "$(mk_argv 2 readlink /proc/self/fd/0)" "$DRAIN"
	[ "$WRC" -eq 0 ]
	# ls sees 0, 1, 2 and its own listing of the directory
	w_result 1 | jq -e '.stdout == "0\n1\n2\n3\n"'
	w_result 2 | jq -e '.stdout == "/dev/null\n"'
	assert_protocol_only
}
