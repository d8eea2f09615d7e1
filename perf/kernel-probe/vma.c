/* vma.c: VMA count behaviour for mremap/mmap pool operations.
 * usage: ./vma [huge]   (huge => MADV_HUGEPAGE on whole arena before touching) */
#include "common.h"

static size_t AL = 64 * MiB;
static int huge;
static char *A;

#define C(label) printf("  %-78s VMAs=%d\n", label, count_vmas(A, A + AL))

static char *new_arena(void) {
    char *a = reserve_aligned(AL, 2 * MiB);
    if (huge && madvise(a, AL, MADV_HUGEPAGE)) die("madvise");
    touch(a, AL);
    return a;
}
static void free_arena(void) { munmap(A, AL); }

static void mv(char *s, size_t ol, size_t nl, char *d) {
    void *r = mremap(s, ol, nl, MREMAP_MAYMOVE | MREMAP_FIXED, d);
    if (r != d) die("mremap fixed");
}
static void print_maps(char *lo, char *hi) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < (uintptr_t)hi && b > (uintptr_t)lo)
            printf("      +%6luM..+%6luM %s", (a - (uintptr_t)A) >> 20, (b - (uintptr_t)A) >> 20, strchr(line, ' ') + 1);
    }
    fclose(f);
}

int main(int argc, char **argv) {
    huge = argc > 1 && !strcmp(argv[1], "huge");
    printf("== arena 64 MiB, 2 MiB aligned, touched, %s ==\n", huge ? "MADV_HUGEPAGE" : "no madvise (THP=madvise => 4K pages)");

    /* T1: fresh, move, MAP_FIXED remap */
    A = new_arena();
    printf("T1 move 2M @0 -> @32M growing to 4M, then MAP_FIXED re-map of [0,2M)\n");
    C("fresh");
    mv(A, 2 * MiB, 4 * MiB, A + 32 * MiB);
    C("after mremap FIXED (hole [0,2M), island [32M,36M))");
    remap_fresh(A, 2 * MiB);
    C("after MAP_FIXED re-map of [0,2M)");
    if (huge) {
        madvise(A, 2 * MiB, MADV_HUGEPAGE);
        C("after madvise(HUGEPAGE) on [0,2M) only");
    }
    print_maps(A, A + AL);
    /* island re-mapped fresh */
    remap_fresh(A + 32 * MiB, 4 * MiB);
    C("after MAP_FIXED re-map of island [32M,36M) (contents discarded)");
    if (huge) {
        madvise(A + 32 * MiB, 4 * MiB, MADV_HUGEPAGE);
        C("after madvise(HUGEPAGE) on island only");
    }
    free_arena();

    /* T2: MAP_FIXED_NOREPLACE into hole */
    A = new_arena();
    printf("T2 same move, then MAP_FIXED_NOREPLACE into vacated hole [0,2M)\n");
    mv(A, 2 * MiB, 4 * MiB, A + 32 * MiB);
    C("after mremap FIXED");
    void *r = mmap(A, 2 * MiB, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
    printf("  MAP_FIXED_NOREPLACE into hole: %s (ret==addr: %d)\n", r == MAP_FAILED ? strerror(errno) : "ok", r == A);
    C("after MAP_FIXED_NOREPLACE");
    if (huge) { madvise(A, 2 * MiB, MADV_HUGEPAGE); C("after madvise(HUGEPAGE) on it"); }
    r = mmap(A + 8 * MiB, 2 * MiB, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
    printf("  MAP_FIXED_NOREPLACE onto a still-mapped range: %s\n", r == MAP_FAILED ? strerror(errno) : "succeeded?!");
    free_arena();

    /* T3: move into a whole separate mapping */
    A = new_arena();
    printf("T3 move 2M @0 growing to 4M into the WHOLE of a separate 4 MiB mapping\n");
    char *sep = reserve_aligned(4 * MiB, 2 * MiB);
    if (huge) madvise(sep, 4 * MiB, MADV_HUGEPAGE);
    touch(sep, 4 * MiB);
    printf("  separate mapping VMAs before: %d\n", count_vmas(sep, sep + 4 * MiB));
    mv(A, 2 * MiB, 4 * MiB, sep);
    printf("  separate mapping VMAs after : %d  (entries touching [sep-4K, sep+4M+4K): %d)\n",
           count_vmas(sep, sep + 4 * MiB), count_vmas(sep - PG, sep + 4 * MiB + PG));
    long f0 = minflt(); touch(sep, 2 * MiB); printf("  faults rewriting moved 2M: %ld\n", minflt() - f0);
    remap_fresh(A, 2 * MiB);
    if (huge) madvise(A, 2 * MiB, MADV_HUGEPAGE);
    C("arena after re-mapping hole (expect 1)");
    /* move it back (whole mapping to its original place) */
    mv(sep, 2 * MiB, 2 * MiB, A);
    C("arena after moving first 2M of it back to [0,2M) (pgoff matches origin)");
    munmap(sep, 4 * MiB);
    free_arena();

    /* T4: adjacent islands */
    A = new_arena();
    printf("T4 adjacent moved-in islands\n");
    mv(A + 0 * MiB, 2 * MiB, 2 * MiB, A + 40 * MiB);
    mv(A + 8 * MiB, 2 * MiB, 2 * MiB, A + 42 * MiB);
    C("a) src @0 (2M) -> @40M, src @8M (2M) -> @42M, no grow (holes not re-mapped)");
    print_maps(A, A + AL);
    free_arena();
    A = new_arena();
    mv(A + 0 * MiB, 2 * MiB, 2 * MiB, A + 40 * MiB);
    mv(A + 2 * MiB, 2 * MiB, 2 * MiB, A + 42 * MiB);
    C("b) src @0 -> @40M, src @2M -> @42M (adjacent sources, same order)");
    print_maps(A, A + AL);
    free_arena();
    A = new_arena();
    mv(A + 0 * MiB, 2 * MiB, 4 * MiB, A + 40 * MiB);
    mv(A + 4 * MiB, 2 * MiB, 2 * MiB, A + 44 * MiB);
    C("c) src @0 grown 2M->4M -> @40M, src @4M (2M) -> @44M");
    print_maps(A, A + AL);
    free_arena();
    A = new_arena();
    mv(A + 8 * MiB, 2 * MiB, 2 * MiB, A + 40 * MiB);
    mv(A + 0 * MiB, 2 * MiB, 2 * MiB, A + 42 * MiB);
    C("d) src @8M -> @40M, src @0 -> @42M (reverse order)");
    free_arena();

    /* T4b: island at edge of arena */
    A = new_arena();
    printf("T4b island at arena edge\n");
    mv(A + 0, 2 * MiB, 4 * MiB, A + AL - 4 * MiB);
    remap_fresh(A, 2 * MiB); if (huge) madvise(A, 2 * MiB, MADV_HUGEPAGE);
    C("move 2M@0 -> last 4M of arena (grown), hole re-mapped");
    free_arena();
    A = new_arena();
    mv(A + 32 * MiB, 2 * MiB, 4 * MiB, A);
    remap_fresh(A + 32 * MiB, 2 * MiB); if (huge) madvise(A + 32 * MiB, 2 * MiB, MADV_HUGEPAGE);
    C("move 2M@32M -> first 4M of arena (grown), hole re-mapped");
    free_arena();

    /* T5: MREMAP_MAYMOVE only (no FIXED) */
    printf("T5 mremap MAYMOVE without FIXED\n");
    {
        char *m = reserve_aligned(16 * MiB, 2 * MiB);
        munmap(m + 8 * MiB, 8 * MiB); /* mapping [m, m+8M), free after */
        if (huge) madvise(m, 8 * MiB, MADV_HUGEPAGE);
        touch(m, 8 * MiB);
        void *q = mremap(m + 6 * MiB, 2 * MiB, 4 * MiB, MREMAP_MAYMOVE);
        printf("  end block [6M,8M) grow to 4M: %s (same address: %s)  mapping VMAs now=%d\n",
               q == MAP_FAILED ? strerror(errno) : "ok", q == m + 6 * MiB ? "yes, in place" : "no, moved",
               count_vmas(m, m + 16 * MiB));
        q = mremap(m + 2 * MiB, 2 * MiB, 4 * MiB, MREMAP_MAYMOVE);
        printf("  middle block [2M,4M) grow to 4M: %s (same address: %s) new=%p old=%p\n",
               q == MAP_FAILED ? strerror(errno) : "ok", q == m + 2 * MiB ? "yes" : "no, moved", q, m + 2 * MiB);
        q = mremap(m + 0, 2 * MiB, 1 * MiB, MREMAP_MAYMOVE);
        printf("  shrink block [0,2M) to 1M: same address: %s\n", q == m ? "yes" : "no");
    }

    /* T6: spanning two VMAs */
    A = new_arena();
    printf("T6 mremap of a range spanning two VMAs (island + fresh neighbour)\n");
    mv(A, 2 * MiB, 2 * MiB, A + 32 * MiB);            /* island [32M,34M) */
    remap_fresh(A, 2 * MiB); if (huge) madvise(A, 2 * MiB, MADV_HUGEPAGE);
    C("setup: island [32M,34M) + neighbour [34M..)");
    errno = 0;
    void *q = mremap(A + 32 * MiB, 4 * MiB, 8 * MiB, MREMAP_MAYMOVE);
    printf("  MAYMOVE grow [32M,36M) 4M->8M: %s\n", q == MAP_FAILED ? strerror(errno) : "succeeded");
    errno = 0;
    /* destination: [48M,56M) is mapped and resident part of arena */
    char *d = A + 48 * MiB;
    q = mremap(A + 32 * MiB, 4 * MiB, 8 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED, d);
    int e = errno;
    printf("  MAYMOVE|FIXED grow [32M,36M) 4M->8M to @48M: %s\n", q == MAP_FAILED ? strerror(e) : "succeeded");
    C("after failed FIXED");
    print_maps(A, A + AL);
    r = mmap(d, 8 * MiB, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
    printf("  MAP_FIXED_NOREPLACE into failed destination: %s => destination %s\n",
           r == MAP_FAILED ? strerror(errno) : "ok", r == d ? "WAS UNMAPPED" : "still mapped");
    if (r == d) munmap(d, 8 * MiB), remap_fresh(d, 8 * MiB);
    /* same size (no grow) spanning two VMAs */
    errno = 0;
    q = mremap(A + 32 * MiB, 4 * MiB, 4 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED, d);
    e = errno;
    printf("  MAYMOVE|FIXED same size [32M,36M) 4M->4M to @48M: %s\n", q == MAP_FAILED ? strerror(e) : "succeeded (multi-VMA move)");
    C("after it");
    print_maps(A, A + AL);
    free_arena();
    return 0;
}
