/* crypto.c - the data-encryption key, sealing and blind indexes (libsodium).
 *
 * Key file format, one version per line, the last one current:
 *     v1 <64 hex characters>
 * The file must be mode 0600 (group/other bits refused). From each master key
 * two subkeys are derived with crypto_kdf_derive_from_key (context "minzheng"):
 * id 1 for XChaCha20-Poly1305-IETF sealing, id 2 for the keyed BLAKE2b blind
 * index, id 3 for the audit chain MAC (always from version 1, so a rekey never
 * breaks the verification of old audit entries).
 *
 * A sealed value is "v<version>." + base64url(nonce(24) | ciphertext | tag(16));
 * the associated data is the value's context ("persons.id_number"), so a
 * ciphertext copied into another column fails to open.
 * Keys are loaded once at start-up and then only read: no locking needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "mz/crypto.h"
#include "mz/db.h"

#define MAX_VERSIONS 16
#define KDF_CONTEXT "minzheng"

struct key_version {
    int version;
    unsigned char seal[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char blind[crypto_generichash_KEYBYTES];
    unsigned char mac[crypto_auth_hmacsha256_KEYBYTES];
    /* The HMAC's key pads hashed once (the state after init with mac):
     * each MAC copies it instead of hashing both pads again. */
    crypto_auth_hmacsha256_state mac_pads;
};

static struct key_version keys[MAX_VERSIONS];
static int nkeys;
static int current = -1; /* index into keys of the version in use */

/* Derive the subkeys of one master key into slot k. */
static void derive(struct key_version *k, int version, const unsigned char master[32])
{
    k->version = version;
    crypto_kdf_derive_from_key(k->seal, sizeof(k->seal), 1, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(k->blind, sizeof(k->blind), 2, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(k->mac, sizeof(k->mac), 3, KDF_CONTEXT, master);
    crypto_auth_hmacsha256_init(&k->mac_pads, k->mac, sizeof(k->mac));
}

/* Start libsodium once. */
static int sodium_ready(void)
{
    if (sodium_init() < 0) {
        mz_error("libsodium failed to initialise");
        return MZ_ERR_INTERNAL;
    }
    return MZ_OK;
}

/* Write a new key file (0600) with one fresh version. */
static int create_key_file(const char *path)
{
    unsigned char master[32];
    char hex[65], line[80];
    randombytes_buf(master, sizeof(master));
    sodium_bin2hex(hex, sizeof(hex), master, sizeof(master));
    sodium_memzero(master, sizeof(master));
    int n = snprintf(line, sizeof(line), "v1 %s\n", hex);
    sodium_memzero(hex, sizeof(hex));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        mz_error("cannot create key file: %s", strerror(errno));
        return MZ_ERR_IO;
    }
    ssize_t w = write(fd, line, (size_t)n);
    sodium_memzero(line, sizeof(line));
    if (w != n || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        mz_error("cannot write key file");
        return MZ_ERR_IO;
    }
    close(fd);
    return MZ_OK;
}

int mz_crypto_load(const char *path, bool create)
{
    struct stat st;
    int rc = sodium_ready();
    if (rc != MZ_OK)
        return rc;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && create) {
            rc = create_key_file(path);
            if (rc != MZ_OK)
                return rc;
        } else {
            mz_error("key file missing or unreadable: %s", strerror(errno));
            return MZ_ERR_IO;
        }
    } else if (st.st_mode & 077) {
        mz_error("key file must be mode 0600 (it is readable by others)");
        return MZ_ERR_INVALID;
    }
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        mz_error("cannot open key file: %s", strerror(errno));
        return MZ_ERR_IO;
    }
    char line[256];
    int count = 0;
    rc = MZ_OK;
    while (fgets(line, sizeof(line), f) != NULL) {
        int version;
        char hex[80];
        unsigned char master[32];
        size_t bin_len = 0;
        if (line[0] == '\n' || line[0] == '#')
            continue;
        if (sscanf(line, "v%d %79s", &version, hex) != 2 || version < 1 ||
            strlen(hex) != 64 ||
            sodium_hex2bin(master, sizeof(master), hex, 64, NULL, &bin_len, NULL) != 0 ||
            bin_len != 32 || count == MAX_VERSIONS ||
            (count > 0 && version <= keys[count - 1].version)) {
            rc = MZ_ERR_INVALID;
            sodium_memzero(hex, sizeof(hex));
            break;
        }
        derive(&keys[count++], version, master);
        sodium_memzero(master, sizeof(master));
        sodium_memzero(hex, sizeof(hex));
    }
    sodium_memzero(line, sizeof(line));
    fclose(f);
    if (rc == MZ_OK && count == 0)
        rc = MZ_ERR_INVALID;
    if (rc != MZ_OK) {
        mz_error("key file is malformed");
        sodium_memzero(keys, sizeof(keys));
        nkeys = 0;
        return rc;
    }
    nkeys = count;
    current = count - 1;
    return MZ_OK;
}

void mz_crypto_init_ephemeral(void)
{
    unsigned char master[32];
    if (sodium_ready() != MZ_OK)
        abort();
    randombytes_buf(master, sizeof(master));
    derive(&keys[0], 1, master);
    sodium_memzero(master, sizeof(master));
    nkeys = 1;
    current = 0;
}

bool mz_crypto_ready(void)
{
    return nkeys > 0;
}

int mz_crypto_version(void)
{
    return nkeys > 0 ? keys[current].version : 0;
}

int mz_crypto_latest(void)
{
    return nkeys > 0 ? keys[nkeys - 1].version : 0;
}

int mz_crypto_use(int version)
{
    for (int i = 0; i < nkeys; i++) {
        if (keys[i].version == version) {
            current = i;
            return MZ_OK;
        }
    }
    return MZ_ERR_NOTFOUND;
}

int mz_crypto_add_version(const char *path)
{
    unsigned char master[32];
    char hex[65], line[80];
    if (nkeys == 0 || nkeys == MAX_VERSIONS)
        return MZ_ERR_INVALID;
    int version = keys[nkeys - 1].version + 1;
    randombytes_buf(master, sizeof(master));
    sodium_bin2hex(hex, sizeof(hex), master, sizeof(master));
    int n = snprintf(line, sizeof(line), "v%d %s\n", version, hex);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    int rc = MZ_OK;
    if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0)
        rc = MZ_ERR_IO;
    if (fd >= 0)
        close(fd);
    if (rc == MZ_OK)
        derive(&keys[nkeys++], version, master); /* not current until mz_crypto_use */
    sodium_memzero(master, sizeof(master));
    sodium_memzero(hex, sizeof(hex));
    sodium_memzero(line, sizeof(line));
    return rc;
}

char *mz_crypto_default_path(const char *db_path)
{
    /* A PostgreSQL conninfo is no path: the key file is ./minzheng.key. */
    if (mz_db_spec_is_postgresql(db_path))
        return mz_xstrdup("minzheng.key");
    const char *slash = strrchr(db_path, '/');
    size_t dir = slash ? (size_t)(slash - db_path) : 0;
    char *p = mz_xmalloc(dir + 32);
    if (slash)
        snprintf(p, dir + 32, "%.*s/minzheng.key", (int)dir, db_path);
    else
        snprintf(p, dir + 32, "minzheng.key");
    return p;
}

/* The key of a version, or NULL. */
static const struct key_version *key_of(int version)
{
    for (int i = 0; i < nkeys; i++) {
        if (keys[i].version == version)
            return &keys[i];
    }
    return NULL;
}

/* Seal with the nonce from pool (a fresh one from the CSPRNG when NULL). */
static char *seal_text(struct mz_arena *a, struct mz_crypto_nonces *pool, const char *context,
                       const char *plain, size_t len)
{
    if (nkeys == 0)
        abort(); /* sealing without a key is a bug: fail closed */
    const struct key_version *k = &keys[current];
    size_t clen = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + len +
                  crypto_aead_xchacha20poly1305_ietf_ABYTES;
    unsigned char *buf = mz_arena_alloc(a, clen);
    unsigned long long out_len = 0;
    if (pool == NULL) {
        randombytes_buf(buf, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    } else {
        _Static_assert(MZ_CRYPTO_NONCE_POOL % crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == 0,
                       "whole nonces in a pool");
        if (pool->used == 0 || pool->used >= MZ_CRYPTO_NONCE_POOL) {
            randombytes_buf(pool->bytes, MZ_CRYPTO_NONCE_POOL);
            pool->used = 0;
        }
        /* Each nonce is handed out once: used only grows until the next block. */
        memcpy(buf, pool->bytes + pool->used, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
        pool->used += crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        buf + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &out_len, (const unsigned char *)plain,
        len, (const unsigned char *)context, strlen(context), NULL, buf, k->seal);
    size_t b64 = sodium_base64_ENCODED_LEN(clen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = mz_arena_alloc(a, b64 + 16);
    int head = snprintf(out, 16, "v%d.", k->version);
    sodium_bin2base64(out + head, b64, buf, clen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

char *mz_crypto_seal(struct mz_arena *a, const char *context, const char *plain, size_t len)
{
    return seal_text(a, NULL, context, plain, len);
}

char *mz_crypto_seal_pooled(struct mz_arena *a, struct mz_crypto_nonces *pool, const char *context,
                            const char *plain, size_t len)
{
    return seal_text(a, pool, context, plain, len);
}

bool mz_crypto_is_sealed(const char *text)
{
    if (text == NULL || text[0] != 'v' || text[1] < '1' || text[1] > '9')
        return false;
    const char *p = text + 1;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '.';
}

int mz_crypto_open(struct mz_arena *a, const char *context, const char *sealed, char **plain,
                   size_t *len)
{
    if (!mz_crypto_is_sealed(sealed))
        return MZ_ERR_INVALID;
    int version = atoi(sealed + 1);
    const struct key_version *k = key_of(version);
    if (k == NULL)
        return MZ_ERR_INVALID;
    const char *b64 = strchr(sealed, '.') + 1;
    size_t b64_len = strlen(b64);
    size_t max = b64_len * 3 / 4 + 3;
    unsigned char *bin = mz_arena_alloc(a, max);
    size_t bin_len = 0;
    if (sodium_base642bin(bin, max, b64, b64_len, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        bin_len < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                      crypto_aead_xchacha20poly1305_ietf_ABYTES)
        return MZ_ERR_INVALID;
    size_t clen = bin_len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    char *out = mz_arena_alloc(a, clen + 1);
    unsigned long long out_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)out, &out_len, NULL,
            bin + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, clen,
            (const unsigned char *)context, strlen(context), bin, k->seal) != 0)
        return MZ_ERR_INVALID;
    out[out_len] = '\0';
    *plain = out;
    if (len)
        *len = (size_t)out_len;
    return MZ_OK;
}

void mz_crypto_blind(const char *context, const char *value, size_t len, char out[33])
{
    unsigned char h[16];
    crypto_generichash_state st;
    if (nkeys == 0)
        abort();
    const struct key_version *k = &keys[current];
    crypto_generichash_init(&st, k->blind, sizeof(k->blind), sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)context, strlen(context) + 1);
    crypto_generichash_update(&st, (const unsigned char *)value, len);
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_bin2hex(out, 33, h, sizeof(h));
}

void mz_crypto_blind_raw(const char *context, const char *value, size_t len,
                         unsigned char out[16])
{
    crypto_generichash_state st;
    if (nkeys == 0)
        abort();
    const struct key_version *k = &keys[current];
    crypto_generichash_init(&st, k->blind, sizeof(k->blind), 16);
    crypto_generichash_update(&st, (const unsigned char *)context, strlen(context) + 1);
    crypto_generichash_update(&st, (const unsigned char *)value, len);
    crypto_generichash_final(&st, out, 16);
}

void mz_crypto_seal_bin(const char *context, const void *plain, size_t len, unsigned char *out)
{
    if (nkeys == 0)
        abort(); /* sealing without a key is a bug: fail closed */
    const struct key_version *k = &keys[current];
    uint32_t v = (uint32_t)k->version;
    for (int i = 0; i < 4; i++)
        out[i] = (unsigned char)(v >> (8 * i));
    randombytes_buf(out + 4, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen, plain, len,
        (const unsigned char *)context, strlen(context), NULL, out + 4, k->seal);
}

int mz_crypto_open_bin(const char *context, const unsigned char *sealed, size_t len,
                       void *plain)
{
    if (len < MZ_CRYPTO_SEAL_OVERHEAD)
        return MZ_ERR_INVALID;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)sealed[i] << (8 * i);
    const struct key_version *k = key_of((int)v);
    if (k == NULL)
        return MZ_ERR_INVALID;
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain, &plen, NULL, sealed + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            len - 4 - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            (const unsigned char *)context, strlen(context), sealed + 4, k->seal) != 0)
        return MZ_ERR_INVALID;
    return MZ_OK;
}

void mz_crypto_mac(const void *data, size_t len, char out[65])
{
    unsigned char h[crypto_auth_hmacsha256_BYTES];
    if (nkeys == 0)
        abort();
    /* crypto_auth_hmacsha256(h, data, len, keys[0].mac), from the pads. */
    crypto_auth_hmacsha256_state st = keys[0].mac_pads;
    crypto_auth_hmacsha256_update(&st, data, len);
    crypto_auth_hmacsha256_final(&st, h);
    sodium_memzero(&st, sizeof(st));
    sodium_bin2hex(out, 65, h, sizeof(h));
}
