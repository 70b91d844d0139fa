/* test_auth.c - the pure parts of src/auth: password policy and hashing,
 * TOTP (RFC 6238 appendix B vectors), token hashing, permission patterns and
 * the 三员 rules. The HTTP side is tested by tests/api/auth.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth_internal.h"
#include "mz/crypto.h"

/* Length, common list, username, classes. */
static void test_password_policy(void **state)
{
    (void)state;
    assert_non_null(mz_pw_policy("short", NULL, 0));
    assert_non_null(mz_pw_policy("password123", NULL, 0));
    assert_non_null(mz_pw_policy("Password1!", NULL, 0)); /* common stem */
    assert_non_null(mz_pw_policy("xx-tester-yy-zz", "tester", 0));
    assert_null(mz_pw_policy("correct horse battery", NULL, 0));
    assert_non_null(mz_pw_policy("correct horse battery", NULL, 3));
    assert_null(mz_pw_policy("Correct-Horse-9", NULL, 3));
    assert_null(mz_pw_policy("民政局八个汉字密码", NULL, 0)); /* 9 characters, 27 bytes */
    char long_pw[200];
    memset(long_pw, 'a', 129);
    long_pw[0] = 'Q';
    long_pw[129] = '\0';
    assert_non_null(mz_pw_policy(long_pw, NULL, 0));
    char gen[32];
    mz_pw_generate(gen);
    assert_int_equal(strlen(gen), 16);
    assert_null(mz_pw_policy(gen, "sysadmin", 3));
}

/* argon2id round trip; wrong password refused. */
static void test_password_hash(void **state)
{
    (void)state;
    char h[128];
    setenv("MZ_TEST_FAST_HASH", "1", 1);
    assert_int_equal(mz_pw_hash("Test-Pa55word", h), MZ_OK);
    assert_true(strncmp(h, "$argon2id$", 10) == 0);
    assert_true(mz_pw_verify(h, "Test-Pa55word"));
    assert_false(mz_pw_verify(h, "Test-Pa55worD"));
    assert_false(mz_pw_needs_rehash(h));
    unsetenv("MZ_TEST_FAST_HASH");
    assert_true(mz_pw_needs_rehash(h)); /* production parameters differ: upgraded at login */
}

/* Hashes made ahead (the demo's accounts): each verifies, each has its own
 * salt, they are taken only for their password and only as many as made;
 * the rest are hashed then; nothing is taken after the end. Those made
 * ahead here use the test parameters and those hashed then the production
 * ones, so mz_pw_needs_rehash tells which is which. */
static void test_password_hash_ahead(void **state)
{
    (void)state;
    setenv("MZ_TEST_FAST_HASH", "1", 1);
    mz_auth_hash_ahead_begin("Demo-Pa55word", 2);
    assert_true(mz_auth_hash_ahead_one());
    assert_true(mz_auth_hash_ahead_one());
    assert_false(mz_auth_hash_ahead_one()); /* two wanted */
    unsetenv("MZ_TEST_FAST_HASH");
    char a[128], b[128], c[128];
    assert_int_equal(mz_pw_hash("Other-Pa55word", c), MZ_OK); /* another password: hashed now */
    assert_false(mz_pw_needs_rehash(c));
    assert_true(mz_pw_verify(c, "Other-Pa55word"));
    assert_int_equal(mz_pw_hash("Demo-Pa55word", a), MZ_OK);
    assert_int_equal(mz_pw_hash("Demo-Pa55word", b), MZ_OK);
    assert_true(mz_pw_needs_rehash(a)); /* made ahead */
    assert_true(mz_pw_needs_rehash(b));
    assert_true(mz_pw_verify(a, "Demo-Pa55word"));
    assert_true(mz_pw_verify(b, "Demo-Pa55word"));
    assert_false(mz_pw_verify(a, "Other-Pa55word"));
    assert_string_not_equal(a, b); /* salts differ */
    assert_int_equal(mz_pw_hash("Demo-Pa55word", c), MZ_OK); /* none left: hashed now */
    assert_false(mz_pw_needs_rehash(c));
    assert_true(mz_pw_verify(c, "Demo-Pa55word"));
    /* Made but not taken: gone after the end. */
    setenv("MZ_TEST_FAST_HASH", "1", 1);
    mz_auth_hash_ahead_begin("Demo-Pa55word", 1);
    assert_true(mz_auth_hash_ahead_one());
    mz_auth_hash_ahead_end();
    assert_false(mz_auth_hash_ahead_one());
    unsetenv("MZ_TEST_FAST_HASH");
    assert_int_equal(mz_pw_hash("Demo-Pa55word", a), MZ_OK);
    assert_false(mz_pw_needs_rehash(a));
}

/* RFC 6238 appendix B (SHA-1, 8 digits) and base32. */
static void test_totp(void **state)
{
    (void)state;
    const unsigned char key[] = "12345678901234567890";
    static const struct {
        int64_t t;
        uint32_t code;
    } v[] = {{59, 94287082},         {1111111109, 7081804}, {1111111111, 14050471},
             {1234567890, 89005924}, {2000000000, 69279037}, {20000000000, 65353130}};
    for (size_t i = 0; i < MZ_ARRAY_LEN(v); i++)
        assert_int_equal(mz_hotp(key, 20, (uint64_t)(v[i].t / 30), 8), v[i].code);
    char b32[64];
    mz_base32_encode(key, 20, b32);
    assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    unsigned char back[32];
    assert_int_equal(mz_base32_decode(b32, back, sizeof(back)), 20);
    assert_memory_equal(back, key, 20);
    int64_t step = 0;
    assert_true(mz_totp_verify(b32, "287082", 59, &step)); /* 6-digit form of 94287082 */
    assert_int_equal(step, 1);
    assert_true(mz_totp_verify(b32, "287082", 59 + 30, &step)); /* one step of drift */
    assert_false(mz_totp_verify(b32, "287082", 59 + 90, &step));
    assert_false(mz_totp_verify(b32, "28708", 59, &step));
}

/* Tokens: prefix, length, hash stable and distinct. */
static void test_tokens(void **state)
{
    (void)state;
    char a[MZ_TOKEN_TEXT + 1], b[MZ_TOKEN_TEXT + 1], ha[MZ_TOKEN_HASH_HEX + 1],
        hb[MZ_TOKEN_HASH_HEX + 1], ha2[MZ_TOKEN_HASH_HEX + 1];
    mz_token_new("mzs_", a);
    mz_token_new("mzs_", b);
    assert_int_equal(strlen(a), MZ_TOKEN_TEXT);
    assert_string_not_equal(a, b);
    mz_token_hash(a, ha);
    mz_token_hash(a, ha2);
    mz_token_hash(b, hb);
    assert_string_equal(ha, ha2);
    assert_string_not_equal(ha, hb);
    assert_null(strstr(ha, a + 4));
    assert_true(mz_secure_equal("abc", "abc"));
    assert_false(mz_secure_equal("abc", "abd"));
    assert_false(mz_secure_equal("", ""));
}

/* Pattern matching and the system/business split. */
static void test_patterns(void **state)
{
    (void)state;
    assert_true(mz_perm_match("*", "sample_cases.read"));
    assert_true(mz_perm_match("*.read", "sample_cases.read"));
    assert_false(mz_perm_match("*.read", "sample_cases.update"));
    assert_true(mz_perm_match("sample_*.*", "sample_notes.create"));
    assert_true(mz_perm_match("audit*.read", "audit_log.read"));
    assert_false(mz_perm_match("users.read", "users.reads"));
    assert_true(mz_perm_is_system("users.read"));
    assert_true(mz_perm_is_system("audit_log.read"));
    assert_true(mz_perm_is_system("config.update"));
    assert_false(mz_perm_is_system("persons.read"));
    json_t *ok = json_pack("[s,s,s]", "*", "*.read", "persons.approve");
    json_t *bad = json_pack("[s]", "users.*");
    json_t *bad2 = json_pack("[s]", "u*.read");
    assert_null(mz_patterns_check(ok));
    assert_non_null(mz_patterns_check(bad));
    assert_non_null(mz_patterns_check(bad2));
    assert_true(mz_patterns_need_totp(ok));
    json_decref(ok);
    json_decref(bad);
    json_decref(bad2);
}

/* No account holds two 三员 roles, or one with a business role. */
static void test_separation(void **state)
{
    (void)state;
    const char *a[] = {"sysadmin", "secadmin"};
    const char *b[] = {"auditadmin", "leader"};
    const char *c[] = {"street_officer", "leader"};
    const char *d[] = {"secadmin"};
    const char *e[] = {"citizen", "leader"};
    assert_non_null(mz_roles_check(a, 2));
    assert_non_null(mz_roles_check(b, 2));
    assert_null(mz_roles_check(c, 2));
    assert_null(mz_roles_check(d, 1));
    assert_non_null(mz_roles_check(e, 2));
    /* may(): an administrator's patterns never reach business data, and a
     * business "*" never reaches system entities. */
    struct mz_user u = {0};
    const char *pats[] = {"*", "users.*"};
    bool admin[] = {false, true};
    u.patterns = pats;
    u.pattern_admin = admin;
    u.npatterns = 1;
    struct mz_req req = {0};
    req.user = &u;
    assert_true(mz_auth_may(&req, "persons.read"));
    assert_false(mz_auth_may(&req, "users.read"));
    u.patterns = pats + 1;
    u.pattern_admin = admin + 1;
    assert_true(mz_auth_may(&req, "users.read"));
    assert_false(mz_auth_may(&req, "persons.read"));
    req.user = NULL;
    assert_false(mz_auth_may(&req, "persons.read"));
}

/* Sealing from a nonce pool: what mz_crypto_seal gives (it opens, in its
 * context only, tampering is refused), a fresh nonce for every value across
 * the pool's refills, and the pool drawn again when used up. */
static void test_seal_pooled(void **state)
{
    (void)state;
    mz_crypto_init_ephemeral();
    struct mz_arena *a = mz_arena_new();
    struct mz_crypto_nonces pool = {0};
    enum { N = 3 * MZ_CRYPTO_NONCE_POOL / 24 + 5 }; /* three refills and some */
    static char nonces[N][33];
    for (int i = 0; i < N; i++) {
        char plain[32];
        snprintf(plain, sizeof(plain), "12010119800101%04d", i);
        char *sealed = mz_crypto_seal_pooled(a, &pool, "persons.id_number", plain, strlen(plain));
        char *single = mz_crypto_seal(a, "persons.id_number", plain, strlen(plain));
        assert_true(mz_crypto_is_sealed(sealed));
        assert_int_equal(strlen(sealed), strlen(single)); /* the same format */
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(mz_crypto_open(a, "persons.id_number", sealed, &out, &len), MZ_OK);
        assert_int_equal(len, strlen(plain));
        assert_memory_equal(out, plain, len);
        assert_int_equal(mz_crypto_open(a, "persons.phone", sealed, &out, &len), MZ_ERR_INVALID);
        /* The nonce: the first 24 bytes, 32 base64 characters after "v1.". */
        const char *b64 = strchr(sealed, '.') + 1;
        memcpy(nonces[i], b64, 32);
        nonces[i][32] = '\0';
        for (int j = 0; j < i; j++)
            assert_string_not_equal(nonces[i], nonces[j]);
        if (i == 0) {
            char *bad = mz_arena_strdup(a, sealed);
            size_t n = strlen(bad);
            bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
            assert_int_equal(mz_crypto_open(a, "persons.id_number", bad, &out, &len),
                             MZ_ERR_INVALID);
        }
    }
    assert_int_equal(pool.used, (size_t)(N % (MZ_CRYPTO_NONCE_POOL / 24)) * 24);
    mz_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_policy), cmocka_unit_test(test_password_hash),
        cmocka_unit_test(test_password_hash_ahead),
        cmocka_unit_test(test_totp),            cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_patterns),        cmocka_unit_test(test_separation),
        cmocka_unit_test(test_seal_pooled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
