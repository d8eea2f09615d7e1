using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace NativeBuffers.Os;

/// <summary>
/// What the kernel says about this process's memory: its mappings (one line of /proc/self/maps per VMA),
/// the map-count limit, and resident memory. Returns nothing (null, -1) where /proc is absent.
/// </summary>
internal static class ProcessMemory
{
    private const long DefaultMaxMapCount = 65530;

    /// <summary>vm.max_map_count, or the kernel default where it cannot be read.</summary>
    public static long ReadMaxMapCount()
    {
        try
        {
            string text = File.ReadAllText("/proc/sys/vm/max_map_count").Trim();
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value > 0 ? value : DefaultMaxMapCount;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return DefaultMaxMapCount;
        }
    }

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

    /// <summary>The number of mappings the process has now; -1 without /proc.</summary>
    public static int CountMappings() => ReadMappings()?.Count ?? -1;

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

    /// <summary>
    /// Resident bytes of the given ranges, from the Rss lines of /proc/self/smaps; -1 where it is absent.
    /// A kernel mapping that lies partly outside the ranges (the kernel may merge a reservation with a
    /// neighbouring anonymous mapping) has its overlapping pages counted one by one from /proc/self/pagemap
    /// instead, so the figure is exact either way. Reads the whole smaps file: meant for metrics, not hot paths.
    /// </summary>
    public static long ReadResidentBytesWithin(IReadOnlyList<(nint Start, nint End)> ranges)
    {
        const string path = "/proc/self/smaps";
        long total = 0;
        long overlap = 0, size = 0;
        SafeFileHandle? pagemap = null;
        try
        {
            if (!File.Exists(path))
                return -1;
            foreach (string line in File.ReadLines(path))
            {
                if (line.Length == 0)
                    continue;
                if (char.IsAsciiHexDigitLower(line[0]) || char.IsAsciiDigit(line[0]))
                {
                    // A mapping's header: "start-end perms offset dev inode [name]".
                    int dash = line.IndexOf('-');
                    int space = line.IndexOf(' ');
                    overlap = size = 0;
                    if (dash <= 0 || space <= dash
                        || !long.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long start)
                        || !long.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long end))
                        continue;
                    size = end - start;
                    foreach ((nint rs, nint re) in ranges)
                    {
                        long from = Math.Max(start, (long)rs), to = Math.Min(end, (long)re);
                        if (from >= to)
                            continue;
                        overlap += to - from;
                        if (to - from < size)
                            total += CountResidentPages(ref pagemap, from, to);
                    }
                    continue;
                }
                if (overlap >= size && size > 0 && line.StartsWith("Rss:", StringComparison.Ordinal))
                {
                    ReadOnlySpan<char> value = line.AsSpan(4).Trim();
                    int unit = value.IndexOf(' ');
                    if (unit > 0 && long.TryParse(value[..unit], NumberStyles.None, CultureInfo.InvariantCulture, out long kib))
                        total += kib * 1024;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
        finally
        {
            pagemap?.Dispose();
        }
        return total;
    }

    /// <summary>Resident bytes of [start, end) from /proc/self/pagemap: one 64-bit entry per page, bit 63 = present.</summary>
    private static long CountResidentPages(ref SafeFileHandle? pagemap, long start, long end)
    {
        pagemap ??= File.OpenHandle("/proc/self/pagemap");
        long pageSize = Environment.SystemPageSize;
        byte[] entries = new byte[8 * 8192];
        long resident = 0;
        for (long page = start / pageSize; page < end / pageSize;)
        {
            int count = (int)Math.Min(8192, end / pageSize - page);
            int read = RandomAccess.Read(pagemap, entries.AsSpan(0, count * 8), page * 8);
            if (read <= 0)
                break;
            for (int i = 0; i + 8 <= read; i += 8)
            {
                if ((entries[i + 7] & 0x80) != 0)
                    resident += pageSize;
            }
            page += read / 8;
        }
        return resident;
    }
}
