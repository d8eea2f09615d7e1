using System.Globalization;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// What /proc/self says, read line by line for tests and the stress host: the process's mappings and its resident
/// set. Simple, allocating readers that check the pool from outside; the library's own, allocation-light questions
/// to the kernel live in its Os layer (ProcessMemory, VirtualMemory). Returns null or -1 where /proc is absent.
/// </summary>
internal static class ProcSelf
{
    /// <summary>The process's mappings as [start, end) pairs, or null where /proc/self/maps does not exist.</summary>
    public static List<(nint Start, nint End)>? ReadMappings()
    {
        if (!File.Exists("/proc/self/maps"))
            return null;
        var result = new List<(nint, nint)>(1024);
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash <= 0 || space <= dash)
                continue;
            long start = long.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            long end = long.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            result.Add(((nint)start, (nint)end));
        }
        return result;
    }

    /// <summary>How many kernel mappings intersect any of the given ranges; -1 without /proc.</summary>
    public static int CountMappingsWithin(IReadOnlyList<(nint Start, nint End)> ranges)
    {
        List<(nint Start, nint End)>? mappings = ReadMappings();
        if (mappings is null)
            return -1;
        int count = 0;
        foreach ((nint start, nint end) in mappings)
        {
            foreach ((nint rs, nint re) in ranges)
            {
                if (start < re && rs < end)
                {
                    count++;
                    break;
                }
            }
        }
        return count;
    }

    /// <summary>Resident set size in bytes (VmRSS), or -1 where /proc/self/status is absent.</summary>
    public static long ReadResidentBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    continue;
                ReadOnlySpan<char> value = line.AsSpan(6).Trim();
                int space = value.IndexOf(' ');
                if (space > 0 && long.TryParse(value[..space], NumberStyles.None, CultureInfo.InvariantCulture, out long kib))
                    return kib * 1024;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return -1;
    }
}
