/* registry.h - the registry (基础数据): divisions with history, dictionaries,
 * persons, households, organisations, and the synthetic demo city.
 *
 * Other modules read the registry through these functions (never through
 * its tables' SQL): division names and successors, which resolve retired
 * GB/T 2260 codes (120225 蓟县 -> 120119 蓟州区) so records dated before a
 * boundary change still validate and display today's division.
 * The data model is described in docs/registry.md.
 */
#ifndef MZ_REGISTRY_H
#define MZ_REGISTRY_H

#include "mz/engine.h"

extern const struct mz_module mz_module_registry;

/* The registry's dictionaries (version 1 of each, national codes). */
extern const struct mz_dict *const mz_registry_dicts[];
extern const size_t mz_registry_ndicts;

/* --- divisions ----------------------------------------------------------------- */
/* A division record as the divisions endpoint shows it. */
struct mz_division {
    char code[13];        /* 12 digits */
    char name[96];
    int level;            /* 1 province .. 5 community (mz_division_level) */
    char valid_from[11];  /* YYYY-MM-DD */
    char valid_to[11];    /* "" while in force; exclusive end date otherwise */
};

/* The significant part of a 12-digit code: 6 digits for levels 1-3, 9 for
 * streets, 12 for communities (into out[13]). */
void mz_division_short(const char *code12, char out[13]);

/* Look a code (6, 9 or 12 digits) up; at (YYYY-MM-DD) NULL means any time,
 * preferring the record in force today. MZ_ERR_NOTFOUND if absent. */
int mz_division_get(struct mz_db *db, const char *code, const char *at, struct mz_division *out);

/* Follow the change records from a code to the division that replaced it,
 * repeatedly (120107 -> 120116; 120225 -> 120119): the final code (12 digits)
 * into out[13]. A code with no change record is its own successor. For codes
 * below a retired district (9 or 12 digits under 120225) the district's
 * successor is given with the rest of the code unchanged when that code
 * exists, else the successor district itself. */
int mz_division_successor(struct mz_db *db, const char *code, char out[13]);

/* What a response shows beside a division code: its name (mz_division_get
 * with at NULL) and, when it was retired, today's successor with its name. */
struct mz_division_names {
    bool found;              /* the code is in the registry: name is set */
    char name[96];
    bool moved;              /* the successor differs from the code */
    char current[13];        /* the successor (12 digits) when moved */
    bool current_found;      /* the successor is in the registry */
    char current_name[96];
};

/* mz_division_names for a code, from a per-thread cache of the answers (the
 * registry has a few thousand codes and changes rarely; a GET of a person
 * asked the database six or more statements for its two divisions). An
 * answer is reused for at most MZ_DIVISION_CACHE_TTL_MS unless a fingerprint
 * of division_codes and division_changes (rows, highest id, sum of versions,
 * latest update) is unchanged then, and never after a write to either table
 * through this process (their after_write hooks call mz_division_cache_drop)
 * nor inside a transaction: another server's edit of the registry shows here
 * within that time. */
#define MZ_DIVISION_CACHE_TTL_MS 5000
int mz_division_names(struct mz_db *db, const char *code, struct mz_division_names *out);
/* Drop every thread's cached division answers (they reload on next use). */
void mz_division_cache_drop(void);

/* Is code (12 digits) acceptable as a record's division? Yes if the exact
 * code is in the registry at any time, or if its district is a retired one
 * (whose streets and communities the registry does not list). */
bool mz_division_acceptable(struct mz_db *db, const char *code12);

/* --- demo city ------------------------------------------------------------------- */
struct mz_demo_options {
    int64_t persons;       /* how many (default 100000) */
    uint64_t seed;         /* PRNG seed: same seed, same data */
    bool dry_run;          /* generate and checksum only, write nothing */
    /* Work for the generator thread once its own is done, while the
     * writer thread still works (called until it returns false or the
     * writer has finished; NULL: none): the demo accounts' password
     * hashes (src/cli/cmd_demo.c). */
    bool (*spare_work)(void);
};

struct mz_demo_summary {
    int64_t persons, households, members, deceased, separated, disabled;
    double seconds;
    uint64_t checksum;     /* FNV-1a over every generated row (determinism) */
};

/* Generate the synthetic Tianjin into db (already migrated). Streams: memory
 * does not grow with the number of persons. */
int mz_registry_demo(struct mz_app *app, struct mz_db *db, const struct mz_demo_options *o,
                     struct mz_demo_summary *out);

#endif
