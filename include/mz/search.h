/* search.h - person search: the index and the persons entity's ?q= hook.
 *
 * Staff find a person by a piece of the name in Chinese (any length, former
 * names too), by full pinyin or its prefix ("zhangsan", "zhang", "sanfeng"),
 * by initials ("zs"), by an exact ID number or mobile number (through the
 * blind index of the sealed column). The index lives in three tables beside
 * the persons table (see src/registry/search.c); the entity's after_write
 * hook keeps it current with mz_person_index().
 */
#ifndef MZ_SEARCH_H
#define MZ_SEARCH_H

#include "mz/engine.h"

/* Create the index tables if they do not exist (idempotent): usable as a
 * migration step, {.number = N, .name = "person search", .fn = mz_person_search_migrate}.
 * SQLite only (FTS5 trigram); MZ_ERR_INTERNAL on another backend. */
int mz_person_search_migrate(struct mz_db *db);

/* (Re)write the index rows of one person from its name and former names
 * (several, separated by commas, 、, ；, / or spaces; either may be NULL).
 * The keys also carry the person's hukou_division and exist only while it is
 * not deleted, both read from its persons row: call it after a delete or a
 * change of hukou_division too (cheap when nothing changed). Call inside
 * the write transaction (after_write). 0 or an mz_err. */
int mz_person_index(struct mz_req *req, int64_t person_id, const char *name,
                    const char *former_names);
/* During an import (req->importing, SQLite) mz_person_index puts the FTS
 * rows off: it notes the range of person ids indexed, and import_done
 * writes their FTS rows from person_search in one statement (keep) or
 * forgets them (the rows were rolled back). One FTS segment for the import
 * instead of one per person (each statement journal of the next row made
 * FTS5 flush the one pending row). */
int mz_person_index_done(struct mz_req *req, bool keep);
/* Also during such an import: a new person's person_key rows are gathered
 * and written in key order every 262,144 persons and by import_done (keep).
 * The terms of a row may be built ahead on the import's helper thread:
 * mz_person_import_prepare (the persons entity's import_prepare hook) makes
 * them in a, and mz_person_index uses them when the row's names are the
 * ones they were built from. */
void *mz_person_import_prepare(struct mz_arena *a, const char *name, const char *former_names);
/* The same on a bare connection, for bulk loads (demo, import); arena is
 * scratch memory the caller frees or reuses. */
int mz_person_index_db(struct mz_db *db, struct mz_arena *arena, int64_t person_id,
                       const char *name, const char *former_names);
/* Bulk loading (minzheng demo): index many persons not yet indexed, in
 * increasing id order, far faster than mz_person_index_db per person;
 * division is the person's hukou_division (the keys' scope; NULL: none),
 * and every person added must be one not deleted.
 * person_search rows are written as they come; the exact and prefix keys
 * are gathered in memory (about 4 bytes per key row: ~35 bytes a person)
 * and written in key order by finish, which then rebuilds the FTS table
 * from person_search. Call add and finish inside write transactions on db.
 * abort frees without writing the keys. */
struct mz_person_bulk;
int mz_person_bulk_begin(struct mz_db *db, struct mz_person_bulk **out);
int mz_person_bulk_add(struct mz_person_bulk *b, int64_t person_id, const char *name,
                       const char *former_names, const char *division);
/* The same in two steps, so that a producer thread can build the terms
 * (into its own arena, which must outlive add_terms) while the writer adds. */
struct mz_person_terms;
struct mz_person_terms *mz_person_bulk_terms(struct mz_arena *a, const char *name,
                                             const char *former_names, const char *division);
int mz_person_bulk_add_terms(struct mz_person_bulk *b, int64_t person_id,
                             const struct mz_person_terms *t);
int mz_person_bulk_finish(struct mz_person_bulk *b);
/* The keys part of finish on its own, into db's person_key (db may be
 * another connection than the bulk's, in a write transaction): the keys
 * are written and freed; a finish after it rebuilds the FTS table only. */
int mz_person_bulk_write_keys(struct mz_person_bulk *b, struct mz_db *db);
void mz_person_bulk_abort(struct mz_person_bulk *b);

/* Remove a person's index rows (hard delete, merge). 0 or an mz_err. */
int mz_person_unindex(struct mz_req *req, int64_t person_id);

/* The persons entity's hooks->search: appends one condition on `id` (and the
 * blind-index columns of its searchable ID-number and phone fields) with
 * mz_query_add(). Returns 0, or a status after mz_fail. */
int mz_person_search(struct mz_req *req, const struct mz_entity *e, const char *text,
                     struct mz_query *q);

#endif
