/* policy_internal.h - what the files of src/modules/policy share.
 *
 *   policy.c   the module descriptor; policy_documents and policy_links, their
 *              workflow and hooks, the full-text index, the public routes
 *   seed.c     the numbered migration that publishes the 2012 work plan, parsed
 *              from the portal record compiled in from data/seed/
 *   citizen.c  citizen accounts: citizen_profiles and POST /public/register
 */
#ifndef MZ_POLICY_INTERNAL_H
#define MZ_POLICY_INTERNAL_H

#include "mz/engine.h"

/* The documents entity (policy.c), for the seed and the public routes. */
extern const struct mz_entity policy_documents;
/* The 主题分类 dictionary (policy.c), for mapping the seed's topic text. */
extern const struct mz_dict policy_topic_dict;
/* The citizens' profile entity (citizen.c). */
extern const struct mz_entity policy_citizen_profiles;

/* Put one document's title and body into the full-text index (replacing what
 * was there), or take it out when title is NULL. 0 or a negative mz_err. */
int policy_fts_put(struct mz_db *db, int64_t id, const char *title, const char *body);

/* The migration step that inserts the seed document (seed.c). */
int policy_seed_migrate(struct mz_db *db);

/* POST /api/v1/public/register (citizen.c). */
int policy_h_register(struct mz_req *req);

/* True when the caller may see only the rows it created (a citizen): such
 * callers must not write the bureau's documents. */
bool policy_caller_is_citizen(struct mz_req *req);

#endif
