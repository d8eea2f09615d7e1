using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Collections;

/// <summary>
/// Capacity is not commitment: a write far past a stream's end, a SetLength that grows it, and a list's or writer's
/// capacity growth must read zero where nothing was written without committing memory for it. Before the fix,
/// <c>Seek(3 GiB)</c> and <c>WriteByte</c> grew resident memory by 3 GiB (the gap was memset), so an attacker-chosen
/// offset ended in the kernel's OOM killer.
/// </summary>
public class SparseWriteTests
{
    private const long Gap = 3L << 30;
    private const long MiB = 1 << 20;

    [Fact]
    public void A_gap_in_pooled_memory_that_held_data_reads_zero()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> old = pool.Rent(8 * MiB);
        old.AsSpan().Fill(0xAA);
        pool.Return(old); // the stream's growth may reuse it: its bytes must not show through the gap

        using var stream = new NativeMemoryStream(pool);
        stream.WriteByte(1);
        stream.Seek(5 * MiB + 123, SeekOrigin.Begin); // edges that are not page-aligned on both sides
        stream.WriteByte(2);
        stream.SetLength(7 * MiB + 5);

        byte[] all = stream.ToArray();
        Assert.Equal(7 * MiB + 5, all.Length);
        Assert.Equal(1, all[0]);
        Assert.Equal(2, all[5 * MiB + 123]);
        Assert.Equal(-1, all.AsSpan(1, (int)(5 * MiB + 122)).IndexOfAnyExcept((byte)0));
        Assert.Equal(-1, all.AsSpan((int)(5 * MiB + 124)).IndexOfAnyExcept((byte)0));
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void A_write_3_GiB_past_the_end_commits_about_what_was_written()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        using var stream = new NativeMemoryStream(pool);
        stream.Write(new byte[4096]);
        stream.Seek(Gap, SeekOrigin.Begin);
        stream.WriteByte(7);

        long resident = ResidentMemory.Within(pool.Core.Arena.MappedRanges());
        Assert.True(resident < 64 * MiB, $"{resident >> 20} MiB resident after writing 4 KiB + 1 byte with a 3 GiB gap");
        Assert.Equal(Gap + 1, stream.Length);
        stream.Position = Gap;
        Assert.Equal(7, stream.ReadByte());
        foreach (long offset in new[] { 4096L, MiB, 1L << 30, Gap - 1 })
        {
            stream.Position = offset;
            Assert.Equal(0, stream.ReadByte());
        }
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void SetLength_to_3_GiB_commits_nothing_for_the_new_part()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        using var stream = new NativeMemoryStream(pool);
        stream.SetLength(Gap);
        long resident = ResidentMemory.Within(pool.Core.Arena.MappedRanges());
        Assert.True(resident < 64 * MiB, $"{resident >> 20} MiB resident after SetLength(3 GiB)");
        stream.Position = Gap / 2;
        Assert.Equal(0, stream.ReadByte());
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void List_and_writer_capacity_growth_commits_nothing_for_the_capacity()
    {
        using var pool = NativeArrayPool<long>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        using var list = new NativeList<long>(pool);
        list.Add(1);
        list.EnsureCapacity((3L << 30) / sizeof(long));
        list.Add(2);
        using var writer = new NativeBufferWriter<long>(pool);
        writer.GetSpan(1)[0] = 3;
        writer.Advance(1);
        _ = writer.GetSpan((1 << 30) / sizeof(long));

        long resident = ResidentMemory.Within(pool.Core.Arena.MappedRanges());
        Assert.True(resident < 64 * MiB, $"{resident >> 20} MiB resident after growing a list to 3 GiB and a writer to 1 GiB of capacity");
        Assert.Equal(2, list[1]);
    }

    [Fact]
    public void A_write_past_the_largest_buffer_throws_a_clear_exception_and_keeps_the_stream()
    {
        using var pool = NativeArrayPool<byte>.Create();
        using var stream = new NativeMemoryStream(pool);
        stream.Write([1, 2, 3]);
        long max = NativeArrayPool<byte>.MaxLength;
        Assert.Throws<ArgumentOutOfRangeException>(() => stream.Seek(max + 1, SeekOrigin.Begin));
        stream.Seek(max, SeekOrigin.Begin);
        var e = Assert.Throws<IOException>(() => stream.WriteByte(9));
        Assert.Contains("past the largest buffer the pool can hold (16 TiB)", e.Message);
        Assert.Equal(3, stream.Length);
        stream.Position = 0;
        Assert.Equal(1, stream.ReadByte());
    }

    [Trait(Layer.Trait, Layer.Linux)]
    [Fact]
    public void A_write_at_the_last_byte_of_16_TiB_is_served_sparsely_or_refused_clearly()
    {
        // The pool's largest buffer is 16 TiB; whether the kernel maps that much address space depends on the
        // machine (overcommit, RLIMIT_AS). Either way the process must not be put at risk.
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        using var stream = new NativeMemoryStream(pool);
        stream.Write([1, 2, 3]);
        stream.Seek(NativeArrayPool<byte>.MaxLength - 1, SeekOrigin.Begin);
        try
        {
            stream.WriteByte(9);
        }
        catch (OutOfMemoryException e)
        {
            Assert.Contains("could not map", e.Message);
            Assert.Equal(3, stream.Length);
            stream.Position = 0;
            Assert.Equal(1, stream.ReadByte());
            return;
        }
        long resident = ResidentMemory.Within(pool.Core.Arena.MappedRanges());
        Assert.True(resident < 64 * MiB, $"{resident >> 20} MiB resident after a write at 16 TiB");
        Assert.Equal(NativeArrayPool<byte>.MaxLength, stream.Length);
        stream.Position = NativeArrayPool<byte>.MaxLength - 1;
        Assert.Equal(9, stream.ReadByte());
    }
}
