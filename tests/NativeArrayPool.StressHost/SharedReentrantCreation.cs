using System.Diagnostics.Metrics;
using NativeBuffers.Diagnostics;
using NativeBuffers.Pooling;

namespace NativeBuffers.StressHost;

/// <summary>
/// The shared pool's first use in a fresh process where a <see cref="MeterListener"/> is already listening, and its
/// InstrumentPublished callback itself uses the shared pool (an exporter that formats into a NativeBufferWriter, say).
/// The meter is created when the first pool registers, so the callback runs on the thread that is building the shared
/// core. Built under its lock (which the same thread may enter again), the callback's request built a second core and
/// published it, and the first one then replaced it: two cores measured as <c>shared</c>, and the thread's cache of
/// the shared pool belonging to the one no longer published.
/// </summary>
internal static class SharedReentrantCreation
{
    public static int Run()
    {
        PoolCore? fromCallback = null;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, _) =>
        {
            if (instrument.Meter.Name == NativeArrayPoolMetrics.MeterName && fromCallback is null)
            {
                NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
                fromCallback = pool.Core;
                NativeBuffer<byte> buffer = pool.Rent(100);
                pool.Return(buffer);
            }
        };
        listener.Start();

        PoolCore core = NativeArrayPool<byte>.Shared.Core;
        Checks.That(fromCallback is not null, "the listener saw no instrument of the pool's meter: the run did not reach the state it is about");
        Checks.That(ReferenceEquals(fromCallback, core), "the listener's callback got a shared core other than the one published");
        Checks.That(ReferenceEquals(core, PoolCore.Shared), "the shared core changed after its first use");
        Checks.That(ReferenceEquals(core, NativeMemoryPool.Shared.Core), "NativeMemoryPool.Shared has a core other than NativeArrayPool<byte>.Shared's");
        int shared = SharedCreation.SharedPoolsMeasured();
        Console.WriteLine($"pools measured as shared: {shared}");
        Checks.That(shared == 1, $"the metrics saw {shared} pools named shared, not 1");
        Console.WriteLine("PASS");
        return 0;
    }
}
