using System.Reflection;
using System.Runtime.CompilerServices;

namespace NativeBuffers.Tests.Pooling;

/// <summary>Examples of the public contract: lengths, leases, misuse, and what a disposed pool does.</summary>
public class NativeArrayPoolTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(4095)]
    [InlineData(1_000_000)]
    public void Rent_gives_at_least_the_length_asked_for(long length)
    {
        using var pool = NativeArrayPool<long>.Create();
        NativeBuffer<long> buffer = pool.Rent(length);
        Assert.True(buffer.Length >= length);
        buffer[length - 1] = 42;
        Assert.Equal(42, buffer.AsSpan(length - 1, 1)[0]);
        pool.Return(buffer);
    }

    [Fact]
    public void Resize_keeps_the_contents_of_wider_elements()
    {
        using var pool = NativeArrayPool<long>.Create();
        NativeBuffer<long> buffer = pool.Rent(1000);
        for (int i = 0; i < 1000; i++) buffer[i] = i * 7L;
        pool.Resize(ref buffer, 3_000_000);
        for (int i = 0; i < 1000; i++) Assert.Equal(i * 7L, buffer[i]);
        pool.Resize(ref buffer, 10);
        Assert.True(buffer.Length >= 10);
        for (int i = 0; i < 10; i++) Assert.Equal(i * 7L, buffer[i]);
        pool.Return(buffer);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    public void Negative_lengths_are_rejected(long length)
    {
        using var pool = NativeArrayPool<byte>.Create();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(length));
        Assert.Equal("minimumLength", e.ParamName);
        NativeBuffer<byte> buffer = pool.Rent(10);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Resize(ref buffer, length));
        Assert.Equal("newLength", e.ParamName);
        Assert.True(buffer.IsValid);
        pool.Return(buffer);
    }

    [Fact]
    public void Absurd_lengths_are_rejected_with_the_limit_in_the_message()
    {
        using var pool = NativeArrayPool<int>.Create();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(long.MaxValue));
        Assert.Contains(NativeArrayPool<int>.MaxLength.ToString(), e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(NativeArrayPool<int>.MaxLength + 1));
    }

    [Fact]
    public void Rent_of_zero_gives_an_empty_lease_that_returns_and_resizes()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> empty = pool.Rent(0);
        Assert.True(empty.IsEmpty);
        Assert.True(empty.IsValid);
        Assert.True(empty.AsSpan().IsEmpty);
        pool.Return(empty);
        pool.Resize(ref empty, 100);
        Assert.True(empty.Length >= 100);
        pool.Resize(ref empty, 0);
        Assert.True(empty.IsEmpty);
        Assert.Equal(0, pool.GetStatistics().InUseBytes);
    }

    [Fact]
    public void Empty_leases_stay_valid_and_harmless_however_often_they_end()
    {
        using var pool = NativeArrayPool<byte>.Create();
        using var other = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> empty = pool.Rent(0);
        NativeBuffer<byte> copy = empty;
        pool.Return(empty);
#pragma warning disable NAP004 // deliberate: an empty lease may end any number of times
        pool.Return(empty, clearArray: true);
#pragma warning restore NAP004
        empty.Dispose();
        empty.Dispose();
        pool.Resize(ref copy, 0);
        // Every empty lease of a pool shares one record: none of the above may have ended it.
        NativeBuffer<byte> later = pool.Rent(0);
        Assert.True(empty.IsValid);
        Assert.True(later.IsValid);
        Assert.True(later.AsSpan().IsEmpty);
        Assert.Equal("NativeBuffer<Byte>[0]", later.ToString());
        // It still names its pool: another pool refuses it, as it refuses any foreign lease.
        var foreign = Assert.Throws<ArgumentException>(() => other.Return(later));
        Assert.Equal("buffer", foreign.ParamName);
        Assert.Throws<ArgumentException>(() => other.Resize(ref later, 10));
        Assert.Equal(0, pool.GetStatistics().InUseBytes);
        Assert.Equal(0, pool.GetStatistics().RedundantDisposes);
    }

    [Fact]
    public void A_lease_is_24_bytes_with_one_reference()
    {
        // One reference field: a lease returned by a method that does not inline pays one checked write barrier, not
        // two (docs/benchmarks.md). The pool is reached through the record.
        Assert.Equal(24, Unsafe.SizeOf<NativeBuffer<byte>>());
        FieldInfo[] fields = typeof(NativeBuffer<byte>).GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
        Assert.Single(fields, f => !f.FieldType.IsValueType);
    }

    [Fact]
    public void A_default_lease_is_refused_by_Return_and_rented_by_Resize()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> none = default;
        Assert.False(none.IsValid);
        Assert.True(none.AsSpan().IsEmpty);
        none.Dispose(); // harmless, so a default in a using block is not an error
        var e = Assert.Throws<ArgumentException>(() => pool.Return(none)); // as ArrayPool<T>.Return(null)
        Assert.Equal("buffer", e.ParamName);
        Assert.Contains("default", e.Message);

        pool.Resize(ref none, 10); // as ArrayPool.Resize(ref null, n): a struct field starts as default
        Assert.True(none.IsValid);
        Assert.True(none.Length >= 10);
        pool.Return(none);
    }

    [Fact]
    public void Returning_twice_throws_and_the_pool_keeps_serving()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> buffer = pool.Rent(1000);
        NativeBuffer<byte> copy = buffer;
        pool.Return(buffer);
        var e = Assert.Throws<InvalidOperationException>(() => pool.Return(copy));
        Assert.Contains("already returned", e.Message);
        buffer.Dispose(); // ending an ended lease with Dispose does nothing (IDisposable's promise), and is counted
        Assert.Equal(1, pool.GetStatistics().RedundantDisposes);

        // The slot went back once: the next two rents get two different buffers.
        NativeBuffer<byte> a = pool.Rent(1000), b = pool.Rent(1000);
        unsafe { Assert.NotEqual((nint)a.Pointer, (nint)b.Pointer); }
        pool.Return(a);
        pool.Return(b);
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns);
        Assert.Equal(0, stats.InUseBytes);
    }

    [Fact]
    public void Returning_to_another_pool_throws_and_leaves_the_lease_valid()
    {
        using var first = NativeArrayPool<byte>.Create();
        using var second = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> buffer = first.Rent(100);
        var e = Assert.Throws<ArgumentException>(() => second.Return(buffer));
        Assert.Equal("buffer", e.ParamName);
        Assert.Contains("different pool", e.Message);
        Assert.Equal("buffer", Assert.Throws<ArgumentException>(() => NativeArrayPool<byte>.Shared.Return(buffer)).ParamName);
        Assert.Equal("buffer", Assert.Throws<ArgumentException>(() => second.Resize(ref buffer, 1000)).ParamName);
        Assert.True(buffer.IsValid);
        first.Return(buffer);
    }

    [Fact]
    public unsafe void Using_a_returned_lease_throws_ObjectDisposedException()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> buffer = pool.Rent(100);
        pool.Return(buffer);
        Assert.False(buffer.IsValid);
        Assert.Throws<ObjectDisposedException>(() => buffer.AsSpan());
        Assert.Throws<ObjectDisposedException>(() => buffer.AsSpan(0, 1));
        Assert.Throws<ObjectDisposedException>(() => buffer[0]);
        Assert.Throws<ObjectDisposedException>(() => (nint)buffer.Pointer);
        Assert.Contains("returned", buffer.ToString());
    }

    [Fact]
    public void The_lease_a_resize_replaced_is_stale()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> buffer = pool.Rent(100);
        NativeBuffer<byte> old = buffer;
        pool.Resize(ref buffer, 100_000);
        Assert.Throws<ObjectDisposedException>(() => old.AsSpan());
        Assert.Throws<InvalidOperationException>(() => pool.Return(old));
        Assert.Throws<InvalidOperationException>(() => pool.Resize(ref old, 10));
        pool.Return(buffer);
        Assert.Equal(0, pool.GetStatistics().InUseBytes);
    }

    [Fact]
    public void Windows_outside_the_buffer_are_rejected()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> buffer = pool.Rent(64);
        long length = buffer.Length;
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan(length, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan(1, (int)length));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer[length]);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer[-1]);
        Assert.Equal(1, buffer.AsSpan(length - 1, 1).Length);
        pool.Return(buffer);
    }

    [Fact]
    public void A_buffer_longer_than_a_span_is_viewed_in_windows()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> big = pool.Rent(3L << 30); // address space only: pages are touched on write
        var e = Assert.Throws<InvalidOperationException>(() => big.AsSpan());
        Assert.Contains("AsSpan(start, length)", e.Message);
        big.AsSpan((3L << 30) - 10, 10).Fill(9);
        Assert.Equal(9, big[(3L << 30) - 1]);
        pool.Return(big);
    }

    [Fact]
    public void The_shared_pool_cannot_be_disposed()
    {
        Assert.Throws<InvalidOperationException>(() => NativeArrayPool<byte>.Shared.Dispose());
        NativeBuffer<byte> buffer = NativeArrayPool<byte>.Shared.Rent(10);
        NativeArrayPool<byte>.Shared.Return(buffer);
    }

    [Fact]
    public void Shared_pools_of_every_element_type_share_one_arena()
    {
        Assert.Same(NativeArrayPool<byte>.Shared.Core, NativeArrayPool<double>.Shared.Core);
    }

    [Fact]
    public void A_disposed_pool_refuses_work_and_retires_its_leases()
    {
        var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> live = pool.Rent(5000);
        NativeBuffer<byte> cached = pool.Rent(5000);
        pool.Return(cached); // now in this thread's cache: must not be handed out after Dispose
        pool.Dispose();
        pool.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => pool.Rent(5000));
        Assert.Throws<ObjectDisposedException>(() => live.AsSpan());
        Assert.Throws<ObjectDisposedException>(() => pool.Return(live));
        Assert.Throws<ObjectDisposedException>(() => pool.Trim());
    }

    [Fact]
    public void A_disposed_pool_ends_its_empty_leases_too()
    {
        // Dispose's contract: "Leases still out end: every accessor, Rent, Resize and Return throw ObjectDisposedException."
        var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> empty = pool.Rent(0);
        pool.Dispose();

        Assert.False(empty.IsValid);
        Assert.EndsWith("(pool disposed)", empty.ToString());
        Assert.Throws<ObjectDisposedException>(() => empty.AsSpan());
        Assert.Throws<ObjectDisposedException>(() => pool.Return(empty));
        empty.Dispose(); // still harmless
    }

    [Fact]
    public unsafe void ClearSparse_refuses_a_default_lease_instead_of_zeroing_at_its_offsets()
    {
        // A collection's lease is default once the collection released it (Dispose). LeaseAddress.Of refused that;
        // CheckedAddress(holder) takes default for address 0, so the offsets become absolute addresses.
        using var pool = NativeArrayPool<byte>.Create();
        using var holder = new NativeMemoryStream(pool);
        byte[] victim = GC.AllocateArray<byte>(64, pinned: true);
        victim.AsSpan().Fill(0xAB);
        nint address = (nint)Unsafe.AsPointer(ref victim[0]);

        Assert.Throws<ObjectDisposedException>(() => pool.ClearSparse(default, address, 16, holder));
        Assert.Equal(0xAB, victim[0]);
    }

    public static TheoryData<Action<NativePoolOptions>, string> InvalidOptions => new()
    {
        { o => o.ReservationsPerSize = 0, nameof(NativePoolOptions.ReservationsPerSize) },
        { o => o.MinimumReservationBytes = 3 << 20, nameof(NativePoolOptions.MinimumReservationBytes) },
        { o => o.MinimumReservationBytes = 1 << 20, nameof(NativePoolOptions.MinimumReservationBytes) },
        { o => o.RemapThresholdBytes = 1000, nameof(NativePoolOptions.RemapThresholdBytes) },
        { o => o.MappingBudget = -1, nameof(NativePoolOptions.MappingBudget) },
        { o => o.QuarantineBytes = -1, nameof(NativePoolOptions.QuarantineBytes) },
        { o => o.QuarantineBytes = (1L << 40) + 1, nameof(NativePoolOptions.QuarantineBytes) },
        { o => o.GrowthPaths = (GrowthPaths)64, nameof(NativePoolOptions.GrowthPaths) },
        { o => o.Backend = (MemoryBackend)9, nameof(NativePoolOptions.Backend) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_are_rejected_with_the_option_named(Action<NativePoolOptions> spoil, string name)
    {
        var options = new NativePoolOptions();
        spoil(options);
        var e = Assert.Throws<ArgumentException>(() => NativeArrayPool<byte>.Create(options));
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void Growth_with_no_path_enabled_fails_and_leaves_the_buffer_intact()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { GrowthPaths = GrowthPaths.None });
        NativeBuffer<byte> buffer = pool.Rent(100);
        buffer.AsSpan().Fill(3);
        var e = Assert.Throws<InsufficientMemoryException>(() => pool.Resize(ref buffer, 1 << 20));
        Assert.Contains("GrowthPaths", e.Message);
        Assert.True(buffer.IsValid);
        Assert.True(buffer.AsSpan().IndexOfAnyExcept((byte)3) < 0);
        pool.Return(buffer);
    }
}
