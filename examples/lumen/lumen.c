// lumen: a C caller of the vision library (command module, pull model).
// _start loops on orb_recv_grow; every request on lumen.measure carries RGBA
// pixels, which it passes to vision.brightness (bound once, by
// orb_call_simple) and answers with the function's JSON result, such as
// {"mean":93.5,"min":0,"max":255}. When the call fails it answers
// {"error": "<the kernel's message>"}, e.g. {"error": "vision.brightness:
// want RGBA pixels, got 3 bytes"}. Plain publishes on lumen.measure are
// ignored. The manifest's [bus] listen has the kernel subscribe the subject
// before _start runs.
#include "../../sdk/c/orbital.h"

// json_error writes {"error": "<msg>"} to out (cap bytes, NUL-terminated),
// escaping msg as a JSON string, and returns its length. A message that
// does not fit is cut short.
static size_t json_error(const char *msg, char *out, size_t cap) {
    static const char head[] = "{\"error\": \"", tail[] = "\"}", hex[] = "0123456789abcdef";
    size_t n = sizeof head - 1;
    memcpy(out, head, n);
    size_t room = cap - sizeof tail; // keeps space for the tail and the NUL
    for (const unsigned char *p = (const unsigned char *)msg; *p != 0; p++) {
        char esc[6];
        size_t k = 0;
        if (*p == '"' || *p == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)*p;
        } else if (*p < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            k = 6;
        } else {
            esc[k++] = (char)*p;
        }
        if (n + k > room) break;
        memcpy(out + n, esc, k);
        n += k;
    }
    memcpy(out + n, tail, sizeof tail); // with the NUL
    return n + sizeof tail - 1;
}

// answer replies to the request m with data, logging failures other than a
// requester that gave up waiting.
static void answer(const orb_msg *m, const void *data, size_t len) {
    int32_t r = orb_reply(m, data, len);
    if (r < 0 && r != ORB_ERR_NOT_FOUND) orb_log(ORB_WARN, orb_strerror(r));
}

// measure calls vision.brightness on the request's pixels and answers it.
static void measure(const orb_msg *m) {
    char res[256];
    int64_t n = orb_call_simple("vision", "brightness", m->data, m->data_len, res, sizeof res);
    if (n >= 0 && (uint64_t)n <= sizeof res) {
        answer(m, res, (size_t)n);
        return;
    }
    if (n > 0) { // a result larger than res: the kernel keeps it for us
        uint8_t *big = (uint8_t *)malloc((size_t)n);
        int32_t got = big != NULL ? orb_call_result(big, (size_t)n) : ORB_ERR_LIMIT;
        if (got >= 0) answer(m, big, (size_t)got);
        free(big);
        if (got >= 0) return;
        n = got;
    }
    char msg[512], reply[1024];
    if (orb_call_error(msg, sizeof msg) <= 0) { // no message from the kernel: name the code
        size_t k = strlen(orb_strerror((int32_t)n));
        memcpy(msg, orb_strerror((int32_t)n), k + 1);
    }
    orb_log(ORB_WARN, msg);
    answer(m, reply, json_error(msg, reply, sizeof reply));
}

int main(void) {
    orb_buf buf = {0};
    orb_msg m;
    for (;;) {
        int32_t n = orb_recv_grow(&m, &buf, ORB_FOREVER);
        if (n == ORB_ERR_CLOSED) return 0; // the kernel is stopping us
        if (n < 0) {
            orb_log(ORB_ERROR, orb_strerror(n)); // denied: not connected to the bus
            return 1;
        }
        if (n == 0) continue;
        if (m.kind == ORB_KIND_REQUEST) measure(&m);
        orb_msg_done(&m); // drop a blob reference if the message carried one
    }
}
