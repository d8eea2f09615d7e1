/* extend.c: growing an island in place instead of moving it again. A written 256 MiB buffer moves (mremap
 * MAYMOVE|FIXED) into offset 0 of an empty 2 GiB reservation, growing to 512 MiB: an island. Then it grows to 1 GiB and
 * to 2 GiB without moving: unmap the free buddy after it, and mremap the island to twice its length without MAYMOVE
 * (the kernel extends the VMA over the now free range; no page table moves, no TLB flushes). Thread CPU per call;
 * the last column checks the contents survived and the reservation is one VMA.
 * usage: ./extend [spin]   (spin: a second thread busy-loops meanwhile, so every TLB flush is an IPI)
 */
#include "common.h"
#include <pthread.h>
static volatile int stop;
static void *spin(void *a) { (void)a; while (!stop) {} return NULL; }
static double tcpu(void) { struct timespec ts; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3; }
int main(int argc, char **argv) {
    int spinning = argc > 1;
    pthread_t t; if (spinning) pthread_create(&t, NULL, spin, NULL);
    for (int run = 0; run < 5; run++) {
        char *a = reserve_aligned(256 * MiB, 256 * MiB); madvise(a, 256 * MiB, MADV_HUGEPAGE);
        char *b = reserve_aligned(2 * GiB, GiB); madvise(b, 2 * GiB, MADV_HUGEPAGE);
        memset(a, 1, 256 * MiB);
        double c0 = tcpu();
        if (mremap(a, 256 * MiB, 512 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED, b) != b) die("move");
        double c1 = tcpu();
        memset(b, 2, 512 * MiB);
        double c2 = tcpu();
        if (munmap(b + 512 * MiB, 512 * MiB)) die("munmap buddy");
        char *r = mremap(b, 512 * MiB, GiB, 0);
        double c3 = tcpu();
        if (r != b) die("extend 1");
        memset(b, 3, GiB);
        double c4 = tcpu();
        if (munmap(b + GiB, GiB)) die("munmap buddy 2");
        r = mremap(b, GiB, 2 * GiB, 0);
        double c5 = tcpu();
        if (r != b) die("extend 2");
        long bad = 0; for (size_t i = 0; i < GiB; i += PG) bad += b[i] != 3;
        printf("run %d: move 256->512 MiB %.1f us; extend 512->1024 MiB in place %.1f us; extend 1->2 GiB %.1f us; vmas in b %d; bad %ld\n",
               run, c1 - c0, c3 - c2, c5 - c4, count_vmas(b, b + 2 * GiB), bad);
        munmap(b, 2 * GiB); munmap(a, 256 * MiB);
    }
    if (spinning) { stop = 1; pthread_join(t, NULL); }
    return 0;
}
