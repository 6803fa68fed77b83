/* journal.c - see journal.h */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "json.h"

/* Append a string literal. */
#define ADDLIT(b, lit)	pr_buf_add((b), (lit), sizeof(lit) - 1)

/* Submit and dispatch records alone wait until this much has gathered. */
#define FLUSH_AT	(64 * 1024)
#define READ_SIZE	(64 * 1024)

/* ---- the index ---------------------------------------------------------- */

/*
 * A task slot: 16 bytes of key and 32 bits of state.  The state packs
 * whether the slot is used, whether a submit was seen, whether the last
 * result waits for its "emitted" record, the last final status + 1 (0:
 * none yet), and, on a k = 0 slot, how many tasks with this fingerprint
 * the new run has had (pr_journal_decide()).
 */
#define M_USED		(1u << 31)
#define M_SUBMITTED	(1u << 30)
#define M_UNACKED	(1u << 29)
#define M_ST_SHIFT	26
#define M_ST		(7u << M_ST_SHIFT)
#define M_COUNT		((1u << M_ST_SHIFT) - 1)

struct slot {
	uint8_t key[16];
	uint32_t meta;
};

/* An explicit id: 16 bytes of SHA-256(id) (never all zero: that marks an
 * empty slot) and 16 bytes of the fingerprint last journaled with it. */
struct idslot {
	uint8_t key[16];
	uint8_t fp[16];
};

struct pr_journal {
	char *name;			/* the path, for messages */
	int fd;				/* -1: loaded only */
	bool retry_failed, acks;

	struct slot *slots;
	size_t cap, n;
	struct idslot *ids;
	size_t idcap, nids;
	EVP_MD_CTX *md;

	/* writing */
	struct pr_buf wbuf;
	bool need_sync;		/* a result or header is in wbuf */
	bool dirty;		/* written since the last fdatasync */
	uint64_t fsize;		/* file size after our last write */
	int err;			/* sticky error, or 0 */
	char errmsg[PR_ERRBUF_LEN];
	pr_journal_write_fn write_fn;
	pr_journal_sync_fn sync_fn;
	void *hook_arg;
	struct pr_journal_stats st;

	/* loading */
	bool cur_acks;		/* the current run asked for acks */
};

/* Where a key starts probing: the top bits of its first 8 bytes, scaled
 * to the capacity (keys are SHA-256 output, so uniform). */
static size_t
home(const uint8_t key[16], size_t cap)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)(((h >> 32) * (uint64_t)cap) >> 32);
}

static size_t
next_cap(size_t cap)
{
	return cap < 1024 ? 1024 : cap + cap / 2;
}

static struct slot *
slot_find(const struct pr_journal *j, const uint8_t key[16])
{
	size_t i;

	if (j->cap == 0)
		return NULL;
	for (i = home(key, j->cap);; i = i + 1 == j->cap ? 0 : i + 1) {
		struct slot *s = &j->slots[i];

		if (s->meta == 0)
			return NULL;
		if (memcmp(s->key, key, 16) == 0)
			return s;
	}
}

static int
slots_grow(struct pr_journal *j)
{
	size_t ncap = next_cap(j->cap), i, k;
	struct slot *ns;

	if (ncap > UINT32_MAX)
		return -ENOMEM;
	ns = calloc(ncap, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	for (i = 0; i < j->cap; i++) {
		if (j->slots[i].meta == 0)
			continue;
		for (k = home(j->slots[i].key, ncap); ns[k].meta != 0;
		    k = k + 1 == ncap ? 0 : k + 1)
			;
		ns[k] = j->slots[i];
	}
	free(j->slots);
	j->slots = ns;
	j->cap = ncap;
	return 0;
}

/* The slot of key, made when missing (*isnew tells). */
static int
slot_get(struct pr_journal *j, const uint8_t key[16], struct slot **out,
    bool *isnew)
{
	struct slot *s;
	size_t i;
	int rc;

	*isnew = false;
	if ((s = slot_find(j, key)) != NULL) {
		*out = s;
		return 0;
	}
	if ((j->n + 1) * 4 > j->cap * 3 && (rc = slots_grow(j)) < 0)
		return rc;
	for (i = home(key, j->cap); j->slots[i].meta != 0;
	    i = i + 1 == j->cap ? 0 : i + 1)
		;
	s = &j->slots[i];
	memcpy(s->key, key, 16);
	s->meta = M_USED;
	j->n++;
	*isnew = true;
	*out = s;
	return 0;
}

static bool
zero16(const uint8_t k[16])
{
	static const uint8_t z[16];

	return memcmp(k, z, 16) == 0;
}

static struct idslot *
id_find(const struct pr_journal *j, const uint8_t key[16])
{
	size_t i;

	if (j->idcap == 0)
		return NULL;
	for (i = home(key, j->idcap);; i = i + 1 == j->idcap ? 0 : i + 1) {
		struct idslot *s = &j->ids[i];

		if (zero16(s->key))
			return NULL;
		if (memcmp(s->key, key, 16) == 0)
			return s;
	}
}

static int
ids_grow(struct pr_journal *j)
{
	size_t ncap = next_cap(j->idcap), i, k;
	struct idslot *ns;

	if (ncap > UINT32_MAX)
		return -ENOMEM;
	ns = calloc(ncap, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	for (i = 0; i < j->idcap; i++) {
		if (zero16(j->ids[i].key))
			continue;
		for (k = home(j->ids[i].key, ncap); !zero16(ns[k].key);
		    k = k + 1 == ncap ? 0 : k + 1)
			;
		ns[k] = j->ids[i];
	}
	free(j->ids);
	j->ids = ns;
	j->idcap = ncap;
	return 0;
}

/* Remember fp as the last fingerprint of the id with key `key`. */
static int
id_put(struct pr_journal *j, const uint8_t key[16], const uint8_t fp[16],
    bool *isnew)
{
	struct idslot *s = id_find(j, key);
	size_t i;
	int rc;

	*isnew = false;
	if (s == NULL) {
		if ((j->nids + 1) * 4 > j->idcap * 3 &&
		    (rc = ids_grow(j)) < 0)
			return rc;
		for (i = home(key, j->idcap); !zero16(j->ids[i].key);
		    i = i + 1 == j->idcap ? 0 : i + 1)
			;
		s = &j->ids[i];
		memcpy(s->key, key, 16);
		j->nids++;
		*isnew = true;
	}
	memcpy(s->fp, fp, 16);
	return 0;
}

static int
sha256(struct pr_journal *j, const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	if (EVP_DigestInit_ex(j->md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(j->md, p, n) != 1 ||
	    EVP_DigestFinal_ex(j->md, out, &len) != 1 || len != 32)
		return -ENOMEM;
	return 0;
}

/* The key of the k-th task with fingerprint fp (journal.h). */
static int
task_key(struct pr_journal *j, const uint8_t fp[32], uint32_t k,
    uint8_t key[16])
{
	uint8_t in[40], h[32];
	int i, rc;

	if (k == 0) {
		memcpy(key, fp, 16);
		return 0;
	}
	memcpy(in, fp, 32);
	for (i = 0; i < 8; i++)
		in[32 + i] = (uint8_t)((uint64_t)k >> (56 - 8 * i));
	if ((rc = sha256(j, in, sizeof(in), h)) < 0)
		return rc;
	memcpy(key, h, 16);
	return 0;
}

static int
id_key(struct pr_journal *j, const char *id, size_t n, uint8_t key[16])
{
	uint8_t h[32];
	int rc;

	if ((rc = sha256(j, id, n, h)) < 0)
		return rc;
	memcpy(key, h, 16);
	if (zero16(key))
		key[15] = 1;
	return 0;
}

/* ---- lifetime ------------------------------------------------------------ */

void
pr_journal_opts_init(struct pr_journal_opts *o)
{
	memset(o, 0, sizeof(*o));
}

static int
journal_new(struct pr_journal **out, const char *name, bool retry_failed)
{
	struct pr_journal *j;

	*out = NULL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->fd = -1;
	j->retry_failed = retry_failed;
	pr_buf_init(&j->wbuf, 0);
	j->name = strdup(name != NULL ? name : "-");
	j->md = EVP_MD_CTX_new();
	if (j->name == NULL || j->md == NULL) {
		free(j->name);
		EVP_MD_CTX_free(j->md);
		free(j);
		return -ENOMEM;
	}
	*out = j;
	return 0;
}

static void
journal_free(struct pr_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);	/* also drops the lock */
	free(j->slots);
	free(j->ids);
	pr_buf_release(&j->wbuf);
	EVP_MD_CTX_free(j->md);
	free(j->name);
	free(j);
}

void
pr_journal_get_stats(const struct pr_journal *j, struct pr_journal_stats *st)
{
	*st = j->st;
}

size_t
pr_journal_mem(const struct pr_journal *j)
{
	return sizeof(*j) + j->cap * sizeof(*j->slots) +
	    j->idcap * sizeof(*j->ids) + j->wbuf.cap;
}

bool
pr_journal_pending(const struct pr_journal *j)
{
	return j->wbuf.len > 0;
}

void
pr_journal_fp_hex(const uint8_t fp[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[fp[i] >> 4];
		hex[2 * i + 1] = digits[fp[i] & 15];
	}
	hex[64] = '\0';
}

/* ---- reading a record ---------------------------------------------------- */

/*
 * A journal line is one flat JSON object: string, number, true, false and
 * null values only.  The reader is strict (it reads what this file
 * writes) and never allocates per value: strings are decoded into one
 * buffer per line.
 */
enum vtype { V_STR, V_NUM, V_TRUE, V_FALSE, V_NULL };

struct val {
	enum vtype t;
	size_t off, len;		/* V_STR: in strs; V_NUM: in the line */
	bool integral;		/* V_NUM: no fraction or exponent */
	bool neg;
	bool big;			/* |value| > UINT64_MAX */
	uint64_t u;			/* V_NUM integral: |value| */
};

enum rkey {
	K_JOURNAL, K_V, K_SEED, K_STARTED, K_ACKS, K_TYPE, K_SEQ, K_ID, K_FP,
	K_K, K_ID_GIVEN, K_STATUS, K_ATTEMPT, K_EXIT, K_WORKER, K_HOST,
	K_COUNT
};

static const char *const key_name[K_COUNT] = {
	"journal", "v", "seed", "started", "acks", "type", "seq", "id", "fp",
	"k", "id_given", "status", "attempt", "exit", "worker", "host",
};

struct rec {
	bool has[K_COUNT];
	struct val v[K_COUNT];
};

struct lp {
	const char *s;
	size_t n, i;
	struct pr_buf *strs;
	const char *why;		/* what is wrong */
	bool oom;
};

static void
lp_ws(struct lp *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
	    p->s[p->i] == '\r'))
		p->i++;
}

static int
lp_fail(struct lp *p, const char *why)
{
	p->why = why;
	return -1;
}

static int
hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long
lp_hex4(struct lp *p)
{
	long v = 0;
	int k, d;

	if (p->n - p->i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		if ((d = hexdig(p->s[p->i + (size_t)k])) < 0)
			return -1;
		v = v << 4 | d;
	}
	p->i += 4;
	return v;
}


/* The string at s[i] (its quote), decoded to strs[*off..+*len). */
static int
lp_string(struct lp *p, size_t *off, size_t *len)
{
	const char *s = p->s;
	size_t run;

	*off = p->strs->len;
	run = ++p->i;
	for (;;) {
		unsigned char c;
		long cp, lo;

		while (p->i < p->n && (unsigned char)s[p->i] >= 0x20 &&
		    s[p->i] != '"' && s[p->i] != '\\')
			p->i++;
		if (p->i >= p->n)
			return lp_fail(p, "unterminated string");
		if (pr_buf_add(p->strs, s + run, p->i - run) < 0) {
			p->oom = true;
			return lp_fail(p, "out of memory");
		}
		c = (unsigned char)s[p->i];
		if (c == '"')
			break;
		if (c < 0x20)
			return lp_fail(p, "control character in a string");
		if (++p->i >= p->n)
			return lp_fail(p, "unterminated string");
		c = (unsigned char)s[p->i++];
		switch (c) {
		case '"': case '\\': case '/':
			cp = c;
			break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if ((cp = lp_hex4(p)) < 0)
				return lp_fail(p, "bad \\u escape");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return lp_fail(p, "unpaired surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->n - p->i < 2 || s[p->i] != '\\' ||
				    s[p->i + 1] != 'u')
					return lp_fail(p, "unpaired surrogate");
				p->i += 2;
				lo = lp_hex4(p);
				if (lo < 0xdc00 || lo > 0xdfff)
					return lp_fail(p, "unpaired surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			if (cp == 0)
				return lp_fail(p, "NUL in a string");
			break;
		default:
			return lp_fail(p, "bad escape");
		}
		if (pr_utf8_add(p->strs, (unsigned long)cp) < 0) {
			p->oom = true;
			return lp_fail(p, "out of memory");
		}
		run = p->i;
	}
	p->i++;
	*len = p->strs->len - *off;
	return 0;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
lp_number(struct lp *p, struct val *v)
{
	const char *s = p->s;
	size_t start = p->i;

	v->t = V_NUM;
	v->integral = true;
	v->big = false;
	v->u = 0;
	v->neg = false;
	if (p->i < p->n && s[p->i] == '-') {
		v->neg = true;
		p->i++;
	}
	if (p->i >= p->n || !is_digit(s[p->i]))
		return lp_fail(p, "bad number");
	if (s[p->i] == '0') {
		p->i++;
	} else {
		while (p->i < p->n && is_digit(s[p->i])) {
			uint64_t d = (uint64_t)(s[p->i] - '0');

			if (v->u > (UINT64_MAX - d) / 10)
				v->big = true;
			else
				v->u = v->u * 10 + d;
			p->i++;
		}
	}
	if (p->i < p->n && s[p->i] == '.') {
		v->integral = false;
		p->i++;
		if (p->i >= p->n || !is_digit(s[p->i]))
			return lp_fail(p, "bad number");
		while (p->i < p->n && is_digit(s[p->i]))
			p->i++;
	}
	if (p->i < p->n && (s[p->i] == 'e' || s[p->i] == 'E')) {
		v->integral = false;
		p->i++;
		if (p->i < p->n && (s[p->i] == '+' || s[p->i] == '-'))
			p->i++;
		if (p->i >= p->n || !is_digit(s[p->i]))
			return lp_fail(p, "bad number");
		while (p->i < p->n && is_digit(s[p->i]))
			p->i++;
	}
	v->off = start;
	v->len = p->i - start;
	return 0;
}

static bool
lp_lit(struct lp *p, const char *w)
{
	size_t n = strlen(w);

	if (p->n - p->i < n || memcmp(p->s + p->i, w, n) != 0)
		return false;
	p->i += n;
	return true;
}

static int
lp_value(struct lp *p, struct val *v)
{
	char c = p->i < p->n ? p->s[p->i] : '\0';

	if (c == '"') {
		v->t = V_STR;
		return lp_string(p, &v->off, &v->len);
	}
	if (c == '-' || is_digit(c))
		return lp_number(p, v);
	if (lp_lit(p, "true")) {
		v->t = V_TRUE;
		return 0;
	}
	if (lp_lit(p, "false")) {
		v->t = V_FALSE;
		return 0;
	}
	if (lp_lit(p, "null")) {
		v->t = V_NULL;
		return 0;
	}
	if (c == '{' || c == '[')
		return lp_fail(p, "nested value");
	return lp_fail(p, "bad value");
}

static int
which_key(const char *k, size_t n)
{
	int i;

	for (i = 0; i < K_COUNT; i++)
		if (key_name[i][0] == k[0] && strlen(key_name[i]) == n &&
		    memcmp(key_name[i], k, n) == 0)
			return i;
	return -1;
}

/* Parse line s[0..n) into r.  -1 with p->why when it is not a record. */
static int
lp_record(struct lp *p, struct rec *r)
{
	memset(r->has, 0, sizeof(r->has));
	lp_ws(p);
	if (p->i >= p->n || p->s[p->i] != '{')
		return lp_fail(p, "not a JSON object");
	p->i++;
	lp_ws(p);
	if (p->i < p->n && p->s[p->i] == '}') {
		p->i++;
	} else {
		for (;;) {
			size_t koff, klen;
			struct val v;
			int k;

			if (p->i >= p->n || p->s[p->i] != '"')
				return lp_fail(p, "expected a key");
			if (lp_string(p, &koff, &klen) < 0)
				return -1;
			lp_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return lp_fail(p, "expected ':'");
			p->i++;
			lp_ws(p);
			if (lp_value(p, &v) < 0)
				return -1;
			k = klen > 0 ? which_key(p->strs->data + koff, klen) :
			    -1;
			if (k >= 0) {
				if (r->has[k])
					return lp_fail(p, "duplicate key");
				r->has[k] = true;
				r->v[k] = v;
			}
			lp_ws(p);
			if (p->i < p->n && p->s[p->i] == ',') {
				p->i++;
				lp_ws(p);
				continue;
			}
			if (p->i < p->n && p->s[p->i] == '}') {
				p->i++;
				break;
			}
			return lp_fail(p, "expected ',' or '}'");
		}
	}
	lp_ws(p);
	if (p->i < p->n)
		return lp_fail(p, "text after the object");
	return 0;
}

/* ---- loading ------------------------------------------------------------- */

struct loader {
	struct pr_journal *j;
	struct pr_journal_info *info;
	struct pr_errbuf *eb;
	uint64_t off;			/* offset of the current line */
	unsigned long line;		/* its number */
	bool header;			/* the first record was a header */
	struct pr_buf carry;		/* the current line, when split */
	struct pr_buf strs;
	const char *ls;			/* the line being applied */
	/* the first bad line: the torn end, unless more records follow */
	bool bad;
	bool skip;			/* still inside the bad line */
	uint64_t bad_off;
	unsigned long bad_line;
	char why[96];
	char head[24];			/* its first bytes */
	size_t headlen;
};

/* A string member, decoded (not NUL-terminated: r->v[k].len). */
static const char *
field_str(const struct loader *L, const struct rec *r, enum rkey k)
{
	return L->strs.data + r->v[k].off;
}

static bool
get_u64(const struct rec *r, enum rkey k, uint64_t max, uint64_t *out)
{
	const struct val *v = &r->v[k];

	if (!r->has[k] || v->t != V_NUM || !v->integral || v->neg ||
	    v->big || v->u > max)
		return false;
	*out = v->u;
	return true;
}

static bool
get_fp(const struct loader *L, const struct rec *r, uint8_t fp[32])
{
	const char *s;
	int i, hi, lo;

	if (!r->has[K_FP] || r->v[K_FP].t != V_STR ||
	    r->v[K_FP].len != PR_JOURNAL_FP_HEX)
		return false;
	s = field_str(L, r, K_FP);
	for (i = 0; i < 32; i++) {
		hi = hexdig(s[2 * i]);
		lo = hexdig(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		fp[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool
is_type(const struct loader *L, const struct rec *r, const char *t)
{
	return r->v[K_TYPE].len == strlen(t) &&
	    memcmp(field_str(L, r, K_TYPE), t, r->v[K_TYPE].len) == 0;
}

static int
fatal(struct loader *L, int code, const char *what)
{
	return pr_err(L->eb, code, "journal '%s': %s at byte %llu (line %lu)",
	    L->j->name, what, (unsigned long long)L->off, L->line);
}

/* The task slot of a record with a fingerprint; counts a new task. */
static int
rec_slot(struct loader *L, const uint8_t fp[32], uint64_t k,
    struct slot **s)
{
	uint8_t key[16];
	bool isnew;
	int rc;

	if ((rc = task_key(L->j, fp, (uint32_t)k, key)) < 0 ||
	    (rc = slot_get(L->j, key, s, &isnew)) < 0)
		return rc;
	if (isnew) {
		L->info->tasks++;
		L->info->unfinished++;
	}
	return 0;
}

static int
rec_id(struct loader *L, const struct rec *r, const uint8_t fp[32])
{
	uint8_t key[16];
	bool isnew;
	int rc;

	if (!r->has[K_ID_GIVEN] || r->v[K_ID_GIVEN].t != V_TRUE)
		return 0;
	if ((rc = id_key(L->j, field_str(L, r, K_ID), r->v[K_ID].len,
	    key)) < 0 || (rc = id_put(L->j, key, fp, &isnew)) < 0)
		return rc;
	if (isnew)
		L->info->ids++;
	return 0;
}

/*
 * Apply one parsed record.  Returns 0; 1 with *why when the record is
 * not valid (a bad line); or a negative code with eb (the journal cannot
 * be used: foreign, another version, out of memory).
 */
static int
apply(struct loader *L, const struct rec *r, const char **why)
{
	struct pr_journal_info *info = L->info;
	uint8_t fp[32];
	uint64_t seq, k = 0, u;
	bool hasfp;
	struct slot *s;
	enum pr_status st;
	int rc;

	if (r->has[K_JOURNAL]) {
		if (r->v[K_JOURNAL].t != V_STR || r->v[K_JOURNAL].len != 6 ||
		    memcmp(field_str(L, r, K_JOURNAL), "parrun", 6) != 0)
			return fatal(L, PR_EJOURNAL, "not a parrun journal "
			    "header");
		if (!get_u64(r, K_V, UINT32_MAX, &u)) {
			*why = "header without a version";
			return 1;
		}
		if (u != PR_JOURNAL_VERSION) {
			char m[96];

			snprintf(m, sizeof(m), "journal version %llu (this "
			    "parrun reads version %d)", (unsigned long long)u,
			    PR_JOURNAL_VERSION);
			return fatal(L, PR_EJOURNAL, m);
		}
		if (r->has[K_SEED] && !get_u64(r, K_SEED, UINT64_MAX, &u)) {
			*why = "bad seed";
			return 1;
		}
		info->seed = r->has[K_SEED] ? u : 0;
		info->started = 0;
		if (r->has[K_STARTED] && r->v[K_STARTED].t == V_NUM &&
		    r->v[K_STARTED].len < 64) {
			char num[64];

			memcpy(num, L->ls + r->v[K_STARTED].off,
			    r->v[K_STARTED].len);
			num[r->v[K_STARTED].len] = '\0';
			info->started = strtod(num, NULL);
		}
		L->j->cur_acks = r->has[K_ACKS] && r->v[K_ACKS].t == V_TRUE;
		L->header = true;
		info->runs++;
		return 0;
	}
	if (!L->header)
		return fatal(L, PR_EJOURNAL, "not a parrun journal: the first "
		    "record is not a journal header");
	if (!r->has[K_TYPE] || r->v[K_TYPE].t != V_STR) {
		*why = "record without a type";
		return 1;
	}
	if (is_type(L, r, "dispatch")) {
		if (!get_u64(r, K_SEQ, UINT64_MAX, &seq) ||
		    !get_u64(r, K_ATTEMPT, UINT32_MAX, &u)) {
			*why = "dispatch without seq or attempt";
			return 1;
		}
		info->dispatches++;
		return 0;
	}
	if (!is_type(L, r, "submit") && !is_type(L, r, "result") &&
	    !is_type(L, r, "emitted")) {
		info->others++;
		return 0;
	}
	if (!get_u64(r, K_SEQ, UINT64_MAX, &seq)) {
		*why = "record without a valid seq";
		return 1;
	}
	hasfp = r->has[K_FP];
	if (hasfp && !get_fp(L, r, fp)) {
		*why = "bad fingerprint";
		return 1;
	}
	if (r->has[K_K] && !get_u64(r, K_K, M_COUNT - 1, &k)) {
		*why = "bad k";
		return 1;
	}
	if (r->has[K_ID_GIVEN] && r->v[K_ID_GIVEN].t != V_TRUE &&
	    r->v[K_ID_GIVEN].t != V_FALSE) {
		*why = "bad id_given";
		return 1;
	}
	if (is_type(L, r, "emitted")) {
		uint8_t key[16];

		if (!hasfp) {
			*why = "emitted record without a fingerprint";
			return 1;
		}
		info->emitted++;
		if ((rc = task_key(L->j, fp, (uint32_t)k, key)) < 0)
			return pr_err(L->eb, rc, "journal '%s': %s",
			    L->j->name, pr_strerror(rc));
		s = slot_find(L->j, key);
		if (s != NULL && (s->meta & M_UNACKED) != 0) {
			s->meta &= ~M_UNACKED;
			info->unemitted--;
		}
		return 0;
	}
	if (!r->has[K_ID] || r->v[K_ID].t != V_STR) {
		*why = "record without an id";
		return 1;
	}
	if (is_type(L, r, "submit")) {
		info->submits++;
		if (!hasfp)
			return 0;
		if ((rc = rec_slot(L, fp, k, &s)) < 0 ||
		    (rc = rec_id(L, r, fp)) < 0)
			return pr_err(L->eb, rc, "journal '%s': %s",
			    L->j->name, pr_strerror(rc));
		s->meta |= M_SUBMITTED;
		return 0;
	}
	/* a result */
	if (!r->has[K_STATUS] || r->v[K_STATUS].t != V_STR ||
	    r->v[K_STATUS].len > 16) {
		*why = "result without a status";
		return 1;
	} else {
		char name[17];

		memcpy(name, field_str(L, r, K_STATUS), r->v[K_STATUS].len);
		name[r->v[K_STATUS].len] = '\0';
		if (pr_status_parse(name, &st) != 0) {
			*why = "unknown status";
			return 1;
		}
	}
	if (!get_u64(r, K_ATTEMPT, UINT32_MAX, &u)) {
		*why = "result without an attempt";
		return 1;
	}
	info->results++;
	if (st == PR_ST_REJECTED)
		info->rejected++;
	if (!hasfp)
		return 0;	/* rejected, or fingerprints were off */
	if ((rc = rec_slot(L, fp, k, &s)) < 0 ||
	    (rc = rec_id(L, r, fp)) < 0)
		return pr_err(L->eb, rc, "journal '%s': %s", L->j->name,
		    pr_strerror(rc));
	{
		uint32_t old = (s->meta & M_ST) >> M_ST_SHIFT;

		if (old == 0)
			info->unfinished--;
		else
			info->by_status[old - 1]--;
		info->by_status[st]++;
		s->meta = (s->meta & ~M_ST) | ((uint32_t)st + 1) << M_ST_SHIFT;
		if ((s->meta & M_UNACKED) != 0) {
			s->meta &= ~M_UNACKED;
			info->unemitted--;
		}
		if (L->j->cur_acks) {
			s->meta |= M_UNACKED;
			info->unemitted++;
		}
	}
	return 0;
}

static bool
blank_byte(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Remember the first bad line: the torn end, unless records follow. */
static void
mark_bad(struct loader *L, const char *why, const char *s, size_t n)
{
	L->bad = true;
	L->bad_off = L->off;
	L->bad_line = L->line;
	snprintf(L->why, sizeof(L->why), "%s", why);
	L->headlen = n < sizeof(L->head) ? n : sizeof(L->head);
	if (L->headlen > 0)
		memcpy(L->head, s, L->headlen);
}

static int
damage(struct loader *L)
{
	unsigned long long at = (unsigned long long)L->bad_off;

	if (!L->header)
		return pr_err(L->eb, PR_EJOURNAL, "journal '%s': not a parrun "
		    "journal (line %lu is not a journal header)", L->j->name,
		    L->bad_line);
	return pr_err(L->eb, PR_EJOURNAL, "journal '%s': damaged record at "
	    "byte %llu (line %lu): %s; records follow it, so it is not a "
	    "torn end (to keep the records before it: truncate -s %llu "
	    "'%s')", L->j->name, at, L->bad_line, L->why, at, L->j->name);
}

/* One whole line s[0..n) (no LF) at L->off, number L->line. */
static int
do_line(struct loader *L, const char *s, size_t n)
{
	struct lp p;
	struct rec r;
	const char *why = NULL;
	size_t i = 0;
	int rc;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	if (i == n)
		return 0;		/* a blank line */
	if (memchr(s, '\0', n) != NULL) {
		why = "NUL bytes";
	} else if (!pr_utf8_valid(s, n, NULL)) {
		why = "invalid UTF-8";
	} else {
		pr_buf_reset(&L->strs);
		memset(&p, 0, sizeof(p));
		p.s = s;
		p.n = n;
		p.strs = &L->strs;
		if (lp_record(&p, &r) < 0) {
			if (p.oom)
				return pr_err(L->eb, -ENOMEM, "out of memory");
			why = p.why;
		} else {
			L->ls = s;
			if ((rc = apply(L, &r, &why)) < 0)
				return rc;
			if (rc == 0) {
				L->info->records++;
				return 0;
			}
		}
	}
	mark_bad(L, why, s, n);
	return 0;
}

static int
feed(struct loader *L, const char *d, size_t n)
{
	int rc;

	while (n > 0) {
		const char *lf = memchr(d, '\n', n);
		size_t take = lf != NULL ? (size_t)(lf - d) : n, i = 0, len;

		if (L->bad) {
			/* the rest of the bad line, then nothing but blank
			 * and NUL bytes (zeroed blocks), or it is damage */
			if (L->skip) {
				if (lf == NULL)
					return 0;
				L->skip = false;
				i = take + 1;
			}
			for (; i < n; i++)
				if (!blank_byte(d[i]))
					return damage(L);
			return 0;
		}
		if (take > PR_JOURNAL_MAX_LINE - L->carry.len) {
			mark_bad(L, "record longer than 64 KiB",
			    L->carry.len > 0 ? L->carry.data : d,
			    L->carry.len > 0 ? L->carry.len : take);
			L->skip = true;
			pr_buf_reset(&L->carry);
			continue;
		}
		if (lf == NULL) {
			if ((rc = pr_buf_add(&L->carry, d, n)) < 0)
				return pr_err(L->eb, rc, "out of memory");
			return 0;
		}
		if (L->carry.len > 0) {
			if ((rc = pr_buf_add(&L->carry, d, take)) < 0)
				return pr_err(L->eb, rc, "out of memory");
			len = L->carry.len;
			rc = do_line(L, L->carry.data, len);
			if (L->carry.cap > 2 * READ_SIZE)
				pr_buf_release(&L->carry);
			else
				pr_buf_reset(&L->carry);
		} else {
			len = take;
			rc = do_line(L, d, take);
		}
		if (rc < 0)
			return rc;
		L->off += len + 1;
		L->line++;
		d += take + 1;
		n -= take + 1;
	}
	return 0;
}

/* The start of a header, which a torn first record must begin with. */
static const char header_start[] = "{\"journal\":\"parrun\"";

static int
finish(struct loader *L, uint64_t total)
{
	struct pr_journal_info *info = L->info;
	size_t i;

	if (!L->bad && L->carry.len > 0) {
		bool blank = true;

		for (i = 0; i < L->carry.len; i++)
			if (!blank_byte(L->carry.data[i]))
				blank = false;
		mark_bad(L, blank ? "blank or zero bytes at the end" :
		    "no line feed at the end (the record was cut)",
		    L->carry.data, L->carry.len);
	}
	if (!L->bad) {
		info->size = total;
		return 0;
	}
	if (!L->header) {
		/* a torn first record must be a torn header: never cut a
		 * file that is not a journal */
		size_t n = L->headlen < sizeof(header_start) - 1 ?
		    L->headlen : sizeof(header_start) - 1;
		bool zero = true;

		for (i = 0; i < L->headlen; i++)
			if (!blank_byte(L->head[i]))
				zero = false;
		if (!zero && memcmp(L->head, header_start, n) != 0)
			return pr_err(L->eb, PR_EJOURNAL, "journal '%s': not "
			    "a parrun journal (line %lu is not a journal "
			    "header)", L->j->name, L->bad_line);
	}
	info->torn = true;
	info->torn_offset = L->bad_off;
	info->torn_bytes = total - L->bad_off;
	info->torn_line = L->bad_line;
	snprintf(info->torn_reason, sizeof(info->torn_reason), "%s", L->why);
	info->size = L->bad_off;
	return 0;
}

static void
loader_init(struct loader *L, struct pr_journal *j,
    struct pr_journal_info *info, struct pr_errbuf *eb)
{
	memset(L, 0, sizeof(*L));
	L->j = j;
	L->info = info;
	L->eb = eb;
	L->line = 1;
	pr_buf_init(&L->carry, 0);
	pr_buf_init(&L->strs, 0);
	memset(info, 0, sizeof(*info));
}

static void
loader_release(struct loader *L)
{
	pr_buf_release(&L->carry);
	pr_buf_release(&L->strs);
}

static int
load_fd(struct pr_journal *j, int fd, bool positional,
    struct pr_journal_info *info, struct pr_errbuf *eb)
{
	struct loader L;
	uint64_t off = 0;
	char *buf;
	int rc = 0;

	loader_init(&L, j, info, eb);
	buf = malloc(READ_SIZE);
	if (buf == NULL) {
		rc = pr_err(eb, -ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = positional ? pread(fd, buf, READ_SIZE, (off_t)off) :
		    read(fd, buf, READ_SIZE);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			pr_err(eb, rc, "cannot read journal '%s': %s", j->name,
			    pr_strerror(rc));
			goto out;
		}
		if (r == 0)
			break;
		if ((rc = feed(&L, buf, (size_t)r)) < 0)
			goto out;
		off += (uint64_t)r;
	}
	rc = finish(&L, off);
out:
	free(buf);
	loader_release(&L);
	return rc;
}

int
pr_journal_load_fd(struct pr_journal **out, int fd, const char *name,
    bool retry_failed, struct pr_journal_info *info, struct pr_errbuf *eb)
{
	struct pr_journal_info local;
	struct pr_journal *j;
	int rc;

	*out = NULL;
	if ((rc = journal_new(&j, name, retry_failed)) < 0)
		return pr_err(eb, rc, "out of memory");
	if ((rc = load_fd(j, fd, false, info ? info : &local, eb)) < 0) {
		journal_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

int
pr_journal_load(struct pr_journal **out, const char *path, bool retry_failed,
    struct pr_journal_info *info, struct pr_errbuf *eb)
{
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return pr_err(eb, rc, "cannot open journal '%s': %s", path,
		    rc == -ELOOP ? "it is a symbolic link" : pr_strerror(rc));
	}
	rc = pr_journal_load_fd(out, fd, path, retry_failed, info, eb);
	close(fd);
	return rc;
}

int
pr_journal_load_mem(struct pr_journal **out, const char *data, size_t len,
    const char *name, bool retry_failed, struct pr_journal_info *info,
    struct pr_errbuf *eb)
{
	struct pr_journal_info local;
	struct pr_journal *j;
	struct loader L;
	int rc;

	*out = NULL;
	if ((rc = journal_new(&j, name, retry_failed)) < 0)
		return pr_err(eb, rc, "out of memory");
	loader_init(&L, j, info ? info : &local, eb);
	if ((rc = feed(&L, data, len)) == 0)
		rc = finish(&L, len);
	loader_release(&L);
	if (rc < 0) {
		journal_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

/* ---- deciding ------------------------------------------------------------ */

const char *
pr_journal_decision_name(enum pr_journal_decision d)
{
	switch (d) {
	case PR_JOURNAL_RUN:		return "run";
	case PR_JOURNAL_RERUN:		return "rerun";
	case PR_JOURNAL_SKIP_DONE:	return "skip-done";
	case PR_JOURNAL_SKIP_FAILED:	return "skip-failed";
	case PR_JOURNAL_RETRY_FAILED:	return "retry-failed";
	case PR_JOURNAL_UNEMITTED:	return "unemitted";
	case PR_JOURNAL_CHANGED:	return "changed";
	}
	return "unknown";
}

bool
pr_journal_runs(enum pr_journal_decision d)
{
	return d == PR_JOURNAL_RUN || d == PR_JOURNAL_RERUN ||
	    d == PR_JOURNAL_RETRY_FAILED || d == PR_JOURNAL_UNEMITTED;
}

int
pr_journal_decide(struct pr_journal *j, struct pr_task *t,
    enum pr_status *prev)
{
	struct slot *base, *s;
	uint8_t key[16];
	uint32_t k = 0, st;
	int rc;

	t->fp_dup = 0;
	if (!t->has_fingerprint || j->n == 0)
		return PR_JOURNAL_RUN;
	/* number the identical tasks: only fingerprints the journal knows
	 * need counting (journal.h) */
	base = slot_find(j, t->fingerprint);
	if (base != NULL) {
		k = base->meta & M_COUNT;
		if (k == M_COUNT)
			return PR_ELIMIT;
		base->meta++;
	}
	t->fp_dup = k;
	if (t->id_given && j->nids > 0) {
		struct idslot *is;

		if ((rc = id_key(j, t->id, strlen(t->id), key)) < 0)
			return rc;
		is = id_find(j, key);
		if (is != NULL && memcmp(is->fp, t->fingerprint, 16) != 0)
			return PR_JOURNAL_CHANGED;
	}
	s = base;
	if (k > 0) {
		if ((rc = task_key(j, t->fingerprint, k, key)) < 0)
			return rc;
		s = slot_find(j, key);
	}
	if (s == NULL || (st = (s->meta & M_ST) >> M_ST_SHIFT) == 0)
		return PR_JOURNAL_RUN;
	st--;
	if (prev != NULL)
		*prev = (enum pr_status)st;
	switch ((enum pr_status)st) {
	case PR_ST_OK:
	case PR_ST_FAILED:
	case PR_ST_TIMEOUT:
	case PR_ST_ERROR:
		if ((s->meta & M_UNACKED) != 0)
			return PR_JOURNAL_UNEMITTED;
		if (st == PR_ST_OK)
			return PR_JOURNAL_SKIP_DONE;
		return j->retry_failed ? PR_JOURNAL_RETRY_FAILED :
		    PR_JOURNAL_SKIP_FAILED;
	case PR_ST_CANCELLED:
	case PR_ST_LOST:
		return PR_JOURNAL_RERUN;
	case PR_ST_REJECTED:
		break;
	}
	return PR_JOURNAL_RUN;
}

/* ---- writing ------------------------------------------------------------- */

static int
sticky(struct pr_journal *j, struct pr_errbuf *eb)
{
	return pr_err(eb, j->err, "%s", j->errmsg);
}

static int
stick(struct pr_journal *j, struct pr_errbuf *eb, int code, const char *what)
{
	j->err = code;
	snprintf(j->errmsg, sizeof(j->errmsg), "%s", what);
	return sticky(j, eb);
}

static int
writable(struct pr_journal *j)
{
	if (j->err != 0)
		return j->err;
	if (j->fd < 0)
		return -EBADF;
	return 0;
}

static void
buf_cut(struct pr_buf *b, size_t n)
{
	b->len = n;
	if (b->data != NULL)
		b->data[n] = '\0';
}

static int
add_fp(struct pr_buf *b, const struct pr_task *t)
{
	char hex[65];
	int rc;

	if (!t->has_fingerprint)
		return 0;
	pr_journal_fp_hex(t->fingerprint, hex);
	if ((rc = ADDLIT(b, ",\"fp\":\"")) < 0 ||
	    (rc = pr_buf_add(b, hex, 64)) < 0 ||
	    (rc = pr_buf_addc(b, '"')) < 0)
		return rc;
	if (t->fp_dup > 0 && ((rc = ADDLIT(b, ",\"k\":")) < 0 ||
	    (rc = pr_buf_add_u64(b, t->fp_dup)) < 0))
		return rc;
	return 0;
}

/* {"type":TYPE,"seq":N,"id":ID,"fp":..,"k":..,"id_given":true (no end) */
static int
add_task(struct pr_buf *b, const char *type, const struct pr_task *t,
    bool id)
{
	int rc;

	if ((rc = ADDLIT(b, "{\"type\":\"")) < 0 ||
	    (rc = pr_buf_adds(b, type)) < 0 ||
	    (rc = ADDLIT(b, "\",\"seq\":")) < 0 ||
	    (rc = pr_buf_add_u64(b, t->seq)) < 0)
		return rc;
	if (id && ((rc = ADDLIT(b, ",\"id\":")) < 0 ||
	    (rc = pr_json_add_cstr(b, t->id != NULL ? t->id : "")) < 0))
		return rc;
	if ((rc = add_fp(b, t)) < 0)
		return rc;
	if (id && t->id_given && (rc = ADDLIT(b, ",\"id_given\":true")) < 0)
		return rc;
	return 0;
}

int
pr_journal_submit(struct pr_journal *j, const struct pr_task *t)
{
	size_t mark = j->wbuf.len;
	int rc;

	if ((rc = writable(j)) < 0)
		return rc;
	if ((rc = add_task(&j->wbuf, "submit", t, true)) < 0 ||
	    (rc = ADDLIT(&j->wbuf, "}\n")) < 0)
		buf_cut(&j->wbuf, mark);
	return rc;
}

int
pr_journal_dispatch(struct pr_journal *j, uint64_t seq, int attempt,
    int worker, const char *host)
{
	struct pr_buf *b = &j->wbuf;
	size_t mark = b->len;
	int rc;

	if ((rc = writable(j)) < 0)
		return rc;
	if ((rc = ADDLIT(b, "{\"type\":\"dispatch\",\"seq\":")) < 0 ||
	    (rc = pr_buf_add_u64(b, seq)) < 0 ||
	    (rc = ADDLIT(b, ",\"attempt\":")) < 0 ||
	    (rc = pr_buf_add_i64(b, attempt)) < 0 ||
	    (rc = ADDLIT(b, ",\"worker\":")) < 0 ||
	    (rc = pr_buf_add_i64(b, worker)) < 0)
		goto fail;
	if (host != NULL && pr_json_is_text(host, strlen(host)) &&
	    ((rc = ADDLIT(b, ",\"host\":")) < 0 ||
	    (rc = pr_json_add_cstr(b, host)) < 0))
		goto fail;
	if ((rc = ADDLIT(b, "}\n")) < 0)
		goto fail;
	return 0;
fail:
	buf_cut(b, mark);
	return rc;
}

int
pr_journal_result(struct pr_journal *j, const struct pr_task *t,
    enum pr_status status, int attempt, int exit)
{
	struct pr_buf *b = &j->wbuf;
	size_t mark = b->len;
	int rc;

	if ((rc = writable(j)) < 0)
		return rc;
	if ((rc = add_task(b, "result", t, true)) < 0 ||
	    (rc = ADDLIT(b, ",\"status\":\"")) < 0 ||
	    (rc = pr_buf_adds(b, pr_status_name(status))) < 0 ||
	    (rc = ADDLIT(b, "\",\"attempt\":")) < 0 ||
	    (rc = pr_buf_add_i64(b, attempt)) < 0 ||
	    (rc = ADDLIT(b, ",\"exit\":")) < 0 ||
	    (rc = exit >= 0 ? pr_buf_add_i64(b, exit) :
	    ADDLIT(b, "null")) < 0 ||
	    (rc = ADDLIT(b, "}\n")) < 0) {
		buf_cut(b, mark);
		return rc;
	}
	j->need_sync = true;
	return 0;
}

int
pr_journal_emitted(struct pr_journal *j, const struct pr_task *t)
{
	size_t mark = j->wbuf.len;
	int rc;

	if ((rc = writable(j)) < 0)
		return rc;
	if (!j->acks || !t->has_fingerprint)
		return 0;	/* nobody will look for it */
	if ((rc = add_task(&j->wbuf, "emitted", t, false)) < 0 ||
	    (rc = ADDLIT(&j->wbuf, "}\n")) < 0)
		buf_cut(&j->wbuf, mark);
	return rc;
}

/* Write the whole buffer.  On failure cut off what this call wrote (its
 * results were not synced, so none of their output was written). */
static int
flush(struct pr_journal *j, struct pr_errbuf *eb)
{
	const char *d = j->wbuf.data;
	size_t len = j->wbuf.len, at = 0;
	char m[PR_ERRBUF_LEN];
	bool partial;
	int rc;

	while (at < len) {
		ssize_t w;

		j->st.writes++;
		w = j->write_fn != NULL ?
		    j->write_fn(j->hook_arg, j->fd, d + at, len - at) :
		    write(j->fd, d + at, len - at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			goto fail;
		}
		at += (size_t)w;
		j->st.bytes += (uint64_t)w;
	}
	j->fsize += len;
	j->dirty = true;
	if (j->wbuf.cap > 4 * FLUSH_AT)
		pr_buf_release(&j->wbuf);
	else
		pr_buf_reset(&j->wbuf);
	return 0;
fail:
	partial = at > 0 && ftruncate(j->fd, (off_t)j->fsize) != 0;
	snprintf(m, sizeof(m), "cannot write journal '%s': %s%s", j->name,
	    pr_strerror(rc), partial ? " (and a partial record remains at "
	    "its end)" : "");
	return stick(j, eb, rc, m);
}

static int
datasync(struct pr_journal *j, struct pr_errbuf *eb)
{
	char m[PR_ERRBUF_LEN];
	int r, rc;

	j->st.syncs++;
	r = j->sync_fn != NULL ? j->sync_fn(j->hook_arg, j->fd) :
	    fdatasync(j->fd);
	if (r != 0) {
		rc = errno != 0 ? -errno : -EIO;
		snprintf(m, sizeof(m), "cannot sync journal '%s': %s",
		    j->name, pr_strerror(rc));
		return stick(j, eb, rc, m);
	}
	j->need_sync = false;
	j->dirty = false;
	return 0;
}

int
pr_journal_sync(struct pr_journal *j, struct pr_errbuf *eb)
{
	int rc;

	if (j->err != 0)
		return sticky(j, eb);
	if (j->fd < 0)
		return pr_err(eb, -EBADF, "journal '%s' was opened to be read",
		    j->name);
	if (!j->need_sync && j->wbuf.len < FLUSH_AT)
		return 0;
	if (j->wbuf.len > 0 && (rc = flush(j, eb)) < 0)
		return rc;
	if (j->need_sync)
		return datasync(j, eb);
	return 0;
}

int
pr_journal_close(struct pr_journal *j, struct pr_errbuf *eb)
{
	int rc = 0;

	if (j == NULL)
		return 0;
	if (j->err != 0) {
		rc = sticky(j, eb);
	} else if (j->fd >= 0) {
		if (j->wbuf.len > 0)
			rc = flush(j, eb);
		if (rc == 0 && (j->dirty || j->need_sync))
			rc = datasync(j, eb);
	}
	journal_free(j);
	return rc;
}

/* ---- opening ------------------------------------------------------------- */

/* Make the new file's name durable: fsync its directory (best effort). */
static void
sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

static int
add_header(struct pr_journal *j, const struct pr_journal_opts *o)
{
	struct pr_buf *b = &j->wbuf;
	double t = o->started;
	int rc;

	if (t == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		t = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1e3;
	}
	if ((rc = ADDLIT(b, "{\"journal\":\"parrun\",\"v\":")) < 0 ||
	    (rc = pr_buf_add_i64(b, PR_JOURNAL_VERSION)) < 0 ||
	    (rc = ADDLIT(b, ",\"seed\":")) < 0 ||
	    (rc = pr_buf_add_u64(b, o->seed)) < 0 ||
	    (rc = ADDLIT(b, ",\"started\":")) < 0 ||
	    (rc = pr_buf_add_double(b, t)) < 0 ||
	    (o->acks && (rc = ADDLIT(b, ",\"acks\":true")) < 0) ||
	    (rc = ADDLIT(b, "}\n")) < 0)
		return rc;
	j->need_sync = true;
	return 0;
}

int
pr_journal_open(struct pr_journal **out, const struct pr_journal_opts *o,
    struct pr_journal_info *info, struct pr_errbuf *eb)
{
	struct pr_journal_info local;
	struct pr_journal *j = NULL;
	struct flock fl;
	struct stat sb;
	bool created = false;
	int fd, rc;

	*out = NULL;
	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	if (o->path == NULL || o->path[0] == '\0')
		return pr_err(eb, PR_ECONFIG, "no journal file given");
	if ((rc = journal_new(&j, o->path, o->retry_failed)) < 0)
		return pr_err(eb, rc, "out of memory");
	j->acks = o->acks;
	j->write_fn = o->write_fn;
	j->sync_fn = o->sync_fn;
	j->hook_arg = o->hook_arg;

	fd = open(o->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd >= 0)
		created = true;
	else if (errno == EEXIST)
		fd = open(o->path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			rc = pr_err(eb, PR_EJOURNAL, "journal '%s' is a "
			    "symbolic link (not followed)", o->path);
		else
			pr_err(eb, rc, "cannot open journal '%s': %s", o->path,
			    pr_strerror(rc));
		goto fail;
	}
	j->fd = fd;
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
		pr_err(eb, rc, "cannot open journal '%s': %s", o->path,
		    pr_strerror(rc));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = pr_err(eb, PR_EJOURNAL, "journal '%s' is not a regular "
		    "file", o->path);
		goto fail;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) != 0 && (errno == EACCES ||
	    errno == EAGAIN)) {
		rc = pr_err(eb, PR_EJOURNAL, "journal '%s' is in use by "
		    "another process", o->path);
		goto fail;
	}
	if (o->resume) {
		if ((rc = load_fd(j, fd, true, info, eb)) < 0)
			goto fail;
		if (info->torn) {
			if (ftruncate(fd, (off_t)info->size) != 0) {
				rc = -errno;
				pr_err(eb, rc, "cannot cut the torn end of "
				    "journal '%s': %s", o->path,
				    pr_strerror(rc));
				goto fail;
			}
			info->cut = true;
			j->dirty = true;
		}
		j->fsize = info->size;
	} else if (sb.st_size > 0) {
		rc = pr_err(eb, PR_EJOURNAL, "journal '%s' already has "
		    "records: continue it with --resume, or remove it",
		    o->path);
		goto fail;
	}
	if ((rc = add_header(j, o)) < 0) {
		pr_err(eb, rc, "out of memory");
		goto fail;
	}
	if ((rc = pr_journal_sync(j, eb)) < 0)
		goto fail;
	if (created)
		sync_dir(o->path);
	*out = j;
	return 0;
fail:
	journal_free(j);
	return rc;
}

/* ---- the summary --------------------------------------------------------- */

static const enum pr_status shown[] = {
	PR_ST_OK, PR_ST_FAILED, PR_ST_TIMEOUT, PR_ST_ERROR, PR_ST_CANCELLED,
	PR_ST_LOST,
};

int
pr_journal_format_info(struct pr_buf *out, const char *name,
    const struct pr_journal_info *in, bool json)
{
	size_t i;
	int rc;

	if (json) {
		if ((rc = ADDLIT(out, "{\"journal\":")) < 0 ||
		    (rc = pr_json_add_cstr(out, name)) < 0 ||
		    (rc = pr_buf_addf(out, ",\"runs\":%llu,\"seed\":%llu,"
		    "\"tasks\":%llu", (unsigned long long)in->runs,
		    (unsigned long long)in->seed,
		    (unsigned long long)in->tasks)) < 0)
			return rc;
		for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
			if ((rc = pr_buf_addf(out, ",\"%s\":%llu",
			    pr_status_name(shown[i]),
			    (unsigned long long)in->by_status[shown[i]])) < 0)
				return rc;
		if ((rc = pr_buf_addf(out, ",\"unfinished\":%llu,"
		    "\"unemitted\":%llu,\"rejected\":%llu,\"records\":%llu,"
		    "\"bytes\":%llu", (unsigned long long)in->unfinished,
		    (unsigned long long)in->unemitted,
		    (unsigned long long)in->rejected,
		    (unsigned long long)in->records,
		    (unsigned long long)in->size)) < 0)
			return rc;
		if (in->torn && (rc = pr_buf_addf(out, ",\"torn\":{\"offset\":"
		    "%llu,\"line\":%lu,\"bytes\":%llu,\"reason\":",
		    (unsigned long long)in->torn_offset, in->torn_line,
		    (unsigned long long)in->torn_bytes)) < 0)
			return rc;
		if (in->torn && ((rc = pr_json_add_cstr(out,
		    in->torn_reason)) < 0 || (rc = pr_buf_addc(out,
		    '}')) < 0))
			return rc;
		return ADDLIT(out, "}\n");
	}
	if ((rc = pr_buf_addf(out, "journal '%s': %llu run%s, seed %llu, "
	    "%llu task%s\n ", name, (unsigned long long)in->runs,
	    in->runs == 1 ? "" : "s", (unsigned long long)in->seed,
	    (unsigned long long)in->tasks, in->tasks == 1 ? "" : "s")) < 0)
		return rc;
	for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		if ((rc = pr_buf_addf(out, "%s %s %llu", i > 0 ? "," : "",
		    pr_status_name(shown[i]),
		    (unsigned long long)in->by_status[shown[i]])) < 0)
			return rc;
	if ((rc = pr_buf_addf(out, "\n  unfinished %llu, rejected %llu",
	    (unsigned long long)in->unfinished,
	    (unsigned long long)in->rejected)) < 0)
		return rc;
	if (in->unemitted > 0 && (rc = pr_buf_addf(out, ", output not "
	    "confirmed %llu", (unsigned long long)in->unemitted)) < 0)
		return rc;
	if ((rc = pr_buf_addc(out, '\n')) < 0)
		return rc;
	if (in->torn && (rc = pr_buf_addf(out, "  torn last record at byte "
	    "%llu (line %lu), %llu bytes: %s\n",
	    (unsigned long long)in->torn_offset, in->torn_line,
	    (unsigned long long)in->torn_bytes, in->torn_reason)) < 0)
		return rc;
	return 0;
}
