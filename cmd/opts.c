/* opts.c - see opts.h */
#include "opts.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

const struct pr_opt pr_opts[] = {
#define X(id, s, l, a, h) { PR_OPT_##id, s, l, a, h },
	PR_OPTIONS(X)
#undef X
	{ 0, 0, NULL, NULL, NULL },
};

int
pr_opts_getopt(char *shortopts, size_t shortlen, void **out)
{
	size_t n = 0, k = 0;
	struct option *lo;

	for (const struct pr_opt *o = pr_opts; o->longopt; o++)
		n++;
	lo = calloc(n + 2, sizeof(*lo));
	if (lo == NULL)
		return -1;
	/* '+': stop at the first word that is not an option (the command) */
	shortopts[k++] = '+';
	for (size_t i = 0; i < n; i++) {
		const struct pr_opt *o = &pr_opts[i];

		lo[i].name = o->longopt;
		lo[i].has_arg = o->arg ? required_argument : no_argument;
		lo[i].val = o->id;
		if (o->shortopt && k + 3 < shortlen) {
			shortopts[k++] = o->shortopt;
			if (o->arg)
				shortopts[k++] = ':';
		}
	}
	lo[n].name = "help-mdoc";
	lo[n].has_arg = no_argument;
	lo[n].val = PR_OPT_HELP_MDOC;
	shortopts[k] = '\0';
	*out = lo;
	return 0;
}

int
pr_opts_id(int c)
{
	if (c > PR_OPT_NONE_)
		return c;
	for (const struct pr_opt *o = pr_opts; o->longopt; o++)
		if (o->shortopt == c)
			return o->id;
	return -1;
}

void
pr_opts_help(FILE *f)
{
	for (const struct pr_opt *o = pr_opts; o->longopt; o++) {
		char head[64];

		if (o->shortopt)
			snprintf(head, sizeof(head), "-%c, --%s%s%s",
			    o->shortopt, o->longopt, o->arg ? " " : "",
			    o->arg ? o->arg : "");
		else
			snprintf(head, sizeof(head), "    --%s%s%s", o->longopt,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		if (strlen(head) <= 24)
			fprintf(f, "  %-24s  %s\n", head, o->help);
		else
			fprintf(f, "  %s\n  %-24s  %s\n", head, "", o->help);
	}
}

/* mdoc escapes: a leading '.' or a backslash would be markup */
static void
mdoc_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else
			fputc(*s, f);
	}
}

void
pr_opts_mdoc(FILE *f)
{
	for (const struct pr_opt *o = pr_opts; o->longopt; o++) {
		fputs(".It ", f);
		if (o->shortopt)
			fprintf(f, "Fl %c , ", o->shortopt);
		fprintf(f, "Fl \\-%s", o->longopt);
		if (o->arg)
			fprintf(f, " Ar %s", o->arg);
		fputc('\n', f);
		mdoc_text(f, o->help);
		fputc('\n', f);
	}
}
