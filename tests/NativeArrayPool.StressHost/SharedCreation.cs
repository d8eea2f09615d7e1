using System.Diagnostics.Metrics;
using NativeBuffers.Diagnostics;
using NativeBuffers.Pooling;

namespace NativeBuffers.StressHost;

/// <summary>
/// The shared pool's first use, by many threads at the same moment in a fresh process (a server's first requests):
/// they must all get one core, and the metrics must see one pool named <c>shared</c>. A core built by a thread that
/// lost the race to publish used to stay registered for metrics (with a reclaimer of its own), and reported its
/// zeros beside the real pool's figures under the same name.
/// </summary>
internal static class SharedCreation
{
    private const int Threads = 8;

    public static int Run()
    {
        using var start = new Barrier(Threads);
        var cores = new PoolCore[Threads];
        var threads = new Thread[Threads];
        for (int i = 0; i < Threads; i++)
        {
            int index = i;
            threads[i] = new Thread(() =>
            {
                start.SignalAndWait();
                // Different facades race too: each creates its own, and all of them ask for the one core.
                cores[index] = index % 2 == 0 ? NativeArrayPool<byte>.Shared.Core : NativeMemoryPool.Shared.Core;
            });
            threads[i].Start();
        }
        foreach (Thread thread in threads)
            thread.Join();

        Checks.That(cores.All(c => ReferenceEquals(c, cores[0])), "the threads got different shared cores");
        int shared = SharedPoolsMeasured();
        Console.WriteLine($"pools measured as shared: {shared}");
        Checks.That(shared == 1, $"the metrics saw {shared} pools named shared, not 1: a core that lost the race is still registered");
        Console.WriteLine("PASS");
        return 0;
    }

    /// <summary>How many measurements of the rents counter carry the shared pool's name, in one collection.</summary>
    internal static int SharedPoolsMeasured()
    {
        int count = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == NativeArrayPoolMetrics.MeterName && instrument.Name == "nativearraypool.rents")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == NativeArrayPoolMetrics.PoolTag && (string?)tag.Value == "shared")
                    count++;
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return count;
    }
}
