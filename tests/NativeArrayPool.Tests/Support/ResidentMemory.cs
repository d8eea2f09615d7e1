using System.Globalization;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// Resident memory of given address ranges, from /proc/self/smaps: the sum of the Rss of every mapping that
/// intersects them. Unlike the process's VmRSS it is not disturbed by other tests running in parallel.
/// </summary>
internal static class ResidentMemory
{
    public static bool IsAvailable => File.Exists("/proc/self/smaps");

    public static long Within(IReadOnlyList<(nint Start, nint End)> ranges)
    {
        long total = 0;
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && IsHex(line.AsSpan(0, dash)))
            {
                long start = long.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                long end = long.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                inside = ranges.Any(r => start < r.End && r.Start < end);
                continue;
            }
            if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
                total += long.Parse(line.AsSpan(4).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        return total;
    }

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
