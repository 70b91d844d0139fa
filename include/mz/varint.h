/* varint.h - zigzag variable-length integers for packed rows.
 *
 * A signed value is zigzagged (small magnitudes either side of zero stay
 * small) and written 7 bits a byte, low bits first, the high bit set on
 * every byte but the last: 1 byte up to ±63, at most 10 bytes. Used by the
 * verification module's result packs and the payroll's payment packs.
 */
#ifndef MZ_VARINT_H
#define MZ_VARINT_H

#include <stdint.h>

/* The most bytes one value takes. */
#define MZ_VARINT_MAX 10

/* Write v at p; returns the byte after it. */
static inline unsigned char *mz_varint_put(unsigned char *p, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (u >= 0x80) {
        *p++ = (unsigned char)(u | 0x80);
        u >>= 7;
    }
    *p++ = (unsigned char)u;
    return p;
}

/* Read a value at p (not past end) into *v; returns the byte after it, or
 * NULL when the bytes end first or run longer than a value can. */
static inline const unsigned char *mz_varint_get(const unsigned char *p, const unsigned char *end,
                                                 int64_t *v)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return NULL;
        unsigned char b = *p++;
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return p;
        }
    }
    return NULL;
}

#endif
