/* totp.c - base32 and time-based one-time passwords (RFC 4226, RFC 6238).
 *
 * Authenticator apps speak HMAC-SHA1 (the RFC 6238 default and the only
 * algorithm all of them support). libsodium has no SHA-1, so the HMAC comes
 * from OpenSSL's libcrypto (a Debian package, libssl-dev) rather than a
 * hand-written SHA-1: a vetted implementation beats one we would have to
 * prove ourselves. Codes are 6 digits, steps 30 s, and a code from the step
 * before or after is accepted for clock drift; the caller refuses a step it
 * has already accepted (replay).
 * Tested by tests/unit/test_auth.c against the RFC 6238 appendix B vectors.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth_internal.h"

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void mz_base32_encode(const unsigned char *data, size_t len, char *out)
{
    size_t o = 0;
    uint32_t buffer = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        buffer = (buffer << 8) | data[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32_alphabet[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = b32_alphabet[(buffer << (5 - bits)) & 31];
    out[o] = '\0';
}

int mz_base32_decode(const char *text, unsigned char *out, size_t cap)
{
    uint32_t buffer = 0;
    int bits = 0;
    size_t o = 0;
    for (const char *p = text; *p; p++) {
        char c = *p;
        if (c == '=' || c == ' ' || c == '-')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        const char *at = strchr(b32_alphabet, c);
        if (at == NULL || c == '\0')
            return -1;
        buffer = (buffer << 5) | (uint32_t)(at - b32_alphabet);
        bits += 5;
        if (bits >= 8) {
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)((buffer >> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return (int)o;
}

uint32_t mz_hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits)
{
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(counter & 0xff);
        counter >>= 8;
    }
    if (HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen) == NULL ||
        maclen < 20)
        return UINT32_MAX; /* never equals a code of 6..8 digits */
    int offset = mac[maclen - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[offset] & 0x7f) << 24) | ((uint32_t)mac[offset + 1] << 16) |
                   ((uint32_t)mac[offset + 2] << 8) | (uint32_t)mac[offset + 3];
    uint32_t mod = 1;
    for (int i = 0; i < digits; i++)
        mod *= 10;
    return bin % mod;
}

bool mz_totp_verify(const char *secret_b32, const char *code, int64_t now, int64_t *step)
{
    unsigned char key[64];
    if (secret_b32 == NULL || code == NULL || strlen(code) != 6 ||
        strspn(code, "0123456789") != 6)
        return false;
    int keylen = mz_base32_decode(secret_b32, key, sizeof(key));
    if (keylen <= 0)
        return false;
    uint32_t want = 0;
    for (int i = 0; i < 6; i++)
        want = want * 10 + (uint32_t)(code[i] - '0');
    int64_t t = now / 30;
    bool ok = false;
    for (int64_t d = -1; d <= 1; d++) {
        /* Compare all three steps, so the time taken does not say which matched. */
        if (mz_hotp(key, (size_t)keylen, (uint64_t)(t + d), 6) == want && !ok) {
            ok = true;
            *step = t + d;
        }
    }
    return ok;
}
