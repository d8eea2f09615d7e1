using NativeBuffers.Arenas;
using NativeBuffers.Os;

namespace NativeBuffers.StressHost;

/// <summary>
/// The pool at vm.max_map_count. The process's own one-page mappings eat every mapping the kernel allows;
/// then the pool must keep serving what needs no new mapping (rents from free space, growth by copying,
/// after its page moves are refused), refuse the rest with an exception that names vm.max_map_count and the
/// pool's own mapping count, lose no data, and recover once the mappings are given back.
/// </summary>
/// <remarks>
/// The whole scenario runs twice: the first round only warms up every code path (the JIT and the runtime need
/// mappings of their own, which do not exist at the limit), the second round checks. The parent sets
/// DOTNET_EnableWriteXorExecute=0 and DOTNET_TieredCompilation=0 so no code is generated later.
/// </remarks>
internal static class MapCountExhaustion
{
    private const long KiB = 1024, MiB = 1024 * 1024;

    public static int Run()
    {
        long max = ProcessMemory.ReadMaxMapCount();
        var hog = new MappingHog(max);
        Console.WriteLine($"vm.max_map_count {max}; the process starts with {ProcessMemory.CountMappings()} mappings");
        WarmUp();
        Round(hog, max, atLimit: false, consume: false); // every step once with mappings to spare: type loads and
                                                         // generic instantiations commit loader-heap pages now
        Round(hog, max, atLimit: false); // the same steps, three mappings short of the limit: page moves are
        Round(hog, max, atLimit: true);  // refused already, so the fallback paths run (and compile) there first
        Console.WriteLine("PASS");
        return 0;
    }

    /// <summary>Compiles what only runs when something fails, while the runtime can still map code.</summary>
    /// <remarks>
    /// With tiered compilation off a method is compiled at its first call; a first call at the limit needs a
    /// new code page, and dies ("Out of memory.") when the code heap's current page is full. So compile every
    /// method of the library and of this host now.
    /// </remarks>
    private static void WarmUp()
    {
        // The host's other modes are not run here (and compiling some of their code ahead killed the runtime).
        Type[] otherModes = [typeof(RuntimeNeeds), typeof(HeadroomReserve), typeof(AddressSpaceLimit)];
        foreach (Type type in typeof(Arena).Assembly.GetTypes().Concat(typeof(MapCountExhaustion).Assembly.GetTypes()))
        {
            if (otherModes.Any(mode => type == mode || type.FullName!.StartsWith(mode.FullName + "+", StringComparison.Ordinal)))
                continue;
            Type closed = type;
            if (type.IsGenericTypeDefinition)
            {
                if (type.GetGenericArguments().Length != 1)
                    continue;
                try { closed = type.MakeGenericType(typeof(byte)); }
                catch (ArgumentException) { continue; }
            }
            const System.Reflection.BindingFlags All = System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic |
                                                       System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.DeclaredOnly;
            foreach (System.Reflection.MethodBase method in closed.GetMethods(All).Cast<System.Reflection.MethodBase>().Concat(closed.GetConstructors(All)))
            {
                if (method.IsAbstract || method.ContainsGenericParameters)
                    continue;
                try
                {
                    System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(method.MethodHandle, closed.IsGenericType ? closed.GetGenericArguments().Select(t => t.TypeHandle).ToArray() : null);
                }
                catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException or TypeLoadException)
                {
                }
            }
        }
        System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(
            typeof(Arena).GetMethod("DescribeMappingFailure", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.MethodHandle);
        System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(typeof(ThrowHelper).GetMethod(nameof(ThrowHelper.ThrowOutOfMemory))!.MethodHandle);
        try
        {
            ThrowHelper.ThrowOutOfMemory("warm-up");
        }
        catch (InsufficientMemoryException e)
        {
            _ = e.Message.Contains("vm.max_map_count", StringComparison.Ordinal);
        }
        _ = LinuxVirtualMemory.Instance.IsWhollyMapped(0x10000, 0x10000);
        // Compiling is not enough: static constructors (the EventSource, the metrics registry) and type loads
        // commit loader-heap pages, which split VMAs. Run every path once for real while mappings are free.
        _ = NativeBuffers.Diagnostics.NativeArrayPoolEventSource.Log.IsEnabled();
        foreach (GrowthPaths paths in new[] { GrowthPaths.All, GrowthPaths.InPlace | GrowthPaths.Copy, GrowthPaths.Remap | GrowthPaths.Copy })
        {
            using var warm = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux, GrowthPaths = paths, ThreadCaches = false, RemapThresholdBytes = 16 * KiB });
            NativeBuffer<byte> x = warm.Rent(64 * KiB), y = warm.Rent(64 * KiB);
            warm.Resize(ref x, 4 * MiB);
            warm.Resize(ref y, 16);
            _ = warm.GetStatistics();
            warm.Return(x);
            warm.Return(y);
            warm.Trim();
        }
        _ = GC.TryStartNoGCRegion(16 * MiB);
        GC.EndNoGCRegion();
    }

    private static void Round(MappingHog hog, long max, bool atLimit, bool consume = true)
    {
        bool check = atLimit;
        var ranges = new List<(nint Start, nint End)>();
        var lines = new List<string>(64);
        var options = new NativePoolOptions
        {
            Backend = MemoryBackend.Linux,
            MinimumReservationBytes = 8 * MiB,
            RemapThresholdBytes = 16 * KiB,
            ThreadCaches = false,
            MappingBudget = 100_000, // the budget is not what is tested here: the kernel's limit is,
            MappingReserve = 0,      // and so is the reserve, which would stop the pool short of it (HeadroomReserve tests that)
        };
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Create(options);
        Arena arena = pool.Core.Arena;

        // Before the limit: three buffers with contents, in an 8 MiB reservation that keeps free room.
        NativeBuffer<byte> a = pool.Rent(1 * MiB);
        Checks.Fill(a, 1, 0, a.Length);
        NativeBuffer<byte> b = pool.Rent(64 * KiB);
        Checks.Fill(b, 2, 0, b.Length);
        NativeBuffer<byte> c = pool.Rent(64 * KiB); // b's neighbour: b cannot grow in place
        Checks.Fill(c, 3, 0, c.Length);
        Checks.Record(arena, ranges);

        // At the limit the GC cannot commit a new region (that takes a mapping): commit what the rest of the
        // round allocates now, and collect nothing until the mappings are back.
        Checks.That(GC.TryStartNoGCRegion(128 * MiB, 48 * MiB), "could not start a no-GC region");
        int mappingsBefore = ProcessMemory.CountMappings();
        int taken = consume ? hog.ConsumeAll() : 0;
        if (!atLimit && consume)
            hog.Release(3); // map_count >= max - 3: the kernel refuses every move, but mmap still works
        // Nothing here may read a file or print until the mappings are back: the runtime cannot get native memory.
        lines.Add($"consumed {taken} one-page mappings on top of {mappingsBefore}, until mmap failed (vm.max_map_count {max})");

        // 1. Rents from free space need no mapping.

        NativeBuffer<byte> d = pool.Rent(4 * KiB);
        Checks.Fill(d, 4, 0, d.Length);
        NativeBuffer<byte> e = pool.Rent(64 * KiB);
        Checks.Fill(e, 5, 0, e.Length);
        lines.Add("rent from free space: served");

        // 2. Growth: the kernel refuses both page moves (map count), the copy into free space serves.

        NativePoolStatistics before = pool.GetStatistics();
        pool.Resize(ref b, 128 * KiB);
        NativePoolStatistics after = pool.GetStatistics();
        Checks.Verify(b, 2, 64 * KiB, "b after growth at the limit");
        Checks.Fill(b, 2, 64 * KiB, b.Length);
        lines.Add($"grow 64 KiB → 128 KiB: moves failed {after.MovesFailed - before.MovesFailed}, copied {after.GrowsCopied - before.GrowsCopied}");
        if (check)
        {
            Checks.That(after.GrowsCopied - before.GrowsCopied == 1, "growth at the limit was not served by a copy");
            Checks.That(after.MovesFailed - before.MovesFailed >= 1, "no page move was refused at the limit (was the limit reached?)");
        }
        Checks.Record(arena, ranges);

        // 3. A rent that needs a new reservation is refused, and says why.

        string? refusal = null;
        try
        {
            NativeBuffer<byte> big = pool.Rent(16 * MiB);
            pool.Return(big);
        }
        catch (InsufficientMemoryException x)
        {
            refusal = x.Message;
        }
        lines.Add($"rent 16 MiB: {(refusal is null ? "served" : "refused: " + refusal)}");
        if (check)
        {
            Checks.That(refusal is not null, "a rent needing a new mapping was served at the limit");
            Checks.That(refusal!.Contains($"vm.max_map_count = {max}"), "the message does not name vm.max_map_count");
            Checks.That(refusal.Contains($"the pool owns {arena.KernelMappings} of them"), "the message does not give the pool's own mapping count");
        }

        // 4. A growth that needs a new mapping is refused; the buffer is untouched and its lease still valid.

        string? growthRefusal = null;
        try
        {
            pool.Resize(ref a, 64 * MiB);
        }
        catch (InsufficientMemoryException x)
        {
            growthRefusal = x.Message;
        }
        lines.Add($"grow 1 MiB → 64 MiB: {(growthRefusal is null ? "served" : "refused")}");
        if (check)
            Checks.That(growthRefusal is not null && a.Length == 1 * MiB, "a growth needing a new mapping was served at the limit");
        Checks.Verify(a, 1, 1 * MiB, "a after the refused growth");
        Checks.Verify(b, 2, b.Length, "b at the limit");
        Checks.Verify(c, 3, c.Length, "c at the limit");
        Checks.Verify(d, 4, d.Length, "d at the limit");
        Checks.Verify(e, 5, e.Length, "e at the limit");

        // 5. Give the mappings back: the same requests are served.

        hog.Release();
        if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
            GC.EndNoGCRegion();
        NativeBuffer<byte> f = pool.Rent(16 * MiB);
        Checks.Fill(f, 6, 0, 1 * MiB);
        long kept = 1 * MiB;
        pool.Resize(ref a, 64 * MiB);
        Checks.Verify(a, 1, kept, "a after growing past the limit's end");
        Checks.Record(arena, ranges);
        lines.Add($"after release: rent 16 MiB served, grow to 64 MiB served; the process has {ProcessMemory.CountMappings()} mappings");

        // Trim consolidates: whatever the refused moves left behind must be plain, usable address space again.
        pool.Trim();
        int marks = 0;
        foreach (Reservation reservation in arena.ReservationsSnapshot())
        {
            foreach (var segment in reservation.IslandsAndHoles)
            {
                if (segment.Kind != RunKind.Island)
                    marks++;
            }
        }
        lines.Add($"after Trim: {marks} holes or foreign marks left in the pool's reservations");
        if (check)
            Checks.That(marks == 0, $"{marks} ranges of the pool's reservations are lost (holes or foreign marks) after recovery");
        Checks.Verify(b, 2, b.Length, "b after recovery");
        Checks.Verify(f, 6, 1 * MiB, "f after recovery");
        foreach (NativeBuffer<byte> buffer in new[] { a, b, c, d, e, f })
            pool.Return(buffer);
        NativePoolStatistics end = pool.GetStatistics();
        Checks.That(end.Rents == end.Returns && end.InUseBytes == 0, $"counters do not balance: {end.Rents} rents, {end.Returns} returns, {end.InUseBytes} bytes in use");
        Checks.That(arena.Validate() is null, $"arena invalid: {arena.Validate()}");
        pool.Dispose();
        int left = Checks.LeftInside(ranges);
        lines.Add($"after Dispose: {left} mappings left inside the pool's ranges");
        if (check)
        {
            Checks.That(left == 0, $"{left} mappings of the pool survived Dispose");
            foreach (string line in lines)
                Console.WriteLine(line);
        }
    }
}
