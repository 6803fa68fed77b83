/*
 * fuzz_auth.c - libFuzzer target for what a TCP peer can send before it
 * is authenticated (lib/auth.c).
 *
 * The input is cut at its first LFs into up to three lines.  Checks:
 *
 * 1. Coordinator: line 1 as a worker's hello, line 2 as its auth.  Never
 *    a crash or a leak; whatever the coordinator writes back is one
 *    well-formed JSON line ("auth" or "reject"); a failed step writes a
 *    reject or nothing; line 2 is never accepted (it would need the MAC).
 * 2. Worker: line 1 as the coordinator's answer to a real hello.  It is
 *    never accepted and, failing, the worker writes nothing.
 * 3. Round trip: the whole input as the worker's own hello line.  When
 *    pr_auth_worker_hello() takes it and the coordinator takes the
 *    result, the whole handshake must succeed.
 *
 * Nonces are fixed after pr_auth_init() so that runs are reproducible.
 * Any broken property calls abort().  Run with tests/run-fuzz auth; seeds
 * are in tests/fuzz/corpus/auth/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char HELLO[] = "{\"type\":\"hello\",\"proto\":[1,1],"
    "\"version\":\"0.1.0\",\"host\":\"fuzz\",\"pid\":1,\"cpus\":1,"
    "\"slots\":1,\"kernels\":[]}\n";

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_auth: %s\n", what);
	abort();
}

static void
init(struct pr_auth *a, enum pr_auth_role role, const uint8_t *secret,
    uint8_t fill)
{
	if (pr_auth_init(a, role, secret) < 0)
		fail("pr_auth_init");
	memset(a->nonce, fill, sizeof(a->nonce));
}

/* b holds nothing, or exactly one JSON line whose type is t1 or t2. */
static void
check_reply(const struct pr_buf *b, const char *t1, const char *t2)
{
	enum pr_msg_type type;
	cJSON *root = NULL;
	const cJSON *t;

	if (b->len == 0)
		return;
	if (b->data[b->len - 1] != '\n' ||
	    memchr(b->data, '\n', b->len - 1) != NULL)
		fail("reply is not one line");
	if (pr_msg_parse(b->data, b->len - 1, &root, &type, NULL) < 0)
		fail("reply does not parse");
	t = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsString(t))
		fail("reply without a type");
	if ((t1 == NULL || strcmp(t->valuestring, t1) != 0) &&
	    (t2 == NULL || strcmp(t->valuestring, t2) != 0))
		fail("reply of an unexpected type");
	cJSON_Delete(root);
}

static void
coordinator(const uint8_t *secret, const char *l1, size_t n1,
    const char *l2, size_t n2)
{
	struct pr_auth c;
	struct pr_buf out;
	int rc;

	pr_buf_init(&out, 0);
	init(&c, PR_AUTH_COORDINATOR, secret, 0xc5);
	rc = pr_auth_coord_hello(&c, l1, n1, &out, NULL);
	check_reply(&out, rc == 0 ? "auth" : "reject", NULL);
	if (rc == 0 && out.len == 0)
		fail("hello taken, no auth written");
	if (rc == 0 && l2 != NULL) {
		pr_buf_reset(&out);
		rc = pr_auth_coord_check(&c, l2, n2, &out, NULL);
		if (rc == 0)
			fail("a made-up MAC was taken");
		check_reply(&out, "reject", NULL);
	}
	pr_auth_wipe(&c);
	pr_buf_release(&out);
}

static void
worker(const uint8_t *secret, const char *l1, size_t n1)
{
	struct pr_auth w;
	struct pr_buf out;
	int rc;

	pr_buf_init(&out, 0);
	init(&w, PR_AUTH_WORKER, secret, 0x3a);
	if (pr_auth_worker_hello(&w, HELLO, strlen(HELLO), &out, NULL) < 0)
		fail("the fixed hello was refused");
	pr_buf_reset(&out);
	rc = pr_auth_worker_reply(&w, l1, n1, &out, NULL);
	if (rc == 0)
		fail("a made-up coordinator was taken");
	if (out.len != 0)
		fail("the worker answered a failed auth");
	pr_auth_wipe(&w);
	pr_buf_release(&out);
}

static void
round_trip(const uint8_t *secret, const char *hello, size_t n)
{
	struct pr_auth w, c;
	struct pr_buf h, ca, wa;
	int rc;

	pr_buf_init(&h, 0);
	pr_buf_init(&ca, 0);
	pr_buf_init(&wa, 0);
	init(&w, PR_AUTH_WORKER, secret, 0x11);
	init(&c, PR_AUTH_COORDINATOR, secret, 0x22);
	if (pr_auth_worker_hello(&w, hello, n, &h, NULL) < 0)
		goto out;
	check_reply(&h, "hello", NULL);
	if (h.len == 0)
		fail("hello taken, nothing written");
	if (h.len > PR_PREAUTH_FRAME + 1)
		fail("hello over the pre-authentication cap");
	rc = pr_auth_coord_hello(&c, h.data, h.len - 1, &ca, NULL);
	if (rc < 0) {
		if (rc != PR_EPROTO && rc != PR_EVERSION)
			fail("a worker's hello refused oddly");
		goto out;
	}
	if (pr_auth_worker_reply(&w, ca.data, ca.len - 1, &wa, NULL) < 0)
		fail("the worker refused the real coordinator");
	if (pr_auth_coord_check(&c, wa.data, wa.len - 1, &ca, NULL) < 0)
		fail("the coordinator refused the real worker");
out:
	pr_auth_wipe(&w);
	pr_auth_wipe(&c);
	pr_buf_release(&h);
	pr_buf_release(&ca);
	pr_buf_release(&wa);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t secret[PR_SECRET_LEN];
	const char *s = (const char *)data, *l2 = NULL, *lf;
	size_t n1 = size, n2 = 0;
	char *copy;

	/* the coordinator reads into a buffer of the cap and no more */
	if (size > 3 * PR_PREAUTH_FRAME)
		return 0;
	memset(secret, 0x5e, sizeof(secret));
	copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	s = copy;
	lf = memchr(s, '\n', size);
	if (lf != NULL) {
		n1 = (size_t)(lf - s);
		l2 = lf + 1;
		n2 = size - n1 - 1;
		lf = memchr(l2, '\n', n2);
		if (lf != NULL)
			n2 = (size_t)(lf - l2);
	}
	coordinator(secret, s, n1, l2, n2);
	worker(secret, s, n1);
	round_trip(secret, s, size);
	free(copy);
	return 0;
}
