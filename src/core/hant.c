/* hant.c - Simplified to Traditional Chinese with OpenCC (see mz/hant.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <opencc.h>

#include "mz/hant.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static opencc_t converter = (opencc_t)-1;
static bool tried;

/* Open the converter once (caller holds the lock). */
static bool open_locked(void)
{
    if (!tried) {
        tried = true;
        const char *config = getenv("MZ_OPENCC_CONFIG");
        converter = opencc_open(config && *config ? config : "s2t.json");
        if (converter == (opencc_t)-1)
            converter = opencc_open("/usr/share/opencc/s2t.json");
        if (converter == (opencc_t)-1)
            mz_error("OpenCC: cannot open s2t.json (%s): Traditional Chinese is unavailable",
                     opencc_error());
    }
    return converter != (opencc_t)-1;
}

bool mz_hant_ready(void)
{
    pthread_mutex_lock(&lock);
    bool ok = open_locked();
    pthread_mutex_unlock(&lock);
    return ok;
}

int mz_hant(struct mz_arena *a, const char *in, const char **out)
{
    *out = in;
    if (in == NULL || *in == '\0')
        return MZ_OK;
    /* Pure ASCII (codes, numbers, dates) needs no conversion. */
    const unsigned char *p = (const unsigned char *)in;
    while (*p && *p < 0x80)
        p++;
    if (*p == '\0')
        return MZ_OK;
    pthread_mutex_lock(&lock);
    if (!open_locked()) {
        pthread_mutex_unlock(&lock);
        return MZ_ERR_NOTFOUND;
    }
    char *t = opencc_convert_utf8(converter, in, strlen(in));
    pthread_mutex_unlock(&lock);
    if (t == NULL)
        return MZ_ERR_INVALID;
    *out = mz_arena_strdup(a, t);
    opencc_convert_utf8_free(t);
    return MZ_OK;
}

void mz_hant_close(void)
{
    pthread_mutex_lock(&lock);
    if (converter != (opencc_t)-1)
        opencc_close(converter);
    converter = (opencc_t)-1;
    tried = false;
    pthread_mutex_unlock(&lock);
}
