/* registry_internal.h - what the registry's files share and nobody else sees.
 *
 * The static seed data (districts, change records, the NBS street list and
 * the generated communities), the entity declarations, the route handlers
 * and the small helpers the hooks and the demo generator have in common.
 */
#ifndef MZ_REGISTRY_INTERNAL_H
#define MZ_REGISTRY_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/registry.h"
#include "mz/validate.h"

/* The date every pre-existing division's record starts: the registry covers
 * Tianjin's codes from 2009 on, earlier history is not recorded. */
#define REGISTRY_COVERAGE_START "2009-01-01"
#define REGISTRY_SOURCE_NBS "国家统计局统计用区划代码（2022-10-31），经 modood/Administrative-divisions-of-China 公开发布"

/* A county-level division of Tianjin (current and retired). */
struct registry_district {
    const char *code;        /* 6 digits */
    const char *name;
    const char *valid_from;  /* inclusive */
    const char *valid_to;    /* exclusive, NULL while in force */
    int population_10k;      /* resident population, 2020 census, in 10 000 (demo shares) */
    bool rural;              /* mostly towns and villages (demo: hukou type, addresses) */
};

/* A change record: old code replaced by new code on a date. */
struct registry_change {
    const char *kind;        /* division_change dictionary */
    const char *old_code, *new_code;
    const char *effective_on;
    const char *document;
    const char *note;
};

/* A street or township from the NBS list (data/tianjin-streets.csv). */
struct registry_street {
    const char *code;        /* 9 digits */
    const char *name;
    const char *district;    /* 6 digits */
};

extern const struct registry_district registry_districts[];
extern const size_t registry_ndistricts;
extern const struct registry_change registry_changes[];
extern const size_t registry_nchanges;
extern const struct registry_street registry_streets[];
extern const size_t registry_nstreets;

/* The district record of a 6-digit code, or NULL. */
const struct registry_district *registry_district_of(const char *code6);

/* Generated (demo) communities and villages of a street: how many, and the
 * i-th one's 12-digit code and name (deterministic, from the street code). */
int registry_community_count(const struct registry_street *s);
void registry_community(const struct registry_street *s, int i, char code[13], char name[64]);
/* 街道 (true) or 镇/乡/other (false). */
bool registry_street_is_urban(const struct registry_street *s);

/* How many dictionaries dicts.c declares (checked there at compile time). */
#define REGISTRY_NDICTS 14

/* Entities. */
extern const struct mz_entity registry_division_codes;
extern const struct mz_entity registry_division_changes;
extern const struct mz_entity registry_dictionary_items;
extern const struct mz_entity registry_persons;
extern const struct mz_entity registry_households;
extern const struct mz_entity registry_household_members;
extern const struct mz_entity registry_organizations;

/* Migration steps (seed data). */
int registry_seed_divisions(struct mz_db *db);
int registry_seed_dictionary_items(struct mz_db *db);

/* Route handlers. */
int registry_h_divisions(struct mz_req *req);
int registry_h_division(struct mz_req *req);
int registry_h_person_move(struct mz_req *req);
int registry_h_duplicates(struct mz_req *req);
int registry_h_merge(struct mz_req *req);
int registry_h_person_records(struct mz_req *req);

/* Hook helpers shared between persons and households. */
/* End the person's open membership of the given household kind on date and
 * start a new one in household_id with relation (both through the engine,
 * so history is kept). 0 or a status after mz_fail. */
int registry_move_person(struct mz_req *req, int64_t person_id, int64_t household_id,
                         const char *relation, const char *date, json_t **membership_out);

/* Call the pinyin/search engineer's index function when it is linked. */
int registry_person_index(struct mz_req *req, int64_t person_id, const char *name,
                          const char *former_names);
/* Remove a person's index rows (merge); 0 without the module. */
int registry_person_unindex(struct mz_req *req, int64_t person_id);
/* The persons import's end: the FTS rows it put off (mz_person_index_done). */
int registry_person_index_done(struct mz_req *req, bool keep);
/* Index one person on a bare connection (bulk loads: demo). */
int registry_person_index_db(struct mz_db *db, struct mz_arena *arena, int64_t person_id,
                             const char *name, const char *former_names);
/* Bulk indexing of new persons (demo), see mz_person_bulk_* in mz/search.h;
 * without the search module begin gives NULL and the others do nothing. */
struct mz_person_bulk;
int registry_person_bulk_begin(struct mz_db *db, struct mz_person_bulk **out);
int registry_person_bulk_add(struct mz_person_bulk *b, int64_t person_id, const char *name,
                             const char *division);
int registry_person_bulk_write_keys(struct mz_person_bulk *b, struct mz_db *db);
int registry_person_bulk_finish(struct mz_person_bulk *b);
void registry_person_bulk_abort(struct mz_person_bulk *b);
/* Full pinyin of a name, or NULL when the pinyin module is not linked. */
char *registry_pinyin(struct mz_arena *a, const char *utf8);

/* Small helpers. */
const char *registry_json_str(const json_t *row, const char *key);
/* sex code ("1"/"2") of an ID number's sex char. */
const char *registry_sex_code(char id_sex);

#endif
