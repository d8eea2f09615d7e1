using System.Buffers.Binary;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// A content pattern that catches lost, shifted and swapped pages: every 4 KiB page of a buffer starts with
/// (seed, page index) and the rest of the page holds the seed's byte.
/// </summary>
internal static class Pattern
{
    private const int Page = 4096;

    public static void Fill(NativeBuffer<byte> buffer, long length, int seed)
    {
        for (long page = 0; page * Page < length; page++)
        {
            int count = (int)Math.Min(Page, length - page * Page);
            Span<byte> span = buffer.AsSpan(page * Page, count);
            span.Fill((byte)seed);
            if (count >= 8)
                BinaryPrimitives.WriteInt64LittleEndian(span, ((long)seed << 32) | page);
        }
    }

    /// <summary>The first offset that differs from the pattern, or -1.</summary>
    public static long FirstMismatch(NativeBuffer<byte> buffer, long length, int seed, bool sampleOnly = false)
    {
        long pages = (length + Page - 1) / Page;
        for (long page = 0; page < pages; page++)
        {
            // Sampling checks the first, last and every 64th page: enough to see a lost or misplaced move.
            if (sampleOnly && page != 0 && page != pages - 1 && page % 64 != 0)
                continue;
            int count = (int)Math.Min(Page, length - page * Page);
            Span<byte> span = buffer.AsSpan(page * Page, count);
            int start = 0;
            if (count >= 8)
            {
                if (BinaryPrimitives.ReadInt64LittleEndian(span) != (((long)seed << 32) | page))
                    return page * Page;
                start = 8;
            }
            int bad = span[start..].IndexOfAnyExcept((byte)seed);
            if (bad >= 0)
                return page * Page + start + bad;
        }
        return -1;
    }
}
