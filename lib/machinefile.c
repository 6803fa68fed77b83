/* machinefile.c - see machinefile.h and man/parrun-machinefile.5 */
#include "machinefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hostlist.h"
#include "json.h"

/* ---- the host list ------------------------------------------------------ */

void
pr_hosts_init(struct pr_hosts *hs)
{
	hs->v = NULL;
	hs->n = 0;
	hs->cap = 0;
	hs->total_slots = 0;
	hs->max_hosts = PR_HOSTLIST_MAX;
	hs->index = NULL;
	hs->index_cap = 0;
}

static void
host_free(struct pr_host *h)
{
	free(h->name);
	free(h->user);
	free(h->bind);
	free(h->origin);
}

void
pr_hosts_release(struct pr_hosts *hs)
{
	size_t max = hs->max_hosts;

	for (size_t i = 0; i < hs->n; i++)
		host_free(&hs->v[i]);
	free(hs->v);
	free(hs->index);
	pr_hosts_init(hs);
	hs->max_hosts = max;
}

/* FNV-1a over the identity of a host. */
static size_t
host_hash(enum pr_host_via via, const char *name, const char *user, int port)
{
	uint64_t h = 1469598103934665603ULL;
	const char *parts[2] = { name, user ? user : "" };

	h = (h ^ (uint64_t)via) * 1099511628211ULL;
	h = (h ^ (uint64_t)(unsigned)port) * 1099511628211ULL;
	for (int k = 0; k < 2; k++) {
		for (const char *p = parts[k]; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return (size_t)h;
}

static bool
same_host(const struct pr_host *h, enum pr_host_via via, const char *name,
    const char *user, int port)
{
	if (h->via != via || h->port != port || strcmp(h->name, name) != 0)
		return false;
	if (h->user == NULL || user == NULL)
		return h->user == user;
	return strcmp(h->user, user) == 0;
}

long
pr_hosts_find(const struct pr_hosts *hs, enum pr_host_via via,
    const char *name, const char *user, int port)
{
	size_t mask, i;

	if (hs->index_cap == 0)
		return -1;
	mask = hs->index_cap - 1;
	i = host_hash(via, name, user, port) & mask;
	while (hs->index[i] != 0) {
		size_t k = hs->index[i] - 1;

		if (same_host(&hs->v[k], via, name, user, port))
			return (long)k;
		i = (i + 1) & mask;
	}
	return -1;
}

static void
index_put(size_t *index, size_t cap, const struct pr_host *h, size_t k)
{
	size_t i = host_hash(h->via, h->name, h->user, h->port) & (cap - 1);

	while (index[i] != 0)
		i = (i + 1) & (cap - 1);
	index[i] = k + 1;
}

/* Keep the index at most half full. */
static int
index_grow(struct pr_hosts *hs)
{
	size_t cap, *index;

	if ((hs->n + 1) * 2 <= hs->index_cap)
		return 0;
	cap = hs->index_cap ? hs->index_cap * 2 : 64;
	index = calloc(cap, sizeof(*index));
	if (index == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < hs->n; k++)
		index_put(index, cap, &hs->v[k], k);
	free(hs->index);
	hs->index = index;
	hs->index_cap = cap;
	return 0;
}

/*
 * A copy of an origin fit for a terminal and for JSON: control bytes
 * become '?', and so do all non-ASCII bytes when the text is not UTF-8
 * (an origin holds a file name, which can be any bytes).
 */
static char *
clean_origin(const char *s)
{
	size_t n = strlen(s);
	bool utf8 = pr_utf8_valid(s, n, NULL);
	char *c = malloc(n + 1);

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];

		c[i] = (b < 0x20 || b == 0x7f || (b >= 0x80 && !utf8)) ?
		    '?' : s[i];
	}
	c[n] = '\0';
	return c;
}

static int
dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	*out = strdup(s);
	return *out == NULL ? -ENOMEM : 0;
}

int
pr_hosts_add(struct pr_hosts *hs, const struct pr_host *h,
    struct pr_errbuf *eb)
{
	struct pr_host nh;
	long k;
	int rc;

	if (h->slots < 1 || h->slots > PR_HOST_SLOTS_MAX)
		return pr_err(eb, PR_ELIMIT, "invalid slot count %d for '%s'",
		    h->slots, h->name);
	if (hs->total_slots + h->slots > PR_HOSTS_SLOTS_MAX)
		return pr_err(eb, PR_ELIMIT, "more than %ld slots in all",
		    PR_HOSTS_SLOTS_MAX);
	k = pr_hosts_find(hs, h->via, h->name, h->user, h->port);
	if (k >= 0) {
		struct pr_host *o = &hs->v[k];

		if (o->slots + h->slots > PR_HOST_SLOTS_MAX)
			return pr_err(eb, PR_ELIMIT,
			    "more than %d slots for '%s'", PR_HOST_SLOTS_MAX,
			    o->name);
		o->slots += h->slots;
		if (o->cpus == 0)
			o->cpus = h->cpus;
		hs->total_slots += h->slots;
		return 0;
	}
	if (hs->n >= hs->max_hosts)
		return pr_err(eb, PR_ELIMIT, "more than %zu hosts",
		    hs->max_hosts);
	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 8;
		struct pr_host *v = realloc(hs->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		hs->v = v;
		hs->cap = cap;
	}
	rc = index_grow(hs);
	if (rc < 0)
		return rc;
	nh = *h;
	nh.name = nh.user = nh.bind = nh.origin = NULL;
	if ((rc = dup_opt(h->name, &nh.name)) < 0 ||
	    (rc = dup_opt(h->user, &nh.user)) < 0 ||
	    (rc = dup_opt(h->bind, &nh.bind)) < 0) {
		host_free(&nh);
		return rc;
	}
	nh.origin = h->origin ? clean_origin(h->origin) : NULL;
	if (h->origin != NULL && nh.origin == NULL) {
		host_free(&nh);
		return -ENOMEM;
	}
	hs->v[hs->n] = nh;
	index_put(hs->index, hs->index_cap, &nh, hs->n);
	hs->n++;
	hs->total_slots += h->slots;
	return 0;
}

/* ---- parsing ------------------------------------------------------------- */

/* Where the text being parsed came from, for messages. */
struct src {
	const char *name;	/* file name, or "-S" */
	size_t line;		/* 1-based; 0 for an inline list */
	char origin[320];	/* "hosts:3" */
};

/* One entry: the first token of a line, or one item of a list. */
struct entry {
	int slots;		/* 0: not given */
	const char *user;
	size_t ulen;
	const char *host;	/* the host part, without brackets for IPv6 */
	size_t hlen;
	size_t hoff;		/* offset of the host part in the line */
	int port;
	bool prefix;		/* written as N/ or N* */
	bool ipv6;
	bool local;		/* ":" */
};

/* Record "where: pre'subj'post"; off is the 0-based offset in the line. */
static int
fail(const struct src *src, size_t off, struct pr_errbuf *eb, int code,
    const char *pre, const char *subj, size_t n, const char *post)
{
	char snip[80], where[300];

	if (src->line > 0)
		snprintf(where, sizeof(where), "%s:%zu:%zu", src->name,
		    src->line, off + 1);
	else
		snprintf(where, sizeof(where), "%s: column %zu", src->name,
		    off + 1);
	if (subj == NULL)
		return pr_err(eb, code, "%s: %s", where, pre);
	pr_hostlist_snip(snip, sizeof(snip), subj, n);
	return pr_err(eb, code, "%s: %s'%s'%s", where, pre, snip, post);
}

/* A decimal number in [1, max], digits only. */
static bool
parse_count(const char *s, size_t n, long max, int *out)
{
	long v = 0;

	if (n == 0 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > max)
		return false;
	*out = (int)v;
	return true;
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* User names: letters, digits, . _ - (not first), at most 64 bytes. */
static bool
valid_user(const char *s, size_t n)
{
	if (n == 0 || n > 64 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return false;
	return true;
}

/* An IPv6 literal: hex digits, ':' and '.' (an embedded IPv4), and an
 * optional "%zone". */
static size_t
bad_ipv6_char(const char *s, size_t n)
{
	bool zone = false;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (zone) {
			if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
				return i;
		} else if (c == '%' && i > 0) {
			zone = true;
		} else if (!((c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		    c == ':' || c == '.')) {
			return i;
		}
	}
	return n;
}

static bool
is_localhost(const char *s, size_t n)
{
	return n == 9 && strncasecmp(s, "localhost", 9) == 0;
}

/*
 * Parse the entry s[0..n), which sits at offset off of its line.
 * See machinefile.h for the forms and the host:NUM rule.
 */
static int
parse_entry(const struct src *src, const char *s, size_t n, size_t off,
    struct entry *e, struct pr_errbuf *eb)
{
	size_t i, p = 0, hn, colons = 0, colon = 0;
	const char *at, *h;

	memset(e, 0, sizeof(*e));
	/* An N/ or N* prefix, before any '@', '[' or ':'. */
	for (i = 0; i < n; i++) {
		if (s[i] == '/' || s[i] == '*' || s[i] == '@' ||
		    s[i] == '[' || s[i] == ':')
			break;
	}
	if (i < n && (s[i] == '/' || s[i] == '*')) {
		if (i == 0)
			return fail(src, off, eb, PR_ECONFIG, "missing slot "
			    "count before ", s, 1, "");
		if (!parse_count(s, i, PR_HOST_SLOTS_MAX, &e->slots))
			return fail(src, off, eb, PR_ECONFIG,
			    "invalid slot count ", s, i, "");
		e->prefix = true;
		p = i + 1;
	}
	if (p == n)
		return fail(src, off + p, eb, PR_ECONFIG, "missing host name",
		    NULL, 0, NULL);
	if (n - p == 1 && s[p] == ':') {
		e->local = true;
		return 0;
	}
	at = memchr(s + p, '@', n - p);
	if (at != NULL) {
		size_t un = (size_t)(at - (s + p));

		if (!valid_user(s + p, un))
			return fail(src, off + p, eb, PR_ECONFIG,
			    "invalid user name ", s + p, un, "");
		e->user = s + p;
		e->ulen = un;
		p += un + 1;
		if (p == n)
			return fail(src, off + p, eb, PR_ECONFIG,
			    "missing host name after '@'", NULL, 0, NULL);
	}
	h = s + p;
	hn = n - p;
	if (h[0] == '[' && memchr(h, ':', hn) != NULL &&
	    (memchr(h, ']', hn) == NULL ||
	    memchr(h, ':', hn) < (void *)memchr(h, ']', hn))) {
		/* [IPv6] or [IPv6]:port */
		const char *close = memchr(h, ']', hn);
		size_t an, bad;

		if (close == NULL)
			return fail(src, off + p, eb, PR_ECONFIG,
			    "unterminated '['", NULL, 0, NULL);
		an = (size_t)(close - h) - 1;
		bad = bad_ipv6_char(h + 1, an);
		if (an == 0 || bad < an)
			return fail(src, off + p + 1 + (bad < an ? bad : 0), eb,
			    PR_ECONFIG, "invalid IPv6 address ", h + 1, an,
			    "");
		e->ipv6 = true;
		e->host = h + 1;
		e->hlen = an;
		e->hoff = off + p + 1;
		i = an + 2;
		if (i < hn && h[i] != ':')
			return fail(src, off + p + i, eb, PR_ECONFIG,
			    "expected ':' after ']', not ", h + i, 1, "");
		if (i < hn)
			colon = i;
	} else {
		for (i = 0; i < hn; i++)
			if (h[i] == ':') {
				colons++;
				colon = i;
			}
		if (colons >= 2) {
			/* A bare IPv6 address: no port can follow. */
			size_t bad = bad_ipv6_char(h, hn);

			if (bad < hn)
				return fail(src, off + p + bad, eb, PR_ECONFIG,
				    "invalid IPv6 address ", h, hn, "");
			e->ipv6 = true;
			colon = 0;
		}
		e->host = h;
		e->hlen = colons == 1 ? colon : hn;
		e->hoff = off + p;
		if (e->hlen == 0)
			return fail(src, off + p, eb, PR_ECONFIG,
			    "missing host name", NULL, 0, NULL);
	}
	if (colon > 0) {
		const char *num = h + colon + 1;
		size_t nn = hn - colon - 1, at_off = off + p + colon + 1;

		if (nn == 0)
			return fail(src, at_off - 1, eb, PR_ECONFIG,
			    "missing number after ':'", NULL, 0, NULL);
		if (e->prefix || e->user != NULL || e->ipv6) {
			if (!parse_count(num, nn, 65535, &e->port))
				return fail(src, at_off, eb, PR_ECONFIG,
				    "invalid port ", num, nn, "");
		} else if (!parse_count(num, nn, PR_HOST_SLOTS_MAX,
		    &e->slots)) {
			return fail(src, at_off, eb, PR_ECONFIG,
			    "invalid slot count ", num, nn, "");
		}
	}
	return 0;
}

/* Add the hosts of a parsed entry. */
static int
add_entry(struct pr_hosts *hs, const struct src *src, const struct entry *e,
    const char *bind, struct pr_errbuf *eb)
{
	struct pr_hostlist hl;
	struct pr_host h;
	char user[65], name[PR_HOSTNAME_MAX + 1];
	size_t col = 0;
	int rc = 0;

	memset(&h, 0, sizeof(h));
	h.slots = e->slots > 0 ? e->slots : 1;
	h.origin = (char *)src->origin;
	h.bind = (char *)bind;
	/* Names past the cap would fail in pr_hosts_add() anyway (unless
	 * they merge); stopping the expansion there bounds the memory. */
	pr_hostlist_init(&hl, hs->max_hosts);
	if (e->local) {
		h.name = (char *)"localhost";
		h.via = PR_VIA_LOCAL;
		rc = pr_hosts_add(hs, &h, eb);
		goto out;
	}
	if (e->user != NULL) {
		memcpy(user, e->user, e->ulen);
		user[e->ulen] = '\0';
		h.user = user;
	}
	h.port = e->port;
	h.via = PR_VIA_SSH;
	if (e->ipv6) {
		if (e->hlen > PR_HOSTNAME_MAX) {
			rc = fail(src, e->hoff, eb, PR_ECONFIG,
			    "host name too long", NULL, 0, NULL);
			goto out;
		}
		memcpy(name, e->host, e->hlen);
		name[e->hlen] = '\0';
		h.name = name;
		rc = pr_hosts_add(hs, &h, eb);
		goto out;
	}
	rc = pr_hostlist_expand_n(&hl, e->host, e->hlen, &col, eb);
	if (rc < 0) {
		char msg[PR_ERRBUF_LEN];

		snprintf(msg, sizeof(msg), "%s", pr_errmsg(eb, rc));
		rc = fail(src, e->hoff + col - 1, eb, rc, msg, NULL, 0, NULL);
		goto out;
	}
	for (size_t k = 0; k < hl.n && rc == 0; k++) {
		const char *nm = pr_hostlist_get(&hl, k);

		h.name = (char *)nm;
		h.via = PR_VIA_SSH;
		if (e->user == NULL && e->port == 0 &&
		    is_localhost(nm, strlen(nm))) {
			h.name = (char *)"localhost";
			h.via = PR_VIA_LOCAL;
		}
		rc = pr_hosts_add(hs, &h, eb);
	}
	if (rc < 0 && rc != -ENOMEM) {
		char msg[PR_ERRBUF_LEN];

		snprintf(msg, sizeof(msg), "%s", pr_errmsg(eb, rc));
		rc = fail(src, e->hoff, eb, rc, msg, NULL, 0, NULL);
	}
out:
	pr_hostlist_release(&hl);
	return rc;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The words after the entry: slots=N, max_slots=N, a Julia bind_addr. */
static int
parse_options(const struct src *src, const char *ln, size_t n, size_t p,
    struct entry *e, char *bind, size_t bindlen, struct pr_errbuf *eb)
{
	bool have_bind = false;

	while (p < n) {
		size_t w = p, wn;
		const char *eq;

		while (p < n && !is_space(ln[p]))
			p++;
		wn = p - w;
		eq = memchr(ln + w, '=', wn);
		if (eq != NULL) {
			size_t kn = (size_t)(eq - (ln + w));
			const char *v = eq + 1;
			size_t vn = wn - kn - 1, voff = w + kn + 1;
			int x;

			if (kn == 5 && memcmp(ln + w, "slots", 5) == 0) {
				if (e->slots > 0)
					return fail(src, w, eb, PR_ECONFIG,
					    "slot count given twice", NULL, 0,
					    NULL);
				if (!parse_count(v, vn, PR_HOST_SLOTS_MAX,
				    &e->slots))
					return fail(src, voff, eb, PR_ECONFIG,
					    "invalid slot count ", v, vn, "");
			} else if (kn == 9 &&
			    memcmp(ln + w, "max_slots", 9) == 0) {
				if (!parse_count(v, vn, PR_HOST_SLOTS_MAX, &x))
					return fail(src, voff, eb, PR_ECONFIG,
					    "invalid slot count ", v, vn, "");
			} else {
				return fail(src, w, eb, PR_ECONFIG,
				    "unknown option ", ln + w, kn, "");
			}
		} else if (!have_bind && !e->local) {
			/* Julia's bind_addr[:port]: checked, kept for
			 * display, not used. */
			for (size_t k = 0; k < wn; k++) {
				char c = ln[w + k];

				if (!is_alnum(c) && c != '.' && c != '-' &&
				    c != '_' && c != ':' && c != '[' &&
				    c != ']' && c != '%')
					return fail(src, w + k, eb,
					    PR_ECONFIG, "invalid character ",
					    &ln[w + k], 1,
					    " in a bind address");
			}
			if (ln[w] == '-' || wn >= bindlen)
				return fail(src, w, eb, PR_ECONFIG,
				    "invalid bind address ", ln + w, wn, "");
			memcpy(bind, ln + w, wn);
			bind[wn] = '\0';
			have_bind = true;
		} else {
			return fail(src, w, eb, PR_ECONFIG, "unexpected ",
			    ln + w, wn, "");
		}
		while (p < n && is_space(ln[p]))
			p++;
	}
	return 0;
}

static int
parse_line(struct pr_hosts *hs, struct src *src, const char *ln, size_t n,
    struct pr_errbuf *eb)
{
	const char *hash, *nul;
	struct entry e;
	char bind[PR_HOSTNAME_MAX + 1];
	size_t p = 0, w;
	int rc;

	bind[0] = '\0';
	if (n > PR_MACHINEFILE_LINE_MAX)
		return fail(src, PR_MACHINEFILE_LINE_MAX, eb, PR_ECONFIG,
		    "line too long", NULL, 0, NULL);
	nul = memchr(ln, '\0', n);
	if (nul != NULL)
		return fail(src, (size_t)(nul - ln), eb, PR_ECONFIG,
		    "NUL byte", NULL, 0, NULL);
	hash = memchr(ln, '#', n);
	if (hash != NULL)
		n = (size_t)(hash - ln);
	while (n > 0 && is_space(ln[n - 1]))
		n--;
	while (p < n && is_space(ln[p]))
		p++;
	if (p == n)
		return 0;
	w = p;
	while (p < n && !is_space(ln[p]))
		p++;
	rc = parse_entry(src, ln + w, p - w, w, &e, eb);
	if (rc < 0)
		return rc;
	while (p < n && is_space(ln[p]))
		p++;
	rc = parse_options(src, ln, n, p, &e, bind, sizeof(bind), eb);
	if (rc < 0)
		return rc;
	return add_entry(hs, src, &e, bind[0] != '\0' ? bind : NULL, eb);
}

int
pr_machinefile_parse(struct pr_hosts *hs, const char *name,
    const char *text, size_t len, struct pr_errbuf *eb)
{
	struct src src;
	size_t pos = 0;
	int rc = 0;

	src.name = name;
	src.line = 0;
	while (pos < len) {
		const char *ln = text + pos, *eol;
		size_t n;

		eol = memchr(ln, '\n', len - pos);
		n = eol != NULL ? (size_t)(eol - ln) : len - pos;
		src.line++;
		snprintf(src.origin, sizeof(src.origin), "%s:%zu", name,
		    src.line);
		rc = parse_line(hs, &src, ln, n, eb);
		if (rc < 0)
			break;
		pos += n + 1;
	}
	return rc;
}

int
pr_machinefile_load(struct pr_hosts *hs, const char *path,
    struct pr_errbuf *eb)
{
	struct pr_buf b;
	char chunk[8192];
	int fd, rc = 0;

	pr_buf_init(&b, PR_MACHINEFILE_MAX);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pr_err(eb, -errno, "cannot open '%s': %s", path,
		    strerror(errno));
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = pr_err(eb, -errno, "cannot read '%s': %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		rc = pr_buf_add(&b, chunk, (size_t)r);
		if (rc == PR_ETOOBIG) {
			rc = pr_err(eb, PR_ELIMIT, "'%s' is larger than %ld "
			    "bytes", path, PR_MACHINEFILE_MAX);
			goto out;
		}
		if (rc < 0)
			goto out;
	}
	rc = pr_machinefile_parse(hs, path, b.data ? b.data : "", b.len, eb);
out:
	close(fd);
	pr_buf_release(&b);
	return rc;
}

int
pr_machinefile_parse_list(struct pr_hosts *hs, const char *what,
    const char *list, struct pr_errbuf *eb)
{
	struct src src;
	size_t n = strlen(list), p = 0;
	int rc = 0;

	src.name = what;
	src.line = 0;
	snprintf(src.origin, sizeof(src.origin), "%s", what);
	if (n > PR_MACHINEFILE_MAX)
		return pr_err(eb, PR_ELIMIT, "%s: list too long", what);
	for (;;) {
		size_t w, end, depth = 0;
		struct entry e;

		while (p < n && is_space(list[p]))
			p++;
		w = p;
		while (p < n && (depth > 0 || list[p] != ',')) {
			if (list[p] == '[')
				depth++;
			else if (list[p] == ']' && depth > 0)
				depth--;
			p++;
		}
		end = p;
		while (end > w && is_space(list[end - 1]))
			end--;
		if (end == w)
			return fail(&src, w, eb, PR_ECONFIG,
			    "empty entry", NULL, 0, NULL);
		for (size_t k = w; k < end; k++)
			if (is_space(list[k]))
				return fail(&src, k, eb, PR_ECONFIG,
				    "space inside an entry", NULL, 0, NULL);
		rc = parse_entry(&src, list + w, end - w, w, &e, eb);
		if (rc == 0)
			rc = add_entry(hs, &src, &e, NULL, eb);
		if (rc < 0 || p >= n)
			break;
		p++;		/* the ',' */
		if (p >= n)
			return fail(&src, p - 1, eb, PR_ECONFIG,
			    "trailing ','", NULL, 0, NULL);
	}
	return rc;
}

/* ---- display ------------------------------------------------------------- */

int
pr_host_workers(const struct pr_host *h)
{
	return h->via == PR_VIA_LOCAL ? h->slots : 1;
}

const char *
pr_host_via_name(enum pr_host_via via)
{
	switch (via) {
	case PR_VIA_LOCAL:
		return "local";
	case PR_VIA_SSH:
		return "ssh";
	case PR_VIA_SRUN:
		return "srun";
	}
	return "?";
}

#define NCOLS 8

static void
cells(const struct pr_host *h, char c[NCOLS][300])
{
	snprintf(c[0], 300, "%s", h->name);
	snprintf(c[1], 300, "%s", h->user ? h->user : "-");
	if (h->via == PR_VIA_SSH)
		snprintf(c[2], 300, "%d", h->port ? h->port : 22);
	else
		snprintf(c[2], 300, "-");
	snprintf(c[3], 300, "%d", pr_host_workers(h));
	snprintf(c[4], 300, "%d", h->slots);
	if (h->cpus > 0)
		snprintf(c[5], 300, "%d", h->cpus);
	else
		snprintf(c[5], 300, "-");
	snprintf(c[6], 300, "%s", pr_host_via_name(h->via));
	snprintf(c[7], 300, "%s", h->origin ? h->origin : "-");
}

int
pr_hosts_format_table(const struct pr_hosts *hs, struct pr_buf *out)
{
	static const char *const head[NCOLS] = {
		"HOST", "USER", "PORT", "WORKERS", "SLOTS", "CPUS", "VIA",
		"FROM"
	};
	static const bool right[NCOLS] = {
		false, false, true, true, true, true, false, false
	};
	char c[NCOLS][300];
	size_t w[NCOLS];
	long workers = 0;
	int rc = 0;

	for (int k = 0; k < NCOLS; k++)
		w[k] = strlen(head[k]);
	for (size_t i = 0; i < hs->n; i++) {
		cells(&hs->v[i], c);
		workers += pr_host_workers(&hs->v[i]);
		for (int k = 0; k < NCOLS; k++)
			if (strlen(c[k]) > w[k])
				w[k] = strlen(c[k]);
	}
	for (size_t i = 0; i <= hs->n && rc == 0; i++) {
		if (i == 0) {
			for (int k = 0; k < NCOLS; k++)
				snprintf(c[k], 300, "%s", head[k]);
		} else {
			cells(&hs->v[i - 1], c);
		}
		for (int k = 0; k < NCOLS && rc == 0; k++) {
			int wk = (int)w[k];

			if (k == NCOLS - 1)
				rc = pr_buf_addf(out, "%s\n", c[k]);
			else if (right[k])
				rc = pr_buf_addf(out, "%*s  ", wk, c[k]);
			else
				rc = pr_buf_addf(out, "%-*s  ", wk, c[k]);
		}
	}
	if (rc == 0)
		rc = pr_buf_addf(out, "%zu host%s, %ld slot%s, %ld worker%s\n",
		    hs->n, hs->n == 1 ? "" : "s", hs->total_slots,
		    hs->total_slots == 1 ? "" : "s", workers,
		    workers == 1 ? "" : "s");
	return rc;
}

static int
json_opt_str(struct pr_buf *b, const char *key, const char *v)
{
	int rc = pr_json_add_key(b, key);

	if (rc == 0)
		rc = v ? pr_json_add_cstr(b, v) : pr_buf_adds(b, "null");
	return rc;
}

int
pr_hosts_format_json(const struct pr_hosts *hs, struct pr_buf *out)
{
	long workers = 0;
	int rc = pr_buf_adds(out, "{\"hosts\":[");

	for (size_t i = 0; i < hs->n && rc == 0; i++) {
		const struct pr_host *h = &hs->v[i];

		workers += pr_host_workers(h);
		if (i > 0)
			rc = pr_buf_addc(out, ',');
		if (rc == 0)
			rc = pr_buf_addc(out, '{');
		if (rc == 0)
			rc = json_opt_str(out, "host", h->name);
		if (rc == 0)
			rc = pr_buf_addc(out, ',');
		if (rc == 0)
			rc = json_opt_str(out, "user", h->user);
		if (rc == 0 && h->via == PR_VIA_SSH)
			rc = pr_buf_addf(out, ",\"port\":%d",
			    h->port ? h->port : 22);
		else if (rc == 0)
			rc = pr_buf_adds(out, ",\"port\":null");
		if (rc == 0)
			rc = pr_buf_addf(out, ",\"workers\":%d,\"slots\":%d",
			    pr_host_workers(h), h->slots);
		if (rc == 0 && h->cpus > 0)
			rc = pr_buf_addf(out, ",\"cpus\":%d", h->cpus);
		else if (rc == 0)
			rc = pr_buf_adds(out, ",\"cpus\":null");
		if (rc == 0)
			rc = pr_buf_addf(out, ",\"via\":\"%s\",",
			    pr_host_via_name(h->via));
		if (rc == 0)
			rc = json_opt_str(out, "from", h->origin);
		if (rc == 0)
			rc = pr_buf_addc(out, ',');
		if (rc == 0)
			rc = json_opt_str(out, "bind", h->bind);
		if (rc == 0)
			rc = pr_buf_addc(out, '}');
	}
	if (rc == 0)
		rc = pr_buf_addf(out, "],\"total_hosts\":%zu,\"total_slots\":"
		    "%ld,\"total_workers\":%ld}\n", hs->n, hs->total_slots,
		    workers);
	return rc;
}
