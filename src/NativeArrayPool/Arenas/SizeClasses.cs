using System.Numerics;
using System.Runtime.CompilerServices;

namespace NativeBuffers.Arenas;

/// <summary>
/// The size classes, as two small pure functions over byte sizes.
/// <list type="bullet">
/// <item><b>Small</b> (32 B … 3.5 KiB, indices 0–27): four classes per doubling, 8-byte aligned, so neighbours
/// are at most 25 % apart: 32, 40, 48, 56, 64, 80, 96, 112, 128, 160 … 2048, 2560, 3072, 3584.</item>
/// <item><b>Large</b> (4 KiB … 1 MiB, indices 28–36): powers of two from a page, so growth amortizes.</item>
/// <item><b>Huge</b> (2 MiB … 2^<see cref="MaxShift"/>, indices 37–): powers of two, placed 2 MiB aligned
/// so the kernel moves them by page-table entries (PMD) rather than page by page.</item>
/// </list>
/// For a request r &gt; 32: class(r) ≥ r and class(r) &lt; 1.25·r below 4 KiB, &lt; 2·r above. Classes are monotone.
/// </summary>
internal static class SizeClasses
{
    /// <summary>The smallest class; smaller requests share it.</summary>
    public const long MinSize = 32;

    /// <summary>The first power-of-two class: one 4 KiB page.</summary>
    public const int PageClass = 28;
    public const long PageSize = 4096;

    /// <summary>The first huge class, 2 MiB: the transparent-huge-page and PMD size on x86-64 and arm64.</summary>
    public const int HugeClass = PageClass + 9;
    public const long HugeSize = 2L << 20;

    /// <summary>Largest class is 2^MaxShift bytes (16 TiB): well inside the 47-bit user address space.</summary>
    public const int MaxShift = 44;
    public const int MaxClass = PageClass + (MaxShift - 12);
    public const long MaxSize = 1L << MaxShift;
    public const int Count = MaxClass + 1;

    /// <summary>
    /// The class index for a request of <paramref name="bytes"/> (1 ≤ bytes ≤ <see cref="MaxSize"/>).
    /// Small: with k = ⌊log2(bytes−1)⌋ and j = ((bytes−1−2^k) &gt;&gt; (k−2)) + 1 ∈ 1..4, index = 4(k−5) + j.
    /// Large and huge: index = 28 + ⌈log2 bytes⌉ − 12.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ClassOf(long bytes)
    {
        // A page or more first: one compare on the way to the common large classes, and a request of exactly a page
        // (the commonest size there is) takes the two-instruction formula, which gives the small one's answer (28).
        if (bytes >= PageSize)
            return PageClass + (BitOperations.Log2((ulong)(bytes - 1)) + 1 - 12);
        if (bytes <= MinSize)
            return 0;
        int k = BitOperations.Log2((ulong)(bytes - 1));
        int j = (int)((bytes - 1 - (1L << k)) >> (k - 2)) + 1;
        return 4 * (k - 5) + j;
    }

    /// <summary>The size in bytes of class <paramref name="index"/>: 2^k + j·2^(k−2) below a page, 2^(12+index−28) from a page.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long SizeOf(int index)
    {
        if (index >= PageClass)
            return 1L << (12 + index - PageClass);
        if (index == 0)
            return MinSize;
        int k = 5 + (index - 1) / 4;
        int j = (index - 1) % 4 + 1;
        return (1L << k) + ((long)j << (k - 2));
    }

    /// <summary>Small classes live in slabs; page-sized and larger classes are blocks of their own.</summary>
    public static bool IsSmall(int index) => index < PageClass;

    /// <summary>Huge classes live in the huge space: 2 MiB granules, 2 MiB alignment, huge pages.</summary>
    public static bool IsHuge(int index) => index >= HugeClass;
}
