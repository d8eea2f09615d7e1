using NativeBuffers.Os;
using NativeBuffers.Tests.Support;
using Xunit.Abstractions;

namespace NativeBuffers.Tests.Arenas;

/// <summary>
/// Trim gives the pages of free memory back to the OS while the address space stays reserved: resident memory
/// of the pool's mappings falls, rented buffers keep their contents, and the pool keeps working.
/// </summary>
// Reads resident memory from /proc while it runs: alone, so no other test's pool maps next to this one's
// (neighbouring mappings merge) or churns pages in the middle of the measurement.
[Collection(nameof(SerialKernelCollection))]
public class ArenaTrimTests(ITestOutputHelper output)
{
    private const int Buffers = 12;
    private const int BufferBytes = 8 << 20;

    private static NativeArrayPool<byte> CreatePool(MemoryBackend backend = MemoryBackend.Automatic) =>
        NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            Backend = backend,
            // One reservation holds everything, so the kept buffer keeps it mapped and only discarding can help.
            MinimumReservationBytes = 128L << 20,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });

    [Trait(Layer.Trait, Layer.Linux)] // reads resident memory, which only madvise gives back
    [LinuxFact]
    public void Resident_memory_falls_after_Trim_and_buffers_still_work()
    {
        using NativeArrayPool<byte> pool = CreatePool(MemoryBackend.Linux);
        var buffers = Enumerable.Range(0, Buffers).Select(_ => pool.Rent(BufferBytes)).ToList();
        for (int i = 0; i < Buffers; i++)
            buffers[i].AsSpan().Fill((byte)(i + 1));
        NativeBuffer<byte> kept = buffers[0];
        foreach (NativeBuffer<byte> buffer in buffers.Skip(1))
            pool.Return(buffer);
        var ranges = pool.Core.Arena.MappedRanges();
        long mappedBefore = pool.GetStatistics().MappedBytes;
        long residentBefore = ResidentMemory.Within(ranges);
        long processBefore = ProcSelf.ReadResidentBytes();

        long given = pool.Trim();

        long residentAfter = ResidentMemory.Within(ranges);
        long processAfter = ProcSelf.ReadResidentBytes();
        long returned = (Buffers - 1L) * BufferBytes;
        output.WriteLine($"pool mappings Rss {residentBefore} -> {residentAfter} bytes; process VmRSS {processBefore} -> {processAfter}; Trim returned {given}");
        Assert.True(residentBefore >= returned, $"the buffers were touched: {residentBefore} resident before");
        Assert.True(residentBefore - residentAfter >= returned * 9 / 10,
            $"resident memory of the pool's mappings fell by only {residentBefore - residentAfter} of {returned} bytes returned " +
            $"(process VmRSS {processBefore} -> {processAfter})");
        Assert.Equal(mappedBefore, pool.GetStatistics().MappedBytes); // pages given back, address space kept
        Assert.True(given >= returned);
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(1, stats.Trims);
        Assert.True(stats.BytesDiscarded >= returned);

        // The rented buffer kept its contents; discarded memory is usable again.
        Assert.True(kept.AsSpan().IndexOfAnyExcept((byte)1) < 0, "Trim touched a rented buffer");
        NativeBuffer<byte> again = pool.Rent(BufferBytes);
        again.AsSpan().Fill(0x5A);
        Assert.True(again.AsSpan().IndexOfAnyExcept((byte)0x5A) < 0);
        pool.Return(again);
        pool.Return(kept);
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Trims_racing_with_renters_never_touch_rented_memory(bool zeroOnRent, bool guarded)
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            ZeroOnRent = zeroOnRent,
            Guarded = guarded,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });
        const int Workers = 2;
        const int Steps = 800;
        int done = 0;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();

        void Work(int seed)
        {
            var random = new Random(seed);
            var held = new List<(NativeBuffer<byte> Buffer, byte Fill)>();
            for (int step = 0; step < Steps; step++)
            {
                if (held.Count > 4 || (held.Count > 0 && random.Next(2) == 0))
                {
                    int i = random.Next(held.Count);
                    (NativeBuffer<byte> buffer, byte fill) = held[i];
                    int at = buffer.AsSpan(0, (int)Math.Min(buffer.Length, 1 << 22)).IndexOfAnyExcept(fill);
                    if (at >= 0)
                        errors.Enqueue($"seed {seed} step {step}: byte {at} of a {buffer.Length}-byte buffer changed while rented");
                    pool.Return(buffer);
                    held.RemoveAt(i);
                }
                else
                {
                    int size = random.Next(4) switch { 0 => random.Next(1, 4000), 1 => random.Next(4000, 200_000), 2 => random.Next(200_000, 3 << 20), _ => 6 << 20 };
                    NativeBuffer<byte> buffer = pool.Rent(size);
                    byte fill = (byte)random.Next(1, 256);
                    buffer.AsSpan(0, (int)Math.Min(buffer.Length, 1 << 22)).Fill(fill);
                    held.Add((buffer, fill));
                }
            }
            foreach ((NativeBuffer<byte> buffer, _) in held)
                pool.Return(buffer);
            Interlocked.Increment(ref done);
        }

        var workers = Enumerable.Range(0, Workers).Select(i => new Thread(() => Work(1000 + i))).ToList();
        workers.ForEach(t => t.Start());
        int trims = 0;
        while (Volatile.Read(ref done) < Workers)
        {
            pool.Trim();
            trims++;
        }
        workers.ForEach(t => t.Join());

        Assert.Empty(errors);
        Assert.True(trims > 0);
        Assert.Null(pool.Core.Arena.Validate());
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns);
        Assert.Equal(0, stats.StaleWritesDetected);
    }

    [Fact]
    public void A_second_Trim_with_nothing_freed_discards_nothing()
    {
        using NativeArrayPool<byte> pool = CreatePool();
        NativeBuffer<byte> kept = pool.Rent(BufferBytes);
        NativeBuffer<byte> freed = pool.Rent(BufferBytes);
        pool.Return(freed);
        pool.Trim();
        long discarded = pool.GetStatistics().BytesDiscarded;

        pool.Trim();

        Assert.Equal(discarded, pool.GetStatistics().BytesDiscarded);
        Assert.Equal(2, pool.GetStatistics().Trims);
        pool.Return(kept);
    }

    [Fact]
    public void Trim_discards_through_the_os_layer_and_survives_a_failing_madvise()
    {
        var faults = FaultInjectingVirtualMemory.FailAt(VirtualMemory.ForCurrentPlatform(), Primitive.Discard, 0, OsError.OutOfMemory);
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            VirtualMemoryOverride = faults,
            MinimumReservationBytes = 128L << 20,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });
        NativeBuffer<byte> kept = pool.Rent(BufferBytes);
        kept.AsSpan().Fill(7);
        pool.Return(pool.Rent(BufferBytes));

        pool.Trim(); // the first madvise fails: the reservation is left for the next trim
        long afterFailure = pool.GetStatistics().BytesDiscarded;
        pool.Trim();

        if (faults.DiscardedPagesReadZero)
        {
            Assert.Equal(1, faults.Failures(Primitive.Discard));
            Assert.True(pool.GetStatistics().BytesDiscarded > afterFailure, "the failed discard was not retried");
        }
        Assert.True(kept.AsSpan().IndexOfAnyExcept((byte)7) < 0);
        pool.Return(kept);
        Assert.Null(pool.Core.Arena.Validate());
    }

    [Fact]
    public void The_portable_layer_trims_without_discarding_and_keeps_working()
    {
        using NativeArrayPool<byte> pool = CreatePool(MemoryBackend.Portable);
        NativeBuffer<byte> kept = pool.Rent(BufferBytes);
        kept.AsSpan().Fill(2);
        pool.Return(pool.Rent(BufferBytes));

        pool.Trim();

        Assert.Equal(0, pool.GetStatistics().BytesDiscarded);
        Assert.True(kept.AsSpan().IndexOfAnyExcept((byte)2) < 0);
        NativeBuffer<byte> again = pool.Rent(BufferBytes);
        again.AsSpan().Fill(3);
        pool.Return(again);
        pool.Return(kept);
    }
}
