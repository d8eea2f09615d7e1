using System.Buffers;
using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// Rent+Return throughput on one thread and on two at once. Each thread does <see cref="OpsPerThread"/>
/// rent/return pairs; OperationsPerInvoke counts every pair on every thread, so Mean is the time per operation
/// of the whole process and <c>Mean(1 thread) / Mean(2 threads)</c> is the throughput scaling (2.0 is perfect).
/// The second thread is a dedicated worker that spins for the next invocation for a while after each one, so in
/// the two-thread benchmarks (invocations back to back) both threads start within a spin of each other. It used
/// to block between invocations: waking it took tens of microseconds of a 200 µs invocation, during which one
/// thread ran alone, so the benchmark reported 1.48–1.68× where a bare two-thread loop (the <c>scaling</c> verb of
/// this program) measured 1.98–2.00×. The worker only spins after work, so it is asleep in the one-thread runs.
/// </summary>
[MicroJob]
[MinColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
public class ThreadScalingBenchmarks
{
    private const int OpsPerThread = 20_000;

    private Worker _worker = null!;
    private ArrayPool<byte> _created = null!;
    private Action _native = null!;
    private Action _arrayPoolShared = null!;
    private Action _arrayPoolCreated = null!;
    private Action _nativeMemoryPool = null!;
    private Action _memoryPoolShared = null!;

    [Params(16, 4 << 10, 64 << 10, 1 << 20, 16 << 20)]
    public int Size;

    // Each process warms only the loop its case measures. Warming all five made every process run ArrayPool.Create()'s
    // loop, which at 16 MiB (above that pool's 1 MiB limit) allocates a new 16 MiB array per rent: gigabytes of
    // large-object churn just before the measured case.
    [GlobalSetup(Targets = [nameof(Native1Thread), nameof(Native2Threads)])]
    public void SetupNative() => Setup(_native = NativeLoop);

    [GlobalSetup(Targets = [nameof(ArrayPool1Thread), nameof(ArrayPool2Threads)])]
    public void SetupArrayPoolShared() => Setup(_arrayPoolShared = ArrayPoolSharedLoop);

    [GlobalSetup(Targets = [nameof(ArrayPoolCreate1Thread), nameof(ArrayPoolCreate2Threads)])]
    public void SetupArrayPoolCreated()
    {
        _created = ArrayPool<byte>.Create();
        Setup(_arrayPoolCreated = ArrayPoolCreatedLoop);
    }

    [GlobalSetup(Targets = [nameof(NativeMemoryPool1Thread), nameof(NativeMemoryPool2Threads)])]
    public void SetupNativeMemoryPool() => Setup(_nativeMemoryPool = NativeMemoryPoolLoop);

    [GlobalSetup(Targets = [nameof(MemoryPool1Thread), nameof(MemoryPool2Threads)])]
    public void SetupMemoryPoolShared() => Setup(_memoryPoolShared = MemoryPoolSharedLoop);

    private void Setup(Action loop)
    {
        _worker = new Worker();
        // Warm both threads' caches.
        loop();
        _worker.Run(loop);
    }

    [GlobalCleanup]
    public void Cleanup() => _worker.Dispose();

    private void NativeLoop()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        for (int i = 0; i < OpsPerThread; i++)
            pool.Return(pool.Rent(Size));
    }

    // One loop per pool, each reading its pool into a local, as the bare loop does. A loop shared by two pools through
    // an abstract-typed parameter sees both types in its profile, so the JIT cannot inline either pool's calls into it.
    private void ArrayPoolSharedLoop()
    {
        ArrayPool<byte> pool = ArrayPool<byte>.Shared;
        for (int i = 0; i < OpsPerThread; i++)
            pool.Return(pool.Rent(Size));
    }

    private void ArrayPoolCreatedLoop()
    {
        ArrayPool<byte> pool = _created;
        for (int i = 0; i < OpsPerThread; i++)
            pool.Return(pool.Rent(Size));
    }

    private void NativeMemoryPoolLoop()
    {
        NativeMemoryPool pool = NativeMemoryPool.Shared;
        for (int i = 0; i < OpsPerThread; i++)
            pool.Rent(Size).Dispose();
    }

    private void MemoryPoolSharedLoop()
    {
        MemoryPool<byte> pool = MemoryPool<byte>.Shared;
        for (int i = 0; i < OpsPerThread; i++)
            pool.Rent(Size).Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = OpsPerThread), BenchmarkCategory("Native")]
    public void Native1Thread() => _native();

    [Benchmark(OperationsPerInvoke = 2 * OpsPerThread), BenchmarkCategory("Native")]
    public void Native2Threads() => _worker.RunAlongside(_native);

    [Benchmark(Baseline = true, OperationsPerInvoke = OpsPerThread), BenchmarkCategory("ArrayPoolShared")]
    public void ArrayPool1Thread() => _arrayPoolShared();

    [Benchmark(OperationsPerInvoke = 2 * OpsPerThread), BenchmarkCategory("ArrayPoolShared")]
    public void ArrayPool2Threads() => _worker.RunAlongside(_arrayPoolShared);

    [Benchmark(Baseline = true, OperationsPerInvoke = OpsPerThread), BenchmarkCategory("ArrayPoolCreate")]
    public void ArrayPoolCreate1Thread() => _arrayPoolCreated();

    [Benchmark(OperationsPerInvoke = 2 * OpsPerThread), BenchmarkCategory("ArrayPoolCreate")]
    public void ArrayPoolCreate2Threads() => _worker.RunAlongside(_arrayPoolCreated);

    [Benchmark(Baseline = true, OperationsPerInvoke = OpsPerThread), BenchmarkCategory("NativeMemoryPool")]
    public void NativeMemoryPool1Thread() => _nativeMemoryPool();

    [Benchmark(OperationsPerInvoke = 2 * OpsPerThread), BenchmarkCategory("NativeMemoryPool")]
    public void NativeMemoryPool2Threads() => _worker.RunAlongside(_nativeMemoryPool);

    [Benchmark(Baseline = true, OperationsPerInvoke = OpsPerThread), BenchmarkCategory("MemoryPoolShared")]
    public void MemoryPool1Thread() => _memoryPoolShared();

    [Benchmark(OperationsPerInvoke = 2 * OpsPerThread), BenchmarkCategory("MemoryPoolShared")]
    public void MemoryPool2Threads() => _worker.RunAlongside(_memoryPoolShared);

    /// <summary>A second thread that runs one action per request while the caller runs it too.</summary>
    private sealed class Worker : IDisposable
    {
        private readonly Thread _thread;
        private readonly ManualResetEventSlim _go = new(false, spinCount: 200);
        private readonly ManualResetEventSlim _done = new(false, spinCount: 200);
        private Action? _work;
        private volatile bool _stop;

        // How long a thread spins for its event before blocking on it: longer than BenchmarkDotNet's gap between two
        // invocations, far shorter than an iteration.
        private static readonly long SpinTicks = Stopwatch.Frequency / 1000;

        private static void SpinThenWait(ManualResetEventSlim signal)
        {
            long until = Stopwatch.GetTimestamp() + SpinTicks;
            while (!signal.IsSet && Stopwatch.GetTimestamp() < until)
                Thread.SpinWait(20);
            signal.Wait();
        }

        public Worker()
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = "benchmark worker" };
            _thread.Start();
        }

        public void Run(Action work)
        {
            Start(work);
            Join();
        }

        public void RunAlongside(Action work)
        {
            Start(work);
            work();
            Join();
        }

        private void Start(Action work)
        {
            _work = work;
            _done.Reset();
            _go.Set();
        }

        private void Join() => SpinThenWait(_done);

        private void Loop()
        {
            while (true)
            {
                SpinThenWait(_go);
                _go.Reset();
                if (_stop)
                    return;
                _work!();
                _done.Set();
            }
        }

        public void Dispose()
        {
            _stop = true;
            _go.Set();
            _thread.Join();
        }
    }
}
