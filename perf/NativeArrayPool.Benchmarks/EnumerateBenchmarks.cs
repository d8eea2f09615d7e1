using BenchmarkDotNet.Attributes;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// <c>foreach</c> over 10 M <c>(long, double)</c> records: <see cref="NativeList{T}"/>'s struct enumerator against
/// <see cref="List{T}"/>'s (the baseline), the same loop through the span of each, and LINQ's <c>Count()</c>, which
/// reads <see cref="ICollection{T}.Count"/> instead of walking when the collection offers it.
/// </summary>
/// <remarks>Both lists are filled once in setup, so only the walk is timed; the sum keeps the loop from being removed.</remarks>
[MicroJob]
public class EnumerateBenchmarks
{
    private const int Records = 10_000_000;

    private readonly List<(long Id, double Value)> _managed = new(Records);
    private NativeList<(long Id, double Value)> _native = null!;

    [GlobalSetup]
    public void Setup()
    {
        _native = new NativeList<(long, double)>(Records);
        for (int i = 0; i < Records; i++)
        {
            _managed.Add((i, i * 0.5));
            _native.Add((i, i * 0.5));
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _native.Dispose();

    [Benchmark(Baseline = true)]
    public double ForeachList()
    {
        double sum = 0;
        foreach ((long id, double value) in _managed)
            sum += id + value;
        return sum;
    }

    [Benchmark]
    public double ForeachNativeList()
    {
        double sum = 0;
        foreach ((long id, double value) in _native)
            sum += id + value;
        return sum;
    }

    [Benchmark]
    public double SpanNativeList()
    {
        double sum = 0;
        foreach ((long id, double value) in _native.AsSpan())
            sum += id + value;
        return sum;
    }

    [Benchmark]
    public int LinqCountList() => Enumerable.Count(_managed);

    [Benchmark]
    public int LinqCountNativeList() => Enumerable.Count(_native);
}
