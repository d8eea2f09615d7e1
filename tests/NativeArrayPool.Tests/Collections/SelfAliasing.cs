namespace NativeBuffers.Tests.Collections;

/// <summary>
/// Helpers for self-aliasing tests, where a collection is given its own memory as a source. A span taken before the
/// collection grows points into the buffer the growth gives back: below the remap threshold a freed block (which still
/// holds the old bytes until someone reuses it), above it a range whose pages moved away (which reads as zeros).
/// </summary>
internal static class SelfAliasing
{
    /// <summary>Lengths to test at: small and large blocks, and a huge one (2 MiB aligned, moved by page-table entries).</summary>
    public static TheoryData<int> Lengths => new() { 16 << 10, 64 << 10, 4 << 20 };

    /// <summary>
    /// A pool whose buffers never grow in place, so every growth leaves the old address behind (in a fresh pool the
    /// neighbouring memory is free, and in-place growth would hide a stale source), and whose blocks move pages from
    /// 4 KiB on Linux, so a stale source reads zeros instead of a freed block's intact old bytes.
    /// </summary>
    public static NativeArrayPool<T> MovingPool<T>() where T : unmanaged => NativeArrayPool<T>.Create(new NativePoolOptions
    {
        GrowthPaths = GrowthPaths.All & ~GrowthPaths.InPlace,
        RemapThresholdBytes = 4096,
        IdleTrimDelay = Timeout.InfiniteTimeSpan,
        TrimOnMemoryPressure = false,
    });

    /// <summary>Asserts equal contents, saying how many elements differ (a stale source gets most of them wrong).</summary>
    public static void AssertSame<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, string peer)
    {
        Assert.Equal(expected.Length, actual.Length);
        int wrong = 0;
        for (int i = 0; i < expected.Length; i++)
            wrong += EqualityComparer<T>.Default.Equals(expected[i], actual[i]) ? 0 : 1;
        Assert.True(wrong == 0, $"{wrong} of {expected.Length} elements differ from {peer}'s");
    }
}
