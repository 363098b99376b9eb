/*
 * orbital.h — header-only C binding of Orbital's orbital_v1 guest ABI
 * (docs/ABI.md). Build with clang --target=wasm32-wasi; link with
 * -Wl,--allow-undefined (the imports are resolved by the kernel).
 *
 *   orbital_NAME(...)   the ABI function NAME, exactly as the kernel exports it
 *   orb_*(...)          small inline helpers over them (NUL-terminated strings,
 *                       envelope decoding, receive loops)
 *
 * Every function returning int32_t answers >= 0 on success and one of the
 * negative ORB_ERR_* codes on failure.
 *
 * A service's _start (main) usually loops:
 *
 *     static uint8_t buf[4096];
 *     orb_msg m;
 *     for (;;) {
 *         int32_t n = orb_recv(&m, buf, sizeof buf, -1);
 *         if (n == ORB_ERR_CLOSED) return 0;     // the kernel stops us
 *         if (n < 0) return 1;                   // denied, or buffer too small
 *         if (m.reply_len) orb_reply(&m, m.data, m.data_len);
 *         orb_msg_done(&m);                      // release its blob, if any
 *     }
 *
 * orb_recv_grow does the same with a malloc'd buffer that grows to fit
 * (define ORB_NO_MALLOC to leave it out).
 *
 * Calling a function of a library module (docs/ABI.md, "Calls between
 * modules"; the caller's orbital.toml lists the library under
 * [dependencies] and the node grants the call):
 *
 *     char out[256], err[256];
 *     int64_t n = orb_call_simple("vision", "brightness", pixels, len, out, sizeof out);
 *     if (n < 0) {                                 // ORB_ERR_FAILED, _NOT_FOUND, …
 *         orb_call_error(err, sizeof err);         // the kernel's message
 *         orb_log(ORB_WARN, err);
 *     } else if (n > (int64_t)sizeof out) { … }    // too big: orb_call_result
 *
 * A library's _start serves calls with orb_serve_grow (or orbital_call_serve)
 * and orb_call_decode.
 */
#ifndef ORBITAL_H
#define ORBITAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifndef ORB_NO_MALLOC
#include <stdlib.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes ------------------------------------------------------- */

#define ORB_ERR_DENIED    (-1) /* not permitted by the [bus] capabilities, or a reserved $sys. subject */
#define ORB_ERR_INVALID   (-2) /* malformed subject/pattern/name or out-of-bounds memory */
#define ORB_ERR_TOO_BIG   (-3) /* message larger than the node's or the module's maximum */
#define ORB_ERR_NOT_FOUND (-4) /* no such process, subscription, blob; or no responders */
#define ORB_ERR_TIMEOUT   (-5) /* the request's timeout passed */
#define ORB_ERR_LIMIT     (-6) /* a quota (blob memory, subscriptions, mailbox) is exhausted */
#define ORB_ERR_CLOSED    (-7) /* the process is being stopped: return from _start now */
#define ORB_ERR_BUFFER    (-8) /* recv/request/call_serve buffer too small; a recv'd message or served call is kept */
#define ORB_ERR_CYCLE     (-9) /* a call would re-enter a library already on the call chain */
#define ORB_ERR_FAILED   (-10) /* the called function returned an error: orb_call_error has its message */
#define ORB_ERR_CRASHED  (-11) /* the callee trapped, ran out of memory or was killed serving the call */
#define ORB_ERR_VERSION  (-12) /* no available version of the library satisfies the caller's range */
#define ORB_ERR_UNAVAILABLE (-13) /* the library runs on other nodes and none could be reached in time */

/* Log levels. */
#define ORB_DEBUG 0
#define ORB_INFO  1
#define ORB_WARN  2
#define ORB_ERROR 3

/* Envelope kinds. */
#define ORB_KIND_PUBLISH 0 /* published on a subscribed subject */
#define ORB_KIND_SEND    1 /* sent directly to this process */
#define ORB_KIND_REQUEST 2 /* a request: has a reply subject */

/* Timeouts for orbital_recv / orb_recv. */
#define ORB_FOREVER (-1)
#define ORB_POLL    0

/* Limits. */
#define ORB_MAX_BINDINGS 4096  /* call_bind handles a process may hold; one more is ORB_ERR_LIMIT */
#define ORB_MAX_LOG_LINE 16384 /* bytes of one log line; longer ones are truncated */

/* Raster (docs/ABI.md, "Raster"): surface_create flags. */
#define ORB_RASTER_WINDOW   1 /* the process's window: double-buffered, shown by the compositor */
#define ORB_RASTER_DEPTH32F 2 /* a 32-bit float depth buffer */
#define ORB_RASTER_DEPTH24  4 /* a 24-bit integer depth buffer */
#define ORB_RASTER_PRESERVE 8 /* present copies the back buffer (it keeps its content) instead of swapping */

/* Raster: command-list encoding. */
#define ORB_RASTER_CMD_HEADER 8  /* u16 opcode, u16 reserved (0), u32 payload bytes */
#define ORB_RASTER_VERTEX     40 /* f32 x y z w r g b a u v */

/* Raster: command opcodes. */
#define ORB_RASTER_CLEAR     1 /* u32 rgba, f32 depth, u32 mask */
#define ORB_RASTER_DEPTH     2 /* u32 func, u32 write */
#define ORB_RASTER_BLEND     3 /* u32 mode */
#define ORB_RASTER_SCISSOR   4 /* i32 x, y, w, h (all 0: off) */
#define ORB_RASTER_CULL      5 /* u32 mode */
#define ORB_RASTER_TEXTURE   6 /* u32 surface (0: none), u32 filter, u32 wrap */
#define ORB_RASTER_TRIANGLES 7 /* vertices, three per triangle */
#define ORB_RASTER_INDEXED   8 /* u32 nvert, vertices, u32 indices (three per triangle) */
#define ORB_RASTER_BLIT      9 /* u32 surface, i32 sx, sy, sw, sh, dx, dy, dw, dh */

/* Raster: CLEAR mask. */
#define ORB_RASTER_CLEAR_COLOR 1
#define ORB_RASTER_CLEAR_DEPTH 2

/* Raster: depth functions (a fragment passes when its depth compares so with the buffer's). */
#define ORB_RASTER_ALWAYS   0 /* the default: no test */
#define ORB_RASTER_NEVER    1
#define ORB_RASTER_LESS     2
#define ORB_RASTER_LEQUAL   3
#define ORB_RASTER_EQUAL    4
#define ORB_RASTER_GREATER  5
#define ORB_RASTER_GEQUAL   6
#define ORB_RASTER_NOTEQUAL 7

/* Raster: blend modes, on premultiplied colours. */
#define ORB_RASTER_BLEND_NONE     0 /* replace (the default) */
#define ORB_RASTER_BLEND_OVER     1 /* source-over */
#define ORB_RASTER_BLEND_ADD      2 /* additive, saturating */
#define ORB_RASTER_BLEND_MULTIPLY 3
#define ORB_RASTER_BLEND_SCREEN   4

/* Raster: face culling (y points down: clockwise on screen is a back face). */
#define ORB_RASTER_CULL_NONE  0 /* the default */
#define ORB_RASTER_CULL_BACK  1 /* drop clockwise-on-screen triangles */
#define ORB_RASTER_CULL_FRONT 2 /* drop counter-clockwise-on-screen triangles */

/* Raster: texture filter and wrap. */
#define ORB_RASTER_NEAREST 0
#define ORB_RASTER_LINEAR  1
#define ORB_RASTER_CLAMP   0
#define ORB_RASTER_REPEAT  1

/* Raster: limits. */
#define ORB_RASTER_MAX_SIDE  8192    /* the largest surface side in pixels */
#define ORB_RASTER_MAX_COORD 1048576 /* the largest |x| or |y| of a vertex in pixels (2^20) */

/* ---- the imports ------------------------------------------------------- */

#define ORB_IMPORT(name) __attribute__((import_module("orbital_v1"), import_name(name)))

/* Pointers are addresses in this module's memory; lengths are byte counts. */
ORB_IMPORT("nop") void orbital_nop(void);
ORB_IMPORT("log") void orbital_log(int32_t level, const void *msg, int32_t len);
ORB_IMPORT("publish") int32_t orbital_publish(const void *subj, int32_t subj_len, const void *data, int32_t data_len);
ORB_IMPORT("subscribe") int32_t orbital_subscribe(const void *pattern, int32_t pattern_len, const void *queue, int32_t queue_len);
ORB_IMPORT("unsubscribe") int32_t orbital_unsubscribe(int32_t id);
ORB_IMPORT("send") int32_t orbital_send(const void *to, int32_t to_len, const void *data, int32_t data_len);
ORB_IMPORT("request") int32_t orbital_request(const void *subj, int32_t subj_len, const void *data, int32_t data_len,
                                              int32_t timeout_ms, void *buf, int32_t buf_cap);
ORB_IMPORT("reply") int32_t orbital_reply(const void *reply, int32_t reply_len, const void *data, int32_t data_len);
ORB_IMPORT("recv") int32_t orbital_recv(void *buf, int32_t buf_cap, int32_t timeout_ms);
ORB_IMPORT("recv_size") int32_t orbital_recv_size(void);
ORB_IMPORT("blob_create") int64_t orbital_blob_create(const void *data, int32_t len);
ORB_IMPORT("blob_publish") int32_t orbital_blob_publish(const void *subj, int32_t subj_len, int64_t blob);
ORB_IMPORT("blob_len") int64_t orbital_blob_len(int64_t blob);
ORB_IMPORT("blob_read") int32_t orbital_blob_read(int64_t blob, int64_t offset, void *buf, int32_t len);
ORB_IMPORT("blob_release") int32_t orbital_blob_release(int64_t blob);
ORB_IMPORT("call_bind") int32_t orbital_call_bind(const void *lib, int32_t lib_len, const void *fn, int32_t fn_len);
ORB_IMPORT("call") int64_t orbital_call(int32_t handle, const void *args, int32_t args_len, void *res, int32_t res_cap);
ORB_IMPORT("call_result") int32_t orbital_call_result(void *buf, int32_t cap);
ORB_IMPORT("call_error") int32_t orbital_call_error(void *buf, int32_t cap);
ORB_IMPORT("call_serve") int32_t orbital_call_serve(int32_t status, const void *res, int32_t res_len, void *buf,
                                                    int32_t buf_cap);
ORB_IMPORT("call_size") int32_t orbital_call_size(void);
ORB_IMPORT("config") int32_t orbital_config(void *buf, int32_t cap);
/* sock_connect: dial a granted HOST:PORT; the connection's WASI fd is written at fd. */
ORB_IMPORT("sock_connect") int32_t orbital_sock_connect(const void *addr, int32_t addr_len, int32_t *fd);
/* Raster surfaces (need a display grant: ORB_ERR_DENIED otherwise). */
ORB_IMPORT("surface_create") int32_t orbital_surface_create(int32_t width, int32_t height, uint32_t flags);
ORB_IMPORT("surface_destroy") int32_t orbital_surface_destroy(int32_t surface);
ORB_IMPORT("surface_submit") int32_t orbital_surface_submit(int32_t surface, const void *cmds, int32_t len);
ORB_IMPORT("surface_write") int32_t orbital_surface_write(int32_t surface, int32_t x, int32_t y, int32_t w, int32_t h,
                                                          const void *pixels, int32_t stride);
ORB_IMPORT("surface_present") int32_t orbital_surface_present(int32_t surface);
ORB_IMPORT("surface_present_blob") int32_t orbital_surface_present_blob(int32_t surface, int64_t blob);
ORB_IMPORT("surface_error") int32_t orbital_surface_error(void *buf, int32_t cap);

/* ---- the envelope ------------------------------------------------------ */

/*
 * The envelope recv writes (little-endian, which wasm always is):
 *
 *   0  u32 kind   4 u32 subject_len   8 u32 reply_len   12 u32 from_len
 *   16 u32 data_len   20 u64 blob (0 = none)   28 subject, reply, from, data
 *
 * The blob field sits at offset 20, so it is not 8-byte aligned: read the
 * header with orb_decode, not by casting the buffer to a struct.
 */
#define ORB_ENVELOPE_HEADER 28

/* A decoded message. Its pointers point into the receive buffer; the
 * strings are NOT NUL-terminated. blob != 0 means this process holds one
 * reference to that blob and must release it (orb_msg_done does). */
typedef struct orb_msg {
    uint32_t kind;
    const char *subject;
    uint32_t subject_len;
    const char *reply; /* reply subject of a request; reply_len 0 otherwise */
    uint32_t reply_len;
    const char *from; /* sender's process name; from_len 0 when the kernel sent it */
    uint32_t from_len;
    const uint8_t *data;
    uint32_t data_len;
    int64_t blob;
} orb_msg;

static inline uint32_t orb__u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* orb_decode parses the envelope of n bytes at buf into m. Returns 0, or
 * ORB_ERR_INVALID when buf is shorter than the lengths it declares. */
static inline int32_t orb_decode(const void *buf, size_t n, orb_msg *m) {
    const uint8_t *b = (const uint8_t *)buf;
    if (n < ORB_ENVELOPE_HEADER) return ORB_ERR_INVALID;
    uint64_t ls = orb__u32(b + 4), lr = orb__u32(b + 8), lf = orb__u32(b + 12), ld = orb__u32(b + 16);
    if (ORB_ENVELOPE_HEADER + ls + lr + lf + ld > (uint64_t)n) return ORB_ERR_INVALID;
    m->kind = orb__u32(b);
    memcpy(&m->blob, b + 20, sizeof m->blob);
    const uint8_t *p = b + ORB_ENVELOPE_HEADER;
    m->subject = (const char *)p;
    m->subject_len = (uint32_t)ls;
    p += ls;
    m->reply = (const char *)p;
    m->reply_len = (uint32_t)lr;
    p += lr;
    m->from = (const char *)p;
    m->from_len = (uint32_t)lf;
    p += lf;
    m->data = p;
    m->data_len = (uint32_t)ld;
    return 0;
}

/* orb_msg_is reports whether the message's subject is exactly s. */
static inline int orb_msg_is(const orb_msg *m, const char *s) {
    size_t n = strlen(s);
    return m->subject_len == n && memcmp(m->subject, s, n) == 0;
}

/* ---- receiving --------------------------------------------------------- */

/*
 * orb_recv waits up to timeout_ms (ORB_FOREVER, ORB_POLL or milliseconds)
 * for the next message, writes its envelope to buf and decodes it into m.
 * Returns the envelope's length (> 0), 0 on timeout, ORB_ERR_CLOSED when the
 * process must stop, or ORB_ERR_BUFFER when the message needs more than cap
 * bytes — it stays in the mailbox, orbital_recv_size() tells how many, and
 * nothing can skip it: grow the buffer (orb_recv_grow) or stop.
 */
static inline int32_t orb_recv(orb_msg *m, void *buf, size_t cap, int32_t timeout_ms) {
    if (cap > INT32_MAX) cap = INT32_MAX;
    int32_t n = orbital_recv(buf, (int32_t)cap, timeout_ms);
    if (n > 0 && orb_decode(buf, (size_t)n, m) != 0) return ORB_ERR_INVALID;
    return n;
}

#ifndef ORB_NO_MALLOC
/* A receive buffer that grows to fit: start with {0} (or a preallocated
 * malloc'd block). */
typedef struct orb_buf {
    uint8_t *p;
    size_t cap;
} orb_buf;

/* orb_recv_grow is orb_recv into b, growing b with realloc when a message
 * does not fit. Returns as orb_recv does, and ORB_ERR_LIMIT when the buffer
 * cannot grow. */
static inline int32_t orb_recv_grow(orb_msg *m, orb_buf *b, int32_t timeout_ms) {
    for (int tries = 0;; tries++) {
        if (b->p == NULL || b->cap == 0) {
            uint8_t *p = (uint8_t *)realloc(b->p, 4096);
            if (p == NULL) return ORB_ERR_LIMIT;
            b->p = p;
            b->cap = 4096;
        }
        int32_t n = orb_recv(m, b->p, b->cap, timeout_ms);
        if (n != ORB_ERR_BUFFER) return n;
        int32_t need = orbital_recv_size();
        if (need > 0 && (size_t)need > b->cap) {
            uint8_t *p = (uint8_t *)realloc(b->p, (size_t)need);
            if (p == NULL) return ORB_ERR_LIMIT;
            b->p = p;
            b->cap = (size_t)need;
        } else if (tries >= 3) {
            return ORB_ERR_BUFFER; /* the kernel contradicts itself: give up */
        }
        /* else the pending message changed meanwhile: try again */
    }
}
#endif

/* orb_msg_done releases the message's blob reference, if it carries one. */
static inline void orb_msg_done(orb_msg *m) {
    if (m->blob != 0) {
        orbital_blob_release(m->blob);
        m->blob = 0;
    }
}

/* ---- sending ----------------------------------------------------------- */

/* Subjects, patterns and names below are NUL-terminated strings. */

static inline int32_t orb_publish(const char *subject, const void *data, size_t len) {
    return orbital_publish(subject, (int32_t)strlen(subject), data, (int32_t)len);
}

/* orb_publish_str publishes the NUL-terminated text (without the NUL). */
static inline int32_t orb_publish_str(const char *subject, const char *text) {
    return orb_publish(subject, text, strlen(text));
}

/* orb_subscribe returns a subscription id > 0, or an error. */
static inline int32_t orb_subscribe(const char *pattern) {
    return orbital_subscribe(pattern, (int32_t)strlen(pattern), NULL, 0);
}

static inline int32_t orb_queue_subscribe(const char *pattern, const char *queue) {
    return orbital_subscribe(pattern, (int32_t)strlen(pattern), queue, (int32_t)strlen(queue));
}

static inline int32_t orb_unsubscribe(int32_t id) { return orbital_unsubscribe(id); }

static inline int32_t orb_send(const char *to, const void *data, size_t len) {
    return orbital_send(to, (int32_t)strlen(to), data, (int32_t)len);
}

/* orb_request publishes a request and waits up to timeout_ms (> 0) for the
 * first reply, whose data it writes to buf. Returns the reply's length, or
 * ORB_ERR_BUFFER when it exceeded cap (the reply is then lost). */
static inline int32_t orb_request(const char *subject, const void *data, size_t len, int32_t timeout_ms,
                                  void *buf, size_t cap) {
    if (cap > INT32_MAX) cap = INT32_MAX;
    return orbital_request(subject, (int32_t)strlen(subject), data, (int32_t)len, timeout_ms, buf, (int32_t)cap);
}

/* orb_reply answers the request m. ORB_ERR_INVALID if m is not a request. */
static inline int32_t orb_reply(const orb_msg *m, const void *data, size_t len) {
    if (m->reply_len == 0) return ORB_ERR_INVALID;
    return orbital_reply(m->reply, (int32_t)m->reply_len, data, (int32_t)len);
}

/* orb_send_back sends data directly to m's sender. */
static inline int32_t orb_send_back(const orb_msg *m, const void *data, size_t len) {
    if (m->from_len == 0) return ORB_ERR_INVALID;
    return orbital_send(m->from, (int32_t)m->from_len, data, (int32_t)len);
}

/* ---- blobs ------------------------------------------------------------- */

/* orb_blob_create copies len bytes into a new blob: a handle > 0, or an error. */
static inline int64_t orb_blob_create(const void *data, size_t len) {
    return orbital_blob_create(data, (int32_t)len);
}
static inline int32_t orb_blob_publish(const char *subject, int64_t blob) {
    return orbital_blob_publish(subject, (int32_t)strlen(subject), blob);
}
static inline int64_t orb_blob_len(int64_t blob) { return orbital_blob_len(blob); }
/* orb_blob_read copies up to len bytes from offset; returns the count copied. */
static inline int32_t orb_blob_read(int64_t blob, int64_t offset, void *buf, size_t len) {
    return orbital_blob_read(blob, offset, buf, (int32_t)len);
}
static inline int32_t orb_blob_release(int64_t blob) { return orbital_blob_release(blob); }

/* ---- calls between modules: caller ------------------------------------- */

/* Library and function names below are NUL-terminated strings. */

/* orb_call_bind resolves lib.fn: a handle >= 0 to call many times, or
 * ORB_ERR_DENIED (not granted), ORB_ERR_NOT_FOUND, ORB_ERR_VERSION,
 * ORB_ERR_LIMIT. Each successful bind takes one of the process's 4096
 * handles: bind once (or use orb_call_simple). */
static inline int32_t orb_call_bind(const char *lib, const char *fn) {
    return orbital_call_bind(lib, (int32_t)strlen(lib), fn, (int32_t)strlen(fn));
}

/* orb_call calls the bound function with len bytes of args and waits.
 * Returns the result's length, or an ORB_ERR_* code (ORB_ERR_FAILED: the
 * function returned an error; orb_call_error has its message). The result
 * is at out only when its length is <= cap; otherwise nothing was written
 * and the kernel keeps it for orb_call_result, until the next call. */
static inline int64_t orb_call(int32_t handle, const void *args, size_t len, void *out, size_t cap) {
    if (cap > INT32_MAX) cap = INT32_MAX;
    return orbital_call(handle, args, (int32_t)len, out, (int32_t)cap);
}

/* orb_call_result fetches a result that did not fit: its length, or
 * ORB_ERR_BUFFER (still too small) or ORB_ERR_NOT_FOUND (none kept). */
static inline int32_t orb_call_result(void *buf, size_t cap) {
    if (cap > INT32_MAX) cap = INT32_MAX;
    return orbital_call_result(buf, (int32_t)cap);
}

/* orb_call_error writes the message of the last failed bind or call to buf
 * (cap > 0) as a NUL-terminated string, truncated to cap - 1 bytes, and
 * returns its length. */
static inline int32_t orb_call_error(char *buf, size_t cap) {
    if (cap == 0) return ORB_ERR_INVALID;
    if (cap - 1 > INT32_MAX) cap = (size_t)INT32_MAX + 1;
    int32_t n = orbital_call_error(buf, (int32_t)(cap - 1));
    buf[n > 0 ? n : 0] = 0;
    return n;
}

/* How many bindings orb_call_simple keeps (per translation unit). */
#ifndef ORB_CALL_CACHE
#define ORB_CALL_CACHE 16
#endif

/* orb_call_bound returns a handle for lib.fn, binding it on first use and
 * keeping the last ORB_CALL_CACHE bindings. A failed bind is not kept, so
 * a library that appears later is found. */
static inline int32_t orb_call_bound(const char *lib, const char *fn) {
    static struct {
        char lib[129]; /* module names have at most 128 characters */
        char fn[65];   /* function names at most 64 */
        int32_t h;
    } cache[ORB_CALL_CACHE];
    static unsigned used, next;
    size_t ll = strlen(lib), fl = strlen(fn);
    for (unsigned i = 0; i < used; i++)
        if (strcmp(cache[i].lib, lib) == 0 && strcmp(cache[i].fn, fn) == 0) return cache[i].h;
    int32_t h = orbital_call_bind(lib, (int32_t)ll, fn, (int32_t)fl);
    if (h < 0 || ll >= sizeof cache[0].lib || fl >= sizeof cache[0].fn) return h;
    unsigned i = used < ORB_CALL_CACHE ? used++ : next++ % ORB_CALL_CACHE;
    memcpy(cache[i].lib, lib, ll + 1);
    memcpy(cache[i].fn, fn, fl + 1);
    cache[i].h = h;
    return h;
}

/* orb_call_simple calls lib.fn (bound on first use, see orb_call_bound)
 * and returns as orb_call does: the result's length (written to out only
 * when <= cap) or an ORB_ERR_* code. */
static inline int64_t orb_call_simple(const char *lib, const char *fn, const void *args, size_t len, void *out,
                                      size_t cap) {
    int32_t h = orb_call_bound(lib, fn);
    if (h < 0) return h;
    return orb_call(h, args, len, out, cap);
}

/* ---- calls between modules: library ------------------------------------ */

/* Statuses for orbital_call_serve. */
#define ORB_SERVE_NONE   (-1) /* no result: the first turn, or a retry after ORB_ERR_BUFFER */
#define ORB_SERVE_OK     0    /* the bytes are the result */
#define ORB_SERVE_FAILED 1    /* the bytes are an error message: the caller gets ORB_ERR_FAILED */

/* The fixed part of a call as call_serve writes it:
 *   0 u32 fn_len   4 u32 args_len   8 fn bytes, then args bytes */
#define ORB_CALL_HEADER 8

/* A decoded call. Its pointers point into the receive buffer (valid until
 * the next call_serve); fn is NOT NUL-terminated. */
typedef struct orb_call_req {
    const char *fn;
    uint32_t fn_len;
    const uint8_t *args;
    uint32_t args_len;
} orb_call_req;

/* orb_call_decode parses the call of n bytes at buf into c. Returns 0, or
 * ORB_ERR_INVALID when buf is shorter than the lengths it declares. */
static inline int32_t orb_call_decode(const void *buf, size_t n, orb_call_req *c) {
    const uint8_t *b = (const uint8_t *)buf;
    if (n < ORB_CALL_HEADER) return ORB_ERR_INVALID;
    uint64_t lf = orb__u32(b), la = orb__u32(b + 4);
    if (ORB_CALL_HEADER + lf + la > (uint64_t)n) return ORB_ERR_INVALID;
    c->fn = (const char *)(b + ORB_CALL_HEADER);
    c->fn_len = (uint32_t)lf;
    c->args = b + ORB_CALL_HEADER + lf;
    c->args_len = (uint32_t)la;
    return 0;
}

/* orb_call_is reports whether the call is of the function named name. */
static inline int orb_call_is(const orb_call_req *c, const char *name) {
    size_t n = strlen(name);
    return c->fn_len == n && memcmp(c->fn, name, n) == 0;
}

#ifndef ORB_NO_MALLOC
/* orb_serve_grow returns the previous call's result (status ORB_SERVE_OK or
 * ORB_SERVE_FAILED with res_len bytes at res; ORB_SERVE_NONE on the first
 * turn), then waits for the next call, receives it into b (growing b with
 * realloc when it does not fit) and decodes it into c. Returns the call's
 * length (> 0), ORB_ERR_CLOSED when the library must stop (return from
 * _start), or another error. res may point into b: it is read before b
 * changes. */
static inline int32_t orb_serve_grow(int32_t status, const void *res, size_t res_len, orb_call_req *c, orb_buf *b) {
    for (int tries = 0;; tries++) {
        if (b->p == NULL || b->cap == 0) {
            uint8_t *p = (uint8_t *)realloc(b->p, 4096);
            if (p == NULL) return ORB_ERR_LIMIT;
            b->p = p;
            b->cap = 4096;
        }
        size_t cap = b->cap > INT32_MAX ? INT32_MAX : b->cap;
        int32_t n = orbital_call_serve(status, res, (int32_t)res_len, b->p, (int32_t)cap);
        status = ORB_SERVE_NONE; /* the result, if any, has been returned */
        res = NULL;
        res_len = 0;
        if (n > 0) return orb_call_decode(b->p, (size_t)n, c) == 0 ? n : ORB_ERR_INVALID;
        if (n != ORB_ERR_BUFFER) return n;
        int32_t need = orbital_call_size();
        if (need > 0 && (size_t)need > b->cap) {
            uint8_t *p = (uint8_t *)realloc(b->p, (size_t)need);
            if (p == NULL) return ORB_ERR_LIMIT;
            b->p = p;
            b->cap = (size_t)need;
        } else if (tries >= 3) {
            return ORB_ERR_BUFFER; /* the kernel contradicts itself: give up */
        }
    }
}
#endif

/* ---- raster surfaces -------------------------------------------------- */

/*
 * A frame is one command list built into a buffer of the caller's and one
 * orbital_surface_submit (docs/ABI.md, "Raster"):
 *
 *     static uint8_t cmds[4096];
 *     int32_t win = orbital_surface_create(320, 240, ORB_RASTER_WINDOW);
 *     int32_t n = 0;
 *     n = orb_cmd_clear(cmds, sizeof cmds, n, 0xffffffff, 1.0f, ORB_RASTER_CLEAR_COLOR);
 *     n = orb_cmd_triangles(cmds, sizeof cmds, n, verts, 3);
 *     if (n < 0) …                                  // the buffer was too small
 *     orbital_surface_submit(win, cmds, n);
 *     orbital_surface_present(win);
 *
 * Each orb_cmd_* appends one command at offset len and returns the new
 * length, or -1 when it does not fit in cap (or len is already -1, so a
 * chain of calls needs one check at the end). Every list starts from the
 * defaults: depth ORB_RASTER_ALWAYS without write, ORB_RASTER_BLEND_NONE,
 * no scissor, ORB_RASTER_CULL_NONE, no texture.
 */

/* A vertex: x, y in surface pixels (y down), z the depth in [0, 1], w the
 * clip-space w (1 for 2D; triangles with a w <= 0 are dropped), a straight
 * (not premultiplied) colour in [0, 1], texture coordinates u, v. */
typedef struct orb_vertex {
    float x, y, z, w;
    float r, g, b, a;
    float u, v;
} orb_vertex;

typedef char orb__vertex_size[sizeof(orb_vertex) == ORB_RASTER_VERTEX ? 1 : -1];

/* orb__cmd writes a header for a payload of n bytes and returns where the
 * payload goes, or NULL when it does not fit. */
static inline uint8_t *orb__cmd(uint8_t *buf, size_t cap, int32_t len, uint16_t op, size_t n) {
    if (len < 0 || (size_t)len > cap || n > cap - (size_t)len || cap - (size_t)len - n < ORB_RASTER_CMD_HEADER ||
        (size_t)len + ORB_RASTER_CMD_HEADER + n > INT32_MAX)
        return NULL;
    uint8_t *p = buf + len;
    uint16_t hdr[2] = {op, 0};
    uint32_t pn = (uint32_t)n;
    memcpy(p, hdr, sizeof hdr);
    memcpy(p + 4, &pn, sizeof pn);
    return p + ORB_RASTER_CMD_HEADER;
}

/* orb__cmd_u32 appends a command whose payload is k 32-bit words. */
static inline int32_t orb__cmd_u32(uint8_t *buf, size_t cap, int32_t len, uint16_t op, const uint32_t *w, size_t k) {
    uint8_t *p = orb__cmd(buf, cap, len, op, 4 * k);
    if (p == NULL) return -1;
    memcpy(p, w, 4 * k);
    return len + ORB_RASTER_CMD_HEADER + (int32_t)(4 * k);
}

/* orb_cmd_clear fills the colour buffer with rgba (straight alpha, R in the
 * low byte: 0xAABBGGRR) and/or the depth buffer with depth, as mask
 * (ORB_RASTER_CLEAR_COLOR | ORB_RASTER_CLEAR_DEPTH) says. */
static inline int32_t orb_cmd_clear(uint8_t *buf, size_t cap, int32_t len, uint32_t rgba, float depth, uint32_t mask) {
    uint32_t w[3] = {rgba, 0, mask};
    memcpy(&w[1], &depth, 4);
    return orb__cmd_u32(buf, cap, len, ORB_RASTER_CLEAR, w, 3);
}

/* orb_cmd_depth sets the depth test (ORB_RASTER_ALWAYS … _NOTEQUAL) and
 * whether passing fragments write their depth (0 or 1). */
static inline int32_t orb_cmd_depth(uint8_t *buf, size_t cap, int32_t len, uint32_t fn, int write) {
    uint32_t w[2] = {fn, write ? 1u : 0u};
    return orb__cmd_u32(buf, cap, len, ORB_RASTER_DEPTH, w, 2);
}

/* orb_cmd_blend sets the blend mode (ORB_RASTER_BLEND_*). */
static inline int32_t orb_cmd_blend(uint8_t *buf, size_t cap, int32_t len, uint32_t mode) {
    return orb__cmd_u32(buf, cap, len, ORB_RASTER_BLEND, &mode, 1);
}

/* orb_cmd_cull sets face culling (ORB_RASTER_CULL_*). */
static inline int32_t orb_cmd_cull(uint8_t *buf, size_t cap, int32_t len, uint32_t mode) {
    return orb__cmd_u32(buf, cap, len, ORB_RASTER_CULL, &mode, 1);
}

/* orb_cmd_scissor limits drawing (and clears) to a rectangle; all 0: off. */
static inline int32_t orb_cmd_scissor(uint8_t *buf, size_t cap, int32_t len, int32_t x, int32_t y, int32_t w,
                                      int32_t h) {
    uint32_t a[4] = {(uint32_t)x, (uint32_t)y, (uint32_t)w, (uint32_t)h};
    return orb__cmd_u32(buf, cap, len, ORB_RASTER_SCISSOR, a, 4);
}

/* orb_cmd_texture binds surface (0: none) for the triangles that follow. */
static inline int32_t orb_cmd_texture(uint8_t *buf, size_t cap, int32_t len, uint32_t surface, uint32_t filter,
                                      uint32_t wrap) {
    uint32_t w[3] = {surface, filter, wrap};
    return orb__cmd_u32(buf, cap, len, ORB_RASTER_TEXTURE, w, 3);
}

/* orb_cmd_triangles draws n / 3 triangles of the n vertices at v. */
static inline int32_t orb_cmd_triangles(uint8_t *buf, size_t cap, int32_t len, const orb_vertex *v, size_t n) {
    if (n > (size_t)INT32_MAX / ORB_RASTER_VERTEX) return -1;
    uint8_t *p = orb__cmd(buf, cap, len, ORB_RASTER_TRIANGLES, n * ORB_RASTER_VERTEX);
    if (p == NULL) return -1;
    if (n) memcpy(p, v, n * ORB_RASTER_VERTEX);
    return len + ORB_RASTER_CMD_HEADER + (int32_t)(n * ORB_RASTER_VERTEX);
}

/* orb_cmd_indexed draws ni / 3 triangles whose corners are indices into the
 * nv vertices at v. */
static inline int32_t orb_cmd_indexed(uint8_t *buf, size_t cap, int32_t len, const orb_vertex *v, size_t nv,
                                      const uint32_t *idx, size_t ni) {
    if (nv > (size_t)INT32_MAX / ORB_RASTER_VERTEX || ni > (size_t)INT32_MAX / 4) return -1;
    size_t n = 4 + nv * ORB_RASTER_VERTEX + 4 * ni;
    uint8_t *p = orb__cmd(buf, cap, len, ORB_RASTER_INDEXED, n);
    if (p == NULL) return -1;
    uint32_t count = (uint32_t)nv;
    memcpy(p, &count, 4);
    if (nv) memcpy(p + 4, v, nv * ORB_RASTER_VERTEX);
    if (ni) memcpy(p + 4 + nv * ORB_RASTER_VERTEX, idx, 4 * ni);
    return len + ORB_RASTER_CMD_HEADER + (int32_t)n;
}

/* orb_cmd_blit copies the rectangle (sx, sy, sw, sh) of surface onto
 * (dx, dy, dw, dh), scaling with nearest sampling, blended with the
 * current mode. */
static inline int32_t orb_cmd_blit(uint8_t *buf, size_t cap, int32_t len, uint32_t surface, int32_t sx, int32_t sy,
                                   int32_t sw, int32_t sh, int32_t dx, int32_t dy, int32_t dw, int32_t dh) {
    uint32_t w[9] = {surface,      (uint32_t)sx, (uint32_t)sy, (uint32_t)sw, (uint32_t)sh,
                     (uint32_t)dx, (uint32_t)dy, (uint32_t)dw, (uint32_t)dh};
    return orb__cmd_u32(buf, cap, len, ORB_RASTER_BLIT, w, 9);
}

/* orb_surface_error writes the message of the last failed surface call to
 * buf (cap > 0) as a NUL-terminated string (empty when it does not fit in
 * cap - 1 bytes) and returns its length. */
static inline int32_t orb_surface_error(char *buf, size_t cap) {
    if (cap == 0) return ORB_ERR_INVALID;
    if (cap - 1 > INT32_MAX) cap = (size_t)INT32_MAX + 1;
    int32_t n = orbital_surface_error(buf, (int32_t)(cap - 1));
    buf[n > 0 && (size_t)n < cap ? n : 0] = 0;
    return n;
}

/* ---- configuration ----------------------------------------------------- */

/* orb_config writes the module's configuration (config = {…} on its
 * [[process]] in the node configuration), a JSON object, to buf as a
 * NUL-terminated string when it fits in cap - 1 bytes. Returns its length:
 * 0 when there is none, more than cap - 1 when it did not fit (nothing was
 * written: call again with a larger buffer). */
static inline int32_t orb_config(char *buf, size_t cap) {
    if (cap == 0) return orbital_config(NULL, 0);
    if (cap - 1 > INT32_MAX) cap = (size_t)INT32_MAX + 1;
    int32_t n = orbital_config(buf, (int32_t)(cap - 1));
    if (n >= 0 && (size_t)n < cap) buf[n] = 0;
    return n;
}

/* ---- logging ----------------------------------------------------------- */

/* orb_log logs one NUL-terminated line at level (ORB_DEBUG … ORB_ERROR). */
static inline void orb_log(int32_t level, const char *msg) { orbital_log(level, msg, (int32_t)strlen(msg)); }
static inline void orb_log_n(int32_t level, const void *msg, size_t len) { orbital_log(level, msg, (int32_t)len); }

/* orb_strerror names an ORB_ERR_* code. */
static inline const char *orb_strerror(int32_t code) {
    switch (code) {
    case ORB_ERR_DENIED: return "permission denied";
    case ORB_ERR_INVALID: return "invalid argument";
    case ORB_ERR_TOO_BIG: return "message too big";
    case ORB_ERR_NOT_FOUND: return "not found";
    case ORB_ERR_TIMEOUT: return "timeout";
    case ORB_ERR_LIMIT: return "limit reached";
    case ORB_ERR_CLOSED: return "closed";
    case ORB_ERR_BUFFER: return "buffer too small";
    case ORB_ERR_CYCLE: return "call cycle";
    case ORB_ERR_FAILED: return "call failed";
    case ORB_ERR_CRASHED: return "callee crashed";
    case ORB_ERR_VERSION: return "no matching version";
    case ORB_ERR_UNAVAILABLE: return "unavailable";
    }
    return code >= 0 ? "ok" : "unknown error";
}

/* orb_utoa writes v in decimal to out (at least 21 bytes), NUL-terminated,
 * and returns its length: for payloads such as counts, without printf. */
static inline size_t orb_utoa(uint64_t v, char *out) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}

#ifdef __cplusplus
}
#endif

#endif /* ORBITAL_H */
