// sleeper: blocks in one long host call. sleep(3600) becomes a single
// WASI poll_oneoff with a one-hour clock subscription, so the guest is
// parked inside the host, not spinning in wasm. A host deadline must still
// interrupt it promptly.
#include <stdio.h>
#include <unistd.h>

int main(void) {
    fprintf(stderr, "sleeper: sleeping for an hour\n");
    unsigned left = sleep(3600);
    // Only reached if the host let the whole hour pass (or cut it short
    // by returning early from poll_oneoff).
    printf("sleeper: woke up (%u s left)\n", left);
    return 0;
}
