/* cmd_demo.c - `minzheng demo --db FILE [--persons N] [--seed S] [--password P]`.
 *
 * Creates or migrates the database (like init), fills the synthetic Tianjin
 * of src/registry/demo.c and creates the demo accounts of the contract with
 * password P (default: a random one, printed once on stdout with the summary).
 * Prints one JSON line: {"persons","households","members","deceased",
 * "separated","disabled","seconds","db_bytes","checksum","seed",...}.
 * Running it on a database that already holds persons is refused (exit 3):
 * demo data is added once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "mz/auth.h"
#include "mz/cli.h"
#include "mz/registry.h"
#include "modules/hall/hall_internal.h"
#include "modules/verify/verify_parts.h"

/* Password hashes the demo makes: its accounts (the contract's eight) and
 * the service hall's three citizens (src/modules/hall/demo.c). */
#define DEMO_PASSWORD_HASHES 11

/* Parse a non-negative integer option; false if malformed. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* A random password of 16 characters from an unambiguous alphabet. */
static void random_password(char out[17])
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    for (int i = 0; i < 16; i++)
        out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    out[16] = '\0';
}

/* After the load began: say what failed, wipe the password's hashes made
 * ahead, close everything; exit status 1. */
static int demo_failed(struct mz_app *app, struct mz_db *db, const char *what, int rc)
{
    fprintf(stderr, "minzheng demo: %s failed (%s)\n", what, mz_err_name(rc));
    mz_auth_hash_ahead_end();
    mz_db_close(db);
    mz_app_free(app);
    return 1;
}

int mz_cmd_demo(int argc, char **argv)
{
    const char *db_path = getenv("MZ_DB"), *persons = NULL, *seed = NULL, *password = NULL,
               *key_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: minzheng demo --db FILE [--persons N] [--seed S] [--password P]"
                   " [--key-file FILE]\n\n"
                   "Create or migrate the database, then fill a synthetic Tianjin (demo data\n"
                   "only, no real persons) and create the demo accounts.\n\n"
                   "options:\n"
                   "  --db FILE        SQLite database file (env MZ_DB)\n"
                   "  --persons N      how many persons (default 100000)\n"
                   "  --seed S         random seed; the same seed gives the same data (default 1)\n"
                   "  --password P     password of every demo account (default: random, printed)\n"
                   "  --key-file FILE  data-encryption key (env MZ_KEY_FILE)\n"
                   "  --help           show this help\n");
            return 0;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len == 4 && strncmp(a, "--db", 4) == 0)
            slot = &db_path;
        else if (len == 9 && strncmp(a, "--persons", 9) == 0)
            slot = &persons;
        else if (len == 6 && strncmp(a, "--seed", 6) == 0)
            slot = &seed;
        else if (len == 10 && strncmp(a, "--password", 10) == 0)
            slot = &password;
        else if (len == 10 && strncmp(a, "--key-file", 10) == 0)
            slot = &key_file;
        if (slot == NULL) {
            fprintf(stderr, "minzheng demo: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (eq)
            *slot = eq + 1;
        else if (i + 1 < argc)
            *slot = argv[++i];
        else {
            fprintf(stderr, "minzheng demo: option %s needs a value\n", a);
            return 2;
        }
        if (**slot == '\0') {
            fprintf(stderr, "minzheng demo: option %.*s needs a non-empty value\n", (int)len, a);
            return 2;
        }
    }
    struct mz_demo_options o = {.persons = 100000, .seed = 1};
    uint64_t v;
    if (persons) {
        if (!parse_u64(persons, 100000000, &v) || v == 0) {
            fprintf(stderr, "minzheng demo: --persons must be 1..100000000\n");
            return 2;
        }
        o.persons = (int64_t)v;
    }
    if (seed) {
        if (!parse_u64(seed, UINT64_MAX, &v)) {
            fprintf(stderr, "minzheng demo: --seed must be a non-negative integer\n");
            return 2;
        }
        o.seed = v;
    }
    if (db_path == NULL) {
        fprintf(stderr, "minzheng demo: --db FILE is required (or set MZ_DB)\n");
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "minzheng demo: cannot initialise libsodium\n");
        return 2;
    }
    struct mz_app app;
    if (mz_app_init(&app, db_path, NULL, 0) != MZ_OK) {
        fprintf(stderr, "minzheng demo: the module declarations are inconsistent\n");
        return 2;
    }
    /* The load reads and writes through a VFS that reads ahead and gathers
     * writes (src/db/sqlite_bulk.c), installed before the database is opened. */
    if (mz_db_bulk_vfs_install() != MZ_OK)
        mz_warn("demo: the bulk I/O VFS is not installed; loading page by page");
    struct mz_db *db = NULL;
    int rc = mz_cli_open("demo", &app, db_path, key_file, true, &db);
    if (rc != 0) {
        mz_app_free(&app);
        return rc;
    }
    int64_t existing = 0;
    mz_db_query_int(db, "SELECT count(*) FROM persons", &existing, 0, NULL);
    if (existing > 0) {
        fprintf(stderr, "minzheng demo: '%s' already holds %lld persons; demo data is added once\n",
                db_path, (long long)existing);
        mz_db_close(db);
        mz_app_free(&app);
        return 3;
    }
    /* The accounts' password, chosen first: the load's generator thread
     * hashes it for them when it has finished its own work (each hash
     * with its own salt: mz_auth_hash_ahead_begin). */
    char generated[17];
    bool random = password == NULL;
    if (random) {
        random_password(generated);
        password = generated;
    }
    mz_auth_hash_ahead_begin(password, DEMO_PASSWORD_HASHES);
    o.spare_work = mz_auth_hash_ahead_one;
    struct mz_demo_summary s;
    rc = mz_registry_demo(&app, db, &o, &s);
    if (rc != MZ_OK)
        return demo_failed(&app, db, "generating the demo city", rc);
    rc = mz_auth_demo_accounts(&app, db, password);
    if (rc != MZ_OK)
        return demo_failed(&app, db, "creating the demo accounts", rc);
    /* Assistance cases, authorisations, source batches, warnings and a
     * re-check: about one household in 50 (some 2% of persons, as 低保 in
     * Tianjin), at most 5000 cases. */
    json_t *verify = NULL;
    int64_t want = s.households / 50 < 5000 ? s.households / 50 : 5000;
    rc = vf_demo(&app, db, o.seed, (int)(want > 0 ? want : 1), &verify);
    if (rc != MZ_OK)
        return demo_failed(&app, db, "the verification demo data", rc);
    /* The service hall: booking slots ahead, citizens with applications
     * and bookings in various states. */
    json_t *hall = NULL;
    rc = hall_demo(&app, db, password, &hall);
    if (rc != MZ_OK) {
        json_decref(verify);
        return demo_failed(&app, db, "the service hall demo data", rc);
    }
    char *verify_text = json_dumps(verify, JSON_COMPACT);
    json_decref(verify);
    char *hall_text = json_dumps(hall, JSON_COMPACT);
    json_decref(hall);
    mz_auth_hash_ahead_end();
    mz_db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    mz_db_close(db);
    mz_app_free(&app);
    struct stat st;
    long long bytes = stat(db_path, &st) == 0 ? (long long)st.st_size : -1;
    printf("{\"persons\":%lld,\"households\":%lld,\"members\":%lld,\"deceased\":%lld,"
           "\"separated\":%lld,\"disabled\":%lld,\"seconds\":%.2f,\"db_bytes\":%lld,"
           "\"seed\":%llu,\"checksum\":\"%016llx\",\"accounts\":[\"sysadmin\",\"secadmin\","
           "\"auditadmin\",\"city_officer\",\"heping_officer\",\"hexi_officer\",\"heping_street\","
           "\"heping_community\"],\"verify\":%s,\"hall\":%s%s%s%s}\n",
           (long long)s.persons, (long long)s.households, (long long)s.members,
           (long long)s.deceased, (long long)s.separated, (long long)s.disabled, s.seconds, bytes,
           (unsigned long long)o.seed, (unsigned long long)s.checksum, verify_text, hall_text,
           random ? ",\"password\":\"" : "", random ? password : "", random ? "\"" : "");
    free(verify_text);
    free(hall_text);
    return 0;
}
