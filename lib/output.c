/*
 * output.c - see output.h.
 *
 * The fast path is a record that can be written at once (no keep_order,
 * or its turn has come) and has no held chunks: its bytes go straight from
 * the borrowed record into the per-fd buffers, nothing is allocated.
 *
 * Anything that has to wait (an early record with keep_order, chunks of a
 * running task) is a struct held, found by seq in a small open-addressing
 * table.  Its output is a list of segments (one per chunk, one each for
 * the record's own stdout and stderr), each in memory or in the spill
 * file.  Segments start at line starts (chunks are whole lines), so tags
 * can be added when a segment is written.
 *
 * Without keep_order the lowest unwritten seq is tracked with a bitmap
 * that slides over [next, next + bits): one bit per seq that finished out
 * of order, so the memory is what the coordinator's dispatch window
 * allows.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "progress.h"

#define SINK_MAX	(64 * 1024)	/* buffer flushed past this */
#define IO_PIECE	(64 * 1024)	/* spill read-back unit */
#define HELD_COST	128		/* bookkeeping bytes per entry */
#define MAX_AHEAD	((uint64_t)1 << 30)	/* seqs ahead of next */
#define PART_MAX	(64 * 1024)	/* longest line held back whole */
#define NB_MEM		(4u << 20)	/* queued bytes in memory per sink */
#define OVF_PIECE	(256 * 1024)	/* overflow read-back unit */

struct sink {
	int fd;			/* where the bytes go */
	bool own;		/* we opened it: close it */
	bool dead;		/* a write failed: drop what comes */
	int error;		/* why it is dead */
	bool tty_shared;	/* out or err: clear the progress first */
	const char *name;	/* for messages */
	struct sink *peer;	/* the other of out/err when both reach the
				 * same file: keep the order between them */
	struct sink *fwd;	/* non-blocking err on out's file: its bytes
				 * join out's queue, which keeps the order */
	struct pr_buf buf;
	/* Non-blocking (a pipe, a socket, a terminal): writes never wait;
	 * buf[off..len) waits for the fd, then the overflow file's
	 * [ovf_rd, ovf_wr) (bytes past NB_MEM), in that order. */
	bool nb;
	bool sock;		/* send(MSG_DONTWAIT) on the user's fd */
	int nbfd;		/* our own open file description of the
				 * user's pipe or terminal, or -1 */
	size_t off;
	int ovf_fd;
	off_t ovf_rd, ovf_wr;
};

struct seg {
	struct seg *next;
	int stream;		/* 1 or 2 */
	bool written;		/* already on out_fd/err_fd */
	bool spilled;
	off_t off;		/* in the spill file */
	size_t len;
	char data[];		/* when not spilled */
};

struct held {
	uint64_t seq;
	bool have_rec;
	bool live;		/* line_buffer head: chunks go out at once */
	struct pr_record rec;	/* strings point into meta */
	char *meta;
	struct seg *head, *tail;
	size_t mem;		/* bytes counted in o->held_bytes */
	int spill_err;		/* first failure to keep output, or 0 */
	char *tagcopy;		/* tag of chunks before the record */
	/* line_buffer, per stream: the unterminated tail of what came so
	 * far (written when its newline comes), and whether what was
	 * written ends inside a line (an over-long line was cut) */
	struct pr_buf part[2];
	bool midline[2];
};

struct pr_output {
	struct pr_output_opts opts;
	char *results_path, *joblog_path, *spill_dir;

	struct sink out, err, res_sink, log_sink;
	struct sink *res;	/* NULL, &res_sink or &out */
	struct sink *log;	/* NULL, &log_sink or &out */
	bool out_to_tty_ok;	/* task stdout goes to out_fd */

	uint64_t next;		/* lowest seq not written */
	char localhost[256];	/* this machine's name: ":" in the joblog */

	/* held entries by seq: open addressing, linear probing */
	struct held **tab;
	size_t tabcap, tabn;
	size_t nrec_held;	/* entries with a record */
	size_t held_bytes;

	/* without keep_order: seqs > next already written */
	uint64_t *bits;
	size_t nbits;		/* power of two, or 0 */

	int spill_fd;
	off_t spill_end;
	size_t spill_live;	/* spilled segments not yet freed */

	struct pr_buf line;	/* a results/joblog line being built */
	struct pr_buf sout, serr;	/* whole output, for results */
	struct pr_buf tmp;

	struct pr_output_stats st;
};

static const char *const status_names[] = {
	[PR_ST_OK] = "ok",
	[PR_ST_FAILED] = "failed",
	[PR_ST_TIMEOUT] = "timeout",
	[PR_ST_CANCELLED] = "cancelled",
	[PR_ST_ERROR] = "error",
	[PR_ST_LOST] = "lost",
	[PR_ST_REJECTED] = "rejected",
};

const char *
pr_output_status_name(enum pr_status s)
{
	if ((size_t)s < sizeof(status_names) / sizeof(status_names[0]) &&
	    status_names[s] != NULL)
		return status_names[s];
	return "error";
}

void
pr_output_opts_init(struct pr_output_opts *oo)
{
	memset(oo, 0, sizeof(*oo));
	oo->out_fd = 1;
	oo->err_fd = 2;
	oo->hold_max = PR_OUTPUT_HOLD_MAX;
	oo->first_seq = PR_OUTPUT_FIRST_SEQ;
}

/* ---- writing ---------------------------------------------------------- */

static int
write_all(struct pr_output *o, int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;

		if (o->opts.write_fn != NULL)
			w = o->opts.write_fn(o->opts.write_arg, fd, p, n);
		else
			w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = { .fd = fd,
				    .events = POLLOUT };

				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					return -errno;
				continue;
			}
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
sink_init(struct sink *s, int fd, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->name = name;
	s->nbfd = -1;
	s->ovf_fd = -1;
	pr_buf_init(&s->buf, 0);
}

/* An unlinked temp file in dir, close-on-exec. */
static int
tmp_open(const char *dir, int *fdp)
{
	struct pr_buf path;
	int fd, rc = 0;

	if (*fdp >= 0)
		return 0;
	pr_buf_init(&path, 0);
	if (pr_buf_addf(&path, "%s/parrun-spill-XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkstemp(path.data);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	unlink(path.data);
	/* mkostemp() is not POSIX; workers are spawned later anyway */
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	*fdp = fd;
out:
	pr_buf_release(&path);
	return rc;
}

/* Append p[0..n) at *end of the temp file *fdp (opened when needed). */
static int
tmp_append(struct pr_output *o, int *fdp, off_t *end, const char *p,
    size_t n)
{
	int rc = tmp_open(o->spill_dir, fdp);

	if (rc < 0)
		return rc;
	if (lseek(*fdp, *end, SEEK_SET) < 0)
		return -errno;
	rc = write_all(o, *fdp, p, n);
	if (rc < 0)
		return rc;
	*end += (off_t)n;
	return 0;
}

static size_t
sink_pending(const struct sink *s)
{
	if (s->dead)
		return 0;
	return s->buf.len - s->off + (size_t)(s->ovf_wr - s->ovf_rd);
}

static void
ovf_reset(struct sink *s)
{
	if (s->ovf_fd >= 0 && s->ovf_wr > 0)
		(void)ftruncate(s->ovf_fd, 0);
	s->ovf_rd = s->ovf_wr = 0;
}

static int
sink_fail(struct sink *s, int rc, struct pr_errbuf *eb)
{
	s->dead = true;
	s->error = rc;
	pr_buf_release(&s->buf);
	s->off = 0;
	ovf_reset(s);
	return pr_err(eb, rc, "cannot write to %s: %s", s->name,
	    pr_strerror(rc));
}

static int
sink_write(struct pr_output *o, struct sink *s, const char *p, size_t n,
    struct pr_errbuf *eb)
{
	int rc;

	if (s->tty_shared && o->opts.progress != NULL)
		pr_progress_clear(o->opts.progress);
	rc = write_all(o, s->fd, p, n);
	if (rc < 0)
		return sink_fail(s, rc, eb);
	return 0;
}

/* Move the next piece of the overflow file into the (empty) buffer. */
static int
ovf_load(struct sink *s)
{
	size_t n = (size_t)(s->ovf_wr - s->ovf_rd);
	ssize_t r;

	if (n > OVF_PIECE)
		n = OVF_PIECE;
	pr_buf_reset(&s->buf);
	s->off = 0;
	if (pr_buf_grow(&s->buf, n) < 0)
		return -ENOMEM;
	do
		r = pread(s->ovf_fd, s->buf.data, n, s->ovf_rd);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -EIO;	/* shorter than what we wrote */
	s->buf.len = (size_t)r;
	s->ovf_rd += r;
	if (s->ovf_rd == s->ovf_wr)
		ovf_reset(s);
	return 0;
}

/* Non-blocking sink: write what the fd takes now.  *more: bytes left. */
static int
nb_flush(struct pr_output *o, struct sink *s, bool *more,
    struct pr_errbuf *eb)
{
	int rc;

	*more = false;
	while (!s->dead) {
		size_t n = s->buf.len - s->off;
		const char *p = s->buf.data + s->off;
		ssize_t w;

		if (n == 0) {
			pr_buf_reset(&s->buf);
			s->off = 0;
			if (s->ovf_wr == s->ovf_rd)
				return 0;
			if ((rc = ovf_load(s)) < 0)
				return sink_fail(s, rc, eb);
			continue;
		}
		if (s->tty_shared && o->opts.progress != NULL)
			pr_progress_clear(o->opts.progress);
		if (o->opts.write_fn != NULL)
			w = o->opts.write_fn(o->opts.write_arg, s->fd, p, n);
		else if (s->sock)
			w = send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = write(s->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				*more = true;
				return 0;
			}
			return sink_fail(s, -errno, eb);
		}
		if (w == 0)
			return sink_fail(s, -EIO, eb);
		s->off += (size_t)w;
	}
	return 0;
}

/* Non-blocking sink: write everything, waiting for the fd (the end of
 * the run, or no room for the overflow file). */
static int
nb_drain(struct pr_output *o, struct sink *s, struct pr_errbuf *eb)
{
	bool more = true;
	int rc;

	while (more) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

		if ((rc = nb_flush(o, s, &more, eb)) < 0)
			return rc;
		if (more && poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return sink_fail(s, -errno, eb);
	}
	return 0;
}

/* Non-blocking sink: queue p[0..n), in memory up to NB_MEM, past that in
 * the overflow file; the bytes go out in pr_output_flush() (or now, a
 * batch at a time, when hold_until_flush is not set). */
static int
nb_put(struct pr_output *o, struct sink *s, const char *p, size_t n,
    struct pr_errbuf *eb)
{
	size_t queued = s->buf.len - s->off;
	bool more;
	int rc;

	if (s->ovf_wr > s->ovf_rd || queued + n > NB_MEM) {
		if (tmp_append(o, &s->ovf_fd, &s->ovf_wr, p, n) == 0) {
			o->st.overflowed += n;
			return 0;
		}
		/* no room for it on disk: wait for the reader instead, so
		 * nothing is lost (what went in before goes first) */
		if ((rc = nb_drain(o, s, eb)) < 0)
			return rc;
		return sink_write(o, s, p, n, eb);
	}
	if (s->off > 0 && s->off >= queued) {
		memmove(s->buf.data, s->buf.data + s->off, queued);
		s->buf.len = queued;
		s->off = 0;
	}
	if (pr_buf_add(&s->buf, p, n) < 0)
		return pr_err(eb, -ENOMEM, "out of memory");
	if (s->buf.len - s->off >= SINK_MAX && !o->opts.hold_until_flush)
		return nb_flush(o, s, &more, eb);
	return 0;
}

static int
sink_flush(struct pr_output *o, struct sink *s, struct pr_errbuf *eb)
{
	int rc;
	bool more;

	if (s->nb)
		return nb_flush(o, s, &more, eb);
	if (s->dead || s->buf.len == 0)
		return 0;
	rc = sink_write(o, s, s->buf.data, s->buf.len, eb);
	if (rc == 0)
		pr_buf_reset(&s->buf);
	return rc;
}

static int
sink_put(struct pr_output *o, struct sink *s, const char *p, size_t n,
    struct pr_errbuf *eb)
{
	int rc;

	if (s->fwd != NULL)
		s = s->fwd;
	if (s->dead || n == 0)
		return 0;
	if (s->nb)
		return nb_put(o, s, p, n, eb);
	if (s->peer != NULL && s->peer->buf.len > 0 &&
	    (rc = sink_flush(o, s->peer, eb)) < 0)
		return rc;
	if (s->buf.len + n <= SINK_MAX || o->opts.hold_until_flush) {
		if (pr_buf_add(&s->buf, p, n) < 0)
			return pr_err(eb, -ENOMEM, "out of memory");
		return 0;
	}
	if ((rc = sink_flush(o, s, eb)) < 0)
		return rc;
	if (n >= SINK_MAX / 2)
		return sink_write(o, s, p, n, eb);
	if (pr_buf_add(&s->buf, p, n) < 0)
		return pr_err(eb, -ENOMEM, "out of memory");
	return 0;
}

/* Keep the first error: later ones are usually its consequences. */
static void
keep_err(int *first, int rc)
{
	if (*first == 0 && rc < 0)
		*first = rc;
}

/*
 * Write task output, tagged when tag is not NULL.  *bol says whether the
 * next byte starts a line.
 */
static int
put_output(struct pr_output *o, struct sink *s, const char *tag,
    bool *bol, const char *p, size_t n, struct pr_errbuf *eb)
{
	size_t taglen;
	int rc = 0;

	if (s->dead || n == 0)
		return 0;
	if (tag == NULL)
		return sink_put(o, s, p, n, eb);
	taglen = strlen(tag);
	while (n > 0 && rc == 0) {
		const char *nl;
		size_t k;

		if (*bol) {
			rc = sink_put(o, s, tag, taglen, eb);
			if (rc == 0)
				rc = sink_put(o, s, "\t", 1, eb);
			*bol = false;
		}
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (rc == 0)
			rc = sink_put(o, s, p, k, eb);
		if (nl != NULL)
			*bol = true;
		p += k;
		n -= k;
	}
	return rc;
}

/* ---- strings for JSON ------------------------------------------------- */

/* A C string as a JSON string; invalid UTF-8 becomes U+FFFD. */
static int
add_text(struct pr_buf *b, const char *s)
{
	size_t n = strlen(s), bad, i = 0;
	struct pr_buf tmp;
	int rc;

	if (pr_utf8_valid(s, n, &bad))
		return pr_json_add_str(b, s, n);
	pr_buf_init(&tmp, 0);
	rc = 0;
	while (rc == 0 && i < n) {
		size_t rest = n - i;

		if (pr_utf8_valid(s + i, rest, &bad))
			bad = rest;
		rc = pr_buf_add(&tmp, s + i, bad);
		i += bad;
		if (rc == 0 && i < n) {
			rc = pr_buf_add(&tmp, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	if (rc == 0)
		rc = pr_json_add_str(b, tmp.data, tmp.len);
	pr_buf_release(&tmp);
	return rc;
}

static int
add_text_or_null(struct pr_buf *b, const char *s)
{
	if (s == NULL)
		return pr_buf_add(b, "null", 4);
	return add_text(b, s);
}

/*
 * The metrics object from extra text: `{...}` or members without braces.
 * Invalid text is left out (and said so in the record) rather than
 * breaking the line; raw CR/LF can only be whitespace in valid JSON, so
 * they become spaces to keep the record on one line.
 */
static int
add_metrics(struct pr_buf *b, const char *extra)
{
	const char *p = extra;
	size_t start = b->len, n;
	cJSON *t;
	int rc;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '\0')
		return 0;
	if ((rc = pr_buf_adds(b, ",\"metrics\":")) < 0)
		return rc;
	n = b->len;
	if (*p == '{')
		rc = pr_buf_adds(b, p);
	else
		rc = pr_buf_addf(b, "{%s}", p);
	if (rc < 0)
		return rc;
	t = cJSON_ParseWithLength(b->data + n, b->len - n);
	if (t == NULL || !cJSON_IsObject(t)) {
		cJSON_Delete(t);
		b->len = start;
		b->data[b->len] = '\0';
		return pr_buf_adds(b, ",\"metrics\":null");
	}
	cJSON_Delete(t);
	for (size_t i = n; i < b->len; i++)
		if (b->data[i] == '\n' || b->data[i] == '\r')
			b->data[i] = ' ';
	return 0;
}

/* ---- results and joblog lines ----------------------------------------- */

/*
 * v with `decimals` digits after the point (rounded), right-aligned in
 * width; trim drops trailing zeros (and the point).  Times are written
 * this way: printf's float formatting was most of the cost of a record.
 */
static int
add_fixed(struct pr_buf *b, double v, int decimals, int width, bool trim)
{
	static const uint64_t pow10[] = { 1, 10, 100, 1000, 10000, 100000,
	    1000000 };
	char tmp[48], *p = tmp + sizeof(tmp);
	uint64_t scale = pow10[decimals], x, ip, fp;
	bool neg = v < 0;
	int len;

	if (!isfinite(v))
		v = 0;
	if (fabs(v) * (double)scale >= 9e15)
		return pr_buf_addf(b, "%*.*f", width, decimals, v);
	x = (uint64_t)(fabs(v) * (double)scale + 0.5);
	ip = x / scale;
	fp = x % scale;
	if (decimals > 0) {
		int d = decimals;

		if (trim)
			while (d > 0 && fp % 10 == 0) {
				fp /= 10;
				d--;
			}
		for (int i = 0; i < d; i++) {
			*--p = (char)('0' + fp % 10);
			fp /= 10;
		}
		if (d > 0)
			*--p = '.';
	}
	do {
		*--p = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip != 0);
	if (neg && x != 0)
		*--p = '-';
	len = (int)(tmp + sizeof(tmp) - p);
	while (len < width && p > tmp) {
		*--p = ' ';
		len++;
	}
	return pr_buf_add(b, p, (size_t)len);
}

static int
results_line(struct pr_buf *b, const struct pr_record *r,
    enum pr_status status, const char *error, const char *out,
    size_t outlen, const char *err, size_t errlen)
{
	int rc = 0;

#define ADD(e) do { if (rc == 0) rc = (e); } while (0)
	ADD(pr_buf_adds(b, "{\"id\":"));
	ADD(add_text_or_null(b, r->id));
	ADD(pr_buf_adds(b, ",\"seq\":"));
	ADD(pr_buf_add_u64(b, r->seq));
	ADD(pr_buf_adds(b, ",\"status\":\""));
	ADD(pr_buf_adds(b, pr_output_status_name(status)));
	ADD(pr_buf_adds(b, "\",\"exit\":"));
	if (r->exit >= 0)
		ADD(pr_buf_add_i64(b, r->exit));
	else
		ADD(pr_buf_adds(b, "null"));
	ADD(pr_buf_adds(b, ",\"signal\":"));
	if (r->signal != 0)
		ADD(pr_buf_add_i64(b, r->signal));
	else
		ADD(pr_buf_adds(b, "null"));
	ADD(pr_buf_adds(b, ",\"attempts\":"));
	ADD(pr_buf_add_i64(b, r->attempts));
	ADD(pr_buf_adds(b, ",\"host\":"));
	ADD(add_text_or_null(b, r->host));
	ADD(pr_buf_adds(b, ",\"worker\":"));
	if (r->worker > 0)
		ADD(pr_buf_add_i64(b, r->worker));
	else
		ADD(pr_buf_adds(b, "null"));
	ADD(pr_buf_adds(b, ",\"start\":"));
	ADD(add_fixed(b, r->start, 6, 0, true));
	ADD(pr_buf_adds(b, ",\"elapsed\":"));
	ADD(add_fixed(b, r->elapsed, 6, 0, true));
	if (r->has_value) {
		ADD(pr_buf_adds(b, ",\"value\":"));
		ADD(pr_buf_add_double(b, r->value));
	}
	if (error != NULL) {
		ADD(pr_buf_adds(b, ",\"error\":"));
		ADD(add_text(b, error));
	}
	ADD(pr_buf_adds(b, ",\"seed\":"));
	ADD(pr_buf_add_u64(b, r->seed));
	ADD(pr_buf_addc(b, ','));
	ADD(pr_json_add_bytes(b, "stdout", out != NULL ? out : "", outlen));
	ADD(pr_buf_addc(b, ','));
	ADD(pr_json_add_bytes(b, "stderr", err != NULL ? err : "", errlen));
	if (r->extra != NULL)
		ADD(add_metrics(b, r->extra));
	ADD(pr_buf_add(b, "}\n", 2));
#undef ADD
	return rc;
}

static int
joblog_exitval(const struct pr_record *r)
{
	if (r->status == PR_ST_TIMEOUT)
		return -1;
	if (r->exit >= 0)
		return r->exit;
	if (r->signal != 0 || r->status == PR_ST_OK)
		return 0;
	return -1;
}

static int
joblog_line(struct pr_buf *b, const struct pr_record *r, uint64_t received,
    const char *localhost)
{
	const char *host = r->host;
	size_t start;
	int rc;

	if (host == NULL || host[0] == '\0' || strcmp(host, "localhost") == 0 ||
	    (localhost[0] != '\0' && strcmp(host, localhost) == 0))
		host = ":";
#define ADD(e) do { if (rc == 0) rc = (e); } while (0)
	rc = pr_buf_add_u64(b, r->seq);
	ADD(pr_buf_addc(b, '\t'));
	ADD(pr_buf_adds(b, host));
	ADD(pr_buf_addc(b, '\t'));
	ADD(add_fixed(b, r->start, 3, 0, false));
	ADD(pr_buf_addc(b, '\t'));
	ADD(add_fixed(b, r->elapsed, 3, 10, false));
	ADD(pr_buf_addc(b, '\t'));
	ADD(pr_buf_add_u64(b, r->bytes_sent));
	ADD(pr_buf_addc(b, '\t'));
	ADD(pr_buf_add_u64(b, received));
	ADD(pr_buf_addc(b, '\t'));
	ADD(pr_buf_add_i64(b, joblog_exitval(r)));
	ADD(pr_buf_addc(b, '\t'));
	ADD(pr_buf_add_i64(b, r->signal));
	ADD(pr_buf_addc(b, '\t'));
#undef ADD
	if (rc < 0)
		return rc;
	start = b->len;
	if (r->cmd != NULL && (rc = pr_buf_adds(b, r->cmd)) < 0)
		return rc;
	/* a newline would end the row: GNU parallel writes NUL instead */
	for (size_t i = start; i < b->len; i++)
		if (b->data[i] == '\n')
			b->data[i] = '\0';
	return pr_buf_addc(b, '\n');
}

/* ---- held entries ----------------------------------------------------- */

static size_t
slot_of(const struct pr_output *o, uint64_t seq)
{
	return (size_t)((seq * UINT64_C(0x9e3779b97f4a7c15)) >> 17) &
	    (o->tabcap - 1);
}

static struct held *
held_find(const struct pr_output *o, uint64_t seq)
{
	size_t i;

	if (o->tabn == 0)
		return NULL;
	for (i = slot_of(o, seq); o->tab[i] != NULL;
	    i = (i + 1) & (o->tabcap - 1))
		if (o->tab[i]->seq == seq)
			return o->tab[i];
	return NULL;
}

static int
held_insert(struct pr_output *o, struct held *h)
{
	size_t i;

	if ((o->tabn + 1) * 2 > o->tabcap) {
		size_t oldcap = o->tabcap, ncap = oldcap ? oldcap * 2 : 16;
		struct held **old = o->tab, **nt;

		nt = calloc(ncap, sizeof(*nt));
		if (nt == NULL)
			return -ENOMEM;
		o->tab = nt;
		o->tabcap = ncap;
		for (size_t k = 0; k < oldcap; k++) {
			if (old[k] == NULL)
				continue;
			for (i = slot_of(o, old[k]->seq); nt[i] != NULL;
			    i = (i + 1) & (ncap - 1))
				;
			nt[i] = old[k];
		}
		free(old);
	}
	for (i = slot_of(o, h->seq); o->tab[i] != NULL;
	    i = (i + 1) & (o->tabcap - 1))
		;
	o->tab[i] = h;
	o->tabn++;
	return 0;
}

/* Backward-shift deletion keeps probe chains whole without tombstones. */
static void
held_remove(struct pr_output *o, const struct held *h)
{
	size_t mask = o->tabcap - 1, i, j;

	for (i = slot_of(o, h->seq); o->tab[i] != h; i = (i + 1) & mask)
		;
	o->tab[i] = NULL;
	o->tabn--;
	for (j = (i + 1) & mask; o->tab[j] != NULL; j = (j + 1) & mask) {
		size_t k = slot_of(o, o->tab[j]->seq);

		/* move tab[j] into the hole unless its home lies in (i, j] */
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && (k <= i && k > j))) {
			o->tab[i] = o->tab[j];
			o->tab[j] = NULL;
			i = j;
		}
	}
}

static struct held *
held_get(struct pr_output *o, uint64_t seq)
{
	struct held *h = held_find(o, seq);

	if (h != NULL)
		return h;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->seq = seq;
	pr_buf_init(&h->part[0], 0);
	pr_buf_init(&h->part[1], 0);
	if (held_insert(o, h) < 0) {
		free(h);
		return NULL;
	}
	h->mem = HELD_COST;
	o->held_bytes += h->mem;
	return h;
}

static void
seg_free(struct pr_output *o, struct held *h, struct seg *s)
{
	if (s->spilled) {
		if (--o->spill_live == 0 && o->spill_fd >= 0) {
			/* nothing left in the file: give the space back */
			if (ftruncate(o->spill_fd, 0) == 0)
				o->spill_end = 0;
		}
	} else {
		h->mem -= s->len;
		o->held_bytes -= s->len;
	}
	free(s);
}

/* Free h without touching the table. */
static void
held_destroy(struct pr_output *o, struct held *h)
{
	struct seg *s, *next;

	for (s = h->head; s != NULL; s = next) {
		next = s->next;
		seg_free(o, h, s);
	}
	if (h->have_rec)
		o->nrec_held--;
	/* what is left in h->mem: bookkeeping, strings, partial lines */
	o->held_bytes -= h->mem;
	pr_buf_release(&h->part[0]);
	pr_buf_release(&h->part[1]);
	free(h->meta);
	free(h->tagcopy);
	free(h);
}

static void
held_free(struct pr_output *o, struct held *h)
{
	if (h == NULL)
		return;
	held_remove(o, h);
	held_destroy(o, h);
}

/* Append p[0..n) to the spill file; *off gets where it went. */
static int
spill_write(struct pr_output *o, const char *p, size_t n, off_t *off)
{
	off_t at = o->spill_end;
	int rc;

	rc = tmp_append(o, &o->spill_fd, &o->spill_end, p, n);
	if (rc < 0)
		return rc;
	*off = at;
	o->st.spilled += n;
	return 0;
}

static void
note_spill_err(struct held *h, int rc)
{
	if (h->spill_err == 0)
		h->spill_err = rc;
}

/*
 * Add output to h, in memory while the held bytes stay under hold_max,
 * else in the spill file.  A failure is noted in h (the output is then
 * incomplete) and is not an error of the call.
 */
static int
held_add_seg(struct pr_output *o, struct held *h, int stream, bool written,
    const char *p, size_t n)
{
	struct seg *s;
	bool spill = o->held_bytes + n > o->opts.hold_max;
	int rc;

	if (n == 0)
		return 0;
	s = malloc(sizeof(*s) + (spill ? 0 : n));
	if (s == NULL) {
		note_spill_err(h, -ENOMEM);
		return -ENOMEM;
	}
	s->next = NULL;
	s->stream = stream;
	s->written = written;
	s->spilled = spill;
	s->len = n;
	s->off = 0;
	if (spill) {
		rc = spill_write(o, p, n, &s->off);
		if (rc < 0) {
			free(s);
			note_spill_err(h, rc);
			return 0;
		}
		o->spill_live++;
	} else {
		memcpy(s->data, p, n);
		h->mem += n;
		o->held_bytes += n;
	}
	if (h->tail != NULL)
		h->tail->next = s;
	else
		h->head = s;
	h->tail = s;
	return 0;
}

/* Read the next piece (at most IO_PIECE bytes from at) of a spilled
 * segment into o->tmp; *got is its length. */
static int
seg_read(struct pr_output *o, const struct seg *s, size_t at, size_t *got)
{
	size_t n = s->len - at;
	ssize_t r;

	if (n > IO_PIECE)
		n = IO_PIECE;
	pr_buf_reset(&o->tmp);
	if (pr_buf_grow(&o->tmp, n) < 0)
		return -ENOMEM;
	do
		r = pread(o->spill_fd, o->tmp.data, n, s->off + (off_t)at);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -EIO;	/* the file is shorter than what we wrote */
	*got = (size_t)r;
	return 0;
}

/* ---- emitting --------------------------------------------------------- */

static struct sink *
stream_sink(struct pr_output *o, int stream)
{
	if (o->opts.quiet)
		return NULL;
	if (stream == 1)
		return o->out_to_tty_ok ? &o->out : NULL;
	return &o->err;
}

static const char *
tag_of(const struct pr_output *o, const char *tag)
{
	return o->opts.tag ? tag : NULL;
}

/*
 * Process one piece of a task's output: write it if it has not been, and
 * keep it for the results line when there is one.
 */
static int
emit_piece(struct pr_output *o, int stream, const char *tag, bool *bol,
    bool write, const char *p, size_t n, struct pr_errbuf *eb)
{
	struct sink *s = stream_sink(o, stream);
	int rc = 0;

	if (write && s != NULL)
		rc = put_output(o, s, tag_of(o, tag), bol, p, n, eb);
	if (o->res != NULL &&
	    pr_buf_add(stream == 1 ? &o->sout : &o->serr, p, n) < 0)
		keep_err(&rc, pr_err(eb, -ENOMEM, "out of memory"));
	return rc;
}

static int
emit_seg(struct pr_output *o, struct held *h, struct seg *s, const char *tag,
    bool *bol, struct pr_errbuf *eb)
{
	size_t at = 0, got;
	int rc = 0, r;

	if (!s->spilled)
		return emit_piece(o, s->stream, tag, bol, !s->written,
		    s->data, s->len, eb);
	while (at < s->len) {
		r = seg_read(o, s, at, &got);
		if (r < 0) {
			note_spill_err(h, r);
			break;
		}
		keep_err(&rc, emit_piece(o, s->stream, tag, bol, !s->written,
		    o->tmp.data, got, eb));
		at += got;
	}
	return rc;
}

/*
 * Write one record and its output.  h holds output that came before (may
 * be NULL); r->out/r->err are the rest.
 */
static int
emit(struct pr_output *o, struct held *h, const struct pr_record *r,
    struct pr_errbuf *eb)
{
	enum pr_status status = r->status;
	const char *error = r->error, *tag = r->tag;
	const char *out = r->out, *err = r->err;
	size_t outlen = r->outlen, errlen = r->errlen;
	struct pr_buf *b = &o->line;
	uint64_t received;
	bool bol;
	int rc = 0, spill_err = 0;

	if (r->silent)
		return 0;
	if (tag == NULL)
		tag = r->id != NULL ? r->id : "";
	received = (uint64_t)outlen + errlen;
	if (h == NULL || (h->head == NULL && h->part[0].len == 0 &&
	    h->part[1].len == 0 && !h->midline[0] && !h->midline[1])) {
		struct sink *s;

		bol = true;
		if ((s = stream_sink(o, 1)) != NULL)
			keep_err(&rc, put_output(o, s, tag_of(o, tag), &bol,
			    out, outlen, eb));
		bol = true;
		if ((s = stream_sink(o, 2)) != NULL)
			keep_err(&rc, put_output(o, s, tag_of(o, tag), &bol,
			    err, errlen, eb));
	} else {
		pr_buf_reset(&o->sout);
		pr_buf_reset(&o->serr);
		for (int stream = 1; stream <= 2; stream++) {
			struct pr_buf *part = &h->part[stream - 1];

			/* written pieces come first and leave bol alone */
			bol = !h->midline[stream - 1];
			for (struct seg *s = h->head; s != NULL; s = s->next)
				if (s->stream == stream)
					keep_err(&rc, emit_seg(o, h, s, tag,
					    &bol, eb));
			keep_err(&rc, emit_piece(o, stream, tag, &bol, true,
			    part->data, part->len, eb));
			received += part->len;
			keep_err(&rc, emit_piece(o, stream, tag, &bol, true,
			    stream == 1 ? out : err,
			    stream == 1 ? outlen : errlen, eb));
		}
		out = o->sout.data;
		outlen = o->sout.len;
		err = o->serr.data;
		errlen = o->serr.len;
		for (struct seg *s = h->head; s != NULL; s = s->next)
			received += s->len;
	}
	if (h != NULL)
		spill_err = h->spill_err;
	if (spill_err != 0) {
		pr_buf_reset(&o->tmp);
		if (pr_buf_addf(&o->tmp, "output incomplete: %s",
		    pr_strerror(spill_err)) == 0)
			error = o->tmp.data;
		else
			error = "output incomplete";
		if (status == PR_ST_OK)
			o->st.downgraded++;
		status = PR_ST_ERROR;
	}
	/* a task that could not run or whose output is incomplete says so
	 * on standard error, after its own output (the record has the same
	 * words); failures and timeouts are the task's own doing, lost
	 * tasks are reported with their worker, rejected input where it
	 * was read */
	if (status == PR_ST_ERROR && error != NULL) {
		pr_buf_reset(b);
		if (pr_buf_addf(b, "parrun: task '%s' (seq %" PRIu64 "): %s\n",
		    r->id != NULL ? r->id : "", r->seq, error) == 0)
			keep_err(&rc, sink_put(o, &o->err, b->data, b->len,
			    eb));
	}
	if (o->res != NULL) {
		pr_buf_reset(b);
		if (results_line(b, r, status, error, out, outlen, err,
		    errlen) < 0)
			keep_err(&rc, pr_err(eb, -ENOMEM, "out of memory"));
		else
			keep_err(&rc, sink_put(o, o->res, b->data, b->len,
			    eb));
	}
	if (o->log != NULL) {
		struct pr_record jr = *r;

		jr.status = status;
		pr_buf_reset(b);
		if (joblog_line(b, &jr, received, o->localhost) < 0)
			keep_err(&rc, pr_err(eb, -ENOMEM, "out of memory"));
		else
			keep_err(&rc, sink_put(o, o->log, b->data, b->len,
			    eb));
	}
	o->st.emitted++;
	if (status != PR_ST_OK)
		o->st.failed++;
	if (o->line.cap > 4 * SINK_MAX)
		pr_buf_release(&o->line);
	if (o->sout.cap > 4 * SINK_MAX)
		pr_buf_release(&o->sout);
	if (o->serr.cap > 4 * SINK_MAX)
		pr_buf_release(&o->serr);
	return rc;
}

/* ---- seq bookkeeping without keep_order ------------------------------- */

static bool
bit_get(const struct pr_output *o, uint64_t seq)
{
	size_t i = (size_t)(seq & (o->nbits - 1));

	return (o->bits[i / 64] >> (i % 64)) & 1;
}

static void
bit_put(struct pr_output *o, uint64_t seq, bool v)
{
	size_t i = (size_t)(seq & (o->nbits - 1));
	uint64_t m = UINT64_C(1) << (i % 64);

	if (v)
		o->bits[i / 64] |= m;
	else
		o->bits[i / 64] &= ~m;
}

/* Make the bitmap cover [next, seq]. */
static int
bits_cover(struct pr_output *o, uint64_t seq)
{
	uint64_t ahead = seq - o->next;
	size_t nbits = o->nbits ? o->nbits : 1024, oldbits = o->nbits;
	uint64_t *old = o->bits;

	if (ahead < o->nbits)
		return 0;
	if (ahead >= MAX_AHEAD)
		return PR_ELIMIT;
	while (nbits <= ahead)
		nbits *= 2;
	o->bits = calloc(nbits / 64, sizeof(uint64_t));
	if (o->bits == NULL) {
		o->bits = old;
		return -ENOMEM;
	}
	o->nbits = nbits;
	for (uint64_t k = 0; k < oldbits; k++) {
		uint64_t s = o->next + k;
		size_t i = (size_t)(s & (oldbits - 1));

		if ((old[i / 64] >> (i % 64)) & 1)
			bit_put(o, s, true);
	}
	free(old);
	return 0;
}

static bool
already_written(const struct pr_output *o, uint64_t seq)
{
	if (seq < o->next)
		return true;
	if (o->opts.keep_order) {
		const struct held *h = held_find(o, seq);

		return h != NULL && h->have_rec;
	}
	return seq - o->next < o->nbits && bit_get(o, seq);
}

/* ---- keep_order ------------------------------------------------------- */

/* The head of the order has no record yet: with line_buffer its chunks
 * go out now and later ones at once. */
static int
go_live(struct pr_output *o, struct pr_errbuf *eb)
{
	struct held *h;
	struct seg *s, **pp;
	int rc = 0;

	if (!o->opts.line_buffer)
		return 0;
	h = held_find(o, o->next);
	if (h == NULL || h->have_rec || h->live)
		return 0;
	h->live = true;
	for (int stream = 1; stream <= 2; stream++) {
		struct sink *sk = stream_sink(o, stream);
		bool bol = !h->midline[stream - 1];

		for (s = h->head; s != NULL; s = s->next) {
			size_t at = 0, got;

			if (s->stream != stream || s->written)
				continue;
			s->written = true;
			if (sk == NULL)
				continue;
			if (!s->spilled) {
				keep_err(&rc, put_output(o, sk,
				    tag_of(o, h->tagcopy), &bol, s->data,
				    s->len, eb));
				continue;
			}
			while (at < s->len) {
				int r = seg_read(o, s, at, &got);

				if (r < 0) {
					note_spill_err(h, r);
					break;
				}
				keep_err(&rc, put_output(o, sk,
				    tag_of(o, h->tagcopy), &bol, o->tmp.data,
				    got, eb));
				at += got;
			}
		}
		h->midline[stream - 1] = !bol;
	}
	/* without a results file the written chunks are not needed */
	if (o->res == NULL) {
		for (pp = &h->head; *pp != NULL;) {
			s = *pp;
			if (s->written) {
				*pp = s->next;
				seg_free(o, h, s);
			} else {
				pp = &s->next;
			}
		}
		h->tail = NULL;
		for (s = h->head; s != NULL; s = s->next)
			h->tail = s;
	}
	return rc;
}

/* Write held records from the head of the order while they are there. */
static int
drain(struct pr_output *o, struct pr_errbuf *eb)
{
	struct held *h;
	int rc = 0;

	while ((h = held_find(o, o->next)) != NULL && h->have_rec) {
		keep_err(&rc, emit(o, h, &h->rec, eb));
		held_free(o, h);
		o->next++;
	}
	keep_err(&rc, go_live(o, eb));
	return rc;
}

/* Copy r's strings into h so it can wait for its turn. */
static int
hold_record(struct pr_output *o, struct held *h, const struct pr_record *r)
{
	const char *src[6] = { r->id, r->host, r->error, r->tag, r->cmd,
	    r->extra };
	const char **dst[6] = { &h->rec.id, &h->rec.host, &h->rec.error,
	    &h->rec.tag, &h->rec.cmd, &h->rec.extra };
	size_t total = 0, len[6];
	char *p;

	for (int i = 0; i < 6; i++) {
		len[i] = src[i] != NULL ? strlen(src[i]) + 1 : 0;
		total += len[i];
	}
	h->meta = malloc(total ? total : 1);
	if (h->meta == NULL)
		return -ENOMEM;
	h->rec = *r;
	p = h->meta;
	for (int i = 0; i < 6; i++) {
		if (src[i] == NULL) {
			*dst[i] = NULL;
			continue;
		}
		memcpy(p, src[i], len[i]);
		*dst[i] = p;
		p += len[i];
	}
	h->mem += total;
	o->held_bytes += total;
	h->rec.out = NULL;
	h->rec.outlen = 0;
	h->rec.err = NULL;
	h->rec.errlen = 0;
	/* the chunks' tag is the record's from now on */
	free(h->tagcopy);
	h->tagcopy = NULL;
	for (int i = 0; i < 2; i++) {
		/* not expected (a held record's task never went live) */
		held_add_seg(o, h, i + 1, false, h->part[i].data,
		    h->part[i].len);
		h->mem -= h->part[i].len;
		o->held_bytes -= h->part[i].len;
		pr_buf_release(&h->part[i]);
	}
	held_add_seg(o, h, 1, false, r->out, r->outlen);
	held_add_seg(o, h, 2, false, r->err, r->errlen);
	h->have_rec = true;
	o->nrec_held++;
	return 0;
}

/* ---- public ----------------------------------------------------------- */

/*
 * A results or job log file: made 0600 if it is new; a symbolic link is
 * not followed, so a link planted in a shared directory cannot turn the
 * run into a writer of another file (research/reliability.md, files).
 * Standard output and error are named "-", /dev/stdout, /dev/stderr (see
 * std_sink()).
 */
static int
open_file(const char *path, bool append, struct pr_errbuf *eb, bool *empty)
{
	int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
	int fd;

	flags |= append ? O_APPEND : O_TRUNC;
	fd = open(path, flags, 0600);
	if (fd < 0) {
		int e = -errno;

		if (e == -ELOOP)
			return pr_err(eb, e, "cannot open '%s': it is a "
			    "symbolic link, which parrun does not follow "
			    "(name the file itself)", path);
		return pr_err(eb, e, "cannot open '%s': %s", path,
		    pr_strerror(e));
	}
	*empty = !append || lseek(fd, 0, SEEK_END) == 0;
	return fd;
}

/* The sink a results or job log name means when it is standard output
 * or error, else NULL. */
static struct sink *
std_sink(struct pr_output *o, const char *path)
{
	if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0 ||
	    strcmp(path, "/dev/fd/1") == 0)
		return &o->out;
	if (strcmp(path, "/dev/stderr") == 0 ||
	    strcmp(path, "/dev/fd/2") == 0)
		return &o->err;
	return NULL;
}

/* Do a and b reach the same file (a terminal, 2>&1, one pipe)? */
static bool
same_file(int a, int b)
{
	struct stat sa, sb;

	if (a == b)
		return true;
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * Can writes to s wait for a reader (a pipe, a socket, a terminal)?  Then
 * make them non-blocking without touching the user's open file
 * description, which the shell and other programs may share (O_NONBLOCK
 * there would make their writes fail with EAGAIN): sockets get
 * send(MSG_DONTWAIT); a pipe or terminal is opened again through
 * /proc/self/fd, which gives a description of our own (as libuv does for
 * terminals).  Where that fails (no /proc, or the open only dup()ed the
 * fd) writes stay blocking.  Files and /dev/null never wait long: they
 * stay blocking.
 */
static void
sink_nb_setup(struct sink *s)
{
	struct stat st;
	char path[64];
	int fl, fd, type;
	socklen_t len = sizeof(type);

	if (fstat(s->fd, &st) < 0 || (fl = fcntl(s->fd, F_GETFL)) < 0)
		return;
	if (S_ISSOCK(st.st_mode)) {
		if (getsockopt(s->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    type == SOCK_STREAM)
			s->nb = s->sock = true;
		return;
	}
	if (!S_ISFIFO(st.st_mode) && !isatty(s->fd))
		return;
	if (fl & O_NONBLOCK) {
		s->nb = true;	/* made so by someone else: EAGAIN it is */
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", s->fd);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (!same_file(fd, s->fd) || (fcntl(s->fd, F_GETFL) & O_NONBLOCK)) {
		/* the same description after all: put it back as it was */
		(void)fcntl(s->fd, F_SETFL, fl);
		close(fd);
		return;
	}
	s->fd = s->nbfd = fd;
	s->nb = true;
}

static char *
dupstr(const char *s)
{
	size_t n;
	char *p;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	p = malloc(n);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

int
pr_output_open(struct pr_output **op, const struct pr_output_opts *oo,
    struct pr_errbuf *eb)
{
	static const char hdr[] = "Seq\tHost\tStarttime\tJobRuntime\tSend\t"
	    "Receive\tExitval\tSignal\tCommand\n";
	struct pr_output *o;
	const char *dir;
	bool empty;
	int rc, fd;

	*op = NULL;
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return pr_err(eb, -ENOMEM, "out of memory");
	o->opts = *oo;
	if (o->opts.hold_max == 0)
		o->opts.hold_max = PR_OUTPUT_HOLD_MAX;
	o->next = oo->first_seq;
	o->spill_fd = -1;
	sink_init(&o->out, oo->out_fd, "stdout");
	sink_init(&o->err, oo->err_fd, "stderr");
	o->out.tty_shared = o->err.tty_shared = true;
	if (same_file(oo->out_fd, oo->err_fd)) {
		o->out.peer = &o->err;
		o->err.peer = &o->out;
	}
	if (!oo->blocking) {
		sink_nb_setup(&o->out);
		if (o->out.peer != NULL && o->out.nb) {
			/* one file: one queue, which keeps the order */
			o->out.peer = o->err.peer = NULL;
			o->err.fwd = &o->out;
		} else {
			sink_nb_setup(&o->err);
		}
	}
	sink_init(&o->res_sink, -1, "the results file");
	sink_init(&o->log_sink, -1, "the joblog");
	pr_buf_init(&o->line, 0);
	pr_buf_init(&o->sout, 0);
	pr_buf_init(&o->serr, 0);
	pr_buf_init(&o->tmp, 0);
	o->out_to_tty_ok = true;
	if (gethostname(o->localhost, sizeof(o->localhost) - 1) < 0)
		o->localhost[0] = '\0';

	dir = oo->spill_dir;
	if (dir == NULL || dir[0] == '\0')
		dir = getenv("TMPDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	o->spill_dir = dupstr(dir);
	o->results_path = dupstr(oo->results);
	o->joblog_path = dupstr(oo->joblog);
	if (o->spill_dir == NULL || (oo->results && !o->results_path) ||
	    (oo->joblog && !o->joblog_path)) {
		rc = pr_err(eb, -ENOMEM, "out of memory");
		goto fail;
	}
	o->opts.spill_dir = o->spill_dir;
	o->opts.results = o->results_path;
	o->opts.joblog = o->joblog_path;

	if (oo->results != NULL) {
		if ((o->res = std_sink(o, oo->results)) != NULL) {
			if (o->res == &o->out)
				o->out_to_tty_ok = false;
		} else {
			fd = open_file(oo->results, oo->append, eb, &empty);
			if (fd < 0) {
				rc = fd;
				goto fail;
			}
			o->res_sink.fd = fd;
			o->res_sink.own = true;
			o->res = &o->res_sink;
		}
	}
	if (oo->joblog != NULL) {
		if ((o->log = std_sink(o, oo->joblog)) != NULL) {
			empty = true;
		} else {
			fd = open_file(oo->joblog, oo->append, eb, &empty);
			if (fd < 0) {
				rc = fd;
				goto fail;
			}
			o->log_sink.fd = fd;
			o->log_sink.own = true;
			o->log = &o->log_sink;
		}
		if (empty && (rc = sink_put(o, o->log, hdr, sizeof(hdr) - 1,
		    eb)) < 0)
			goto fail;
	}
	*op = o;
	return 0;
fail:
	if (o->out.nbfd >= 0)
		close(o->out.nbfd);
	if (o->err.nbfd >= 0)
		close(o->err.nbfd);
	if (o->res_sink.own)
		close(o->res_sink.fd);
	if (o->log_sink.own)
		close(o->log_sink.fd);
	pr_buf_release(&o->log_sink.buf);
	pr_buf_release(&o->out.buf);
	free(o->spill_dir);
	free(o->results_path);
	free(o->joblog_path);
	free(o);
	return rc;
}

/* Offset just past the last newline of p[0..n), or 0. */
static size_t
line_end(const char *p, size_t n)
{
	while (n > 0 && p[n - 1] != '\n')
		n--;
	return n;
}

/*
 * line_buffer output of a task whose turn it is: whole lines go out now,
 * an unterminated tail waits in h->part for its newline, so no other
 * task's line can land in the middle of it.  Written bytes are kept as
 * written segments when the results file needs them.
 */
static int
chunk_live(struct pr_output *o, struct held *h, const char *tag, int stream,
    const char *data, size_t len, struct pr_errbuf *eb)
{
	struct pr_buf *part = &h->part[stream - 1];
	struct sink *s = stream_sink(o, stream);
	size_t head = line_end(data, len);
	bool bol;
	int rc = 0;

	if (head > 0 || part->len + len > PART_MAX) {
		size_t n = head > 0 ? head : len;

		bol = !h->midline[stream - 1];
		if (s != NULL) {
			keep_err(&rc, put_output(o, s, tag_of(o, tag), &bol,
			    part->data, part->len, eb));
			keep_err(&rc, put_output(o, s, tag_of(o, tag), &bol,
			    data, n, eb));
		} else {
			bol = n > 0 && data[n - 1] == '\n';
		}
		h->midline[stream - 1] = !bol;
		if (o->res != NULL &&
		    (held_add_seg(o, h, stream, true, part->data,
		    part->len) < 0 ||
		    held_add_seg(o, h, stream, true, data, n) < 0))
			keep_err(&rc, pr_err(eb, -ENOMEM, "out of memory"));
		h->mem -= part->len;
		o->held_bytes -= part->len;
		pr_buf_reset(part);
		data += n;
		len -= n;
	}
	if (len > 0) {
		if (pr_buf_add(part, data, len) < 0)
			return pr_err(eb, -ENOMEM, "out of memory");
		h->mem += len;
		o->held_bytes += len;
	}
	return rc;
}

int
pr_output_chunk(struct pr_output *o, uint64_t seq, const char *tag,
    int stream, const char *data, size_t len, struct pr_errbuf *eb)
{
	struct held *h;
	bool live;
	int rc = 0;

	if (stream != 1 && stream != 2)
		return pr_err(eb, -EINVAL, "bad stream %d", stream);
	if (already_written(o, seq))
		return pr_err(eb, -EINVAL,
		    "output for seq %" PRIu64 " after its record", seq);
	if (len == 0)
		return 0;
	live = o->opts.line_buffer &&
	    (!o->opts.keep_order || seq == o->next);
	h = held_find(o, seq);
	if (live && h == NULL && o->res == NULL && data[len - 1] == '\n') {
		/* the common case: whole lines, nothing to keep */
		struct sink *s = stream_sink(o, stream);
		bool bol = true;

		if (s != NULL)
			rc = put_output(o, s, tag_of(o, tag), &bol, data, len,
			    eb);
		return rc;
	}
	if (h == NULL && (h = held_get(o, seq)) == NULL)
		return pr_err(eb, -ENOMEM, "out of memory");
	if (tag != NULL && h->tagcopy == NULL &&
	    (h->tagcopy = dupstr(tag)) != NULL) {
		h->mem += strlen(tag) + 1;
		o->held_bytes += strlen(tag) + 1;
	}
	if (live) {
		if (o->opts.keep_order && !h->live) {
			keep_err(&rc, go_live(o, eb));
			h->live = true;
		}
		keep_err(&rc, chunk_live(o, h, tag, stream, data, len, eb));
		return rc;
	}
	if (held_add_seg(o, h, stream, false, data, len) < 0)
		keep_err(&rc, pr_err(eb, -ENOMEM, "out of memory"));
	return rc;
}

void
pr_output_discard(struct pr_output *o, uint64_t seq)
{
	struct held *h = held_find(o, seq);
	struct seg *s, **pp;

	if (h == NULL || h->have_rec)
		return;
	for (pp = &h->head; *pp != NULL;) {
		s = *pp;
		if (!s->written || o->res != NULL) {
			*pp = s->next;
			seg_free(o, h, s);
		} else {
			pp = &s->next;
		}
	}
	h->tail = NULL;
	for (s = h->head; s != NULL; s = s->next)
		h->tail = s;
	for (int i = 0; i < 2; i++) {
		h->mem -= h->part[i].len;
		o->held_bytes -= h->part[i].len;
		pr_buf_reset(&h->part[i]);
	}
	h->spill_err = 0;
	if (h->head == NULL && !h->live && !h->midline[0] && !h->midline[1])
		held_free(o, h);
}

int
pr_output_record(struct pr_output *o, const struct pr_record *r,
    struct pr_errbuf *eb)
{
	struct pr_record rv;
	struct held *h;
	int rc;

	if (already_written(o, r->seq))
		return pr_err(eb, -EINVAL, "second record for seq %" PRIu64,
		    r->seq);
	if (o->opts.parse_value && !r->has_value) {
		rv = *r;
		rv.has_value = pr_value_parse(r->out, r->outlen, &rv.value);
		r = &rv;
	}
	h = held_find(o, r->seq);
	if (o->opts.keep_order && r->seq != o->next) {
		if (r->seq - o->next >= MAX_AHEAD)
			return pr_err(eb, PR_ELIMIT, "seq %" PRIu64
			    " too far ahead of %" PRIu64, r->seq, o->next);
		if (h == NULL && (h = held_get(o, r->seq)) == NULL)
			return pr_err(eb, -ENOMEM, "out of memory");
		if (hold_record(o, h, r) < 0)
			return pr_err(eb, -ENOMEM, "out of memory");
		return 0;
	}
	if (!o->opts.keep_order && r->seq != o->next) {
		rc = bits_cover(o, r->seq);
		if (rc < 0)
			return pr_err(eb, rc, "cannot track seq %" PRIu64
			    ": %s", r->seq, pr_strerror(rc));
	}
	rc = emit(o, h, r, eb);
	held_free(o, h);
	if (o->opts.keep_order) {
		o->next++;
		keep_err(&rc, drain(o, eb));
	} else if (r->seq == o->next) {
		o->next++;
		while (o->nbits > 0 && bit_get(o, o->next)) {
			bit_put(o, o->next, false);
			o->next++;
		}
	} else {
		bit_put(o, r->seq, true);
	}
	return rc;
}

int
pr_output_flush(struct pr_output *o, struct pr_errbuf *eb)
{
	int rc = 0;

	keep_err(&rc, sink_flush(o, &o->out, eb));
	keep_err(&rc, sink_flush(o, &o->err, eb));
	if (o->res == &o->res_sink)
		keep_err(&rc, sink_flush(o, &o->res_sink, eb));
	if (o->log == &o->log_sink)
		keep_err(&rc, sink_flush(o, &o->log_sink, eb));
	return rc;
}

size_t
pr_output_pending(const struct pr_output *o)
{
	return (o->out.nb ? sink_pending(&o->out) : 0) +
	    (o->err.nb ? sink_pending(&o->err) : 0);
}

int
pr_output_wait_fd(const struct pr_output *o, int which, size_t *pending)
{
	const struct sink *s = which == 0 ? &o->out : &o->err;

	*pending = 0;
	if (!s->nb)
		return -1;
	*pending = sink_pending(s);
	return s->fd;
}

bool
pr_output_stderr_busy(const struct pr_output *o)
{
	const struct sink *s = o->err.fwd != NULL ? o->err.fwd : &o->err;

	return s->nb && sink_pending(s) > 0;
}

int
pr_output_stdout_error(const struct pr_output *o)
{
	return o->out.dead ? o->out.error : 0;
}

uint64_t
pr_output_next_seq(const struct pr_output *o)
{
	return o->next;
}

size_t
pr_output_held(const struct pr_output *o)
{
	return o->nrec_held;
}

size_t
pr_output_held_bytes(const struct pr_output *o)
{
	return o->held_bytes;
}

void
pr_output_get_stats(const struct pr_output *o, struct pr_output_stats *st)
{
	*st = o->st;
}

int
pr_output_close(struct pr_output *o, struct pr_errbuf *eb)
{
	int rc = 0;

	if (o == NULL)
		return 0;
	/* records still held wait for seqs that never came: write them in
	 * order anyway, nothing is dropped */
	while (o->nrec_held > 0) {
		struct held *best = NULL;

		for (size_t i = 0; i < o->tabcap; i++) {
			struct held *h = o->tab[i];

			if (h != NULL && h->have_rec &&
			    (best == NULL || h->seq < best->seq))
				best = h;
		}
		keep_err(&rc, emit(o, best, &best->rec, eb));
		o->next = best->seq + 1;
		held_free(o, best);
	}
	/* chunks of tasks that never ended */
	for (size_t i = 0; i < o->tabcap; i++)
		if (o->tab[i] != NULL)
			held_destroy(o, o->tab[i]);
	keep_err(&rc, pr_output_flush(o, eb));
	/* what waits for a slow reader goes now, however long it takes */
	if (o->out.nb)
		keep_err(&rc, nb_drain(o, &o->out, eb));
	if (o->err.nb)
		keep_err(&rc, nb_drain(o, &o->err, eb));
	for (int i = 0; i < 2; i++) {
		struct sink *s = i == 0 ? &o->out : &o->err;

		if (s->nbfd >= 0)
			close(s->nbfd);
		if (s->ovf_fd >= 0)
			close(s->ovf_fd);
	}
	if (o->res_sink.own && close(o->res_sink.fd) < 0 && !o->res_sink.dead)
		keep_err(&rc, pr_err(eb, -errno, "cannot close '%s': %s",
		    o->results_path, pr_strerror(-errno)));
	if (o->log_sink.own && close(o->log_sink.fd) < 0 && !o->log_sink.dead)
		keep_err(&rc, pr_err(eb, -errno, "cannot close '%s': %s",
		    o->joblog_path, pr_strerror(-errno)));
	if (o->spill_fd >= 0)
		close(o->spill_fd);
	pr_buf_release(&o->out.buf);
	pr_buf_release(&o->err.buf);
	pr_buf_release(&o->res_sink.buf);
	pr_buf_release(&o->log_sink.buf);
	pr_buf_release(&o->line);
	pr_buf_release(&o->sout);
	pr_buf_release(&o->serr);
	pr_buf_release(&o->tmp);
	free(o->tab);
	free(o->bits);
	free(o->spill_dir);
	free(o->results_path);
	free(o->joblog_path);
	free(o);
	return rc;
}

/* ---- --value ---------------------------------------------------------- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A decimal number and nothing else: [+-] digits [. digits] [e [+-] digits] */
static bool
looks_numeric(const char *p, size_t n)
{
	size_t i = 0, digits = 0;

	if (i < n && (p[i] == '+' || p[i] == '-'))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		digits++;
	if (i < n && p[i] == '.')
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			digits++;
	if (digits == 0)
		return false;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		size_t ed = 0;

		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			ed++;
		if (ed == 0)
			return false;
	}
	return i == n;
}

bool
pr_value_parse(const char *s, size_t n, double *v)
{
	size_t end = n, start;

	if (s == NULL)
		return false;
	/* the last non-empty line: skip trailing newlines and blank lines */
	for (;;) {
		bool blank = true;

		while (end > 0 && s[end - 1] == '\n')
			end--;
		if (end == 0)
			return false;
		start = end;
		while (start > 0 && s[start - 1] != '\n')
			start--;
		for (size_t i = start; i < end; i++)
			if (!is_blank(s[i]))
				blank = false;
		if (!blank)
			break;
		end = start;
	}
	/* its tokens, from the last */
	while (end > start) {
		size_t te, ts;
		char tok[128];
		double d;
		char *ep;

		while (end > start && is_blank(s[end - 1]))
			end--;
		te = end;
		ts = te;
		while (ts > start && !is_blank(s[ts - 1]))
			ts--;
		end = ts;
		if (te == ts || te - ts >= sizeof(tok) ||
		    !looks_numeric(s + ts, te - ts))
			continue;
		memcpy(tok, s + ts, te - ts);
		tok[te - ts] = '\0';
		d = strtod(tok, &ep);
		if (*ep != '\0' || !isfinite(d))
			continue;
		*v = d;
		return true;
	}
	return false;
}
