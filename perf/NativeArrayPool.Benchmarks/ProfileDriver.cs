using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// The <c>loop</c> verb: a bare Rent+Return loop for profilers that want a plain process rather than
/// BenchmarkDotNet's harness (<c>perf stat</c>, <c>valgrind --tool=callgrind</c>, <c>DOTNET_JitDisasm</c>):
/// <c>loop native|created|guarded|arraypool SIZE ITERATIONS</c>. Prints the best and median ns per pair over several rounds.
/// <c>created</c> is a pool from <see cref="NativeArrayPool{T}.Create()"/> with default options: unlike the shared
/// pool it can be disposed, so its pairs pay the disposal checks.
/// <c>guarded</c> is a pool with <see cref="NativePoolOptions.Guarded"/> (default quarantine budget), whose pairs
/// also write the buffer's first byte: the cost of guarded mode per Rent+Return, page fault included.
/// </summary>
public static partial class ProfileDriver
{
    public const string Verb = "loop";
    public const string AppendVerb = "append";
    public const string ResizeVerb = "resize";
    public const string ResizeChainVerb = "resize-chain";
    public const string SparedVerb = "spared";
    public const string ScalingVerb = "scaling";

    /// <summary>
    /// <c>scaling native|arraypool SIZE PAIRS</c>: the bare Rent+Return loop on one thread, then on two threads at
    /// once (each doing PAIRS, released together by a barrier), in alternating rounds. Prints ns per pair of the
    /// whole process for each and the scaling (one-thread time per pair / two-thread time per pair; 2.0 is
    /// perfect), from the best round of each: the number ThreadScalingBenchmarks must agree with.
    /// </summary>
    public static int RunScaling(string[] args)
    {
        string pool = args.Length > 1 ? args[1] : "native";
        int size = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4096;
        long pairs = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) : 20_000_000;
        WarmUp(pool, size);
        using var start = new Barrier(2);
        const int Rounds = 7;
        double best1 = double.MaxValue, best2 = double.MaxValue;
        for (int round = 0; round < Rounds; round++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Loop(pool, size, pairs);
            best1 = Math.Min(best1, Stopwatch.GetElapsedTime(t0).TotalNanoseconds / pairs);

            var second = new Thread(() =>
            {
                Loop(pool, size, 10_000); // this thread's cache, warmed before the clock starts
                start.SignalAndWait();
                Loop(pool, size, pairs);
            });
            second.Start();
            Loop(pool, size, 10_000);
            start.SignalAndWait();
            long t1 = Stopwatch.GetTimestamp();
            Loop(pool, size, pairs);
            second.Join();
            best2 = Math.Min(best2, Stopwatch.GetElapsedTime(t1).TotalNanoseconds / (2 * pairs));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{pool} size={size}: 1 thread {best1:F2} ns per pair, 2 threads {best2:F2} ns per pair of the process, scaling {best1 / best2:F2}x (best of {Rounds} rounds of {pairs} pairs per thread)"));
        return 0;
    }

    /// <summary><c>resize [runs]</c>: rent 1 GiB, write it, time Resize to 2 GiB, and print the growth path taken.</summary>
    public static int RunResize(string[] args)
    {
        int runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        for (int run = 0; run < runs; run++)
        {
            NativeBuffer<byte> buffer = pool.Rent(1L << 30);
            buffer.AsSpan().Fill(1);
            string hugePages = AnonHugePages();
            NativePoolStatistics before = pool.GetStatistics();
            long start = Stopwatch.GetTimestamp();
            pool.Resize(ref buffer, 2L << 30);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            NativePoolStatistics after = pool.GetStatistics();
            pool.Return(buffer);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {run}: Resize 1 GiB -> 2 GiB {ms:F3} ms; in place {after.GrowsInPlace - before.GrowsInPlace}, remapped fixed {after.GrowsRemappedFixed - before.GrowsRemappedFixed}, " +
                $"remapped {after.GrowsRemapped - before.GrowsRemapped}, copied {after.GrowsCopied - before.GrowsCopied}; before it, process {hugePages}"));
        }
        return 0;
    }

    /// <summary>
    /// <c>resize-chain [runs] [written|cold]</c>: per run, rent 1 MiB and double it with Resize up to 2 GiB, timing each
    /// step alone. <c>written</c> (the default) writes the whole buffer before each step, as an append would; <c>cold</c>
    /// writes only the first 1 MiB. Prints per step: wall and on-CPU ms, the time the thread waited runnable for a CPU and
    /// its involuntary and voluntary context switches, the CPU time the process's other threads used meanwhile, the growth path (from the statistics' counters), the source and
    /// destination addresses modulo 2 MiB and 1 GiB (mremap moves page tables a PMD or a PUD at a time only where both
    /// agree), the minor faults during the step, reservations mapped, and the process's AnonHugePages; then each run's
    /// median and worst of the steps from 64 MiB up, by wall and by CPU. On a loaded machine a step whose wall time is
    /// mostly "runnable" lost the CPU to another process: its cost is the scheduler's, not the pool's.
    /// </summary>
    public static int RunResizeChain(string[] args)
    {
        int runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        bool written = args.Length <= 2 || args[2] != "cold";
        const long MiB = 1L << 20;
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"load average {File.ReadAllText("/proc/loadavg").Trim()}; {(written ? "written" : "cold")}"));
        for (int run = 0; run < runs; run++)
        {
            NativeBuffer<byte> buffer = pool.Rent(MiB);
            buffer.AsSpan().Fill(1);
            var wall = new List<double>();
            var cpu = new List<double>();
            for (long length = 2 * MiB; length <= 2048 * MiB; length *= 2)
            {
                if (written)
                    buffer.AsSpan().Fill(1);
                nint source;
                unsafe { source = (nint)buffer.Pointer; }
                NativePoolStatistics before = pool.GetStatistics();
                long faults = MinorFaults();
                Scheduling schedulingBefore = Scheduling.Now();
                long processCpuStart = CpuNanoseconds(ClockProcessCpuTimeId);
                long cpuStart = CpuNanoseconds(ClockThreadCpuTimeId);
                long start = Stopwatch.GetTimestamp();
                pool.Resize(ref buffer, length);
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                long cpuNs = CpuNanoseconds(ClockThreadCpuTimeId) - cpuStart;
                double othersMs = (CpuNanoseconds(ClockProcessCpuTimeId) - processCpuStart - cpuNs) / 1e6;
                double cpuMs = cpuNs / 1e6;
                Scheduling scheduling = Scheduling.Now() - schedulingBefore;
                faults = MinorFaults() - faults;
                NativePoolStatistics after = pool.GetStatistics();
                nint destination;
                unsafe { destination = (nint)buffer.Pointer; }
                string path = after.GrowsInPlace != before.GrowsInPlace ? "in place"
                    : after.GrowsRemappedFixed != before.GrowsRemappedFixed ? "remap fixed"
                    : after.GrowsRemapped != before.GrowsRemapped ? "remap"
                    : after.GrowsCopied != before.GrowsCopied ? "copy" : "?";
                if (length >= 128 * MiB)
                {
                    wall.Add(ms);
                    cpu.Add(cpuMs);
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"run {run} {length / 2 / MiB,5} -> {length / MiB,5} MiB {ms,7:F3} ms, on cpu {cpuMs,7:F3} ms, runnable {scheduling.RunnableNs / 1e6,7:F3} ms, other threads {othersMs,6:F3} ms, " +
                    $"switches {scheduling.Involuntary}+{scheduling.Voluntary} {path,-11} src%2M {Mod(source, 2 * MiB) / 1024,4} KiB %1G {Mod(source, 1024 * MiB) / MiB,4} MiB " +
                    $"dst%2M {Mod(destination, 2 * MiB) / 1024,4} KiB %1G {Mod(destination, 1024 * MiB) / MiB,4} MiB faults {faults,4} reservations {after.Reservations - before.Reservations:+0;-0;0} {AnonHugePages()}"));
            }
            pool.Return(buffer);
            wall.Sort();
            cpu.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {run}: steps from 64 MiB up: wall median {wall[wall.Count / 2]:F3} ms, worst {wall[^1]:F3} ms ({wall[^1] / wall[wall.Count / 2]:F1}x); " +
                $"on cpu median {cpu[cpu.Count / 2]:F3} ms, worst {cpu[^1]:F3} ms ({cpu[^1] / cpu[cpu.Count / 2]:F1}x)"));
        }
        return 0;
    }

    /// <summary>
    /// This thread's scheduling counters: nanoseconds spent runnable but waiting for a CPU (/proc/thread-self/schedstat,
    /// brought up to date at every switch), and its involuntary and voluntary context switches (/proc/thread-self/status).
    /// </summary>
    private readonly record struct Scheduling(long RunnableNs, long Involuntary, long Voluntary)
    {
        public static Scheduling Now()
        {
            string[] schedstat = File.ReadAllText("/proc/thread-self/schedstat").Split(' ');
            long involuntary = 0, voluntary = 0;
            foreach (string line in File.ReadLines("/proc/thread-self/status"))
            {
                if (line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    involuntary = long.Parse(line["nonvoluntary_ctxt_switches:".Length..].Trim(), CultureInfo.InvariantCulture);
                else if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                    voluntary = long.Parse(line["voluntary_ctxt_switches:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
            return new Scheduling(long.Parse(schedstat[1], CultureInfo.InvariantCulture), involuntary, voluntary);
        }

        public static Scheduling operator -(Scheduling a, Scheduling b) =>
            new(a.RunnableNs - b.RunnableNs, a.Involuntary - b.Involuntary, a.Voluntary - b.Voluntary);
    }

    // The thread's (or the whole process's) CPU time now: the scheduler is asked at the call, while schedstat's own CPU
    // field (and getrusage) only move at a tick or a switch, too coarse for a step of a tenth of a millisecond. The
    // process's other threads (GC, tiered JIT, timers) using a CPU during a step that lost its CPU would make the
    // preemption ours; none using one makes it another process's.
    private const int ClockProcessCpuTimeId = 2;
    private const int ClockThreadCpuTimeId = 3;

    private static long CpuNanoseconds(int clock)
    {
        Span<long> timespec = stackalloc long[2];
        if (ClockGetTime(clock, ref MemoryMarshal.GetReference(timespec)) != 0)
            throw new InvalidOperationException($"clock_gettime({clock}) failed");
        return timespec[0] * 1_000_000_000 + timespec[1];
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, ref long timespec);

    private static long Mod(nint address, long modulus) => (long)((ulong)address % (ulong)modulus);


    /// <summary>
    /// <c>append [runs] [pooled|alternate|pinned] [MiB] [peers]</c>: the native append (1 GiB in 64 KiB writes, Resize doubling) and the
    /// pre-sized floor, run by run, with the growth paths each run took from the pool's counters and the minor page
    /// faults of each part (a count that, unlike the times, does not depend on the machine's load): where the time goes.
    /// <list type="bullet">
    /// <item><c>pooled</c> (default): the floor rents and returns its 1 GiB from the shared pool, so the append finds a
    /// returned 1 GiB block there.</item>
    /// <item><c>alternate</c>: the floor uses a pool of its own, and <c>ArrayPoolBufferWriter</c> runs between the
    /// appends, so the shared pool holds only what the append itself returned (the history of issue 13).</item>
    /// <item><c>pinned</c>: as <c>alternate</c>, and after the first run a buffer (2 MiB, or the MiB given) stays rented
    /// from the shared pool. Below 1/64 of the append's 1 GiB it is placed in new space, leaving the resident block the
    /// last append left whole; from 16 MiB up it is placed in that block (Space.MaxResidentSplitShift).</item>
    /// </list>
    /// With <c>peers</c>, every round also runs <c>ArrayPoolBufferWriter</c>, <c>RecyclableMemoryStream</c> and
    /// <c>MemoryStream</c> over the same gigabyte, in this process, before the append.
    /// </summary>
    public static int RunAppend(string[] args)
    {
        int runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        string history = args.Length > 2 ? args[2] : "pooled";
        bool alternate = history is "alternate" or "pinned";
        bool withPeers = args.Contains("peers");
        int pinnedMiB = args.Length > 3 && args[3] != "peers" ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2;
        NativeBuffer<byte> pinned = default;
        var benchmarks = new AppendBenchmarks();
        benchmarks.Setup();
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        using NativeArrayPool<byte> floorPool = NativeArrayPool<byte>.Create();
        for (int run = 0; run < runs; run++)
        {
            (double floor, long floorFaults) = Measure(() => benchmarks.FloorPresized(alternate ? floorPool : pool));
            (double fresh, long freshFaults) = Measure(benchmarks.FloorPresizedFresh);
            // The managed peers, in every history and in this process (they leave the native pool alone): in
            // alternate and pinned the shared pool then holds only what the append itself returned.
            string peer = "";
            if (alternate || withPeers)
            {
                (double managed, long managedFaults) = Measure(benchmarks.ArrayPoolBufferWriter);
                peer = string.Create(CultureInfo.InvariantCulture, $", ArrayPoolBufferWriter {managed:F0} ms / {managedFaults} faults");
            }
            if (withPeers)
            {
                (double recyclable, _) = Measure(benchmarks.RecyclableMemoryStream);
                (double stream, _) = Measure(benchmarks.MemoryStream);
                peer += string.Create(CultureInfo.InvariantCulture, $", RecyclableMemoryStream {recyclable:F0} ms, MemoryStream {stream:F0} ms");
            }
            NativePoolStatistics before = pool.GetStatistics();
            (double append, long appendFaults) = Measure(benchmarks.NativeResizeDoubling);
            NativePoolStatistics after = pool.GetStatistics();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {run}: floor pooled {floor:F0} ms / {floorFaults} faults, floor fresh {fresh:F0} ms / {freshFaults} faults{peer}, " +
                $"resize-doubling {append:F0} ms / {appendFaults} faults ({append / floor:F2}x pooled, {append / fresh:F2}x fresh); grows in place {after.GrowsInPlace - before.GrowsInPlace}, " +
                $"remapped fixed {after.GrowsRemappedFixed - before.GrowsRemappedFixed}, remapped {after.GrowsRemapped - before.GrowsRemapped}, " +
                $"copied {after.GrowsCopied - before.GrowsCopied} ({(after.BytesCopied - before.BytesCopied) >> 10} KiB); mapped {after.MappedBytes >> 20} MiB, kernel mappings {after.KernelMappings}"));
            if (history == "pinned" && run == 0)
                pinned = pool.Rent(pinnedMiB << 20);
        }
        if (!pinned.IsEmpty)
            pool.Return(pinned);
        return 0;
    }

    /// <summary>
    /// <c>spared [held] [idleSeconds]</c>: the memory a spared block costs. A 1 GiB buffer is written and returned to the
    /// shared pool, then <c>held</c> (default 1,200) 2 MiB buffers are rented, written and held: they pass over the
    /// returned gigabyte (Space.MaxResidentSplitShift), which stays resident beside them until the idle trim gives its
    /// pages back. Prints the process's resident memory and the pool's mapped bytes after each stage, and after
    /// <c>idleSeconds</c> (default 25, past the default 10 s IdleTrimDelay) with the buffers still held.
    /// </summary>
    public static int RunSpared(string[] args)
    {
        int held = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1200;
        int idleSeconds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 25;
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        PrintMemory(pool, "start");
        NativeBuffer<byte> big = pool.Rent(1L << 30);
        big.AsSpan().Fill(1);
        pool.Return(big);
        PrintMemory(pool, "1 GiB written and returned");
        var leases = new List<NativeBuffer<byte>>(held);
        for (int i = 0; i < held; i++)
        {
            NativeBuffer<byte> lease = pool.Rent(2 << 20);
            lease.AsSpan().Fill(2);
            leases.Add(lease);
        }
        PrintMemory(pool, $"{held} x 2 MiB written and held");
        Thread.Sleep(TimeSpan.FromSeconds(idleSeconds));
        PrintMemory(pool, $"{idleSeconds} s later, still held");
        foreach (NativeBuffer<byte> lease in leases)
            pool.Return(lease);
        return 0;
    }

    private static void PrintMemory(NativeArrayPool<byte> pool, string stage)
    {
        string rss = File.Exists("/proc/self/status")
            ? File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]
            : "?";
        NativePoolStatistics stats = pool.GetStatistics();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{stage}: RSS {long.Parse(rss, CultureInfo.InvariantCulture) >> 10} MiB, mapped {stats.MappedBytes >> 20} MiB, reservations {stats.Reservations}, kernel mappings {stats.KernelMappings}"));
    }

    private static (double Milliseconds, long MinorFaults) Measure(Action action)
    {
        long faults = MinorFaults();
        long start = Stopwatch.GetTimestamp();
        action();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return (ms, MinorFaults() - faults);
    }

    /// <summary>The process's minor page faults so far (/proc/self/stat, field 10), or 0 where there is no /proc.</summary>
    private static long MinorFaults()
    {
        if (!File.Exists("/proc/self/stat"))
            return 0;
        string stat = File.ReadAllText("/proc/self/stat");
        // Field 2 (the command) is in parentheses and may hold spaces: count fields after its closing one.
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], CultureInfo.InvariantCulture); // field 10 overall: minflt
    }

    private static string AnonHugePages() =>
        File.ReadLines("/proc/self/smaps_rollup").FirstOrDefault(l => l.StartsWith("AnonHugePages:", StringComparison.Ordinal))?.Replace("  ", "") ?? "AnonHugePages: ?";

    public static int Run(string[] args)
    {
        string pool = args.Length > 1 ? args[1] : "native";
        int size = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4096;
        long iterations = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) : 100_000_000;
        WarmUp(pool, size);
        // Several rounds, best and median reported: on a shared machine the best round is the least disturbed.
        const int Rounds = 9;
        var perPair = new double[Rounds];
        for (int round = 0; round < Rounds; round++)
        {
            long start = Stopwatch.GetTimestamp();
            Loop(pool, size, iterations / Rounds);
            perPair[round] = Stopwatch.GetElapsedTime(start).TotalNanoseconds / (iterations / Rounds);
        }
        Array.Sort(perPair);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{pool} size={size}: best {perPair[0]:F2} ns, median {perPair[Rounds / 2]:F2} ns per Rent+Return ({Rounds} rounds of {iterations / Rounds} pairs)"));
        return 0;
    }

    /// <summary>
    /// <c>ratio A B SIZE PAIRS [ROUNDS]</c>: the bare loops of pools A and B (any two of the <c>loop</c> verb's pools) in
    /// one process, alternating round by round (ABBA order, so neither always runs first), each round PAIRS pairs.
    /// Prints each pool's best and median ns per pair and the median and spread of the per-round ratio A/B. It was
    /// built to cancel the VM's speed windows (both sides of a round share one); measured, it does not give a usable
    /// ratio: each loop keeps a speed of its own per process, and which pool warms first moved the ratio between 0.95
    /// and 1.17 (docs/benchmarks.md). Kept for looking at that; the published ratios are minimum-over-processes.
    /// </summary>
    public static int RunRatio(string[] args)
    {
        string first = args.Length > 1 ? args[1] : "native";
        string second = args.Length > 2 ? args[2] : "arraypool";
        int size = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 4096;
        long pairs = args.Length > 4 ? long.Parse(args[4], CultureInfo.InvariantCulture) : 2_000_000;
        int rounds = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 40;
        WarmUp(first, size);
        WarmUp(second, size);
        var a = new double[rounds];
        var b = new double[rounds];
        var ratio = new double[rounds];
        for (int round = 0; round < rounds; round++)
        {
            bool aFirst = round % 2 == 0;
            double ta = 0, tb = 0;
            for (int leg = 0; leg < 2; leg++)
            {
                bool runA = (leg == 0) == aFirst;
                long start = Stopwatch.GetTimestamp();
                Loop(runA ? first : second, size, pairs);
                double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / pairs;
                if (runA)
                    ta = ns;
                else
                    tb = ns;
            }
            a[round] = ta;
            b[round] = tb;
            ratio[round] = ta / tb;
        }
        Array.Sort(a);
        Array.Sort(b);
        Array.Sort(ratio);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{first}/{second} size={size}: {first} best {a[0]:F2} median {a[rounds / 2]:F2} ns, {second} best {b[0]:F2} median {b[rounds / 2]:F2} ns; " +
            $"ratio median {ratio[rounds / 2]:F3} (quartiles {ratio[rounds / 4]:F3}-{ratio[3 * rounds / 4]:F3}, {rounds} rounds of {pairs} pairs each)"));
        return 0;
    }

    /// <summary>
    /// <c>stackscan native|arraypool SIZE PAIRS</c>: the bare loop on one thread at a time, each with its stack moved down by
    /// another multiple of 64 bytes (0 to 4,032): the best ns per pair at each offset, in one process.
    /// </summary>
    public static int RunStackScan(string[] args)
    {
        string pool = args.Length > 1 ? args[1] : "native";
        int size = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4096;
        long pairs = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) : 2_000_000;
        WarmUp(pool, size);
        var line = new System.Text.StringBuilder();
        for (int pad = 0; pad < 4096; pad += 64)
        {
            double best = double.MaxValue;
            var thread = new Thread(() => best = Padded(pad, pool, size, pairs));
            thread.Start();
            thread.Join();
            line.Append(string.Create(CultureInfo.InvariantCulture, $"{pad}:{best:F1} "));
        }
        Console.WriteLine($"{pool} size={size}: pad:ns {line}");
        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Padded(int pad, string pool, int size, long pairs)
    {
        Span<byte> padding = stackalloc byte[pad + 1];
        padding[pad] = 1;
        double best = double.MaxValue;
        Loop(pool, size, 10_000);
        for (int round = 0; round < 3; round++)
        {
            long start = Stopwatch.GetTimestamp();
            Loop(pool, size, pairs);
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalNanoseconds / pairs);
        }
        return best + padding[pad] - 1;
    }

    /// <summary>
    /// Runs the loop until tiered compilation has finished with it: 300 short rounds, and at least 3 seconds. Each
    /// round sleeps, so the runtime's background compiler gets the CPU even when the process is pinned to one. 300
    /// rounds alone were not enough for the <c>-calls</c> variants on a loaded machine: their methods were still
    /// instrumented tier-0 code (about 100 ns a pair) in the first measured rounds (DOTNET_JitDisasmSummary).
    /// </summary>
    private static void WarmUp(string pool, int size)
    {
        int pairs = pool == "guarded" ? 200 : 10_000; // microseconds per pair there: keep the warm-up to seconds
        long start = Stopwatch.GetTimestamp();
        for (int round = 0; round < 300 || Stopwatch.GetElapsedTime(start).TotalSeconds < 3; round++)
        {
            Loop(pool, size, pairs);
            Thread.Sleep(1);
        }
    }

    private static void Loop(string pool, int size, long iterations)
    {
        if (pool == "native")
            NativeLoop(size, iterations);
        else if (pool == "native-calls")
            NativeCallsLoop(size, iterations);
        else if (pool == "arraypool-calls")
            ManagedCallsLoop(size, iterations);
        else if (pool == "guarded")
            GuardedLoop(size, iterations);
        else if (pool == "created")
            CreatedLoop(size, iterations);
        else
            ManagedLoop(size, iterations);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void NativeLoop(int size, long iterations)
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        for (long i = 0; i < iterations; i++)
            pool.Return(pool.Rent(size));
    }

    private static readonly Lazy<NativeArrayPool<byte>> s_created = new(() => CreateWithoutTrims(guarded: false));

    // No idle or pressure trims: a trim between rounds would make a round pay for refilling the caches.
    private static NativeArrayPool<byte> CreateWithoutTrims(bool guarded) => NativeArrayPool<byte>.Create(new NativePoolOptions
    {
        Guarded = guarded,
        IdleTrimDelay = Timeout.InfiniteTimeSpan,
        TrimOnMemoryPressure = false,
    });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CreatedLoop(int size, long iterations)
    {
        NativeArrayPool<byte> pool = s_created.Value;
        for (long i = 0; i < iterations; i++)
            pool.Return(pool.Rent(size));
    }

    private static readonly Lazy<NativeArrayPool<byte>> s_guarded = new(() => CreateWithoutTrims(guarded: true));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void GuardedLoop(int size, long iterations)
    {
        NativeArrayPool<byte> pool = s_guarded.Value;
        for (long i = 0; i < iterations; i++)
        {
            NativeBuffer<byte> buffer = pool.Rent(size);
            buffer.AsSpan()[0] = 1;
            pool.Return(buffer);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ManagedLoop(int size, long iterations)
    {
        ArrayPool<byte> pool = ArrayPool<byte>.Shared;
        for (long i = 0; i < iterations; i++)
            pool.Return(pool.Rent(size));
    }

    // The "-calls" loops keep Rent and Return in methods of their own, as in real code, where a buffer is rented in
    // one method and returned in another. Inlined into one loop, the JIT shares ArrayPool's thread-static lookup
    // between its Rent and its Return (one call to the TLS resolver per pair, DOTNET_JitDisasm shows it), which it
    // does not do for ours (two): the inlined loop measures that sharing as much as either pool.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void NativeCallsLoop(int size, long iterations)
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        for (long i = 0; i < iterations; i++)
            NativeReturn(pool, NativeRent(pool, size));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeBuffer<byte> NativeRent(NativeArrayPool<byte> pool, int size) => pool.Rent(size);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void NativeReturn(NativeArrayPool<byte> pool, NativeBuffer<byte> buffer) => pool.Return(buffer);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ManagedCallsLoop(int size, long iterations)
    {
        ArrayPool<byte> pool = ArrayPool<byte>.Shared;
        for (long i = 0; i < iterations; i++)
            ManagedReturn(pool, ManagedRent(pool, size));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte[] ManagedRent(ArrayPool<byte> pool, int size) => pool.Rent(size);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ManagedReturn(ArrayPool<byte> pool, byte[] array) => pool.Return(array);
}
