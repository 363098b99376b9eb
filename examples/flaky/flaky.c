// flaky: a deliberately unreliable subscriber for the supervision demo and
// tests. It receives demo.tick (subscribed by the kernel through [bus]
// listen) and traps on every 5th message since it started, so a supervisor
// sees it crash and restarts it; a fresh instance counts from zero again.
#include "../../sdk/c/orbital.h"

#define CRASH_EVERY 5

int main(void) {
    orb_buf buf = {0};
    orb_msg m;
    unsigned count = 0;
    for (;;) {
        int32_t n = orb_recv_grow(&m, &buf, ORB_FOREVER);
        if (n == ORB_ERR_CLOSED) return 0;
        if (n < 0) { // denied: not connected to the bus
            orb_log(ORB_ERROR, orb_strerror(n));
            return 1;
        }
        if (n == 0) continue;
        orb_msg_done(&m);
        if (++count % CRASH_EVERY == 0) {
            orb_log(ORB_WARN, "flaky: 5th message, trapping");
            __builtin_trap();
        }
        char line[64] = "flaky: got ";
        size_t k = strlen(line);
        size_t len = m.data_len < sizeof line - k ? m.data_len : sizeof line - k;
        memcpy(line + k, m.data, len);
        orb_log_n(ORB_INFO, line, k + len);
    }
}
