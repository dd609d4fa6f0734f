// The 32-bit test images of `make mp32` / `make mp32f` build mbedTLS the way the rp2 port
// does ("bare metal": its allocations come from the MicroPython heap through
// m_tracked_calloc, so a TLS session counts against -X heapsize as on a Pico W). That
// configuration takes its entropy from the port; here it is the kernel's getrandom().
#include <stddef.h>
#include <sys/types.h>
#include <sys/random.h>

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen) {
    (void)data;
    ssize_t n = getrandom(output, len, 0);
    if (n < 0) {
        *olen = 0;
        return -1;
    }
    *olen = (size_t)n;
    return 0;
}
