using NativeBuffers.Arenas;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.StressHost;

internal sealed class CheckFailedException(string message) : Exception(message);

/// <summary>Checks and patterns for the child process; a failed check ends the run with exit code 1.</summary>
internal static class Checks
{
    public static void That(bool condition, string what)
    {
        if (!condition)
            throw new CheckFailedException(what);
    }

    /// <summary>Byte i of buffer <paramref name="id"/>: never page-periodic, different per buffer.</summary>
    private static byte PatternByte(int id, long i) => (byte)((i * 2654435761L >> 13) + i + id * 31);

    public static void Fill(NativeBuffer<byte> buffer, int id, long from, long to)
    {
        for (long i = from; i < to; i++)
            buffer[i] = PatternByte(id, i);
    }

    public static void Verify(NativeBuffer<byte> buffer, int id, long length, string what)
    {
        That(buffer.IsValid, $"{what}: the lease is no longer valid");
        for (long i = 0; i < length; i++)
        {
            if (buffer[i] != PatternByte(id, i))
                throw new CheckFailedException($"{what}: byte {i} of {length} lost");
        }
    }

    /// <summary>Records the arena's ranges, for the leak check after Dispose.</summary>
    public static void Record(Arena arena, List<(nint Start, nint End)> ranges)
    {
        foreach (var range in arena.MappedRanges())
        {
            if (!ranges.Contains(range))
                ranges.Add(range);
        }
    }

    /// <summary>Mappings lying wholly inside ranges the arena had mapped (anything of the arena's left after Dispose).</summary>
    public static int LeftInside(List<(nint Start, nint End)> ranges)
    {
        int count = 0;
        foreach ((nint start, nint end) in ProcSelf.ReadMappings()!)
        {
            foreach ((nint rs, nint re) in ranges)
            {
                if (start >= rs && end <= re)
                {
                    count++;
                    break;
                }
            }
        }
        return count;
    }
}
