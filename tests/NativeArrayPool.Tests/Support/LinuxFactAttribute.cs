using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>A fact that needs the Linux kernel: reported as skipped elsewhere, rather than passing without running.</summary>
internal sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute() => Skip = LinuxKernel.SkipReason();
}

/// <summary>A theory that needs the Linux kernel: every case is reported as skipped elsewhere.</summary>
internal sealed class LinuxTheoryAttribute : TheoryAttribute
{
    public LinuxTheoryAttribute() => Skip = LinuxKernel.SkipReason();
}

/// <summary>
/// A Linux fact that maps until <c>vm.max_map_count</c> refuses: skipped where the limit is so high that eating
/// it would spend the machine's memory on kernel mapping structures instead of testing the pool. The limit is
/// read when xunit discovers the test, so the skip and its reason show in the results.
/// </summary>
internal sealed class LinuxMapCountFactAttribute : FactAttribute
{
    /// <summary>The most mappings a test may consume (the default limit is 65530).</summary>
    public const long MostMappingsConsumed = 1_100_000;

    public LinuxMapCountFactAttribute()
    {
        Skip = LinuxKernel.SkipReason();
        if (Skip is not null)
            return;
        long max = long.Parse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim());
        if (max > MostMappingsConsumed)
            Skip = $"vm.max_map_count is {max}: too many mappings to consume (at most {MostMappingsConsumed}).";
    }
}

internal static class LinuxKernel
{
    /// <summary>Null where the Linux layer works; otherwise why a test of the kernel cannot run.</summary>
    public static string? SkipReason() =>
        !OperatingSystem.IsLinux() ? "Needs the Linux kernel (mremap, mprotect, /proc)."
        : !LinuxVirtualMemory.IsAvailable() ? "mremap is unavailable here (a seccomp filter?): the Linux layer cannot run."
        : null;
}
