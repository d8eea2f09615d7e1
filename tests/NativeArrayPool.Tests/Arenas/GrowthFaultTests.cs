using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Arenas;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;
using Xunit.Abstractions;

namespace NativeBuffers.Tests.Arenas;

/// <summary>
/// Every virtual-memory primitive failing — at random under FsCheck, and at every single call of scripted
/// scenarios on every growth path — while buffers are rented, filled, resized and returned. After every step:
/// each live buffer holds its pattern, no two overlap, the arena validates. At the end, with faults off: all
/// returned, the pool disposed, and nothing the arena ever mapped is still mapped.
/// </summary>
[Collection(nameof(SerialKernelCollection))]
[Trait(Layer.Trait, Layer.Linux)] // wraps the Linux layer: the failures it injects are mremap's and mmap's
public class GrowthFaultTests
{
    private static readonly GrowthPaths[] PathChoices =
    {
        GrowthPaths.All,
        GrowthPaths.RemapFixed | GrowthPaths.Copy,
        GrowthPaths.Remap | GrowthPaths.Copy,
        GrowthPaths.InPlace | GrowthPaths.Copy,
        GrowthPaths.RemapFixed,
        GrowthPaths.Remap,
    };

    private readonly ITestOutputHelper _output;

    public GrowthFaultTests(ITestOutputHelper output) => _output = output;

    internal static NativePoolOptions Options(VirtualMemory os, GrowthPaths paths, int budget = 0) => new()
    {
        VirtualMemoryOverride = os,
        MinimumReservationBytes = 2L << 20,
        ReservationsPerSize = 2,
        RemapThresholdBytes = 16 * 1024,
        ThreadCaches = false, // every return reaches the arena, so frees meet the faults too
        GrowthPaths = paths,
        MappingBudget = budget,
        // No background trims: they would draw from the fault plan's random sequence and break seed replay.
        IdleTrimDelay = Timeout.InfiniteTimeSpan,
        TrimOnMemoryPressure = false,
    };

    [LinuxFact]
    public void The_leak_check_sees_mappings_the_arena_still_holds()
    {
        var driver = new PoolDriver(Options(LinuxVirtualMemory.Instance, GrowthPaths.All));
        driver.Rent(64 * 1024);
        driver.Rent(3 << 20);
        driver.Resize(0, 512 * 1024);
        List<string> live = driver.Ledger.Survivors();
        driver.ReturnAll();
        driver.Dispose();
        Assert.NotEmpty(live); // the check can fail: before Dispose it finds the arena's mappings
        Assert.Empty(driver.Ledger.Survivors());
    }

    // ---------------- random faults, random operations ----------------

    public sealed record Step(int Kind, int Index, long Length)
    {
        public override string ToString() => Kind switch { 0 => $"Rent({Length})", 1 => $"Resize(#{Index}, {Length})", 2 => $"Return(#{Index})", _ => "Trim" };
    }

    public sealed record Scenario(int Seed, double Probability, int PathChoice, int Budget, Step[] Steps)
    {
        public override string ToString() =>
            $"seed {Seed}, p {Probability}, paths {PathChoices[PathChoice]}, budget {Budget}, " +
            string.Join(", ", Steps.Select(s => s.ToString()));
    }

    private static Gen<long> Lengths =>
        Gen.Choose(0, 22).SelectMany(shift => Gen.Choose(-(1 << Math.Max(0, shift - 2)), 1 << Math.Max(0, shift - 2))
                          .Select(jitter => Math.Max(1L, (1L << shift) + jitter)));

    private static Gen<Step> Steps =>
        Gen.Frequency(
            (4, Lengths.Select(length => new Step(0, 0, length))),
            (6, Gen.Choose(0, 64).SelectMany(i => Lengths.Select(length => new Step(1, i, length)))),
            (3, Gen.Choose(0, 64).Select(i => new Step(2, i, 0))),
            (1, Gen.Constant(new Step(3, 0, 0))));

    private static Arbitrary<Scenario> Scenarios =>
        (from seed in Gen.Choose(0, int.MaxValue - 1)
         from probability in Gen.Elements(0.05, 0.15, 0.35, 0.7)
         from paths in Gen.Choose(0, PathChoices.Length - 1)
         from budget in Gen.Elements(0, 6, 64)
         from steps in Gen.Choose(10, 60).SelectMany(n => Gen.ArrayOf(Steps, n))
         select new Scenario(seed, probability, paths, budget, steps)).ToArbitrary();

    // Older kernels unmap a failed move's destination, and then any thread's mmap (the runtime's own, a thread
    // stack) may take the hole in the microseconds before the pool looks. This test once crashed about one run in
    // ten (a rented buffer's memory vanished); that symptom was later traced to a reservation whose release failed
    // part way (fixed; MoveFailureTests reproduces it). Both kernels' habits are run here, so the random operations
    // meet the unmapped destination too, not only the every-call and example tests. Few random steps reach a move
    // into the arena (a handful of its calls fail per run, as the output line says), so this is a net, not a proof;
    // the every-call test fails each of those calls on purpose.
    [LinuxTheory]
    [InlineData(false)] // 6.x: a failed move leaves its destination mapped
    [InlineData(true)]  // older kernels: a failed move has unmapped its destination already
    public void Random_faults_in_every_primitive_never_lose_contents_overlap_or_leak(bool failedMoveUnmapsDestination)
    {
        int runs = 0;
        long injected = 0, refusals = 0, failedMoves = 0;
        Prop.ForAll(Scenarios, scenario =>
        {
            var plan = new FaultPlan(scenario.Seed) { MoveIntoFailureUnmapsDestination = failedMoveUnmapsDestination };
            foreach (Primitive primitive in Enum.GetValues<Primitive>())
                plan.FailRandomly(primitive, scenario.Probability);
            FaultInjectingVirtualMemory os = plan.Wrap(LinuxVirtualMemory.Instance);
            RunToCleanEnd(Options(os, PathChoices[scenario.PathChoice], scenario.Budget), plan, driver =>
            {
                foreach (Step step in scenario.Steps)
                    Apply(driver, step);
            }, out int refused);
            runs++;
            injected += os.TotalFailures;
            failedMoves += os.Failures(Primitive.MoveInto);
            refusals += refused;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(150));
        _output.WriteLine($"{runs} scenarios, {injected} injected failures ({failedMoves} of moves into the arena), {refusals} operations refused with OutOfMemoryException");
    }

    private static void Apply(PoolDriver driver, Step step)
    {
        switch (step.Kind)
        {
            case 0: driver.Rent(step.Length); break;
            case 1: driver.Resize(step.Index, step.Length); break;
            case 2: driver.Return(step.Index); break;
            default: driver.Trim(); break;
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> on a fresh pool, then turns faults off, returns everything, disposes, and
    /// proves that nothing the arena ever mapped is still mapped and that the counters balance.
    /// </summary>
    internal static void RunToCleanEnd(NativePoolOptions options, FaultPlan plan, Action<PoolDriver> body, out int refused)
    {
        var driver = new PoolDriver(options) { Faults = () => string.Join(" ", plan.Log) };
        try
        {
            body(driver);
            plan.Enabled = false;
            driver.ReturnAll();
            NativePoolStatistics stats = driver.Pool.GetStatistics();
            Assert.Equal(stats.Rents, stats.Returns);
            Assert.Equal(0, stats.InUseBytes);
            refused = driver.Refusals.Count;
        }
        finally
        {
            plan.Enabled = false;
            driver.Dispose();
        }
        List<string> survivors = driver.Ledger.Survivors();
        Assert.True(survivors.Count == 0, $"address space leaked after Dispose: {string.Join("; ", survivors)} (faults: {string.Join(" ", plan.Log)})");
    }

    // ---------------- every call of every primitive, failing once ----------------

    /// <summary>
    /// A scenario that walks through every growth path: page-sized and larger blocks that grow in place, move
    /// into the arena (becoming islands), move again, cross from the small to the huge space, shrink, and are
    /// returned as islands and detached mappings; slots that grow into blocks; and trims that consolidate.
    /// </summary>
    private static void Script(PoolDriver d)
    {
        const long KiB = 1024, MiB = 1024 * 1024;
        d.Rent(64 * KiB);            // #0
        d.Rent(64 * KiB);            // #1, #0's buddy: #0 cannot grow in place
        d.Rent(300 * KiB);           // #2
        d.Resize(0, 128 * KiB);      // moves (island) or copies
        d.Resize(0, 256 * KiB);      // an island moves on
        d.Return(1);
        d.Resize(1, 1 * MiB);        // #2 (index 1 now), may grow in place
        d.Resize(1, 3 * MiB);        // small space → huge space
        d.Resize(1, 4 * MiB);        // huge growth
        d.Rent(1000);                // a slot
        d.Resize(2, 3000);           // slot → slot (copy)
        d.Resize(2, 40 * KiB);       // slot → block (copy)
        d.Resize(2, 80 * KiB);       // block → island or detached
        d.Resize(0, 4 * KiB);        // an island shrinks below the threshold: copy
        d.Resize(1, 2 * MiB);        // huge shrink
        d.Return(2);                 // an island or detached mapping goes back
        d.Trim();                    // consolidation: holes, unrefreshed islands, empty reservations
        d.Rent(512 * KiB);
        d.Resize(2, 3 * MiB);
        d.Return(0);
        d.Return(0);
        d.Trim();
    }

    public static TheoryData<GrowthPaths> ScriptPaths => new(PathChoices);

    [LinuxTheory]
    [MemberData(nameof(ScriptPaths))]
    public void Every_call_of_every_primitive_failing_once_is_absorbed_or_refused_cleanly(GrowthPaths paths)
    {
        // A clean run counts the calls each primitive gets.
        var counting = new FaultPlan(0);
        FaultInjectingVirtualMemory countingOs = counting.Wrap(LinuxVirtualMemory.Instance);
        RunToCleanEnd(Options(countingOs, paths), counting, Script, out int cleanRefusals);
        // Without the copy path a slot cannot grow at all, so only then may a clean run refuse.
        if ((paths & GrowthPaths.Copy) != 0)
            Assert.Equal(0, cleanRefusals);

        int runs = 0, refusedRuns = 0;
        var perPrimitive = new List<string>();
        foreach (Primitive primitive in Enum.GetValues<Primitive>())
        {
            long calls = countingOs.Calls(primitive);
            perPrimitive.Add($"{primitive}: {calls} calls");
            foreach (OsError error in ErrorsFor(primitive))
            foreach (bool unmaps in primitive == Primitive.MoveInto ? new[] { true, false } : new[] { true })
            {
                for (long call = 0; call < calls; call++)
                {
                    var plan = new FaultPlan(0) { MoveIntoFailureUnmapsDestination = unmaps }.FailAt(primitive, call, error);
                    RunToCleanEnd(Options(plan.Wrap(LinuxVirtualMemory.Instance), paths), plan, Script, out int refused);
                    runs++;
                    if (refused > 0)
                        refusedRuns++;
                }
            }
        }
        _output.WriteLine($"{paths}: {string.Join(", ", perPrimitive)}; {runs} single-fault runs, {refusedRuns} surfaced an OutOfMemoryException");
        Assert.True(runs > 0);
    }

    private static OsError[] ErrorsFor(Primitive primitive) => primitive switch
    {
        Primitive.MoveInto => new[] { OsError.OutOfMemory, OsError.Fault, OsError.InvalidArgument },
        Primitive.FillHole => new[] { OsError.OutOfMemory, OsError.Exists },
        _ => new[] { OsError.OutOfMemory },
    };
}
