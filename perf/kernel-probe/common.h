#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif

#define KiB (1024UL)
#define MiB (1024UL * 1024UL)
#define GiB (1024UL * MiB)
#define PG 4096UL

static inline double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, n, sizeof(double), cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *m) { perror(m); exit(1); }

/* reserve len bytes aligned to align */
static char *reserve_aligned(size_t len, size_t align) {
    size_t tot = len + align;
    char *p = mmap(NULL, tot, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) die("mmap reserve");
    uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    if (a > (uintptr_t)p) munmap(p, a - (uintptr_t)p);
    size_t tail = (uintptr_t)p + tot - (a + len);
    if (tail) munmap((char *)a + len, tail);
    return (char *)a;
}

static void touch(char *p, size_t len) {
    for (size_t i = 0; i < len; i += PG) p[i] = (char)(i >> 12) | 1;
}

static long minflt(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static void remap_fresh(char *p, size_t len) {
    if (mmap(p, len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) != p)
        die("mmap fixed");
}

/* count /proc/self/maps lines intersecting [lo,hi) */
static int count_vmas(void *lo_, void *hi_) {
    uintptr_t lo = (uintptr_t)lo_, hi = (uintptr_t)hi_;
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo) n++;
    }
    fclose(f);
    return n;
}
static long total_vmas(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    long n = 0;
    while (fgets(line, sizeof line, f)) n++;
    fclose(f);
    return n;
}
static long anon_huge_kb(void) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %ld", &v) == 1) break;
    if (f) fclose(f);
    return v;
}
