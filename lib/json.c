/* json.c - see json.h */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

bool
pr_utf8_valid(const char *str, size_t n, size_t *bad)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1; cp = c & 0x1f; min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2; cp = c & 0x0f; min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3; cp = c & 0x07; min = 0x10000;
		} else {
			goto fail;
		}
		if (n - i <= need)
			goto fail;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto fail;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto fail;
		i += need + 1;
	}
	return true;
fail:
	if (bad != NULL)
		*bad = i;
	return false;
}

int
pr_utf8_add(struct pr_buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return pr_buf_add(b, u, n);
}

bool
pr_json_is_text(const char *s, size_t n)
{
	return memchr(s, '\0', n) == NULL && pr_utf8_valid(s, n, NULL);
}

int
pr_json_add_str(struct pr_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	int rc;

	/* worst case 6 bytes per byte, plus quotes */
	rc = pr_buf_grow(b, n + 2);
	if (rc < 0)
		return rc;
	b->data[b->len++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if ((rc = pr_buf_add(b, s + run, i - run)) < 0)
			return rc;
		esc[0] = '\\';
		switch (c) {
		case '"':  esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\t': esc[1] = 't'; break;
		case '\r': esc[1] = 'r'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
			elen = 6;
		}
		if ((rc = pr_buf_add(b, esc, elen)) < 0)
			return rc;
		run = i + 1;
	}
	if ((rc = pr_buf_add(b, s + run, n - run)) < 0)
		return rc;
	return pr_buf_addc(b, '"');
}

int
pr_json_add_cstr(struct pr_buf *b, const char *s)
{
	return pr_json_add_str(b, s, strlen(s));
}

int
pr_json_add_key(struct pr_buf *b, const char *key)
{
	int rc;

	if ((rc = pr_buf_addc(b, '"')) < 0 || (rc = pr_buf_adds(b, key)) < 0)
		return rc;
	return pr_buf_add(b, "\":", 2);
}

int
pr_json_add_bytes(struct pr_buf *b, const char *name, const char *s, size_t n)
{
	int rc;

	if ((rc = pr_buf_addc(b, '"')) < 0 || (rc = pr_buf_adds(b, name)) < 0)
		return rc;
	if (pr_json_is_text(s, n)) {
		if ((rc = pr_buf_add(b, "\":", 2)) < 0)
			return rc;
		return pr_json_add_str(b, s, n);
	}
	if ((rc = pr_buf_add(b, "_b64\":\"", 7)) < 0 ||
	    (rc = pr_b64_encode(b, s, n)) < 0)
		return rc;
	return pr_buf_addc(b, '"');
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
pr_b64_encode(struct pr_buf *b, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t i, out = (n + 2) / 3 * 4;
	char *w;
	int rc;

	if ((rc = pr_buf_grow(b, out)) < 0)
		return rc;
	w = b->data + b->len;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*w++ = b64chars[v >> 18];
		*w++ = b64chars[(v >> 12) & 63];
		*w++ = b64chars[(v >> 6) & 63];
		*w++ = b64chars[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		*w++ = b64chars[v >> 18];
		*w++ = b64chars[(v >> 12) & 63];
		*w++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		*w++ = '=';
	}
	b->len += out;
	b->data[b->len] = '\0';
	return 0;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

int
pr_b64_decode(struct pr_buf *out, const char *s, size_t n)
{
	size_t i, mark = out->len;
	int rc;

	if (n % 4 != 0)
		return PR_EPROTO;
	if ((rc = pr_buf_grow(out, n / 4 * 3)) < 0)
		return rc;
	for (i = 0; i < n; i += 4) {
		int a = b64val((unsigned char)s[i]);
		int b = b64val((unsigned char)s[i + 1]);
		int c = s[i + 2] == '=' ? -2 : b64val((unsigned char)s[i + 2]);
		int d = s[i + 3] == '=' ? -2 : b64val((unsigned char)s[i + 3]);
		uint32_t v;

		if (a < 0 || b < 0 || c == -1 || d == -1 ||
		    (c == -2 && d != -2) || ((c == -2 || d == -2) && i + 4 != n)) {
			/* leave out as it was */
			out->len = mark;
			out->data[mark] = '\0';
			return PR_EPROTO;
		}
		v = (uint32_t)a << 18 | (uint32_t)b << 12 |
		    (uint32_t)(c < 0 ? 0 : c) << 6 | (uint32_t)(d < 0 ? 0 : d);
		out->data[out->len++] = (char)(v >> 16);
		if (c >= 0)
			out->data[out->len++] = (char)(v >> 8);
		if (d >= 0)
			out->data[out->len++] = (char)v;
	}
	out->data[out->len] = '\0';
	return 0;
}

int
pr_json_get_bytes(const cJSON *obj, const char *name, struct pr_buf *out)
{
	char key[64];
	const cJSON *it;

	it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (it != NULL) {
		if (!cJSON_IsString(it))
			return PR_EPROTO;
		return pr_buf_adds(out, it->valuestring);
	}
	if (snprintf(key, sizeof(key), "%s_b64", name) >= (int)sizeof(key))
		return PR_EPROTO;
	it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (it == NULL)
		return 0;
	if (!cJSON_IsString(it))
		return PR_EPROTO;
	return pr_b64_decode(out, it->valuestring, strlen(it->valuestring));
}

int
pr_json_get_i64(const cJSON *obj, const char *name, int64_t lo, int64_t hi,
    bool optional, int64_t *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	double d;

	if (it == NULL)
		return optional ? 0 : PR_EPROTO;
	if (!cJSON_IsNumber(it))
		return PR_EPROTO;
	d = it->valuedouble;
	/* (double)INT64_MAX rounds up to 2^63, which is out of range */
	if (!isfinite(d) || d != floor(d) || d < (double)lo ||
	    d > (double)hi || d >= 9223372036854775808.0)
		return PR_EPROTO;
	*out = (int64_t)d;
	return 0;
}
