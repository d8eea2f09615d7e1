using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// The <c>loop</c> verb: a bare Rent+Return loop for profilers that want a plain process rather than
/// BenchmarkDotNet's harness (<c>perf stat</c>, <c>valgrind --tool=callgrind</c>, <c>DOTNET_JitDisasm</c>):
/// <c>loop native|arraypool SIZE ITERATIONS</c>. Prints the best and median ns per pair over several rounds.
/// </summary>
public static class ProfileDriver
{
    public const string Verb = "loop";

    public static int Run(string[] args)
    {
        string pool = args.Length > 1 ? args[1] : "native";
        int size = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4096;
        long iterations = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) : 100_000_000;
        // Let tiered compilation finish so the loop runs the optimized code.
        for (int round = 0; round < 300; round++)
        {
            Loop(pool, size, 10_000);
            Thread.Sleep(1);
        }
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

    private static void Loop(string pool, int size, long iterations)
    {
        if (pool == "native")
            NativeLoop(size, iterations);
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

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ManagedLoop(int size, long iterations)
    {
        ArrayPool<byte> pool = ArrayPool<byte>.Shared;
        for (long i = 0; i < iterations; i++)
            pool.Return(pool.Rent(size));
    }
}
