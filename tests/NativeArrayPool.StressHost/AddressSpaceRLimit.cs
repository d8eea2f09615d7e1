using System.Runtime.InteropServices;

namespace NativeBuffers.StressHost;

/// <summary>
/// setrlimit(RLIMIT_AS) on this process: the same limit as <c>ulimit -v</c>, but set after the runtime has
/// started, relative to what it already uses, so the test does not depend on how much address space a
/// particular runtime version reserves at startup (2.6 GB here even with DOTNET_GCHeapHardLimit).
/// </summary>
internal static partial class AddressSpaceRLimit
{
    private const int RLIMIT_AS = 9;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    /// <summary>Lowers the soft limit to what the process maps now plus <paramref name="headroom"/> bytes. Returns the limit.</summary>
    public static long LimitToCurrentPlus(long headroom)
    {
        long current = VmSize();
        Checks.That(GetRLimit(RLIMIT_AS, out RLimit limit) == 0, "getrlimit failed");
        ulong soft = (ulong)(current + headroom);
        Checks.That(limit.Maximum == ulong.MaxValue || soft <= limit.Maximum, "the hard address-space limit is below what the test needs");
        Checks.That(SetRLimit(RLIMIT_AS, new RLimit { Current = soft, Maximum = limit.Maximum }) == 0, $"setrlimit failed: errno {Marshal.GetLastPInvokeError()}");
        return (long)soft;
    }

    /// <summary>VmSize from /proc/self/status: the address space the process has mapped.</summary>
    public static long VmSize()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmSize:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(7).Trim().TrimEnd("kB").Trim()) * 1024;
        }
        throw new CheckFailedException("no VmSize in /proc/self/status");
    }
}
