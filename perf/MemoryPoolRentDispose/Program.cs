// Rent + one write + Dispose per operation, best of 7 rounds, for MemoryPool<byte>.Shared, NativeMemoryPool.Shared
// (the default: an owner per rent) and NativeMemoryPool.SharedReusingOwners (the opt-in: reused owners). Also prints
// bytes allocated per operation.
// Sizes run in this order so the first one is measured again at the end, after everything has tiered up.
using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using NativeBuffers;

const int Operations = 2_000_000;
Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()}");
foreach (int size in new[] { 65536, 4096, 1 << 20, 4096 })
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
    Console.WriteLine($"{size,8} B | MemoryPool<byte>.Shared {Measure(MemoryPool<byte>.Shared)} | NativeMemoryPool.Shared {Measure(NativeMemoryPool.Shared)} | reusing owners {Measure(NativeMemoryPool.SharedReusingOwners)}");
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
