/*
 * proto.h - the parrun wire protocol, version 1 (the code side; the
 * specification is man/parrun-protocol.7 and the golden lines under
 * tests/fixtures/proto/ pin the format).
 *
 * One JSON object per line, "\n"-terminated, on a worker's stdin/stdout, an
 * SSH channel or a TCP socket.  Every message starts with its "type".  The
 * worker speaks first:
 *
 *	W->C  hello     proto range, version, host, pid, cpus, slots, kernels
 *	C->W  welcome   chosen proto, worker index, heartbeat, frame cap, seed,
 *	                default task timeout
 *	C->W  reject    reason, the coordinator's range; both sides then stop
 *	C->W  task      one task; "tasks" carries a batch
 *	W->C  started   a command task's process is running (pid)
 *	W->C  output    a chunk of a running task's stdout/stderr
 *	W->C  result    one final result; "results" carries a batch
 *	C->W  cancel    stop a task (TERM to its group, KILL after grace)
 *	both  hb        heartbeat
 *	both  error     something the peer should know; may be fatal
 *	C->W  shutdown  finish ("drain"), finish what runs ("soon") or stop
 *			("now"), then say bye
 *	W->C  bye       the last message a worker sends
 *	C->W  broadcast data for every task on this worker (sent once)
 *
 * Message types are numbered in blocks and never renumbered; a retired type
 * keeps its number.  Bump PR_PROTO_MAX for any change a v1 peer could
 * misread; adding an optional field is not such a change (unknown fields
 * are ignored, an unknown type is answered with "error").
 *
 * Framing (struct pr_framer): split on byte 0x0A only; keep the
 * unterminated tail across reads; a line longer than the cap is an error
 * even when its LF arrives in the same read; EOF with a non-empty tail is a
 * torn frame.
 *
 * Ownership: encoders append one complete line (with its "\n") to a
 * struct pr_buf the caller owns.  Decoders fill structs whose pointers are
 * borrowed from the cJSON tree passed in; they stay valid until the caller
 * cJSON_Delete()s it.
 */
#ifndef PR_PROTO_H
#define PR_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"

#define PR_PROTO_MIN		1
#define PR_PROTO_MAX		1
#define PR_MAX_FRAME		(1024 * 1024)	/* default line cap */
#define PR_PREAUTH_FRAME	4096		/* cap before authentication */
#define PR_OUTPUT_CHUNK		(64 * 1024)	/* largest "output" payload */
#define PR_SEQ_MAX		((uint64_t)9007199254740991)	/* 2^53 - 1 */
#define PR_MAX_SLOTS		65536		/* most cpus, slots, threads */

enum pr_msg_type {
	PR_MSG_UNKNOWN = 0,
	/* handshake: 100 */
	PR_MSG_HELLO = 100,
	PR_MSG_WELCOME = 101,
	PR_MSG_REJECT = 102,
	/* coordinator -> worker work: 200 */
	PR_MSG_TASK = 200,
	PR_MSG_TASKS = 201,
	PR_MSG_CANCEL = 202,
	PR_MSG_BROADCAST = 203,
	/* worker -> coordinator progress: 300 */
	PR_MSG_STARTED = 300,
	PR_MSG_OUTPUT = 301,
	PR_MSG_RESULT = 302,
	PR_MSG_RESULTS = 303,
	/* control, both ways: 400 */
	PR_MSG_HB = 400,
	PR_MSG_ERROR = 401,
	PR_MSG_SHUTDOWN = 402,
	PR_MSG_BYE = 403,
};

/* "hello", ...; "unknown" for anything else (never NULL). */
const char *pr_msg_type_name(enum pr_msg_type t);

/* ---- framing ------------------------------------------------------------- */

/*
 * Called once per complete line.  line is NUL-terminated at len (the LF
 * is replaced) and may be modified; it is valid only during the call.
 * err is 0, or PR_ETOOBIG for a line over the cap: then line holds its
 * first max_line bytes and the rest up to the next LF is skipped.
 * Return 0 to go on; anything else stops pr_framer_feed(), which returns it.
 * During the call f->lines is the 1-based number of this line and
 * f->offset the stream offset of its first byte.
 */
typedef int (*pr_frame_cb)(void *arg, char *line, size_t len, int err);

struct pr_framer {
	struct pr_buf tail;	/* unterminated bytes kept across feeds */
	size_t max_line;
	bool skipping;		/* inside an over-long line */
	bool strip_cr;		/* drop one CR before the LF (task input) */
	uint64_t lines;		/* complete lines delivered so far */
	uint64_t offset;	/* stream offset of the current line's start */
	uint64_t consumed;	/* stream bytes taken in so far */
};

/* max_line 0 means no cap.  The cap counts the bytes before the LF, not
 * counting a CR that strip_cr drops.  Set strip_cr after init; both may
 * be changed between feeds (say, after the handshake). */
void pr_framer_init(struct pr_framer *f, size_t max_line);
/* Frees the tail; the counters stay readable. */
void pr_framer_release(struct pr_framer *f);
/*
 * data may be modified in place (LFs become NULs).  A line lying wholly
 * inside data is passed to cb as a pointer into data (no copy); only a
 * line spanning feeds is assembled in f->tail.  When cb stops the feed,
 * the rest of data is dropped as if it had never been fed.
 */
int pr_framer_feed(struct pr_framer *f, char *data, size_t n,
    pr_frame_cb cb, void *arg);
/*
 * At EOF: 0, or PR_ETORN when an unterminated line is left (then f->tail
 * still holds it and f->offset is where it began).  With deliver_tail,
 * for inputs where a missing final LF is allowed, the line is given to cb
 * instead and cb's return value is returned.  An over-long line whose LF
 * never came was already reported with PR_ETOOBIG: 0.
 */
int pr_framer_finish(struct pr_framer *f, bool deliver_tail,
    pr_frame_cb cb, void *arg);

/*
 * Parse one line into a tree and find its type.  The whole line must be
 * one JSON object (JSON whitespace around it allowed), UTF-8 without NUL
 * bytes.  An unknown "type" is not an error here: *type is
 * PR_MSG_UNKNOWN and the caller answers with an "error" message.  On
 * error eb names the 1-based byte column ("column 17: invalid JSON").
 * Caller cJSON_Delete()s *root on success; on error *root is NULL.
 */
int pr_msg_parse(const char *line, size_t len, cJSON **root,
    enum pr_msg_type *type, struct pr_errbuf *eb);

/* ---- handshake ----------------------------------------------------------- */

struct pr_hello {
	int proto_min, proto_max;
	const char *version;		/* parrun version string */
	const char *host;
	long pid;
	int cpus;			/* CPUs this worker may use */
	int slots;			/* tasks it runs at once */
	/* encode: */
	const char *const *kernels;
	size_t nkernels;
	/* decode: borrowed array of strings (also encoded when kernels is
	 * NULL, so a decoded hello can be written back) */
	const cJSON *kernel_list;
};

int pr_msg_hello(struct pr_buf *b, const struct pr_hello *h);
int pr_hello_decode(const cJSON *msg, struct pr_hello *h,
    struct pr_errbuf *eb);
bool pr_hello_has_kernel(const struct pr_hello *h, const char *name);

struct pr_welcome {
	int proto;			/* the version both will speak */
	int worker;			/* coordinator's index, 1-based */
	int hb_ms;			/* heartbeat period; 0: none */
	size_t max_frame;
	uint64_t seed;			/* run seed for random streams; on the
					   wire a number up to 2^53-1, a
					   decimal string above */
	int threads;			/* threads per task (thread budget) */
	bool stream_output;		/* send output as it comes */
	const char *session;		/* run id */
	int64_t timeout_ms;		/* optional: the default limit of
					   tasks that carry no "timeout_ms"
					   (--timeout); 0: none, and then not
					   on the wire */
};

/* -EINVAL (nothing appended) for a timeout_ms outside 0..2^53-1. */
int pr_msg_welcome(struct pr_buf *b, const struct pr_welcome *w);
int pr_welcome_decode(const cJSON *msg, struct pr_welcome *w,
    struct pr_errbuf *eb);
int pr_msg_reject(struct pr_buf *b, const char *reason, int min, int max);
/* *reason is borrowed from msg. */
int pr_reject_decode(const cJSON *msg, const char **reason, int *min,
    int *max, struct pr_errbuf *eb);

/* Pick the highest version in both ranges; PR_EVERSION if none. */
int pr_proto_negotiate(int their_min, int their_max, int *chosen);

/* ---- tasks --------------------------------------------------------------- */

enum pr_task_kind {
	PR_KIND_ARGV,
	PR_KIND_SH,
	PR_KIND_KERNEL,
};

/*
 * A task on the wire: {"type":"task","seq":N,"attempt":A,<body>} where
 * body is the coordinator's pre-encoded members (no braces):
 *	"id":"t7", and one of "argv":[...] | "sh":"..." |
 *	"kernel":"name","params":{...}; optional "env":{"K":"V"},
 *	"cwd":"...", "timeout_ms":N, "seed":N, "threads":N.
 * A batch is {"type":"tasks","tasks":[{"seq":..,"attempt":..,<body>},...]}.
 */
struct pr_task_ref {
	uint64_t seq;
	int attempt;
	const char *body;
	size_t bodylen;
};

/* n == 1 writes "task", n > 1 writes "tasks". */
int pr_msg_tasks(struct pr_buf *b, const struct pr_task_ref *t, size_t n);

struct pr_task_msg {
	uint64_t seq;
	int attempt;
	const char *id;			/* NULL when absent: key by seq */
	enum pr_task_kind kind;
	const cJSON *argv;		/* non-empty array of strings */
	const char *sh;
	const char *kernel;
	const cJSON *params;		/* object, or NULL */
	const cJSON *env;		/* object of strings, or NULL */
	const char *cwd;		/* or NULL */
	int64_t timeout_ms;		/* 0: none */
	bool has_seed;
	uint64_t seed;
	int threads;			/* 0: the worker's default */
};

/* Decode one task object (the message itself, or one item of "tasks"). */
int pr_task_decode(const cJSON *obj, struct pr_task_msg *t,
    struct pr_errbuf *eb);
/* Append t's body members (no braces), in the canonical order:
 * id, argv|sh|kernel+params, env, cwd, timeout_ms, seed, threads. */
int pr_task_body_encode(struct pr_buf *b, const struct pr_task_msg *t);

/*
 * The items of a batch: for PR_MSG_TASKS / PR_MSG_RESULTS the non-empty
 * "tasks" / "results" array, for PR_MSG_TASK / PR_MSG_RESULT the message
 * itself.  Walk them with it = it->next from *first (borrowed).
 */
int pr_batch_decode(const cJSON *msg, enum pr_msg_type type,
    const cJSON **first, size_t *n, struct pr_errbuf *eb);

int pr_msg_cancel(struct pr_buf *b, uint64_t seq, int attempt, int grace_ms);
int pr_cancel_decode(const cJSON *msg, uint64_t *seq, int *attempt,
    int *grace_ms, struct pr_errbuf *eb);

/* {"type":"broadcast","data":"..."|"data_b64":"..."} */
int pr_msg_broadcast(struct pr_buf *b, const void *data, size_t len);
/* Appends the data to out. */
int pr_broadcast_decode(const cJSON *msg, struct pr_buf *out,
    struct pr_errbuf *eb);

/* ---- progress and results ------------------------------------------------ */

enum pr_status {
	PR_ST_OK,
	PR_ST_FAILED,		/* ran, exited non-zero or by a signal */
	PR_ST_TIMEOUT,
	PR_ST_CANCELLED,
	PR_ST_ERROR,		/* could not run: spawn or kernel error */
	/* decided by the coordinator only: */
	PR_ST_LOST,		/* its workers kept dying */
	PR_ST_REJECTED,		/* bad input line, skipped */
};

const char *pr_status_name(enum pr_status s);
int pr_status_parse(const char *name, enum pr_status *s);

int pr_msg_started(struct pr_buf *b, uint64_t seq, int attempt, long pid);
int pr_started_decode(const cJSON *msg, uint64_t *seq, int *attempt,
    long *pid, struct pr_errbuf *eb);

/* stream: 1 stdout, 2 stderr; len <= PR_OUTPUT_CHUNK */
int pr_msg_output(struct pr_buf *b, uint64_t seq, int attempt, int stream,
    const char *data, size_t len);
/* Appends the decoded bytes to out. */
int pr_output_decode(const cJSON *msg, uint64_t *seq, int *attempt,
    int *stream, struct pr_buf *out, struct pr_errbuf *eb);

struct pr_result_msg {
	uint64_t seq;
	int attempt;
	enum pr_status status;
	int exit;			/* -1: none (signal, error, kernel) */
	int signal;			/* 0: none */
	double start;			/* unix time, seconds */
	double elapsed;			/* seconds; both sent to the us */
	bool has_value;
	double value;
	const char *error;		/* message, for PR_ST_ERROR; or NULL */
	/* encode: the output still held by the worker (may be empty) */
	const char *out;
	size_t outlen;
	const char *err;
	size_t errlen;
	/* kernel metrics as JSON members without braces ("seconds":1.5),
	 * encode side; decode side gets the object in extra_json (which the
	 * encoder writes when extra is NULL) */
	const char *extra;
	const cJSON *extra_json;
};

/* One whole "result" line. */
int pr_msg_result(struct pr_buf *b, const struct pr_result_msg *r);

/*
 * Batches: pr_msg_results_open() once, pr_msg_results_add() per result,
 * pr_msg_results_close() to end the line.  n counts items added so far.
 */
int pr_msg_results_open(struct pr_buf *b);
int pr_msg_results_add(struct pr_buf *b, size_t n,
    const struct pr_result_msg *r);
int pr_msg_results_close(struct pr_buf *b);

/* Decode one result object; stdout/stderr bytes are appended to out/err
 * (either may be NULL to skip them) and r->out/outlen, r->err/errlen
 * point at what was appended (valid until the buffer changes).  The
 * coordinator-only statuses (lost, rejected) are refused. */
int pr_result_decode(const cJSON *obj, struct pr_result_msg *r,
    struct pr_buf *out, struct pr_buf *err, struct pr_errbuf *eb);

/* ---- control ------------------------------------------------------------- */

int pr_msg_hb(struct pr_buf *b, double now, int running);
int pr_hb_decode(const cJSON *msg, double *now, int *running,
    struct pr_errbuf *eb);
int pr_msg_error(struct pr_buf *b, const char *code, const char *msg,
    bool fatal);
/* *code and *text are borrowed; "fatal" may be absent (false). */
int pr_error_decode(const cJSON *msg, const char **code, const char **text,
    bool *fatal, struct pr_errbuf *eb);
/* mode: "drain" (finish queued tasks) or "now" (cancel them) */
int pr_msg_shutdown(struct pr_buf *b, const char *mode, int grace_ms);
int pr_shutdown_decode(const cJSON *msg, const char **mode, int *grace_ms,
    struct pr_errbuf *eb);
int pr_msg_bye(struct pr_buf *b);

/*
 * Decode msg strictly as type and append it again in canonical form (one
 * line).  Used by the golden-file tests and the fuzzer; also a validator.
 * PR_MSG_UNKNOWN is PR_EPROTO.
 */
int pr_msg_canonical(struct pr_buf *b, const cJSON *msg,
    enum pr_msg_type type, struct pr_errbuf *eb);

/* ---- fast decoders --------------------------------------------------------- */

/*
 * The two messages sent once per task, "task(s)" to workers and
 * "result(s)" back, decoded in one pass without a cJSON tree.  They take only lines in the plain form, which is what
 * parrun's own encoders write, and decline the rest, which the caller
 * then decodes the general way (pr_msg_parse() and pr_task_decode() /
 * pr_result_decode()); for every line they take, what they decode is
 * what the general way decodes (tests/unit/test_proto.c compares the two
 * on a corpus, tests/fuzz/fuzz_proto.c on anything).
 *
 * The plain form: one JSON object of the type, strict JSON (only JSON
 * whitespace; no \u escapes; no escapes in keys, "type" or "status";
 * numbers of at most 40 characters; values nested at most 32 deep),
 * every field the decoder reads valid and none of them twice (unknown
 * fields are skipped), and none of the fields that are objects or
 * arrays: tasks without "argv" and "env", results without "extra",
 * "stdout_b64" and "stderr_b64".  A kernel task's "params" object is
 * passed as text (params, paramslen: a span of line, not
 * NUL-terminated; NULL when there is none or the task is not a
 * kernel's); it is JSON that cJSON_ParseWithLength() takes, and the tree
 * it gives is the one the general path gives.
 *
 * pr_fast_*_decode(): the type (PR_MSG_TASK or _TASKS, PR_MSG_RESULT or
 * _RESULTS) when line (len bytes) is in the plain form: then, the whole
 * line checked, cb is called for each of its n items in order (i from
 * 0); else 0, with line unchanged and cb not called.  The strings of an
 * item are decoded in place and NUL-terminated inside line, which is
 * modified; they stay valid while line does.  Results: r->out / r->err
 * point at the decoded stdout / stderr (NULL when empty); r->extra and
 * r->extra_json are NULL.  Tasks: argv, params and env are NULL (params:
 * see above).  The items are kept in a scratch array of the calling
 * thread between the scan and the calls (grown as needed, never freed),
 * so cb must not call a fast decoder itself.
 * pr_fast_*_check(): the same answer, and *n, without decoding (line
 * is only read).
 */
typedef void (*pr_fast_task_cb)(void *arg, size_t i, size_t n,
    const struct pr_task_msg *t, const char *params, size_t paramslen);
typedef void (*pr_fast_result_cb)(void *arg, size_t i, size_t n,
    const struct pr_result_msg *r);

int pr_fast_tasks_decode(char *line, size_t len, pr_fast_task_cb cb,
    void *arg);
int pr_fast_tasks_check(const char *line, size_t len, size_t *n);
int pr_fast_results_decode(char *line, size_t len, pr_fast_result_cb cb,
    void *arg);
int pr_fast_results_check(const char *line, size_t len, size_t *n);
/*
 * For the tests: what the fast decoders make of line, written back as
 * pr_msg_canonical() writes it (one line appended to b): 0, or 1 when
 * neither takes line (nothing appended, line unchanged), or an
 * encoder's error.  line is modified.  On any line this gives 1 or the
 * bytes pr_msg_canonical() gives for the parsed original.
 */
int pr_fast_canonical(struct pr_buf *b, char *line, size_t len);

#endif
