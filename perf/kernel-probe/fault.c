/* fault.c: first-touch cost of 1 GiB, with/without MADV_HUGEPAGE, and memset of resident memory */
#include "common.h"

#define N 7
#define LEN (1 * GiB)

static char *fresh(int huge) {
    char *p = reserve_aligned(LEN, 2 * MiB);
    if (huge && madvise(p, LEN, MADV_HUGEPAGE)) die("madvise");
    return p;
}

int main(void) {
    double t[N];
    const char *names[2] = {"no madvise (4 KiB pages)", "MADV_HUGEPAGE (2 MiB THP)"};
    printf("| case | reps | median ms | min ms | max ms | minor faults | AnonHugePages after (kB) |\n|---|---|---|---|---|---|---|\n");
    for (int huge = 0; huge < 2; huge++) {
        for (int mode = 0; mode < 2; mode++) {
            long flt = 0, ah = 0;
            for (int i = 0; i < N; i++) {
                char *p = fresh(huge);
                long f0 = minflt();
                double t0 = now_us();
                if (mode == 0) memset(p, 1, LEN); else touch(p, LEN);
                t[i] = (now_us() - t0) / 1000;
                flt = minflt() - f0;
                ah = anon_huge_kb();
                munmap(p, LEN);
            }
            double mn = t[0], mx = t[0];
            for (int i = 0; i < N; i++) { if (t[i] < mn) mn = t[i]; if (t[i] > mx) mx = t[i]; }
            printf("| fresh 1 GiB, %s, %s | %d | %.1f | %.1f | %.1f | %ld | %ld |\n",
                   mode == 0 ? "memset" : "write 1 byte per 4 KiB", names[huge], N, median(t, N), mn, mx, flt, ah);
            fflush(stdout);
        }
    }
    for (int huge = 0; huge < 2; huge++) {
        char *p = fresh(huge);
        memset(p, 1, LEN);
        for (int i = 0; i < N; i++) {
            double t0 = now_us(); memset(p, i + 2, LEN); t[i] = (now_us() - t0) / 1000;
        }
        double mn = t[0], mx = t[0];
        for (int i = 0; i < N; i++) { if (t[i] < mn) mn = t[i]; if (t[i] > mx) mx = t[i]; }
        printf("| resident 1 GiB memset, %s | %d | %.1f | %.1f | %.1f | 0 | %ld |\n", names[huge], N, median(t, N), mn, mx, anon_huge_kb());
        munmap(p, LEN);
    }
    /* raw syscall cost reference */
    double s[2001];
    for (int i = 0; i < 2001; i++) { double t0 = now_us(); getppid(); s[i] = now_us() - t0; }
    printf("\ngetppid() syscall median: %.2f us (2001 reps)\n", median(s, 2001));
    return 0;
}
