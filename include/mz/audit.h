/* audit.h - the tamper-evident audit log (等保2.0 level 3, issue 3 item 6).
 *
 * Every login and failure, write (with before/after), export, import,
 * unmasked view and administrator action is one row of mz_audit: UTC time,
 * actor, roles, client IP, action, object, object id, result and a JSON
 * detail that never holds plaintext personal data (the engine masks it).
 * Rows form an HMAC chain: hash = mz_crypto_mac over a canonical form of the
 * row including the previous row's hash, so an edit, deletion, insertion or
 * reordering breaks the chain and mz_audit_verify() names the first bad row.
 * The table is append-only (database triggers) and rows younger than the
 * retention period (180 days at least) cannot be deleted.
 *
 * Writes made inside a request's write transaction are appended in that
 * transaction (atomic with the change they record; a failed append fails the
 * request). Events outside a transaction (reads, exports, failures) go to a
 * group-commit queue flushed by one background thread. See src/auth/audit.c.
 */
#ifndef MZ_AUDIT_H
#define MZ_AUDIT_H

#include "mz/engine.h"

/* Retention floor in days; the configured value may only be larger. */
#define MZ_AUDIT_RETENTION_MIN_DAYS 180

/* One event as appended (all strings borrowed; NULL where absent). */
struct mz_audit_event {
    const char *at;     /* RFC 3339 UTC with milliseconds; NULL: now */
    const char *actor;  /* username, "-" when unauthenticated */
    const char *roles;  /* comma-separated role names, or NULL */
    const char *ip;     /* client address, or NULL */
    const char *action; /* "create", "login_failed", "export", ... */
    const char *object; /* entity or subsystem name, or NULL */
    int64_t object_id;  /* 0: none (stored as NULL) */
    bool success;       /* result "ok" or "fail" */
    const char *detail; /* compact JSON text, or NULL */
};

/* The app->audit hook: record one event for a request (see the file comment).
 * Returns 0, or an HTTP status after mz_fail() when the event could not be
 * recorded (the request must then fail: the log fails closed). */
int mz_audit_record(struct mz_req *req, const char *action, const char *object, int64_t id,
                    bool success, json_t *detail);
/* The app->audit_text hook: the same, detail_text being mz_json_dump(detail)
 * (NULL: dumped here when needed). */
int mz_audit_record_text(struct mz_req *req, const char *action, const char *object, int64_t id,
                         bool success, json_t *detail, const char *detail_text);

/* The app->audit_import_end hook: the end of an import whose rows were
 * recorded while req->importing (their MACs made on another thread, see
 * src/auth/audit.c): keep writes the rows not yet written, else they are
 * dropped (the transaction is being rolled back). 0, or a status after
 * mz_fail(). */
int mz_audit_import_end(struct mz_req *req, bool keep);

/* Set app->audit, app->audit_text and app->audit_import_end (call before
 * the server starts). */
void mz_audit_install(struct mz_app *app);
/* Start the group-commit thread on its own connection to app->db_spec. The
 * MAC key must be loaded (mz_crypto_load) before. MZ_OK or an error. */
int mz_audit_start(struct mz_app *app);
/* Flush the queue, stop the thread and close its connection. Idempotent. */
void mz_audit_stop(void);
/* Wait until every event queued so far is written (tests). */
void mz_audit_flush(void);

/* Append one event; the caller holds a write transaction on db (the chain
 * head is read under the write lock). *seq_out (may be NULL) gets its seq. */
int mz_audit_append(struct mz_db *db, const struct mz_audit_event *ev, int64_t *seq_out);

/* The outcome of a verification. */
struct mz_audit_check {
    bool intact;         /* the whole chain recomputes */
    int64_t entries;     /* rows checked (all rows when intact) */
    int64_t head_seq;    /* last row's seq (0: empty log) */
    char head_hash[65];  /* last row's hash (64 zeros: empty log) */
    char head_at[32];    /* last row's time ("" when empty) */
    int64_t bad_seq;     /* the first bad entry's seq when not intact */
    const char *problem; /* "edited", "deleted", "inserted", "reordered" */
    char message[200];   /* English explanation for the operator */
};

/* Recompute the whole chain. MZ_OK with check->intact set either way, or a
 * database error. The key must be loaded. */
int mz_audit_verify(struct mz_db *db, struct mz_audit_check *check);
/* Check that an anchor (seq, hash) taken earlier is still in the log: a
 * truncated or rewritten tail is then found too. MZ_OK with check filled. */
int mz_audit_verify_anchor(struct mz_db *db, int64_t seq, const char *hash,
                           struct mz_audit_check *check);
/* The chain head as {"seq","hash","at","anchored_at"} (new reference). */
int mz_audit_head(struct mz_db *db, json_t **out);
/* Append the head as one JSON line to path (created 0600 if missing). */
int mz_audit_anchor_to(struct mz_db *db, const char *path);
/* Append an anchor (from mz_audit_head) as one line to path, fsync'd. */
int mz_audit_anchor_write(const json_t *head, const char *path);
/* The anchor file of the daily job: $MZ_AUDIT_ANCHOR, else
 * "<dir of db>/audit-anchors.jsonl" (malloc'd). */
char *mz_audit_anchor_default_path(const char *db_spec);

/* JSON form of a check: {"entries","head"} or {"entries","seq","problem","message"}. */
json_t *mz_audit_check_json(const struct mz_audit_check *check);

extern const struct mz_module mz_module_audit;

#endif
