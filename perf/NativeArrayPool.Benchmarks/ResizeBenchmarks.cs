using BenchmarkDotNet.Attributes;

namespace NativeBuffers.Benchmarks;

/// <summary>
/// Growing one buffer 1 MiB → 1 GiB → 2 GiB with <see cref="NativeArrayPool{T}.Resize"/> against a copying
/// resize (rent the bigger buffer from the same pool, copy the old length, return the old one: what a pool that
/// cannot move pages does, with the same resident, pooled memory on both sides).
/// The Step benchmarks time only the last step, 1 GiB → 2 GiB, from a buffer whose 1 GiB has been written.
/// </summary>
[HeavyJob]
public unsafe class ResizeBenchmarks
{
    private const long MiB = 1 << 20;
    private const long GiB = 1L << 30;

    // BenchmarkDotNet owns the instance and never disposes it; the IterationCleanup below returns the lease.
#pragma warning disable NAP005
    private NativeBuffer<byte> _buffer;
#pragma warning restore NAP005

    [Benchmark(Baseline = true)]
    public void ChainCopying()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        NativeBuffer<byte> buffer = pool.Rent(MiB);
        buffer.AsSpan().Fill(1);
        buffer = CopyingResize(pool, buffer, GiB);
        buffer = CopyingResize(pool, buffer, 2 * GiB);
        pool.Return(buffer);
    }

    [Benchmark]
    public void ChainNativeResize()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        NativeBuffer<byte> buffer = pool.Rent(MiB);
        buffer.AsSpan().Fill(1);
        pool.Resize(ref buffer, GiB);
        pool.Resize(ref buffer, 2 * GiB);
        pool.Return(buffer);
    }

    [IterationSetup(Targets = [nameof(StepCopying), nameof(StepNativeResize)])]
    public void RentWrittenGiB()
    {
        _buffer = NativeArrayPool<byte>.Shared.Rent(GiB);
        _buffer.AsSpan().Fill(1);
    }

    [IterationCleanup(Targets = [nameof(StepCopying), nameof(StepNativeResize)])]
    public void ReturnBuffer() => NativeArrayPool<byte>.Shared.Return(_buffer);

    [Benchmark]
    public void StepCopying() => _buffer = CopyingResize(NativeArrayPool<byte>.Shared, _buffer, 2 * GiB);

    [Benchmark]
    public void StepNativeResize() => NativeArrayPool<byte>.Shared.Resize(ref _buffer, 2 * GiB);

    private static NativeBuffer<byte> CopyingResize(NativeArrayPool<byte> pool, NativeBuffer<byte> old, long newLength)
    {
        NativeBuffer<byte> grown = pool.Rent(newLength);
        Buffer.MemoryCopy(old.Pointer, grown.Pointer, grown.Length, old.Length);
        pool.Return(old);
        return grown;
    }
}
