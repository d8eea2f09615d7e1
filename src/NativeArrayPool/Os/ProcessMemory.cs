using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace NativeBuffers.Os;

/// <summary>
/// What /proc says about this process's memory: the map-count and address-space limits and the number of its
/// mappings (for <see cref="LinuxVirtualMemory"/>), and the resident bytes of given ranges (for the metrics).
/// Returns -1 where /proc is absent. The arena never calls this directly: it asks through <see cref="VirtualMemory"/>.
/// </summary>
internal static class ProcessMemory
{
    /// <summary>vm.max_map_count, or the kernel default where it cannot be read.</summary>
    public static long ReadMaxMapCount()
    {
        try
        {
            string text = File.ReadAllText("/proc/sys/vm/max_map_count").Trim();
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value > 0 ? value : VirtualMemory.DefaultMaxMapCount;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return VirtualMemory.DefaultMaxMapCount;
        }
    }

    /// <summary>The soft RLIMIT_AS (<c>ulimit -v</c>) in bytes, or -1 when unlimited or unknown (from /proc/self/limits).</summary>
    public static long ReadAddressSpaceLimit()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/limits"))
            {
                // "Max address space           unlimited            unlimited            bytes"
                if (!line.StartsWith("Max address space", StringComparison.Ordinal))
                    continue;
                string[] fields = line["Max address space".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out long soft) ? soft : -1;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
        }
        return -1;
    }

    /// <summary>The number of mappings the process has now; -1 without /proc.</summary>
    /// <remarks>
    /// Allocation-light (see <see cref="Scan{TVisitor}"/>): the Linux layer's <see cref="VirtualMemory.CountProcessMappings"/>,
    /// which the arena asks when its estimate of the process's free mappings nears the mapping reserve, close to vm.max_map_count.
    /// </remarks>
    public static int CountMappings()
    {
        var visitor = new CountVisitor();
        return Scan(ref visitor) ? visitor.Count : -1;
    }

    private interface IMappingVisitor
    {
        /// <summary>Called for each mapping in address order; returns false to stop.</summary>
        bool Visit(nint start, nint end);
    }

    private struct CountVisitor : IMappingVisitor
    {
        public int Count;
        public bool Visit(nint start, nint end)
        {
            Count++;
            return true;
        }
    }

    /// <summary>
    /// Streams /proc/self/maps (sorted by address) through <paramref name="visitor"/>, parsing only the
    /// "start-end" of each line out of a pooled byte buffer: no string per line, no list. That matters because
    /// these questions are asked when the process is at vm.max_map_count, where the runtime cannot map new
    /// memory for its heap: tens of thousands of line strings could be what brings it down.
    /// Returns false where /proc/self/maps cannot be read.
    /// </summary>
    private static bool Scan<TVisitor>(ref TVisitor visitor) where TVisitor : struct, IMappingVisitor
    {
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            using var file = new FileStream("/proc/self/maps", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            int field = 0; // 0: start address, 1: end address, 2: rest of the line
            ulong start = 0, end = 0;
            int read;
            while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
            {
                for (int i = 0; i < read; i++)
                {
                    byte c = buffer[i];
                    if (c == (byte)'\n')
                    {
                        if (field == 2 && !visitor.Visit((nint)start, (nint)end))
                            return true;
                        field = 0;
                        start = end = 0;
                    }
                    else if (field == 0)
                    {
                        if (c == (byte)'-')
                            field = 1;
                        else
                            start = (start << 4) | HexValue(c);
                    }
                    else if (field == 1)
                    {
                        if (c == (byte)' ')
                            field = 2;
                        else
                            end = (end << 4) | HexValue(c);
                    }
                }
            }
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static ulong HexValue(byte c) => c <= (byte)'9' ? (ulong)(c - '0') : (ulong)((c | 0x20) - 'a' + 10);

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
