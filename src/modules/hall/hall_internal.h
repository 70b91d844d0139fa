/* hall_internal.h - shared parts of the citizen service hall module
 * (src/modules/hall/): online applications (apply.c), booking (booking.c),
 * progress tracking and the public routes (hall.c). */
#ifndef MZ_HALL_INTERNAL_H
#define MZ_HALL_INTERNAL_H

#include <jansson.h>

#include "mz/engine.h"

extern const struct mz_entity hall_matters;
extern const struct mz_entity hall_applications;
extern const struct mz_entity hall_slots;
extern const struct mz_entity hall_closed_days;
extern const struct mz_entity hall_bookings;

/* True when the caller is a citizen (the engine restricts it to its own rows). */
bool hall_is_citizen(struct mz_req *req);
/* Staff-maintained entities: a validate hook refusing citizens (403). */
int hall_staff_only(struct mz_write *w);
/* Today (Asia/Shanghai) into out[11], and the time of day "HH:MM" into out[6]. */
void hall_today(char out[11]);
void hall_now_hhmm(char out[6]);
/* Is code a matter open online of the given kind ("apply" or "booking")?
 * *program gets its program code (arena) for apply matters. */
bool hall_matter_open(struct mz_req *req, const char *code, const char *kind,
                      const char **program);
/* Is date a closed day (hall_closed_days) for the division or an ancestor? */
int hall_closed_day(struct mz_req *req, const char *date, const char *division12, bool *closed);
/* Can an accepted application of this program become an assistance case? */
bool hall_case_program(const char *program);
/* A new document number: prefix, today's date and 6 random digits (arena). */
const char *hall_number(struct mz_req *req, const char *prefix);
/* The timeline of one application row (unmasked, loaded by the caller) as
 * the citizen may see it; a new reference. */
json_t *hall_timeline(struct mz_req *req, json_t *app_row);

/* Routes (hall.c, apply.c, booking.c). */
int hall_h_public_divisions(struct mz_req *req);
int hall_h_public_matters(struct mz_req *req);
int hall_h_public_slots(struct mz_req *req);
int hall_h_timeline(struct mz_req *req);
int hall_h_track(struct mz_req *req);
int hall_h_slots_generate(struct mz_req *req);

/* `minzheng demo`: slots for the coming weeks, a few citizens with
 * applications and bookings in various states. */
int hall_demo(struct mz_app *app, struct mz_db *db, const char *password, json_t **summary);

#endif
