/*
 * auth.c - the run secret and the TCP handshake (see auth.h).
 *
 * Everything here works on bytes the caller read; nothing blocks except
 * the secret readers, which the worker calls once before its loop starts.
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "proto.h"

#define LABEL_C		"parrun-v1 coordinator"
#define LABEL_W		"parrun-v1 worker"
#define NONCE_MEMBER	",\"nonce\":\""		/* + 64 hex + "\"" */
#define SECRET_LINE_MAX	128

enum {
	STEP_START,
	STEP_WAIT,		/* worker: hello sent; coord: auth sent */
	STEP_DONE,
	STEP_FAILED,
};

/* ---- hex ----------------------------------------------------------------- */

/* Branch-free nibble to lowercase digit: secrets go through here. */
static char
hex_digit(unsigned v)
{
	/* 0..9 -> '0'..'9'; 10..15 -> 'a'..'f' ('a' - '0' - 10 = 39) */
	return (char)('0' + v + (((9u - v) >> 8) & 39u));
}

static void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex_digit(p[i] >> 4);
		out[2 * i + 1] = hex_digit(p[i] & 15u);
	}
	out[2 * n] = '\0';
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2n hex digits in s[0..len) into out[0..n); false otherwise. */
static bool
hex_decode(const char *s, size_t len, uint8_t *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (len != 2 * n)
		return false;
	for (i = 0; i < n; i++) {
		hi = hex_value((unsigned char)s[2 * i]);
		lo = hex_value((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* ---- secrets ------------------------------------------------------------- */

int
pr_secret_generate(uint8_t secret[PR_SECRET_LEN])
{
	if (RAND_bytes(secret, PR_SECRET_LEN) != 1)
		return PR_EAUTH;
	return 0;
}

void
pr_secret_hex(const uint8_t secret[PR_SECRET_LEN], char hex[PR_SECRET_HEX + 1])
{
	hex_encode(secret, PR_SECRET_LEN, hex);
}

int
pr_secret_parse(const char *s, size_t n, uint8_t secret[PR_SECRET_LEN],
    struct pr_errbuf *eb)
{
	if (n > 0 && s[n - 1] == '\n') {
		n--;
		if (n > 0 && s[n - 1] == '\r')
			n--;
	}
	if (!hex_decode(s, n, secret, PR_SECRET_LEN)) {
		pr_secret_wipe(secret, PR_SECRET_LEN);
		return pr_err(eb, PR_EAUTH, "a secret is %d hex digits on "
		    "one line", PR_SECRET_HEX);
	}
	return 0;
}

void
pr_secret_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int
pr_secret_read_fd(int fd, uint8_t secret[PR_SECRET_LEN],
    struct pr_errbuf *eb)
{
	char line[SECRET_LINE_MAX + 1];
	size_t n = 0;
	ssize_t r;
	int rc;

	if (isatty(fd))
		return pr_err(eb, PR_EAUTH, "the secret is read from stdin, "
		    "which is a terminal (use --secret-file FILE)");
	for (;;) {
		if (n == sizeof(line)) {
			rc = pr_err(eb, PR_EAUTH, "the first line of stdin is "
			    "not a secret (over %d bytes)", SECRET_LINE_MAX);
			goto out;
		}
		r = read(fd, line + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = pr_err(eb, -errno, "cannot read the secret from "
			    "stdin: %s", strerror(errno));
			goto out;
		}
		if (r == 0) {
			rc = pr_err(eb, PR_EAUTH, n == 0 ? "no secret on stdin "
			    "(it is empty)" : "no secret on stdin (no "
			    "complete line)");
			goto out;
		}
		if (line[n++] == '\n')
			break;
	}
	rc = pr_secret_parse(line, n, secret, eb);
	if (rc < 0)
		rc = pr_err(eb, PR_EAUTH, "the first line of stdin is not a "
		    "secret (%d hex digits)", PR_SECRET_HEX);
out:
	pr_secret_wipe(line, sizeof(line));
	return rc;
}

int
pr_secret_read_file(const char *path, uint8_t secret[PR_SECRET_LEN],
    struct pr_errbuf *eb)
{
	char text[SECRET_LINE_MAX + 1];
	struct stat st;
	size_t n = 0;
	ssize_t r;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return pr_err(eb, -errno, "cannot open secret file '%s': %s",
		    path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = pr_err(eb, -errno, "cannot stat secret file '%s': %s",
		    path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = pr_err(eb, PR_EAUTH, "secret file '%s' is not a regular "
		    "file", path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		rc = pr_err(eb, PR_EAUTH, "secret file '%s' belongs to uid "
		    "%ld, not to you (uid %ld)", path, (long)st.st_uid,
		    (long)geteuid());
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = pr_err(eb, PR_EAUTH, "secret file '%s' has mode %04o: "
		    "others may read it (chmod 600 it)", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (n < sizeof(text)) {
		r = read(fd, text + n, sizeof(text) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = pr_err(eb, -errno, "cannot read secret file "
			    "'%s': %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	rc = pr_secret_parse(text, n, secret, eb);
	if (rc < 0)
		rc = pr_err(eb, PR_EAUTH, "secret file '%s' does not hold a "
		    "secret (%d hex digits and a newline)", path,
		    PR_SECRET_HEX);
out:
	pr_secret_wipe(text, sizeof(text));
	close(fd);
	return rc;
}

int
pr_secret_write_file(const char *path, const uint8_t secret[PR_SECRET_LEN],
    struct pr_errbuf *eb)
{
	char text[PR_SECRET_HEX + 2];
	size_t off = 0;
	ssize_t w;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return pr_err(eb, -errno, "cannot create secret file '%s': %s",
		    path, strerror(errno));
	pr_secret_hex(secret, text);
	text[PR_SECRET_HEX] = '\n';
	/* the umask can only have taken bits away; make sure of 0600 */
	if (fchmod(fd, 0600) < 0) {
		rc = pr_err(eb, -errno, "cannot chmod secret file '%s': %s",
		    path, strerror(errno));
		goto fail;
	}
	while (off < PR_SECRET_HEX + 1) {
		w = write(fd, text + off, PR_SECRET_HEX + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = pr_err(eb, -errno, "cannot write secret file "
			    "'%s': %s", path, strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = pr_err(eb, -errno, "cannot write secret file '%s': %s",
		    path, strerror(errno));
		goto fail;
	}
	pr_secret_wipe(text, sizeof(text));
	return 0;
fail:
	pr_secret_wipe(text, sizeof(text));
	if (fd >= 0)
		close(fd);
	unlink(path);
	return rc;
}

int
pr_secret_write_private(const char *parent,
    const uint8_t secret[PR_SECRET_LEN], char **path, struct pr_errbuf *eb)
{
	struct pr_buf dir, file;
	int rc;

	*path = NULL;
	if (parent == NULL || parent[0] == '\0')
		parent = getenv("TMPDIR");
	if (parent == NULL || parent[0] == '\0')
		parent = "/tmp";
	pr_buf_init(&dir, PATH_MAX);
	pr_buf_init(&file, PATH_MAX);
	if ((rc = pr_buf_addf(&dir, "%s/parrun-XXXXXX", parent)) < 0) {
		rc = pr_err(eb, rc, "directory name too long: '%s'", parent);
		goto out;
	}
	if (mkdtemp(dir.data) == NULL) {
		rc = pr_err(eb, -errno, "cannot make a directory in '%s': %s",
		    parent, strerror(errno));
		goto out;
	}
	if ((rc = pr_buf_addf(&file, "%s/secret", dir.data)) < 0) {
		rc = pr_err(eb, rc, "directory name too long: '%s'", parent);
		rmdir(dir.data);
		goto out;
	}
	rc = pr_secret_write_file(file.data, secret, eb);
	if (rc < 0) {
		rmdir(dir.data);
		goto out;
	}
	*path = pr_buf_detach(&file, NULL);
out:
	pr_buf_release(&dir);
	pr_buf_release(&file);
	return rc;
}

void
pr_secret_remove(const char *path)
{
	char *dir, *slash;

	if (path == NULL)
		return;
	unlink(path);
	dir = strdup(path);
	if (dir == NULL)
		return;
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		rmdir(dir);
	}
	free(dir);
}

/* ---- the handshake ------------------------------------------------------- */

int
pr_auth_init(struct pr_auth *a, enum pr_auth_role role,
    const uint8_t secret[PR_SECRET_LEN])
{
	memset(a, 0, sizeof(*a));
	a->role = role;
	a->step = STEP_START;
	memcpy(a->secret, secret, PR_SECRET_LEN);
	if (RAND_bytes(a->nonce, PR_NONCE_LEN) != 1) {
		pr_auth_wipe(a);
		return PR_EAUTH;
	}
	return 0;
}

void
pr_auth_wipe(struct pr_auth *a)
{
	pr_secret_wipe(a, sizeof(*a));
	a->step = STEP_FAILED;
}

/* HMAC-SHA256(secret, label 0x00 first second transcript) */
static int
compute_mac(const struct pr_auth *a, const char *label, const uint8_t *first,
    const uint8_t *second, uint8_t mac[PR_MAC_LEN])
{
	uint8_t msg[sizeof(LABEL_C) + 2 * PR_NONCE_LEN + 32];
	size_t ll = strlen(label) + 1, n;	/* with its NUL */
	unsigned int maclen = 0;

	memcpy(msg, label, ll);
	n = ll;
	memcpy(msg + n, first, PR_NONCE_LEN);
	n += PR_NONCE_LEN;
	memcpy(msg + n, second, PR_NONCE_LEN);
	n += PR_NONCE_LEN;
	memcpy(msg + n, a->transcript, sizeof(a->transcript));
	n += sizeof(a->transcript);
	if (HMAC(EVP_sha256(), a->secret, PR_SECRET_LEN, msg, n, mac,
	    &maclen) == NULL || maclen != PR_MAC_LEN)
		return PR_EAUTH;
	return 0;
}

static int
hash_hello(struct pr_auth *a, const char *line, size_t len)
{
	unsigned int n = 0;

	if (EVP_Digest(line, len, a->transcript, &n, EVP_sha256(), NULL) != 1
	    || n != sizeof(a->transcript))
		return PR_EAUTH;
	return 0;
}

/* The string member name of o, or NULL. */
static const char *
get_string(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* A member holding 32 bytes as 64 hex digits: 1 found, 0 absent, -1 bad. */
static int
get_hex32(const cJSON *o, const char *name, uint8_t out[32])
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	if (it == NULL)
		return 0;
	if (!cJSON_IsString(it) || it->valuestring == NULL)
		return -1;
	return hex_decode(it->valuestring, strlen(it->valuestring), out, 32) ?
	    1 : -1;
}

/* "proto":[min,max], 1 <= min <= max <= INT_MAX. */
static bool
get_range(const cJSON *o, int *min, int *max)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "proto");
	const cJSON *lo, *hi;

	if (!cJSON_IsArray(it))
		return false;
	lo = it->child;
	hi = lo != NULL ? lo->next : NULL;
	if (lo == NULL || hi == NULL || hi->next != NULL ||
	    !cJSON_IsNumber(lo) || !cJSON_IsNumber(hi))
		return false;
	if (!(lo->valuedouble >= 1 && lo->valuedouble <= INT_MAX) ||
	    !(hi->valuedouble >= 1 && hi->valuedouble <= INT_MAX) ||
	    lo->valuedouble != floor(lo->valuedouble) ||
	    hi->valuedouble != floor(hi->valuedouble) ||
	    lo->valuedouble > hi->valuedouble)
		return false;
	*min = (int)lo->valuedouble;
	*max = (int)hi->valuedouble;
	return true;
}

/* A short, printable rendering of a peer's "type" for messages. */
static const char *
type_of(const cJSON *msg)
{
	const char *t = get_string(msg, "type");
	size_t i;

	if (t == NULL)
		return "(none)";
	for (i = 0; t[i] != '\0'; i++)
		if (i >= 20 || (unsigned char)t[i] < 0x20 || t[i] == '\'' ||
		    (unsigned char)t[i] >= 0x7f)
			return "(unprintable)";
	return t;
}

int
pr_auth_worker_hello(struct pr_auth *a, const char *hello, size_t len,
    struct pr_buf *out, struct pr_errbuf *eb)
{
	char hex[2 * PR_NONCE_LEN + 1];
	enum pr_msg_type type;
	cJSON *root = NULL;
	size_t end, start = out->len;
	bool have;
	int rc;

	if (a->role != PR_AUTH_WORKER || a->step != STEP_START)
		return pr_err(eb, -EINVAL, "handshake step out of order");
	if (len > 0 && hello[len - 1] == '\n')
		len--;
	if (memchr(hello, '\n', len) != NULL)
		return pr_err(eb, PR_EPROTO, "hello of more than one line");
	if (len + sizeof(NONCE_MEMBER) + 2 * PR_NONCE_LEN + 1 >
	    PR_PREAUTH_FRAME)
		return pr_err(eb, PR_ETOOBIG, "hello of %zu bytes: too long "
		    "to send before authentication", len);
	rc = pr_msg_parse(hello, len, &root, &type, eb);
	if (rc < 0)
		return rc;
	/* our range, to tell a version reject from the others */
	if (type == PR_MSG_HELLO &&
	    !get_range(root, &a->proto_min, &a->proto_max)) {
		a->proto_min = PR_PROTO_MIN;
		a->proto_max = PR_PROTO_MAX;
	}
	/* a second "nonce" would be the one the coordinator reads */
	have = cJSON_GetObjectItemCaseSensitive(root, "nonce") != NULL;
	cJSON_Delete(root);
	if (type != PR_MSG_HELLO)
		return pr_err(eb, PR_EPROTO, "not a hello line");
	if (have)
		return pr_err(eb, PR_EPROTO, "hello already has a nonce");
	/* pr_msg_parse accepted one object: the last non-blank is '}' */
	end = len;
	while (end > 0 && hello[end - 1] != '}')
		end--;
	if (end == 0)
		return pr_err(eb, PR_EPROTO, "not a hello line");
	end--;
	hex_encode(a->nonce, PR_NONCE_LEN, hex);
	if ((rc = pr_buf_add(out, hello, end)) < 0 ||
	    (rc = pr_buf_adds(out, NONCE_MEMBER)) < 0 ||
	    (rc = pr_buf_adds(out, hex)) < 0 ||
	    (rc = pr_buf_adds(out, "\"}")) < 0)
		goto fail;
	rc = hash_hello(a, out->data + start, out->len - start);
	if (rc < 0 || (rc = pr_buf_addc(out, '\n')) < 0)
		goto fail;
	a->step = STEP_WAIT;
	return 0;
fail:
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return pr_err(eb, rc, "cannot write the hello: %s", pr_strerror(rc));
}

int
pr_auth_worker_reply(struct pr_auth *a, const char *line, size_t len,
    struct pr_buf *out, struct pr_errbuf *eb)
{
	uint8_t mac[PR_MAC_LEN], want[PR_MAC_LEN];
	char hex[2 * PR_MAC_LEN + 1];
	enum pr_msg_type type;
	const char *reason, *t;
	cJSON *root = NULL;
	int rc, min, max;

	if (a->role != PR_AUTH_WORKER || a->step != STEP_WAIT)
		return pr_err(eb, -EINVAL, "handshake step out of order");
	a->step = STEP_FAILED;
	rc = pr_msg_parse(line, len, &root, &type, eb);
	if (rc < 0)
		return rc;
	if (type == PR_MSG_REJECT) {
		rc = pr_reject_decode(root, &reason, &min, &max, eb);
		if (rc < 0)
			goto out;
		if ((min > a->proto_min ? min : a->proto_min) >
		    (max < a->proto_max ? max : a->proto_max))
			rc = pr_err(eb, PR_EVERSION, "rejected by the "
			    "coordinator: %s (it speaks protocol %d..%d, this "
			    "worker %d..%d)", reason, min, max, a->proto_min,
			    a->proto_max);
		else
			rc = pr_err(eb, PR_EAUTH, "rejected by the "
			    "coordinator: %s", reason);
		goto out;
	}
	t = get_string(root, "type");
	if (t == NULL || strcmp(t, "auth") != 0) {
		rc = pr_err(eb, PR_EPROTO, "expected 'auth' from the "
		    "coordinator, got '%s'", type_of(root));
		goto out;
	}
	if (get_hex32(root, "nonce", a->peer_nonce) != 1 ||
	    get_hex32(root, "mac", mac) != 1) {
		rc = pr_err(eb, PR_EPROTO, "the coordinator's 'auth' needs "
		    "'nonce' and 'mac' of %d hex digits", 2 * PR_NONCE_LEN);
		goto out;
	}
	rc = compute_mac(a, LABEL_C, a->nonce, a->peer_nonce, want);
	if (rc < 0)
		goto out;
	if (CRYPTO_memcmp(mac, want, PR_MAC_LEN) != 0) {
		rc = pr_err(eb, PR_EAUTH, "bad MAC from the coordinator (a "
		    "different secret, or not parrun's coordinator)");
		goto out;
	}
	rc = compute_mac(a, LABEL_W, a->peer_nonce, a->nonce, mac);
	if (rc < 0)
		goto out;
	hex_encode(mac, PR_MAC_LEN, hex);
	if ((rc = pr_buf_adds(out, "{\"type\":\"auth\",\"mac\":\"")) < 0 ||
	    (rc = pr_buf_adds(out, hex)) < 0 ||
	    (rc = pr_buf_adds(out, "\"}\n")) < 0)
		goto out;
	a->step = STEP_DONE;
out:
	pr_secret_wipe(want, sizeof(want));
	pr_secret_wipe(mac, sizeof(mac));
	cJSON_Delete(root);
	return rc;
}

/* Append a reject with our range; the caller is failing anyway. */
static void
add_reject(struct pr_buf *out, const char *reason)
{
	(void)pr_msg_reject(out, reason, PR_PROTO_MIN, PR_PROTO_MAX);
}

int
pr_auth_coord_hello(struct pr_auth *a, const char *line, size_t len,
    struct pr_buf *out, struct pr_errbuf *eb)
{
	uint8_t mac[PR_MAC_LEN];
	char nhex[2 * PR_NONCE_LEN + 1], mhex[2 * PR_MAC_LEN + 1];
	char why[128];
	enum pr_msg_type type;
	cJSON *root = NULL;
	int rc, chosen, have;

	if (a->role != PR_AUTH_COORDINATOR || a->step != STEP_START)
		return pr_err(eb, -EINVAL, "handshake step out of order");
	a->step = STEP_FAILED;
	if (len > PR_PREAUTH_FRAME)
		return pr_err(eb, PR_ETOOBIG, "a line over %d bytes before "
		    "authentication", PR_PREAUTH_FRAME);
	rc = pr_msg_parse(line, len, &root, &type, eb);
	if (rc < 0)
		return rc;
	if (type != PR_MSG_HELLO) {
		rc = pr_err(eb, PR_EPROTO, "expected 'hello', got '%s'",
		    type_of(root));
		goto out;
	}
	if (!get_range(root, &a->proto_min, &a->proto_max)) {
		rc = pr_err(eb, PR_EPROTO, "hello without a valid 'proto' "
		    "range");
		goto out;
	}
	if (pr_proto_negotiate(a->proto_min, a->proto_max, &chosen) < 0) {
		snprintf(why, sizeof(why), "worker speaks protocol %d..%d, "
		    "parrun speaks %d..%d", a->proto_min, a->proto_max,
		    PR_PROTO_MIN, PR_PROTO_MAX);
		add_reject(out, why);
		rc = pr_err(eb, PR_EVERSION, "%s", why);
		goto out;
	}
	have = get_hex32(root, "nonce", a->peer_nonce);
	if (have == 0) {
		add_reject(out, "authentication required: this coordinator "
		    "takes TCP workers with the run's secret only");
		rc = pr_err(eb, PR_EAUTH, "hello without a nonce (not "
		    "authenticating)");
		goto out;
	}
	if (have < 0) {
		rc = pr_err(eb, PR_EPROTO, "hello 'nonce' is not %d hex "
		    "digits", 2 * PR_NONCE_LEN);
		goto out;
	}
	if ((rc = hash_hello(a, line, len)) < 0 ||
	    (rc = compute_mac(a, LABEL_C, a->peer_nonce, a->nonce, mac)) < 0)
		goto out;
	hex_encode(a->nonce, PR_NONCE_LEN, nhex);
	hex_encode(mac, PR_MAC_LEN, mhex);
	if ((rc = pr_buf_adds(out, "{\"type\":\"auth\",\"nonce\":\"")) < 0 ||
	    (rc = pr_buf_adds(out, nhex)) < 0 ||
	    (rc = pr_buf_adds(out, "\",\"mac\":\"")) < 0 ||
	    (rc = pr_buf_adds(out, mhex)) < 0 ||
	    (rc = pr_buf_adds(out, "\"}\n")) < 0)
		goto out;
	a->step = STEP_WAIT;
out:
	pr_secret_wipe(mac, sizeof(mac));
	cJSON_Delete(root);
	return rc;
}

int
pr_auth_coord_check(struct pr_auth *a, const char *line, size_t len,
    struct pr_buf *out, struct pr_errbuf *eb)
{
	uint8_t mac[PR_MAC_LEN], want[PR_MAC_LEN];
	enum pr_msg_type type;
	const char *t;
	cJSON *root = NULL;
	int rc;

	if (a->role != PR_AUTH_COORDINATOR || a->step != STEP_WAIT)
		return pr_err(eb, -EINVAL, "handshake step out of order");
	a->step = STEP_FAILED;
	rc = pr_msg_parse(line, len, &root, &type, eb);
	if (rc < 0)
		return rc;
	t = get_string(root, "type");
	if (t == NULL || strcmp(t, "auth") != 0) {
		rc = pr_err(eb, PR_EPROTO, "expected 'auth', got '%s'",
		    type_of(root));
		goto out;
	}
	if (get_hex32(root, "mac", mac) != 1) {
		rc = pr_err(eb, PR_EPROTO, "'auth' needs a 'mac' of %d hex "
		    "digits", 2 * PR_MAC_LEN);
		goto out;
	}
	rc = compute_mac(a, LABEL_W, a->nonce, a->peer_nonce, want);
	if (rc < 0)
		goto out;
	if (CRYPTO_memcmp(mac, want, PR_MAC_LEN) != 0) {
		add_reject(out, "authentication failed");
		rc = pr_err(eb, PR_EAUTH, "bad MAC");
		goto out;
	}
	a->step = STEP_DONE;
out:
	pr_secret_wipe(want, sizeof(want));
	pr_secret_wipe(mac, sizeof(mac));
	cJSON_Delete(root);
	return rc;
}
