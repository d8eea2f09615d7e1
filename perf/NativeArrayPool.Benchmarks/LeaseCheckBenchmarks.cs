using BenchmarkDotNet.Attributes;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// What double-return detection costs in isolation: Return retires a lease with a compare-and-swap on the
/// allocation's generation (exactly one of two racing returns wins). A plain check-then-store would detect a
/// sequential double return but not a racing one. The difference is the price of detecting both.
/// </summary>
[MicroJob]
public class LeaseCheckBenchmarks
{
    private const int Ops = 1000;

    private sealed class Record
    {
        public int Generation = 1;
    }

    private readonly Record _record = new();

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public int PlainCheckAndStore()
    {
        Record record = _record;
        for (int i = 0; i < Ops; i++)
        {
            int generation = record.Generation;
            if ((generation & 1) == 0)
                return -1;
            record.Generation = generation + 1; // return
            record.Generation = generation + 2; // rent again
        }
        return record.Generation;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int CompareExchange()
    {
        Record record = _record;
        for (int i = 0; i < Ops; i++)
        {
            int generation = record.Generation;
            if (Interlocked.CompareExchange(ref record.Generation, generation + 1, generation) != generation)
                return -1;
            record.Generation = generation + 2; // rent again
        }
        return record.Generation;
    }
}
