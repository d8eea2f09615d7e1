using NativeBuffers.Pooling;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// The README's first snippet, run as written on a pool with the shared pool's default options, and the claims its
/// comments make checked against the pool's statistics. Runs alone (see <see cref="SerialKernelCollection"/>): it
/// fills 64 MiB, which tests that measure the resident memory of their own mappings would count if the kernel merged
/// its mapping with theirs.
/// </summary>
[Collection(nameof(SerialKernelCollection))]
[Trait(Layer.Trait, Layer.Linux)]
public class ReadmeSnippetTests
{
    [LinuxFact]
    public void The_snippets_resize_to_3_GiB_moves_pages_and_copies_nothing()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });

        // --- as in README.md ---
        NativeBuffer<byte> buffer = pool.Rent(64 << 20);     // Length ≥ 64 MiB
        buffer.AsSpan().Fill(42);
        pool.Resize(ref buffer, 3L << 30);                   // ≥ 3 GiB; contents kept; pages moved, not copied
        buffer.AsSpan(2L << 30, 4096).Fill(7);               // windows of a buffer longer than a Span
        // ---

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(0, stats.BytesCopied);
        Assert.Equal(0, stats.GrowsCopied);
        Assert.Equal(1, stats.GrowsRemappedFixed + stats.GrowsRemapped);
        Assert.True(buffer.AsSpan(0, 64 << 20).IndexOfAnyExcept((byte)42) < 0);
        Assert.True(buffer.AsSpan(2L << 30, 4096).IndexOfAnyExcept((byte)7) < 0);
        pool.Return(buffer);
    }

    [LinuxFact]
    public void A_buffer_under_2_MiB_is_copied_once_into_the_huge_page_space_as_the_README_notes()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        NativeBuffer<byte> buffer = pool.Rent(1 << 20);
        buffer.AsSpan().Fill(42);

        pool.Resize(ref buffer, 3L << 30);

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(1, stats.GrowsCopied);
        Assert.Equal(1 << 20, stats.BytesCopied);
        Assert.True(buffer.AsSpan(0, 1 << 20).IndexOfAnyExcept((byte)42) < 0);
        pool.Return(buffer);
    }
}
