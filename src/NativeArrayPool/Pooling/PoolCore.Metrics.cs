using NativeBuffers.Diagnostics;

namespace NativeBuffers.Pooling;

// What the diagnostics layer reads from a pool (metrics and traces), supplied here so that layer references no
// type of this one. Read on a listener's thread when it collects; nothing here runs on a rent or return.
internal sealed partial class PoolCore : IObservedPool
{
    int IObservedPool.KernelMappings => Arena.KernelMappings;

    int IObservedPool.MappingBudget => Arena.Settings.MappingBudget;

    bool IObservedPool.TryMeasure(out PoolMeasurements measurements)
    {
        NativePoolStatistics s;
        try
        {
            s = GetStatistics();
        }
        catch (ObjectDisposedException)
        {
            measurements = default;
            return false;
        }
        measurements = new PoolMeasurements
        {
            InUseBytes = s.InUseBytes,
            MappedBytes = s.MappedBytes,
            KernelMappings = s.KernelMappings,
            MappingBudget = s.MappingBudget,
            Rents = s.Rents,
            BytesRented = s.BytesRented,
            Returns = s.Returns,
            GrowsInPlace = s.GrowsInPlace,
            GrowsRemappedFixed = s.GrowsRemappedFixed,
            GrowsRemapped = s.GrowsRemapped,
            GrowsCopied = s.GrowsCopied,
            BytesCopied = s.BytesCopied,
            MovesDeclinedByBudget = s.MovesDeclinedByBudget,
            Trims = s.Trims,
            MisuseDetected = s.MisuseDetected,
        };
        // A pool disposed while its counters were read has nothing to report.
        return !IsDisposed;
    }

    long IObservedPool.ReadResidentBytes()
    {
        try
        {
            return Arena.Os.ResidentBytesWithin(Arena.MappedRanges());
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
    }
}
