// echo: a C service on the bus (command module, pull model). _start loops on
// orb_recv and answers every request on demo.echo with the data it was sent;
// plain publishes on demo.echo are ignored. The manifest's [bus] listen has
// the kernel subscribe demo.echo before _start runs.
#include "../../sdk/c/orbital.h"

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
        if (m.kind == ORB_KIND_REQUEST) {
            int32_t r = orb_reply(&m, m.data, m.data_len);
            if (r < 0 && r != ORB_ERR_NOT_FOUND) // NOT_FOUND: the requester gave up
                orb_log(ORB_WARN, orb_strerror(r));
        }
        orb_msg_done(&m); // drop a blob reference if the message carried one
    }
}
