using NativeBuffers.Arenas;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// <see cref="NativePoolOptions.ZeroOnRent"/> and <c>clearArray</c>: whatever path memory takes back to a tenant
/// (thread cache, arena, a resize's copy or in-place growth), it reads zero. Both backends; sizes on both sides
/// of the memset/discard threshold.
/// </summary>
public abstract class ZeroOnRentTests
{
    private readonly MemoryBackend _backend;

    protected ZeroOnRentTests(MemoryBackend backend) => _backend = backend;

    public static TheoryData<int> Sizes => new() { 40, 3000, 8192, 300_000, (int)Arena.ZeroByDiscardBytes, 6 << 20 };

    private NativeArrayPool<byte> CreatePool(bool zeroOnRent, bool threadCaches = true) =>
        NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            Backend = _backend,
            ZeroOnRent = zeroOnRent,
            ThreadCaches = threadCaches,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Reused_memory_reads_zero_from_the_cache_and_from_the_arena(int size)
    {
        foreach (bool caches in new[] { true, false })
        {
            using NativeArrayPool<byte> pool = CreatePool(zeroOnRent: true, caches);
            for (int round = 0; round < 3; round++)
            {
                NativeBuffer<byte> buffer = pool.Rent(size);
                AssertZero(buffer, $"round {round}, caches {caches}");
                buffer.AsSpan().Fill(0xEE);
                pool.Return(buffer);
                if (round == 1)
                    pool.Trim(); // next rent comes from the arena, after the discard of free pages
            }
        }
    }

    [Fact]
    public void Memory_a_resize_left_dirty_in_the_arena_is_zeroed_when_rented()
    {
        using NativeArrayPool<byte> pool = CreatePool(zeroOnRent: true);
        NativeBuffer<byte> small = pool.Rent(8192);
        NativeBuffer<byte> neighbour = pool.Rent(8192); // blocks in-place growth, so the resize copies
        small.AsSpan().Fill(0xAB);
        pool.Resize(ref small, 100_000); // the old 8 KiB block goes back to the arena with 0xAB in it

        NativeBuffer<byte> reused = pool.Rent(8192);

        AssertZero(reused, "a block freed dirty by a copying resize");
        Assert.True(small.AsSpan(0, 8192).IndexOfAnyExcept((byte)0xAB) < 0, "the resize kept the contents");
        pool.Return(reused);
        pool.Return(small);
        pool.Return(neighbour);
    }

    /// <summary>Ends the lease and gives the memory straight to the arena, skipping the zeroing a ZeroOnRent pool does on return.</summary>
    private static void ReturnWithoutClearing(NativeArrayPool<byte> pool, NativeBuffer<byte> buffer)
    {
        Allocation allocation = buffer._allocation!;
        allocation.Generation = buffer._generation + 1;
        pool.Core.Arena.Free(allocation);
    }

    [Theory]
    [InlineData(100, 5000)]        // slot to block
    [InlineData(8192, 65_536)]     // block, maybe in place over dirty buddies
    [InlineData(300_000, 3 << 20)] // large: remapped or copied
    public void The_part_a_resize_adds_reads_zero(int from, int to)
    {
        using NativeArrayPool<byte> pool = CreatePool(zeroOnRent: true);
        // Dirty the neighbourhood first, so in-place growth would absorb non-zero memory.
        var dirt = Enumerable.Range(0, 8).Select(_ => pool.Rent(to)).ToList();
        foreach (NativeBuffer<byte> d in dirt)
        {
            d.AsSpan().Fill(0xCD);
        }
        // Bypass ZeroOnRent's clearing on return, so the arena really holds dirty free memory.
        foreach (NativeBuffer<byte> d in dirt)
            ReturnWithoutClearing(pool, d);
        NativeBuffer<byte> buffer = pool.Rent(from);
        long oldLength = buffer.Length;
        buffer.AsSpan().Fill(0x11);

        pool.Resize(ref buffer, to);

        Assert.True(buffer.AsSpan(0, (int)oldLength).IndexOfAnyExcept((byte)0x11) < 0, "contents kept");
        Assert.True(buffer.AsSpan((int)oldLength, (int)(buffer.Length - oldLength)).IndexOfAnyExcept((byte)0) < 0, "grown part is zero");
        pool.Return(buffer);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ClearArray_on_Return_zeroes_what_the_next_tenant_gets(int size)
    {
        using NativeArrayPool<byte> pool = CreatePool(zeroOnRent: false);
        NativeBuffer<byte> buffer = pool.Rent(size);
        buffer.AsSpan().Fill(0x77);
        pool.Return(buffer, clearArray: true);

        NativeBuffer<byte> next = pool.Rent(size); // this thread's cache hands the same memory back

        Assert.Equal(buffer._allocation!.Address, next._allocation!.Address);
        AssertZero(next, "after Return(clearArray: true)");
        pool.Return(next);
    }

    [Fact]
    public void Without_the_option_or_clearArray_contents_are_not_cleared()
    {
        // The control case: proves the zero checks above can see old contents at all.
        using NativeArrayPool<byte> pool = CreatePool(zeroOnRent: false);
        NativeBuffer<byte> buffer = pool.Rent(3000);
        buffer.AsSpan().Fill(0x77);
        pool.Return(buffer);

        NativeBuffer<byte> next = pool.Rent(3000);

        Assert.Equal((byte)0x77, next[0]);
        pool.Return(next);
    }

    [Fact]
    public void Large_buffers_are_zeroed_by_discarding_pages_where_fresh_pages_read_zero()
    {
        var counting = new FaultInjectingVirtualMemory(
            _backend == MemoryBackend.Portable ? PortableVirtualMemory.Instance : VirtualMemory.ForCurrentPlatform(),
            (_, _) => OsError.Success);
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            VirtualMemoryOverride = counting,
            ZeroOnRent = true,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });
        NativeBuffer<byte> small = pool.Rent(100_000);
        NativeBuffer<byte> large = pool.Rent(Arena.ZeroByDiscardBytes);
        small.AsSpan().Fill(1);
        large.AsSpan().Fill(1);
        long before = counting.Calls(Primitive.Discard);

        pool.Return(small);
        long afterSmall = counting.Calls(Primitive.Discard);
        pool.Return(large);
        long afterLarge = counting.Calls(Primitive.Discard);

        Assert.Equal(before, afterSmall); // below the threshold: memset
        Assert.Equal(counting.DiscardedPagesReadZero ? afterSmall + 1 : afterSmall, afterLarge);
        AssertZero(pool.Rent(Arena.ZeroByDiscardBytes), "discarded large buffer");
    }

    private static void AssertZero(NativeBuffer<byte> buffer, string when)
    {
        for (long start = 0; start < buffer.Length; start += int.MaxValue)
        {
            int length = (int)Math.Min(int.MaxValue, buffer.Length - start);
            int at = buffer.AsSpan(start, length).IndexOfAnyExcept((byte)0);
            if (at >= 0)
                Assert.Fail($"{when}: byte {start + at} of {buffer.Length} is {buffer[start + at]:x2}, not zero");
        }
    }
}

public sealed class ZeroOnRentTestsLinux : ZeroOnRentTests
{
    public ZeroOnRentTestsLinux() : base(MemoryBackend.Automatic) { }
}

public sealed class ZeroOnRentTestsPortable : ZeroOnRentTests
{
    public ZeroOnRentTestsPortable() : base(MemoryBackend.Portable) { }
}
