using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// Model-based test of the pool: random sequences of rent / fill / resize up and down / return, run under
/// one configuration per subclass (each growth path forced, the natural chain, the portable layer). After
/// every step: every live buffer holds its pattern, live buffers never overlap, the arena's structures are
/// valid, and the statistics add up. At the end everything is returned, InUseBytes is 0, and after Dispose
/// the pool has unmapped every byte it mapped (a ledger of its system calls; GrowthFaultTests and
/// NativeArrayPoolKernelTests check the same against /proc/self/maps, with nothing else running).
/// </summary>
public abstract class NativeArrayPoolModelTests
{
    private enum OpKind { Rent, Resize, Return, Refill }

    private readonly record struct Op(OpKind Kind, int Index, long Size, int Seed);

    private sealed class Live
    {
        public NativeBuffer<byte> Buffer;
        public long Filled;
        public int Seed;
    }

    /// <summary>The configuration under test.</summary>
    protected abstract NativePoolOptions Options { get; }

    /// <summary>The growth counter this configuration must have moved by the end of the test, if any.</summary>
    protected virtual Func<NativePoolStatistics, long>? ExpectedPath => null;

    private static Gen<long> Sizes =>
        Gen.Frequency(
            (4, Gen.Choose(0, 4096).Select(n => (long)n)),
            (3, Gen.Choose(4097, 256 * 1024).Select(n => (long)n)),
            (2, Gen.Choose(256 * 1024, 4 << 20).Select(n => (long)n)),
            (1, Gen.Choose(4 << 20, 12 << 20).Select(n => (long)n)));

    private static Arbitrary<Op[]> Sequences =>
        (from kind in Gen.Frequency((3, Gen.Constant(OpKind.Rent)), (4, Gen.Constant(OpKind.Resize)), (2, Gen.Constant(OpKind.Return)), (1, Gen.Constant(OpKind.Refill)))
         from index in Gen.Choose(0, 1000)
         from size in Sizes
         from seed in Gen.Choose(1, 250)
         select new Op(kind, index, size, seed)).ArrayOf().Select(ops => ops.Take(60).ToArray()).ToArbitrary();

    private long _pathCount;

    [Fact]
    public void Random_sequences_preserve_contents_never_overlap_and_add_up()
    {
        Prop.ForAll(Sequences, ops => Run(ops)).QuickCheckThrowOnFailure();
        if (ExpectedPath is not null)
            Assert.True(_pathCount > 0, "the forced growth path never ran: the test did not exercise what it claims");
    }

    private bool Run(Op[] ops)
    {
        NativePoolOptions options = Options;
        var ledger = new InterceptingVirtualMemory(Layer.For(options.Backend)); // Automatic: the portable layer too, in CI's second run
        options.VirtualMemoryOverride = ledger;
        var pool = NativeArrayPool<byte>.Create(options);
        var live = new List<Live>();
        long rents = 0, returns = 0;
        try
        {
            foreach (Op op in ops)
            {
                Step(pool, live, op, ref rents, ref returns);
                CheckInvariants(pool, live, rents, returns);
            }
            foreach (Live item in live)
            {
                Assert.Equal(-1, Pattern.FirstMismatch(item.Buffer, item.Seed, item.Filled));
                pool.Return(item.Buffer);
            }
            NativePoolStatistics end = pool.GetStatistics();
            Assert.Equal(0, end.InUseBytes);
            Assert.Equal(end.Rents, end.Returns);
            if (ExpectedPath is not null)
                _pathCount += ExpectedPath(end);
        }
        finally
        {
            pool.Dispose();
        }
        Assert.Equal(0, ledger.MappedBytes); // every byte the pool mapped was given back
        return true;
    }

    private static void Step(NativeArrayPool<byte> pool, List<Live> live, Op op, ref long rents, ref long returns)
    {
        switch (op.Kind)
        {
            case OpKind.Rent when live.Count < 24:
            {
                var item = new Live { Buffer = pool.Rent(op.Size), Seed = op.Seed };
                Assert.True(item.Buffer.Length >= op.Size);
                if (op.Size > 0)
                    rents++;
                item.Filled = item.Buffer.Length;
                Pattern.Fill(item.Buffer, item.Seed, 0, item.Filled);
                live.Add(item);
                break;
            }
            case OpKind.Resize when live.Count > 0:
            {
                Live item = live[op.Index % live.Count];
                NativeBuffer<byte> before = item.Buffer;
                bool wasEmpty = before.Length == 0;
                try
                {
                    pool.Resize(ref item.Buffer, op.Size);
                }
                catch (InsufficientMemoryException)
                {
                    // A forced path could not serve the growth: the lease and its contents must be untouched.
                    Assert.True(before.IsValid);
                    Assert.Equal(before.Length, item.Buffer.Length);
                    Assert.Equal(-1, Pattern.FirstMismatch(item.Buffer, item.Seed, item.Filled));
                    return;
                }
                Assert.True(item.Buffer.Length >= op.Size);
                if (!wasEmpty && op.Size > 0)
                    Assert.False(before.IsValid); // the old lease is retired by every resize
                if (wasEmpty && op.Size > 0) rents++;
                if (!wasEmpty && op.Size == 0) returns++;
                item.Filled = Math.Min(item.Filled, item.Buffer.Length);
                Assert.Equal(-1, Pattern.FirstMismatch(item.Buffer, item.Seed, item.Filled));
                break;
            }
            case OpKind.Return when live.Count > 0:
            {
                int at = op.Index % live.Count;
                Live item = live[at];
                Assert.Equal(-1, Pattern.FirstMismatch(item.Buffer, item.Seed, item.Filled));
                if (item.Buffer.Length > 0)
                    returns++;
                pool.Return(item.Buffer);
                Assert.False(item.Buffer.Length > 0 && item.Buffer.IsValid);
                live.RemoveAt(at);
                break;
            }
            case OpKind.Refill when live.Count > 0:
            {
                Live item = live[op.Index % live.Count];
                item.Seed = op.Seed;
                item.Filled = item.Buffer.Length;
                Pattern.Fill(item.Buffer, item.Seed, 0, item.Filled);
                break;
            }
        }
    }

    private static unsafe void CheckInvariants(NativeArrayPool<byte> pool, List<Live> live, long rents, long returns)
    {
        Assert.Null(pool.Core.Arena.Validate());
        var ranges = live.Where(l => l.Buffer.Length > 0)
                         .Select(l => (Start: (long)l.Buffer.Pointer, End: (long)l.Buffer.Pointer + l.Buffer.Length))
                         .OrderBy(r => r.Start).ToList();
        for (int i = 1; i < ranges.Count; i++)
            Assert.True(ranges[i - 1].End <= ranges[i].Start, "two live buffers overlap");
        foreach (Live item in live)
            Assert.Equal(-1, Pattern.FirstMismatch(item.Buffer, item.Seed, item.Filled, sampleOnly: true));
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(rents, stats.Rents);
        Assert.Equal(returns, stats.Returns);
        Assert.Equal(live.Sum(l => l.Buffer.Length), stats.InUseBytes);
        Assert.True(stats.KernelMappings <= stats.MappingBudget + 8, $"{stats.KernelMappings} mappings against a budget of {stats.MappingBudget}");
    }

    /// <summary>Small reservations and a low remap threshold make every path happen with buffers of a few MiB.</summary>
    protected static NativePoolOptions Base(GrowthPaths paths, MemoryBackend backend = MemoryBackend.Automatic) => new()
    {
        MinimumReservationBytes = 2L << 20,
        RemapThresholdBytes = 64 * 1024,
        GrowthPaths = paths,
        Backend = backend,
    };
}

[Trait(Layer.Trait, Layer.Linux)] // the Linux chain, whose moves it expects; PortableModelTests runs the portable one
public sealed class NaturalChainModelTests : NativeArrayPoolModelTests
{
    protected override NativePoolOptions Options => Base(GrowthPaths.All, MemoryBackend.Linux);
    protected override Func<NativePoolStatistics, long>? ExpectedPath => s => s.GrowsRemappedFixed;
}

public sealed class InPlaceOnlyModelTests : NativeArrayPoolModelTests
{
    protected override NativePoolOptions Options => Base(GrowthPaths.InPlace);
    protected override Func<NativePoolStatistics, long>? ExpectedPath => s => s.GrowsInPlace;
}

[Trait(Layer.Trait, Layer.Linux)] // page moves exist only on the Linux layer; the classes without a trait follow NATIVEARRAYPOOL_BACKEND
public sealed class RemapFixedOnlyModelTests : NativeArrayPoolModelTests
{
    protected override NativePoolOptions Options => Base(GrowthPaths.RemapFixed, MemoryBackend.Linux);
    protected override Func<NativePoolStatistics, long>? ExpectedPath => s => s.GrowsRemappedFixed;
}

[Trait(Layer.Trait, Layer.Linux)]
public sealed class RemapOnlyModelTests : NativeArrayPoolModelTests
{
    protected override NativePoolOptions Options => Base(GrowthPaths.Remap, MemoryBackend.Linux);
    protected override Func<NativePoolStatistics, long>? ExpectedPath => s => s.GrowsRemapped;
}

public sealed class CopyOnlyModelTests : NativeArrayPoolModelTests
{
    protected override NativePoolOptions Options => Base(GrowthPaths.Copy);
    protected override Func<NativePoolStatistics, long>? ExpectedPath => s => s.GrowsCopied;
}

public sealed class NoThreadCacheModelTests : NativeArrayPoolModelTests
{
    protected override NativePoolOptions Options
    {
        get
        {
            NativePoolOptions options = Base(GrowthPaths.All);
            options.ThreadCaches = false;
            return options;
        }
    }
}

public sealed class PortableModelTests : NativeArrayPoolModelTests
{
    protected override NativePoolOptions Options => Base(GrowthPaths.All, MemoryBackend.Portable);
    protected override Func<NativePoolStatistics, long>? ExpectedPath => s => s.GrowsCopied + s.GrowsInPlace;
}
