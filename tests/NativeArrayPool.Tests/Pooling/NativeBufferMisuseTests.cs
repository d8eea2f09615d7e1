using NativeBuffers.Arenas;
using NativeBuffers.Pooling;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// Misuse of leases in the default mode: every case is detected with an exception that says what happened, the
/// pool's counters and arena stay consistent, and the pool keeps serving. Runs against both backends.
/// </summary>
public abstract class NativeBufferMisuseTests : IDisposable
{
    private NativeArrayPool<byte> _pool;
    private readonly MemoryBackend _backend;

    protected NativeBufferMisuseTests(MemoryBackend backend)
    {
        _backend = backend;
        _pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = backend, MinimumReservationBytes = 2 << 20 });
    }

    public void Dispose() => _pool.Dispose();

    /// <summary>
    /// Racing misuse of one lease (two threads at the same moment) is detected with
    /// <see cref="NativePoolOptions.DetectRacingReturns"/>; the default mode detects the ordered kinds only.
    /// </summary>
    private void DetectRacingReturns()
    {
        _pool.Dispose();
        _pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = _backend, MinimumReservationBytes = 2 << 20, DetectRacingReturns = true });
    }

    public static TheoryData<long> Sizes => new() { 100, 4096, 200_000, 3 << 20 };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Double_return_throws_and_says_so(long size)
    {
        NativeBuffer<byte> buffer = _pool.Rent(size);
        _pool.Return(buffer);

        var e = Assert.Throws<InvalidOperationException>(() => _pool.Return(buffer));

        Assert.Contains("already returned", e.Message);
        Assert.Contains("back in the pool", e.Message);
        AssertConsistentAndServing(expectedMisuse: 1);
    }

    [Fact]
    public void Double_return_after_the_memory_was_rented_again_says_it_belongs_to_another_lease()
    {
        _pool.Trim(); // empty this thread's cache so the next rent of the class gets the same memory back
        NativeBuffer<byte> first = _pool.Rent(4096);
        nint address = first._allocation!.Address;
        _pool.Return(first);
        NativeBuffer<byte> second = _pool.Rent(4096);
        Assert.Equal(address, second._allocation!.Address); // the same memory, a new lease

        var e = Assert.Throws<InvalidOperationException>(() => _pool.Return(first));

        Assert.Contains("another lease", e.Message);
        Assert.True(second.IsValid, "the stale return must not retire the new tenant's lease");
        second.AsSpan().Fill(7);
        _pool.Return(second);
        AssertConsistentAndServing(expectedMisuse: 1);
    }

    [Fact]
    public void A_copy_of_a_returned_lease_is_stale_everywhere()
    {
        NativeBuffer<byte> buffer = _pool.Rent(1000);
        NativeBuffer<byte> copy = buffer;
        _pool.Return(copy);

        Assert.False(buffer.IsValid);
        Assert.False(copy.IsValid);
        Assert.Throws<ObjectDisposedException>(() => buffer.AsSpan());
        Assert.Throws<ObjectDisposedException>(() => buffer.AsSpan(0, 1));
        Assert.Throws<ObjectDisposedException>(() => buffer[0]);
        Assert.Throws<ObjectDisposedException>(() => { unsafe { _ = buffer.Pointer; } });
        Assert.Throws<InvalidOperationException>(() => _pool.Return(buffer));
        Assert.Contains("(returned)", buffer.ToString());
        AssertConsistentAndServing(expectedMisuse: 1);
    }

    [Fact]
    public void Use_after_return_names_the_cause()
    {
        NativeBuffer<byte> buffer = _pool.Rent(64);
        _pool.Return(buffer);

        var e = Assert.Throws<ObjectDisposedException>(() => buffer.AsSpan());

        Assert.Contains("returned to its pool or replaced by Resize", e.Message);
    }

    [Fact]
    public void Dispose_returns_a_second_Dispose_does_nothing_and_a_Return_after_it_is_reported()
    {
        NativeBuffer<byte> buffer = _pool.Rent(5000);
        NativeBuffer<byte> copy = buffer;
        buffer.Dispose();

        copy.Dispose();
        Assert.Throws<InvalidOperationException>(() => _pool.Return(copy));
        Assert.Equal(_pool.GetStatistics().Rents, _pool.GetStatistics().Returns);
        Assert.Equal(1, _pool.GetStatistics().RedundantDisposes);
        AssertConsistentAndServing(expectedMisuse: 1);
    }

    [Fact]
    public void Return_then_Dispose_does_nothing_even_after_the_memory_was_rented_again()
    {
        // The shape `using var b = pool.Rent(n); ... pool.Return(b);` ends with a Dispose of a returned lease.
        NativeBuffer<byte> buffer = _pool.Rent(5000);
        _pool.Return(buffer);
        NativeBuffer<byte> next = _pool.Rent(5000); // most likely the same memory, under a new generation
        next.AsSpan().Fill(7);

        buffer.Dispose();

        Assert.True(next.IsValid);
        Assert.True(next.AsSpan().IndexOfAnyExcept((byte)7) < 0);
        Assert.Equal(1, _pool.GetStatistics().RedundantDisposes);
        _pool.Return(next);
        AssertConsistentAndServing(expectedMisuse: 0);
    }

    [Fact]
    public void Default_lease_cannot_be_returned_Dispose_ignores_it_and_Resize_rents()
    {
        NativeBuffer<byte> none = default;

        var returned = Assert.Throws<ArgumentException>(() => _pool.Return(none));
        none.Dispose();

        Assert.Equal("buffer", returned.ParamName);
        Assert.Contains("default NativeBuffer", returned.Message);
        Assert.False(none.IsValid);
        AssertConsistentAndServing(expectedMisuse: 1);

        // A struct field starts as default: growing it from there rents, as ArrayPool.Resize(ref null, n) does.
        NativeBuffer<byte> field = default;
        _pool.Resize(ref field, 0);
        Assert.True(field.IsValid);
        Assert.True(field.IsEmpty);
        field = default;
        _pool.Resize(ref field, 5000);
        Assert.True(field.IsValid);
        Assert.True(field.Length >= 5000);
        field.AsSpan().Fill(3);
        _pool.Return(field);
        AssertConsistentAndServing(expectedMisuse: 1);
    }

    [Fact]
    public void Return_or_resize_to_another_pool_is_refused_and_the_lease_stays_valid()
    {
        using var other = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> buffer = other.Rent(3000);
        buffer.AsSpan().Fill(9);

        var returned = Assert.Throws<ArgumentException>(() => _pool.Return(buffer));
        var resized = Assert.Throws<ArgumentException>(() => _pool.Resize(ref buffer, 9000));

        Assert.Equal("buffer", returned.ParamName);
        Assert.Equal("buffer", resized.ParamName);
        Assert.Contains("different pool", returned.Message);
        Assert.Contains("different pool", resized.Message);
        Assert.True(buffer.IsValid);
        Assert.Equal(3000 * 9, Sum(buffer.AsSpan()[..3000]));
        other.Return(buffer);
        Assert.Equal(1, other.GetStatistics().Returns);
        AssertConsistentAndServing(expectedMisuse: 2);
    }

    [Fact]
    public void Shared_pool_refuses_a_lease_of_a_created_pool()
    {
        NativeBuffer<byte> buffer = _pool.Rent(128);

        Assert.Equal("buffer", Assert.Throws<ArgumentException>(() => NativeArrayPool<byte>.Shared.Return(buffer)).ParamName);

        Assert.True(buffer.IsValid);
        _pool.Return(buffer);
    }

    [Fact]
    public void Forged_leases_with_a_wrong_or_even_generation_are_refused_and_change_nothing()
    {
        _pool.Trim();
        NativeBuffer<byte> real = _pool.Rent(4096);
        Allocation allocation = real._allocation!;
        int generation = real._generation;
        _pool.Return(real); // the allocation now sits in this thread's cache with an even generation
        int free = allocation.Generation;
        Assert.Equal(0, free & 1);

        // Even: exactly the generation of the free allocation, which a plain compare-and-swap would accept.
        var even = new NativeBuffer<byte>(allocation, real.Length, free);
        var odd = new NativeBuffer<byte>(allocation, real.Length, generation + 40);

        var evenError = Assert.Throws<InvalidOperationException>(() => _pool.Return(even));
        Assert.Throws<InvalidOperationException>(() => _pool.Return(odd));
        Assert.Throws<InvalidOperationException>(() => _pool.Resize(ref even, 10_000));

        Assert.Contains("forged", evenError.Message);
        Assert.Equal(free, allocation.Generation); // still free, still in the cache: not rented by the forgery
        NativeBuffer<byte> next = _pool.Rent(4096);
        Assert.Same(allocation, next._allocation);
        Assert.Equal(1, next._generation & 1);
        _pool.Return(next);
        AssertConsistentAndServing(expectedMisuse: 3);
    }

    [Theory]
    [InlineData(1000, 50_000)]      // slot to block: copied
    [InlineData(8192, 16_384)]      // block grows in place or copies
    [InlineData(300_000, 5_000_000)] // large: pages may move
    [InlineData(50_000, 100)]       // shrink
    public void The_old_lease_is_stale_after_Resize(long from, long to)
    {
        NativeBuffer<byte> buffer = _pool.Rent(from);
        NativeBuffer<byte> old = buffer;
        buffer.AsSpan(0, 100).Fill(5);

        _pool.Resize(ref buffer, to);

        Assert.False(old.IsValid);
        Assert.Throws<ObjectDisposedException>(() => old.AsSpan(0, 1));
        var e = Assert.Throws<InvalidOperationException>(() => _pool.Return(old));
        Assert.Contains("resized", e.Message);
        Assert.Throws<InvalidOperationException>(() => _pool.Resize(ref old, to * 2));
        Assert.True(buffer.IsValid);
        Assert.Equal(500, Sum(buffer.AsSpan(0, 100)));
        _pool.Return(buffer);
        AssertConsistentAndServing(expectedMisuse: 2);
    }

    [Fact]
    public void Resize_to_zero_retires_the_lease_and_the_empty_lease_returns_quietly()
    {
        NativeBuffer<byte> buffer = _pool.Rent(777);
        NativeBuffer<byte> old = buffer;

        _pool.Resize(ref buffer, 0);

        Assert.True(buffer.IsValid && buffer.IsEmpty);
        Assert.Throws<InvalidOperationException>(() => _pool.Return(old));
        _pool.Return(buffer); // an empty lease holds nothing: accepted, twice
        _pool.Return(buffer);
        AssertConsistentAndServing(expectedMisuse: 1);
    }

    [Fact]
    public void Racing_double_returns_one_wins_and_the_pool_keeps_serving()
    {
        DetectRacingReturns();
        const int Rounds = 1000;
        int failures = 0;
        using var barrier = new Barrier(2);
        var leases = new NativeBuffer<byte>[Rounds];
        for (int i = 0; i < Rounds; i++)
            leases[i] = _pool.Rent(i % 2 == 0 ? 256 : 8192);

        void Racer()
        {
            for (int i = 0; i < Rounds; i++)
            {
                barrier.SignalAndWait();
                try
                {
                    _pool.Return(leases[i]);
                }
                catch (InvalidOperationException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }

        var threads = new[] { new Thread(Racer), new Thread(Racer) };
        foreach (Thread t in threads) t.Start();
        foreach (Thread t in threads) t.Join();

        Assert.Equal(Rounds, failures); // exactly one of each pair lost
        NativePoolStatistics stats = _pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns);
        Assert.Equal(0, stats.InUseBytes);
        AssertConsistentAndServing(expectedMisuse: Rounds);
    }

    [Fact]
    public void Racing_return_and_resize_of_one_lease_one_wins()
    {
        DetectRacingReturns();
        const int Rounds = 500;
        int failures = 0;
        using var barrier = new Barrier(2);
        var leases = new NativeBuffer<byte>[Rounds];
        var resized = new NativeBuffer<byte>[Rounds];
        for (int i = 0; i < Rounds; i++)
            leases[i] = _pool.Rent(4096);

        var returner = new Thread(() =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                barrier.SignalAndWait();
                try { _pool.Return(leases[i]); }
                catch (InvalidOperationException) { Interlocked.Increment(ref failures); }
            }
        });
        var resizer = new Thread(() =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                barrier.SignalAndWait();
                NativeBuffer<byte> lease = leases[i];
                try
                {
                    _pool.Resize(ref lease, 40_000);
                    resized[i] = lease;
                }
                catch (InvalidOperationException) { Interlocked.Increment(ref failures); }
            }
        });
        returner.Start(); resizer.Start();
        returner.Join(); resizer.Join();

        Assert.Equal(Rounds, failures);
        foreach (NativeBuffer<byte> lease in resized)
        {
            if (lease.IsValid && !lease.IsEmpty)
                _pool.Return(lease);
        }
        NativePoolStatistics stats = _pool.GetStatistics();
        Assert.Equal(0, stats.InUseBytes);
        AssertConsistentAndServing(expectedMisuse: Rounds);
    }

    [Fact]
    public void A_disposed_pool_reports_disposal_for_leases_still_out()
    {
        var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> buffer = pool.Rent(100);
        pool.Dispose();

        Assert.False(buffer.IsValid);
        Assert.Throws<ObjectDisposedException>(() => buffer.AsSpan());
        Assert.Throws<ObjectDisposedException>(() => pool.Return(buffer));
        Assert.Throws<ObjectDisposedException>(() => pool.Rent(10));
    }

    /// <summary>The arena validates, the misuse was counted, and fresh leases do not overlap and hold their data.</summary>
    private void AssertConsistentAndServing(long expectedMisuse)
    {
        Assert.Null(_pool.Core.Arena.Validate());
        Assert.Equal(expectedMisuse, _pool.GetStatistics().MisuseDetected);
        var leases = new List<NativeBuffer<byte>>();
        for (int i = 0; i < 40; i++)
        {
            NativeBuffer<byte> lease = _pool.Rent(i % 3 == 0 ? 256 : 4096 << (i % 4));
            lease.AsSpan().Fill((byte)i);
            leases.Add(lease);
        }
        for (int i = 0; i < leases.Count; i++)
        {
            Assert.True(leases[i].AsSpan().IndexOfAnyExcept((byte)i) < 0, $"lease {i} was overwritten: leases overlap");
            _pool.Return(leases[i]);
        }
        NativePoolStatistics stats = _pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns);
    }

    private static long Sum(Span<byte> span)
    {
        long sum = 0;
        foreach (byte b in span)
            sum += b;
        return sum;
    }
}

public sealed class NativeBufferMisuseTestsLinux : NativeBufferMisuseTests
{
    public NativeBufferMisuseTestsLinux() : base(MemoryBackend.Automatic) { }
}

public sealed class NativeBufferMisuseTestsPortable : NativeBufferMisuseTests
{
    public NativeBufferMisuseTestsPortable() : base(MemoryBackend.Portable) { }
}
