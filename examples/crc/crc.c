// crc: reads all of stdin and prints its CRC-32 (IEEE 802.3, the one used
// by zlib, PNG and `gzip -l`) and length. A C command that needs stdio only.
#include <stdint.h>
#include <stdio.h>

static uint32_t table[256];

static void make_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

int main(void) {
    static unsigned char buf[64 * 1024];
    uint32_t crc = 0xFFFFFFFFu;
    unsigned long long total = 0;
    size_t n;

    make_table();
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        for (size_t i = 0; i < n; i++)
            crc = table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
        total += n;
    }
    if (ferror(stdin)) {
        perror("crc: read stdin");
        return 1;
    }
    printf("%08x %llu\n", crc ^ 0xFFFFFFFFu, total);
    return 0;
}
