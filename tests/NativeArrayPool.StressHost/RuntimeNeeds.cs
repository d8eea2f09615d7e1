using System.Reflection;
using NativeBuffers.Os;

namespace NativeBuffers.StressHost;

/// <summary>
/// How many kernel mappings the .NET runtime needs for its own work, measured two ways (W^X and tiered
/// compilation left at their defaults, as in production): what each step adds to the process's count with
/// mappings to spare, and whether the steps survive when only <c>headroom</c> mappings are left below
/// vm.max_map_count. The pool's default mapping reserve is chosen from these figures (docs/growth.md).
/// </summary>
/// <remarks>
/// Steps: JIT new generic instantiations over value types (each needs new code, which under W^X is written
/// through a separate read-write mapping), start and join threads (a stack and a guard page each, plus the
/// runtime's per-thread allocations), allocate 100 MiB on the GC heap (the GC commits regions within its
/// reservation, which splits it). Usage: <c>runtimeneeds</c> (deltas), <c>runtimeneeds HEADROOM</c>, or
/// <c>runtimeneeds readcost</c> (what one read of /proc/self/maps costs at 1,000 to 65,000 mappings).
/// </remarks>
internal static class RuntimeNeeds
{
    private const int MiB = 1024 * 1024;

    public static int Run(string[] args)
    {
        if (args.Length > 1 && args[1] == "readcost")
            return ReadCost();
        if (args.Length > 1)
            return Survive(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
        int start = ProcessMemory.CountMappings();
        Console.WriteLine($"start: {start} mappings (vm.max_map_count {ProcessMemory.ReadMaxMapCount()})");
        Measure("JIT 50 new generic instantiations", () => Jit(0, 50));
        Measure("JIT 50 more", () => Jit(50, 50));
        Measure("start and join 1 thread", () => Threads(1));
        Measure("8 threads alive at once, then joined", () => Threads(8));
        var keep = new List<byte[]>();
        Measure("allocate 100 MiB in 1 MiB arrays (kept)", () => Allocate(keep, 100));
        Measure("allocate 100 MiB more", () => Allocate(keep, 100));
        Measure("drop them, full blocking GC", () => { keep.Clear(); GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true); });
        Measure("allocate one 100 MiB array", () => keep.Add(new byte[100 * MiB]));
        Console.WriteLine($"end: {ProcessMemory.CountMappings()} mappings, {ProcessMemory.CountMappings() - start} more than at start");
        return 0;
    }

    private static void Measure(string what, Action step)
    {
        int before = ProcessMemory.CountMappings();
        int peak = before;
        using var sampler = new Timer(_ => { int now = ProcessMemory.CountMappings(); if (now > peak) peak = now; }, null, 0, 1);
        step();
        int after = ProcessMemory.CountMappings();
        Console.WriteLine($"{what}: {after - before:+#;-#;0} mappings (sampled peak {Math.Max(peak, after) - before:+#;-#;0})");
    }

    /// <summary>Consumes the process's mappings down to <paramref name="headroom"/>, then does every step; exit 0 if the runtime survived.</summary>
    private static int Survive(int headroom)
    {
        long max = ProcessMemory.ReadMaxMapCount();
        var hog = new MappingHog(max);
        Console.WriteLine($"headroom {headroom}: start with {ProcessMemory.CountMappings()} mappings");
        hog.ConsumeAll();
        // mmap fails at map_count > max (the count may then be max itself): give back headroom + 1.
        hog.Release(headroom + 1);
        int atStart = ProcessMemory.CountMappings();
        Jit(0, 50);
        Threads(1);
        var keep = new List<byte[]>();
        Allocate(keep, 100);
        Threads(8);
        Jit(50, 50);
        int atEnd = ProcessMemory.CountMappings();
        hog.Release();
        Console.WriteLine($"headroom {headroom}: survived; {max - atStart} left before the steps, {max - atEnd} after");
        return 0;
    }

    /// <summary>What one count of the process's mappings (the arena's read of /proc/self/maps) costs at N mappings.</summary>
    private static int ReadCost()
    {
        long max = ProcessMemory.ReadMaxMapCount();
        var hog = new MappingHog(max);
        VirtualMemory os = LinuxVirtualMemory.Instance;
        foreach (int target in new[] { 0, 1_000, 4_000, 16_000, 65_000 })
        {
            int now = os.CountProcessMappings();
            for (int i = now; i < Math.Min(target, max - 100); i++)
                hog.ConsumeOne();
            var times = new List<double>();
            for (int i = 0; i < 21; i++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                _ = os.CountProcessMappings();
                times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
            times.Sort();
            Console.WriteLine($"{os.CountProcessMappings()} mappings: median {times[10]:F0} µs, best {times[0]:F0} µs, worst {times[^1]:F0} µs per read");
        }
        hog.Release();
        return 0;
    }

    // Value types, so every instantiation needs code of its own (reference types share one).
    private static readonly Type[] s_parts =
    [
        typeof(byte), typeof(sbyte), typeof(short), typeof(ushort), typeof(int), typeof(uint), typeof(long), typeof(ulong),
        typeof(float), typeof(double), typeof(decimal), typeof(char), typeof(bool), typeof(Guid), typeof(DateTime),
    ];

    private static void Jit(int first, int count)
    {
        MethodInfo echo = typeof(RuntimeNeeds).GetMethod(nameof(Echo), BindingFlags.NonPublic | BindingFlags.Static)!;
        for (int i = first; i < first + count; i++)
        {
            Type pair = typeof(ValueTuple<,>).MakeGenericType(s_parts[i % s_parts.Length], s_parts[i / s_parts.Length % s_parts.Length]);
            echo.MakeGenericMethod(pair).Invoke(null, [Activator.CreateInstance(pair)]);
        }
    }

    private static T Echo<T>(T value)
    {
        T[] copies = new T[4];
        for (int i = 0; i < copies.Length; i++)
            copies[i] = value;
        return copies[^1];
    }

    private static void Threads(int count)
    {
        var threads = new Thread[count];
        using var started = new CountdownEvent(count);
        using var release = new ManualResetEventSlim();
        for (int i = 0; i < count; i++)
        {
            threads[i] = new Thread(() => { started.Signal(); release.Wait(); });
            threads[i].Start();
        }
        started.Wait();
        release.Set();
        foreach (Thread thread in threads)
            thread.Join();
    }

    private static void Allocate(List<byte[]> keep, int mebibytes)
    {
        for (int i = 0; i < mebibytes; i++)
        {
            byte[] array = new byte[MiB];
            array[0] = 1;
            array[^1] = 1;
            keep.Add(array);
        }
    }
}
