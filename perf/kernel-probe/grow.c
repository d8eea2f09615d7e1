/* grow.c: copy vs move (mremap) for growing a buffer S -> 2S inside an arena.
 * usage: ./grow small <srcshift_bytes>    (4 KiB pages, arena 1 GiB, no THP)
 *        ./grow huge                       (2 MiB aligned, MADV_HUGEPAGE, S 2 MiB..1 GiB)
 */
#include "common.h"

static double *T;

static int reps_for(size_t S, int huge) {
    if (huge) return S <= 16 * MiB ? 101 : S <= 128 * MiB ? 31 : 11;
    return S <= 256 * KiB ? 2001 : S <= 2 * MiB ? 501 : 201;
}

/* one move repetition; returns times via out[]: mremap, mmap, total */
static void do_move(char *src, char *dst, size_t S, int huge, double out[4]) {
    double t0 = now_us();
    if (mremap(src, S, 2 * S, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst) die("mremap");
    double t1 = now_us();
    if (mmap(src, S, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) != src) die("mmap");
    double t2 = now_us();
    double t3 = t2;
    if (huge) { if (madvise(src, S, MADV_HUGEPAGE)) die("madvise"); t3 = now_us(); }
    out[0] = t1 - t0; out[1] = t2 - t1; out[2] = t2 - t0; out[3] = t3 - t2;
}
/* restore: move pages back to src, re-create dst as fresh */
static void undo_move(char *src, char *dst, size_t S, int huge) {
    if (mremap(dst, S, S, MREMAP_MAYMOVE | MREMAP_FIXED, src) != src) die("mremap back");
    remap_fresh(dst, 2 * S);
    if (huge && madvise(dst, 2 * S, MADV_HUGEPAGE)) die("madvise dst");
}

static void run(char *arena, size_t arena_len, char *src, char *dst, size_t S, int huge) {
    int n = reps_for(S, huge);
    double m[4][n > 0 ? n : 1];
    double r_copyw, r_copyc = -1, r_move, r_mremap, r_mmap, r_madvh = 0, r_movewarm = -1, r_dontneed;
    long flt_moved, flt_tail, flt_copyc;

    touch(src, S);
    if (huge) fprintf(stderr, "S=%zu MiB: src touched, AnonHugePages=%ld kB\n", S / MiB, anon_huge_kb());
    /* warm copy */
    touch(dst, 2 * S);
    for (int i = 0; i < n; i++) {
        double t0 = now_us(); memcpy(dst, src, S); T[i] = now_us() - t0;
    }
    r_copyw = median(T, n);
    /* cold copy: destination untouched (faults included) */
    int nc = n;
    for (int i = 0; i < nc; i++) {
        madvise(dst, 2 * S, MADV_DONTNEED);
        long f0 = minflt();
        double t0 = now_us(); memcpy(dst, src, S); T[i] = now_us() - t0;
        flt_copyc = minflt() - f0;
    }
    r_copyc = median(T, nc);
    /* make dst fresh */
    remap_fresh(dst, 2 * S);
    if (huge) madvise(dst, 2 * S, MADV_HUGEPAGE);

    /* move into untouched dst */
    long ah_before = anon_huge_kb();
    for (int i = 0; i < n; i++) {
        double o[4];
        do_move(src, dst, S, huge, o);
        for (int k = 0; k < 4; k++) m[k][i] = o[k];
        if (i == 0) {
            long ah_after = anon_huge_kb();
            if (huge && ah_after != ah_before)
                fprintf(stderr, "  note: AnonHugePages %ld -> %ld kB after move\n", ah_before, ah_after);
            long f0 = minflt();
            touch(dst, S);             /* rewrite moved pages */
            flt_moved = minflt() - f0;
            f0 = minflt();
            touch(dst + S, S);         /* new tail */
            flt_tail = minflt() - f0;
            madvise(dst + S, S, MADV_DONTNEED); /* keep state: tail empty */
        }
        undo_move(src, dst, S, huge);
    }
    r_mremap = median(m[0], n); r_mmap = median(m[1], n); r_move = median(m[2], n);
    if (huge) r_madvh = median(m[3], n);

    /* move into resident dst (dst pages must be freed by mremap) */
    int nw = huge ? (S <= 64 * MiB ? n : 0) : n;
    for (int i = 0; i < nw; i++) {
        double o[4];
        touch(dst, 2 * S);
        do_move(src, dst, S, huge, o);
        T[i] = o[2];
        undo_move(src, dst, S, huge);
    }
    if (nw) r_movewarm = median(T, nw);

    /* madvise DONTNEED of S resident bytes (use dst area) */
    for (int i = 0; i < n; i++) {
        touch(dst, S);
        double t0 = now_us(); madvise(dst, S, MADV_DONTNEED); T[i] = now_us() - t0;
    }
    r_dontneed = median(T, n);
    /* mmap re-map alone of S resident bytes (replaces pages) */
    double r_remap_res;
    for (int i = 0; i < n; i++) {
        touch(dst, S);
        double t0 = now_us(); remap_fresh(dst, S); T[i] = now_us() - t0;
        if (huge) madvise(dst, S, MADV_HUGEPAGE);
    }
    r_remap_res = median(T, n);
    madvise(dst, 2 * S, MADV_DONTNEED);

    char sz[32];
    if (S >= MiB) snprintf(sz, sizeof sz, "%zu MiB", S / MiB); else snprintf(sz, sizeof sz, "%zu KiB", S / KiB);
    printf("| %-8s | %5d | %10.2f | %10.2f | %10.2f | %9.2f | %8.2f | %s%9.2f | %10.2f | %11.2f | %s | %ld / %ld / %ld | %d |\n",
           sz, n, r_copyw, r_copyc, r_move, r_mremap, r_mmap,
           huge ? "" : "", r_movewarm, r_dontneed, r_remap_res,
           r_move < r_copyw ? "move" : "copy", flt_copyc, flt_moved, flt_tail,
           count_vmas(arena, arena + arena_len));
    if (huge) printf("|          | madvise(HUGEPAGE) on re-mapped src: %.2f us |\n", r_madvh);
    fflush(stdout);
}

int main(int argc, char **argv) {
    int huge = argc > 1 && !strcmp(argv[1], "huge");
    size_t shift = argc > 2 ? strtoul(argv[2], 0, 0) : 0;
    T = malloc(sizeof(double) * 10000);
    printf("| S | reps | copy-warm us | copy-cold us | move us (mremap+mmap) | mremap us | mmap us | move-into-resident-dst us | DONTNEED(S) us | mmap-over-resident(S) us | cheaper | faults: cold-copy / rewrite-moved / write-new-tail | arena VMAs after |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    if (!huge) {
        size_t alen = 1 * GiB;
        char *arena = reserve_aligned(alen, 2 * MiB);
        char *src = arena + 64 * MiB + shift;
        char *dst = arena + 256 * MiB;
        for (size_t S = 4 * KiB; S <= 16 * MiB; S *= 2) run(arena, alen, src, dst, S, 0);
    } else {
        size_t alen = 4 * GiB;
        char *arena = reserve_aligned(alen, 2 * MiB);
        if (madvise(arena, alen, MADV_HUGEPAGE)) die("madvise arena");
        char *src = arena;
        char *dst = arena + 2 * GiB;
        for (size_t S = 2 * MiB; S <= 1 * GiB; S *= 2) {
            run(arena, alen, src, dst, S, 1);
            madvise(src, S, MADV_DONTNEED);
            fprintf(stderr, "S=%zu MiB done, AnonHugePages=%ld kB\n", S / MiB, anon_huge_kb());
        }
    }
    return 0;
}
