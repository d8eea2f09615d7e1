namespace NativeBuffers.Diagnostics;

/// <summary>
/// What the diagnostics layer reads from a pool: the pool implements this, so metrics and traces need to know
/// nothing of the layers below them (the dependency points from the pool to diagnostics, never back).
/// </summary>
/// <remarks>
/// Called on a metrics listener's thread when it collects, and by a trace after a resize; never on a rent or return.
/// Thread-safety: implementations must allow calls from any thread, also while (or after) the pool is disposed.
/// </remarks>
internal interface IObservedPool
{
    /// <summary>The <c>pool.name</c> tag of metrics.</summary>
    string Name { get; }

    /// <summary>True once the pool is disposed: the metrics registry then forgets it.</summary>
    bool IsDisposed { get; }

    /// <summary>Kernel mappings the pool owns now, by its model of what the kernel merges (may take a lock briefly).</summary>
    int KernelMappings { get; }

    /// <summary>The most kernel mappings the pool means to own.</summary>
    int MappingBudget { get; }

    /// <summary>Reads the pool's counters; false when the pool was disposed before or while they were read.</summary>
    bool TryMeasure(out PoolMeasurements measurements);

    /// <summary>Resident bytes of the pool's mappings; -1 where the system cannot tell or the pool is disposed.</summary>
    long ReadResidentBytes();
}

/// <summary>
/// The values the <c>NativeArrayPool</c> meter publishes for one pool at one collection. docs/diagnostics.md
/// describes each instrument; the field names are those of the pool's statistics.
/// </summary>
internal readonly struct PoolMeasurements
{
    public long InUseBytes { get; init; }
    public long MappedBytes { get; init; }
    public long KernelMappings { get; init; }
    public long MappingBudget { get; init; }
    public long Rents { get; init; }
    public long BytesRented { get; init; }
    public long Returns { get; init; }
    public long GrowsInPlace { get; init; }
    public long GrowsRemappedFixed { get; init; }
    public long GrowsRemapped { get; init; }
    public long GrowsCopied { get; init; }
    public long BytesCopied { get; init; }
    public long MovesDeclinedByBudget { get; init; }
    public long Trims { get; init; }
    public long MisuseDetected { get; init; }
}
