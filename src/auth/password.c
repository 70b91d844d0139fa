/* password.c - password hashing and the password policy.
 *
 * Hashes are argon2id through libsodium's crypto_pwhash_str (the encoded
 * string carries salt and parameters). Production parameters: 64 MiB of
 * memory and 2 passes, above the 46 MiB / t=1 floor of OWASP ASVS and of
 * docs/security.md. MZ_TEST_FAST_HASH=1 in the environment drops memory to
 * 8 MiB for test runs only (the API suites create and log in many accounts);
 * a hash made that way is upgraded at the next successful login of a server
 * running without the variable (mz_pw_needs_rehash).
 *
 * Policy: 8..128 characters (UTF-8 code points), not on the common-password
 * list (case-folded; also with trailing digits and punctuation removed), not
 * equal to or containing the username, and a configurable number of
 * character classes (lower, upper, digit, other; 0 by default because ASVS
 * advises against composition rules; 等保 deployments set 3).
 * Tested by tests/unit/test_auth.c.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/auth_internal.h"

/* The argon2id parameters in force. */
static void pw_params(unsigned long long *ops, size_t *mem)
{
    const char *fast = getenv("MZ_TEST_FAST_HASH");
    if (fast && strcmp(fast, "1") == 0) {
        *ops = 1;
        *mem = 8u << 20;
    } else {
        *ops = 2;
        *mem = 64u << 20;
    }
}

/* Hash with fresh salt (the parameters in force). */
static int pw_hash_now(const char *password, char out[128])
{
    unsigned long long ops;
    size_t mem;
    pw_params(&ops, &mem);
    if (sodium_init() < 0)
        return MZ_ERR_INTERNAL;
    if (crypto_pwhash_str_alg(out, password, strlen(password), ops, mem,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return MZ_ERR_NOMEM;
    return MZ_OK;
}

/* Hashes of one password made ahead (mz_auth_hash_ahead_*): the demo's
 * accounts share one password, and their hashes are made by a thread of
 * the load that would otherwise wait. Each is made as mz_pw_hash makes
 * one (its own random salt, the same parameters), so taking one is the
 * same as hashing then. Under lock. */
#define AHEAD_MAX 32
static struct {
    pthread_mutex_t lock;
    char *password; /* NULL: none wanted */
    int wanted;     /* still to make */
    int n;          /* made, not yet taken */
    char hashes[AHEAD_MAX][128];
} ahead = {.lock = PTHREAD_MUTEX_INITIALIZER};

void mz_auth_hash_ahead_begin(const char *password, int n)
{
    mz_auth_hash_ahead_end();
    pthread_mutex_lock(&ahead.lock);
    ahead.password = mz_xstrdup(password);
    ahead.wanted = n < AHEAD_MAX ? n : AHEAD_MAX;
    pthread_mutex_unlock(&ahead.lock);
}

bool mz_auth_hash_ahead_one(void)
{
    pthread_mutex_lock(&ahead.lock);
    if (ahead.password == NULL || ahead.wanted <= 0) {
        pthread_mutex_unlock(&ahead.lock);
        return false;
    }
    ahead.wanted--;
    char *password = mz_xstrdup(ahead.password);
    pthread_mutex_unlock(&ahead.lock);
    char out[128];
    int rc = pw_hash_now(password, out);
    sodium_memzero(password, strlen(password));
    free(password);
    pthread_mutex_lock(&ahead.lock);
    if (rc == MZ_OK && ahead.password != NULL && ahead.n < AHEAD_MAX)
        memcpy(ahead.hashes[ahead.n++], out, sizeof(out));
    pthread_mutex_unlock(&ahead.lock);
    sodium_memzero(out, sizeof(out));
    return rc == MZ_OK;
}

void mz_auth_hash_ahead_end(void)
{
    pthread_mutex_lock(&ahead.lock);
    if (ahead.password) {
        sodium_memzero(ahead.password, strlen(ahead.password));
        free(ahead.password);
    }
    ahead.password = NULL;
    ahead.wanted = ahead.n = 0;
    sodium_memzero(ahead.hashes, sizeof(ahead.hashes));
    pthread_mutex_unlock(&ahead.lock);
}

int mz_pw_hash(const char *password, char out[128])
{
    pthread_mutex_lock(&ahead.lock);
    if (ahead.n > 0 && strcmp(ahead.password, password) == 0) {
        memcpy(out, ahead.hashes[--ahead.n], 128);
        sodium_memzero(ahead.hashes[ahead.n], 128);
        pthread_mutex_unlock(&ahead.lock);
        return MZ_OK;
    }
    pthread_mutex_unlock(&ahead.lock);
    return pw_hash_now(password, out);
}

bool mz_pw_verify(const char *stored, const char *password)
{
    if (stored == NULL || password == NULL)
        return false;
    return crypto_pwhash_str_verify(stored, password, strlen(password)) == 0;
}

bool mz_pw_needs_rehash(const char *stored)
{
    unsigned long long ops;
    size_t mem;
    pw_params(&ops, &mem);
    return crypto_pwhash_str_needs_rehash(stored, ops, mem) != 0;
}

void mz_pw_dummy_verify(const char *password)
{
    /* Hashing costs what a verification costs; the result is thrown away. */
    char out[128];
    (void)pw_hash_now(password ? password : "", out);
}

/* Common passwords (lower case). Short ones are refused by length anyway but
 * are kept so the list can be reused with another minimum. Sources: the
 * public leaked-password top lists, including the Chinese ones (CSDN, 12306). */
static const char *const common_passwords[] = {
    "123456", "123456789", "12345678", "password", "qwerty", "12345", "1234567", "111111",
    "1234567890", "123123", "abc123", "1234", "password1", "iloveyou", "1q2w3e4r", "000000",
    "qwerty123", "zaq12wsx", "dragon", "sunshine", "princess", "letmein", "654321", "monkey",
    "27653", "1qaz2wsx", "123321", "qwertyuiop", "superman", "asdfghjkl", "123qwe", "football",
    "baseball", "welcome", "admin", "admin123", "administrator", "root", "toor", "passw0rd",
    "p@ssw0rd", "p@ssword", "password123", "password12", "password1234", "qwe123", "qweasdzxc",
    "1q2w3e4r5t", "1q2w3e4r5t6y", "q1w2e3r4", "q1w2e3r4t5", "1qazxsw2", "zxcvbnm", "zxcvbnm123",
    "asdfgh", "asdf1234", "asd123", "aa123456", "a123456", "a12345678", "a123456789", "abc12345",
    "abcd1234", "abcdefg", "abcdefgh", "abc123456", "123456a", "123456abc", "12345678a",
    "123456789a", "woaini", "woaini1314", "woaini520", "5201314", "1314520", "520520",
    "woaiwojia", "iloveyou1", "qq123456", "qq123456789", "wang123456", "zhang123456",
    "li123456", "liu123456", "chen123456", "yang123456", "huang123456", "zhao123456",
    "123456qq", "11111111", "22222222", "88888888", "66666666", "99999999", "00000000",
    "12341234", "11223344", "147258369", "159753", "159357", "741852963", "789456123",
    "987654321", "987654321a", "147258", "258369", "369258147", "123654", "321321",
    "112233", "121212", "123123123", "123abc", "aaaaaa", "aaaaaaaa", "aaa111", "1a2b3c4d",
    "a1b2c3d4", "a1s2d3f4", "qazwsx", "qazwsxedc", "qazwsx123", "1qaz2wsx3edc",
    "!qaz2wsx", "1qaz@wsx", "1qaz!qaz", "q1w2e3", "trustno1", "master", "shadow", "michael",
    "jennifer", "jordan", "jordan23", "hunter", "hunter2", "buster", "soccer", "harley",
    "batman", "andrew", "tigger", "charlie", "robert", "thomas", "hockey", "ranger",
    "daniel", "starwars", "klaster", "112233445566", "george", "computer", "michelle",
    "jessica", "pepper", "zaq1zaq1", "freedom", "whatever", "nicole", "ginger", "cookie",
    "summer", "ashley", "cheese", "amanda", "love", "lovely", "loveme", "flower",
    "killer", "secret", "secret123", "test", "test123", "test1234", "testing", "guest",
    "guest123", "changeme", "default", "login", "login123", "user", "user123", "demo",
    "demo123", "demo1234", "system", "system123", "manager", "manager123", "oracle",
    "mysql", "postgres", "server", "internet", "service", "welcome1", "welcome123",
    "qwer1234", "qwerasdf", "asdfqwer", "1234qwer", "1234abcd", "12qwaszx", "qweqwe",
    "qwerty1", "qwerty12", "qwerty1234", "azerty", "iloveu", "princess1", "sunshine1",
    "football1", "baseball1", "superman1", "dragon123", "monkey123", "letmein1",
    "abcabc", "abcd123", "aini1314", "woshishui", "wodemima", "mima123", "mima123456",
    "zhongguo", "china123", "beijing", "shanghai", "tianjin", "tianjin123", "minzheng",
    "minzheng123", "gov123456", "zhengfu", "xiaoming", "xiaomi", "huawei", "baidu",
    "taobao", "alibaba", "tencent", "weixin", "wechat", "nihao123", "haoren", "iloveyou520",
    "1314521", "5211314", "7758521", "7758258", "584520", "3344520", "201314", "1qaz1qaz",
    "2wsx3edc", "3edc4rfv", "4rfv5tgb", "zxc123", "zxc123456", "zxcv1234", "asdasd",
    "asdasd123", "asd123456", "qweasd", "qweasd123", "123qweasd", "123qweasdzxc",
    "1234qwerasdf", "password!", "password@123", "admin@123", "admin1234", "admin888",
    "root123", "root1234", "root@123", "p@ssw0rd123", "passw0rd1", "pa55word", "pa$$word",
    "letmein123", "access", "access14", "mustang", "matrix", "maggie", "samsung", "apple",
    "apple123", "banana", "orange", "chocolate", "butterfly", "purple", "yellow", "silver",
    "golden", "diamond", "liverpool", "chelsea", "arsenal", "barcelona", "snoopy",
    "pokemon", "naruto", "minecraft", "fuckyou", "asshole", "666666", "888888",
    "999999", "777777", "555555", "123456789q", "q123456", "q123456789", "w123456",
    "z123456", "as123456", "ab123456", "abc123abc", "qaz123", "qaz123456", "1234567a",
    "7654321", "87654321", "0123456789", "01234567", "1111111111", "123454321",
    "1q2w3e", "1q2w3e4r5", "changeit", "welcome2024", "welcome2025", "spring2024",
    "summer2024", "winter2024", "autumn2024", "password2024", "password2025", "admin2024",
    "admin2025", "qwerty2024", "iloveyou2", "zhang123", "wang123", "li123", "liu123",
};

/* Lower-case ASCII copy of s (non-ASCII bytes kept) into out[cap]. */
static void fold(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

bool mz_pw_is_common(const char *password)
{
    char low[MZ_PASSWORD_MAX * 4 + 1];
    fold(password, low, sizeof(low));
    /* Also the password without trailing digits and punctuation ("Password1!"). */
    char stem[sizeof(low)];
    memcpy(stem, low, sizeof(low));
    size_t n = strlen(stem);
    while (n > 0 && (isdigit((unsigned char)stem[n - 1]) || ispunct((unsigned char)stem[n - 1])))
        stem[--n] = '\0';
    for (size_t i = 0; i < MZ_ARRAY_LEN(common_passwords); i++) {
        if (strcmp(low, common_passwords[i]) == 0 ||
            (n >= 4 && strcmp(stem, common_passwords[i]) == 0))
            return true;
    }
    return false;
}

/* Number of UTF-8 code points, or -1 if not valid UTF-8 or holds a control char. */
static long utf8_chars(const char *s)
{
    long n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra;
        if (*p < 0x20 || *p == 0x7f)
            return -1;
        if (*p < 0x80)
            extra = 0;
        else if ((*p & 0xe0) == 0xc0)
            extra = 1;
        else if ((*p & 0xf0) == 0xe0)
            extra = 2;
        else if ((*p & 0xf8) == 0xf0)
            extra = 3;
        else
            return -1;
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return -1;
        }
        n++;
    }
    return n;
}

const char *mz_pw_policy(const char *password, const char *username, int classes)
{
    if (password == NULL)
        return "请输入密码";
    long n = utf8_chars(password);
    if (n < 0)
        return "密码含有无效字符";
    if (n < MZ_PASSWORD_MIN)
        return "密码至少 8 个字符";
    if (n > MZ_PASSWORD_MAX)
        return "密码最多 128 个字符";
    if (mz_pw_is_common(password))
        return "密码过于常见，请换一个不易猜到的密码";
    if (username && *username) {
        char low[MZ_PASSWORD_MAX * 4 + 1], user[128];
        fold(password, low, sizeof(low));
        fold(username, user, sizeof(user));
        if (strlen(user) >= 3 && strstr(low, user) != NULL)
            return "密码不能包含用户名";
    }
    bool lower = false, upper = false, digit = false, other = false;
    for (const unsigned char *p = (const unsigned char *)password; *p; p++) {
        if (islower(*p))
            lower = true;
        else if (isupper(*p))
            upper = true;
        else if (isdigit(*p))
            digit = true;
        else
            other = true;
    }
    int have = lower + upper + digit + other;
    if (classes > 0 && have < classes)
        return "密码复杂度不足：需包含大写字母、小写字母、数字、符号中的多类";
    return NULL;
}

void mz_pw_generate(char out[32])
{
    /* No 0/O, 1/l/I: the password is read off a screen once. */
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    if (sodium_init() < 0)
        abort();
    for (int i = 0; i < 16; i++)
        out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    out[0] = alphabet[randombytes_uniform(24)];      /* an upper-case letter */
    out[1] = alphabet[24 + randombytes_uniform(25)]; /* a lower-case letter */
    out[4] = '-';
    out[9] = '-';
    out[14] = '7'; /* always a digit, so any complexity setting up to 3 classes passes */
    out[16] = '\0';
}
