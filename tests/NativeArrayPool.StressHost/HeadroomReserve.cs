using System.Reflection;
using NativeBuffers.Arenas;
using NativeBuffers.Os;

namespace NativeBuffers.StressHost;

/// <summary>
/// The pool in a process that another component has brought close to vm.max_map_count, with the runtime at its
/// defaults (W^X on, tiered compilation on): the pool must never take the mappings the runtime needs. Other
/// mappings first leave <c>reserve + 40</c> of headroom, then fewer than the reserve; each time two threads
/// drive the pool hard (rent 1–7 MiB, grow each 3×, keep them; return some). Only clean exceptions are allowed;
/// afterwards the runtime still JITs a new generic instantiation, starts a thread and allocates 100 MiB, and the
/// pool serves growth by page moves and new reservations again once the other mappings are released.
/// </summary>
internal static class HeadroomReserve
{
    private const long MiB = 1024 * 1024;

    public static int Run()
    {
        long max = ProcessMemory.ReadMaxMapCount();
        var hog = new MappingHog(max);
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        Arena arena = pool.Core.Arena;
        int reserve = pool.GetStatistics().MappingReserve;
        Console.WriteLine($"vm.max_map_count {max}, reserve {reserve}; the process starts with {ProcessMemory.CountMappings()} mappings");
        // The runtime's W^X maps JIT code through a memfd named "doublemapper": with W^X off (an inherited
        // DOTNET_EnableWriteXorExecute=0, say) the runtime needs fewer mappings and the test would prove less.
        int doubleMapped = File.ReadLines("/proc/self/maps").Count(line => line.Contains("doublemapper", StringComparison.Ordinal));
        Checks.That(doubleMapped > 0, "W^X is off: no doublemapper mapping in /proc/self/maps (is DOTNET_EnableWriteXorExecute=0 set?)");
        Console.WriteLine($"W^X on: {doubleMapped} doublemapper mappings");

        var held = new List<NativeBuffer<byte>>();
        foreach (int headroom in new[] { reserve + 40, Math.Max(8, reserve / 3) })
        {
            hog.Release();
            hog.ConsumeAll();
            hog.Release(headroom + 1); // mmap fails once the count exceeds the limit: give back one more
            int before = ProcessMemory.CountMappings();
            int ownBefore = arena.KernelMappings;
            (int served, int refused, int lowest) = Drive(pool, held, max, rounds: 100);
            int after = ProcessMemory.CountMappings();
            Console.WriteLine($"headroom {max - before}: {served} operations served, {refused} refused cleanly; " +
                              $"the pool's own mappings {ownBefore} → {arena.KernelMappings}; headroom after {max - after}, lowest seen {lowest}");
            // What the pool took must fit in the headroom above the reserve. The process's lowest headroom is no
            // measure of that: the runtime's own mappings during the drive (JIT, the second thread, GC regions; about
            // 30 here) come out of the reserve, which is what it is for, so the lowest seen was 226–246 at 297.
            int taken = arena.KernelMappings - ownBefore;
            if (headroom < reserve)
                Checks.That(taken <= 0, $"below the reserve the pool went from {ownBefore} to {arena.KernelMappings} mappings");
            else
                Checks.That(taken <= (max - before) - reserve, $"the pool took {taken} mappings with {max - before} of headroom: more than the {max - before - reserve} above the reserve of {reserve}");
        }

        // The runtime still has room of its own: new code, a new thread, 100 MiB more heap.
        int generic = NewInstantiation();
        var thread = new Thread(() => { });
        thread.Start();
        thread.Join();
        var heap = new List<byte[]>();
        for (int i = 0; i < 100; i++)
            heap.Add(new byte[MiB]);
        Console.WriteLine($"at headroom {max - ProcessMemory.CountMappings()}: JIT of a new instantiation ({generic}), a thread and 100 MiB of heap: done");

        // Once the other mappings go, the pool moves pages and maps reservations again.
        hog.Release();
        NativePoolStatistics was = pool.GetStatistics();
        NativeBuffer<byte> big = pool.Rent(256 * MiB);
        big[0] = 1;
        pool.Resize(ref big, 1024 * MiB);
        Checks.That(big[0] == 1, "the recovered growth lost the contents");
        NativePoolStatistics now = pool.GetStatistics();
        Checks.That(now.GrowsRemappedFixed + now.GrowsRemapped + now.GrowsInPlace > was.GrowsRemappedFixed + was.GrowsRemapped + was.GrowsInPlace,
            "after the mappings were released, growth still copied");
        Console.WriteLine($"after release: 256 MiB rented and grown to 1 GiB without a copy; the pool owns {arena.KernelMappings} mappings");
        pool.Return(big);
        foreach (NativeBuffer<byte> buffer in held)
            pool.Return(buffer);
        Checks.That(arena.Validate() is null, $"arena invalid: {arena.Validate()}");
        Console.WriteLine("PASS");
        return 0;
    }

    /// <summary>Two threads: rent 1–7 MiB, grow it 3×, keep it (every fourth is returned at once, and every other round returns one kept). Returns (served, refused, lowest headroom seen).</summary>
    private static (int Served, int Refused, int Lowest) Drive(NativeArrayPool<byte> pool, List<NativeBuffer<byte>> held, long max, int rounds)
    {
        int served = 0, refused = 0, lowest = int.MaxValue;
        var gate = new Lock();
        void Work(int seed)
        {
            var random = new Random(seed);
            for (int round = 0; round < rounds; round++)
            {
                NativeBuffer<byte> old = default;
                lock (gate)
                {
                    if (round % 2 == 1 && held.Count > 0)
                    {
                        old = held[^1];
                        held.RemoveAt(held.Count - 1);
                    }
                }
                if (old.IsValid)
                    pool.Return(old); // returns make free space, which rents below the reserve can use
                try
                {
                    NativeBuffer<byte> buffer = pool.Rent(random.Next(1, 8) * MiB);
                    buffer[0] = (byte)round;
                    pool.Resize(ref buffer, buffer.Length * 3);
                    buffer[buffer.Length - 1] = (byte)round;
                    Checks.That(buffer[0] == (byte)round, "growth lost the first byte");
                    if (round % 4 == 3)
                        pool.Return(buffer);
                    else
                        lock (gate) held.Add(buffer);
                    Interlocked.Increment(ref served);
                }
                catch (InsufficientMemoryException e) when (e.Message.Contains("vm.max_map_count", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref refused);
                }
                if (round % 10 == 0)
                {
                    int headroom = (int)(max - ProcessMemory.CountMappings());
                    lock (gate) lowest = Math.Min(lowest, headroom);
                }
            }
        }
        Exception? failure = null;
        var other = new Thread(() => { try { Work(2); } catch (Exception e) { failure = e; } });
        other.Start();
        Work(1);
        other.Join();
        if (failure is not null)
            throw failure;
        return (served, refused, lowest);
    }

    private static readonly Type[] s_parts = [typeof(Guid), typeof(decimal), typeof(DateTimeOffset), typeof(TimeSpan)];

    /// <summary>Calls a generic method over a value type no code has used before, so the JIT must emit new code.</summary>
    private static int NewInstantiation()
    {
        Type type = typeof(ValueTuple<,,>).MakeGenericType(s_parts[0], s_parts[1], s_parts[2]);
        MethodInfo method = typeof(HeadroomReserve).GetMethod(nameof(SizeOf), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(type);
        return (int)method.Invoke(null, null)!;
    }

    private static int SizeOf<T>() where T : unmanaged
    {
        Span<T> two = stackalloc T[2];
        two[1] = two[0];
        return System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
    }
}
