// paint: a 2D paint program in C on the kernel's rasterizer. Its window is
// a 320x240 RASTER_WINDOW|RASTER_PRESERVE surface, so every present keeps
// what was painted and a stroke only draws what is new. The top 20 pixels
// are a palette of six colours: a click there picks one. Below it, a
// pointer (or touch) moving with a button held paints round dots joined
// by thick segments; the key "c" clears the canvas to white.
//
// Input events arrive as direct messages from the kernel labelled
// $sys.input.pointer / .key / .touch with JSON data (docs/ABI.md,
// "Raster"); the manifest's `input = true` connects the process to the bus
// and the grant (orbital run --input) lets them through. _start waits on
// orb_recv_grow (ORB_FOREVER), handles every event already queued, then
// submits one command list and presents once; it returns on
// ORB_ERR_CLOSED.
#include <math.h>

#include "../../sdk/c/orbital.h"

#define W 320
#define H 240
#define PALETTE_H 20
#define NCOLORS 6
#define RADIUS 4.0f

// The palette, straight RGBA with R in the low byte (0xAABBGGRR).
static const uint32_t palette[NCOLORS] = {
    0xff000000, // black
    0xff2020e0, // red
    0xff20b020, // green
    0xffe06020, // blue
    0xff20d0f0, // yellow
    0xffc040a0, // purple
};

static uint8_t cmds[64 * 1024]; // one frame's command list
static int32_t ncmd;
static int selected;
static int have_last; // a stroke is under way from (last_x, last_y)
static float last_x, last_y;

static orb_vertex vertex(float x, float y, uint32_t rgba) {
    orb_vertex v = {x, y, 0, 1, (float)(rgba & 0xff) / 255, (float)(rgba >> 8 & 0xff) / 255,
                    (float)(rgba >> 16 & 0xff) / 255, (float)(rgba >> 24) / 255, 0, 0};
    return v;
}

// rect appends a filled rectangle (two counter-clockwise triangles).
static void rect(float x0, float y0, float x1, float y1, uint32_t rgba) {
    orb_vertex v[6] = {vertex(x0, y0, rgba), vertex(x0, y1, rgba), vertex(x1, y0, rgba),
                       vertex(x1, y0, rgba), vertex(x0, y1, rgba), vertex(x1, y1, rgba)};
    ncmd = orb_cmd_triangles(cmds, sizeof cmds, ncmd, v, 6);
}

// dot appends a filled disc: a fan of 16 triangles around the centre, as
// one indexed command.
static void dot(float x, float y, float r, uint32_t rgba) {
    enum { N = 16 };
    orb_vertex v[N + 1];
    uint32_t idx[3 * N];
    v[0] = vertex(x, y, rgba);
    for (int i = 0; i < N; i++) {
        float a = (float)i * 6.2831853f / N;
        v[i + 1] = vertex(x + r * cosf(a), y + r * sinf(a), rgba);
        idx[3 * i] = 0;
        idx[3 * i + 1] = (uint32_t)(i + 1);
        idx[3 * i + 2] = (uint32_t)((i + 1) % N + 1);
    }
    ncmd = orb_cmd_indexed(cmds, sizeof cmds, ncmd, v, N + 1, idx, 3 * N);
}

// segment appends a quad of width 2r from (x0, y0) to (x1, y1), so that
// fast strokes have no gaps between their dots.
static void segment(float x0, float y0, float x1, float y1, float r, uint32_t rgba) {
    float dx = x1 - x0, dy = y1 - y0, len = sqrtf(dx * dx + dy * dy);
    if (len < 0.5f) return;
    float nx = -dy / len * r, ny = dx / len * r;
    orb_vertex v[6] = {vertex(x0 + nx, y0 + ny, rgba), vertex(x1 + nx, y1 + ny, rgba), vertex(x0 - nx, y0 - ny, rgba),
                       vertex(x0 - nx, y0 - ny, rgba), vertex(x1 + nx, y1 + ny, rgba), vertex(x1 - nx, y1 - ny, rgba)};
    ncmd = orb_cmd_triangles(cmds, sizeof cmds, ncmd, v, 6);
}

// draw_palette appends the palette strip, the selected colour framed.
static void draw_palette(void) {
    const float sw = (float)W / NCOLORS;
    ncmd = orb_cmd_scissor(cmds, sizeof cmds, ncmd, 0, 0, W, PALETTE_H);
    ncmd = orb_cmd_clear(cmds, sizeof cmds, ncmd, 0xffc0c0c0, 1, ORB_RASTER_CLEAR_COLOR);
    for (int i = 0; i < NCOLORS; i++) {
        float x0 = i * sw, x1 = (i + 1) * sw;
        if (i == selected) {
            rect(x0 + 1, 1, x1 - 1, PALETTE_H - 1, 0xff000000);
            rect(x0 + 3, 3, x1 - 3, PALETTE_H - 3, 0xffffffff);
            rect(x0 + 5, 5, x1 - 5, PALETTE_H - 5, palette[i]);
        } else {
            rect(x0 + 4, 4, x1 - 4, PALETTE_H - 4, palette[i]);
        }
    }
    ncmd = orb_cmd_scissor(cmds, sizeof cmds, ncmd, 0, 0, 0, 0);
}

// canvas_scissor keeps paint off the palette.
static void canvas_scissor(void) { ncmd = orb_cmd_scissor(cmds, sizeof cmds, ncmd, 0, PALETTE_H, W, H - PALETTE_H); }

static void clear_canvas(void) {
    canvas_scissor();
    ncmd = orb_cmd_clear(cmds, sizeof cmds, ncmd, 0xffffffff, 1, ORB_RASTER_CLEAR_COLOR);
    ncmd = orb_cmd_scissor(cmds, sizeof cmds, ncmd, 0, 0, 0, 0);
}

// ---- minimal JSON field lookup --------------------------------------------

// find returns the position just after the first occurrence of key in
// data, or NULL. Keys are written with their quotes and colon ("\"x\":"),
// so "x" does not match "dx" and "button" does not match "buttons".
static const char *find(const uint8_t *data, uint32_t len, const char *key) {
    size_t k = strlen(key);
    for (uint32_t i = 0; i + k <= len; i++)
        if (memcmp(data + i, key, k) == 0) return (const char *)data + i + k;
    return NULL;
}

// json_int is the integer after key, or def when the field is absent (the
// kernel leaves out fields that are 0).
static int json_int(const orb_msg *m, const char *key, int def) {
    const char *p = find(m->data, m->data_len, key);
    if (p == NULL) return def;
    const char *end = (const char *)m->data + m->data_len;
    int neg = 0, v = 0;
    if (p < end && *p == '-') neg = 1, p++;
    while (p < end && *p >= '0' && *p <= '9' && v < 100000000) v = v * 10 + (*p++ - '0');
    return neg ? -v : v;
}

// json_is reports whether the string field key has the value want.
static int json_is(const orb_msg *m, const char *key, const char *want) {
    const char *p = find(m->data, m->data_len, key);
    size_t n = strlen(want);
    if (p == NULL || *p != '"') return 0;
    p++;
    const char *end = (const char *)m->data + m->data_len;
    return (size_t)(end - p) > n && memcmp(p, want, n) == 0 && p[n] == '"';
}

// ---- events ---------------------------------------------------------------

// pointer handles a pointer or touch event at (x, y); held says whether a
// button (or the finger) is down.
static void pointer(int down, int move, int held, int x, int y) {
    float fx = (float)x + 0.5f, fy = (float)y + 0.5f;
    if (down && y < PALETTE_H) { // pick a colour
        int i = x * NCOLORS / W;
        if (i >= 0 && i < NCOLORS && i != selected) {
            selected = i;
            draw_palette();
        }
        have_last = 0;
        return;
    }
    if (!(down || (move && held))) {
        have_last = 0;
        return;
    }
    canvas_scissor();
    uint32_t c = palette[selected];
    if (have_last) segment(last_x, last_y, fx, fy, RADIUS, c);
    dot(fx, fy, RADIUS, c);
    ncmd = orb_cmd_scissor(cmds, sizeof cmds, ncmd, 0, 0, 0, 0);
    last_x = fx, last_y = fy, have_last = 1;
}

static void event(const orb_msg *m) {
    if (m->kind != ORB_KIND_SEND) return;
    if (orb_msg_is(m, "$sys.input.pointer") || orb_msg_is(m, "$sys.input.touch")) {
        int touch = orb_msg_is(m, "$sys.input.touch");
        int down = json_is(m, "\"action\":", "down");
        int move = json_is(m, "\"action\":", "move");
        int held = touch || json_int(m, "\"buttons\":", 0) != 0;
        if (json_is(m, "\"action\":", "up")) held = 0;
        pointer(down, move, held, json_int(m, "\"x\":", 0), json_int(m, "\"y\":", 0));
    } else if (orb_msg_is(m, "$sys.input.key")) {
        if (json_is(m, "\"action\":", "down") && (json_is(m, "\"key\":", "c") || json_is(m, "\"key\":", "C"))) {
            clear_canvas();
            have_last = 0;
        }
    }
}

// flush submits and presents what the events drew, if anything.
static int32_t flush(int32_t win) {
    if (ncmd == 0) return 0;
    int32_t r = ncmd < 0 ? ORB_ERR_BUFFER : orbital_surface_submit(win, cmds, ncmd);
    ncmd = 0;
    if (r < 0 && r != ORB_ERR_BUFFER) return r;
    if (r == ORB_ERR_BUFFER) orb_log(ORB_WARN, "paint: too many events in one frame; some strokes were dropped");
    return orbital_surface_present(win);
}

static int fail(const char *what, int32_t code) {
    if (code == ORB_ERR_CLOSED) return 0;
    char msg[256];
    orb_surface_error(msg, sizeof msg);
    orb_log(ORB_ERROR, what);
    orb_log(ORB_ERROR, msg[0] ? msg : orb_strerror(code));
    return 1;
}

int main(void) {
    int32_t win = orbital_surface_create(W, H, ORB_RASTER_WINDOW | ORB_RASTER_PRESERVE);
    if (win < 0) return fail("paint: surface_create", win);
    clear_canvas();
    draw_palette();
    int32_t r = flush(win);
    if (r < 0) return fail("paint: first frame", r);

    orb_buf buf = {0};
    orb_msg m;
    for (;;) {
        int32_t n = orb_recv_grow(&m, &buf, ORB_FOREVER);
        while (n > 0) { // this event, and every one already queued
            event(&m);
            orb_msg_done(&m);
            if (ncmd < 0 || (size_t)ncmd > sizeof cmds - 2048) break; // the list is full: show it first
            n = orb_recv_grow(&m, &buf, ORB_POLL);
        }
        if (n == ORB_ERR_CLOSED) return 0; // the kernel is stopping us
        if (n < 0) {
            orb_log(ORB_ERROR, orb_strerror(n)); // denied: not connected to the bus (no input grant)
            return 1;
        }
        if ((r = flush(win)) < 0) return fail("paint: drawing", r);
    }
}
