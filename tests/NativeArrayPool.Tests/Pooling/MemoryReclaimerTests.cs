using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// The policies that give memory back without an explicit Trim: idle time (driven by a hand-moved clock, no
/// sleeping) and gen-2 GCs under memory pressure (the pressure test is injected; the GCs are real).
/// </summary>
public class MemoryReclaimerTests
{
    private const int BufferBytes = 8 << 20;

    private static NativeArrayPool<byte> CreatePool(ManualTimeProvider? time = null, Func<bool>? pressure = null, MemoryBackend backend = MemoryBackend.Automatic) =>
        NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            Backend = backend,
            MinimumReservationBytes = 128L << 20,
            ThreadCaches = false, // returns go straight to the arena, so "freed" is well defined
            IdleTrimDelay = time is null ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(10),
            TimeProviderOverride = time,
            TrimOnMemoryPressure = pressure is not null,
            MemoryPressureOverride = pressure,
        });

    [Trait(Layer.Trait, Layer.Linux)] // counts bytes discarded with madvise
    [Fact]
    public void Free_pages_are_given_back_once_the_arena_has_been_idle_for_the_delay()
    {
        var time = new ManualTimeProvider();
        using NativeArrayPool<byte> pool = CreatePool(time, backend: MemoryBackend.Linux);
        Assert.Equal(1, time.TimerCount);
        NativeBuffer<byte> kept = pool.Rent(BufferBytes);
        NativeBuffer<byte> freed = pool.Rent(BufferBytes);
        kept.AsSpan().Fill(1);
        freed.AsSpan().Fill(2);
        pool.Return(freed);

        time.FireTimers();                        // t = 0: the change is seen, the idle clock starts
        Assert.Equal(0, pool.GetStatistics().BytesDiscarded);
        time.Advance(TimeSpan.FromSeconds(9));
        time.FireTimers();                        // t = 9 s: not idle long enough
        Assert.Equal(0, pool.GetStatistics().BytesDiscarded);
        time.Advance(TimeSpan.FromSeconds(1));
        time.FireTimers();                        // t = 10 s: idle for the delay

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.True(stats.BytesDiscarded >= BufferBytes, $"discarded {stats.BytesDiscarded}");
        Assert.Equal(1, stats.Trims);
        Assert.True(kept.AsSpan().IndexOfAnyExcept((byte)1) < 0, "idle trimming touched a rented buffer");

        time.Advance(TimeSpan.FromSeconds(60));
        time.FireTimers();                        // nothing freed since: nothing more to do
        Assert.Equal(stats.BytesDiscarded, pool.GetStatistics().BytesDiscarded);
        Assert.Equal(1, pool.GetStatistics().Trims);
        pool.Return(kept);
    }

    [Fact]
    public void A_busy_arena_is_not_trimmed()
    {
        var time = new ManualTimeProvider();
        using NativeArrayPool<byte> pool = CreatePool(time);
        NativeBuffer<byte> kept = pool.Rent(BufferBytes);
        for (int tick = 0; tick < 10; tick++)
        {
            // Every 5 s something is returned: the arena never stays quiet for 10 s.
            pool.Return(pool.Rent(BufferBytes));
            time.FireTimers();
            time.Advance(TimeSpan.FromSeconds(5));
        }

        Assert.Equal(0, pool.GetStatistics().BytesDiscarded);
        Assert.Equal(0, pool.GetStatistics().Trims);
        pool.Return(kept);
    }

    [Fact]
    public void Idle_trimming_stops_with_the_pool()
    {
        var time = new ManualTimeProvider();
        NativeArrayPool<byte> pool = CreatePool(time);
        pool.Return(pool.Rent(BufferBytes));
        pool.Dispose();

        time.FireTimers();
        time.Advance(TimeSpan.FromMinutes(1));
        time.FireTimers(); // must not touch the unmapped arena

        Assert.Equal(0, pool.GetStatistics().BytesDiscarded);
    }

    [Trait(Layer.Trait, Layer.Linux)] // counts bytes discarded with madvise
    [Fact]
    public void A_gen2_GC_under_memory_pressure_trims()
    {
        using NativeArrayPool<byte> pool = CreatePool(pressure: () => true, backend: MemoryBackend.Linux);
        NativeBuffer<byte> kept = pool.Rent(BufferBytes);
        kept.AsSpan().Fill(9);
        NativeBuffer<byte> freed = pool.Rent(BufferBytes);
        freed.AsSpan().Fill(9);
        pool.Return(freed);

        FullCollections(3);

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.True(stats.PressureTrims >= 1, "no trim after gen-2 GCs under pressure");
        Assert.Equal(stats.Trims, stats.PressureTrims);
        Assert.True(stats.BytesDiscarded >= BufferBytes);
        Assert.True(kept.AsSpan().IndexOfAnyExcept((byte)9) < 0);
        pool.Return(kept);
    }

    [Fact]
    public void A_gen2_GC_without_memory_pressure_does_not_trim()
    {
        int asked = 0;
        using NativeArrayPool<byte> pool = CreatePool(pressure: () => { Interlocked.Increment(ref asked); return false; });
        pool.Return(pool.Rent(BufferBytes));

        FullCollections(3);

        Assert.True(Volatile.Read(ref asked) >= 1, "the gen-2 callback never ran");
        Assert.Equal(0, pool.GetStatistics().PressureTrims);
        Assert.Equal(0, pool.GetStatistics().BytesDiscarded);
    }

    [Fact]
    public void The_gen2_callback_stops_after_Dispose()
    {
        int asked = 0;
        var pool = CreatePool(pressure: () => { Interlocked.Increment(ref asked); return true; });
        FullCollections(2);
        pool.Dispose();
        int before = Volatile.Read(ref asked);

        FullCollections(3);

        Assert.True(Volatile.Read(ref asked) <= before + 1, "the callback kept running after Dispose");
    }

    private static void FullCollections(int count)
    {
        for (int i = 0; i < count; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true);
            GC.WaitForPendingFinalizers();
        }
    }
}
