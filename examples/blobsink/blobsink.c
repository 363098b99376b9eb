// blobsink: a blob consumer in C (command module, pull model). For every
// message on demo.blob that carries a blob handle it reads only the first
// and last 16 bytes (blob_read copies just those ranges into its memory),
// logs them in hex, releases its reference, and publishes the blob's length
// in decimal on demo.blob.ack.
#include "../../sdk/c/orbital.h"

#define EDGE 16

// hex writes len bytes as "xx xx …" into out (3*len bytes) and returns the length.
static size_t hex(const uint8_t *b, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (i) out[k++] = ' ';
        out[k++] = digits[b[i] >> 4];
        out[k++] = digits[b[i] & 15];
    }
    return k;
}

static void append(char *line, size_t *k, const char *s, size_t n) {
    memcpy(line + *k, s, n);
    *k += n;
}

static void consume(int64_t blob) {
    int64_t size = orb_blob_len(blob);
    if (size < 0) {
        orb_log(ORB_WARN, orb_strerror((int32_t)size));
        return;
    }
    uint8_t head[EDGE], tail[EDGE];
    int32_t nh = orb_blob_read(blob, 0, head, EDGE);
    int64_t off = size > EDGE ? size - EDGE : 0;
    int32_t nt = orb_blob_read(blob, off, tail, EDGE);
    if (nh < 0 || nt < 0) {
        orb_log(ORB_WARN, orb_strerror(nh < 0 ? nh : nt));
        return;
    }

    char num[21];
    size_t nl = orb_utoa((uint64_t)size, num);
    char line[64 + 2 * 3 * EDGE];
    size_t k = 0;
    append(line, &k, "blobsink: ", 10);
    append(line, &k, num, nl);
    append(line, &k, " bytes, first [", 15);
    k += hex(head, (size_t)nh, line + k);
    append(line, &k, "] last [", 8);
    k += hex(tail, (size_t)nt, line + k);
    append(line, &k, "]", 1);
    orb_log_n(ORB_INFO, line, k);

    int32_t r = orb_publish("demo.blob.ack", num, nl);
    if (r < 0) orb_log(ORB_WARN, orb_strerror(r));
}

int main(void) {
    orb_buf buf = {0};
    orb_msg m;
    for (;;) {
        int32_t n = orb_recv_grow(&m, &buf, ORB_FOREVER);
        if (n == ORB_ERR_CLOSED) return 0;
        if (n < 0) {
            orb_log(ORB_ERROR, orb_strerror(n));
            return 1;
        }
        if (n == 0) continue;
        if (m.blob != 0) consume(m.blob);
        orb_msg_done(&m); // release our reference: the blob is freed with its last holder
    }
}
