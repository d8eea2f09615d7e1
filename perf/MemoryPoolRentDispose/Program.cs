// Rent + one write + Dispose per operation, best of 7 rounds, for MemoryPool<byte>.Shared, NativeMemoryPool.Shared
// (the default: an owner per rent) and NativeMemoryPool.SharedReusingOwners (the opt-in: reused owners). Also prints
// bytes allocated per operation.
// A first pass over every size is thrown away: it runs while tiered compilation is still replacing the loops.
using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using NativeBuffers;

const int Operations = 2_000_000;
Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()}");
for (int pass = 0; pass < 2; pass++)
foreach (int size in new[] { 4096, 65536, 1 << 20 })
{
    string Measure(MemoryPool<byte> pool)
    {
        double best = double.MaxValue;
        double allocated = 0;
        for (int round = 0; round < 7; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var stopwatch = Stopwatch.StartNew();
            Loop(pool, size, Operations);
            best = Math.Min(best, stopwatch.Elapsed.TotalNanoseconds / Operations);
            allocated = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Operations;
        }
        return $"{best,5:F1} ns {allocated,4:F0} B";
    }
    string line = $"{size,8} B | MemoryPool<byte>.Shared {Measure(MemoryPool<byte>.Shared)} | NativeMemoryPool.Shared {Measure(NativeMemoryPool.Shared)} | reusing owners {Measure(NativeMemoryPool.SharedReusingOwners)}";
    if (pass == 1)
        Console.WriteLine(line);
}
Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()}");

[MethodImpl(MethodImplOptions.NoInlining)]
static void Loop(MemoryPool<byte> pool, int size, int operations)
{
    for (int i = 0; i < operations; i++)
    {
        IMemoryOwner<byte> owner = pool.Rent(size);
        owner.Memory.Span[0] = 1;
        owner.Dispose();
    }
}
