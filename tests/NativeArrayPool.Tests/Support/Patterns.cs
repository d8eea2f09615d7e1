namespace NativeBuffers.Tests.Support;

/// <summary>
/// Per-buffer byte patterns for checking that contents survive every operation. The pattern of a buffer
/// repeats every 65,521 bytes (a prime, so it is never page-periodic: a page swapped with another page of the
/// same buffer, or lost to fresh zeros, shows up), and differs from buffer to buffer.
/// </summary>
internal static class Patterns
{
    private const int Period = 65521;

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

    /// <summary>The first offset in [0, length) that does not hold buffer <paramref name="id"/>'s pattern, or -1.</summary>
    public static long FirstMismatch(NativeBuffer<byte> buffer, int id, long length)
    {
        byte[] block = BlockOf(id);
        for (long at = 0; at < length;)
        {
            int phase = (int)(at % Period);
            int count = (int)Math.Min(Period - phase, length - at);
            Span<byte> actual = buffer.AsSpan(at, count);
            ReadOnlySpan<byte> expected = block.AsSpan(phase, count);
            if (!actual.SequenceEqual(expected))
            {
                for (int i = 0; i < count; i++)
                {
                    if (actual[i] != expected[i])
                        return at + i;
                }
            }
            at += count;
        }
        return -1;
    }
}
