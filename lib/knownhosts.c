/*
 * knownhosts.c - see knownhosts.h.
 *
 * libssh2 does the parsing and the matching (plain and hashed names); this
 * file chooses the names, keeps the key type in every check (without it
 * libssh2 compares a key against entries of other types, libssh2#42), and
 * tells "another key of this type" (changed: refuse) from "only other
 * types known" (also refused, never taken for an unknown host: the
 * mistake of curl#21724) and from "never seen".
 */
#include "knownhosts.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"

/* The key types libssh2 1.10 can verify, most preferred first. */
static const struct {
	int hostkey;		/* LIBSSH2_HOSTKEY_TYPE_* */
	int kh;			/* LIBSSH2_KNOWNHOST_KEY_* */
	const char *method;	/* LIBSSH2_METHOD_HOSTKEY name */
} types[] = {
	{ LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519,
	  "ssh-ed25519" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
	  "ecdsa-sha2-nistp256" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
	  "ecdsa-sha2-nistp384" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
	  "ecdsa-sha2-nistp521" },
	{ LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa" },
	{ LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss" },
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

int
pr_knownhosts_name(char *out, size_t n, const char *host, int port)
{
	int len;

	if (port == 0 || port == 22)
		len = snprintf(out, n, "%s", host);
	else
		len = snprintf(out, n, "[%s]:%d", host, port);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return 0;
}

int
pr_knownhosts_default_path(char *out, size_t n)
{
	const char *home = getenv("HOME");
	int len;

	if (home == NULL || home[0] == '\0') {
		struct passwd *pw = getpwuid(getuid());

		if (pw == NULL || pw->pw_dir == NULL)
			return -ENOENT;
		home = pw->pw_dir;
	}
	len = snprintf(out, n, "%s/.ssh/known_hosts", home);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return 0;
}

int
pr_knownhosts_load(LIBSSH2_SESSION *s, const char *path,
    LIBSSH2_KNOWNHOSTS **out, struct pr_errbuf *eb)
{
	LIBSSH2_KNOWNHOSTS *kh;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	*out = NULL;
	kh = libssh2_knownhost_init(s);
	if (kh == NULL)
		return pr_err(eb, -ENOMEM, "cannot read '%s': out of memory",
		    path);
	f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT) {
			*out = kh;	/* no file: nothing is known */
			return 0;
		}
		rc = -errno;
		libssh2_knownhost_free(kh);
		return pr_err(eb, rc, "cannot read known hosts '%s': %s", path,
		    pr_strerror(rc));
	}
	/*
	 * Line by line rather than libssh2_knownhost_readfile(), which stops
	 * at the first line it cannot parse and so would forget every host
	 * after it; OpenSSH skips such lines, and so does this.
	 */
	while ((len = getline(&line, &cap, f)) > 0)
		(void)libssh2_knownhost_readline(kh, line, (size_t)len,
		    LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	if (ferror(f)) {
		rc = -EIO;
		pr_err(eb, rc, "cannot read known hosts '%s': %s", path,
		    pr_strerror(rc));
		libssh2_knownhost_free(kh);
		kh = NULL;
	}
	free(line);
	fclose(f);
	*out = kh;
	return rc;
}

static int
kh_bits(int hostkey_type)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (types[i].hostkey == hostkey_type)
			return types[i].kh;
	return 0;
}

static int
check_raw(LIBSSH2_KNOWNHOSTS *kh, const char *name, const char *key,
    size_t len, int bits)
{
	/* port -1: only `name` itself (OpenSSH looks up "[h]:p" alone for
	 * other ports; libssh2 would fall back to the plain "h") */
	return libssh2_knownhost_checkp(kh, name, -1, key, len,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | bits,
	    NULL);
}

/* Is there an entry of this key type (0: of any type) for name?  A probe
 * key that can match nothing tells: a name match gives MISMATCH. */
static bool
known_with(LIBSSH2_KNOWNHOSTS *kh, const char *name, int bits)
{
	static const char probe[] = "\0parrun-probe";

	return check_raw(kh, name, probe, sizeof(probe) - 1, bits) ==
	    LIBSSH2_KNOWNHOST_CHECK_MISMATCH;
}

enum pr_kh_result
pr_knownhosts_check(LIBSSH2_KNOWNHOSTS *kh, const char *name,
    const char *key, size_t len, int type)
{
	int bits = kh_bits(type);

	if (bits != 0) {
		switch (check_raw(kh, name, key, len, bits)) {
		case LIBSSH2_KNOWNHOST_CHECK_MATCH:
			return PR_KH_MATCH;
		case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
			return PR_KH_MISMATCH;
		default:
			break;
		}
	}
	return known_with(kh, name, 0) ? PR_KH_OTHERTYPE : PR_KH_NOTFOUND;
}

int
pr_knownhosts_methods(LIBSSH2_KNOWNHOSTS *kh, const char *name, char *out,
    size_t n)
{
	size_t used = 0;
	int found = 0;

	if (n == 0)
		return -ENAMETOOLONG;
	out[0] = '\0';
	for (size_t i = 0; i < NTYPES; i++) {
		int len;

		if (!known_with(kh, name, types[i].kh))
			continue;
		len = snprintf(out + used, n - used, "%s%s",
		    found > 0 ? "," : "", types[i].method);
		if (len < 0 || (size_t)len >= n - used)
			return -ENAMETOOLONG;
		used += (size_t)len;
		found++;
	}
	return found;
}

const char *
pr_knownhosts_type_name(const char *key, size_t len, int type, char *buf,
    size_t n)
{
	const unsigned char *p = (const unsigned char *)key;

	/* the blob starts with the type as an SSH string */
	if (len >= 4 && n > 1) {
		uint32_t l = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
		bool ok = l > 0 && l < n && l <= len - 4;

		for (uint32_t i = 0; ok && i < l; i++)
			ok = p[4 + i] > ' ' && p[4 + i] < 0x7f;
		if (ok) {
			memcpy(buf, p + 4, l);
			buf[l] = '\0';
			return buf;
		}
	}
	for (size_t i = 0; i < NTYPES; i++)
		if (types[i].hostkey == type)
			return types[i].method;
	return "unknown";
}

/* Does the file end without a newline?  (Then a new line needs one.) */
static bool
needs_newline(int fd)
{
	struct stat st;
	char c;

	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return false;
	if (pread(fd, &c, 1, st.st_size - 1) != 1)
		return false;
	return c != '\n';
}

static int
make_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t len;

	if (slash == NULL || slash == path)
		return 0;
	len = (size_t)(slash - path);
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len);
	dir[len] = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
pr_knownhosts_append(const char *path, bool mkdir_parent, const char *name,
    const char *key, size_t len, int type, struct pr_errbuf *eb)
{
	struct pr_buf line;
	char tname[64];
	size_t off = 0;
	int fd = -1, rc;

	pr_buf_init(&line, 0);
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT && mkdir_parent) {
		if ((rc = make_parent(path)) < 0) {
			pr_err(eb, rc, "cannot create the directory of '%s': "
			    "%s", path, pr_strerror(rc));
			goto out;
		}
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
		    0600);
	}
	if (fd < 0) {
		rc = -errno;
		pr_err(eb, rc, "cannot open '%s': %s", path, pr_strerror(rc));
		goto out;
	}
	if ((needs_newline(fd) && (rc = pr_buf_addc(&line, '\n')) < 0) ||
	    (rc = pr_buf_addf(&line, "%s %s ", name, pr_knownhosts_type_name(
	    key, len, type, tname, sizeof(tname)))) < 0 ||
	    (rc = pr_b64_encode(&line, key, len)) < 0 ||
	    (rc = pr_buf_addc(&line, '\n')) < 0) {
		pr_err(eb, rc, "cannot add to '%s': %s", path,
		    pr_strerror(rc));
		goto out;
	}
	while (off < line.len) {
		ssize_t w = write(fd, line.data + off, line.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			pr_err(eb, rc, "cannot write '%s': %s", path,
			    pr_strerror(rc));
			goto out;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		pr_err(eb, rc, "cannot write '%s': %s", path, pr_strerror(rc));
		goto out;
	}
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	pr_buf_release(&line);
	return rc;
}

/* ---- SHA-256 (FIPS 180-4), for fingerprints ------------------------- */

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char blk[64];
};

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t
ror(uint32_t x, int n)
{
	return x >> n | x << (32 - n);
}

static void
sha_block(struct sha256 *c, const unsigned char *p)
{
	uint32_t w[64], a, b, d, e, f, g, h, cc;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^
		    w[i - 15] >> 3;
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^
		    w[i - 2] >> 10;

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3];
	e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
		    ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
		    ((a & b) ^ (a & cc) ^ (b & cc));

		h = g; g = f; f = e; e = d + t1;
		d = cc; cc = b; b = a; a = t1 + t2;
	}
	c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
	c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void
sha256(const void *data, size_t n, unsigned char out[32])
{
	static const uint32_t init[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	const unsigned char *p = data;
	struct sha256 c;

	memcpy(c.h, init, sizeof(c.h));
	c.len = (uint64_t)n * 8;
	for (; n >= 64; n -= 64, p += 64)
		sha_block(&c, p);
	memset(c.blk, 0, sizeof(c.blk));
	if (n > 0)
		memcpy(c.blk, p, n);
	c.blk[n] = 0x80;
	if (n >= 56) {
		sha_block(&c, c.blk);
		memset(c.blk, 0, sizeof(c.blk));
	}
	for (int i = 0; i < 8; i++)
		c.blk[56 + i] = (unsigned char)(c.len >> (56 - 8 * i));
	sha_block(&c, c.blk);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c.h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c.h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c.h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c.h[i];
	}
}

void
pr_knownhosts_fingerprint(const char *key, size_t len, char *out, size_t n)
{
	unsigned char md[32];
	struct pr_buf b;

	if (n == 0)
		return;
	sha256(key, len, md);
	pr_buf_init(&b, 0);
	if (pr_buf_adds(&b, "SHA256:") < 0 ||
	    pr_b64_encode(&b, md, sizeof(md)) < 0) {
		snprintf(out, n, "SHA256:?");
		pr_buf_release(&b);
		return;
	}
	while (b.len > 0 && b.data[b.len - 1] == '=')
		b.data[--b.len] = '\0';
	snprintf(out, n, "%s", b.data);
	pr_buf_release(&b);
}
