namespace NativeBuffers.Tests.Support;

/// <summary>
/// Per-buffer byte patterns for checking that contents survive every operation. The pattern of a buffer
/// repeats every 65,521 bytes (a prime, so it is never page-periodic: a page swapped with another page of the
/// same buffer, shifted within it, or lost to fresh zeros shows up), and differs from buffer to buffer, so a
/// page of another buffer shows up too.
/// </summary>
internal static class Pattern
{
    private const int Period = 65521;
    private const int Page = 4096;

    [ThreadStatic]
    private static Dictionary<int, byte[]>? t_blocks;

    private static byte[] BlockOf(int id)
    {
        t_blocks ??= new Dictionary<int, byte[]>();
        if (t_blocks.TryGetValue(id, out byte[]? block))
            return block;
        if (t_blocks.Count > 4096)
            t_blocks.Clear();
        block = new byte[Period];
        new Random(id * 7919 + 17).NextBytes(block);
        t_blocks[id] = block;
        return block;
    }

    /// <summary>Writes buffer <paramref name="id"/>'s pattern over bytes [from, to) of the buffer.</summary>
    public static void Fill(NativeBuffer<byte> buffer, int id, long from, long to)
    {
        byte[] block = BlockOf(id);
        for (long at = from; at < to;)
        {
            int phase = (int)(at % Period);
            int count = (int)Math.Min(Period - phase, to - at);
            block.AsSpan(phase, count).CopyTo(buffer.AsSpan(at, count));
            at += count;
        }
    }

    /// <summary>
    /// The first offset in [0, length) that does not hold buffer <paramref name="id"/>'s pattern, or -1.
    /// <paramref name="sampleOnly"/> checks the first, the last and every 64th 4 KiB page: enough to see a lost or
    /// misplaced page move, at a fraction of the cost, for checks after every step of a long run.
    /// </summary>
    public static long FirstMismatch(NativeBuffer<byte> buffer, int id, long length, bool sampleOnly = false)
    {
        byte[] block = BlockOf(id);
        if (!sampleOnly)
            return FirstMismatch(buffer, block, 0, length);
        long pages = (length + Page - 1) / Page;
        for (long page = 0; page < pages; page++)
        {
            if (page != 0 && page != pages - 1 && page % 64 != 0)
                continue;
            long mismatch = FirstMismatch(buffer, block, page * Page, Math.Min(length, (page + 1) * Page));
            if (mismatch >= 0)
                return mismatch;
        }
        return -1;
    }

    private static long FirstMismatch(NativeBuffer<byte> buffer, byte[] block, long from, long to)
    {
        for (long at = from; at < to;)
        {
            int phase = (int)(at % Period);
            int count = (int)Math.Min(Period - phase, to - at);
            Span<byte> actual = buffer.AsSpan(at, count);
            ReadOnlySpan<byte> expected = block.AsSpan(phase, count);
            int differs = actual.CommonPrefixLength(expected);
            if (differs < count)
                return at + differs;
            at += count;
        }
        return -1;
    }
}
