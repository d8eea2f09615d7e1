using BenchmarkDotNet.Attributes;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// The churn workload (see <see cref="ChurnWorkload"/>) under BenchmarkDotNet: time per step and, from the
/// memory diagnoser, GC counts per 1,000 steps (the Gen2 column). Peak RSS needs a process per pool; that is
/// the <c>churn</c> verb (<see cref="ChurnReport"/>).
/// </summary>
[HeavyJob]
public class ChurnBenchmarks
{
    private const int Steps = 200;

    private readonly ChurnWorkload _workload = new();
    private readonly ChurnWorkload.Native _native = new();
    private readonly ChurnWorkload.Managed _managed = new();

    [GlobalSetup(Target = nameof(NativeArrayPoolShared))]
    public void SetupNative() => _workload.Fill(_native);

    [GlobalCleanup(Target = nameof(NativeArrayPoolShared))]
    public void CleanupNative() => _workload.Drain(_native);

    [GlobalSetup(Target = nameof(ArrayPoolShared))]
    public void SetupManaged() => _workload.Fill(_managed);

    [GlobalCleanup(Target = nameof(ArrayPoolShared))]
    public void CleanupManaged() => _workload.Drain(_managed);

    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    public void ArrayPoolShared()
    {
        for (int i = 0; i < Steps; i++)
            _workload.Step(_managed);
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public void NativeArrayPoolShared()
    {
        for (int i = 0; i < Steps; i++)
            _workload.Step(_native);
    }
}
