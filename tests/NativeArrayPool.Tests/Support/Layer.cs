using NativeBuffers.Os;
using NativeBuffers.Pooling;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// The suite runs twice in CI: as is, where pools with <see cref="MemoryBackend.Automatic"/> use the Linux layer,
/// and with <c>NATIVEARRAYPOOL_BACKEND=Portable</c>, where they use the portable one. Tests of the kernel itself
/// (mremap moves, mprotect, madvise, /proc, the kernel's limits) pin <see cref="MemoryBackend.Linux"/> and carry
/// the trait <c>Layer=Linux</c>, so the portable run leaves them out instead of running them a second time.
/// </summary>
internal static class Layer
{
    public const string Trait = "Layer";
    public const string Linux = "Linux";

    /// <summary>
    /// The layer a pool created with <paramref name="backend"/> would get, for tests that wrap it (ledgers, fault
    /// injection): <see cref="MemoryBackend.Automatic"/> follows <c>NATIVEARRAYPOOL_BACKEND</c> as the pool does.
    /// </summary>
    public static VirtualMemory For(MemoryBackend backend)
    {
        if (backend == MemoryBackend.Automatic)
            backend = EnvironmentOptions.ReadBackend(Environment.GetEnvironmentVariable);
        return backend switch
        {
            MemoryBackend.Portable => PortableVirtualMemory.Instance,
            MemoryBackend.Linux => LinuxVirtualMemory.Instance,
            _ => VirtualMemory.ForCurrentPlatform(),
        };
    }

    /// <summary>Whether the pool's layer moves pages (Linux) or grows by copying (portable).</summary>
    public static bool MovesPages<T>(NativeArrayPool<T> pool) where T : unmanaged => pool.Core.Arena.Os.CanMovePages;
}
