#!/usr/bin/env bats
# A slow or vanished reader of parrun's output: memory stays bounded, no
# worker is taken for dead because it was not read, every byte arrives in
# order; a reader that leaves stops the run as SIGPIPE stops a filter.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	# the spill test's tmpfs, should it have failed before unmounting
	if mountpoint -q "$BATS_TEST_TMPDIR/small" 2>/dev/null; then
		umount "$BATS_TEST_TMPDIR/small"
	fi
	helpers_teardown
}

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	# gen.sh C: 10 MB of the letter C
	cat > gen.sh <<-'EOF'
	head -c 10000000 /dev/zero | tr '\0' "$1"
	EOF
	# A reader with a rate limit (like pv -L) that reads in bursts of
	# $3 bytes: between bursts it reads nothing for burst/rate seconds,
	# longer than 3 heartbeats of the runs below.  Prints the byte count
	# and SHA-256 of what it read; with a 4th argument, also checks that
	# every line is whole: 999 digits (one value) and LF, and prints how
	# many lines each value had.
	cat >slow.py <<-'EOF'
		import collections, hashlib, sys, time
		rate, burst = float(sys.argv[1]), int(sys.argv[2])
		lines = len(sys.argv) > 3
		h, n, t0 = hashlib.sha256(), 0, time.monotonic()
		count, tail = collections.Counter(), b""
		f = sys.stdin.buffer
		while True:
		    b = f.read(burst)
		    if not b:
		        break
		    h.update(b)
		    n += len(b)
		    if lines:
		        parts = (tail + b).split(b"\n")
		        tail = parts.pop()
		        for p in parts:
		            if len(p) != 999 or len(set(p)) != 1:
		                sys.exit("broken line: %r" % p[:40])
		            count[p[:1].decode()] += 1
		    ahead = n / rate - (time.monotonic() - t0)
		    if ahead > 0:
		        time.sleep(ahead)
		if tail:
		    sys.exit("unterminated last line")
		print(n, h.hexdigest())
		for k in sorted(count):
		    print(k, count[k])
	EOF
}

@test "a reader that stops for many heartbeats: nothing lost, memory bounded" {
	letters=$(echo {a..t})
	for c in $letters; do bash gen.sh "$c"; done | sha256sum > want
	# the reader takes one read's worth (dd: no more than it passes on),
	# then nothing for 3 s: 15 heartbeat periods of 200 ms, in which
	# parrun must not read its workers (its memory) nor take them for
	# dead (their silence)
	run -0 bash -c "/usr/bin/time -f '%M' -o rss parrun -k -j2 \
		--heartbeat 200 bash gen.sh ::: $letters 2>err 3>&- |
		{ dd bs=1000 count=1 status=none; sleep 3; cat; } | sha256sum > got"
	diff want got
	! grep -E 'lost|no word' err
	# 200 MB went through; a fraction of it was ever in memory (ASan's
	# quarantine keeps freed memory resident: not a measure there)
	[ -n "${PARRUN_SANITIZE:-}" ] || [ "$(cat rss)" -lt 150000 ]
}

@test "the reader goes away: the run stops at once, as SIGPIPE stops a filter" {
	# without the stop, 100000 tasks would run to the end
	run -0 bash -c "seq 100000 | parrun -j2 --results r.jsonl \
		bash -c 'echo \$1; exec -a \"\$0\" sleep 0.01' '$MARK' {} 2>err 3>&- |
		head -1; echo \"\${PIPESTATUS[1]}\" > rc"
	[ "$(cat rc)" -eq 141 ]
	grep -q "the output's reader has gone: stopping" err
	# far fewer tasks finished than were given
	[ "$(wc -l < r.jsonl)" -lt 100000 ]
	assert_no_process "$MARK" 5 || false
}

@test "output to a regular file and to /dev/null is written as before" {
	run -0 bash -c "parrun -k -j2 bash gen.sh ::: x y > out 3>&-"
	[ "$(wc -c < out)" -eq 20000000 ]
	[ "$(head -c 1 out)" = x ]
	[ "$(tail -c 1 out)" = y ]
	run -0 bash -c "parrun -k -j2 --results r.jsonl bash gen.sh ::: x y > /dev/null 3>&-"
	[ "$(jq -r .status r.jsonl | tr '\n' ' ')" = "ok ok " ]
}

@test "a spill that finds its disk full fails those tasks loudly, never silently" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
	mkdir small
	mount -t tmpfs -o size=1m tmpfs small
	# -k: task 1 ends only once the spill has filled the tmpfs, so the
	# output of the other 7 (70 MB, past the 16 MiB held in memory) must
	# have been held, then spilled
	cat > task.sh <<-EOF
	if [ "\$1" = 1 ]; then
		i=0
		while [ "\$(stat -f -c %a small)" -gt 0 ] && [ \$i -lt 600 ]
		do sleep 0.05; i=\$((i + 1)); done
		echo one; exit 0
	fi
	bash gen.sh "\$1"
	EOF
	# task 1 placed on worker 1, the others on worker 2, one by one
	for i in $(seq 1 8); do
		printf '{"id":"%d","worker":%d,"argv":["bash","task.sh","%d"]}\n' \
			"$i" "$((i == 1 ? 1 : 2))" "$i"
	done > tasks.jsonl
	status=0
	TMPDIR=$PWD/small parrun -k -j2 --results r.jsonl < tasks.jsonl \
		> out 2> err 3>&- || status=$?
	umount small
	cat err
	jq -c '[.id, .status, .error]' r.jsonl
	[ "$status" -ge 1 ]
	[ "$status" -le 7 ]
	grep -q "output incomplete" err
	# every task has its record; those whose output was cut say so
	[ "$(jq -r .id r.jsonl | sort -n | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 " ]
	[ "$(jq -r 'select(.status == "error") | .error' r.jsonl | sort -u | cut -c1-18)" = "output incomplete:" ]
	[ "$(jq -r 'select(.status == "error") | .id' r.jsonl | wc -l)" -eq "$status" ]
}

# sha256 of what `sh -c "$1" sh I` prints (stdout, then stderr) for I in
# 1..$2, in order
expected_sum() {
	local i
	for i in $(seq "$2"); do sh -c "$1" sh "$i" 2>&1; done | sha256sum | cut -d' ' -f1
}

# peak RSS in KiB from /usr/bin/time -f %M's output file
peak_kib() {
	tail -1 "$1"
}

@test "a slow reader of 200 MB with -k: bounded memory, every byte in order, no worker lost" {
	task='yes "$1" | head -c 4000000'
	# bursts of 24 MB at 25 MB/s: the reader stops for about a second
	# at a time, three times the 300 ms heartbeat
	/usr/bin/time -o rss -f %M parrun -k -j 2 --heartbeat 300 --joblog jl \
	    sh -c "$task" sh {} ::: $(seq 50) 3>&- 2>err |
	    python3 slow.py 25e6 24000000 >got
	status=("${PIPESTATUS[@]}")
	cat err
	[ "${status[0]}" -eq 0 ] && [ "${status[1]}" -eq 0 ]
	[ "$(head -1 got)" = "200000000 $(expected_sum "$task" 50)" ]
	! grep -Ei 'lost|missed|no word' err
	[ "$(awk -F'\t' 'NR > 1 && $7 == 0' jl | wc -l)" -eq 50 ]
	echo "peak RSS $(peak_kib rss) KiB for 200 MB of output" >&3
	if [ -z "${PARRUN_SANITIZE:-}" ]; then
		[ "$(peak_kib rss)" -lt 65536 ]
	fi
}

@test "one task's 256 MB output spills to disk: bounded memory, every byte" {
	task='yes "$1" | head -c 256000000'
	/usr/bin/time -o rss -f %M parrun -j 2 --heartbeat 1000 \
	    sh -c "$task" sh {} ::: 7 3>&- 2>err |
	    python3 slow.py 100e6 32000000 >got
	status=("${PIPESTATUS[@]}")
	cat err
	[ "${status[0]}" -eq 0 ] && [ "${status[1]}" -eq 0 ]
	[ "$(head -1 got)" = "256000000 $(yes 7 | head -c 256000000 | sha256sum | cut -d' ' -f1)" ]
	! grep -Ei 'lost|missed|incomplete' err
	echo "peak RSS $(peak_kib rss) KiB for 256 MB of output" >&3
	if [ -z "${PARRUN_SANITIZE:-}" ]; then
		[ "$(peak_kib rss)" -lt 65536 ]
	fi
}

@test "--line-buffer with a slow reader: whole lines, none lost, bounded memory" {
	# lines of 999 digits: task I prints 4000 lines of digit I % 10
	task='yes "$(printf "%0999d" 0 | tr 0 $(($1 % 10)))" | head -c 4000000'
	/usr/bin/time -o rss -f %M parrun -j 3 --line-buffer --heartbeat 300 \
	    sh -c "$task" sh {} ::: $(seq 50) 3>&- 2>err |
	    python3 slow.py 25e6 24000000 lines >got
	status=("${PIPESTATUS[@]}")
	cat err
	[ "${status[0]}" -eq 0 ] && [ "${status[1]}" -eq 0 ]
	[ "$(head -1 got | cut -d' ' -f1)" = 200000000 ]
	# 5 tasks per digit, 4000 lines each
	[ "$(tail -n +2 got | tr '\n' ' ')" = "0 20000 1 20000 2 20000 3 20000 4 20000 5 20000 6 20000 7 20000 8 20000 9 20000 " ]
	! grep -Ei 'lost|missed|no word' err
	if [ -z "${PARRUN_SANITIZE:-}" ]; then
		[ "$(peak_kib rss)" -lt 65536 ]
	fi
}

@test "--results and a progress bar with a slow reader: every record" {
	task='yes "$1" | head -c 1000000'
	parrun -k -j 2 --bar --heartbeat 300 --results res.jsonl \
	    sh -c "$task" sh {} ::: $(seq 40) 3>&- 2>err |
	    python3 slow.py 10e6 8000000 >got
	status=("${PIPESTATUS[@]}")
	[ "${status[0]}" -eq 0 ] && [ "${status[1]}" -eq 0 ]
	[ "$(head -1 got)" = "40000000 $(expected_sum "$task" 40)" ]
	[ "$(jq -r 'select(.status == "ok" and (.stdout | length) == 1000000) | .seq' res.jsonl | tr '\n' ' ')" = "$(seq 40 | tr '\n' ' ')" ]
}

@test "regular files: the bytes in order, and 2>&1 into one file" {
	task='yes "$1" | head -c 2000000'
	parrun -k -j 2 sh -c "$task" sh {} ::: $(seq 10) 3>&- >out
	[ "$(sha256sum <out | cut -d' ' -f1)" = "$(expected_sum "$task" 10)" ]
	parrun -k -j 2 sh -c "$task" sh {} ::: $(seq 10) 3>&- >/dev/null
	# 2>&1 into one file: each task's stdout, then its stderr
	run -0 bash -c 'parrun -k -j 2 sh -c "echo out\$1; echo err\$1 >&2" sh {} ::: 1 2 3 >both 2>&1 3>&-'
	[ "$(cat both)" = "$(printf 'out1\nerr1\nout2\nerr2\nout3\nerr3')" ]
}

@test "stdout and stderr on one slow pipe keep their order" {
	task='yes "o$1" | head -c 500000; yes "e$1" | head -c 300000 >&2'
	parrun -k -j 2 sh -c "$task" sh {} ::: $(seq 20) 2>&1 3>&- |
	    python3 slow.py 8e6 4000000 >got
	status=("${PIPESTATUS[@]}")
	[ "${status[0]}" -eq 0 ] && [ "${status[1]}" -eq 0 ]
	[ "$(head -1 got)" = "16000000 $(expected_sum "$task" 20)" ]
}

@test "the shell's stdout is left blocking" {
	# parrun's writes are non-blocking, through a description of its
	# own: the next writer of the same pipe must not get EAGAIN
	run -0 bash -c '
		{ parrun -j 2 echo ::: a b 3>&-
		  python3 -c "import fcntl, os; print(\"nonblock\", bool(fcntl.fcntl(1, fcntl.F_GETFL) & os.O_NONBLOCK))"
		} | cat'
	[ "${lines[-1]}" = "nonblock False" ]
}

@test "the first SIGINT still writes the output queued for a stalled reader" {
	# tasks 1-8 print 3.2 MB that the reader does not take yet (below
	# the point where reads from workers stop); 9 and 10 then run until
	# cancelled
	task='if [ $1 -le 8 ]; then yes "$1" | head -c 400000; else touch started.$1; exec -a "$0" sleep 60; fi'
	mkfifo data gate
	start_bg bash -c 'exec 4<data; read -r _ <gate; exec cat <&4 >got'
	reader=$BG_PID
	parrun -k -j 2 bash -c "$task" "$MARK" {} ::: $(seq 10) 3>&- >data 2>err &
	pid=$!
	for _ in $(seq 200); do
		[ -e started.9 ] && [ -e started.10 ] && break
		sleep 0.05
	done
	ls started.9 started.10
	kill -INT "$pid"
	echo go >gate
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 130 ]
	for _ in $(seq 200); do pid_alive "$reader" || break; sleep 0.05; done
	! pid_alive "$reader"
	[ "$(sha256sum <got | cut -d' ' -f1)" = "$(expected_sum "yes \"\$1\" | head -c 400000" 8)" ]
	assert_no_process
}

@test "a SIGINT when only queued output is left: it still goes out" {
	task='yes "$1" | head -c 400000'
	mkfifo data gate
	start_bg bash -c 'exec 4<data; read -r _ <gate; exec cat <&4 >got'
	reader=$BG_PID
	parrun -k -j 2 --joblog jl sh -c "$task" sh {} ::: $(seq 8) 3>&- >data 2>err &
	pid=$!
	# every task has ended (its joblog line is written when its output
	# is queued): parrun waits for the reader only
	for _ in $(seq 200); do
		[ "$(wc -l <jl 2>/dev/null)" = 9 ] && break
		sleep 0.05
	done
	[ "$(wc -l <jl)" = 9 ]
	kill -INT "$pid"
	echo go >gate
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 130 ]
	for _ in $(seq 200); do pid_alive "$reader" || break; sleep 0.05; done
	! pid_alive "$reader"
	[ "$(sha256sum <got | cut -d' ' -f1)" = "$(expected_sum "$task" 8)" ]
}
