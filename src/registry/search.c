/* search.c - the person search index and the persons entity's ?q= search.
 *
 * What it owns: three tables beside `persons`, written only through
 * mz_person_index() (the entity's after_write hook, or a bulk loader):
 *
 *   person_search(person_id, names, pinyin, initials)
 *       one row per person: the cleaned names (name and former names, spaces
 *       and "·" removed, joined by one space), every full spelling and every
 *       initials spelling (polyphonic alternatives, joined by spaces). It is
 *       the content of person_fts and what the duplicate finder compares.
 *   person_fts  FTS5, tokenize='trigram', external content = person_search
 *       substrings of 3+ characters of a name ("雄信" needs the next table).
 *   person_key(key, person_id, division) WITHOUT ROWID
 *       exact and prefix keys of the persons not deleted, each with the
 *       person's scope division (hukou_division, its 12 digits as an integer:
 *       7 bytes a row instead of 13, same order) beside it, so that a search
 *       filters by scope and counts from this index alone; the keys are a
 *       one-letter kind and the text:
 *         c<1 or 2 characters>   every character and pair of adjacent
 *                                characters of a name (1-2 character queries;
 *                                trigram cannot, and LIKE '%x%' scans);
 *         p<full pinyin>         each spelling of the whole name and of the
 *                                given name ("pzhangsanfeng", "psanfeng");
 *         i<initials>            the same as initials ("izsf", "isf").
 *       A pinyin query is a range scan: key >= 'pzhang' AND key < 'pzhanh'.
 *
 * Invariants: a person's rows are exactly what their current names give,
 * and person_key holds them only while the person is not deleted, with the
 * person's current hukou_division (mz_person_index reads both from the
 * persons row: call it after a delete or a change of hukou_division too);
 * person_fts holds exactly person_search.names (the external-content 'delete'
 * is given the old names read back from person_search); keys are regenerated
 * from the old names to delete them, so after a change of the pinyin table
 * (unicode-data upgrade) the tables are rebuilt by re-indexing every person.
 *
 * The search (mz_person_search) decides what the text is: an ID number
 * (valid check digit, 15 digits upgraded) or a mobile number → the blind
 * index column "<field>_bidx" of the entity's searchable fields of that type;
 * Chinese → substring of a name (FTS for 3+ characters, keys for 1-2), and,
 * when Latin letters are mixed in ("张s"), the pinyin of the text too; Latin
 * letters → prefix of a full spelling or initials of the name or given name.
 * Every value is a bound parameter; the FTS5 string is one quoted phrase, so
 * no input is FTS syntax. The engine adds deleted/scope/division filters.
 *
 * Tested by tests/unit/test_search.c (200 names, every path, syntax
 * characters); measured at 1,000,000 persons (numbers in docs/benchmarks.md).
 */
#include <stdlib.h>
#include <string.h>

#include "mz/pinyin.h"
#include "mz/search.h"
#include "mz/validate.h"

#define NAMES_MAX 8          /* names indexed per person (name + former names) */
#define NAME_CHARS_MAX 32    /* characters indexed per name */
#define KEYS_MAX 512         /* index keys per person */

/* --- SQL, in one place ------------------------------------------------------ */
static const char SQL_CREATE[] =
    "CREATE TABLE IF NOT EXISTS person_search ("
    " person_id INTEGER PRIMARY KEY, names TEXT NOT NULL,"
    " pinyin TEXT NOT NULL, initials TEXT NOT NULL);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS person_fts USING fts5("
    " names, content='person_search', content_rowid='person_id', tokenize='trigram');"
    "CREATE TABLE IF NOT EXISTS person_key ("
    " key TEXT NOT NULL, person_id INTEGER NOT NULL,"
    " PRIMARY KEY (key, person_id)) WITHOUT ROWID";
static const char SQL_OLD_NAMES[] = "SELECT names FROM person_search WHERE person_id = ?";
static const char SQL_FTS_DELETE[] =
    "INSERT INTO person_fts (person_fts, rowid, names) VALUES ('delete', ?, ?)";
static const char SQL_KEY_DELETE[] = "DELETE FROM person_key WHERE key = ? AND person_id = ?";
static const char SQL_ROW_DELETE[] = "DELETE FROM person_search WHERE person_id = ?";
/* Upserts in the syntax both backends take (SQLite >= 3.24, PostgreSQL). */
static const char SQL_ROW_PUT[] =
    "INSERT INTO person_search (person_id, names, pinyin, initials) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (person_id) DO UPDATE SET names = excluded.names, pinyin = excluded.pinyin,"
    " initials = excluded.initials";
static const char SQL_FTS_PUT[] = "INSERT INTO person_fts (rowid, names) VALUES (?, ?)";
static const char SQL_KEY_PUT[] =
    "INSERT INTO person_key (key, person_id, division) VALUES (?, ?, ?) ON CONFLICT DO NOTHING";
/* What person_key should hold of a person: its keys when not deleted, with
 * its scope division; and what it holds now (one of its keys probed). */
static const char SQL_KEY_STATE[] =
    "SELECT hukou_division, CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END FROM persons WHERE id = ?";
static const char SQL_KEY_PROBE[] =
    "SELECT division FROM person_key WHERE key = ? AND person_id = ?";
/* The key layout with the division (a migration step for databases indexed
 * before it: only the keys of persons not deleted are kept). */
static const char SQL_KEY_HAS_DIVISION[] =
    "SELECT count(*) FROM pragma_table_info('person_key') WHERE name = 'division'";
static const char SQL_KEY_UPGRADE[] =
    "CREATE TABLE person_key_new ("
    " key TEXT NOT NULL, person_id INTEGER NOT NULL, division INTEGER,"
    " PRIMARY KEY (key, person_id)) WITHOUT ROWID;"
    "INSERT INTO person_key_new (key, person_id, division)"
    " SELECT k.key, k.person_id, CAST(p.hukou_division AS INTEGER) FROM person_key AS k"
    " JOIN persons AS p ON p.id = k.person_id WHERE p.deleted_at IS NULL"
    " ORDER BY k.key, k.person_id;"
    "DROP TABLE person_key;"
    "ALTER TABLE person_key_new RENAME TO person_key";
static const char SQL_KEY_HAS_DIVISION_PG[] =
    "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()"
    " AND table_name = 'person_key' AND column_name = 'division'";
static const char SQL_KEY_UPGRADE_PG[] =
    "ALTER TABLE person_key ADD COLUMN division BIGINT;"
    "DELETE FROM person_key AS k USING persons AS p"
    " WHERE p.id = k.person_id AND p.deleted_at IS NOT NULL;"
    "UPDATE person_key AS k SET division = CAST(p.hukou_division AS BIGINT) FROM persons AS p"
    " WHERE p.id = k.person_id";

/* Conditions appended to the list query (the outer table's `id` is the person). */
static const char COND_FTS[] = "id IN (SELECT rowid FROM person_fts WHERE person_fts MATCH ?)";
static const char COND_KEY[] = "id IN (SELECT person_id FROM person_key WHERE key = ?)";
static const char COND_PREFIX[] =
    "id IN (SELECT person_id FROM person_key WHERE key >= ? AND key < ?)";
static const char COND_NONE[] = "1 = 0";
/* The same on SQLite when the list needs only the first matches (depth, see
 * mz_query_depth) and has filters besides the scope (with the scope alone
 * the walks further down answer from the index): the index is walked in its order, each entry's person
 * checked against the list's own filters ({where}: deleted, scope, fields),
 * and the walk stops at the depth, so a search costs about depth row lookups
 * however many persons match ("王", "zw" among millions). An exact key and
 * the FTS walk by person id descending, the list's order, so the pages are
 * those of the whole match; a prefix walks its keys in key order (exact
 * initials before longer ones), so beyond the depth it shows those. */
static const char SUB_KEY[] =
    "id IN (SELECT k.person_id FROM person_key AS k JOIN persons ON persons.id = k.person_id"
    " WHERE {where} AND k.key = ? ORDER BY k.person_id DESC LIMIT %lld)";
static const char SUB_PREFIX[] = /* DISTINCT: spellings of one person may share a prefix */
    "id IN (SELECT DISTINCT k.person_id FROM person_key AS k JOIN persons ON persons.id = k.person_id"
    " WHERE {where} AND k.key >= ? AND k.key < ? ORDER BY k.key, k.person_id LIMIT %lld)";
static const char SUB_FTS[] =
    "id IN (SELECT person_fts.rowid FROM person_fts JOIN persons"
    " ON persons.id = person_fts.rowid WHERE {where} AND person_fts MATCH ?"
    " ORDER BY person_fts.rowid DESC LIMIT %lld)";

/* PostgreSQL (no FTS5): the same tables, and 3+ character substrings found
 * by LIKE '%...%' on person_search.names, served by a pg_trgm GIN index
 * when the extension can be created (else a scan, logged once at migration). */
static const char SQL_CREATE_PG[] =
    "CREATE TABLE IF NOT EXISTS person_search ("
    " person_id BIGINT PRIMARY KEY, names TEXT NOT NULL,"
    " pinyin TEXT NOT NULL, initials TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS person_key ("
    " key TEXT COLLATE \"C\" NOT NULL, person_id BIGINT NOT NULL,"
    " PRIMARY KEY (key, person_id))";
static const char SQL_TRGM_PG[] =
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    "CREATE INDEX IF NOT EXISTS ix_person_search_trgm ON person_search"
    " USING gin (names gin_trgm_ops)";
static const char COND_TRGM_PG[] =
    "id IN (SELECT person_id FROM person_search WHERE names LIKE ?)";

/* person_key in the layout with the division: upgraded once (idempotent). */
static int key_layout_migrate(struct mz_db *db)
{
    bool pg = mz_db_kind(db) == MZ_DB_POSTGRESQL;
    int64_t n = 0;
    int rc = mz_db_query_int(db, pg ? SQL_KEY_HAS_DIVISION_PG : SQL_KEY_HAS_DIVISION, &n, 0, NULL);
    if (rc != MZ_OK || n > 0)
        return rc;
    int64_t t0 = mz_mono_us();
    rc = mz_db_exec(db, pg ? SQL_KEY_UPGRADE_PG : SQL_KEY_UPGRADE);
    if (rc == MZ_OK)
        mz_info("person search: keys rewritten with the scope division in %.1f s",
                (double)(mz_mono_us() - t0) / 1e6);
    return rc;
}

int mz_person_search_migrate(struct mz_db *db)
{
    if (mz_db_kind(db) == MZ_DB_POSTGRESQL) {
        int rc = mz_db_exec(db, SQL_CREATE_PG);
        if (rc == MZ_OK)
            rc = key_layout_migrate(db);
        if (rc != MZ_OK)
            return rc;
        /* A failure here would abort the migration's transaction: probe first. */
        int64_t n = 0;
        if (mz_db_query_int(db, "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'",
                            &n, 0, NULL) == MZ_OK && n > 0)
            return mz_db_exec(db, SQL_TRGM_PG);
        mz_warn("person search: pg_trgm is not available; name substrings are found by a scan");
        return MZ_OK;
    }
    int rc = mz_db_exec(db, SQL_CREATE);
    return rc == MZ_OK ? key_layout_migrate(db) : rc;
}

/* --- text helpers ----------------------------------------------------------- */

/* Decode one UTF-8 character at s (s[0] != 0); its length, 0 if invalid. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    uint32_t c = s[0], min;
    size_t n;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0)
        n = 2, c &= 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        n = 3, c &= 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        n = 4, c &= 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Characters left out of names and queries: controls, spaces and ASCII
 * punctuation (no name holds them; a query's quotes or "*" are typing, not
 * part of the name), and the dots between parts of a transcribed name. */
static bool is_filler(uint32_t c)
{
    if (c < 0x80)
        return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    return c == 0xB7 /* · */ || c == 0x2022 /* • */ || c == 0x30FB /* ・ */ ||
           c == 0xFF0E /* ． */ || c == 0x3000 /* ideographic space */;
}

/* Separators between former names. */
static bool is_separator(uint32_t c)
{
    return c == ',' || c == ';' || c == '/' || c == '|' || c == ' ' || c == '\t' || c == '\n' ||
           c == 0x3001 /* 、 */ || c == 0xFF0C /* ， */ || c == 0xFF1B /* ； */ ||
           c == 0x3000;
}

/* A name or query cleaned: fillers and invalid bytes dropped, ASCII letters
 * lower-cased, at most max_chars characters. *nchars gets the count. */
static char *clean_text(struct mz_arena *a, const char *s, size_t len, size_t max_chars,
                        size_t *nchars)
{
    char *out = mz_arena_alloc(a, len + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    size_t n = 0;
    while (p < end && *p && n < max_chars) {
        uint32_t c;
        size_t l = utf8_next(p, &c);
        if (l == 0 || p + l > end) {
            p++;
            continue;
        }
        if (!is_filler(c)) {
            if (c >= 'A' && c <= 'Z')
                *o++ = (char)(c + ('a' - 'A'));
            else
                memcpy(o, p, l), o += l;
            n++;
        }
        p += l;
    }
    *o = '\0';
    *nchars = n;
    return out;
}

/* --- index keys ------------------------------------------------------------- */

/* The keys and column texts of one person under construction. */
struct person_terms {
    const char *keys[KEYS_MAX];
    size_t nkeys;
    struct mz_buf names, pinyin, initials; /* space-joined column values */
};

/* Add a key (kind letter + text) unless present or the list is full. */
static void add_key(struct mz_arena *a, struct person_terms *t, char kind, const char *text,
                    size_t len)
{
    if (len == 0)
        return;
    char *key = mz_arena_alloc(a, len + 2);
    key[0] = kind;
    memcpy(key + 1, text, len);
    key[len + 1] = '\0';
    for (size_t i = 0; i < t->nkeys; i++) {
        if (strcmp(t->keys[i], key) == 0)
            return;
    }
    if (t->nkeys < KEYS_MAX)
        t->keys[t->nkeys++] = key;
}

/* Append word to a space-joined buffer unless already a word of it. */
static void add_word(struct mz_buf *b, const char *word)
{
    size_t len = strlen(word);
    if (len == 0)
        return;
    for (const char *p = b->data; p && (p = strstr(p, word)) != NULL; p++) {
        if ((p == b->data || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
            return;
    }
    if (b->len)
        mz_buf_puts(b, " ");
    mz_buf_puts(b, word);
}

/* The spellings of text as 'p' and 'i' keys (and into the columns). */
static void add_spellings(struct mz_arena *a, struct person_terms *t, const char *text,
                          unsigned flags, bool columns)
{
    struct mz_pinyin_set set;
    mz_pinyin_spellings(a, text, flags, &set);
    for (size_t i = 0; i < set.nfull; i++) {
        add_key(a, t, 'p', set.full[i], strlen(set.full[i]));
        if (columns)
            add_word(&t->pinyin, set.full[i]);
    }
    for (size_t i = 0; i < set.ninitials; i++) {
        add_key(a, t, 'i', set.initials[i], strlen(set.initials[i]));
        if (columns)
            add_word(&t->initials, set.initials[i]);
    }
}

/* Keys of one cleaned name: characters, pairs, spellings of it and of its
 * given name (after the surname). */
static void add_name(struct mz_arena *a, struct person_terms *t, const char *name)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t prev_len = 0;
    if (*name == '\0')
        return;
    add_word(&t->names, name);
    while (*p) {
        uint32_t c;
        size_t l = utf8_next(p, &c);
        if (l == 0) /* cannot happen on cleaned text; never loop forever */
            l = 1;
        add_key(a, t, 'c', (const char *)p, l);
        if (prev_len)
            add_key(a, t, 'c', (const char *)p - prev_len, prev_len + l);
        prev_len = l;
        p += l;
    }
    add_spellings(a, t, name, MZ_PINYIN_NAME, true);
    size_t surname = mz_pinyin_surname_length(name);
    if (surname > 0 && name[surname] != '\0')
        add_spellings(a, t, name + surname, 0, false);
}

/* Split name and former names and build every key and column text. */
static void person_terms_build(struct mz_arena *a, struct person_terms *t, const char *name,
                               const char *former_names)
{
    size_t n, count = 0;
    memset(t, 0, sizeof(*t));
    mz_buf_init(&t->names, 4096);
    mz_buf_init(&t->pinyin, 8192);
    mz_buf_init(&t->initials, 4096);
    if (name) {
        add_name(a, t, clean_text(a, name, strlen(name), NAME_CHARS_MAX, &n));
        count++;
    }
    const unsigned char *p = (const unsigned char *)(former_names ? former_names : "");
    while (*p && count < NAMES_MAX) {
        const unsigned char *start = p;
        uint32_t c = 0;
        size_t l = 0;
        while (*p && ((l = utf8_next(p, &c)) == 0 || !is_separator(c)))
            p += l ? l : 1;
        if (p > start) {
            add_name(a, t, clean_text(a, (const char *)start, (size_t)(p - start),
                                      NAME_CHARS_MAX, &n));
            count++;
        }
        if (*p)
            p += l;
    }
}

/* Free the column buffers of person_terms_build. */
static void person_terms_free(struct person_terms *t)
{
    mz_buf_free(&t->names);
    mz_buf_free(&t->pinyin);
    mz_buf_free(&t->initials);
}

/* Run one prepared write statement with an id and up to three texts. */
static int run(struct mz_db *db, const char *sql, int64_t id, bool id_first, const char *s1,
               const char *s2, const char *s3)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db, sql, &st), idx = 1;
    if (rc != MZ_OK)
        return rc;
    if (id_first)
        mz_db_bind_int(st, idx++, id);
    if (s1)
        mz_db_bind_text(st, idx++, s1);
    if (s2)
        mz_db_bind_text(st, idx++, s2);
    if (s3)
        mz_db_bind_text(st, idx++, s3);
    if (!id_first)
        mz_db_bind_int(st, idx, id);
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc < 0 ? rc : MZ_OK;
}

/* A division code as person_key stores it: its 12 digits as a number (the
 * same order as the text); false for NULL or anything else (stored null,
 * outside every scope range, as a null text was). */
static bool division_number(const char *code, int64_t *out)
{
    if (code == NULL || strlen(code) != 12 || strspn(code, "0123456789") != 12)
        return false;
    *out = strtoll(code, NULL, 10);
    return true;
}

static void bind_division(struct mz_stmt *st, int idx, const char *code)
{
    int64_t v;
    if (division_number(code, &v))
        mz_db_bind_int(st, idx, v);
    else
        mz_db_bind_null(st, idx);
}

/* Write a person's keys with its division (NULL: none). */
static int put_keys(struct mz_db *db, const struct person_terms *t, int64_t id,
                    const char *division)
{
    int rc = MZ_OK;
    for (size_t i = 0; i < t->nkeys && rc == MZ_OK; i++) {
        struct mz_stmt *st;
        rc = mz_db_prepare(db, SQL_KEY_PUT, &st);
        if (rc != MZ_OK)
            break;
        mz_db_bind_text(st, 1, t->keys[i]);
        mz_db_bind_int(st, 2, id);
        bind_division(st, 3, division);
        int step = mz_db_step(st);
        mz_db_done(st);
        rc = step < 0 ? step : MZ_OK;
    }
    return rc;
}

/* Delete a person's keys (those its names give). */
static int drop_keys(struct mz_db *db, const struct person_terms *t, int64_t id)
{
    int rc = MZ_OK;
    for (size_t i = 0; i < t->nkeys && rc == MZ_OK; i++)
        rc = run(db, SQL_KEY_DELETE, id, false, t->keys[i], NULL, NULL);
    return rc;
}

/* The names indexed for a person now (arena copy), NULL if none; *rc an error. */
static char *old_names(struct mz_db *db, struct mz_arena *a, int64_t id, int *rc)
{
    struct mz_stmt *st;
    char *names = NULL;
    *rc = mz_db_prepare(db, SQL_OLD_NAMES, &st);
    if (*rc != MZ_OK)
        return NULL;
    mz_db_bind_int(st, 1, id);
    int step = mz_db_step(st);
    if (step == MZ_ROW)
        names = mz_arena_strdup(a, mz_db_col_text(st, 0) ? mz_db_col_text(st, 0) : "");
    mz_db_done(st);
    *rc = step < 0 ? step : MZ_OK;
    return names;
}

/* Delete a person's rows, given the names they were built from. */
static int delete_rows(struct mz_db *db, struct mz_arena *a, int64_t id, const char *names)
{
    struct person_terms *t = mz_arena_alloc(a, sizeof(*t));
    /* PostgreSQL has no person_fts: the trigram index follows person_search. */
    int rc = mz_db_kind(db) == MZ_DB_SQLITE ? run(db, SQL_FTS_DELETE, id, true, names, NULL, NULL)
                                            : MZ_OK;
    if (rc == MZ_OK) {
        /* The stored names are cleaned and space-joined: rebuilt like former names. */
        person_terms_build(a, t, NULL, names);
        rc = drop_keys(db, t, id);
        person_terms_free(t);
    }
    if (rc == MZ_OK)
        rc = run(db, SQL_ROW_DELETE, id, true, NULL, NULL, NULL);
    return rc;
}

/* One row of a one-row query on (text, id) or (id): *found, and column 0's
 * text (arena copy, NULL for null) and column 1's integer. */
static int probe(struct mz_db *db, struct mz_arena *a, const char *sql, const char *text,
                 int64_t id, bool *found, char **col0, int64_t *col1)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db, sql, &st), idx = 1;
    if (rc != MZ_OK)
        return rc;
    if (text)
        mz_db_bind_text(st, idx++, text);
    mz_db_bind_int(st, idx, id);
    int step = mz_db_step(st);
    *found = step == MZ_ROW;
    if (*found) {
        const char *v = mz_db_col_text(st, 0);
        *col0 = v ? mz_arena_strdup(a, v) : NULL;
        if (col1)
            *col1 = mz_db_col_int(st, 1);
    }
    mz_db_done(st);
    return step < 0 ? step : MZ_OK;
}

/* Make person_key agree with the persons row for keys whose names did not
 * change: present with the current division while the person is not
 * deleted, absent after. One key probed tells what the index holds. */
static int sync_keys(struct mz_db *db, struct mz_arena *a, const struct person_terms *t,
                     int64_t id, bool live, const char *division)
{
    if (t->nkeys == 0)
        return MZ_OK;
    bool present = false;
    char *held = NULL;
    int rc = probe(db, a, SQL_KEY_PROBE, t->keys[0], id, &present, &held, NULL);
    if (rc != MZ_OK)
        return rc;
    int64_t want = 0, have = 0;
    bool want_some = division_number(division, &want), have_some = held != NULL;
    if (held)
        have = strtoll(held, NULL, 10); /* the stored integer, read as text */
    if (present == live && (!live || (want_some == have_some && want == have)))
        return MZ_OK;
    if (present)
        rc = drop_keys(db, t, id);
    if (rc == MZ_OK && live)
        rc = put_keys(db, t, id, division);
    return rc;
}

/* mz_person_index_db; with defer non-NULL, a person not indexed before gets
 * no FTS row and *defer is set (the caller writes it later). The person's
 * liveness and scope division come from its row (none: treated as deleted). */
static int index_person(struct mz_db *db, struct mz_arena *arena, int64_t person_id,
                        const char *name, const char *former_names, bool *defer)
{
    struct person_terms *t = mz_arena_alloc(arena, sizeof(*t));
    int rc;
    char *old = old_names(db, arena, person_id, &rc);
    if (rc != MZ_OK)
        return rc;
    bool live = false;
    char *division = NULL;
    int64_t not_deleted = 0;
    rc = probe(db, arena, SQL_KEY_STATE, NULL, person_id, &live, &division, &not_deleted);
    if (rc != MZ_OK)
        return rc;
    live = live && not_deleted;
    person_terms_build(arena, t, name, former_names);
    const char *names = t->names.data ? t->names.data : "";
    if (old && strcmp(old, names) == 0) { /* names unchanged: the keys' state only */
        rc = sync_keys(db, arena, t, person_id, live, division);
        goto out;
    }
    if (old)
        rc = delete_rows(db, arena, person_id, old);
    if (rc != MZ_OK || *names == '\0')
        goto out;
    rc = run(db, SQL_ROW_PUT, person_id, true, names, t->pinyin.data ? t->pinyin.data : "",
             t->initials.data ? t->initials.data : "");
    if (defer && old == NULL)
        *defer = true;
    else if (rc == MZ_OK && mz_db_kind(db) == MZ_DB_SQLITE) /* PostgreSQL: no person_fts */
        rc = run(db, SQL_FTS_PUT, person_id, true, names, NULL, NULL);
    if (rc == MZ_OK && live)
        rc = put_keys(db, t, person_id, division);
out:
    person_terms_free(t);
    if (rc != MZ_OK)
        mz_error("person search: indexing person %lld failed: %s", (long long)person_id,
                 mz_db_errmsg(db));
    return rc;
}

int mz_person_index_db(struct mz_db *db, struct mz_arena *arena, int64_t person_id,
                       const char *name, const char *former_names)
{
    return index_person(db, arena, person_id, name, former_names, NULL);
}

/* The FTS rows put off during an import on this thread (mz_person_index_done). */
static _Thread_local int64_t deferred_lo, deferred_hi;

/* Put off person_id's FTS row. */
static void defer_fts(int64_t person_id)
{
    if (deferred_lo == 0 || person_id < deferred_lo)
        deferred_lo = person_id;
    if (person_id > deferred_hi)
        deferred_hi = person_id;
}

static int import_index_new(struct mz_req *req, int64_t person_id, const char *name,
                            const char *former_names, bool *done);
static int import_keys_done(bool keep);

int mz_person_index(struct mz_req *req, int64_t person_id, const char *name,
                    const char *former_names)
{
    if (!req->importing || mz_db_kind(req->db) != MZ_DB_SQLITE)
        return mz_person_index_db(req->db, req->arena, person_id, name, former_names);
    bool done = false, deferred = false;
    int rc = import_index_new(req, person_id, name, former_names, &done);
    if (rc != MZ_OK || done)
        return rc;
    rc = index_person(req->db, req->arena, person_id, name, former_names, &deferred);
    if (rc == MZ_OK && deferred)
        defer_fts(person_id);
    return rc;
}

int mz_person_index_done(struct mz_req *req, bool keep)
{
    int64_t lo = deferred_lo, hi = deferred_hi;
    deferred_lo = deferred_hi = 0;
    int keys_rc = import_keys_done(keep);
    if (!keep || keys_rc != MZ_OK || lo == 0)
        return keys_rc;
    return mz_db_run(req->db,
                     "INSERT INTO person_fts (rowid, names) SELECT person_id, names"
                     " FROM person_search WHERE person_id BETWEEN ? AND ?",
                     "ii", lo, hi);
}

int mz_person_unindex(struct mz_req *req, int64_t person_id)
{
    int rc;
    char *old = old_names(req->db, req->arena, person_id, &rc);
    if (rc == MZ_OK && old)
        rc = delete_rows(req->db, req->arena, person_id, old);
    return rc;
}

/* --- bulk loading ------------------------------------------------------------ */

/* One distinct key and the ids of the persons that have it (increasing when
 * persons are added in id order, which makes finish's inserts appends). */
struct bulk_key {
    char *key;
    uint32_t *ids;
    uint32_t n, cap;
    uint32_t hash; /* bulk_hash(key)'s low bits: compared before the text */
};

/* A name added by mz_person_bulk_add (without former names): its columns
 * and its keys as indexes into the bulk's keys, made once however many
 * persons bear it (a city of 14 million has some 430,000 distinct names). */
struct bulk_name {
    const char *name, *names, *pinyin, *initials;
    uint32_t *keys;
    uint32_t nkeys, hash;
};

#define BULK_DIVS 65535          /* distinct divisions (index 0: none) */
#define BULK_DIV_SLOTS 131072    /* their hash table, a power of two */

struct mz_person_bulk {
    struct mz_db *db;
    struct mz_arena *scratch;   /* per-person terms, renewed every BULK_SCRATCH persons */
    struct mz_arena *keys_text; /* the distinct keys' and names' text, kept to the end */
    struct bulk_key *keys;      /* the distinct keys, in order of first sight */
    size_t nkeys, keys_cap, since_renew;
    uint32_t *key_table;        /* open addressing: index + 1 into keys, 0 = empty */
    size_t key_slots;
    struct bulk_name *names;    /* the names of mz_person_bulk_add */
    size_t nnames, names_cap;
    uint32_t *name_table;       /* open addressing: index + 1 into names */
    size_t name_slots;
    struct mz_stmt *put_row;
    /* The keys' division: person id -> index into divs (0: none), the
     * distinct division codes interned through div_slots (indexes). */
    uint16_t *div_of;
    size_t div_cap;
    char **divs;
    int64_t *div_num; /* divs as person_key stores them; 0: null */
    size_t ndivs;
    uint16_t div_slots[BULK_DIV_SLOTS];
    bool keys_only; /* finish writes the keys, not the trigram index (import) */
};

#define BULK_SCRATCH 4096
#define BULK_ROWS 128 /* person_key rows per insert statement (384 parameters) */
static const char SQL_BULK_ROW[] =
    "INSERT INTO person_search (person_id, names, pinyin, initials) VALUES (?, ?, ?, ?)";

/* FNV-1a of a key (hash table slot). */
static uint64_t bulk_hash(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001B3ull;
    }
    return h;
}

/* A hash table of indexes (+ 1; 0 is empty) into an array of n entries,
 * with room for one more: doubled (entries rehashed from their stored hash,
 * hash_at) once half full. */
static void table_room(uint32_t **table, size_t *nslots, size_t n, const void *entries,
                       uint32_t (*hash_at)(const void *entries, size_t i))
{
    if ((n + 1) * 2 <= *nslots)
        return;
    size_t size = *nslots ? *nslots * 2 : 65536;
    uint32_t *t = mz_xcalloc(size, sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        size_t j = hash_at(entries, i) & (size - 1);
        while (t[j])
            j = (j + 1) & (size - 1);
        t[j] = (uint32_t)i + 1;
    }
    free(*table);
    *table = t;
    *nslots = size;
}

static uint32_t key_hash_at(const void *entries, size_t i)
{
    return ((const struct bulk_key *)entries)[i].hash;
}

static uint32_t name_hash_at(const void *entries, size_t i)
{
    return ((const struct bulk_name *)entries)[i].hash;
}

/* The index of key among the distinct keys, added when new. */
static uint32_t bulk_key_find(struct mz_person_bulk *b, const char *key)
{
    table_room(&b->key_table, &b->key_slots, b->nkeys, b->keys, key_hash_at);
    uint32_t h = (uint32_t)bulk_hash(key);
    size_t j = h & (b->key_slots - 1);
    for (uint32_t i; (i = b->key_table[j]) != 0; j = (j + 1) & (b->key_slots - 1)) {
        if (b->keys[i - 1].hash == h && strcmp(b->keys[i - 1].key, key) == 0)
            return i - 1;
    }
    if (b->nkeys == b->keys_cap) {
        b->keys_cap = b->keys_cap ? b->keys_cap * 2 : 32768;
        b->keys = mz_xrealloc(b->keys, b->keys_cap * sizeof(*b->keys));
    }
    struct bulk_key *k = &b->keys[b->nkeys];
    memset(k, 0, sizeof(*k));
    k->key = mz_arena_strdup(b->keys_text, key);
    k->hash = h;
    b->key_table[j] = (uint32_t)++b->nkeys;
    return (uint32_t)(b->nkeys - 1);
}

/* Record that person id has the key of index ki. */
static void bulk_key_add_id(struct mz_person_bulk *b, uint32_t ki, uint32_t id)
{
    struct bulk_key *k = &b->keys[ki];
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap + k->cap / 2 + 4 : 4;
        k->ids = mz_xrealloc(k->ids, (size_t)k->cap * sizeof(*k->ids));
    }
    k->ids[k->n++] = id;
}

/* The index of a division code (interned; 0 for NULL), or -1 when there
 * are more distinct codes than BULK_DIVS. */
static int bulk_division(struct mz_person_bulk *b, const char *code)
{
    if (code == NULL)
        return 0;
    size_t j = bulk_hash(code) & (BULK_DIV_SLOTS - 1);
    while (b->div_slots[j] && strcmp(b->divs[b->div_slots[j]], code) != 0)
        j = (j + 1) & (BULK_DIV_SLOTS - 1);
    if (b->div_slots[j])
        return b->div_slots[j];
    if (b->ndivs == BULK_DIVS)
        return -1;
    b->divs[b->ndivs] = mz_arena_strdup(b->keys_text, code);
    if (!division_number(code, &b->div_num[b->ndivs]))
        b->div_num[b->ndivs] = 0;
    b->div_slots[j] = (uint16_t)b->ndivs;
    return (int)b->ndivs++;
}

int mz_person_bulk_begin(struct mz_db *db, struct mz_person_bulk **out)
{
    struct mz_person_bulk *b = mz_xcalloc(1, sizeof(*b));
    b->db = db;
    b->scratch = mz_arena_new();
    b->keys_text = mz_arena_new();
    b->divs = mz_xcalloc(BULK_DIVS + 1, sizeof(*b->divs)); /* [0]: none */
    b->div_num = mz_xcalloc(BULK_DIVS + 1, sizeof(*b->div_num));
    b->ndivs = 1;
    int rc = mz_db_prepare_uncached(db, SQL_BULK_ROW, &b->put_row);
    if (rc != MZ_OK) {
        mz_person_bulk_abort(b);
        return rc;
    }
    *out = b;
    return MZ_OK;
}

/* A person's index terms, built apart from the writing (another thread may
 * build them: they read only the pinyin tables and the given arena). */
struct mz_person_terms {
    const char *names, *pinyin, *initials, *division;
    const char **keys;
    size_t nkeys;
};

struct mz_person_terms *mz_person_bulk_terms(struct mz_arena *a, const char *name,
                                             const char *former_names, const char *division)
{
    struct person_terms *t = mz_xmalloc(sizeof(*t)); /* 4 KB of key slots: not per person in a */
    struct mz_person_terms *out = mz_arena_alloc(a, sizeof(*out));
    person_terms_build(a, t, name, former_names);
    out->names = mz_arena_strdup(a, t->names.data ? t->names.data : "");
    out->pinyin = mz_arena_strdup(a, t->pinyin.data ? t->pinyin.data : "");
    out->initials = mz_arena_strdup(a, t->initials.data ? t->initials.data : "");
    out->division = division ? mz_arena_strdup(a, division) : NULL;
    out->nkeys = t->nkeys;
    out->keys = NULL;
    if (t->nkeys) {
        out->keys = mz_arena_alloc(a, t->nkeys * sizeof(*out->keys));
        memcpy(out->keys, t->keys, t->nkeys * sizeof(*out->keys));
    }
    person_terms_free(t);
    free(t);
    return out;
}

/* A person's search row and division (the part of an add that is not the
 * keys); MZ_DONE when the person has no name to index. */
static int bulk_person_row(struct mz_person_bulk *b, int64_t person_id, const char *names,
                           const char *pinyin, const char *initials, const char *division)
{
    if (person_id <= 0 || person_id > (int64_t)UINT32_MAX)
        return MZ_ERR_TOOBIG; /* the gathered keys hold 32-bit ids */
    if (*names == '\0')
        return MZ_DONE;
    int div = bulk_division(b, division);
    if (div < 0)
        return MZ_ERR_TOOBIG;
    if ((size_t)person_id >= b->div_cap) {
        size_t cap = b->div_cap ? b->div_cap : 1 << 20;
        while (cap <= (size_t)person_id)
            cap *= 2;
        b->div_of = mz_xrealloc(b->div_of, cap * sizeof(*b->div_of));
        memset(b->div_of + b->div_cap, 0, (cap - b->div_cap) * sizeof(*b->div_of));
        b->div_cap = cap;
    }
    b->div_of[person_id] = (uint16_t)div;
    mz_db_bind_int(b->put_row, 1, person_id);
    mz_db_bind_text(b->put_row, 2, names);
    mz_db_bind_text(b->put_row, 3, pinyin);
    mz_db_bind_text(b->put_row, 4, initials);
    int step = mz_db_step(b->put_row);
    mz_db_reset(b->put_row);
    return step < 0 ? step : MZ_OK;
}

int mz_person_bulk_add_terms(struct mz_person_bulk *b, int64_t person_id,
                             const struct mz_person_terms *t)
{
    int rc = bulk_person_row(b, person_id, t->names, t->pinyin, t->initials, t->division);
    if (rc != MZ_OK)
        return rc == MZ_DONE ? MZ_OK : rc;
    for (size_t i = 0; i < t->nkeys; i++)
        bulk_key_add_id(b, bulk_key_find(b, t->keys[i]), (uint32_t)person_id);
    return MZ_OK;
}

/* The memo entry of a name without former names in b, or NULL with *h and
 * *slot set for name_memo_add (nothing else may change b's names between
 * the two). The demo's adds and an import's share the memo. */
static struct bulk_name *name_memo_find(struct mz_person_bulk *b, const char *name, uint32_t *h,
                                        size_t *slot)
{
    table_room(&b->name_table, &b->name_slots, b->nnames, b->names, name_hash_at);
    *h = (uint32_t)bulk_hash(name);
    size_t j = *h & (b->name_slots - 1);
    for (uint32_t i; (i = b->name_table[j]) != 0; j = (j + 1) & (b->name_slots - 1)) {
        if (b->names[i - 1].hash == *h && strcmp(b->names[i - 1].name, name) == 0)
            return &b->names[i - 1];
    }
    *slot = j;
    return NULL;
}

/* A new memo entry for name (hash h, table slot from name_memo_find) with
 * the indexes of its keys from t, the name's terms; names, pinyin and
 * initials left NULL for the caller. */
static struct bulk_name *name_memo_add(struct mz_person_bulk *b, const char *name, uint32_t h,
                                       size_t slot, const struct mz_person_terms *t)
{
    if (b->nnames == b->names_cap) {
        b->names_cap = b->names_cap ? b->names_cap * 2 : 32768;
        b->names = mz_xrealloc(b->names, b->names_cap * sizeof(*b->names));
    }
    struct bulk_name *n = &b->names[b->nnames];
    n->name = mz_arena_strdup(b->keys_text, name);
    n->names = n->pinyin = n->initials = NULL;
    n->hash = h;
    n->nkeys = (uint32_t)t->nkeys;
    n->keys = mz_arena_alloc(b->keys_text, t->nkeys * sizeof(*n->keys) + 1);
    for (size_t i = 0; i < t->nkeys; i++)
        n->keys[i] = bulk_key_find(b, t->keys[i]);
    b->name_table[slot] = (uint32_t)++b->nnames;
    return n;
}

/* The terms of a name without former names, made and its keys found on
 * its first add only. */
static const struct bulk_name *bulk_name_terms(struct mz_person_bulk *b, const char *name)
{
    uint32_t h;
    size_t slot;
    struct bulk_name *n = name_memo_find(b, name, &h, &slot);
    if (n != NULL)
        return n;
    struct mz_person_terms *t = mz_person_bulk_terms(b->scratch, name, NULL, NULL);
    n = name_memo_add(b, name, h, slot, t);
    n->names = mz_arena_strdup(b->keys_text, t->names);
    n->pinyin = mz_arena_strdup(b->keys_text, t->pinyin);
    n->initials = mz_arena_strdup(b->keys_text, t->initials);
    if (++b->since_renew == BULK_SCRATCH) {
        mz_arena_free(b->scratch);
        b->scratch = mz_arena_new();
        b->since_renew = 0;
    }
    return n;
}

int mz_person_bulk_add(struct mz_person_bulk *b, int64_t person_id, const char *name,
                       const char *former_names, const char *division)
{
    if (person_id <= 0 || person_id > (int64_t)UINT32_MAX)
        return mz_person_index_db(b->db, b->scratch, person_id, name, former_names);
    if (former_names && *former_names) {
        int rc = mz_person_bulk_add_terms(
            b, person_id, mz_person_bulk_terms(b->scratch, name, former_names, division));
        if (++b->since_renew == BULK_SCRATCH) {
            mz_arena_free(b->scratch);
            b->scratch = mz_arena_new();
            b->since_renew = 0;
        }
        return rc;
    }
    const struct bulk_name *n = bulk_name_terms(b, name ? name : "");
    int rc = bulk_person_row(b, person_id, n->names, n->pinyin, n->initials, division);
    if (rc != MZ_OK)
        return rc == MZ_DONE ? MZ_OK : rc;
    for (uint32_t i = 0; i < n->nkeys; i++)
        bulk_key_add_id(b, n->keys[i], (uint32_t)person_id);
    return MZ_OK;
}

/* qsort: keys in byte order (SQLite's BINARY collation). */
static int bulk_key_cmp(const void *x, const void *y)
{
    return strcmp(((const struct bulk_key *)x)->key, ((const struct bulk_key *)y)->key);
}

/* qsort: ids ascending. */
static int bulk_id_cmp(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;
    return a < c ? -1 : a > c;
}

/* Bind person id's division (as gathered by add) at idx. */
static void bulk_bind_division(struct mz_person_bulk *b, struct mz_stmt *st, int idx, uint32_t id)
{
    int64_t v = b->div_num[b->div_of[id]];
    if (v)
        mz_db_bind_int(st, idx, v);
    else
        mz_db_bind_null(st, idx);
}

/* Insert BULK_ROWS person_key rows with one step of st: rows of keys[r]
 * (st: "(?, ?, ?)" per row), or all of key (st: "(?1, ?n, ?n+1)" per row:
 * the key bound once); ids[r] with their gathered divisions. */
static int bulk_put_rows(struct mz_person_bulk *b, struct mz_stmt *st, const char *key,
                         const char *const *keys, const uint32_t *ids)
{
    /* The divisions first, in a loop of independent loads: div_of is
     * indexed by person id (28 MB at 14 million persons), so these are
     * cache misses that then overlap instead of waiting one by one between
     * the binds (they were most of this function's time). */
    uint16_t dv[BULK_ROWS];
    for (int r = 0; r < BULK_ROWS; r++)
        dv[r] = b->div_of[ids[r]];
    int idx = 1;
    if (key)
        mz_db_bind_text(st, idx++, key);
    for (int r = 0; r < BULK_ROWS; r++) {
        if (!key)
            mz_db_bind_text(st, idx++, keys[r]);
        mz_db_bind_int(st, idx++, ids[r]);
        int64_t v = b->div_num[dv[r]];
        if (v)
            mz_db_bind_int(st, idx++, v);
        else
            mz_db_bind_null(st, idx++);
    }
    int step = mz_db_step(st);
    mz_db_reset(st);
    return step < 0 ? step : MZ_OK;
}

int mz_person_bulk_write_keys(struct mz_person_bulk *b, struct mz_db *db)
{
    /* Sort the distinct keys: they then go in in the order of person_key's
     * primary key, each insert an append. */
    int64_t t0 = mz_mono_us();
    size_t n = b->nkeys;
    if (n == 0)
        return MZ_OK;
    qsort(b->keys, n, sizeof(*b->keys), bulk_key_cmp);
    /* Rows go in BULK_ROWS at a time (one statement step per BULK_ROWS
     * rows: a third of the time of a step per row), the rest one by one;
     * a key's run of BULK_ROWS ids (most rows: a key has ~330 persons on
     * average at 14 million) with the key bound once. */
    struct mz_stmt *many = NULL, *same = NULL, *one = NULL;
    struct mz_buf sql;
    mz_buf_init(&sql, 0);
    mz_buf_puts(&sql, "INSERT INTO person_key (key, person_id, division) VALUES (?, ?, ?)");
    for (int i = 1; i < BULK_ROWS; i++)
        mz_buf_puts(&sql, ", (?, ?, ?)");
    mz_buf_puts(&sql, " ON CONFLICT DO NOTHING");
    int rc = mz_db_prepare_uncached(db, sql.data, &many);
    mz_buf_reset(&sql);
    mz_buf_puts(&sql, "INSERT INTO person_key (key, person_id, division) VALUES (?1, ?2, ?3)");
    for (int i = 1; i < BULK_ROWS; i++)
        mz_buf_printf(&sql, ", (?1, ?%d, ?%d)", 2 + 2 * i, 3 + 2 * i);
    mz_buf_puts(&sql, " ON CONFLICT DO NOTHING");
    if (rc == MZ_OK)
        rc = mz_db_prepare_uncached(db, sql.data, &same);
    mz_buf_free(&sql);
    if (rc == MZ_OK)
        rc = mz_db_prepare_uncached(db, SQL_KEY_PUT, &one);
    const char *pkey[BULK_ROWS];
    uint32_t pid[BULK_ROWS];
    int pending = 0;
    for (size_t i = 0; rc == MZ_OK && i < n; i++) {
        struct bulk_key *k = &b->keys[i];
        bool sorted = true;
        for (uint32_t j = 1; sorted && j < k->n; j++)
            sorted = k->ids[j - 1] < k->ids[j];
        if (!sorted)
            qsort(k->ids, k->n, sizeof(*k->ids), bulk_id_cmp);
        uint32_t j = 0;
        while (rc == MZ_OK && j < k->n) {
            if (pending == 0 && k->n - j >= BULK_ROWS) {
                rc = bulk_put_rows(b, same, k->key, NULL, k->ids + j);
                j += BULK_ROWS;
                continue;
            }
            pkey[pending] = k->key; /* the keys' text lives to the end */
            pid[pending++] = k->ids[j++];
            if (pending == BULK_ROWS) {
                rc = bulk_put_rows(b, many, NULL, pkey, pid);
                pending = 0;
            }
        }
        free(k->ids);
        k->ids = NULL;
    }
    for (int r = 0; rc == MZ_OK && r < pending; r++) {
        mz_db_bind_text(one, 1, pkey[r]);
        mz_db_bind_int(one, 2, pid[r]);
        bulk_bind_division(b, one, 3, pid[r]);
        int step = mz_db_step(one);
        mz_db_reset(one);
        rc = step < 0 ? step : MZ_OK;
    }
    if (many)
        mz_db_finalize(many);
    if (same)
        mz_db_finalize(same);
    if (one)
        mz_db_finalize(one);
    /* Written (or failed): the gathered keys are freed now. */
    for (size_t i = 0; i < n; i++)
        free(b->keys[i].ids);
    free(b->keys);
    free(b->key_table);
    b->keys = NULL;
    b->key_table = NULL;
    b->nkeys = b->keys_cap = b->key_slots = 0;
    mz_info("person search: %zu distinct keys written in %.1f s", n,
            (double)(mz_mono_us() - t0) / 1e6);
    if (rc != MZ_OK)
        mz_error("person search: bulk keys failed: %s", mz_db_errmsg(db));
    return rc;
}

int mz_person_bulk_finish(struct mz_person_bulk *b)
{
    int rc = mz_person_bulk_write_keys(b, b->db);
    int64_t t1 = mz_mono_us();
    /* The trigram index from person_search in one pass. */
    if (rc == MZ_OK && !b->keys_only && mz_db_kind(b->db) == MZ_DB_SQLITE) { /* PG: GIN follows */
        rc = mz_db_exec(b->db, "INSERT INTO person_fts (person_fts) VALUES ('rebuild')");
        mz_info("person search: trigram index %.1f s", (double)(mz_mono_us() - t1) / 1e6);
        if (rc != MZ_OK)
            mz_error("person search: bulk index failed: %s", mz_db_errmsg(b->db));
    }
    mz_person_bulk_abort(b);
    return rc;
}

void mz_person_bulk_abort(struct mz_person_bulk *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->nkeys; i++)
        free(b->keys[i].ids);
    free(b->keys);
    free(b->key_table);
    free(b->names);
    free(b->name_table);
    free(b->div_of);
    free(b->divs);
    free(b->div_num);
    if (b->put_row)
        mz_db_finalize(b->put_row);
    mz_arena_free(b->scratch);
    mz_arena_free(b->keys_text);
    free(b);
}

/* --- walks: the matches found here, for a list filtered by scope only ------
 *
 * When the list's filters are only "not deleted" and the caller's scope
 * (mz_query_scope_only) the matches come from the index alone: person_key
 * holds only persons not deleted, with their scope division beside each
 * key, so a walk tests the scope on the index entry and never reads a
 * persons row. Each walk runs once and hands its ids to the list
 * (mz_query_set_ids), which counts them and reads only the page's rows.
 * The FTS index has no division: its walk joins persons (3+ character
 * names, few matches). The same matches as the SUB_* forms: an exact key
 * and the FTS the depth highest ids, a prefix the first depth distinct
 * persons in key order. */

/* The ids found so far, and a set of them for a prefix walk's DISTINCT. */
struct found {
    int64_t *ids;
    size_t n, cap;
    int64_t *set; /* open addressing, 0 = empty; nset slots, a power of two */
    size_t nset, inset;
};

static void found_push(struct found *f, int64_t id)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 1024;
        f->ids = mz_xrealloc(f->ids, f->cap * sizeof(*f->ids));
    }
    f->ids[f->n++] = id;
}

/* Add id to the set; false when it was there already. */
static bool found_once(struct found *f, int64_t id)
{
    if ((f->inset + 1) * 2 > f->nset) {
        size_t n = f->nset ? f->nset * 2 : 4096;
        int64_t *set = mz_xcalloc(n, sizeof(*set));
        for (size_t i = 0; i < f->nset; i++) {
            if (f->set[i] == 0)
                continue;
            size_t j = ((uint64_t)f->set[i] * 0x9E3779B97F4A7C15ull) >> 20 & (n - 1);
            while (set[j])
                j = (j + 1) & (n - 1);
            set[j] = f->set[i];
        }
        free(f->set);
        f->set = set;
        f->nset = n;
    }
    size_t j = ((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 20 & (f->nset - 1);
    while (f->set[j] && f->set[j] != id)
        j = (j + 1) & (f->nset - 1);
    if (f->set[j])
        return false;
    f->set[j] = id;
    f->inset++;
    return true;
}

static void found_free(struct found *f)
{
    free(f->ids);
    free(f->set);
}

/* Run a walk statement: params texts in order (NULL entries skipped), the
 * scope range as numbers when range, then the limit when limit > 0; each
 * first-column id pushed, distinct ones only when distinct (and then at
 * most max of them). */
static int walk(struct mz_db *db, const char *sql, const char *const *params, int nparams,
                const int64_t *range, long long limit, bool distinct, long long max,
                struct found *f)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db, sql, &st), idx = 1;
    if (rc != MZ_OK)
        return rc;
    for (int i = 0; i < nparams; i++) {
        if (params[i])
            mz_db_bind_text(st, idx++, params[i]);
    }
    for (int i = 0; range && i < 2; i++)
        mz_db_bind_int(st, idx++, range[i]);
    if (limit > 0)
        mz_db_bind_int(st, idx, limit);
    long long got = 0;
    if (distinct) {
        free(f->set);
        f->set = NULL;
        f->nset = f->inset = 0;
    }
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        int64_t id = mz_db_col_int(st, 0);
        if (distinct && !found_once(f, id))
            continue;
        found_push(f, id);
        if (distinct && ++got >= max)
            break;
    }
    mz_db_done(st);
    return rc < 0 ? rc : MZ_OK;
}

/* Statements of the walks, with and without the scope range. */
static const char WALK_KEY[] =
    "SELECT person_id FROM person_key WHERE key = ? ORDER BY person_id DESC LIMIT ?";
static const char WALK_KEY_SCOPE[] =
    "SELECT person_id FROM person_key WHERE key = ? AND division >= ? AND division < ?"
    " ORDER BY person_id DESC LIMIT ?";
static const char WALK_PREFIX[] =
    "SELECT person_id FROM person_key WHERE key >= ? AND key < ? ORDER BY key, person_id";
static const char WALK_PREFIX_SCOPE[] =
    "SELECT person_id FROM person_key WHERE key >= ? AND key < ?"
    " AND division >= ? AND division < ? ORDER BY key, person_id";
static const char WALK_FTS[] =
    "SELECT person_fts.rowid FROM person_fts JOIN persons ON persons.id = person_fts.rowid"
    " WHERE person_fts MATCH ? AND persons.deleted_at IS NULL"
    " ORDER BY person_fts.rowid DESC LIMIT ?";
static const char WALK_FTS_SCOPE[] = /* "+": the FTS drives, not a city-wide range */
    "SELECT person_fts.rowid FROM person_fts JOIN persons ON persons.id = person_fts.rowid"
    " WHERE person_fts MATCH ? AND persons.deleted_at IS NULL"
    " AND +persons.hukou_division >= ? AND +persons.hukou_division < ?"
    " ORDER BY person_fts.rowid DESC LIMIT ?";
/* PostgreSQL's walk for 3+ characters: the trigram-indexed LIKE on
 * person_search (see COND_TRGM_PG) in place of FTS5, the same matches. */
static const char WALK_TRGM_PG[] =
    "SELECT s.person_id FROM person_search AS s JOIN persons ON persons.id = s.person_id"
    " WHERE s.names LIKE ? AND persons.deleted_at IS NULL"
    " ORDER BY s.person_id DESC LIMIT ?";
static const char WALK_TRGM_PG_SCOPE[] =
    "SELECT s.person_id FROM person_search AS s JOIN persons ON persons.id = s.person_id"
    " WHERE s.names LIKE ? AND persons.deleted_at IS NULL"
    " AND persons.hukou_division >= ? AND persons.hukou_division < ?"
    " ORDER BY s.person_id DESC LIMIT ?";
/* --- import: keys in key order ----------------------------------------------- */

/* A person's terms built ahead on the import's helper thread, and the names
 * they were built from. */
struct import_memo {
    const void *tag; /* &import_memo_tag: an import_pre->hook of this file */
    const char *name, *former_names;
    struct mz_person_terms *terms;
};
static const char import_memo_tag = 't';

void *mz_person_import_prepare(struct mz_arena *a, const char *name, const char *former_names)
{
    struct import_memo *m = mz_arena_alloc(a, sizeof(*m));
    m->tag = &import_memo_tag;
    m->name = name ? mz_arena_strdup(a, name) : NULL;
    m->former_names = former_names ? mz_arena_strdup(a, former_names) : NULL;
    m->terms = mz_person_bulk_terms(a, name, former_names, NULL); /* division: at the write */
    return m;
}

/* Both NULL or equal. */
static bool same_text(const char *x, const char *y)
{
    return x == y || (x && y && strcmp(x, y) == 0);
}

/* The row's terms: built ahead when they match its names, else now. */
static struct mz_person_terms *import_terms(struct mz_req *req, const char *name,
                                            const char *former_names)
{
    const struct import_memo *m = req->import_pre ? req->import_pre->hook : NULL;
    if (m && m->tag == &import_memo_tag && same_text(m->name, name) &&
        same_text(m->former_names, former_names))
        return m->terms;
    return mz_person_bulk_terms(req->arena, name, former_names, NULL);
}

/* An import's person_key rows, gathered (mz_person_bulk without its trigram
 * rebuild) and written sorted by key every IMPORT_KEYS_PERSONS persons and
 * at the end: ~10 keys a person inserted at random places of a large index
 * cost an index seek each, the same keys in key order land on neighbouring
 * pages (and go 128 rows per statement). Bounded memory: one batch's keys
 * (~9.4 million keys: the peak of a 1,000,000-person import is ~45 MB
 * higher than with batches of 262,144). Each batch after the first is
 * merged into the whole of person_key (a batch's keys land on nearly every
 * leaf page), so the batches are large: with 32,768 persons a 1,000,000-person import
 * rewrote the index 30 times (14 s), with 262,144 four times (8-10 s of the
 * request's thread in all); an Excel sheet's 1,048,576 rows are one batch,
 * written once into the index in key order (4.3 s at a million). */
#define IMPORT_KEYS_PERSONS 1048576
static _Thread_local struct mz_person_bulk *import_keys;
static _Thread_local size_t import_keys_persons;

/* The keys of a name without former names as indexes into b's keys, found
 * on the name's first sight only (from t, its terms): an import's file
 * repeats names (the bench's file of 1,000,000 persons has 188,333 distinct
 * ones), and each key found costs a hash and a probe of a ~180,000-key
 * table. The terms of such a name depend on the name alone. */
static const struct bulk_name *import_name_keys(struct mz_person_bulk *b, const char *name,
                                                const struct mz_person_terms *t)
{
    uint32_t h;
    size_t slot;
    const struct bulk_name *n = name_memo_find(b, name, &h, &slot);
    /* (names, pinyin and initials stay NULL: the person's own terms give them) */
    return n != NULL ? n : name_memo_add(b, name, h, slot, t);
}

/* mz_person_bulk_add_terms for an import's person of the given names (those
 * t was built from): the same rows, the keys of a name without former names
 * found once per batch (import_name_keys). */
static int import_add_terms(struct mz_person_bulk *b, int64_t person_id, const char *name,
                            const char *former_names, const struct mz_person_terms *t)
{
    if (name == NULL || (former_names && *former_names))
        return mz_person_bulk_add_terms(b, person_id, t);
    int rc = bulk_person_row(b, person_id, t->names, t->pinyin, t->initials, t->division);
    if (rc != MZ_OK)
        return rc == MZ_DONE ? MZ_OK : rc;
    const struct bulk_name *n = import_name_keys(b, name, t);
    for (uint32_t i = 0; i < n->nkeys; i++)
        bulk_key_add_id(b, n->keys[i], (uint32_t)person_id);
    return MZ_OK;
}

/* Index a person new to the index through import_keys; *done false when the
 * person is not new (or its id does not fit the bulk's), for index_person. */
static int import_index_new(struct mz_req *req, int64_t person_id, const char *name,
                            const char *former_names, bool *done)
{
    int rc;
    *done = false;
    if (person_id <= 0 || person_id > (int64_t)UINT32_MAX ||
        old_names(req->db, req->arena, person_id, &rc) != NULL || rc != MZ_OK)
        return rc;
    if (import_keys == NULL) {
        if ((rc = mz_person_bulk_begin(req->db, &import_keys)) != MZ_OK)
            return rc;
        import_keys->keys_only = true; /* finish: no trigram rebuild */
    }
    /* The keys carry the scope division and only live persons have them
     * (index_person reads the same from the row). */
    bool found = false;
    char *division = NULL;
    int64_t not_deleted = 0;
    rc = probe(req->db, req->arena, SQL_KEY_STATE, NULL, person_id, &found, &division,
               &not_deleted);
    if (rc != MZ_OK || !found || !not_deleted)
        return rc; /* *done false: index_person decides */
    struct mz_person_terms *t = import_terms(req, name, former_names);
    t->division = division; /* the terms built ahead know no division */
    if ((rc = import_add_terms(import_keys, person_id, name, former_names, t)) != MZ_OK)
        return rc;
    *done = true;
    if (*t->names != '\0')
        defer_fts(person_id);
    if (++import_keys_persons < IMPORT_KEYS_PERSONS)
        return MZ_OK;
    import_keys_persons = 0;
    rc = mz_person_bulk_finish(import_keys);
    import_keys = NULL;
    return rc;
}

/* End of an import: write the gathered keys (keep) or drop them. */
static int import_keys_done(bool keep)
{
    struct mz_person_bulk *keys = import_keys;
    import_keys = NULL;
    import_keys_persons = 0;
    if (keys == NULL)
        return MZ_OK;
    if (keep)
        return mz_person_bulk_finish(keys);
    mz_person_bulk_abort(keys);
    return MZ_OK;
}

/* --- search ----------------------------------------------------------------- */

/* A condition under construction: SQL text joined by OR, and its parameters. */
struct cond {
    struct mz_buf sql;
    const char *params[8];
    int nparams;
    struct mz_arena *arena;
    long long depth; /* > 0: the early-stopping forms (SUB_*) */
    /* Walks instead of conditions (see "walks" above): the scope range
     * (NULL: none), the ids found, the first error. */
    bool walk;
    const char *lo, *hi;
    int64_t range[2]; /* lo and hi as person_key's numbers */
    struct found found;
    int rc;
};

/* Walk person_key for an exact key. */
static void walk_key(struct mz_db *db, struct cond *c, const char *key)
{
    const char *p[] = {key};
    if (c->rc == MZ_OK)
        c->rc = walk(db, c->lo ? WALK_KEY_SCOPE : WALK_KEY, p, 1, c->lo ? c->range : NULL,
                     c->depth, false, 0, &c->found);
}

/* The condition text for a key or FTS match: the early-stopping form when
 * the list has a depth, else the plain one. */
static const char *cond_form(struct cond *c, const char *sub, const char *plain)
{
    return c->depth > 0 ? mz_arena_printf(c->arena, sub, c->depth) : plain;
}

/* OR one condition with its parameters into c. */
static void cond_or(struct cond *c, const char *sql, const char *p1, const char *p2)
{
    if (c->sql.len)
        mz_buf_puts(&c->sql, " OR ");
    mz_buf_puts(&c->sql, sql);
    if (p1 && c->nparams < (int)MZ_ARRAY_LEN(c->params))
        c->params[c->nparams++] = p1;
    if (p2 && c->nparams < (int)MZ_ARRAY_LEN(c->params))
        c->params[c->nparams++] = p2;
}

/* Keys starting with kind+prefix: [lo, hi) with hi the prefix's successor
 * (the text is [a-z0-9], so bumping the last byte cannot overflow). */
static void cond_prefix(struct mz_db *db, struct mz_arena *a, struct cond *c, char kind,
                        const char *prefix)
{
    char *lo = mz_arena_printf(a, "%c%s", kind, prefix);
    char *hi = mz_arena_strdup(a, lo);
    hi[strlen(hi) - 1]++;
    if (c->walk) {
        const char *p[] = {lo, hi};
        if (c->rc == MZ_OK)
            c->rc = walk(db, c->lo ? WALK_PREFIX_SCOPE : WALK_PREFIX, p, 2,
                         c->lo ? c->range : NULL, 0, true, c->depth, &c->found);
        return;
    }
    cond_or(c, cond_form(c, SUB_PREFIX, COND_PREFIX), lo, hi);
}

/* The blind-index (or plain) equality for every searchable field of a type. */
static void cond_fields(struct mz_req *req, const struct mz_entity *e, struct cond *c,
                        enum mz_ftype type, const char *value)
{
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        if (f->type != type || !(f->flags & MZ_F_SEARCHABLE))
            continue;
        if (f->flags & MZ_F_SENSITIVE)
            cond_or(c, mz_arena_printf(req->arena, "%s_bidx = ?", f->name),
                    mz_field_blind(req, e, f, value), NULL);
        else
            cond_or(c, mz_arena_printf(req->arena, "%s = ?", f->name), value, NULL);
    }
}

/* Text made of digits and phone/ID punctuation only (and at least one digit). */
static bool looks_numeric(const char *s)
{
    bool digit = false;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            digit = true;
        else if (!strchr("xX+- ", *s))
            return false;
    }
    return digit;
}

/* The [a-z0-9] letters of text, lower-cased (pinyin query). */
static char *latin_only(struct mz_arena *a, const char *s)
{
    char *out = mz_arena_alloc(a, strlen(s) + 1), *o = out;
    for (; *s; s++) {
        char ch = *s;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + ('a' - 'A'));
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
            *o++ = ch;
    }
    *o = '\0';
    return out;
}

/* An FTS5 phrase for text: wrapped in double quotes, inner quotes doubled. */
static char *fts_phrase(struct mz_arena *a, const char *text)
{
    char *out = mz_arena_alloc(a, strlen(text) * 2 + 3), *o = out;
    *o++ = '"';
    for (; *text; text++) {
        if (*text == '"')
            *o++ = '"';
        *o++ = *text;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

int mz_person_search(struct mz_req *req, const struct mz_entity *e, const char *text,
                     struct mz_query *q)
{
    struct mz_arena *a = req->arena;
    struct cond c = {.nparams = 0, .arena = a};
    int status = 0;
    bool pg = mz_db_kind(req->db) == MZ_DB_POSTGRESQL;
    c.depth = (long long)mz_query_depth(q);
    /* A list filtered by scope only: walks (numbers keep their conditions). */
    c.walk = c.depth > 0 && !looks_numeric(text) && mz_query_scope_only(q, &c.lo, &c.hi);
    if (c.walk && c.lo && !(division_number(c.lo, &c.range[0]) && division_number(c.hi, &c.range[1])))
        c.walk = false; /* not a range of codes: the conditions compare the text */
    /* PostgreSQL walks too, but keeps the plain conditions otherwise: SUB_FTS
     * is FTS5's and SUB_PREFIX orders a DISTINCT by a column it does not
     * select, which PostgreSQL refuses. */
    if (pg && !c.walk)
        c.depth = 0;
    mz_buf_init(&c.sql, 4096);

    if (looks_numeric(text)) {
        struct mz_id_info id;
        char phone[12];
        char *digits = mz_arena_alloc(a, strlen(text) + 1), *d = digits;
        for (const char *s = text; *s; s++) {
            if (*s != ' ' && *s != '-')
                *d++ = *s;
        }
        *d = '\0';
        if ((strlen(digits) == 18 || strlen(digits) == 15) &&
            mz_id_check(digits, NULL, &id, NULL) == MZ_OK)
            cond_fields(req, e, &c, MZ_T_IDNUM, mz_arena_strdup(a, id.number));
        if (mz_phone_check(text, phone, NULL) == MZ_OK)
            cond_fields(req, e, &c, MZ_T_PHONE, mz_arena_strdup(a, phone));
    } else {
        bool wide = false, latin = false;
        for (const char *s = text; *s; s++) {
            wide |= (unsigned char)*s >= 0x80;
            latin |= (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z');
        }
        if (wide) {
            size_t n;
            char *clean = clean_text(a, text, strlen(text), 100, &n);
            if (n >= 3 && c.walk) {
                const char *p[] = {pg ? mz_arena_printf(a, "%%%s%%", clean) : fts_phrase(a, clean),
                                   c.lo, c.hi};
                const char *sql = pg ? (c.lo ? WALK_TRGM_PG_SCOPE : WALK_TRGM_PG)
                                     : (c.lo ? WALK_FTS_SCOPE : WALK_FTS);
                if (c.rc == MZ_OK)
                    c.rc = walk(req->db, sql, p, 3, NULL, c.depth, false, 0, &c.found);
            } else if (n >= 3)
                cond_or(&c,
                        mz_db_kind(req->db) == MZ_DB_SQLITE ? cond_form(&c, SUB_FTS, COND_FTS)
                                                            : COND_TRGM_PG,
                        mz_db_kind(req->db) == MZ_DB_SQLITE ? fts_phrase(a, clean)
                                                            : mz_arena_printf(a, "%%%s%%", clean),
                        NULL);
            else if (n > 0 && c.walk)
                walk_key(req->db, &c, mz_arena_printf(a, "c%s", clean));
            else if (n > 0)
                cond_or(&c, cond_form(&c, SUB_KEY, COND_KEY), mz_arena_printf(a, "c%s", clean),
                        NULL);
            if (latin) { /* "张s": the pinyin of what was typed */
                const char *full = mz_pinyin_full(a, clean);
                if (*full)
                    cond_prefix(req->db, a, &c, 'p', full);
            }
        } else {
            const char *letters = latin_only(a, text);
            if (*letters) {
                cond_prefix(req->db, a, &c, 'p', letters);
                cond_prefix(req->db, a, &c, 'i', letters);
            }
        }
    }
    if (c.walk) {
        int rc = c.rc == MZ_OK ? mz_query_set_ids(q, c.found.ids, c.found.n) : c.rc;
        if (rc != MZ_OK)
            status = mz_fail_err(req, rc);
        found_free(&c.found);
        mz_buf_free(&c.sql);
        return status;
    }
    if (c.sql.len == 0)
        cond_or(&c, COND_NONE, NULL, NULL);
    int rc = mz_query_add_sub(q, c.sql.data, c.nparams, c.params);
    if (rc != MZ_OK)
        status = mz_fail(req, 400, "bad_filter", "查询条件过多");
    mz_buf_free(&c.sql);
    return status;
}
