#!/usr/bin/env bats
# --results, --joblog, --tag, --line-buffer, output that is not text.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
}

@test "--results writes one JSON line per task that jq reads" {
	printf '%s\n' '{"id":"a","argv":["echo","hi"]}' '{"id":"b","sh":"echo err >&2; exit 3"}' \
	    '{"id":"c","sh":"kill -TERM $$"}' > t.jsonl
	run -2 bash -c "parrun -j 2 --seed 42 --results r.jsonl < t.jsonl > out 2>&1 3>&-"
	[ "$(jq -s length r.jsonl)" -eq 3 ]
	run -0 jq -r 'select(.id=="a") | [.status, .exit, .stdout, .attempts, .seed] | @tsv' r.jsonl
	[ "$output" = "$(printf 'ok\t0\thi\\n\t1\t42')" ]
	run -0 jq -r 'select(.id=="b") | [.status, .exit, .stderr] | @tsv' r.jsonl
	[ "$output" = "$(printf 'failed\t3\terr\\n')" ]
	run -0 jq -r 'select(.id=="c") | [.status, .signal] | @tsv' r.jsonl
	[ "$output" = "$(printf 'failed\t15')" ]
	# every record has the documented members
	run -0 jq -e 'has("id") and has("seq") and has("status") and has("exit") and has("signal") and has("attempts") and has("host") and has("worker") and has("start") and has("elapsed")' r.jsonl
}

@test "--results - puts only JSON on stdout" {
	run -0 bash -c "seq 3 | parrun -j 2 --results - echo 3>&- | jq -c . | wc -l"
	[ "$output" -eq 3 ]
}

@test "output that is not UTF-8 (or holds NUL) travels as base64, byte-exact" {
	printf '%s\n' '{"id":"bin","sh":"printf \"a\\377b\\000c\""}' > t.jsonl
	run -0 bash -c "parrun -j 1 --results r.jsonl < t.jsonl > raw 3>&-"
	run -0 jq -r '.stdout_b64' r.jsonl
	[ "$(printf '%s' "$output" | base64 -d | od -An -tx1 | tr -d ' \n')" = "61ff620063" ]
	[ "$(od -An -tx1 raw | tr -d ' \n')" = "61ff620063" ]
	run -0 jq -e 'has("stdout") | not' r.jsonl
}

@test "--joblog has GNU parallel's columns" {
	run -1 bash -c "printf 'true\nfalse\n' | parrun -j 1 --joblog log 3>&-"
	[ "$(head -1 log)" = "$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand')" ]
	[ "$(wc -l < log)" -eq 3 ]
	[ "$(awk -F'\t' 'NR>1 {print $1, $7, $9}' log | sort)" = "$(printf '1 0 true\n2 1 false')" ]
}

@test "--results and --joblog refuse a symbolic link, and know /dev/stdout and /dev/stderr" {
	echo precious > target
	ln -s target link.jsonl
	run -255 --separate-stderr bash -c "seq 3 | parrun --results link.jsonl true 3>&-"
	[[ "$stderr" == *"'link.jsonl'"*"symbolic link"* ]]
	[ "$(cat target)" = precious ]
	# the standard streams by name, as - already is
	run -0 --separate-stderr bash -c "seq 2 | parrun --joblog /dev/stderr true 3>&-"
	[ "${#stderr_lines[@]}" -eq 3 ]
	[ "${stderr_lines[0]:0:3}" = "Seq" ]
	run -0 --separate-stderr bash -c "seq 2 | parrun --results /dev/stdout echo hi 3>&-"
	[ "$(jq -s 'length' <<<"$output")" -eq 2 ]
	[ -z "$stderr" ]
}

@test "--tag prefixes every line with the input value" {
	run -0 parrun -k -j 2 --tag sh -c 'printf "l1\nl2"' {} ::: a b 3>&-
	[ "$output" = "$(printf 'a\tl1\na\tl2b\tl1\nb\tl2')" ]
}

@test "--line-buffer passes whole lines on while the task runs" {
	# the first line must arrive before the task ends: the task waits
	# for a file that only the reader of parrun's output creates
	run -0 timeout 20 bash -c "parrun -j 1 --line-buffer sh -c 'echo first; while [ ! -e go ]; do sleep 0.05; done; echo second' ::: x 3>&- | { read -r l; touch go; echo \"\$l\"; cat; }"
	[ "$output" = "$(printf 'first\nsecond')" ]
}

@test "large outputs arrive intact" {
	run -0 bash -c "parrun -j 2 -k sh -c 'head -c 3000000 /dev/zero | tr \"\\\\0\" \$1' sh ::: a b 3>&- | sha256sum"
	expected=$( { head -c 3000000 /dev/zero | tr '\0' a; head -c 3000000 /dev/zero | tr '\0' b; } | sha256sum)
	[ "$output" = "$expected" ]
}

@test "--bar and --eta draw nothing when stderr is not a terminal" {
	run -0 --separate-stderr bash -c "seq 5 | parrun -j 2 --bar --eta true 3>&-"
	[ -z "$stderr" ]
}

@test "--bar draws on a terminal" {
	command -v script >/dev/null || skip "script(1) not installed"
	run -0 script -qec "seq 20 | $PARRUN -j 2 --bar sh -c 'sleep 0.05'" /dev/null
	[[ "$output" == *"%"* ]]
}
