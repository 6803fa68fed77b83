#!/usr/bin/env bats
# parrun on local workers: sources, templates, ordering, grouping, exit codes.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
}

@test "runs every line of stdin through the template" {
	run -0 --separate-stderr bash -c "seq 20 | parrun -j 3 echo x{}y 3>&-"
	[ "$(printf '%s\n' "$output" | sort -V | tr '\n' ' ')" = "$(seq 20 | sed 's/.*/x&y/' | tr '\n' ' ')" ]
}

@test "a template without a replacement string gets the value appended" {
	run -0 bash -c "printf 'a\nb\n' | parrun -k -j 2 echo val 3>&-"
	[ "$output" = "$(printf 'val a\nval b')" ]
}

@test "a plain line without a template is a shell command" {
	run -0 bash -c "printf 'echo one | tr o O\necho two\n' | parrun -k -j 2 3>&-"
	[ "$output" = "$(printf 'One\ntwo')" ]
}

@test "-k writes output in input order although later tasks finish first" {
	run -0 bash -c "seq 8 | parrun -j 4 -k sh -c 'sleep 0.\$((9 - \$1)); echo \$1' sh {} 3>&-"
	[ "$output" = "$(seq 8)" ]
}

@test "output of a task is grouped, never interleaved with another's" {
	run -0 bash -c "seq 6 | parrun -j 3 sh -c 'for i in 1 2 3; do echo \$1-\$i; sleep 0.05; done' sh {} 3>&-"
	# each task's three lines are adjacent and in order
	for t in 1 2 3 4 5 6; do
		set -- $(printf '%s\n' "$output" | grep -n "^$t-" | cut -d: -f1)
		[ "$#" -eq 3 ]
		[ "$2" -eq $(($1 + 1)) ]
		[ "$3" -eq $(($1 + 2)) ]
	done
}

@test "stderr of tasks goes to stderr, grouped" {
	run -0 --separate-stderr bash -c "seq 2 | parrun -k -j 2 sh -c 'echo out\$1; echo err\$1 >&2' sh {} 3>&-"
	[ "$output" = "$(printf 'out1\nout2')" ]
	[ "$(printf '%s\n' "$stderr" | sort | tr '\n' ' ')" = "err1 err2 " ]
}

@test "replacement strings {.} {/} {//} {/.} {#}" {
	run -0 bash -c "printf '/a/b/c.txt\nd.tar.gz\n' | parrun -k -j 1 echo '{.}|{/}|{//}|{/.}|{#}' 3>&-"
	[ "${lines[0]}" = "/a/b/c|c.txt|/a/b|c|1" ]
	[ "${lines[1]}" = "d.tar|d.tar.gz|.|d.tar|2" ]
}

@test "::: groups form a cartesian product, {1} {2} name the sources" {
	run -0 parrun -k -j 2 echo '{1}-{2}' ::: a b ::: 1 2 3 3>&-
	[ "$output" = "$(printf 'a-1\na-2\na-3\nb-1\nb-2\nb-3')" ]
}

@test "-a FILE is a source; several combine with :::" {
	printf 'x\ny\n' > vals
	run -0 parrun -k -j 2 -a vals echo '{1}{2}' ::: 1 2 3>&-
	[ "$output" = "$(printf 'x1\nx2\ny1\ny2')" ]
}

@test "argv mode: hostile values are passed literally and never run" {
	printf '%s\n' "'; touch PWNED; '" '$(touch PWNED)' '`touch PWNED`' '*' '-rf' > vals
	run -0 parrun -k -j 2 -a vals printf '[%s]\n' 3>&-
	[ "$output" = "$(printf '[%s]\n' "'; touch PWNED; '" '$(touch PWNED)' '`touch PWNED`' '*' '-rf')" ]
	[ ! -e PWNED ]
}

@test "--shell quotes every substituted value" {
	printf '%s\n' "'; touch PWNED; '" '$(touch PWNED)' '`touch PWNED`' 'a b' > vals
	run -0 parrun --shell -k -j 2 -a vals 'echo [{}] | cat' 3>&-
	[ "$output" = "$(printf '[%s]\n' "'; touch PWNED; '" '$(touch PWNED)' '`touch PWNED`' 'a b')" ]
	[ ! -e PWNED ]
}

@test "JSON tasks: argv, sh, env, cwd" {
	mkdir sub
	cat > tasks.jsonl <<-'EOF'
	{"id":"a","argv":["printf","%s|\n","x y"]}
	{"id":"b","sh":"echo $FOO","env":{"FOO":"bar"}}
	{"id":"c","argv":["pwd"],"cwd":"sub"}
	{"id":"d","sh":"echo $PARRUN_TASK_ID $PARRUN_ATTEMPT"}
	EOF
	run -0 bash -c "parrun -k -j 2 < tasks.jsonl 3>&-"
	[ "${lines[0]}" = "x y|" ]
	[ "${lines[1]}" = "bar" ]
	[ "${lines[2]}" = "$PWD/sub" ]
	[ "${lines[3]}" = "d 1" ]
}

@test "exit status is the number of failed tasks" {
	run -3 bash -c "seq 5 | parrun -j 2 sh -c 'test \$1 -le 2' sh {} 3>&-"
	run -0 bash -c "seq 5 | parrun -j 2 true 3>&-"
}

@test "exit status is 101 when more than 100 tasks failed" {
	run -101 bash -c "seq 150 | parrun -j 2 false 3>&-"
}

@test "a command that cannot run is a failed task, not a crash, and says why" {
	run -2 --separate-stderr bash -c "printf 'x\ny\n' | parrun -k -j 1 ./does-not-exist 3>&-"
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "parrun: task '1' (seq 1): cannot run './does-not-exist': no such file or directory" ]
	[ "${stderr_lines[1]}" = "parrun: task '2' (seq 2): cannot run './does-not-exist': no such file or directory" ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	# a failure is the command's own business: no line of parrun's
	run -1 --separate-stderr bash -c "echo x | parrun -j 1 false 3>&-"
	[ -z "$stderr" ]
}

@test "usage errors exit 255 with a message" {
	run -255 --separate-stderr parrun --schedule sideways true 3>&-
	[[ "$stderr" == *"invalid schedule 'sideways'"* ]]
	run -255 --separate-stderr parrun --no-such-option 3>&-
	[[ "$stderr" == *"unknown or incomplete option"* ]]
	run -255 --separate-stderr parrun -j 0 true 3>&-
	[[ "$stderr" == *"invalid worker count '0'"* ]]
}

@test "--help lists every option and --version prints the version" {
	run -0 parrun --help
	[[ "$output" == *"--keep-order"* ]]
	[[ "$output" == *"--on-bad-input"* ]]
	run -0 parrun --version
	[[ "$output" == "parrun "* ]]
}

@test "the man page's option list is generated from the option table" {
	run -0 bash -c "sed -n '/BEGIN OPTIONS/,/END OPTIONS/p' '$BATS_TEST_DIRNAME/../../man/parrun.1' | sed '1d;\$d'"
	page=$output
	run -0 parrun --help-mdoc
	[ "$output" = "$page" ]
}

@test "kernel tasks run in the worker: noop and sleep" {
	run -0 --separate-stderr bash -c "printf '%s\n' '{\"kernel\":\"noop\",\"value\":4}' '{\"kernel\":\"sleep\",\"seconds\":0.01}' | parrun -k -j 2 --results - 3>&-"
	[ "$(printf '%s\n' "$output" | jq -r .status | tr '\n' ' ')" = "ok ok " ]
	[ "$(printf '%s\n' "$output" | jq -r '.value' | head -1)" = "4" ]
}

@test "--kernel makes each plain value the kernel's n" {
	run -0 bash -c "seq 3 | parrun -k --kernel noop --results - 3>&- | jq -r .status"
	[ "$output" = "$(printf 'ok\nok\nok')" ]
}

@test "-j defaults to the CPUs in the affinity mask" {
	n=$(nproc)
	run -0 bash -c "seq $((n * 4)) | parrun --results - sh -c 'sleep 0.1' 3>&- | jq -r .worker | sort -u | wc -l"
	[ "$output" -eq "$n" ]
}

@test "static schedule: task i runs on worker (i-1) mod W + 1" {
	run -0 bash -c "seq 12 | parrun -k -j 3 --schedule static --batch-size 2 sh -c 'echo \$PARRUN_WORKER' 3>&-"
	[ "$(printf '%s\n' "$output" | tr '\n' ' ')" = "1 2 3 1 2 3 1 2 3 1 2 3 " ]
	# with more workers than start at once (32 a loop turn), W is -j
	run -0 bash -c "seq 200 | parrun -j 100 --schedule static --results - true 3>&-"
	[ "$(jq -s 'map(select(.worker != ((.seq - 1) % 100) + 1)) | length' <<<"$output")" -eq 0 ]
	[ "$(jq -s 'length' <<<"$output")" -eq 200 ]
}

@test "{%} is the worker the task runs on" {
	run -0 bash -c "seq 6 | parrun -k -j 2 --schedule static sh -c 'test \$1 = \$PARRUN_WORKER && echo ok' sh {%} 3>&-"
	[ "$(printf '%s\n' "$output" | sort -u)" = "ok" ]
}

@test "guided and dynamic schedules run every task exactly once" {
	for s in dynamic guided static; do
		run -0 bash -c "seq 500 | parrun -j 3 --schedule $s --results - --kernel noop 3>&- | jq -r .seq | sort -n | uniq | wc -l"
		[ "$output" -eq 500 ]
	done
}

@test "--batch-size gives the same results as batch 1" {
	run -0 bash -c "seq 300 | parrun -j 2 --batch-size 64 -k echo 3>&-"
	[ "$output" = "$(seq 300)" ]
	run -255 --separate-stderr parrun --batch-size 0 true 3>&-
}
