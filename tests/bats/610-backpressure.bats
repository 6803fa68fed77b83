#!/usr/bin/env bats
# Backpressure and big output: a slow reader of parrun's stdout stops the
# reads from workers instead of growing memory, big outputs spill to disk,
# every byte arrives in order, no worker is taken for dead, a reader that
# goes away stops the run, and the user's stdout is left as it was.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
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

@test "a reader that goes away (| head -1) stops the run at once: SIGPIPE status, a message, no process left" {
	# tasks 1 and 2 print more than a pipe holds; the others would run
	# for a minute
	run -0 bash -c '
		parrun -j 2 bash -c "if [ \$1 -le 2 ]; then yes \$1 | head -c 300000; else exec -a \"\$0\" sleep 60; fi" "$1" {} ::: $(seq 20) 3>&- 2>err |
		    head -1
		echo "status ${PIPESTATUS[0]}"' bash "$MARK"
	cat err
	[ "${lines[0]}" = 1 ] || [ "${lines[0]}" = 2 ]
	[ "${lines[1]}" = "status 141" ]
	grep -q 'stdout was closed: stopping' err
	assert_no_process
}

@test "output to a regular file and to /dev/null" {
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
