#!/usr/bin/env bats
# examples/*.sh, every one, with small sizes (PARRUN_EXAMPLE_SMALL=1), and
# what they print checked: the notes' demos must not only run but show
# what they claim (the same values for one seed, the right sums, ...).

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
}

# ex NAME: run examples/NAME small, from the build under test
ex() {
	PARRUN_EXAMPLE_SMALL=1 "$TOP/examples/$1" "$PARRUN_BUILD" 3>&-
}

# near A B TOL: |A - B| <= TOL * max(1, |B|)
near() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		m = b < 0 ? -b : b; if (m < 1) m = 1
		exit !(d <= t * m) }'
}

# between X LO HI
between() {
	awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x > lo && x < hi) }'
}

# kv KEY LINE: the value of KEY=value in LINE
kv() {
	sed -n "s/.*\\<$1=\\([^ ;]*\\).*/\\1/p" <<<"$2"
}

@test "every example script has a test here" {
	for f in "$TOP"/examples/*.sh; do
		n=${f##*/}
		grep -q -F "@test \"$n: " "$BATS_TEST_FILENAME" || {
			echo "no test for examples/$n"
			return 1
		}
	done
}

@test "01-threaded-blas.sh: chol on 1 and 2 BLAS threads, the same U[2,3]" {
	run -0 ex 01-threaded-blas.sh
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[1]} == threads=1\ * && ${lines[2]} == threads=2\ * ]]
	v1=$(kv value "${lines[1]}")
	v2=$(kv value "${lines[2]}")
	near "$v1" "$v2" 1e-12
	# U[2,3] is near sqrt(3n/112) = 4.9 for n = 300
	between "$v1" 1 8
	between "$(kv gflops "${lines[1]}")" 0 1e6
	between "$(kv seconds "${lines[2]}")" 0 60
	[[ ${lines[3]} == "speed-up with 2 threads: "*x ]]
	# and parrun alone, on other workers, gives that value for the seed
	run -0 bash -c "echo '{\"kernel\":\"chol\",\"n\":300}' |
		parrun -j 2 --seed 1 --threads 1 --results - 3>&- | jq .value"
	near "$output" "$v1" 1e-12
}

@test "02-threaded-map.sh: the map's sum is bit-identical on 1 and 2 threads" {
	run -0 ex 02-threaded-map.sh
	[ "${#lines[@]}" -eq 4 ]
	v1=$(kv value "${lines[1]}")
	v2=$(kv value "${lines[2]}")
	[ -n "$v1" ]
	[ "$v1" = "$v2" ]
	# E[tan(u) + 3 sin(u)] = -ln cos 1 + 3 (1 - cos 1) = 1.9947
	between "$(awk -v s="$v1" 'BEGIN { print s / 100000 }')" 1.97 2.02
	[[ ${lines[3]} == *"same value: yes" ]]
}

@test "03-parallel-sort.sh: sorted on 1 and 2 threads, the same median" {
	run -0 ex 03-parallel-sort.sh
	[ "${#lines[@]}" -eq 6 ]
	for i in 0 1 3 4; do
		[ "$(kv status "${lines[$i]}")" = ok ]
		between "$(kv median "${lines[$i]}")" 0.49 0.51
	done
	[ "$(kv median "${lines[0]}")" = "$(kv median "${lines[1]}")" ]
	[ "$(kv median "${lines[3]}")" = "$(kv median "${lines[4]}")" ]
	[ "$(kv n "${lines[0]}")" = 100000 ]
	[ "$(kv n "${lines[3]}")" = 300000 ]
	[[ ${lines[2]} == *"same median: yes" && ${lines[5]} == *"same median: yes" ]]
}

@test "04-pmap-chol.sh: twelve values in order, the same on one worker" {
	run -0 ex 04-pmap-chol.sh
	[ "${lines[0]}" = "12-element Vector{Float64}:" ]
	[ "${#lines[@]}" -eq 13 ]
	for i in $(seq 12); do
		between "${lines[$i]}" 1 4
	done
	printf '%s\n' "${lines[@]:1}" | sed 's/^ //' >script.txt
	yes 200 | head -n 12 |
		parrun -j 1 -k --kernel chol --seed 1 --reduce concat 3>&- >one.txt
	diff script.txt one.txt
	# and they are distinct tasks, not one value repeated
	[ "$(sort -u one.txt | wc -l)" -eq 12 ]
}

@test "05-distributed-sum.sh: -j 1 and -j 2 give the same bits, mean near 1/2" {
	run -0 ex 05-distributed-sum.sh
	[ "${#lines[@]}" -eq 4 ]
	s1=$(kv sum "${lines[1]}")
	s2=$(kv sum "${lines[2]}")
	[ -n "$s1" ]
	[ "$s1" = "$s2" ]
	[ "${lines[3]}" = "same bits for -j 1 and -j 2: yes" ]
	between "$(kv mean "${lines[1]}")" 0.499 0.501
	# the reduction is the sum of the chunks' values
	run -0 bash -c "parrun -j 2 --range 1:1000000 --kernel randsum --seed 7 \
		--results - 3>&- | jq -s 'map(.value) | add'"
	near "$output" "$s1" 1e-12
}

@test "06-random-seeds.sh: one seed, the same values for any -j and schedule" {
	run -0 ex 06-random-seeds.sh
	[ "${#lines[@]}" -eq 13 ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c 'identical$')" -eq 3 ]
	[[ ${lines[12]} == "--seed 43"*"different" ]]
	# the script's table, against a run of its own: 3 workers, guided
	printf '%s\n' "${lines[@]:1:8}" >script.txt
	for i in 1 2 3 4 5 6 7 8; do
		printf '{"id":"r%s","kernel":"randsum","n":1000}\n' "$i"
	done | parrun -j 3 --schedule guided --seed 42 --results - 3>&- |
		jq -r '"\(.id) \(.value)"' | sort >own.txt
	diff script.txt own.txt
	# eight tasks, eight streams
	[ "$(cut -d' ' -f2 own.txt | sort -u | wc -l)" -eq 8 ]
}

@test "07-batch-size.sh: every batch size and schedule gives n(n+1)/2" {
	run -0 ex 07-batch-size.sh
	[[ ${lines[0]} == "2000 tiny tasks on 2 workers; expected sum 2001000" ]]
	[ "${#lines[@]}" -eq 7 ]
	for i in 1 2 3 4 5 6; do
		[ "$(kv sum "${lines[$i]}")" = 2001000 ]
	done
	printf '%s\n' "${lines[@]}" | grep -q 'batch=1 .*schedule=static'
	printf '%s\n' "${lines[@]}" | grep -q 'batch=auto .*schedule=dynamic'
}

@test "08-machinefile.sh: every machinefile format, then tasks on ':'" {
	run -0 ex 08-machinefile.sh
	[[ $output == *"11 hosts, 48 slots, 11 workers"* ]]
	# each format read as documented in parrun-machinefile(5)
	grep -E '^radagast\.berkeley\.edu +- +22 +1 +2 .*ssh' <<<"$output"
	grep -E '^gandalf\.berkeley\.edu +- +22 +1 +2 ' <<<"$output"
	grep -E '^node07 +- +22 +1 +4 ' <<<"$output"
	grep -E '^far\.example\.org +bob +2200 +1 +4 ' <<<"$output"
	grep -E '^lab\.example\.org +alice +2222 +1 +2 ' <<<"$output"
	grep -E '^::1 +- +2222 +1 +1 +- +ssh' <<<"$output"
	[ "$(grep -c -E '^rack[12]n0[12] +- +22 +1 +8 ' <<<"$output")" -eq 4 ]
	grep -E '^localhost +- +- +1 +1 +- +local +cluster:10' <<<"$output"
	# the local file: ':' and '2/:' add up to one host of 3 slots
	[[ $output == *"1 host, 3 slots, 3 workers"* ]]
	printf '%s\n' "${lines[@]}" | grep '^task ' >tasks.txt
	mapfile -t lines <tasks.txt
	[ "${#lines[@]}" -eq 6 ]
	for i in 0 1 2 3 4 5; do
		[[ ${lines[$i]} == "task $((i + 1)) ran on worker "[1-3]" of host "* ]]
	done
}

@test "09-everywhere.sh: --broadcast, one copy per worker, seen by every task" {
	[[ $(parrun --help 3>&-) == *--broadcast* ]] || skip "no --broadcast"
	run -0 ex 09-everywhere.sh
	[ "${#lines[@]}" -eq 13 ]
	for i in $(seq 0 11); do
		[[ ${lines[$i]} == "task $((i + 1)) worker "* ]]
		[[ ${lines[$i]} == *" sum(x) 2.43677" ]]
	done
	# as many copies as workers, not as tasks
	[[ ${lines[12]} == "copies: "* ]]
	read -r _ copies _ workers _ <<<"${lines[12]}"
	[ "$copies" -eq "$workers" ]
	[ "$copies" -le 2 ]
	[[ ${lines[12]} == *"distinct sums: 1" ]]
}

@test "demo.sh: the notes' examples in brief" {
	run -0 bash -c "'$TOP/examples/demo.sh' '$PARRUN_BUILD' 2>&1 3>&-"
	[[ $output == *$'replicate 9\nreplicate 10'* ]]
	[[ $output == *$'alpha=0.1 beta=1\nalpha=0.1 beta=2\nalpha=0.5 beta=1\nalpha=0.5 beta=2'* ]]
	[[ $output == *'"id":"fails"'*'"status":"failed","exit":3'* ]]
	# twelve chol(1000) values, each near sqrt(3000/112) = 5.2
	vals=$(sed -n '/^== pmap/,/^$/p' <<<"$output" | grep -E '^[0-9.]+$')
	[ "$(wc -l <<<"$vals")" -eq 12 ]
	for v in $vals; do between "$v" 3 8; done
	# the sum of 5e7 uniforms
	s=$(sed -n '/^== @distributed/{n;p}' <<<"$output")
	between "$s" 24990000 25010000
	[[ $output == *"median 0."* ]]
	[[ $output == *"stdin:2:9:"*"(exit status 255)"* ]]
}
