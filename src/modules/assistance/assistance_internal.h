/* assistance_internal.h - what the files of the social-assistance module
 * (src/modules/assistance/) share, and what tests/unit/test_assistance.c uses.
 *
 * benefit.c: the effective-dated look-ups (standards, increments) and the
 * explainable benefit computation; cases.c: the case entity, its workflow and
 * the 公示 notices; payroll.c: the monthly run, the payments snapshot, the
 * ledger and the bank file; assistance.c: the module descriptor, the seed and
 * the routes. The design is described in docs/assistance.md.
 */
#ifndef MZ_ASSISTANCE_INTERNAL_H
#define MZ_ASSISTANCE_INTERNAL_H

#include <stdio.h>

#include "mz/engine.h"

#define ASSIST_MAX_MEMBERS 30     /* members of one assistance household */
#define ASSIST_MAX_CATEGORIES 4   /* 分类施保 categories per member */

/* One member as the computation sees it. */
struct assist_member {
    const char *label;        /* masked ID number or "成员 <person id>" (for the trace) */
    int64_t income_fen;       /* monthly income, >= 0 */
    const char *categories[ASSIST_MAX_CATEGORIES];
    int ncategories;
    const char *care_grade;   /* 特困 care grade (self_care/partial/full), NULL when none */
};

/* The standard row that applies to a program, division, zone and month. */
struct assist_standard {
    int64_t id;
    char division[13];        /* 12 digits */
    char zone[8];             /* urban | rural | all */
    char valid_from[11];
    char basis[16];           /* per_person (补差) | per_household (flat household aid) */
    int64_t amount_fen;
    int64_t minimum_fen;      /* 0: none */
    char band_program[16];    /* per_household: the program whose standard bounds the band */
    int64_t band_percent;     /* the band's upper bound in percent of it (0: no band check) */
    char support_mode[16];    /* institutional 集中 | home 分散 | all */
};

/* The result of a computation. trace is a new reference (json array). */
struct assist_quote {
    struct assist_standard standard;
    int members;
    int64_t household_income_fen;
    int64_t per_capita_income_fen;  /* rounded down to the fen */
    int64_t gap_fen;                /* standard x members - income, >= 0 */
    int64_t increments_fen;
    int64_t care_fen;               /* 护理费 of the members' care grades */
    int64_t monthly_benefit_fen;
    json_t *trace;
};

/* Program codes of the contract. */
bool assist_program_ok(const char *code);
bool assist_category_ok(const char *code);
/* Is text a month "YYYY-MM" (1..12)? */
bool assist_month_ok(const char *text);
/* "Today" (Asia/Shanghai), or MZ_TEST_TODAY=YYYY-MM-DD for tests, into out[11]. */
void assist_today(char out[11]);
/* The ancestors of a 12-digit division, most specific first, into out[5][13]
 * (itself, street, district, city, province; duplicates possible). */
void assist_ancestors(const char *division12, char out[5][13]);
/* The row in force of an effective-dated configuration table (standards,
 * increments, care, medical, review and 临时救助 rules): among the rows not
 * deleted that match `where` (its ? bound to params[0..nparams), NULL binds
 * null), whose division is division12 or an ancestor and whose valid_from is
 * on or before date - the most specific division, then the latest valid_from,
 * then `tiebreak` (an ORDER BY fragment or NULL), then the highest id.
 * MZ_OK with *st on the row (read the columns, then mz_db_done), or
 * MZ_ERR_NOTFOUND / an error with *st finished. */
int assist_effective_row(struct mz_db *db, const char *cols, const char *table,
                         const char *where, const char *const *params, int nparams,
                         const char *division12, const char *date, const char *tiebreak,
                         struct mz_stmt **st);

/* The standard for program, division (12 digits), zone (urban/rural or NULL)
 * and month (YYYY-MM): the most specific division, then the latest
 * valid_from on or before the month's first day, then the exact zone over
 * "all". MZ_ERR_NOTFOUND when none; MZ_ERR_INVALID when zone is NULL and the
 * applicable row is zone-specific (the caller must say urban or rural). */
int assist_standard_lookup(struct mz_db *db, const char *program, const char *division12,
                           const char *zone, const char *month, struct assist_standard *out);

/* The same with a support mode (特困: institutional 集中 / home 分散; NULL:
 * only rows for all modes): the exact mode wins over "all". */
int assist_standard_lookup_mode(struct mz_db *db, const char *program, const char *division12,
                                const char *zone, const char *mode, const char *month,
                                struct assist_standard *out);
int assist_compute_mode(struct mz_db *db, const char *program, const char *division12,
                        const char *zone, const char *mode, const char *month,
                        const struct assist_member *members, int nmembers,
                        struct assist_quote *out);
extern const struct mz_entity assist_care_standards;

/* Compute the benefit (see benefit.c for the formula). Returns MZ_OK, or the
 * look-up's error; out->trace is set on MZ_OK. */
int assist_compute(struct mz_db *db, const char *program, const char *division12,
                   const char *zone, const char *month, const struct assist_member *members,
                   int nmembers, struct assist_quote *out);

/* Parse a members array (quote: id_number; case: person_id) into members
 * from the arena; field errors ("members[1].monthly_income_fen") go to
 * errors. *n is the count parsed (0 on errors). */
int assist_parse_members(struct mz_req *req, json_t *array, bool case_members,
                         struct assist_member **out, int *n, json_t *errors);

/* The no_standard / zone errors of a failed look-up as a request failure. */
int assist_fail_lookup(struct mz_req *req, int rc, const char *program);

/* --- cases.c ------------------------------------------------------------------ */
/* The 经济状况核对 step's check by the verification module (it installs this
 * at start-up; NULL when that module is not built in: the step then records
 * the staff's manual result only). 0 with *result {"request_id","outcome",
 * "outcome_zh","flags"} (new reference), or a failure status. */
extern int (*assist_case_check)(struct mz_write *w, json_t **result);
/* Insert the (case, person) rows of a members array (duplicates ignored). */
int assist_case_members_insert(struct mz_db *db, int64_t case_id, json_t *members);
/* Migration step: the table and its rows for the cases already there. */
int assist_case_members_migrate(struct mz_db *db);
extern const struct mz_entity assist_cases;
extern const struct mz_entity assist_notices;

/* --- payroll.c ---------------------------------------------------------------- */
extern const struct mz_entity assist_runs;
extern const struct mz_entity assist_payments;
extern const struct mz_entity assist_ledger;

/* Tests only: SIGKILL at a named phase when MZ_TEST_KILL_AT names it. */
void assist_test_kill_point(const char *phase);

/* A payroll run's summary (the contract's JSON). */
struct assist_run_summary {
    int64_t run_id;
    char program[16];
    char month[8];
    char division[13];       /* 12 digits */
    int64_t households, persons, amount_fen, skipped;
    char status[16];
};

/* Run payroll inside the caller's write transaction: a regular program's
 * run is written as packs (docs/assistance.md, "Packed payroll snapshot"),
 * a one-off program's (medical, temporary) as rows. MZ_OK with the new
 * run's summary; MZ_ERR_CONFLICT with the existing (overlapping) run's
 * summary when one exists; another error on failure. actor names the user. */
int assist_payroll_run(struct mz_db *db, const char *actor, const char *program,
                       const char *month, const char *division12,
                       struct assist_run_summary *out);
/* bank_layouts.c: per-bank file layouts. */
extern const struct mz_entity assist_bank_layouts;
extern const struct mz_dict assist_dict_bank_format, assist_dict_bank_encoding;
/* Write a run's bank file in a layout (a row of assistance_bank_layouts as
 * JSON) to f; MZ_ERR_TOOBIG with *bad_payment when a value is wider than its
 * fixed-width column. */
int assist_bank_file_layout(struct mz_db *db, struct mz_arena *a, int64_t run_id, json_t *layout,
                            FILE *f, int64_t *count, int64_t *sum, int64_t *bad_payment);
/* bank_rows.c: a paid row of a run as a bank file writes it (texts never
 * NULL; the account opened for the file only). */
struct assist_bank_row {
    int64_t seq, payment_id, ref_id, amount_fen;
    const char *name, *month, *division, *account;
    size_t account_len;
};
/* Append a row's line to out (scratch from a): called on a worker thread,
 * one row after the other in the file's order; an error stops the file. */
typedef int (*assist_bank_line_fn)(void *ctx, const struct assist_bank_row *r, struct mz_buf *out,
                                   struct mz_arena *a);
/* Write a line for every paid row of a run to f, in payment order, the
 * accounts opened and the lines formatted by fn on a second thread; the
 * control totals to *count and *sum; the payment whose line failed to
 * *bad_payment. */
int assist_bank_rows(struct mz_db *db, int64_t run_id, FILE *f, assist_bank_line_fn fn, void *ctx,
                     int64_t *count, int64_t *sum, int64_t *bad_payment);
/* Write a run's bank file (CSV with control totals) to f. */
int assist_bank_file_write(struct mz_db *db, int64_t run_id, FILE *f, int64_t *count,
                           int64_t *sum);
/* The summary as the contract's JSON object (new reference). */
json_t *assist_summary_json(const struct assist_run_summary *s);

/* payroll.c, snapshot.c: the earliest death before the month (bound: its first day) among each
 * case's members, from the dead persons only: persons first (CROSS JOIN
 * keeps SQLite from scanning every case member and looking each person up,
 * 2,000,000 look-ups in a city's run) through ix_persons_deceased_on, then
 * their case memberships through ix_assistance_case_members_person. */
#define DEAD_MEMBERS                                                                           \
    " LEFT JOIN (SELECT cm.case_id, min(q.deceased_on) AS died_on FROM persons q"             \
    " CROSS JOIN assistance_case_members cm WHERE cm.person_id = q.id"                        \
    " AND q.deceased_on < ? AND q.deleted_at IS NULL GROUP BY cm.case_id) dm"                 \
    " ON dm.case_id = c.id"

/* packs.c: the payroll's packed snapshot (docs/assistance.md, "Packed
 * payroll snapshot"): the paid households of a run, ASSIST_PACK_MAX a row of
 * assistance_payment_packs, in case order, each pack sealed whole. */
#define ASSIST_PACK_MAX 4096
#define ASSIST_PACK_TEXT_MAX 255 /* bytes of a payee name or an account */
/* Bit of assist_packed.flags: the previous benefit was paid (the new one starts later). */
#define ASSIST_PACKED_PREVIOUS 1u
/* One paid household of a pack. Strings are not NUL-terminated when sealed
 * from; an opened pack's are (and point into it). */
struct assist_packed {
    int64_t case_id, household_id, payee_person_id, trace_id, amount_fen;
    int32_t persons;
    uint32_t flags;
    char division[13];
    const char *name, *account;
    size_t name_len, account_len;
};
/* A sealed pack as stored: the row's columns (data malloc'd). */
struct assist_pack_blob {
    int64_t run_id, first_case_id, last_case_id, first_position, persons, amount_fen;
    int seq;
    size_t households;
    unsigned char *data;
    size_t len;
};
/* An opened pack (heap: ~0.5 MB): rows[0..n) are the households at
 * positions first_position + i of the run. */
struct assist_pack {
    int64_t run_id, first_position;
    int seq;
    size_t n;
    struct assist_packed rows[ASSIST_PACK_MAX];
    unsigned char *plain;
    char *text;
    size_t plain_cap, text_cap;
};
/* Create assistance_payment_packs (and its indexes) if missing. */
int assist_packs_schema(struct mz_db *db);
/* Migration 15: the packs table, the runs' id blocks and packed flag, the
 * payment id counter. */
int assist_packs_migrate(struct mz_db *db);
/* Migration 16: assistance_payment_traces (id, case_id, trace sealed as
 * the case's benefit_trace), the traces as paid that packs refer to. */
int assist_traces_migrate(struct mz_db *db);
/* The sealed text of trace copy trace_id (in a); MZ_ERR_NOTFOUND if none. */
int assist_trace_copy_load(struct mz_db *db, struct mz_arena *a, int64_t trace_id,
                           const char **sealed);
/* minzheng rekey: seal every pack again with the current key (its
 * contents unchanged); the packs done added to *values. */
int assist_packs_rekey(struct mz_db *db, long *values);
/* Reserve count consecutive payment ids (inside the write transaction):
 * *first is the first of them. */
int assist_payment_ids_reserve(struct mz_db *db, int64_t count, int64_t *first);
/* Encode and seal n (1..ASSIST_PACK_MAX) households, in strictly ascending
 * case order, as pack seq of the run; thread-safe (no database).
 * MZ_ERR_INVALID for rows out of order, a division not of 12 digits, a
 * negative amount or persons, a text longer than ASSIST_PACK_TEXT_MAX. */
int assist_pack_seal(int64_t run_id, int seq, int64_t first_position,
                     const struct assist_packed *rows, size_t n, struct assist_pack_blob *out);
void assist_pack_blob_free(struct assist_pack_blob *b);
/* Insert a sealed pack. */
int assist_pack_insert(struct mz_db *db, const struct assist_pack_blob *b);
/* Open a stored pack's data into p (an earlier pack's contents replaced):
 * MZ_ERR_INVALID when it was forged, moved to another run, seq or
 * position, or does not hold exactly households rows. */
int assist_pack_open(struct assist_pack *p, int64_t run_id, int seq, int64_t first_position,
                     size_t households, const void *data, size_t len);
struct assist_pack *assist_pack_new(void);
void assist_pack_free(struct assist_pack *p);
/* The pack of a run holding a case, opened into p, and the case's index in
 * it; MZ_ERR_NOTFOUND when the run did not pay the case from a pack. */
int assist_pack_load_case(struct mz_db *db, int64_t run_id, int64_t case_id,
                          struct assist_pack *p, size_t *index);
/* The same for a position of the run (payment id - first_payment_id). */
int assist_pack_load_position(struct mz_db *db, int64_t run_id, int64_t position,
                              struct assist_pack *p, size_t *index);
/* Every pack of a run in order: begin, then next (MZ_ROW with the pack
 * opened into p, MZ_DONE after the last), then end. */
struct assist_pack_cursor;
int assist_packs_begin(struct mz_db *db, int64_t run_id, struct assist_pack_cursor **out);
int assist_packs_next(struct assist_pack_cursor *c, struct assist_pack *p);
void assist_packs_end(struct assist_pack_cursor *c);

/* snapshot.c: the paying cases of a run read once and written as packs
 * (the paid households, positions 0.. in case order); what the caller
 * writes besides: the skipped households and the sums per community. */
enum assist_skip_reason { ASSIST_SKIP_PAYEE_DEAD = 1, ASSIST_SKIP_MEMBER_DEAD, ASSIST_SKIP_NO_ACCOUNT };
struct assist_skip {
    int64_t case_id, household_id, payee_person_id;
    int32_t persons;
    enum assist_skip_reason reason;
    char division[13];
    char died_on[11]; /* the payee's or a member's death ("" for no account) */
};
struct assist_community_sum {
    char division[13];
    int64_t households, persons, amount_fen;
};
/* A sorted set of ids (cases another run of the month holds). */
struct assist_id_set {
    int64_t *ids;
    size_t n;
};
/* Is id in the set? */
bool assist_id_set_has(const struct assist_id_set *s, int64_t id);
/* payments.c: the ids of the payment rows in [lo, hi) (a packed run's
 * block: the override rows of its packed payments), sorted. */
int assist_payment_overrides(struct mz_db *db, int64_t lo, int64_t hi, struct assist_id_set *out);
struct assist_snapshot {
    int64_t households, persons, amount_fen; /* paid, in the packs */
    size_t paid_elsewhere;                   /* left out: in another run of the month */
    size_t npacks;
    struct assist_skip *skipped;             /* in case order */
    size_t nskipped;
    struct assist_community_sum *communities; /* of the paid ones, by division */
    size_t ncommunities;
};
/* Read every case of the program paying in [lo, hi) for month, but those
 * in paid (NULL: none), and write the paid ones as packs of run_id
 * (accounts opened and packs sealed on two threads); MZ_ERR_INVALID when a
 * case's account does not open. */
int assist_snapshot_packs(struct mz_db *db, int64_t run_id, const char *program,
                          const char *month, const char *lo, const char *hi,
                          const struct assist_id_set *paid, struct assist_snapshot *out);
void assist_snapshot_free(struct assist_snapshot *s);

/* Route handlers. */
int assist_h_quote(struct mz_req *req);
int assist_h_payroll(struct mz_req *req);
int assist_h_bank_file(struct mz_req *req);
/* payments.c: the payments list and a payment by id, packed runs included. */
int assist_h_payments(struct mz_req *req);
int assist_h_payment(struct mz_req *req);
int assist_h_payments_export(struct mz_req *req);
/* The person_rows hook of assist_payments: a packed run's households paid
 * to one of the persons (payee_person_id). */
int assist_payment_person_rows(struct mz_req *req, const struct mz_entity *e,
                               const struct mz_field *f, const int64_t *persons, size_t n,
                               json_t *rows);
/* The count hook of assist_payments (POST /api/v1/counts): the packed
 * list's total when a packed run matches the filter. */
int assist_payment_count(struct mz_req *req, const struct mz_entity *e, bool *handled,
                         int64_t *total, bool *capped);
/* reviews.c: periodic reviews (定期复核). */
extern const struct mz_entity assist_review_rules;
extern const struct mz_dict_item assist_review_category_items[3];
/* How many months between reviews of a category (12 when no rule applies). */
int assist_review_months(struct mz_db *db, const char *program, const char *category,
                         const char *division12, const char *zone, const char *date, int *months);
/* Set w->row's next_review_on one period after from (YYYY-MM-DD). */
int assist_set_next_review(struct mz_write *w, const char *from);
int assist_pay_effect(struct mz_write *w);
int assist_recheck_effect(struct mz_write *w);
int assist_h_reviews_due(struct mz_req *req);
/* medical.c: 医疗救助. */
struct assist_medical {
    int64_t rule_id;
    char valid_from[11];
    int64_t deductible_fen, ratio_percent, annual_cap_fen;
    int64_t deductible_applied_fen, eligible_fen, aid_before_cap_fen, cap_left_fen, aid_fen;
};
extern const struct mz_entity assist_medical_rules;
extern const struct mz_dict_item assist_medical_group_items[5];
/* The aid on a covered out-of-pocket cost for a group, division and date
 * (see medical.c); MZ_ERR_NOTFOUND when no rule is in force. */
int assist_medical_compute(struct mz_db *db, const char *group, const char *division12,
                           const char *date, int64_t cost_fen, int64_t deductible_used_fen,
                           int64_t paid_this_year_fen, struct assist_medical *out);
int assist_h_medical_quote(struct mz_req *req);
/* The Chinese trace of a computation (new reference). */
json_t *assist_medical_trace(struct mz_arena *a, const struct assist_medical *m, int64_t cost_fen,
                             int64_t paid_this_year_fen);
/* bills.c: 医疗救助 bills (cases of one medical bill each). */
/* The sealing context of a payment's account, copied from where it was
 * paid for: ASSIST_ACCOUNT_ORIGIN (SQL over payments "pm") gives 0 for a
 * case, 1 for a 医疗救助 bill, 2 for a 临时救助 case. */
#define ASSIST_ACCOUNT_ORIGIN \
    "CASE WHEN pm.bill_id IS NOT NULL THEN 1 WHEN pm.temporary_id IS NOT NULL THEN 2 ELSE 0 END"
const char *assist_account_context(int64_t origin);
/* oneoff.c: what bills and 临时救助 cases share. States draft, accepted,
 * checked, approved, paid (final), refused (final). */
extern const struct mz_wf_state assist_oneoff_states[6];
/* Is the row decided (approved, paid or refused, before or by this write)? */
bool assist_oneoff_decided(const struct mz_write *w);
/* An update of a decided row may not change these fields (409 decided). */
int assist_oneoff_keep_figures(struct mz_write *w, const char *const *fixed, size_t n);
/* Approval needs the payee's account (422 no_account). */
int assist_oneoff_need_account(struct mz_write *w);
void assist_oneoff_decided_today(struct mz_write *w);
int assist_oneoff_reject_effect(struct mz_write *w);
/* Demo data (src/modules/verify/demo.c calls it for some households): roll
 * 0..14 a 医疗救助 bill of person, 15..29 a 临时救助 case, at a stage of the
 * workflow (draft to approved); *made counts what was added. */
int assist_demo_oneoff(struct mz_req *req, int64_t person, const char *division,
                       const char *program, int household_size, const char *today,
                       const char *card, int64_t roll, int *made);
#define ASSIST_ONEOFF_REJECT(state)                                                           \
    {.from = state, .action = "reject", .to = "refused", .zh = "不予救助", .en = "Refuse",    \
     .effect = assist_oneoff_reject_effect, .comment_required = true}
/* The one-off workflow's transitions (bills and 临时救助 cases alike): 受理 and
 * 审核 at the street, 审批 at the district with the kind's own guard, refusal
 * from any open step. */
#define ASSIST_ONEOFF_TRANSITIONS(approve_guard)                                                   {.from = "draft", .action = "accept", .to = "accepted", .zh = "受理", .en = "Accept"},               {.from = "accepted", .action = "review", .to = "checked", .zh = "审核", .en = "Check"},          {.from = "checked", .action = "approve", .to = "approved", .zh = "审批",                          .en = "Approve", .guard = approve_guard},                                                    ASSIST_ONEOFF_REJECT("draft"), ASSIST_ONEOFF_REJECT("accepted"),                              ASSIST_ONEOFF_REJECT("checked")
/* temporary.c: 临时救助. */
extern const struct mz_entity assist_temporary_rules, assist_temporary_cases;
extern const struct mz_dict_item assist_temporary_category_items[2];
extern const struct mz_entity assist_medical_bills;
/* public_notices.c: the 公示 on the citizen side. */
int assist_h_public_notices(struct mz_req *req);
/* report.c: the monthly statistics. */
int assist_h_monthly_report(struct mz_req *req);
/* reconcile.c: the bank's return file and the ledger balance. */
int assist_h_return_file(struct mz_req *req);
int assist_h_balance(struct mz_req *req);
/* sealed.c: the members' incomes and the trace sealed at rest. Before a
 * write: the stored members get their incomes back (restore); at the end
 * of before_write: member_figures rebuilt, incomes out of the list (seal). */
void assist_members_restore(struct mz_write *w);
void assist_members_seal(struct mz_write *w);
void assist_case_present(struct mz_req *req, const struct mz_entity *e, json_t *row);
void assist_payment_present(struct mz_req *req, const struct mz_entity *e, json_t *row);
int assist_sealed_migrate(struct mz_db *db);
int assist_rekey(struct mz_app *app, struct mz_db *db, long *values);
/* notice.c: the decision notice PDF of a case. */
int assist_h_notice_pdf(struct mz_req *req);
/* The same for 医疗救助 bills and 临时救助 cases (approved/paid or refused). */
int assist_h_bill_notice_pdf(struct mz_req *req);
int assist_h_temporary_notice_pdf(struct mz_req *req);

#endif
