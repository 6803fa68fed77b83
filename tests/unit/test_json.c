/*
 * test_json.c - lib/json.c: UTF-8 checks, string escaping, base64, and the
 * readers for parsed trees.
 */
#include "test.h"

#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"
#include "json.h"

static bool
utf8(const char *s, size_t *bad)
{
	return pr_utf8_valid(s, strlen(s), bad);
}

TEST(json_utf8_valid)
{
	size_t bad = 999;

	ASSERT(utf8("", NULL));
	ASSERT(utf8("plain ascii", NULL));
	ASSERT(utf8("h\xc3\xa9", NULL));			/* U+00E9 */
	ASSERT(utf8("\xe2\x82\xac", NULL));			/* U+20AC */
	ASSERT(utf8("\xf0\x9f\x98\x80", NULL));			/* U+1F600 */
	ASSERT(utf8("\xf4\x8f\xbf\xbf", NULL));			/* U+10FFFF */
	ASSERT(utf8("\xed\x9f\xbf", NULL));			/* U+D7FF */
	ASSERT(utf8("\xee\x80\x80", NULL));			/* U+E000 */
	ASSERT(pr_utf8_valid("a\0b", 3, NULL));	/* NUL is UTF-8 */

	ASSERT(!utf8("ab\x80", &bad));		/* lone continuation */
	ASSERT_EQ(bad, 2);
	ASSERT(!utf8("\xc0\xaf", &bad));		/* overlong '/' */
	ASSERT_EQ(bad, 0);
	ASSERT(!utf8("\xc1\xbf", &bad));
	ASSERT(!utf8("x\xe0\x80\xaf", &bad));	/* overlong, 3 bytes */
	ASSERT_EQ(bad, 1);
	ASSERT(!utf8("\xf0\x80\x80\xaf", &bad));	/* overlong, 4 bytes */
	ASSERT(!utf8("\xed\xa0\x80", &bad));	/* surrogate D800 */
	ASSERT(!utf8("\xed\xbf\xbf", &bad));	/* surrogate DFFF */
	ASSERT(!utf8("\xf4\x90\x80\x80", &bad));	/* above U+10FFFF */
	ASSERT(!utf8("\xf5\x80\x80\x80", &bad));
	ASSERT(!utf8("\xff", &bad));
	ASSERT(!utf8("\xfe", &bad));
	ASSERT(!utf8("ok\xc3", &bad));		/* truncated at the end */
	ASSERT_EQ(bad, 2);
	ASSERT(!utf8("\xe2\x82", &bad));
	ASSERT(!utf8("\xf0\x9f\x98", &bad));
	ASSERT(!utf8("\xc3(", &bad));		/* bad continuation */
	ASSERT(!utf8("\xe2(\xa1", &bad));
	/* n bounds the check: a valid sequence cut by n is invalid */
	ASSERT(!pr_utf8_valid("\xc3\xa9", 1, &bad));
	ASSERT(pr_utf8_valid("\xc3\xa9zz", 2, NULL));
}

TEST(json_utf8_exhaustive_two_bytes)
{
	/* every two-byte sequence agrees with a direct definition */
	for (int a = 0; a < 256; a++) {
		for (int b = 0; b < 256; b++) {
			char s[2] = {(char)a, (char)b};
			bool want;

			if (a < 0x80)
				want = b < 0x80;
			else
				want = a >= 0xc2 && a <= 0xdf &&
				    (b & 0xc0) == 0x80;
			if (pr_utf8_valid(s, 2, NULL) != want)
				PR_TEST_FAIL("%02x %02x", a, b);
		}
	}
}

TEST(json_is_text)
{
	ASSERT(pr_json_is_text("hello\n", 6));
	ASSERT(pr_json_is_text("", 0));
	ASSERT(!pr_json_is_text("a\0b", 3));
	ASSERT(!pr_json_is_text("\xff", 1));
}

static void
check_str(const char *s, size_t n, const char *want)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_json_add_str(&b, s, n));
	if (strcmp(b.data, want) != 0)
		PR_TEST_FAIL("'%s', want '%s'", b.data, want);
	pr_buf_release(&b);
}

TEST(json_add_str_escapes)
{
	check_str("", 0, "\"\"");
	check_str("abc", 3, "\"abc\"");
	check_str("\"\\", 2, "\"\\\"\\\\\"");
	check_str("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"");
	check_str("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
	check_str("a\0b", 3, "\"a\\u0000b\"");
	check_str("/", 1, "\"/\"");
	check_str("h\xc3\xa9 \xe2\x98\x83", 7, "\"h\xc3\xa9 \xe2\x98\x83\"");
	check_str("x\ny\"z", 5, "\"x\\ny\\\"z\"");
}

TEST(json_add_str_parses_back)
{
	/* every byte 1..127 survives the trip through cJSON */
	struct pr_buf b;
	char s[127];
	cJSON *j;

	for (int i = 0; i < 127; i++)
		s[i] = (char)(i + 1);
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_json_add_str(&b, s, sizeof(s)));
	j = cJSON_ParseWithLength(b.data, b.len);
	ASSERT(j != NULL && cJSON_IsString(j));
	ASSERT_EQ(strlen(j->valuestring), sizeof(s));
	ASSERT_MEM_EQ(j->valuestring, s, sizeof(s));
	cJSON_Delete(j);
	pr_buf_release(&b);
}

TEST(json_add_str_cap)
{
	struct pr_buf b;

	pr_buf_init(&b, 10);
	ASSERT_EQ(pr_json_add_str(&b, "0123456789", 10), PR_ETOOBIG);
	pr_buf_release(&b);
	pr_buf_init(&b, 10);
	ASSERT_OK(pr_json_add_str(&b, "01234567", 8));
	ASSERT_EQ(b.len, 10);
	pr_buf_release(&b);
}

TEST(json_add_key_and_cstr)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_json_add_key(&b, "seq"));
	ASSERT_OK(pr_buf_adds(&b, "1,"));
	ASSERT_OK(pr_json_add_key(&b, "id"));
	ASSERT_OK(pr_json_add_cstr(&b, "t\"1"));
	ASSERT_STR_EQ(b.data, "\"seq\":1,\"id\":\"t\\\"1\"");
	pr_buf_release(&b);
}

TEST(json_add_bytes)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_json_add_bytes(&b, "stdout", "hi\n", 3));
	ASSERT_OK(pr_buf_addc(&b, ','));
	ASSERT_OK(pr_json_add_bytes(&b, "stdout", "a\0", 2));
	ASSERT_OK(pr_buf_addc(&b, ','));
	ASSERT_OK(pr_json_add_bytes(&b, "stderr", "\xff", 1));
	ASSERT_OK(pr_buf_addc(&b, ','));
	ASSERT_OK(pr_json_add_bytes(&b, "data", "", 0));
	ASSERT_STR_EQ(b.data, "\"stdout\":\"hi\\n\",\"stdout_b64\":\"YQA=\","
	    "\"stderr_b64\":\"/w==\",\"data\":\"\"");
	pr_buf_release(&b);
}

static void
check_b64(const char *plain, const char *enc)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_b64_encode(&b, plain, strlen(plain)));
	ASSERT_STR_EQ(b.data, enc);
	pr_buf_reset(&b);
	ASSERT_OK(pr_b64_decode(&b, enc, strlen(enc)));
	ASSERT_EQ(b.len, strlen(plain));
	ASSERT_STR_EQ(b.data, plain);
	pr_buf_release(&b);
}

TEST(json_b64_rfc4648)
{
	check_b64("", "");
	check_b64("f", "Zg==");
	check_b64("fo", "Zm8=");
	check_b64("foo", "Zm9v");
	check_b64("foob", "Zm9vYg==");
	check_b64("fooba", "Zm9vYmE=");
	check_b64("foobar", "Zm9vYmFy");
}

TEST(json_b64_all_bytes)
{
	struct pr_buf enc, dec;
	unsigned char all[256];

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	pr_buf_init(&enc, 0);
	pr_buf_init(&dec, 0);
	for (size_t n = 0; n <= sizeof(all); n++) {
		pr_buf_reset(&enc);
		pr_buf_reset(&dec);
		ASSERT_OK(pr_b64_encode(&enc, all, n));
		ASSERT_EQ(enc.len, (n + 2) / 3 * 4);
		ASSERT_OK(pr_b64_decode(&dec, enc.data, enc.len));
		ASSERT_EQ(dec.len, n);
		ASSERT_MEM_EQ(dec.data, all, n);
	}
	pr_buf_release(&enc);
	pr_buf_release(&dec);
}

TEST(json_b64_bad_input)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Z", "Zm9v!A==", "Zg==Zg==", "Z===", "=Zg=",
		"Zm=v", "Zm9v\n", "Zm 9", "\xc3\xa9\xc3\xa9",
	};
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_adds(&b, "kept"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pr_b64_decode(&b, bad[i], strlen(bad[i])) != PR_EPROTO)
			PR_TEST_FAIL("'%s' accepted", bad[i]);
		/* a failed decode appends nothing */
		ASSERT_STR_EQ(b.data, "kept");
		ASSERT_EQ(b.len, 4);
	}
	pr_buf_release(&b);
}

TEST(json_get_bytes)
{
	cJSON *j = cJSON_Parse("{\"a\":\"text\",\"b_b64\":\"AP8=\","
	    "\"c\":5,\"d_b64\":\"!!\",\"e\":\"x\",\"e_b64\":\"eQ==\"}");
	struct pr_buf b;

	ASSERT(j != NULL);
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_json_get_bytes(j, "a", &b));
	ASSERT_STR_EQ(b.data, "text");
	pr_buf_reset(&b);
	ASSERT_OK(pr_json_get_bytes(j, "b", &b));
	ASSERT_EQ(b.len, 2);
	ASSERT_MEM_EQ(b.data, "\x00\xff", 2);
	pr_buf_reset(&b);
	ASSERT_OK(pr_json_get_bytes(j, "missing", &b));
	ASSERT_EQ(b.len, 0);
	ASSERT_EQ(pr_json_get_bytes(j, "c", &b), PR_EPROTO);
	ASSERT_EQ(pr_json_get_bytes(j, "d", &b), PR_EPROTO);
	/* the text form wins when both are there */
	ASSERT_OK(pr_json_get_bytes(j, "e", &b));
	ASSERT_STR_EQ(b.data, "x");
	cJSON_Delete(j);
	pr_buf_release(&b);
}

TEST(json_get_i64)
{
	cJSON *j = cJSON_Parse("{\"a\":5,\"b\":-3,\"c\":1.5,\"d\":\"7\","
	    "\"e\":1e300,\"f\":9223372036854775807,"
	    "\"g\":-9223372036854775808,\"h\":9007199254740991}");
	int64_t v = 0;

	ASSERT(j != NULL);
	ASSERT_OK(pr_json_get_i64(j, "a", 0, 10, false, &v));
	ASSERT_EQ(v, 5);
	ASSERT_EQ(pr_json_get_i64(j, "a", 6, 10, false, &v), PR_EPROTO);
	ASSERT_OK(pr_json_get_i64(j, "b", -5, 0, false, &v));
	ASSERT_EQ(v, -3);
	ASSERT_EQ(pr_json_get_i64(j, "c", 0, 10, false, &v), PR_EPROTO);
	ASSERT_EQ(pr_json_get_i64(j, "d", 0, 10, false, &v), PR_EPROTO);
	ASSERT_EQ(pr_json_get_i64(j, "e", INT64_MIN, INT64_MAX, false, &v),
	    PR_EPROTO);
	/* 2^63 as a double must not be cast (undefined) */
	ASSERT_EQ(pr_json_get_i64(j, "f", INT64_MIN, INT64_MAX, false, &v),
	    PR_EPROTO);
	ASSERT_OK(pr_json_get_i64(j, "g", INT64_MIN, INT64_MAX, false, &v));
	ASSERT(v == INT64_MIN);
	ASSERT_OK(pr_json_get_i64(j, "h", 0, INT64_MAX, false, &v));
	ASSERT_EQ(v, 9007199254740991LL);
	v = 77;
	ASSERT_OK(pr_json_get_i64(j, "zz", 0, 10, true, &v));
	ASSERT_EQ(v, 77);
	ASSERT_EQ(pr_json_get_i64(j, "zz", 0, 10, false, &v), PR_EPROTO);
	cJSON_Delete(j);
}
