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
            Rents = HighWater(ref _measuredRents, s.Rents),
            BytesRented = HighWater(ref _measuredBytesRented, s.BytesRented),
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

    // The highest Rents and BytesRented measured so far. A cache derives its hot slot's rents from counters the
    // owner thread moves while they are read (see ThreadCache.RentsOf), so a snapshot can be one rent per bin ahead
    // or behind for a moment; GetStatistics says so, but an observable counter must never go back (an exporter
    // takes a drop for a reset). So the measurement holds the highest value: ahead of the truth, if at all, only by
    // that moment's excess and until as many rents more.
    private long _measuredRents;
    private long _measuredBytesRented;

    private static long HighWater(ref long mark, long value)
    {
        long seen = Volatile.Read(ref mark);
        while (value > seen)
        {
            long found = Interlocked.CompareExchange(ref mark, value, seen);
            if (found == seen)
                return value;
            seen = found;
        }
        return seen;
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
