/*
 * json.h - the small JSON helpers parrun needs beyond cJSON.
 *
 * cJSON parses; these write.  Writing by hand into a struct pr_buf is what
 * keeps the dispatch path fast (no tree is built to print a message), and
 * it lets parrun carry bytes that JSON strings cannot (NUL, invalid UTF-8)
 * as base64 instead.
 *
 * All writers append to a buffer and return 0 or a negative code from
 * buf.h (PR_ETOOBIG, -ENOMEM).
 */
#ifndef PR_JSON_H
#define PR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"

/*
 * Check that s[0..n) is valid UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF).  On failure, *bad (if not NULL) gets the offset of the
 * first bad byte.
 */
bool pr_utf8_valid(const char *s, size_t n, size_t *bad);

/* Append code point cp (<= 0x10ffff, not a surrogate) as UTF-8. */
int pr_utf8_add(struct pr_buf *b, unsigned long cp);

/* True when s[0..n) can travel as a JSON string and come back byte-exact:
 * valid UTF-8 and no NUL (cJSON strings are C strings). */
bool pr_json_is_text(const char *s, size_t n);

/* Append s[0..n) as a quoted JSON string.  The caller has checked it with
 * pr_json_is_text(); bytes >= 0x80 are copied as they are. */
int pr_json_add_str(struct pr_buf *b, const char *s, size_t n);
int pr_json_add_cstr(struct pr_buf *b, const char *s);

/* Append `"key":` (key is a trusted literal, not escaped). */
int pr_json_add_key(struct pr_buf *b, const char *key);

/* Append the output field for bytes s[0..n): `"name":"text"` when
 * pr_json_is_text() holds, else `"name_b64":"..."`. */
int pr_json_add_bytes(struct pr_buf *b, const char *name, const char *s,
    size_t n);

/* Base64 (RFC 4648, with padding). */
int pr_b64_encode(struct pr_buf *b, const void *p, size_t n);
/* Decode and append to out; PR_EPROTO on bad input. */
int pr_b64_decode(struct pr_buf *out, const char *s, size_t n);

/*
 * Read the bytes a message carries under name: the string "name", or the
 * base64 string "name_b64", appended to out.  Absent: 0 and nothing
 * appended.  Wrong type or bad base64: PR_EPROTO.
 */
int pr_json_get_bytes(const cJSON *obj, const char *name, struct pr_buf *out);

/* Integer helpers for parsed trees: PR_EPROTO when the member is missing
 * (unless optional), not a number, not integral or out of [lo, hi]. */
int pr_json_get_i64(const cJSON *obj, const char *name, int64_t lo,
    int64_t hi, bool optional, int64_t *out);

#endif
