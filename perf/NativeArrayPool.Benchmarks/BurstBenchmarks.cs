using System.Buffers;
using BenchmarkDotNet.Attributes;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// 1,000 rents, then 1,000 returns: more than any per-thread cache holds, so this is the pool-exhausted path
/// (the native pool's arena, ArrayPool's per-core stacks and then fresh arrays). Mean is per rent+return pair.
/// </summary>
[MicroJob]
public class BurstBenchmarks
{
    private const int Burst = 1000;

    private readonly byte[][] _arrays = new byte[Burst][];
    private readonly NativeBuffer<byte>[] _buffers = new NativeBuffer<byte>[Burst];
    private ArrayPool<byte> _created = null!;

    [Params(4 << 10, 64 << 10)]
    public int Size;

    [GlobalSetup]
    public void Setup()
    {
        _created = ArrayPool<byte>.Create();
        NativeArrayPool();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Burst)]
    public void ArrayPoolShared() => BurstOf(ArrayPool<byte>.Shared);

    [Benchmark(OperationsPerInvoke = Burst)]
    public void ArrayPoolCreate() => BurstOf(_created);

    [Benchmark(OperationsPerInvoke = Burst)]
    public void NativeArrayPool()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        NativeBuffer<byte>[] buffers = _buffers;
        for (int i = 0; i < buffers.Length; i++)
            buffers[i] = pool.Rent(Size);
        for (int i = 0; i < buffers.Length; i++)
            pool.Return(buffers[i]);
    }

    private void BurstOf(ArrayPool<byte> pool)
    {
        byte[][] arrays = _arrays;
        for (int i = 0; i < arrays.Length; i++)
            arrays[i] = pool.Rent(Size);
        for (int i = 0; i < arrays.Length; i++)
            pool.Return(arrays[i]);
    }
}
