/* attachments.c - scans attached to a record (issue 5 item 4: 授权书,
 * certificates, proofs of income), for entities declared with MZ_E_ATTACHMENTS.
 *
 *   GET    /api/v1/{entity}/{id}/attachments              list (+ limits, kinds)
 *   POST   /api/v1/{entity}/{id}/attachments?kind=&filename=   raw body = the file
 *   GET    /api/v1/{entity}/{id}/attachments/{aid}        download
 *   DELETE /api/v1/{entity}/{id}/attachments/{aid}?reason= soft delete
 *
 * Permissions are the record's: reading lists and downloads need
 * "<entity>.read", uploading and deleting "<entity>.update"; the record must be
 * in the caller's scope (and, for citizens, their own) or the answer is 404.
 * On an entity made for citizens (MZ_E_CITIZEN: the hall's applications) the
 * applicant uploads with "<entity>.attach" while the record is in its
 * workflow's first state (409 attachments_closed after); never deletes.
 *
 * The type is decided by the content, never by the name alone: the first bytes
 * must be a PDF ("%PDF-"), JPEG (FF D8 FF) or PNG signature (else 415
 * unsupported_type), and the file name's extension must agree with it (422
 * type_mismatch). Size: 1 byte .. wb_attachment_max() (MZ_ATTACHMENT_MAX_BYTES,
 * default 10 MiB; 413 file_too_large beyond, 422 empty_file for nothing).
 * kind is a code of the dictionary attachment_kind (422 field kind).
 *
 * The bytes are sealed at rest (mz_crypto_seal_bin, XChaCha20-Poly1305) with
 * the associated data "mz_attachments:<entity>:<row id>", so a blob copied to
 * another record does not open; the SHA-256 of the plaintext is kept for the
 * list. Upload and delete write the attachment row, a history entry of the
 * record (attachment_add / attachment_delete, with the reason as comment) and
 * the audit event in one transaction; a download is audited
 * (attachment_download). Deleting keeps the sealed row (deleted_at, by,
 * reason) for the retention the archive rules ask for; it leaves every list.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "modules/workbench/workbench_internal.h"
#include "mz/crypto.h"
#include "mz/validate.h"

int wb_migrate_attachments(struct mz_db *db)
{
    return wb_exec_ddl(
        db,
        "CREATE TABLE mz_attachments (id %s, entity TEXT NOT NULL, row_id %s NOT NULL,"
        " kind TEXT NOT NULL, filename TEXT NOT NULL, content_type TEXT NOT NULL,"
        " size %s NOT NULL, sha256 TEXT NOT NULL, data %s NOT NULL,"
        " created_by TEXT NOT NULL, created_at TEXT NOT NULL, deleted_at TEXT,"
        " deleted_by TEXT, delete_reason TEXT);"
        "CREATE INDEX ix_mz_attachments_row ON mz_attachments(entity, row_id, id);",
        mz_db_dialect(db, MZ_SQL_AUTOINCREMENT_PK), mz_db_dialect(db, MZ_SQL_INT64),
        mz_db_dialect(db, MZ_SQL_INT64), mz_db_dialect(db, MZ_SQL_BLOB));
}

size_t wb_attachment_max(void)
{
    const char *v = getenv("MZ_ATTACHMENT_MAX_BYTES");
    if (v && *v) {
        char *end;
        unsigned long long x = strtoull(v, &end, 10);
        if (*end == '\0' && x >= 1024 && x <= 60ULL * 1024 * 1024)
            return (size_t)x;
    }
    return ATTACHMENT_MAX_DEFAULT;
}

/* The upload route's answer to a file over the cap: given by the server as
 * soon as Content-Length (or the bytes counted so far) passes
 * wb_attachment_max(), so a too large file is never read into memory. */
int wb_attachment_too_large(struct mz_req *req)
{
    size_t max = wb_attachment_max();
    json_t *extra = json_object();
    json_object_set_new(extra, "field", json_string("file"));
    json_object_set_new(extra, "max_bytes", json_integer((json_int_t)max));
    return mz_fail_with(req, 413, "file_too_large",
                        mz_arena_printf(req->arena, "文件超过 %.1f MB 的上限，请压缩或分开上传",
                                        (double)max / (1024.0 * 1024.0)),
                        extra);
}

/* The allowed types: content signature, MIME type, accepted extensions. */
static const struct {
    const char *magic;
    size_t magic_len;
    const char *mime;
    const char *exts[3];
} types[] = {
    {"%PDF-", 5, "application/pdf", {".pdf", NULL, NULL}},
    {"\xff\xd8\xff", 3, "image/jpeg", {".jpg", ".jpeg", NULL}},
    {"\x89PNG\r\n\x1a\n", 8, "image/png", {".png", NULL, NULL}},
};

/* Index into types of the content's type, or -1. */
static int sniff(const char *data, size_t len)
{
    for (size_t i = 0; i < MZ_ARRAY_LEN(types); i++) {
        if (len >= types[i].magic_len && memcmp(data, types[i].magic, types[i].magic_len) == 0)
            return (int)i;
    }
    return -1;
}

static bool ext_matches(const char *name, int type)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return false;
    for (size_t i = 0; i < 3 && types[type].exts[i]; i++) {
        if (strcasecmp(dot, types[type].exts[i]) == 0)
            return true;
    }
    return false;
}

static void seal_context(char *out, size_t n, const char *entity, int64_t row_id)
{
    snprintf(out, n, "mz_attachments:%s:%lld", entity, (long long)row_id);
}

/* The entity of the path, if it accepts attachments, and the record {id}
 * (scope and owner applied; *version gets its version when asked). NULL after
 * recording 404 (or 400 for a bad id). */
static const struct mz_entity *open_record_state(struct mz_req *req, int64_t *id, int64_t *version,
                                                const char **state)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return NULL;
    if (!(e->flags & MZ_E_ATTACHMENTS)) {
        mz_fail(req, 404, "not_found", "这类数据不接受附件");
        return NULL;
    }
    *id = mz_req_id_or_fail(req);
    if (*id == 0)
        return NULL;
    json_t *row = mz_row_load(req, e, *id);
    if (row == NULL)
        return NULL;
    if (version)
        *version = json_integer_value(json_object_get(row, "version"));
    if (state) {
        const char *v = json_string_value(json_object_get(row, "state"));
        *state = v ? mz_arena_strdup(req->arena, v) : NULL;
    }
    json_decref(row);
    return e;
}

static const struct mz_entity *open_record(struct mz_req *req, int64_t *id, int64_t *version)
{
    return open_record_state(req, id, version, NULL);
}

/* Who may upload: staff holding <entity>.update; on an entity made for
 * citizens (MZ_E_CITIZEN), the applicant holding <entity>.attach while the
 * record is still in its workflow's first state (a citizen sees only its own
 * rows, so open_record answers 404 for anyone else's). 0 when allowed, else
 * the status recorded. */
static int may_upload(struct mz_req *req, const struct mz_entity *e, const char *state)
{
    if (mz_req_may(req, mz_arena_printf(req->arena, "%s.update", e->name)))
        return 0;
    if (!(e->flags & MZ_E_CITIZEN) ||
        !mz_req_may(req, mz_arena_printf(req->arena, "%s.attach", e->name)))
        return mz_fail(req, 403, "forbidden", "没有执行该操作的权限");
    if (e->workflow && (state == NULL || strcmp(state, e->workflow->initial) != 0))
        return mz_fail(req, 409, "attachments_closed", "已受理或已办结的申请不能再补充材料");
    return 0;
}

static int64_t attachment_id_or_fail(struct mz_req *req)
{
    const char *v = mz_req_param(req, "aid");
    char *end;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (v == NULL || *v == '\0' || *end != '\0' || x <= 0) {
        mz_fail(req, 400, "bad_id", "附件编号应为正整数");
        return 0;
    }
    return x;
}

/* Prepare "SELECT <cols>" of attachment aid of the record (not deleted). */
static int find_attachment(struct mz_req *req, const char *cols, const struct mz_entity *e,
                           int64_t id, int64_t aid, struct mz_stmt **st)
{
    int rc = mz_db_prepare(req->db,
                           mz_arena_printf(req->arena,
                                           "SELECT %s FROM mz_attachments WHERE id = ? AND"
                                           " entity = ? AND row_id = ? AND deleted_at IS NULL",
                                           cols),
                           st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(*st, 1, aid);
    mz_db_bind_text(*st, 2, e->name);
    mz_db_bind_int(*st, 3, id);
    return MZ_OK;
}

static const char *kind_label(struct mz_req *req, const char *code)
{
    const struct mz_dict *d = mz_app_dict(req->app, "attachment_kind");
    json_t *items = req->app->dict_items ? req->app->dict_items(req, "attachment_kind") : NULL;
    const char *out = code;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "code")) ?: "", code) == 0)
            out = mz_arena_strdup(req->arena, json_string_value(json_object_get(it, "zh")) ?: code);
    }
    if (items == NULL && d != NULL) {
        for (size_t k = 0; k < d->nitems; k++) {
            if (strcmp(d->items[k].code, code) == 0)
                out = d->items[k].zh;
        }
    }
    json_decref(items);
    return out;
}

/* A history entry (and, through it, the audit event) of the record:
 * {"attachment":{"from","to"}} (steals from and to; NULL is null). */
static int history(struct mz_req *req, const struct mz_entity *e, int64_t id, int64_t version,
                   const char *action, json_t *from, json_t *to, const char *comment)
{
    json_t *changes = json_object();
    json_t *c = json_object();
    json_object_set_new(c, "from", from ? from : json_null());
    json_object_set_new(c, "to", to ? to : json_null());
    json_object_set_new(changes, "attachment", c);
    int rc = mz_history_add(req, e, id, version, action, changes, comment);
    json_decref(changes);
    return rc;
}

int wb_attachments_list(struct mz_req *req)
{
    int64_t id;
    const struct mz_entity *e = open_record(req, &id, NULL);
    if (e == NULL)
        return req->status;
    static const char *const names[] = {"id",   "kind",   "filename",   "content_type",
                                        "size", "sha256", "created_by", "created_at"};
    json_t *items =
        mz_row_items(req,
                     "SELECT id, kind, filename, content_type, size, sha256, created_by,"
                     " created_at FROM mz_attachments WHERE entity = ? AND row_id = ?"
                     " AND deleted_at IS NULL ORDER BY id",
                     e->name, id, names, "isssisss");
    if (items == NULL)
        return req->status;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *k = json_string_value(json_object_get(it, "kind"));
        json_object_set_new(it, "kind_zh", json_string(kind_label(req, k ? k : "")));
    }
    json_t *body = json_object();
    json_object_set_new(body, "items", items);
    json_object_set_new(body, "max_bytes", json_integer((json_int_t)wb_attachment_max()));
    json_object_set_new(body, "max_count", json_integer(ATTACHMENT_COUNT_MAX));
    json_t *accept = json_array();
    for (size_t t = 0; t < MZ_ARRAY_LEN(types); t++)
        json_array_append_new(accept, json_string(types[t].mime));
    json_object_set_new(body, "types", accept);
    return mz_reply_json(req, 200, body);
}

/* 422 with one field error. */
static int fail_field(struct mz_req *req, const char *code, const char *message, const char *field)
{
    json_t *errors = json_array();
    mz_errors_add(errors, field, code, message);
    json_t *extra = json_object();
    json_object_set_new(extra, "errors", errors);
    json_object_set_new(extra, "field", json_string(field));
    return mz_fail_with(req, 422, code, message, extra);
}

int wb_attachments_upload(struct mz_req *req)
{
    int64_t id, version;
    const char *state = NULL;
    const struct mz_entity *e = open_record_state(req, &id, &version, &state);
    if (e == NULL)
        return req->status;
    if (may_upload(req, e, state))
        return req->status;

    /* kind: a code of the dictionary in force. */
    static const struct mz_field kind_field = {.name = "kind",
                                               .type = MZ_T_DICT,
                                               .zh = "附件类型",
                                               .en = "Kind",
                                               .dict = "attachment_kind"};
    const char *kind = mz_req_query(req, "kind");
    const char *code, *message;
    json_t *norm = NULL;
    json_t *kv = json_string(kind ? kind : "");
    int rc = kind && *kind ? mz_field_normalise_req(req, &kind_field, kv, &norm, &code, &message)
                           : MZ_ERR_INVALID;
    json_decref(kv);
    json_decref(norm);
    if (rc != MZ_OK)
        return fail_field(req, "invalid_kind", "请选择附件类型（授权书、身份证明、收入证明等）",
                          "kind");

    /* filename: 1..ATTACHMENT_NAME_MAX characters, no path, no control chars. */
    const char *filename = mz_req_query(req, "filename");
    size_t flen = filename ? strlen(filename) : 0;
    bool name_ok = flen > 0 && mz_utf8_text_ok(filename, flen) &&
                   mz_utf8_length(filename, flen) <= ATTACHMENT_NAME_MAX &&
                   strpbrk(filename, "/\\") == NULL && filename[0] != '.';
    for (size_t i = 0; name_ok && i < flen; i++)
        name_ok = (unsigned char)filename[i] >= 0x20 && filename[i] != 0x7f;
    if (!name_ok)
        return fail_field(req, "invalid_filename", "文件名应为 1 到 120 个字符，不含路径和控制字符",
                          "filename");

    size_t max = wb_attachment_max();
    if (req->body_len == 0)
        return fail_field(req, "empty_file", "文件为空，请重新选择", "file");
    if (req->body_len > max)
        return wb_attachment_too_large(req);
    int type = sniff(req->body, req->body_len);
    if (type < 0) {
        json_t *extra = json_object();
        json_object_set_new(extra, "field", json_string("file"));
        return mz_fail_with(req, 415, "unsupported_type",
                            "只接受 PDF、JPEG、PNG 格式的扫描件（按文件内容判断）", extra);
    }
    if (!ext_matches(filename, type))
        return fail_field(
            req, "type_mismatch",
            mz_arena_printf(req->arena, "文件内容是 %s，与文件名的扩展名不符", types[type].mime),
            "filename");

    const char *params[] = {e->name, mz_arena_printf(req->arena, "%lld", (long long)id)};
    int64_t count = 0;
    rc = mz_db_query_int(req->db,
                         "SELECT count(*) FROM mz_attachments WHERE entity = ? AND row_id = ?"
                         " AND deleted_at IS NULL",
                         &count, 2, params);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (count >= ATTACHMENT_COUNT_MAX)
        return mz_fail(req, 409, "too_many",
                       mz_arena_printf(req->arena, "每条记录最多 %d 个附件", ATTACHMENT_COUNT_MAX));

    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    crypto_hash_sha256(digest, (const unsigned char *)req->body, req->body_len);
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    char ctx[160];
    seal_context(ctx, sizeof(ctx), e->name, id);
    size_t sealed_len = req->body_len + MZ_CRYPTO_SEAL_OVERHEAD;
    unsigned char *sealed = malloc(sealed_len);
    if (sealed == NULL)
        return mz_fail_err(req, MZ_ERR_NOMEM);
    mz_crypto_seal_bin(ctx, req->body, req->body_len, sealed);

    char now[32];
    mz_now_rfc3339(now);
    struct mz_stmt *st;
    rc =
        mz_db_prepare(req->db,
                      "INSERT INTO mz_attachments (entity, row_id, kind, filename, content_type,"
                      " size, sha256, data, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
                      " ?, ?)",
                      &st);
    if (rc == MZ_OK) {
        mz_db_bind_text(st, 1, e->name);
        mz_db_bind_int(st, 2, id);
        mz_db_bind_text(st, 3, kind);
        mz_db_bind_text(st, 4, filename);
        mz_db_bind_text(st, 5, types[type].mime);
        mz_db_bind_int(st, 6, (int64_t)req->body_len);
        mz_db_bind_text(st, 7, hex);
        mz_db_bind_blob(st, 8, sealed, sealed_len);
        mz_db_bind_text(st, 9, req->actor ? req->actor : "-");
        mz_db_bind_text(st, 10, now);
        rc = mz_db_step(st);
        mz_db_done(st);
        rc = rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
    }
    free(sealed);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    int64_t aid = 0;
    rc = mz_db_query_int(req->db,
                         "SELECT max(id) FROM mz_attachments WHERE entity = ? AND row_id = ?", &aid,
                         2, params);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);

    json_t *item = json_object();
    json_object_set_new(item, "id", json_integer(aid));
    json_object_set_new(item, "kind", json_string(kind));
    json_object_set_new(item, "kind_zh", json_string(kind_label(req, kind)));
    json_object_set_new(item, "filename", json_string(filename));
    json_object_set_new(item, "content_type", json_string(types[type].mime));
    json_object_set_new(item, "size", json_integer((json_int_t)req->body_len));
    json_object_set_new(item, "sha256", json_string(hex));
    json_object_set_new(item, "created_by", json_string(req->actor ? req->actor : "-"));
    json_object_set_new(item, "created_at", json_string(now));
    rc = history(req, e, id, version, "attachment_add", NULL,
                 json_sprintf("%s：%s（%lld 字节，编号 %lld）", kind_label(req, kind), filename,
                              (long long)req->body_len, (long long)aid),
                 NULL);
    if (rc != MZ_OK) {
        json_decref(item);
        return req->failed ? req->status : mz_fail_err(req, rc);
    }
    return mz_reply_json(req, 201, item);
}

int wb_attachments_download(struct mz_req *req)
{
    int64_t id;
    const struct mz_entity *e = open_record(req, &id, NULL);
    if (e == NULL)
        return req->status;
    int64_t aid = attachment_id_or_fail(req);
    if (aid == 0)
        return req->status;
    struct mz_stmt *st;
    int rc = find_attachment(req, "filename, content_type, data", e, id, aid, &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    rc = mz_db_step(st);
    if (rc != MZ_ROW) {
        mz_db_done(st);
        return rc < 0 ? mz_fail_err(req, rc) : mz_fail(req, 404, "not_found", "附件不存在");
    }
    const char *filename = mz_arena_strdup(req->arena, mz_db_col_text(st, 0));
    const char *mime = mz_arena_strdup(req->arena, mz_db_col_text(st, 1));
    size_t sealed_len = mz_db_col_bytes(st, 2);
    const unsigned char *sealed = mz_db_col_blob(st, 2);
    int status = 0;
    char ctx[160];
    seal_context(ctx, sizeof(ctx), e->name, id);
    size_t plain_len =
        sealed_len >= MZ_CRYPTO_SEAL_OVERHEAD ? sealed_len - MZ_CRYPTO_SEAL_OVERHEAD : 0;
    char *plain = sealed_len >= MZ_CRYPTO_SEAL_OVERHEAD ? malloc(plain_len + 1) : NULL;
    if (plain == NULL || mz_crypto_open_bin(ctx, sealed, sealed_len, plain) != MZ_OK)
        status = mz_fail(req, 500, "attachment_unreadable", "附件无法解密，请联系系统管理员");
    mz_db_done(st);
    /* The plaintext goes to an anonymous memory file the server streams. */
    int fd = -1;
    if (status == 0) {
        fd = memfd_create("attachment", MFD_CLOEXEC);
        size_t off = 0;
        while (fd >= 0 && off < plain_len) {
            ssize_t w = write(fd, plain + off, plain_len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (fd < 0 || off != plain_len || lseek(fd, 0, SEEK_SET) != 0) {
            if (fd >= 0)
                close(fd);
            fd = -1;
            status = mz_fail(req, 500, "internal", "附件读取失败");
        }
    }
    if (plain)
        sodium_memzero(plain, plain_len);
    free(plain);
    if (status != 0)
        return status;
    json_t *detail = json_pack("{sI}", "attachment_id", (json_int_t)aid);
    status = mz_audit(req, "attachment_download", e->name, id, true, detail);
    json_decref(detail);
    if (status != 0) {
        close(fd);
        return status;
    }
    return mz_reply_file(req, 200, mime, fd, filename);
}

int wb_attachments_delete(struct mz_req *req)
{
    int64_t id, version;
    const struct mz_entity *e = open_record(req, &id, &version);
    if (e == NULL)
        return req->status;
    int64_t aid = attachment_id_or_fail(req);
    if (aid == 0)
        return req->status;
    const char *reason = mz_req_query(req, "reason");
    size_t rlen = reason ? strlen(reason) : 0;
    while (reason && (*reason == ' ')) {
        reason++;
        rlen--;
    }
    if (rlen == 0 || !mz_utf8_text_ok(reason, rlen) ||
        mz_utf8_length(reason, rlen) > ATTACHMENT_REASON_MAX)
        return fail_field(req, "reason_required", "请填写删除原因（不超过 200 字）", "reason");
    struct mz_stmt *st;
    int rc = find_attachment(req, "kind, filename", e, id, aid, &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    rc = mz_db_step(st);
    const char *kind = rc == MZ_ROW ? mz_arena_strdup(req->arena, mz_db_col_text(st, 0)) : NULL;
    const char *filename = rc == MZ_ROW ? mz_arena_strdup(req->arena, mz_db_col_text(st, 1)) : NULL;
    mz_db_done(st);
    if (rc < 0)
        return mz_fail_err(req, rc);
    if (kind == NULL)
        return mz_fail(req, 404, "not_found", "附件不存在");
    char now[32];
    mz_now_rfc3339(now);
    rc = mz_db_run(req->db,
                   "UPDATE mz_attachments SET deleted_at = ?, deleted_by = ?, delete_reason = ?"
                   " WHERE id = ? AND deleted_at IS NULL",
                   "ttti", now, req->actor ? req->actor : "-", reason, aid);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    rc = history(
        req, e, id, version, "attachment_delete",
        json_sprintf("%s：%s（编号 %lld）", kind_label(req, kind), filename, (long long)aid), NULL,
        reason);
    if (rc != MZ_OK)
        return req->failed ? req->status : mz_fail_err(req, rc);
    return mz_reply_bytes(req, 204, NULL, NULL, 0);
}

int wb_attachments_rekey(struct mz_app *app, struct mz_db *db, long *values)
{
    (void)app;
    struct mz_stmt *st;
    int rc = mz_db_prepare_uncached(
        db, "SELECT id, entity, row_id, data FROM mz_attachments ORDER BY id", &st);
    if (rc != MZ_OK)
        return rc;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        int64_t aid = mz_db_col_int(st, 0);
        char ctx[160];
        seal_context(ctx, sizeof(ctx), mz_db_col_text(st, 1) ? mz_db_col_text(st, 1) : "",
                     mz_db_col_int(st, 2));
        size_t len = mz_db_col_bytes(st, 3);
        if (len < MZ_CRYPTO_SEAL_OVERHEAD) {
            rc = MZ_ERR_INVALID;
            break;
        }
        unsigned char *plain = malloc(len - MZ_CRYPTO_SEAL_OVERHEAD + 1);
        unsigned char *resealed = malloc(len);
        if (plain == NULL || resealed == NULL) {
            free(plain);
            free(resealed);
            rc = MZ_ERR_NOMEM;
            break;
        }
        rc = mz_crypto_open_bin(ctx, mz_db_col_blob(st, 3), len, plain);
        if (rc == MZ_OK) {
            mz_crypto_seal_bin(ctx, plain, len - MZ_CRYPTO_SEAL_OVERHEAD, resealed);
            struct mz_stmt *up;
            rc = mz_db_prepare_uncached(db, "UPDATE mz_attachments SET data = ? WHERE id = ?", &up);
            if (rc == MZ_OK) {
                mz_db_bind_blob(up, 1, resealed, len);
                mz_db_bind_int(up, 2, aid);
                rc = mz_db_step(up);
                mz_db_finalize(up);
                rc = rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
            }
        }
        sodium_memzero(plain, len - MZ_CRYPTO_SEAL_OVERHEAD);
        free(plain);
        free(resealed);
        if (rc != MZ_OK)
            break;
        (*values)++;
    }
    mz_db_finalize(st);
    return rc < 0 ? rc : MZ_OK;
}
