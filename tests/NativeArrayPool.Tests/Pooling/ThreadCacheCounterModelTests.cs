using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Pooling;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// The thread cache's counters against a model, after every step of random sequences on one thread: rents, returns,
/// rented bytes and bytes in use equal what the sequence did. The cache counts a rent from its hot slot only by
/// derivation (returns less the returns that did not stay there less the one there now, see ThreadCache.Bin), so the
/// sequences move allocations in and out of the hot slot by every path: rents and returns of cached classes (hot
/// slot, spill stack, spill overflow to the arena) and of the class above the largest cached one, Dispose of a
/// lease, Resize across classes, a flush of this thread's cache, and a trim elsewhere that this thread's next miss
/// acts on. The created pool runs in each mode that changes the return path; the shared pool's counters are read
/// from this thread's cache of it (deltas: other tests use the shared pool on other threads, never this cache).
/// </summary>
public class ThreadCacheCounterModelTests
{
    private enum OpKind { Rent, Return, DisposeLease, Resize, Flush, TrimElsewhere, StaleReturn }

    private readonly record struct Op(OpKind Kind, int Index, long Size)
    {
        public override string ToString() => $"{Kind}({Index}, {Size})";
    }

    private readonly record struct Counts(long Rents, long Returns, long BytesRented, long InUseBytes);

    // Every kind of bin: small (16 kept), a page and 64 KiB (8), 1 MiB (4), 2 MiB and 16 MiB (one kept: no spill),
    // and 20 MiB, above the largest cached class. Several sizes share a class, so returns pile up in one bin.
    private static readonly Gen<long> s_sizes = Gen.Frequency(
        (6, Gen.Elements(1L, 100L, 4096L, 5000L, 64L * 1024)),
        (2, Gen.Elements(1L << 20, 2L << 20)),
        (1, Gen.Elements(16L << 20, 20L << 20)));

    private static readonly Arbitrary<Op[]> s_sequences =
        Gen.ArrayOf(
            from kind in Gen.Frequency(
                (5, Gen.Constant(OpKind.Rent)), (4, Gen.Constant(OpKind.Return)), (1, Gen.Constant(OpKind.DisposeLease)),
                (1, Gen.Constant(OpKind.Resize)), (1, Gen.Constant(OpKind.Flush)), (1, Gen.Constant(OpKind.TrimElsewhere)),
                (1, Gen.Constant(OpKind.StaleReturn)))
            from index in Gen.Choose(0, 1000)
            from size in s_sizes
            select new Op(kind, index, size))
        .ToArbitrary();

    public static TheoryData<string> Modes => new() { "default", "no thread caches", "zero on rent", "detect racing returns" };

    private static NativePoolOptions OptionsFor(string mode) => mode switch
    {
        "default" => new NativePoolOptions(),
        "no thread caches" => new NativePoolOptions { ThreadCaches = false },
        "zero on rent" => new NativePoolOptions { ZeroOnRent = true },
        "detect racing returns" => new NativePoolOptions { DetectRacingReturns = true },
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "no such mode"),
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Created_pool_counts_every_step_of_random_sequences_exactly(string mode)
    {
        // This thread also has its cache of the shared pool, which the facade reads before every rent: a created
        // pool's rents and returns must still go through its own cache (and its disposal checks), never that one.
        NativeArrayPool<byte>.Shared.Rent(1).Dispose();
        using NativeArrayPool<byte> pool = NativeArrayPool<byte>.Create(OptionsFor(mode));
        Prop.ForAll(s_sequences, ops =>
        {
            NativePoolStatistics start = pool.GetStatistics();
            Counts Read()
            {
                NativePoolStatistics now = pool.GetStatistics();
                return new Counts(now.Rents - start.Rents, now.Returns - start.Returns, now.BytesRented - start.BytesRented, now.InUseBytes);
            }
            return Run(pool, ops, Read, flush: () => pool.Trim(), trimElsewhere: () => pool.Core.TrimOnPressure(), misuse: true);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Shared_pool_counts_every_step_of_random_sequences_exactly_in_this_threads_cache()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        pool.Rent(1).Dispose(); // this thread has its cache of the shared pool from here on
        ThreadCache cache = PoolCore.ThreadSharedCache!;
        Assert.Same(pool.Core, cache.Core);
        Prop.ForAll(s_sequences, ops =>
        {
            LeaseCounts start = CountsOf(cache);
            Counts Read()
            {
                LeaseCounts now = CountsOf(cache);
                return new Counts(now.Rents - start.Rents, now.Returns - start.Returns, now.RentedBytes - start.RentedBytes,
                    now.InUseBytes - start.InUseBytes);
            }
            // No trim of the shared pool (other tests' threads would flush too) and no misuse (its counters are
            // process-wide): this thread's cache is flushed directly, as a trim makes its owner do.
            return Run(pool, ops, Read, flush: () => cache.Flush(), trimElsewhere: () => cache.Flush(), misuse: false);
        }).QuickCheckThrowOnFailure();
        Assert.Same(cache, PoolCore.ThreadSharedCache); // every step above used this one cache
    }

    private static LeaseCounts CountsOf(ThreadCache cache)
    {
        var counts = new LeaseCounts();
        cache.AddCountsTo(ref counts);
        return counts;
    }

    private static bool Run(NativeArrayPool<byte> pool, Op[] ops, Func<Counts> read, Action flush, Action trimElsewhere, bool misuse)
    {
        var held = new List<NativeBuffer<byte>>();
        var stale = new List<NativeBuffer<byte>>();
        long rents = 0, returns = 0, rentedBytes = 0;
        bool Matches() => read() == new Counts(rents, returns, rentedBytes, held.Sum(b => b.Length));
        try
        {
            foreach (Op op in ops)
            {
                OpKind kind = op.Kind;
                if (held.Count == 0 && kind is OpKind.Return or OpKind.DisposeLease or OpKind.Resize)
                    kind = OpKind.Rent;
                if (held.Count >= 12 && kind == OpKind.Rent)
                    kind = OpKind.Return; // a bounded footprint: at most a dozen leases out (some of 20 MiB)
                int at = held.Count == 0 ? 0 : op.Index % held.Count;
                switch (kind)
                {
                    case OpKind.Rent:
                        NativeBuffer<byte> rented = pool.Rent(op.Size);
                        if (rented.Length < op.Size)
                            return false;
                        held.Add(rented);
                        rents++;
                        rentedBytes += rented.Length;
                        break;
                    case OpKind.Return:
                    case OpKind.DisposeLease:
                        NativeBuffer<byte> ended = held[at];
                        held.RemoveAt(at);
                        if (kind == OpKind.Return)
                            pool.Return(ended);
                        else
                            ended.Dispose();
                        stale.Add(ended);
                        returns++;
                        break;
                    case OpKind.Resize:
                        NativeBuffer<byte> buffer = held[at];
                        stale.Add(buffer);
                        pool.Resize(ref buffer, op.Size);
                        held[at] = buffer;
                        break;
                    case OpKind.Flush:
                        flush();
                        break;
                    case OpKind.TrimElsewhere:
                        trimElsewhere();
                        break;
                    case OpKind.StaleReturn:
                        if (misuse && stale.Count > 0)
                        {
                            NativeBuffer<byte> old = stale[op.Index % stale.Count];
                            Assert.Throws<InvalidOperationException>(() => pool.Return(old));
                        }
                        break;
                }
                if (!Matches())
                    return false;
            }
            return true;
        }
        finally
        {
            foreach (NativeBuffer<byte> buffer in held)
                pool.Return(buffer);
        }
    }
}
