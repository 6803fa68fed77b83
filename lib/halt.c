/* halt.c - see halt.h */
#include "halt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const whens[] = {
	[PR_HALT_NEVER] = "never",
	[PR_HALT_SOON] = "soon",
	[PR_HALT_NOW] = "now",
};

static const char *const ons[] = {
	[PR_HALT_FAIL] = "fail",
	[PR_HALT_SUCCESS] = "success",
	[PR_HALT_DONE] = "done",
};

int
pr_halt_parse(const char *s, struct pr_halt *h, struct pr_errbuf *eb)
{
	const char *comma, *eq, *num;
	size_t wlen, olen;
	char *end;
	double v;
	int i;

	memset(h, 0, sizeof(*h));
	h->when = PR_HALT_NEVER;
	if (strcmp(s, "never") == 0 || strcmp(s, "0") == 0)
		return 0;
	if (strcmp(s, "1") == 0 || strcmp(s, "2") == 0) {
		h->when = s[0] == '1' ? PR_HALT_SOON : PR_HALT_NOW;
		h->on = PR_HALT_FAIL;
		h->threshold = 1;
		return 0;
	}
	comma = strchr(s, ',');
	if (comma == NULL)
		return pr_err(eb, PR_ECONFIG, "'%s': expected never, or "
		    "soon|now,fail|success|done=N|P%%", s);
	wlen = (size_t)(comma - s);
	for (i = PR_HALT_SOON; i <= PR_HALT_NOW; i++)
		if (strlen(whens[i]) == wlen && strncmp(s, whens[i], wlen) == 0)
			break;
	if (i > PR_HALT_NOW)
		return pr_err(eb, PR_ECONFIG, "'%.*s': expected soon or now",
		    (int)wlen, s);
	h->when = (enum pr_halt_when)i;

	eq = strchr(comma + 1, '=');
	if (eq == NULL)
		return pr_err(eb, PR_ECONFIG, "'%s': expected "
		    "fail|success|done=N after '%.*s,'", comma + 1,
		    (int)wlen, s);
	olen = (size_t)(eq - (comma + 1));
	for (i = PR_HALT_FAIL; i <= PR_HALT_DONE; i++)
		if (strlen(ons[i]) == olen &&
		    strncmp(comma + 1, ons[i], olen) == 0)
			break;
	if (i > PR_HALT_DONE)
		return pr_err(eb, PR_ECONFIG, "unknown condition '%.*s' "
		    "(fail, success or done)", (int)olen, comma + 1);
	h->on = (enum pr_halt_on)i;

	num = eq + 1;
	errno = 0;
	v = strtod(num, &end);
	if (end == num || errno != 0 || !isfinite(v) || v <= 0)
		return pr_err(eb, PR_ECONFIG, "'%s': expected a count or a "
		    "percentage above 0", num);
	if (*end == '%' && end[1] == '\0') {
		if (v > 100)
			return pr_err(eb, PR_ECONFIG, "'%s': a percentage "
			    "above 100", num);
		h->percent = true;
	} else if (*end != '\0' || v != floor(v)) {
		return pr_err(eb, PR_ECONFIG, "'%s': expected a whole count "
		    "or a percentage", num);
	}
	h->threshold = v;
	return 0;
}

bool
pr_halt_reached(const struct pr_halt *h, uint64_t done, uint64_t ok,
    uint64_t failed)
{
	uint64_t n;

	if (h->when == PR_HALT_NEVER)
		return false;
	switch (h->on) {
	case PR_HALT_FAIL:
		n = failed;
		break;
	case PR_HALT_SUCCESS:
		n = ok;
		break;
	default:
		n = done;
		break;
	}
	if (!h->percent)
		return (double)n >= h->threshold;
	if (done < PR_HALT_PERCENT_MIN)
		return false;
	return 100.0 * (double)n >= h->threshold * (double)done;
}

const char *
pr_halt_format(const struct pr_halt *h, char *buf, size_t n)
{
	if (h->when == PR_HALT_NEVER)
		snprintf(buf, n, "never");
	else
		snprintf(buf, n, "%s,%s=%g%s", whens[h->when], ons[h->on],
		    h->threshold, h->percent ? "%" : "");
	return buf;
}
