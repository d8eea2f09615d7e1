using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using NativeBuffers.Diagnostics;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Diagnostics;

public class NativeArrayPoolEventSourceTests
{
    /// <summary>Collects the pool's events; the listener sees every pool in the process, so tests filter by pool name.</summary>
    private sealed class Recorder : EventListener
    {
        private readonly ConcurrentQueue<EventWrittenEventArgs> _events = new();

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "NativeArrayPool")
                EnableEvents(source, EventLevel.Verbose, EventKeywords.All);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e) => _events.Enqueue(e);

        public List<EventWrittenEventArgs> For(string pool) =>
            _events.Where(e => e.Payload is { Count: > 0 } && Equals(e.Payload[0], pool)).ToList();
    }

    private static NativeArrayPool<byte> Pool(string name, GrowthPaths paths = GrowthPaths.All, int budget = 0, bool caches = true, MemoryBackend backend = MemoryBackend.Automatic, bool track = false) =>
        NativeArrayPool<byte>.Create(new NativePoolOptions { Name = name, GrowthPaths = paths, MappingBudget = budget, ThreadCaches = caches, Backend = backend, TrackLeases = track });

    private static object Payload(EventWrittenEventArgs e, string name) => e.Payload![e.PayloadNames!.IndexOf(name)]!;

    // Not Layer=Linux: the first pool follows NATIVEARRAYPOOL_BACKEND and is meant to run in both CI passes; the
    // budget pool pins the Linux layer, so the test as a whole needs Linux.
    [LinuxFact]
    public void Every_event_id_fires_with_its_payload()
    {
        using var recorder = new Recorder();
        string name = "events-" + Guid.NewGuid().ToString("N");

        using (var pool = Pool(name, caches: false, track: true))
        {
            NativeBuffer<byte> buffer = pool.Rent(100_000);           // 1 rented (no thread cache: every rent is a slow one)
            pool.Return(buffer);                                       // 2 returned
            Assert.Throws<InvalidOperationException>(() => pool.Return(buffer)); // 6 misuse: double return
            Assert.Throws<ArgumentException>(() => pool.Return(default)); // 6 misuse: default lease
            buffer = pool.Rent(4096);
            pool.Resize(ref buffer, 8192);                             // 3 grown in place (the buddy is free)
            pool.Return(buffer);
            pool.Trim();                                               // 4 trimmed
            _ = pool.Rent(4096);                                       // never returned: 7 leak, when Dispose finds it in the lease table
        }
        // The budget guards page moves, which only the Linux layer makes: this pool pins it whatever NATIVEARRAYPOOL_BACKEND says.
        using (var tight = Pool(name + "-budget", GrowthPaths.RemapFixed | GrowthPaths.Remap | GrowthPaths.Copy, budget: 1, backend: MemoryBackend.Linux))
        {
            NativeBuffer<byte> buffer = tight.Rent(2 << 20);              // huge space from the start: moves are allowed
            tight.Resize(ref buffer, 8 << 20);                         // 5 budget reached, then 3 grown by copy
            tight.Return(buffer);
        }

        List<EventWrittenEventArgs> events = recorder.For(name);
        List<EventWrittenEventArgs> budgetEvents = recorder.For(name + "-budget");
        var ids = events.Concat(budgetEvents).Select(e => e.EventId).ToHashSet();
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6, 7 }, ids.Order());

        EventWrittenEventArgs rented = events.First(e => e.EventId == 1);
        Assert.Equal("BufferRented", rented.EventName);
        Assert.Equal(131072L, Payload(rented, "bytes"));
        Assert.Equal(EventLevel.Verbose, rented.Level);

        EventWrittenEventArgs grown = events.Single(e => e.EventId == 3);
        Assert.Equal((int)GrowthPaths.InPlace, Convert.ToInt32(Payload(grown, "path")));
        Assert.Equal(4096L, Payload(grown, "oldBytes"));
        Assert.Equal(8192L, Payload(grown, "newBytes"));

        var misuse = events.Where(e => e.EventId == 6).Select(e => Convert.ToInt32(Payload(e, "kind"))).ToList();
        Assert.Equal(new[] { (int)MisuseKind.DoubleReturn, (int)MisuseKind.DefaultLease }, misuse);

        EventWrittenEventArgs budget = budgetEvents.First(e => e.EventId == 5);
        Assert.Equal(EventLevel.Warning, budget.Level);
        Assert.Equal(1L, Payload(budget, "budget"));
        Assert.Equal(2L << 20, Payload(budget, "bufferBytes"));
        Assert.Contains(budgetEvents, e => e.EventId == 3 && Convert.ToInt32(Payload(e, "path")) == (int)GrowthPaths.Copy);

        Assert.Equal((int)TrimReason.Explicit, Convert.ToInt32(Payload(events.Single(e => e.EventId == 4), "reason")));
        Assert.Equal(4096L, Payload(events.Single(e => e.EventId == 7), "bytes"));
    }

    [Fact]
    public void Rents_served_by_the_thread_cache_raise_no_event()
    {
        using var recorder = new Recorder();
        string name = "cached-" + Guid.NewGuid().ToString("N");
        using var pool = Pool(name);
        pool.Return(pool.Rent(4096));   // from the arena (event 1), kept by this thread's cache (no event 2)
        pool.Return(pool.Rent(4096));   // from the cache and back to it: no events
        pool.Return(pool.Rent(4096));
        List<EventWrittenEventArgs> events = recorder.For(name);
        Assert.Equal(1, events.Count(e => e.EventId == 1));
        Assert.Equal(0, events.Count(e => e.EventId == 2));
        Assert.Equal(3, pool.GetStatistics().Rents);
    }

    [Trait(Layer.Trait, Layer.Linux)] // page moves exist only on Linux
    [LinuxTheory]
    [InlineData(GrowthPaths.RemapFixed)]
    [InlineData(GrowthPaths.Remap)]
    public void Growth_events_name_the_page_move_that_served_the_growth(GrowthPaths path) =>
        GrowthEventNamesThePath(path, MemoryBackend.Linux);

    [Fact]
    public void Growth_events_name_the_copy_that_served_the_growth() =>
        GrowthEventNamesThePath(GrowthPaths.Copy, MemoryBackend.Automatic);

    private static void GrowthEventNamesThePath(GrowthPaths path, MemoryBackend backend)
    {
        using var recorder = new Recorder();
        string name = $"grow-{path}-{Guid.NewGuid():N}";
        using var pool = Pool(name, path, backend: backend);
        // A huge-space buffer: growth into the huge space from below always copies (to keep 2 MiB alignment).
        NativeBuffer<byte> buffer = pool.Rent(2 << 20);
        buffer.AsSpan().Fill(7);
        pool.Resize(ref buffer, 8 << 20);
        Assert.Equal(7, buffer[(2 << 20) - 1]);
        pool.Return(buffer);

        EventWrittenEventArgs grown = Assert.Single(recorder.For(name), e => e.EventId == 3);
        Assert.Equal((int)path, Convert.ToInt32(Payload(grown, "path")));
        Assert.Equal(2L << 20, Payload(grown, "oldBytes"));
        Assert.Equal(8L << 20, Payload(grown, "newBytes"));
    }

    [Fact]
    public void Event_ids_and_names_are_the_documented_ones()
    {
        // Tools key on these: changing one is a breaking change (docs/diagnostics.md lists them).
        string manifest = EventSource.GenerateManifest(typeof(NativeArrayPoolEventSource), "NativeArrayPool.dll")!;
        var expected = new Dictionary<int, string>
        {
            [1] = "BufferRented", [2] = "BufferReturned", [3] = "BufferGrown", [4] = "PoolTrimmed",
            [5] = "MappingBudgetReached", [6] = "MisuseDetected", [7] = "LeakDetected",
        };
        foreach ((int id, string name) in expected)
            Assert.Matches($"<event value=\"{id}\"[^>]*symbol=\"{name}\"", manifest);
        Assert.Equal("NativeArrayPool", NativeArrayPoolEventSource.Log.Name);
        string docs = File.ReadAllText(Path.Combine(NativeBuffers.Tests.Pooling.EnvironmentOptionsTests.RepositoryRoot(), "docs", "diagnostics.md"));
        foreach ((int id, string name) in expected)
            Assert.Contains($"| {id} | {name} |", docs);
    }
    /// <summary>Disposes a pool from inside the first of its events that <paramref name="eventName"/> names.</summary>
    private sealed class DisposingListener(string pool, string eventName) : EventListener
    {
        public IDisposable? Target;
        public int Seen;

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "NativeArrayPool")
                EnableEvents(source, EventLevel.Verbose, EventKeywords.All);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName == eventName && e.Payload is { Count: > 0 } && Equals(e.Payload[0], pool) && Interlocked.Increment(ref Seen) == 1)
                Target!.Dispose();
        }
    }

    // Dispose waits for the operations in flight, so an event raised inside one (or under the arena's lock) would
    // make a listener that disposes the pool wait for itself forever. The resize runs on a thread of its own so a
    // regression shows as a failed join rather than a hung test run; the wait only bounds a deadlock, it measures nothing.
    [LinuxTheory]
    [Trait("Layer", "Linux")]
    [InlineData("MappingBudgetReached")]
    [InlineData("BufferGrown")]
    public void A_listener_may_dispose_the_pool_from_inside_a_resize_event(string eventName)
    {
        string name = "dispose-in-event-" + Guid.NewGuid().ToString("N");
        using var listener = new DisposingListener(name, eventName);
        var pool = Pool(name, GrowthPaths.RemapFixed | GrowthPaths.Remap | GrowthPaths.Copy, budget: 1, backend: MemoryBackend.Linux);
        listener.Target = pool;
        NativeBuffer<byte> buffer = pool.Rent(2 << 20);
        Exception? failure = null;
        var resizer = new Thread(() =>
        {
            try
            {
                pool.Resize(ref buffer, 8 << 20); // the budget declines the moves, then a copy grows it
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true };
        resizer.Start();

        Assert.True(resizer.Join(TimeSpan.FromMinutes(2)), $"the resize never returned: Dispose inside its {eventName} event waited for it");
        Assert.Null(failure);
        Assert.True(listener.Seen > 0, $"no {eventName} event: the test did not exercise what it means to");
        pool.Dispose(); // a second Dispose does nothing
    }
}
