#!/usr/bin/env bats
# Bad input: a clear message naming the place, nothing after it run by
# default, a rejected record with --on-bad-input=skip, never a silent drop.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	# each task appends its id to a ledger, so we know what really ran
	printf '%s\n' \
	    '{"id":"1","argv":["sh","-c","echo 1 >> ledger"]}' \
	    '{"id":"2","argv":["sh","-c","echo 2 >> ledger"]}' \
	    '{"id":"3","argv":["sh","-c",42]}' \
	    '{"id":"4","argv":["sh","-c","echo 4 >> ledger"]}' \
	    '{"id":"5","argv":["sh","-c","echo 5 >> ledger"]}' > tasks.jsonl
}

@test "a bad line stops the run with stdin:LINE:COL and exit 255" {
	run -255 --separate-stderr bash -c "parrun -j 1 < tasks.jsonl 3>&-"
	[[ "$stderr" == *"parrun: stdin:3:"*"argv"* ]]
	# the column points at the offending value (the 42)
	col=$(printf '%s\n' "$stderr" | grep -o 'stdin:3:[0-9]*' | cut -d: -f3)
	[ "$(sed -n 3p tasks.jsonl | cut -c"$col"-"$((col + 1))")" = "42" ]
	# nothing after the bad line was dispatched
	! grep -q '^[45]$' ledger
}

@test "a file source names the file in the message" {
	run -255 --separate-stderr parrun -j 1 -a tasks.jsonl 3>&-
	[[ "$stderr" == *"parrun: tasks.jsonl:3:"* ]]
}

@test "--on-bad-input=skip records the line as rejected and goes on" {
	run -1 --separate-stderr bash -c "parrun -j 2 --on-bad-input=skip --results r.jsonl < tasks.jsonl 3>&-"
	[ "$(sort ledger | tr '\n' ' ')" = "1 2 4 5 " ]
	[ "$(jq -r 'select(.status=="rejected") | .seq' r.jsonl)" = "3" ]
	[ "$(jq -r .status r.jsonl | wc -l)" -eq 5 ]
	[[ "$(jq -r 'select(.status=="rejected") | .error' r.jsonl)" == "stdin:3:"* ]]
	[[ "$stderr" == *"stdin:3:"* ]]
}

@test "malformed JSON, NUL bytes, invalid UTF-8 and over-long lines are reported" {
	printf '{"argv":["true"]}\n{"argv": [\n' > a
	run -255 --separate-stderr parrun -j 1 -a a 3>&-
	[[ "$stderr" == *"a:2:"* ]]

	printf '{"argv":["true"]}\n{"argv":["a\0b"]}\n' > b
	run -255 --separate-stderr bash -c "parrun -j 1 < b 3>&-"
	[[ "$stderr" == *"stdin:2:"*"NUL"* ]]

	printf 'echo ok\necho \377\n' > c
	run -255 --separate-stderr bash -c "parrun -j 1 < c 3>&-"
	[[ "$stderr" == *"stdin:2:"*"UTF-8"* ]]

	{ printf 'echo '; head -c 2000 /dev/zero | tr '\0' x; printf '\n'; } > d
	run -255 --separate-stderr bash -c "parrun -j 1 --max-line 1000 < d 3>&-"
	[[ "$stderr" == *"stdin:1:"*"long"* ]]
}

@test "wrong types and duplicate keys are errors; unknown fields are ignored" {
	run -255 --separate-stderr bash -c "echo '{\"argv\":\"ls\"}' | parrun -j 1 3>&-"
	[[ "$stderr" == *"stdin:1:"* ]]
	run -255 --separate-stderr bash -c "echo '{\"sh\":\"true\",\"sh\":\"false\"}' | parrun -j 1 3>&-"
	[[ "$stderr" == *"stdin:1:"*"duplicate"* ]]
	run -0 bash -c "echo '{\"sh\":\"echo hi\",\"colour\":\"blue\"}' | parrun -j 1 3>&-"
	[ "$output" = "hi" ]
}

@test "blank lines are not tasks; a last line without newline is" {
	run -0 bash -c "printf 'echo a\n\n   \necho b' | parrun -k -j 1 --results - 3>&- | jq -r .stdout"
	[ "$output" = "$(printf 'a\n\nb\n')" ] || [ "$output" = "$(printf 'a\n\nb')" ]
}

@test "every input line ends as exactly one record" {
	{ for i in $(seq 50); do
		if [ $((i % 7)) = 0 ]; then echo '{bad'; else echo "echo $i"; fi
	  done; } > mixed
	run -7 bash -c "parrun -j 3 --on-bad-input=skip --results r.jsonl < mixed > /dev/null 2>&1 3>&-"
	[ "$(jq -r .seq r.jsonl | sort -n | uniq | wc -l)" -eq 50 ]
	[ "$(jq -r .seq r.jsonl | wc -l)" -eq 50 ]
	[ "$(jq -r 'select(.status=="rejected") | .seq' r.jsonl | sort -n | tr '\n' ' ')" = "7 14 21 28 35 42 49 " ]
}
