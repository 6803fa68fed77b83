/*
 * fuzz_machinefile.c - libFuzzer target for the host parsers: host lists,
 * machinefiles, -S lists and Slurm's compressed counts.
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks two
 * properties and traps when they fail:
 *  - compress(expand(s)) expands back to the same names in the same order;
 *  - the JSON form of a parsed machinefile is valid JSON.
 * The caps are lowered so that one input stays cheap to run.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"
#include "hostlist.h"
#include "machinefile.h"
#include "slurmenv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_round_trip(const char *s, size_t n)
{
	struct pr_hostlist a, b;
	struct pr_buf text;

	pr_hostlist_init(&a, 4096);
	pr_hostlist_init(&b, 4096);
	pr_buf_init(&text, 0);
	if (pr_hostlist_expand_n(&a, s, n, NULL, NULL) == 0 &&
	    pr_hostlist_compress(&a, &text) == 0) {
		if (pr_hostlist_expand(&b, text.data ? text.data : "", NULL) != 0
		    || a.n != b.n)
			__builtin_trap();
		for (size_t i = 0; i < a.n; i++)
			if (strcmp(pr_hostlist_get(&a, i),
			    pr_hostlist_get(&b, i)) != 0)
				__builtin_trap();
	}
	pr_buf_release(&text);
	pr_hostlist_release(&a);
	pr_hostlist_release(&b);
}

static void
check_hosts(struct pr_hosts *hs)
{
	struct pr_buf out;
	cJSON *doc;

	pr_buf_init(&out, 0);
	if (pr_hosts_format_table(hs, &out) != 0)
		__builtin_trap();
	pr_buf_reset(&out);
	if (pr_hosts_format_json(hs, &out) != 0)
		__builtin_trap();
	doc = cJSON_Parse(out.data);
	if (doc == NULL)
		__builtin_trap();
	cJSON_Delete(doc);
	pr_buf_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pr_hosts hs;
	struct pr_errbuf eb;
	char *s;
	int counts[64];
	size_t total;

	if (size > 65536)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	check_round_trip(s, size);

	pr_hosts_init(&hs);
	hs.max_hosts = 4096;
	if (pr_machinefile_parse(&hs, "fuzz", s, size, &eb) == 0)
		check_hosts(&hs);
	pr_hosts_release(&hs);

	pr_hosts_init(&hs);
	hs.max_hosts = 4096;
	if (pr_machinefile_parse_list(&hs, "-S", s, &eb) == 0)
		check_hosts(&hs);
	pr_hosts_release(&hs);

	(void)pr_slurm_counts_parse(s, counts, 64, 65536, &total, NULL, &eb);

	free(s);
	return 0;
}
