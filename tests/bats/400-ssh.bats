#!/usr/bin/env bats
# Remote workers over the built-in libssh2 client, against private sshd
# instances on 127.0.0.2.. (tests/harness): tasks, results, large output,
# remote stderr, host keys, authentication, one connection per host.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	ssh_setup_file 3
}

teardown_file() {
	ssh_teardown_file
}

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	# an agent of the caller's would be asked first: keep to -i
	unset SSH_AUTH_SOCK
	read -r -a EPS <<<"$SSH_ENDPOINTS"
	SSHOPTS=(--known-hosts "$SSH_KNOWN_HOSTS" -i "$SSH_KEY"
		--remote-worker "$WORKER" --connect-timeout 10)
}

teardown() {
	helpers_teardown
}

# hosts N: -S list giving N slots on each harness sshd
hosts() {
	local n=$1 ep out=
	for ep in "${EPS[@]}"; do
		out+=${out:+,}$n/$ep
	done
	echo "$out"
}

# accepted I: "Accepted publickey" lines in sshd nI's log so far
accepted() {
	grep -c 'Accepted publickey' "$TB_DIR/sshd/n$1/sshd.log" || true
}

# fingerprint I: SHA256 fingerprint of sshd nI's ed25519 host key
fingerprint() {
	ssh-keygen -lf "$TB_DIR/sshd/n$1/ssh_host_ed25519_key.pub" |
		awk '{print $2}'
}

@test "tasks run on every host, each host reached once" {
	local before=() i
	for i in 1 2 3; do before[i]=$(accepted "$i"); done
	run -0 bash -c "parrun -S '$(hosts 2)' ${SSHOPTS[*]} --results - \
		sh -c 'sleep 0.1; echo \$0 \$PARRUN_WORKER' ::: \$(seq 1 30) \
		3>&- | jq -r .host | sort | uniq -c"
	# all three addresses, a share each
	[ "${#lines[@]}" -eq 3 ]
	[[ $output == *"$SSH_ADDR_1"* && $output == *"$SSH_ADDR_2"* &&
		$output == *"$SSH_ADDR_3"* ]]
	for i in 1 2 3; do
		[ "$(accepted "$i")" -eq "$((before[i] + 1))" ]
	done
}

@test "a local worker that cannot start does not keep the SSH hosts after it from starting" {
	run -0 --separate-stderr bash -c "parrun -S ':,$(hosts 1)' \
		--worker /nonexistent/parrun-worker ${SSHOPTS[*]} --results - \
		echo ::: \$(seq 1 6) 3>&- | jq -r .status | sort | uniq -c"
	[ "$(echo $output)" = "6 ok" ]
	[[ $stderr == *"cannot start worker '/nonexistent/parrun-worker'"* ]]
}

@test "results match a local run of the same tasks" {
	local t="sh -c 'echo out \$0; echo err \$0 >&2; exit \$((\$0 % 3))'"
	local q='[.id, .status, .exit, .stdout, .stderr]'
	run -0 bash -c "parrun -j 3 --results - $t ::: \$(seq 1 24) 3>&- \
		2>/dev/null | jq -c '$q' | sort > local.txt; true"
	run -0 bash -c "parrun -S '$(hosts 2)' ${SSHOPTS[*]} --results - \
		$t ::: \$(seq 1 24) 3>&- 2>/dev/null | jq -c '$q' | sort \
		> remote.txt; true"
	[ "$(wc -l < local.txt)" -eq 24 ]
	diff local.txt remote.txt
	grep -qF '["1","failed",1,"out 1\n","err 1\n"]' remote.txt
}

@test "64 MiB of task output arrives intact" {
	base64 -w 76 /dev/urandom | head -c 67108864 > big
	sha256sum < big > want
	run -0 bash -c "parrun -S '1/${EPS[0]}' ${SSHOPTS[*]} cat ::: \
		'$BATS_TEST_TMPDIR/big' 3>&- | sha256sum > got"
	diff want got
}

@test "remote stderr comes line by line, prefixed with the host" {
	cat > noisy-worker <<-EOF
	#!/bin/sh
	printf 'first line\nsecond line\n' >&2
	exec "$WORKER" "\$@"
	EOF
	chmod +x noisy-worker
	run -0 --separate-stderr bash -c "parrun -S '1/${EPS[0]}' \
		--known-hosts '$SSH_KNOWN_HOSTS' -i '$SSH_KEY' \
		--remote-worker '$BATS_TEST_TMPDIR/noisy-worker' echo ::: x 3>&-"
	[ "$output" = x ]
	[[ $stderr == *"parrun: $SSH_ADDR_1: first line"$'\n'"parrun: $SSH_ADDR_1: second line"* ]]
}

@test "1000 tasks ride on exactly one ssh session" {
	local before
	before=$(accepted 1)
	run -0 bash -c "seq 1 1000 | parrun -S '4/${EPS[0]}' ${SSHOPTS[*]} \
		--results - true 3>&- | jq -r .status | sort | uniq -c"
	[[ $output == *"1000 ok"* ]]
	[ "$(accepted 1)" -eq "$((before + 1))" ]
}

@test "an unknown host key is refused, with its fingerprint" {
	local fp
	fp=$(fingerprint 1)
	: > kh
	run -255 --separate-stderr bash -c "parrun -S '1/${EPS[0]}' \
		--known-hosts kh -i '$SSH_KEY' --remote-worker '$WORKER' true \
		::: 1 3>&-"
	[[ $stderr == *"host key for '${EPS[0]}' is not known ($fp ssh-ed25519): refusing"* ]]
	[[ $stderr == *"--accept-new-hostkeys"* ]]
	[ ! -s kh ]
}

@test "--accept-new-hostkeys records the key once, and trusts it after" {
	: > kh
	run -0 --separate-stderr bash -c "parrun -S '1/${EPS[0]}' \
		--known-hosts kh --accept-new-hostkeys -i '$SSH_KEY' \
		--remote-worker '$WORKER' echo ::: a 3>&-"
	[ "$output" = a ]
	[[ $stderr == *"added the host key of '${EPS[0]}'"* ]]
	[ "$(wc -l < kh)" -eq 1 ]
	[ "$(cut -d' ' -f1,2,3 kh)" = "[$SSH_ADDR_1]:$SSH_PORT_1 $(cut -d' ' -f1,2 "$TB_DIR/sshd/n1/ssh_host_ed25519_key.pub")" ]
	# trusted from now on, without the option; nothing more is added
	run -0 bash -c "parrun -S '1/${EPS[0]}' --known-hosts kh \
		-i '$SSH_KEY' --remote-worker '$WORKER' echo ::: b 3>&-"
	[ "$output" = b ]
	run -0 bash -c "parrun -S '1/${EPS[0]}' --known-hosts kh \
		--accept-new-hostkeys -i '$SSH_KEY' --remote-worker '$WORKER' \
		echo ::: c 3>&-"
	[ "$(wc -l < kh)" -eq 1 ]
}

@test "a changed host key is refused before any authentication" {
	local log=$TB_DIR/sshd/n1/sshd.log n fp
	fp=$(fingerprint 1)
	# host n1's name with host n2's key
	echo "[$SSH_ADDR_1]:$SSH_PORT_1 $(cut -d' ' -f1,2 \
		"$TB_DIR/sshd/n2/ssh_host_ed25519_key.pub")" > kh
	cp kh kh.orig
	n=$(wc -l < "$log")
	run -255 --separate-stderr bash -c "parrun -S '1/${EPS[0]}' \
		--known-hosts kh --accept-new-hostkeys -i '$SSH_KEY' \
		--remote-worker '$WORKER' true ::: 1 3>&-"
	[[ $stderr == *"host key for '${EPS[0]}' has changed ($fp ssh-ed25519): refusing"* ]]
	# never replaced, even with --accept-new-hostkeys
	cmp kh kh.orig
	# sshd saw a connection end before authentication, and no key
	for _ in $(seq 1 40); do
		tail -n +"$((n + 1))" "$log" | grep -q 'preauth' && break
		sleep 0.05
	done
	tail -n +"$((n + 1))" "$log" > new.log
	grep -q '\[preauth\]' new.log
	run ! grep -E 'Accepted|publickey|authenticating user' new.log
}

@test "a host known only by another key type is refused" {
	# n1's name with an ECDSA key: the server's ed25519 key is not new
	ssh-keygen -q -t ecdsa -N '' -f other
	echo "[$SSH_ADDR_1]:$SSH_PORT_1 $(cut -d' ' -f1,2 other.pub)" > kh
	run -255 --separate-stderr bash -c "parrun -S '1/${EPS[0]}' \
		--known-hosts kh --accept-new-hostkeys -i '$SSH_KEY' \
		--remote-worker '$WORKER' true ::: 1 3>&-"
	[[ $stderr == *"host key for '${EPS[0]}' cannot be checked"* ]]
	[[ $stderr == *"(ecdsa-sha2-nistp256): refusing"* ]]
	[ "$(wc -l < kh)" -eq 1 ]
}

@test "authentication failures say which host and what was tried" {
	mkdir home
	ssh-keygen -q -t ed25519 -N '' -f stranger
	run -255 --separate-stderr env HOME="$BATS_TEST_TMPDIR/home" bash -c \
		"parrun -S '1/${EPS[0]}' --known-hosts '$SSH_KNOWN_HOSTS' \
		-i stranger --remote-worker '$WORKER' true ::: 1 3>&-"
	[[ $stderr == *"cannot authenticate to '${EPS[0]}' as 'root': key 'stranger' refused"* ]]
	# a passphrase-protected key file is named as unusable
	ssh-keygen -q -t ed25519 -N secret -f locked
	run -255 --separate-stderr env HOME="$BATS_TEST_TMPDIR/home" bash -c \
		"parrun -S '1/${EPS[0]}' --known-hosts '$SSH_KNOWN_HOSTS' \
		-i locked --remote-worker '$WORKER' true ::: 1 3>&-"
	[[ $stderr == *"cannot authenticate to '${EPS[0]}'"*"key 'locked'"* ]]
}

@test "ssh-agent keys are tried in turn: RSA refused, ed25519 accepted" {
	mkdir home
	start_bg ssh-agent -D -a "$BATS_TEST_TMPDIR/agent.sock"
	for _ in $(seq 1 100); do
		[ -S agent.sock ] && break
		sleep 0.05
	done
	export SSH_AUTH_SOCK=$BATS_TEST_TMPDIR/agent.sock
	ssh-add -q "$SSH_RSA_KEY" 2>/dev/null
	ssh-add -q "$SSH_KEY" 2>/dev/null
	[ "$(ssh-add -l | wc -l)" -eq 2 ]
	run -0 env HOME="$BATS_TEST_TMPDIR/home" bash -c \
		"parrun -S '1/${EPS[0]}' --known-hosts '$SSH_KNOWN_HOSTS' \
		--remote-worker '$WORKER' echo ::: via-agent 3>&-"
	[ "$output" = via-agent ]
}

@test "the transport's own tests pass against the harness sshd" {
	[ -x "$PARRUN_BUILD/unit-tests" ] ||
		skip "no $PARRUN_BUILD/unit-tests (make unit)"
	run -0 env PARRUN_SSH_TEST_ENDPOINT="${EPS[0]}" \
		PARRUN_SSH_TEST_KNOWN_HOSTS="$SSH_KNOWN_HOSTS" \
		PARRUN_SSH_TEST_KEY="$SSH_KEY" \
		"$TOP/tests/run-unit" "$PARRUN_BUILD/unit-tests" 'transport_ssh*'
	[[ $output != *"# skip"* ]]
	[[ $output == *" 0 failed"* ]]
}
