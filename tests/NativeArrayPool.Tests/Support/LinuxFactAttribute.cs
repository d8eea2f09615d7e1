namespace NativeBuffers.Tests.Support;

/// <summary>A fact that needs the Linux kernel: reported as skipped elsewhere, rather than passing without running.</summary>
internal sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
            Skip = "Needs the Linux kernel (mremap).";
    }
}
