/* crypto.h - keys, encryption at rest and blind indexes (libsodium).
 *
 * The data-encryption key lives in a file outside the database (MZ_KEY_FILE,
 * default var/minzheng.key beside the database), created by `init` with mode
 * 0600. The file holds one or more versions ("v1 <64 hex>" per line); the
 * last is current. From each version two subkeys are derived (crypto_kdf):
 * one for XChaCha20-Poly1305 AEAD, one for the keyed BLAKE2b blind index.
 * Sealed values carry their key version, so `minzheng rekey` can add a
 * version and re-seal every value while old ciphertexts stay readable.
 * The associated data of every seal is its context ("persons.id_number"), so
 * a ciphertext moved to another column does not open.
 */
#ifndef MZ_CRYPTO_H
#define MZ_CRYPTO_H

#include "mz/base.h"

/* Load the key file; with create, make it (0600) with one fresh version if it
 * does not exist. MZ_ERR_IO on unreadable, MZ_ERR_INVALID on a malformed file
 * or one readable by group/others. Thread-safe after loading. */
int mz_crypto_load(const char *path, bool create);
/* Use a random in-memory key (unit tests). */
void mz_crypto_init_ephemeral(void);
bool mz_crypto_ready(void);
/* Current key version (1, 2, ...): the one seal and blind use. */
int mz_crypto_version(void);
/* The newest version in the key file. */
int mz_crypto_latest(void);
/* Make a loaded version current (the database records which one its blind
 * indexes use: mz_keystate). MZ_ERR_NOTFOUND if the file lacks it. */
int mz_crypto_use(int version);
/* Append a new key version to the key file (rekey step 1). */
int mz_crypto_add_version(const char *path);
/* The default key file for a database path: "<dir of db>/minzheng.key". */
char *mz_crypto_default_path(const char *db_path);

/* Seal plaintext for a context: "v<ver>.<base64url(nonce|ciphertext)>" in the arena. */
char *mz_crypto_seal(struct mz_arena *a, const char *context, const char *plain, size_t len);
/* Sealing many values on one thread (a bulk load): the same output as
 * mz_crypto_seal, the nonces taken from a block of the system's random bytes
 * drawn at once (one getrandom call per MZ_CRYPTO_NONCE_POOL / 24 values
 * instead of one per value: a system call per value was a tenth of the demo
 * load's writer thread). Random nonces as before, never a counter; a pool
 * is used by one thread and never copied (start it zeroed: {0} draws a
 * block at the first seal). */
#define MZ_CRYPTO_NONCE_POOL 4080
struct mz_crypto_nonces {
    unsigned char bytes[MZ_CRYPTO_NONCE_POOL];
    size_t used; /* bytes handed out; 0 (an empty pool) draws a block */
};
char *mz_crypto_seal_pooled(struct mz_arena *a, struct mz_crypto_nonces *pool, const char *context,
                            const char *plain, size_t len);
/* Open a sealed value; MZ_ERR_INVALID if forged, moved or of an unknown key. */
int mz_crypto_open(struct mz_arena *a, const char *context, const char *sealed, char **plain,
                   size_t *len);
/* True if the text looks sealed (starts with "v<digits>."). */
bool mz_crypto_is_sealed(const char *text);
/* Blind index: 32 hex chars of keyed BLAKE2b over context and value, with the
 * current key, into out[33]. Equal values give equal indexes. */
void mz_crypto_blind(const char *context, const char *value, size_t len, char out[33]);
/* Raw blind index: the same 16 bytes mz_crypto_blind writes as hex. */
void mz_crypto_blind_raw(const char *context, const char *value, size_t len,
                         unsigned char out[16]);

/* Binary sealing for bulk data (verification snapshots): out holds
 * version (4 bytes, little-endian) | nonce (24) | ciphertext | tag (16);
 * MZ_CRYPTO_SEAL_OVERHEAD bytes more than the plaintext. The associated
 * data is context. */
#define MZ_CRYPTO_SEAL_OVERHEAD (4 + 24 + 16)
void mz_crypto_seal_bin(const char *context, const void *plain, size_t len, unsigned char *out);
/* Open what mz_crypto_seal_bin made into plain (len - overhead bytes);
 * MZ_ERR_INVALID if forged, moved, truncated or of an unknown key. */
int mz_crypto_open_bin(const char *context, const unsigned char *sealed, size_t len,
                       void *plain);

/* Keyed MAC for the audit chain (HMAC-SHA-256 under a derived key), hex into out[65]. */
void mz_crypto_mac(const void *data, size_t len, char out[65]);

#endif
