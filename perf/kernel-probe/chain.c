/* chain.c: the pool's resize chain without the pool. A written buffer doubles 64 MiB -> 2 GiB, each step an
 * mremap(MAYMOVE|FIXED) into an empty reservation of the next size, then the vacated source mapped again
 * (MAP_FIXED_NOREPLACE) and advised for huge pages, as Arena.TryRemapFixed and GiveBackVacated do.
 * Reservations are made once and reused by every run, as the pool reuses its own; at the end of a run the 2 GiB
 * buffer's reservation is mapped fresh again (the pool refreshes a returned island).
 *
 * usage: ./chain [runs] [aligned|pmd|misaligned] [spin]
 *   aligned     reservations aligned to their size up to 1 GiB (what Space.Reserve does): PUD moves from 1 GiB up
 *   pmd         reservations aligned to 2 MiB only: every move goes PMD by PMD
 *   misaligned  destinations 4 KiB past a 2 MiB boundary: no PMD-level move, huge pages split, PTE by PTE
 *   spin        a second thread of the process busy-loops meanwhile (as a server's threads would): the mm is then live
 *               on the other CPU, and every TLB flush of a move is an IPI to it that the mover waits for
 * Per step: wall and thread-CPU µs (CLOCK_THREAD_CPUTIME_ID), involuntary context switches, minor faults. A step
 * whose wall time is far above its CPU time, with an involuntary switch, waited for a CPU another process had.
 */
#include "common.h"
#include <pthread.h>

#define STEPS 5 /* 64 MiB -> 128 MiB ... 1 GiB -> 2 GiB */

static double thread_cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long thread_nivcsw(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_nivcsw;
}

/* Reservation for step i (0 is the first buffer's). Misaligned: i pages past the boundary, so each move's source and
 * destination differ by a page modulo 2 MiB. */
static volatile int stop;

static void *spin(void *arg) {
    (void)arg;
    while (!stop) { }
    return NULL;
}

static char *reserve(size_t len, const char *mode, int i) {
    int misaligned = strcmp(mode, "misaligned") == 0;
    size_t align = strcmp(mode, "aligned") == 0 ? (len < GiB ? len : GiB) : 2 * MiB;
    char *p = reserve_aligned(len + (misaligned ? 2 * MiB : 0), align);
    if (madvise(p, len + (misaligned ? 2 * MiB : 0), MADV_HUGEPAGE)) die("madvise reserve");
    return misaligned ? p + i * PG : p;
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    const char *mode = argc > 2 ? argv[2] : "aligned";
    size_t first = 64 * MiB;
    char *res[STEPS + 1];
    for (int i = 0; i <= STEPS; i++) res[i] = reserve(first << i, i == 0 ? "aligned" : mode, i);
    int spinning = argc > 3 && strcmp(argv[3], "spin") == 0;
    pthread_t spinner;
    if (spinning && pthread_create(&spinner, NULL, spin, NULL)) die("pthread_create");
    printf("mode %s, %d runs%s\n", mode, runs, spinning ? ", a second thread spinning" : "");
    for (int run = 0; run < runs; run++) {
        char *buf = res[0];
        double wall[STEPS], cpu[STEPS];
        for (int i = 0; i < STEPS; i++) {
            size_t s = first << i;
            memset(buf, run + 1, s);
            long flt = minflt(), sw = thread_nivcsw();
            double c0 = thread_cpu_us(), t0 = now_us();
            char *dst = res[i + 1];
            if (mremap(buf, s, 2 * s, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst) die("mremap");
            if (mmap(buf, s, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0) != buf)
                die("mmap noreplace");
            if (madvise(buf, s, MADV_HUGEPAGE)) die("madvise vacated");
            wall[i] = now_us() - t0;
            cpu[i] = thread_cpu_us() - c0;
            printf("run %d %5zu -> %5zu MiB wall %8.1f us cpu %8.1f us preempted %ld faults %ld src%%2M %zu dst%%2M %zu\n", run, s / MiB,
                   2 * s / MiB, wall[i], cpu[i], thread_nivcsw() - sw, minflt() - flt, (size_t)((uintptr_t)buf % (2 * MiB)),
                   (size_t)((uintptr_t)dst % (2 * MiB)));
            buf = dst;
        }
        remap_fresh(buf, first << STEPS);
        if (madvise(buf, first << STEPS, MADV_HUGEPAGE)) die("madvise refresh");
        double w = 0, c = 0, wm = median(wall, STEPS), cm = median(cpu, STEPS);
        for (int i = 0; i < STEPS; i++) { if (wall[i] > w) w = wall[i]; if (cpu[i] > c) c = cpu[i]; }
        printf("run %d: wall median %.1f worst %.1f us (%.1fx); cpu median %.1f worst %.1f us (%.1fx)\n", run, wm, w, w / wm, cm, c, c / cm);
    }
    if (spinning) { stop = 1; pthread_join(spinner, NULL); }
    return 0;
}
