/* verify_internal.h - what the files of the verification module
 * (src/modules/verify/, 家庭经济状况核对 and 预警) share, and what
 * tests/unit/test_verify.c uses.
 *
 * sources.c: the declared data sources (their columns, kinds and how a cell
 * becomes part of a packed row) and the parsing of one input row; store.c:
 * batches of source rows kept as sealed, key-sorted chunks (the snapshots),
 * their import and their reading; engine.c: the matching engine (persons to
 * source rows by blind index, per-person then per-household figures) and the
 * rule evaluation; verify.c: entities, routes, the module. Design:
 * docs/verify.md.
 */
#ifndef MZ_VERIFY_INTERNAL_H
#define MZ_VERIFY_INTERNAL_H

#include <stdint.h>

#include "mz/engine.h"

/* The join key of the whole module: the 16-byte blind index of an ID number
 * under the context of the registry's persons.id_number (so the registry's
 * id_number_bidx column is the same value in hex). */
#define VF_KEY_CONTEXT "persons.id_number"

/* --- sources ------------------------------------------------------------------- */

/* What a source column fills in a packed row. */
enum vf_target {
    VF_ID,    /* the ID number: the key (and the first detail text) */
    VF_NAME,  /* the person's name (second detail text) */
    VF_A,     /* the main figure (fen, or a count) */
    VF_B,     /* a second figure */
    VF_DATE,  /* a date or month (stored yyyymmdd) */
    VF_KIND,  /* a code from the source's kinds (stored as its index + 1) */
    VF_TEXT,  /* a further detail text */
};

enum vf_ctype {
    VF_C_TEXT,
    VF_C_IDNUM,
    VF_C_MONEY,   /* 元 with up to two decimals -> fen */
    VF_C_AREA,    /* square metres with up to two decimals -> hundredths */
    VF_C_DATE,    /* YYYY-MM-DD */
    VF_C_MONTH,   /* YYYY-MM -> yyyymm01 */
    VF_C_KIND,
};

struct vf_column {
    const char *name;     /* JSON / header name */
    const char *zh;       /* the header staff use */
    const char *aliases;  /* other headers, "|"-separated, or NULL */
    enum vf_target target;
    enum vf_ctype type;
    bool required;
};

struct vf_kind {
    const char *code, *zh;
};

enum vf_source_id {
    VF_SRC_HUKOU,
    VF_SRC_CREMATION,
    VF_SRC_VEHICLE,
    VF_SRC_REALESTATE,
    VF_SRC_DEPOSIT,
    VF_SRC_SECURITIES,
    VF_SRC_BUSINESS,
    VF_SRC_TAX,
    VF_SRC_SOCIAL_INSURANCE,
    VF_SRC_HOUSING_FUND,
    VF_SRC_PUBLIC_EMPLOYEE,
    VF_SRC_STAFF_RELATIVES,
    VF_NSOURCES
};

struct vf_source {
    enum vf_source_id id;
    const char *code;        /* "vehicle" */
    const char *zh;          /* "车辆" */
    const char *department;  /* the usual provider: "公安交管部门" */
    const struct vf_column *cols;
    int ncols;
    const struct vf_kind *kinds;
    int nkinds;
    const char *a_zh, *b_zh; /* what a and b mean, for reports (NULL: unused) */
};

extern const struct vf_source vf_sources[VF_NSOURCES];
const struct vf_source *vf_source_find(const char *code);

/* One row as stored: 48 bytes, keys first so a chunk sorts by key. */
struct vf_row {
    unsigned char key[16];
    int64_t a, b;
    int32_t date;       /* yyyymmdd, 0 when none */
    uint16_t kind;      /* index into the source's kinds + 1, 0 when none */
    uint16_t reserved;
    uint32_t str_off;   /* detail texts in the chunk's string area, */
    uint32_t str_len;   /* joined by '\x1f': ID number, name, then VF_TEXT cells */
};

/* A row parsed from input, before it is packed. */
struct vf_parsed {
    struct vf_row row;
    char *detail;       /* arena: the detail texts joined by '\x1f' */
    size_t detail_len;
};

/* Map a header row to columns: map[i] is the column index of cell i or -1.
 * Adds an error (field "header") for every required column missing and for
 * a header that names no column; returns the number of errors added. */
int vf_map_header(const struct vf_source *s, const char *const *cells, size_t ncells, int *map,
                  json_t *errors);
/* Parse one data row (cells after mapping); field errors go to errors with
 * the row number. 0 on success, -1 when the row is invalid. */
int vf_parse_row(struct mz_arena *a, const struct vf_source *s, const int *map,
                 const char *const *cells, size_t ncells, long rowno, struct vf_parsed *out,
                 json_t *errors);
/* The same for one JSON object (partner pushes): keys are column names. */
int vf_parse_object(struct mz_arena *a, const struct vf_source *s, json_t *obj, long rowno,
                    struct vf_parsed *out, json_t *errors);
/* The detail text number i (0: ID number, 1: name, 2..: VF_TEXT columns in
 * order) of a row in a chunk's string area, as a new string in the arena. */
char *vf_detail(struct mz_arena *a, const char *strings, const struct vf_row *r, int i);
/* A row as JSON for reports: {"source","batch_id","person" (masked ID),
 * "name", <column name>: value ...}; money in fen, dates ISO. */
json_t *vf_row_json(struct mz_arena *a, const struct vf_source *s, int64_t batch_id,
                    const char *strings, const struct vf_row *r);

/* yyyymmdd <-> "YYYY-MM-DD". */
int32_t vf_date_int(const char *iso);
void vf_date_text(int32_t d, char out[11]);

/* --- store --------------------------------------------------------------------- */

#define VF_CHUNK_ROWS 4096

/* The batch of a source in force on a date: the one with the latest as_of
 * on or before it (then the highest id). 0 when there is none. */
int vf_current_batch(struct mz_db *db, enum vf_source_id src, const char *as_of,
                     int64_t *batch_id, char as_of_out[11]);

/* Sort rows by key and write them as sealed chunks of batch_id (inside the
 * caller's transaction). MZ_OK or a database error. */
int vf_store_write(struct mz_db *db, int64_t batch_id, enum vf_source_id src,
                   struct vf_parsed *rows, size_t n);

/* One opened chunk. */
struct vf_chunk {
    int64_t batch_id;
    int seq;
    uint32_t nrows;
    const struct vf_row *rows;
    const char *strings;
    uint32_t strings_len;
    unsigned char *buf;     /* malloc'd plaintext (rows + strings) */
    size_t cap;
};
void vf_chunk_free(struct vf_chunk *c);

/* Open the sealed bytes of chunk (batch_id, seq) into c (reusing c->buf).
 * A chunk whose detail texts are stored apart (store.c) opens with
 * c->strings NULL: vf_store_lookup and vf_store_scan read both parts. */
int vf_chunk_open(struct vf_chunk *c, int64_t batch_id, int seq, const void *sealed,
                  size_t len);
/* The same for its rows only (c->strings NULL): what a bulk run needs. */
int vf_chunk_open_rows(struct vf_chunk *c, int64_t batch_id, int seq, const void *sealed,
                       size_t len);

/* The first 8 bytes of a key as a signed integer ordered like the keys
 * (the min_key/max_key columns of verify_chunks). */
int64_t vf_key_prefix(const unsigned char key[16]);

/* Call fn with the sealed rows of every chunk of a batch whose key range
 * meets [from_key, to_key] (prefixes; INT64_MIN, INT64_MAX for all), in
 * order, and its key range (for vf_chunk_open_rows); fn's result other
 * than MZ_OK stops the walk. */
typedef int (*vf_chunk_fn)(void *ctx, int seq, int64_t min_key, int64_t max_key,
                           const void *sealed, size_t len);
int vf_store_chunks(struct mz_db *db, int64_t batch_id, int64_t from_key, int64_t to_key,
                    vf_chunk_fn fn, void *ctx);

/* Call fn for every row of the batch whose key is one of keys (sorted, n
 * keys of 16 bytes): reads only the chunks whose key range covers a key. */
typedef void (*vf_row_fn)(void *ctx, enum vf_source_id src, int64_t batch_id,
                          const struct vf_chunk *c, const struct vf_row *r);
int vf_store_lookup(struct mz_db *db, int64_t batch_id, enum vf_source_id src,
                    const unsigned char (*keys)[16], size_t n, vf_row_fn fn, void *ctx);
/* Call fn for every row of the batch, chunk by chunk. */
int vf_store_scan(struct mz_db *db, int64_t batch_id, enum vf_source_id src, vf_row_fn fn,
                  void *ctx);

/* --- engine --------------------------------------------------------------------- */

enum vf_rule_id {
    VF_R_INCOME,
    VF_R_ASSETS,
    VF_R_VEHICLES,
    VF_R_PROPERTY,
    VF_R_BUSINESS,
    VF_R_PUBLIC_EMPLOYEE,
    VF_R_STAFF_RELATIVE,
    VF_R_DECEASED,
    VF_NRULES
};

extern const struct mz_dict_item vf_rule_items[VF_NRULES];

/* The rule in force for a program, division and date (most specific
 * division, then the latest valid_from). */
struct vf_rule {
    bool found, enabled;
    int64_t id;
    char division[13];
    char valid_from[11];
    bool refuse;               /* severity: refuse (不符合) or review (需核实) */
    int64_t percent, months, count_limit, value_limit_fen;
    char standard_program[16]; /* whose standard the thresholds use */
    /* Filled by the evaluation when the rule needs a standard. */
    int64_t standard_fen;
    int64_t standard_id;
    int standard_rc;           /* MZ_OK or the look-up's error */
};

/* Per-person figures from the sources: 96 bytes (a city's bulk run holds
 * millions; only what the household figures need). */
struct vf_person {
    unsigned char key[16];
    int64_t tax_sum;
    int64_t base;              /* highest social-insurance or housing-fund base */
    int64_t pension, unemployment;
    int64_t assets;            /* deposits + securities */
    int64_t vehicle_value_max, business_capital_max;
    int32_t tax_months, vehicles, residential, businesses;
    int32_t dead_date;         /* first death evidence (yyyymmdd), 0 none */
    bool public_employee;      /* in the public employees' source */
    bool staff_relative;       /* in the staff relatives' source */
    bool authorised;           /* a signed authorisation in force (bulk runs) */
};

/* Household figures (sums over members), in the report's names. */
struct vf_figures {
    int64_t income_fen;          /* monthly: Σ (wage + pension) */
    int64_t financial_assets_fen;
    int64_t vehicle_value_max_fen, business_capital_max_fen;
    int32_t vehicles, properties, businesses, public_employees, staff_relatives, deceased;
};

enum vf_outcome { VF_PASS, VF_REVIEW, VF_INELIGIBLE, VF_UNAUTHORISED };
extern const struct mz_dict_item vf_outcome_items[4];

struct vf_member {
    int person;                /* index into run->persons */
    int64_t person_id;         /* registry id, 0 when not in the registry */
    const char *name;          /* arena, may be NULL */
    char id_masked[19];
    bool adult, authorised;
};

struct vf_household {
    int64_t household_id, case_id;
    char division[13];
    char zone[8];
    int first, n;              /* members[first .. first+n) */
    struct vf_figures fig;
    uint32_t flags;            /* bit per rule that flagged */
    enum vf_outcome outcome;
};

struct vf_batch_ref {
    int64_t id;
    char as_of[11];
};

struct vf_run {
    struct mz_arena *arena;
    const char *program;
    char as_of[11];
    int32_t window_from, window_to; /* periods counted: [from, to) as yyyymmdd */
    struct vf_person *persons;
    int npersons, cap_persons;
    int *buckets;              /* hash of persons by key, -1 empty */
    size_t nbuckets;
    struct vf_member *members;
    int nmembers, cap_members;
    struct vf_household *households;
    int nhouseholds, cap_households;
    struct vf_batch_ref batches[VF_NSOURCES];
    int32_t as_of_int;         /* as_of as yyyymmdd */
    /* A second connection to the same database (bulk runs, SQLite): the
     * scan's second worker reads its own chunks on it. NULL: the calling
     * thread reads every chunk and hands them to the workers. */
    struct mz_db *reader;
    bool key_order;            /* persons are sorted by key (bulk scans sort them) */
    /* Evidence (single runs): every matched row as JSON, per person. */
    bool collect;
    json_t **evidence;         /* per person: array of rows, or NULL */
};

void vf_run_init(struct vf_run *r, struct mz_arena *a, const char *program, const char *as_of);
void vf_run_free(struct vf_run *r);
/* Room for that many households, members and persons (bulk runs know). */
int vf_run_reserve(struct vf_run *r, int households, int members, int persons);
/* A key as two big-endian halves (so integer order is key order) and a slot. */
struct vf_key_slot {
    uint64_t hi, lo;
    int slot;
};
void vf_key_slot_set(struct vf_key_slot *ks, const unsigned char key[16], int slot);
/* Sort by key (radix on the first half). MZ_OK or MZ_ERR_NOMEM. */
/* Ask for huge pages for a large block not yet written (a no-op elsewhere). */
void vf_huge_pages(void *p, size_t n);
int vf_key_sort(struct vf_key_slot *v, size_t n);
/* Bulk runs: the run's persons are the n distinct keys of sorted, in that
 * (key) order, slot i for sorted[i]; then members are added by slot with
 * vf_run_member_slot. vf_run_find then searches instead of hashing. Only on
 * a run with no persons yet. */
int vf_run_set_persons(struct vf_run *r, const struct vf_key_slot *sorted, size_t n);
/* Room for that many households, members and persons, written once (zero)
 * now: a bulk run calls it on a second thread, so that the kernel's zeroing
 * of hundreds of MB of fresh pages is not on its path. Touches nothing else
 * of the run. */
int vf_run_prefault(struct vf_run *r, int households, int members, int persons);
int vf_run_member_slot(struct vf_run *r, int slot, int64_t person_id, int32_t birth);
/* Start a household; members follow with vf_run_member. Returns its index. */
int vf_run_household(struct vf_run *r, int64_t household_id, int64_t case_id,
                     const char *division12, const char *zone);
/* Add a member to the last household. birth yyyymmdd decides adulthood. */
int vf_run_member(struct vf_run *r, const unsigned char key[16], int64_t person_id,
                  const char *name, const char *id_masked, int32_t birth);
/* The person slot of a key, or -1. */
int vf_run_find(const struct vf_run *r, const unsigned char key[16]);
/* Find the snapshots in force at as_of (fills r->batches). */
int vf_run_batches(struct vf_run *r, struct mz_db *db);
/* Feed source rows: for few households, the chunks covering their keys;
 * for many (bulk), every chunk. */
int vf_run_scan(struct vf_run *r, struct mz_db *db, bool bulk);
/* Roll up and evaluate the rules for every household. */
int vf_run_evaluate(struct vf_run *r, struct mz_db *db);
/* The report of household h (new reference). */
json_t *vf_household_report(struct vf_run *r, struct mz_db *db, int h);
/* The figures as JSON (new reference). */
json_t *vf_figures_json(const struct vf_figures *f);
/* Flags as comma-separated rule codes into the arena ("" when none). */
const char *vf_flags_text(struct mz_arena *a, uint32_t flags);

/* --- bulk re-check (bulk.c) ---------------------------------------------------------- */

struct vf_bulk_opts {
    const char *program;
    const char *as_of;
    const char *lo, *hi;       /* the divisions covered: [lo, hi) of 12-digit codes */
    const char *actor;
    const char *note;
    /* True when the caller's transaction has written nothing the run reads
     * (cases, persons, authorisations, batches, rules): the run may then
     * read on a second connection in parallel (SQLite), which sees the
     * committed database. The API route, the background job and the CLI
     * begin their transaction for the run and set it; a caller that fills
     * and re-checks in one transaction (the demo) must not. */
    bool read_committed;
    /* Called between phases and every 10,000 households (may be NULL). */
    void (*progress)(void *ctx, const char *phase, int64_t done, int64_t total);
    void *ctx;
};

/* Runs up to this many households also store a verify_results row per
 * household (the entity's list and filters); larger runs (a city's yearly
 * re-check) only their packs: a million rows and their six indexes would
 * cost more than the whole re-check. Every household's result is in the
 * run's packs (verify_result_packs), read back with vf_results_open. */
#define VF_BULK_ALL_ROWS 100000

/* Re-check every active case (approved, paying, suspended) of the program
 * whose division lies in [lo, hi), inside the caller's write transaction:
 * one verify_requests row (kind bulk), the packed results of every
 * household, and verify_results rows (see VF_BULK_ALL_ROWS). *summary (new
 * reference) holds the counts and "result_rows": whether the rows were written. */
int vf_bulk(struct mz_db *db, struct mz_arena *a, const struct vf_bulk_opts *o,
            int64_t *request_id, json_t **summary);

/* The stored per-household results of a bulk request: from its packs (in
 * the run's case order), or from its verify_results rows (by case id) for
 * runs stored before the packs. */
struct vf_result_row {
    int64_t case_id, household_id;
    char division[13];
    int member_count;
    uint32_t flags;
    enum vf_outcome outcome;
    struct vf_figures fig;
};
struct vf_result_reader;
int vf_results_open(struct mz_db *db, int64_t request_id, struct vf_result_reader **out);
/* MZ_ROW with *row filled, MZ_DONE at the end, or an error. */
int vf_results_next(struct vf_result_reader *rd, struct vf_result_row *row);
void vf_results_close(struct vf_result_reader *rd);

/* The table of sealed result packs (a migration step; idempotent). */
int vf_packs_table(struct mz_db *db);

/* Helpers shared by verify.c and bulk.c. */
/* A text (NULL: "") of at most size - 1 bytes into out: what snprintf "%s"
 * gives, without its cost (a bulk run copies a few per household). */
void vf_copy_text(char *out, size_t size, const char *text);
bool vf_hex16(const char *hex, unsigned char out[16]);
int vf_insert_row(struct mz_db *db, struct mz_arena *a, const char *actor, const char *table,
                  const char *cols, int n, const char *types, const void *const *values,
                  int64_t *id);
/* The same with INSERT ... ON CONFLICT (unique_col) DO NOTHING: *id is 0 when
 * a row with that value existed (a system row raised twice at once). */
int vf_insert_row_unique(struct mz_db *db, struct mz_arena *a, const char *actor,
                         const char *table, const char *cols, int n, const char *types,
                         const void *const *values, const char *unique_col, int64_t *id);
int64_t vf_now_ms(void);

/* Rule look-up (engine.c), exposed for tests. */
int vf_rule_lookup(struct mz_db *db, const char *program, enum vf_rule_id rule,
                   const char *division12, const char *as_of, struct vf_rule *out);

#endif
