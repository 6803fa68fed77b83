/*
 * fuzz_journal.c - libFuzzer target for the journal reader
 * (pr_journal_load_mem(), the path --resume and `parrun journal` take).
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks, and traps
 * when they fail:
 *  - a load that succeeds accounts for every byte: a torn end starts at
 *    info.size and runs to the end of the input, and without one
 *    info.size is the input's length;
 *  - the good part alone, data[0..info.size), loads again without a torn
 *    end and to the same counts (cutting the torn end loses nothing);
 *  - the counts add up: tasks = unfinished + the tasks of each status;
 *  - the JSON summary is valid JSON;
 *  - decisions never crash, for fingerprints found in the input and not.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"
#include "journal.h"
#include "task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_counts(const struct pr_journal_info *in)
{
	uint64_t sum = in->unfinished;
	int i;

	for (i = 0; i < PR_JOURNAL_NSTATUS; i++)
		sum += in->by_status[i];
	if (sum != in->tasks || in->unemitted > in->tasks)
		__builtin_trap();
}

static void
check_summary(const struct pr_journal_info *in)
{
	struct pr_buf b;
	cJSON *doc;

	pr_buf_init(&b, 0);
	if (pr_journal_format_info(&b, "fuzz\"\\name", in, true) != 0)
		__builtin_trap();
	doc = cJSON_Parse(b.data);
	if (doc == NULL)
		__builtin_trap();
	cJSON_Delete(doc);
	pr_buf_reset(&b);
	if (pr_journal_format_info(&b, "fuzz", in, false) != 0)
		__builtin_trap();
	pr_buf_release(&b);
}

/* Ask about a few tasks: fingerprints made of the input's bytes (a
 * 64-hex "fp" in it, when there is one) and of nothing. */
static void
check_decide(struct pr_journal *j, const char *s, size_t n)
{
	struct pr_task t;
	enum pr_status prev;
	const char *fp = NULL;
	size_t i;
	int r;

	memset(&t, 0, sizeof(t));
	t.id = (char *)"t1";
	t.has_fingerprint = true;
	for (i = 0; i + 6 + 64 <= n; i++)
		if (memcmp(s + i, "\"fp\":\"", 6) == 0) {
			fp = s + i + 6;
			break;
		}
	for (i = 0; fp != NULL && i < 32; i++) {
		static const char hx[] = "0123456789abcdef";
		const char *a = memchr(hx, fp[2 * i] | 0x20, 16);
		const char *b = memchr(hx, fp[2 * i + 1] | 0x20, 16);

		t.fingerprint[i] = (uint8_t)((a ? a - hx : 0) << 4 |
		    (b ? b - hx : 0));
	}
	for (i = 0; i < 3; i++) {
		t.id_given = i == 1;
		r = pr_journal_decide(j, &t, &prev);
		if (r < 0 && r != -ENOMEM && r != PR_ELIMIT)
			__builtin_trap();
	}
	t.has_fingerprint = false;
	if (pr_journal_decide(j, &t, &prev) != PR_JOURNAL_RUN)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct pr_journal *j = NULL, *k = NULL;
	struct pr_journal_info a, b;
	struct pr_errbuf eb = { 0, "" };

	if (size > (1u << 20))
		return 0;
	if (pr_journal_load_mem(&j, s, size, "fuzz", size % 2 == 0, &a,
	    &eb) != 0) {
		if (j != NULL || eb.msg[0] == '\0')
			__builtin_trap();
		return 0;
	}
	if (a.size > size || (a.torn && (a.torn_offset != a.size ||
	    a.torn_bytes != size - a.size)) || (!a.torn && a.size != size))
		__builtin_trap();
	check_counts(&a);
	check_summary(&a);
	check_decide(j, s, size);
	if (pr_journal_close(j, NULL) != 0)
		__builtin_trap();

	/* the good part loads cleanly to the same index */
	if (pr_journal_load_mem(&k, s, (size_t)a.size, "fuzz", false, &b,
	    &eb) != 0 || b.torn || b.records != a.records ||
	    b.tasks != a.tasks || b.unfinished != a.unfinished ||
	    memcmp(b.by_status, a.by_status, sizeof(a.by_status)) != 0)
		__builtin_trap();
	pr_journal_close(k, NULL);
	return 0;
}
