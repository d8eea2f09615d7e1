using System.Collections.Concurrent;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;
using Xunit.Abstractions;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// Threads rent, fill with a per-buffer pattern, resize, verify and return buffers at random from a
/// deterministic seed, handing buffers to each other through a queue, for a bounded time (60 s in all by
/// default, split over two growth-path settings; NATIVEARRAYPOOL_SOAK_SECONDS for longer, NATIVEARRAYPOOL_SOAK_SEED to replay). Every live range is
/// registered, so two live buffers overlapping is caught the moment it happens; every buffer is verified
/// before it is resized, handed over or returned. At the end the counters must balance and the arena validate.
/// </summary>
public class ConcurrencySoakTests
{
    private const long KiB = 1024, MiB = 1024 * 1024;
    private readonly ITestOutputHelper _output;

    public ConcurrencySoakTests(ITestOutputHelper output) => _output = output;

    private sealed class Item
    {
        public NativeBuffer<byte> Buffer;
        public int Id;
    }

    /// <summary>The live ranges of all threads, ordered by start; an overlapping insert is a pool bug.</summary>
    private sealed class RangeRegistry
    {
        private readonly SortedDictionary<nint, (nint End, int Id)> _ranges = new();
        private readonly Lock _lock = new();

        public void Add(NativeBuffer<byte> buffer, int id)
        {
            nint start = buffer._allocation!.Address;
            nint end = start + (nint)buffer.Length;
            lock (_lock)
            {
                // Few live buffers (tens): a linear scan keeps this obviously right.
                foreach ((nint s, (nint e, int other)) in _ranges)
                {
                    if (s < end && start < e)
                        throw new InvalidOperationException($"buffer {id} [{start:x}, {end:x}) overlaps live buffer {other} [{s:x}, {e:x})");
                }
                _ranges.Add(start, (end, id));
            }
        }

        public void Remove(NativeBuffer<byte> buffer)
        {
            lock (_lock)
                _ranges.Remove(buffer._allocation!.Address);
        }
    }

    private static long NextLength(Random random) => random.Next(10) switch
    {
        < 5 => random.Next(1, 4096),                       // slots
        < 8 => random.Next(4096, 512 * 1024),              // pages and blocks, moves above the threshold
        _ => random.NextInt64(512 * 1024, 4 * MiB),        // into the huge space
    };

    /// <summary>
    /// Two runs share the time: every path (moves land in the arena's own space), and plain mremap instead of
    /// the fixed move, so buffers also become detached mappings of their own while other threads work.
    /// </summary>
    [Theory]
    [InlineData(GrowthPaths.All)]
    [InlineData(GrowthPaths.InPlace | GrowthPaths.Remap | GrowthPaths.Copy)]
    public void Threads_renting_resizing_and_handing_over_buffers_never_corrupt_or_overlap(GrowthPaths paths)
    {
        int total = int.TryParse(Environment.GetEnvironmentVariable("NATIVEARRAYPOOL_SOAK_SECONDS"), out int s) && s > 0 ? s : 60;
        int seconds = Math.Max(1, total / 2);
        int seed = int.TryParse(Environment.GetEnvironmentVariable("NATIVEARRAYPOOL_SOAK_SEED"), out int given) ? given : 20261122;
        const int Threads = 4;
        var options = new NativePoolOptions
        {
            RemapThresholdBytes = 16 * KiB, // so buffers from 16 KiB up move pages, not only copy
            MinimumReservationBytes = 2 * MiB,
            GrowthPaths = paths,
        };
        using NativeArrayPool<byte> pool = NativeArrayPool<byte>.Create(options);
        var registry = new RangeRegistry();
        var handoff = new ConcurrentQueue<Item>();
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        Exception? failure = null;
        long operations = 0, handedOver = 0;
        int nextId = 0;

        void Worker(int index)
        {
            var random = new Random(seed * 31 + index);
            var mine = new List<Item>();
            long done = 0;
            try
            {
                while (DateTime.UtcNow < deadline && Volatile.Read(ref failure) is null)
                {
                    done++;
                    int op = random.Next(100);
                    if (op < 25 || mine.Count == 0)
                    {
                        var item = new Item { Buffer = pool.Rent(NextLength(random)), Id = Interlocked.Increment(ref nextId) };
                        registry.Add(item.Buffer, item.Id);
                        Pattern.Fill(item.Buffer, item.Id, 0, item.Buffer.Length);
                        mine.Add(item);
                    }
                    else if (op < 55)
                    {
                        Item item = mine[random.Next(mine.Count)];
                        Verify(item, "before resize");
                        NativeBuffer<byte> buffer = item.Buffer;
                        long newLength = random.Next(3) == 0 ? Math.Max(1, buffer.Length / random.Next(2, 9)) : NextLength(random);
                        registry.Remove(buffer);
                        pool.Resize(ref buffer, newLength);
                        long kept = Math.Min(item.Buffer.Length, buffer.Length);
                        Assert.False(item.Buffer.IsValid);
                        item.Buffer = buffer;
                        registry.Add(buffer, item.Id);
                        long mismatch = Pattern.FirstMismatch(buffer, item.Id, kept);
                        if (mismatch >= 0)
                            throw new InvalidOperationException($"buffer {item.Id}: resize to {newLength} lost byte {mismatch} of {kept}");
                        Pattern.Fill(buffer, item.Id, kept, buffer.Length);
                    }
                    else if (op < 65)
                    {
                        Verify(mine[random.Next(mine.Count)], "at random");
                    }
                    else if (op < 80)
                    {
                        int at = random.Next(mine.Count);
                        Item item = mine[at];
                        mine.RemoveAt(at);
                        Verify(item, "before return");
                        registry.Remove(item.Buffer);
                        pool.Return(item.Buffer);
                    }
                    else if (op < 90)
                    {
                        int at = random.Next(mine.Count);
                        Verify(mine[at], "before handing over");
                        handoff.Enqueue(mine[at]);
                        mine.RemoveAt(at);
                    }
                    else if (handoff.TryDequeue(out Item? taken))
                    {
                        Verify(taken, "after handing over");
                        mine.Add(taken);
                        Interlocked.Increment(ref handedOver);
                    }
                    // Keep the working set bounded: a few tens of buffers per thread.
                    while (mine.Count > 24)
                    {
                        Item item = mine[^1];
                        mine.RemoveAt(mine.Count - 1);
                        Verify(item, "before trimming the working set");
                        registry.Remove(item.Buffer);
                        pool.Return(item.Buffer);
                    }
                }
                foreach (Item item in mine)
                    handoff.Enqueue(item);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, new Exception($"thread {index}, operation {done}: {e.Message}", e), null);
                foreach (Item item in mine)
                    handoff.Enqueue(item);
            }
            Interlocked.Add(ref operations, done);
        }

        var threads = Enumerable.Range(0, Threads).Select(i => new Thread(() => Worker(i)) { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Null(failure);

        // Everything left goes back from this thread: the last hand-over of all.
        int left = 0;
        while (handoff.TryDequeue(out Item? item))
        {
            Verify(item, "at the end");
            registry.Remove(item.Buffer);
            pool.Return(item.Buffer);
            left++;
        }
        NativePoolStatistics stats = pool.GetStatistics();
        _output.WriteLine($"{paths}: seed {seed}, {seconds} s, {Threads} threads: {operations} operations, {handedOver} hand-overs, {left} returned at the end; " +
                          $"{stats.Rents} rents, {stats.Returns} returns; grows in place {stats.GrowsInPlace}, remapped fixed {stats.GrowsRemappedFixed}, " +
                          $"remapped {stats.GrowsRemapped}, copied {stats.GrowsCopied}; moves failed {stats.MovesFailed}, declined {stats.MovesDeclinedByBudget}; " +
                          $"peak kernel mappings {stats.PeakKernelMappings}");
        Assert.Equal(stats.Rents, stats.Returns);
        Assert.Equal(0, stats.InUseBytes);
        if (Layer.MovesPages(pool))
            Assert.True(stats.GrowsRemappedFixed + stats.GrowsRemapped > 0, "no growth moved pages: the soak did not reach the move paths");
        else
            Assert.True(stats.GrowsCopied > 0, "no growth copied: the soak did not reach the portable layer's only move path");
        Assert.Null(pool.Core.Arena.Validate());
    }

    private static void Verify(Item item, string when)
    {
        long mismatch = Pattern.FirstMismatch(item.Buffer, item.Id, item.Buffer.Length);
        if (mismatch >= 0)
            throw new InvalidOperationException($"buffer {item.Id} ({item.Buffer.Length} bytes) {when}: byte {mismatch} lost");
    }
}
