using NativeBuffers.Arenas;

namespace NativeBuffers.StressHost;

/// <summary>
/// The pool under a small address-space limit: RLIMIT_AS (what <c>ulimit -v</c> sets) lowered to what the
/// process maps at startup plus 1 GiB; the parent also caps the GC heap (DOTNET_GCHeapHardLimit) so the
/// runtime needs little more. Rents and growth past the limit must fail with InsufficientMemoryException,
/// never crash, leave every buffer intact and valid, and the pool must serve again once memory is returned.
/// </summary>
internal static class AddressSpaceLimit
{
    private const long KiB = 1024, MiB = 1024 * 1024;

    public static int Run()
    {
        // Console, like the runtime, needs memory to start: start it before the pool takes the address space.
        Console.WriteLine($"address-space limit run, pid {Environment.ProcessId}");
        long limit = AddressSpaceRLimit.LimitToCurrentPlus(1024 * MiB);
        Console.WriteLine($"RLIMIT_AS set to {limit / MiB} MiB ({AddressSpaceRLimit.VmSize() / MiB} MiB mapped now)");
        var options = new NativePoolOptions { Backend = MemoryBackend.Linux, ThreadCaches = false, RemapThresholdBytes = 64 * KiB };
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Create(options);
        Arena arena = pool.Core.Arena;
        var held = new List<NativeBuffer<byte>>();
        var ranges = new List<(nint Start, nint End)>();

        // 1. Rent 64 MiB buffers until the limit refuses one.
        string? rentRefusal = null;
        for (int i = 0; i < 4096 && rentRefusal is null; i++)
        {
            try
            {
                NativeBuffer<byte> buffer = pool.Rent(64 * MiB);
                Checks.Fill(buffer, i, 0, 4 * KiB); // touch a page only: the limit is on address space, not memory
                held.Add(buffer);
                Checks.Record(arena, ranges);
            }
            catch (InsufficientMemoryException e)
            {
                rentRefusal = e.Message;
            }
        }
        Checks.That(rentRefusal is not null, "4096 rents of 64 MiB were all served: is the address-space limit in force?");
        Console.WriteLine($"rented {held.Count} × 64 MiB before a refusal: {rentRefusal}");
        Checks.That(rentRefusal!.Contains($"limited to {limit} bytes (RLIMIT_AS, ulimit -v)", StringComparison.Ordinal), "the message does not give the address-space limit");

        // 2. Growth past the limit is refused; the buffer keeps its contents and its lease.
        NativeBuffer<byte> grown = held[0];
        string? growthRefusal = null;
        try
        {
            pool.Resize(ref grown, 1L << 36); // 64 GiB
        }
        catch (InsufficientMemoryException e)
        {
            growthRefusal = e.Message;
        }
        Checks.That(growthRefusal is not null, "growth to 64 GiB was served under the limit");
        Checks.That(grown.IsValid && grown.Length == 64 * MiB, "the refused growth changed the lease");
        for (int i = 0; i < held.Count; i++)
            Checks.Verify(held[i], i, 4 * KiB, $"buffer {i} after the refusals");
        Console.WriteLine($"growth 64 MiB → 64 GiB refused: {growthRefusal}");

        // 2b. A stream written 64 GiB past its end needs that much address space: refused clearly, the stream unchanged.
        using (var stream = new NativeMemoryStream(pool))
        {
            stream.Write([1, 2, 3]);
            stream.Seek(1L << 36, SeekOrigin.Begin);
            string? seekRefusal = null;
            try
            {
                stream.WriteByte(4);
            }
            catch (InsufficientMemoryException e)
            {
                seekRefusal = e.Message;
            }
            Checks.That(seekRefusal is not null, "a write 64 GiB past the stream's end was served under the limit");
            Checks.That(seekRefusal!.Contains("RLIMIT_AS", StringComparison.Ordinal), "the stream's refusal does not name the address-space limit");
            Checks.That(stream.Length == 3, $"the refused write changed the stream's length to {stream.Length}");
            stream.Position = 0;
            Checks.That(stream.ReadByte() == 1 && stream.ReadByte() == 2 && stream.ReadByte() == 3, "the refused write changed the stream's bytes");
            Console.WriteLine("stream write at 64 GiB refused: the stream kept its 3 bytes");
        }

        // 3. Smaller requests from free space still work at the limit.
        NativeBuffer<byte> small = pool.Rent(4 * KiB);
        Checks.Fill(small, 9999, 0, small.Length);
        pool.Return(small);

        // 4. Return half (and trim, which unmaps empty reservations): the pool serves again.
        int half = held.Count / 2;
        for (int i = held.Count - 1; i >= half; i--)
        {
            pool.Return(held[i]);
            held.RemoveAt(i);
        }
        long trimmed = pool.Trim();
        NativeBuffer<byte> again = pool.Rent(64 * MiB);
        Checks.Fill(again, 7777, 0, 4 * KiB);
        NativeBuffer<byte> regrown = held[0];
        pool.Resize(ref regrown, 128 * MiB);
        held[0] = regrown;
        Checks.Verify(regrown, 0, 4 * KiB, "buffer 0 after growing once memory was back");
        Checks.Record(arena, ranges);
        Console.WriteLine($"returned {half}+ buffers, trim unmapped {trimmed / MiB} MiB: a 64 MiB rent and a growth to 128 MiB were served");

        pool.Return(again);
        foreach (NativeBuffer<byte> buffer in held)
            pool.Return(buffer);
        NativePoolStatistics end = pool.GetStatistics();
        Checks.That(end.Rents == end.Returns && end.InUseBytes == 0, $"counters do not balance: {end.Rents} rents, {end.Returns} returns");
        Checks.That(arena.Validate() is null, $"arena invalid: {arena.Validate()}");
        pool.Dispose();
        int left = Checks.LeftInside(ranges);
        Checks.That(left == 0, $"{left} mappings of the pool survived Dispose");
        Console.WriteLine("PASS");
        return 0;
    }
}
