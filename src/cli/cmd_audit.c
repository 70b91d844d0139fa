/* cmd_audit.c - `minzheng audit-verify` and `minzheng audit-anchor`.
 *
 * Both open the database read-only (a server may be running); audit-verify
 * loads the key file (--key-file, else MZ_KEY_FILE, else minzheng.key beside
 * the database): the chain's MAC key is derived from it.
 *
 *   audit-verify --db FILE [--anchor FILE]
 *       Recompute the chain. Exit 0 printing {"entries":N,"head":"..."} when
 *       intact; exit 1 printing {"entries":N,"seq":S,"problem":"edited|deleted|
 *       inserted|reordered","message":"..."} naming the first bad entry. With
 *       --anchor, the last anchor in that file must still be in the log (so a
 *       truncated tail is found too).
 *   audit-anchor --db FILE [--to FILE]
 *       Print the chain head {"seq","hash","at","anchored_at"}; with --to,
 *       append it as one line to FILE (the daily anchor; keep it elsewhere).
 *
 * Exit 2 on usage errors or an unusable database or key. Tested by
 * tests/api/audit.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/audit.h"
#include "mz/cli.h"
#include "mz/crypto.h"

/* Options of the two commands. */
struct audit_opts {
    const char *db;
    const char *key_file;
    const char *to;     /* audit-anchor */
    const char *anchor; /* audit-verify */
};

/* Print usage of a command. */
static void audit_usage(FILE *f, const char *command, bool verify)
{
    fprintf(f,
            "usage: minzheng %s --db FILE [--key-file FILE] %s\n\n%s\n\noptions:\n"
            "  --db FILE                database (env MZ_DB)\n"
            "  --key-file FILE          key file (env MZ_KEY_FILE; default beside the database)\n"
            "%s"
            "  --help                   show this help\n",
            command, verify ? "[--anchor FILE]" : "[--to FILE]",
            verify ? "Verify the audit log's hash chain: exit 0 if intact, 1 naming the first "
                     "bad entry."
                   : "Export the audit chain head as JSON (the daily anchor).",
            verify ? "  --anchor FILE            also check the last anchor written to FILE\n"
                   : "  --to FILE                append the anchor as one line to FILE\n");
}

/* Parse --name VALUE / --name=VALUE. -1 to go on, else an exit status. */
static int audit_parse(int argc, char **argv, bool verify, struct audit_opts *o)
{
    struct {
        const char *name;
        const char **value;
    } known[] = {
        {"db", &o->db},
        {"pg", &o->db}, /* a PostgreSQL connection string */
        {"key-file", &o->key_file},
        {verify ? "anchor" : "to", verify ? &o->anchor : &o->to},
    };
    memset(o, 0, sizeof(*o));
    if (getenv("MZ_DB") && *getenv("MZ_DB"))
        o->db = getenv("MZ_DB");
    if (getenv("MZ_KEY_FILE") && *getenv("MZ_KEY_FILE"))
        o->key_file = getenv("MZ_KEY_FILE");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            audit_usage(stdout, argv[0], verify);
            return 0;
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a) - 2;
        const char **slot = NULL;
        for (size_t k = 0; strncmp(a, "--", 2) == 0 && k < MZ_ARRAY_LEN(known); k++) {
            if (strlen(known[k].name) == len && strncmp(a + 2, known[k].name, len) == 0)
                slot = known[k].value;
        }
        if (slot == NULL) {
            fprintf(stderr, "minzheng %s: unknown option '%s' (see --help)\n", argv[0], a);
            return 2;
        }
        if (eq)
            *slot = eq + 1;
        else if (i + 1 < argc)
            *slot = argv[++i];
        else {
            fprintf(stderr, "minzheng %s: option %s needs a value\n", argv[0], a);
            return 2;
        }
        if (**slot == '\0') {
            fprintf(stderr, "minzheng %s: option %.*s needs a non-empty value\n", argv[0],
                    (int)(len + 2), a);
            return 2;
        }
    }
    if (o->db == NULL) {
        fprintf(stderr, "minzheng %s: --db FILE is required (or set MZ_DB)\n", argv[0]);
        return 2;
    }
    return -1;
}

/* Open the database read-only and (with need_key) load the key. 0, or 2
 * after a message. */
static int audit_open(const char *command, const struct audit_opts *o, bool need_key,
                      struct mz_db **db)
{
    struct mz_db_options dbo = {.readonly = true, .create = false, .busy_timeout_ms = 5000};
    if (mz_db_open(o->db, &dbo, db) != MZ_OK) {
        fprintf(stderr, "minzheng %s: cannot open database '%s'\n", command, o->db);
        return 2;
    }
    if (!mz_db_table_exists(*db, "mz_audit")) {
        fprintf(stderr, "minzheng %s: '%s' has no audit log (run init)\n", command, o->db);
        mz_db_close(*db);
        return 2;
    }
    if (!need_key)
        return 0;
    char *path = o->key_file ? mz_xstrdup(o->key_file) : mz_crypto_default_path(o->db);
    int rc = mz_crypto_load(path, false);
    if (rc != MZ_OK) {
        fprintf(stderr, "minzheng %s: cannot load the key file '%s' (%s)\n", command, path,
                mz_err_name(rc));
        free(path);
        mz_db_close(*db);
        return 2;
    }
    free(path);
    return 0;
}

/* Read the last non-empty line of an anchor file as {seq, hash}. 0 or 2. */
static int read_anchor(const char *command, const char *path, int64_t *seq, char hash[65])
{
    FILE *f = fopen(path, "r");
    char line[1024], last[1024] = "";
    if (f == NULL) {
        fprintf(stderr, "minzheng %s: cannot read anchor file '%s'\n", command, path);
        return 2;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] != '\n' && line[0] != '\0')
            memcpy(last, line, sizeof(last));
    }
    fclose(f);
    struct mz_json_error err;
    json_t *a = mz_json_parse(last, strlen(last), &err);
    const char *h = NULL;
    if (a == NULL || mz_json_get_int(a, "seq", seq) != MZ_OK ||
        mz_json_get_str(a, "hash", &h) != MZ_OK || strlen(h) != 64) {
        fprintf(stderr, "minzheng %s: '%s' holds no anchor line\n", command, path);
        json_decref(a);
        return 2;
    }
    memcpy(hash, h, 65);
    json_decref(a);
    return 0;
}

/* Print a JSON value on stdout as one line. */
static void print_json(json_t *v)
{
    char *text = mz_json_dump(v, NULL);
    puts(text);
    free(text);
}

int mz_cmd_audit_verify(int argc, char **argv)
{
    struct audit_opts o;
    struct mz_db *db;
    struct mz_audit_check c;
    int64_t anchor_seq = 0;
    char anchor_hash[65] = "";

    int rc = audit_parse(argc, argv, true, &o);
    if (rc >= 0)
        return rc;
    if (o.anchor && read_anchor(argv[0], o.anchor, &anchor_seq, anchor_hash) != 0)
        return 2;
    if (audit_open(argv[0], &o, true, &db) != 0)
        return 2;
    rc = o.anchor ? mz_audit_verify_anchor(db, anchor_seq, anchor_hash, &c)
                  : mz_audit_verify(db, &c);
    mz_db_close(db);
    if (rc != MZ_OK) {
        fprintf(stderr, "minzheng %s: reading the audit log failed (%s)\n", argv[0],
                mz_err_name(rc));
        return 2;
    }
    json_t *out = json_object();
    json_object_set_new(out, "entries", json_integer(c.entries));
    if (c.intact) {
        json_object_set_new(out, "head", json_string(c.head_hash));
    } else {
        json_object_set_new(out, "seq", json_integer(c.bad_seq));
        json_object_set_new(out, "problem", json_string(c.problem));
        json_object_set_new(out, "message", json_string(c.message));
        fprintf(stderr, "minzheng %s: audit entry %lld: %s (%s)\n", argv[0], (long long)c.bad_seq,
                c.problem, c.message);
    }
    print_json(out);
    json_decref(out);
    return c.intact ? 0 : 1;
}

int mz_cmd_audit_anchor(int argc, char **argv)
{
    struct audit_opts o;
    struct mz_db *db;
    json_t *head = NULL;

    int rc = audit_parse(argc, argv, false, &o);
    if (rc >= 0)
        return rc;
    if (audit_open(argv[0], &o, false, &db) != 0)
        return 2;
    rc = mz_audit_head(db, &head);
    if (rc == MZ_OK && o.to != NULL)
        rc = mz_audit_anchor_write(head, o.to);
    mz_db_close(db);
    if (rc != MZ_OK) {
        fprintf(stderr, "minzheng %s: exporting the chain head failed (%s)\n", argv[0],
                mz_err_name(rc));
        json_decref(head);
        return 2;
    }
    print_json(head);
    json_decref(head);
    return 0;
}
