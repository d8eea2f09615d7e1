using System.Diagnostics.Metrics;

namespace NativeBuffers.Diagnostics;

/// <summary>
/// The <c>NativeArrayPool</c> <see cref="Meter"/> and the registry of live pools it observes.
/// </summary>
/// <remarks>
/// <para>Every instrument is observable: its callback reads <see cref="IObservedPool.TryMeasure"/> of each live
/// pool when a listener collects (dotnet-counters, OpenTelemetry, a <see cref="MeterListener"/>), so renting,
/// returning and growing do no extra work for metrics. Each measurement is tagged <c>pool.name</c>
/// (<c>shared</c>, the <see cref="NativePoolOptions.Name"/>, or <c>pool-N</c>); growth counts also carry
/// <c>growth.path</c>. docs/diagnostics.md lists the instruments.</para>
/// <para>Pools register themselves (they implement <see cref="IObservedPool"/>), so this layer references none of
/// theirs. The registry holds pools weakly and drops disposed ones, so it keeps no pool alive.
/// Thread-safety: all members are thread-safe.</para>
/// </remarks>
internal static class NativeArrayPoolMetrics
{
    public const string MeterName = "NativeArrayPool";
    public const string PoolTag = "pool.name";
    public const string PathTag = "growth.path";

    private static readonly Lock s_lock = new();
    private static readonly List<WeakReference<IObservedPool>> s_pools = new();
    private static int s_unnamed;

    private static readonly Meter s_meter = CreateMeter();

    /// <summary>
    /// The <c>pool.name</c> of a new pool: <paramref name="name"/> when given, else <c>shared</c> for the shared pool
    /// and <c>pool-N</c> for others.
    /// </summary>
    public static string NameFor(string? name, bool isShared)
    {
        if (name is not null)
            return name;
        if (isShared)
            return "shared";
        lock (s_lock)
            return $"pool-{++s_unnamed}";
    }

    /// <summary>
    /// Creates the meter if no pool has yet. Creating it publishes its instruments to the listeners already started,
    /// whose InstrumentPublished callbacks run on the calling thread and may use a pool themselves; the shared core
    /// calls this before it takes the lock it is built under (see PoolCore.CreateShared).
    /// </summary>
    public static void EnsureMeter() => _ = s_meter;

    /// <summary>Adds a fully constructed pool to the registry, creating the meter on first use.</summary>
    public static void Register(IObservedPool pool)
    {
        _ = s_meter;
        lock (s_lock)
        {
            s_pools.RemoveAll(static w => !w.TryGetTarget(out IObservedPool? p) || p.IsDisposed);
            s_pools.Add(new WeakReference<IObservedPool>(pool));
        }
    }

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName);
        meter.CreateObservableUpDownCounter("nativearraypool.memory.in_use", () => Observe(static s => s.InUseBytes), "By",
            "Bytes of the buffers currently rented (their capacities).");
        meter.CreateObservableUpDownCounter("nativearraypool.memory.mapped", () => Observe(static s => s.MappedBytes), "By",
            "Address space the pool has mapped; untouched pages cost no memory.");
        meter.CreateObservableGauge("nativearraypool.memory.resident", ObserveResident, "By",
            "Resident memory (RSS) of the pool's mappings, from /proc/self/smaps; absent where /proc is.");
        meter.CreateObservableUpDownCounter("nativearraypool.kernel_mappings", () => Observe(static s => s.KernelMappings), "{mapping}",
            "Kernel mappings (VMAs) the pool owns, by its model of what the kernel merges.");
        meter.CreateObservableGauge("nativearraypool.kernel_mappings.budget", () => Observe(static s => s.MappingBudget), "{mapping}",
            "The most kernel mappings the pool means to own.");
        meter.CreateObservableCounter("nativearraypool.rents", () => Observe(static s => s.Rents), "{rent}", "Successful rents.");
        meter.CreateObservableCounter("nativearraypool.bytes_rented", () => Observe(static s => s.BytesRented), "By",
            "Bytes handed out by rents (their capacities), cumulative.");
        meter.CreateObservableCounter("nativearraypool.returns", () => Observe(static s => s.Returns), "{return}", "Successful returns.");
        meter.CreateObservableCounter("nativearraypool.grows", ObserveGrows, "{grow}",
            "Buffer growths, tagged with the growth.path that served them (in_place, remap_fixed, remap, copy).");
        meter.CreateObservableCounter("nativearraypool.bytes_copied", () => Observe(static s => s.BytesCopied), "By",
            "Bytes copied by growth and shrinking.");
        meter.CreateObservableCounter("nativearraypool.moves_declined", () => Observe(static s => s.MovesDeclinedByBudget), "{move}",
            "Page moves declined because the mapping budget would have been exceeded.");
        meter.CreateObservableCounter("nativearraypool.trims", () => Observe(static s => s.Trims), "{trim}", "Trims (memory given back).");
        meter.CreateObservableCounter("nativearraypool.misuse", () => Observe(static s => s.MisuseDetected), "{misuse}",
            "Misuse detected: double returns, foreign or default leases.");
        return meter;
    }

    private static List<IObservedPool> LivePools()
    {
        var live = new List<IObservedPool>();
        lock (s_lock)
        {
            foreach (WeakReference<IObservedPool> reference in s_pools)
            {
                if (reference.TryGetTarget(out IObservedPool? pool) && !pool.IsDisposed)
                    live.Add(pool);
            }
        }
        return live;
    }

    private static IEnumerable<Measurement<long>> Observe(Func<PoolMeasurements, long> select)
    {
        var measurements = new List<Measurement<long>>();
        foreach (IObservedPool pool in LivePools())
        {
            if (pool.TryMeasure(out PoolMeasurements values))
                measurements.Add(new Measurement<long>(select(values), new KeyValuePair<string, object?>(PoolTag, pool.Name)));
        }
        return measurements;
    }

    private static IEnumerable<Measurement<long>> ObserveGrows()
    {
        var measurements = new List<Measurement<long>>();
        foreach (IObservedPool pool in LivePools())
        {
            if (!pool.TryMeasure(out PoolMeasurements s))
                continue;
            var name = new KeyValuePair<string, object?>(PoolTag, pool.Name);
            measurements.Add(new Measurement<long>(s.GrowsInPlace, name, new KeyValuePair<string, object?>(PathTag, "in_place")));
            measurements.Add(new Measurement<long>(s.GrowsRemappedFixed, name, new KeyValuePair<string, object?>(PathTag, "remap_fixed")));
            measurements.Add(new Measurement<long>(s.GrowsRemapped, name, new KeyValuePair<string, object?>(PathTag, "remap")));
            measurements.Add(new Measurement<long>(s.GrowsCopied, name, new KeyValuePair<string, object?>(PathTag, "copy")));
        }
        return measurements;
    }

    private static IEnumerable<Measurement<long>> ObserveResident()
    {
        var measurements = new List<Measurement<long>>();
        foreach (IObservedPool pool in LivePools())
        {
            long resident = pool.ReadResidentBytes();
            if (resident >= 0)
                measurements.Add(new Measurement<long>(resident, new KeyValuePair<string, object?>(PoolTag, pool.Name)));
        }
        return measurements;
    }
}
