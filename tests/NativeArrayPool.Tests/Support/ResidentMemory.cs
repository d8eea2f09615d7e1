using System.Globalization;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// Resident memory of given address ranges. Unlike the process's VmRSS it is not disturbed by other tests running in
/// parallel.
/// </summary>
internal static class ResidentMemory
{
    /// <remarks>
    /// Exact: a kernel mapping that reaches outside the ranges (the kernel merges a reservation with a neighbouring
    /// anonymous mapping, such as another pool's) has only its pages inside them counted, from /proc/self/pagemap.
    /// Summing such a mapping's whole Rss (as this did) counted a neighbour's memory: 108–112 MiB read for a pool
    /// that held a few, when a test filling 64 MiB ran beside it.
    /// </remarks>
    public static long Within(IReadOnlyList<(nint Start, nint End)> ranges) => NativeBuffers.Os.ProcessMemory.ReadResidentBytesWithin(ranges);

    /// <summary>The permission field ("rw-p", "---p") of the mapping that contains <paramref name="address"/>.</summary>
    public static string? PermissionsAt(nint address)
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            string[] parts = line.Split(' ', 3);
            string[] bounds = parts[0].Split('-');
            long start = long.Parse(bounds[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            long end = long.Parse(bounds[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (address >= start && address < end)
                return parts[1];
        }
        return null;
    }

    private static bool IsHex(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (!char.IsAsciiHexDigit(c))
                return false;
        }
        return text.Length > 0;
    }
}
